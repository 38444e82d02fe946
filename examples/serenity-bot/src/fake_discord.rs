//! For the tests: a stand-in for Discord's HTTP API on the loopback
//! interface, answering each request with the next status of a list, so
//! that serenity's real errors can be produced without a network.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serenity::all::{Http, HttpBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An `Http` whose requests go to a local server that answers them with
/// `statuses`, in order, then with 503s. Its rate limiter is off, so every
/// call is one request.
pub async fn http_answering(statuses: &[u16]) -> Arc<Http> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("the port's address");
    let statuses = Arc::new(Mutex::new(
        statuses.iter().copied().collect::<VecDeque<_>>(),
    ));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let status = statuses.lock().unwrap().pop_front().unwrap_or(503);
            tokio::spawn(async move {
                read_request(&mut stream).await;
                let body = format!(r#"{{"code": 0, "message": "status {status}"}}"#);
                let response = format!(
                    "HTTP/1.1 {status} Test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Arc::new(
        HttpBuilder::new("a-test-token")
            .proxy(format!("http://{address}"))
            .ratelimiter_disabled(true)
            .build(),
    )
}

/// Reads one request: its head, then as many bytes as `content-length` says.
async fn read_request(stream: &mut tokio::net::TcpStream) {
    let mut request = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let Ok(read) = stream.read(&mut chunk).await else {
            return;
        };
        if read == 0 {
            return;
        }
        request.extend_from_slice(&chunk[..read]);
        let Some(head_end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if request.len() >= head_end + 4 + length {
            return;
        }
    }
}
