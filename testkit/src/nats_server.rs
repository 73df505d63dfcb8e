//! A throwaway nats-server of a test's own, on a free loopback port with its own store directory: for tests
//! that stop, freeze or restart NATS, which must never touch the machine's shared server.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Debian package's binary; `NATS_SERVER_BIN` overrides it.
pub(crate) fn binary() -> String {
    std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "/usr/sbin/nats-server".into())
}

/// A nats-server with JetStream, killed when dropped.
pub struct NatsServer {
    port: u16,
    store: tempfile::TempDir,
    /// JetStream's storage limit, when not the server's default (three quarters of the free disk).
    max_file_store: Option<u64>,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts one and waits until it accepts connections.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts one whose JetStream may store at most `bytes`, like a server on a small disk.
    pub async fn start_with_max_file_store(bytes: u64) -> Self {
        Self::start_with(Some(bytes)).await
    }

    async fn start_with(max_file_store: Option<u64>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let store = tempfile::tempdir().expect("store dir");
        let mut server = Self {
            port,
            store,
            max_file_store,
            child: None,
        };
        server.launch().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let child = spawn(self.port, self.store.path(), self.max_file_store);
        self.child = Some(child);
        wait_for_port(self.port).await;
    }

    /// Kills it (SIGKILL), keeping its store.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it and starts it again on the same port and store: JetStream keeps what it stored.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    /// Freezes it (SIGSTOP): connections stay open and nothing answers, like a stalled server.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Thaws a frozen server (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill");
            assert!(status.success(), "kill {signal}");
        }
    }
}

/// Waits (20 s at most: a restarted cluster node on a loaded 2-core machine can take several seconds) until a
/// server accepts connections on `port` of the loopback.
pub(crate) async fn wait_for_port(port: u16) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nats-server did not start on port {port}");
}

fn spawn(port: u16, store: &Path, max_file_store: Option<u64>) -> Child {
    let mut command = Command::new(binary());
    command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
    match max_file_store {
        // The storage limit has no command-line flag: a configuration file beside the store says it.
        Some(bytes) => {
            let config = store.join("nats-server.conf");
            std::fs::write(
                &config,
                format!(
                    "jetstream {{\n  store_dir: {:?}\n  max_file_store: {bytes}\n}}\n",
                    store.join("jetstream").display().to_string()
                ),
            )
            .expect("write nats-server.conf");
            command.arg("-c").arg(config);
        }
        None => {
            command.arg("-js").arg("-sd").arg(store);
        }
    }
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server (apt: nats-server) is installed")
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.thaw();
        self.kill();
    }
}
