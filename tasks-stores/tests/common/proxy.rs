//! A TCP proxy in front of a test server, to play the server going down
//! (nothing listens, open connections close), coming back, or hanging
//! (connections accepted, nothing answered), without touching the server
//! other tests share.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    port: u16,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Silent,
}

impl Proxy {
    /// A proxy on a free local port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            upstream,
            tasks: Arc::default(),
            listener: Mutex::new(None),
        };
        proxy.serve(listener, Mode::Forward);
        proxy
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Nothing listens any more, and every open connection is closed.
    pub async fn down(&self) {
        let listener = self.listener.lock().unwrap().take();
        if let Some(listener) = listener {
            listener.abort();
            let _ = listener.await;
        }
        let connections: Vec<_> = self.tasks.lock().unwrap().drain(..).collect();
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }

    /// Listening and forwarding again, on the same port.
    pub async fn up(&self) {
        self.down().await;
        let listener = bind_again(self.port).await;
        self.serve(listener, Mode::Forward);
    }

    /// Listening, but never answering: connections are accepted and what
    /// they send is read and dropped. Open connections are closed first.
    pub async fn silent(&self) {
        self.down().await;
        let listener = bind_again(self.port).await;
        self.serve(listener, Mode::Silent);
    }

    fn serve(&self, listener: TcpListener, mode: Mode) {
        let tasks = Arc::clone(&self.tasks);
        let upstream = self.upstream;
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    match mode {
                        Mode::Forward => forward(client, upstream).await,
                        Mode::Silent => swallow(client).await,
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        });
        *self.listener.lock().unwrap() = Some(accepting);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.lock().unwrap().take() {
            listener.abort();
        }
        for connection in self.tasks.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

async fn bind_again(port: u16) -> TcpListener {
    // Another process may take the port meanwhile: retry for a moment.
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            return listener;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("port {port} stays taken");
}

async fn forward(mut client: TcpStream, upstream: SocketAddr) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

async fn swallow(mut client: TcpStream) {
    let mut buffer = [0u8; 4096];
    while let Ok(read) = client.read(&mut buffer).await {
        if read == 0 {
            break;
        }
    }
}

/// `url` with its host and port replaced by `127.0.0.1:port`.
pub fn through_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with ://");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let user_info = authority
        .rsplit_once('@')
        .map(|(user_info, _)| format!("{user_info}@"))
        .unwrap_or_default();
    format!("{scheme}://{user_info}127.0.0.1:{port}{tail}")
}

/// The host and port of `url`, resolved.
pub fn address_of(url: &str, default_port: u16) -> SocketAddr {
    use std::net::ToSocketAddrs;
    let (_, rest) = url.split_once("://").expect("a URL with ://");
    let authority = rest.split(['/', '?']).next().unwrap();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    };
    with_port.to_socket_addrs().unwrap().next().unwrap()
}
