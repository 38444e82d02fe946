//! A TCP proxy in front of a test server, to play the server going down
//! (nothing listens, open connections close), coming back, hanging
//! (nothing it is sent gets an answer), or a failover that strands the open
//! connections (their packets go nowhere, new connections reach the server,
//! or another one), without touching the server that other tests share.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Proxy {
    port: u16,
    upstream: Arc<Mutex<SocketAddr>>,
    /// Whether the connections go through: those opened since the last
    /// `strand` watch the current one.
    frozen: Arc<Mutex<watch::Sender<bool>>>,
    /// What the stranded connections watch, frozen for good.
    stranded: Mutex<Vec<watch::Sender<bool>>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    upstream_ends: Arc<Mutex<Vec<SocketAddr>>>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl Proxy {
    /// A proxy on a free local port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            upstream: Arc::new(Mutex::new(upstream)),
            frozen: Arc::new(Mutex::new(watch::Sender::new(false))),
            stranded: Mutex::default(),
            connections: Arc::default(),
            upstream_ends: Arc::default(),
            listener: Mutex::new(None),
        };
        proxy.serve(listener);
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
        let connections: Vec<_> = self.connections.lock().unwrap().drain(..).collect();
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }

    /// Listening and forwarding again, on the same port.
    pub async fn up(&self) {
        self.down().await;
        self.frozen.lock().unwrap().send_replace(false);
        let listener = bind_again(self.port).await;
        self.serve(listener);
    }

    /// The local addresses of the proxy's connections to the server, as the
    /// server sees them (Redis's `CLIENT KILL ADDR`), oldest first.
    pub fn upstream_ends(&self) -> Vec<SocketAddr> {
        self.upstream_ends.lock().unwrap().clone()
    }

    /// Nothing goes through any more, on open connections or new ones,
    /// and nothing is closed: a server that hangs.
    pub fn freeze(&self) {
        self.frozen.lock().unwrap().send_replace(true);
    }

    /// Everything goes through again.
    pub fn thaw(&self) {
        self.frozen.lock().unwrap().send_replace(false);
    }

    /// The connections open now hang for good: nothing goes through them
    /// and nothing closes them, as after a failover that moved the
    /// server's address elsewhere and drops the packets of the connections
    /// to the old one. New connections go through.
    pub fn strand(&self) {
        let mut frozen = self.frozen.lock().unwrap();
        let old = std::mem::replace(&mut *frozen, watch::Sender::new(false));
        old.send_replace(true);
        self.stranded.lock().unwrap().push(old);
    }

    /// New connections go to `upstream` from now on.
    pub fn redirect(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    fn serve(&self, listener: TcpListener) {
        let connections = Arc::clone(&self.connections);
        let upstream_ends = Arc::clone(&self.upstream_ends);
        let upstream = Arc::clone(&self.upstream);
        let current = Arc::clone(&self.frozen);
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let frozen = current.lock().unwrap().subscribe();
                let upstream = *upstream.lock().unwrap();
                let upstream_ends = Arc::clone(&upstream_ends);
                let connection = tokio::spawn(forward(client, upstream, upstream_ends, frozen));
                connections.lock().unwrap().push(connection);
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
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

async fn bind_again(port: u16) -> TcpListener {
    // Another process may hold the port for a moment: retry.
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            return listener;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("port {port} stays taken");
}

async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    upstream_ends: Arc<Mutex<Vec<SocketAddr>>>,
    frozen: watch::Receiver<bool>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    if let Ok(end) = server.local_addr() {
        upstream_ends.lock().unwrap().push(end);
    }
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pipe(client_read, server_write, frozen.clone()) => {}
        () = pipe(server_read, client_write, frozen) => {}
    }
}

/// Copies `from` to `to`, except while frozen, when it reads nothing.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut frozen: watch::Receiver<bool>) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if frozen.wait_for(|frozen| !*frozen).await.is_err() {
            return;
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = frozen.changed() => continue,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                if to.write_all(&buffer[..read]).await.is_err() {
                    return;
                }
            }
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
