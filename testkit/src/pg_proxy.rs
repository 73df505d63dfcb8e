//! A TCP proxy in front of the machine's PostgreSQL: a test (or the fault suite's worker processes) connects
//! through it, and cutting every live connection and refusing new ones is how "PostgreSQL goes away" is played
//! without touching the shared server other tests use.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct PgProxy {
    port: u16,
    refusing: Arc<AtomicBool>,
    /// Bumped to cut every connection open at that moment.
    generation: watch::Sender<u64>,
}

impl PgProxy {
    pub async fn start(upstream: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let port = listener.local_addr().expect("addr").port();
        let refusing = Arc::new(AtomicBool::new(false));
        let (generation, cuts) = watch::channel(0u64);
        let refuse = refusing.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if refuse.load(Ordering::SeqCst) {
                    // Accepted then closed at once: the client sees its connection refused.
                    drop(client);
                    continue;
                }
                let mut cuts = cuts.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    let born = *cuts.borrow_and_update();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.wait_for(|generation| *generation != born) => {}
                    }
                });
            }
        });
        Self {
            port,
            refusing,
            generation,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cuts every open connection and refuses new ones until [`PgProxy::restore`].
    pub fn outage(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        self.generation.send_modify(|generation| *generation += 1);
    }

    pub fn restore(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}
