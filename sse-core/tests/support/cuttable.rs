//! A TCP proxy to Redis that a test can cut (connections closed, new ones
//! refused) or freeze (connections kept open, nothing forwarded, as in a
//! network partition), to take one instance off Redis, or off one node of
//! a cluster, while the others keep publishing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The state of the proxy's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    Open,
    Cut,
    Frozen,
}

pub(crate) struct Cuttable {
    port: u16,
    state: Arc<watch::Sender<Link>>,
    task: tokio::task::JoinHandle<()>,
}

impl Cuttable {
    /// A proxy to `target` whose every connection follows the link.
    pub(crate) async fn to(target: SocketAddr) -> Self {
        Self::start(target, None).await
    }

    /// A proxy to `target` whose link holds only for the connections that
    /// authenticate as `user`; the others always pass. Every client of a
    /// cluster node reaches it at the address the node announces, so this
    /// is how one instance, and only it, is cut from one node: its URLs
    /// name `user`, and the client sends them with its first command.
    pub(crate) async fn only_for(target: SocketAddr, user: &str) -> Self {
        Self::start(target, Some(user.to_owned())).await
    }

    async fn start(target: SocketAddr, user: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("bound").port();
        let state = Arc::new(watch::Sender::new(Link::Open));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let changes = shared.subscribe();
                tokio::spawn(forward(client, target, user.clone(), changes));
            }
        });
        Self { port, state, task }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub(crate) fn set(&self, link: Link) {
        self.state.send_replace(link);
    }
}

impl Drop for Cuttable {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards one connection while the link is open (or always, if it
/// does not authenticate as `user`).
async fn forward(
    mut client: TcpStream,
    target: SocketAddr,
    user: Option<String>,
    mut changes: watch::Receiver<Link>,
) {
    let mut first = Vec::new();
    let follows_link = match &user {
        None => true,
        Some(user) => {
            let mut buffer = vec![0; 4096];
            let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buffer));
            let Ok(Ok(length @ 1..)) = read.await else {
                return;
            };
            first.extend_from_slice(&buffer[..length]);
            first
                .windows(user.len())
                .any(|window| window == user.as_bytes())
        }
    };
    if follows_link {
        let now = *changes.borrow_and_update();
        match now {
            Link::Cut => return, // dropped: refused while cut
            Link::Frozen => {
                // Held silent until the link changes, then closed.
                let _ = changes.changed().await;
                return;
            }
            Link::Open => {}
        }
    }
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    if server.write_all(&first).await.is_err() {
        return;
    }
    if !follows_link {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        return;
    }
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = changes.wait_for(|link| *link != Link::Open) => {}
    }
    if *changes.borrow() == Link::Frozen {
        // Silent, but open, until the link changes again.
        let _ = changes.changed().await;
    }
}
