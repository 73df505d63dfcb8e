//! A throwaway three-node nats-server cluster on loopback ports, each node with its own JetStream store: for
//! the test that kills one node while the pipeline runs on replicated (R3) streams. Never the shared server.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::nats_server::{binary, wait_for_port};

struct Node {
    port: u16,
    config: PathBuf,
    child: Option<Child>,
}

/// Three clustered nats-servers with JetStream, killed when dropped.
pub struct NatsCluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl NatsCluster {
    /// Starts the three nodes and waits until JetStream can place a replicated stream.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("cluster dir");
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(i, (port, route))| {
                let routes: Vec<String> = ports
                    .iter()
                    .filter(|(_, other)| other != route)
                    .map(|(_, other)| format!("nats-route://127.0.0.1:{other}"))
                    .collect();
                let store = dir.path().join(format!("n{i}"));
                let config = dir.path().join(format!("n{i}.conf"));
                std::fs::write(
                    &config,
                    format!(
                        "server_name: n{i}\nlisten: 127.0.0.1:{port}\n\
                         jetstream {{ store_dir: {:?} }}\n\
                         cluster {{ name: tdj_test, listen: 127.0.0.1:{route}, routes: [{}] }}\n",
                        store.display().to_string(),
                        routes.join(", ")
                    ),
                )
                .expect("write node config");
                Node {
                    port: *port,
                    config,
                    child: None,
                }
            })
            .collect();
        let mut cluster = Self { nodes, _dir: dir };
        for i in 0..3 {
            cluster.launch(i).await;
        }
        cluster.wait_until_replicated().await;
        cluster
    }

    /// Every node's URL, comma-separated (as `NATS_URL` takes a cluster).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(|node| format!("nats://127.0.0.1:{}", node.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    async fn launch(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let child = Command::new(binary())
            .arg("-c")
            .arg(&node.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (apt: nats-server) is installed");
        node.child = Some(child);
        wait_for_port(node.port).await;
    }

    /// Kills node `i` (SIGKILL), keeping its store.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again on its ports and store; it catches up with the others.
    pub async fn restart(&mut self, i: usize) {
        self.kill(i);
        self.launch(i).await;
    }

    /// Waits (up to 30 s) until the cluster has a JetStream leader that can place a stream on three nodes.
    async fn wait_until_replicated(&self) {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(self.url().split(',').collect::<Vec<_>>())
            .await
            .expect("connect to the cluster");
        let js = async_nats::jetstream::new(client);
        let name = format!("READY_{}", uuid::Uuid::new_v4().simple());
        // A cluster forming on a loaded 2-core machine can take well over half a minute to elect its JetStream
        // leader: wait up to 90 s.
        for _ in 0..900 {
            let created = js
                .create_stream(async_nats::jetstream::stream::Config {
                    name: name.clone(),
                    subjects: vec![format!("ready.{name}")],
                    num_replicas: 3,
                    ..Default::default()
                })
                .await;
            if created.is_ok() {
                let _ = js.delete_stream(&name).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the NATS cluster never placed a replicated stream");
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
