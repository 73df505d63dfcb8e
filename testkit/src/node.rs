//! Ingress nodes running in the test process over the test's database and NATS namespace, with the sandbox
//! gateway (a phone and customers driven over NATS) unless a test brings its own.

use std::sync::Arc;
use std::time::Duration;

use ingress::{IngressConfig, IngressNode, SandboxGateway, WhatsAppGateway};
use schemas::Subjects;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::poll::eventually;

/// What a node runs on: the app-role database and a NATS namespace.
#[derive(Clone)]
pub struct NodeEnv {
    pub db: store::Db,
    pub nats: async_nats::Client,
    pub subjects: Subjects,
    /// Opens the shops' media; the same key as the API and workers of the test.
    pub master: store::crypto::MasterKey,
    pub media: store::media::MediaConfig,
}

impl NodeEnv {
    /// The sandbox gateway with `config`'s QR timing.
    pub fn sandbox(&self, config: &IngressConfig) -> Arc<dyn WhatsAppGateway> {
        Arc::new(SandboxGateway::new(
            self.db.clone(),
            self.nats.clone(),
            self.subjects.clone(),
            config.sandbox_qr_interval,
            config.sandbox_qr_count,
        ))
    }
}

/// A node running in the test process; aborted when dropped.
pub struct RunningNode {
    pub node: IngressNode,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningNode {
    /// Kills the node like a crash: no lease released, nothing written.
    pub fn crash(&self) {
        self.task.abort();
    }

    /// Stops the node cleanly (leases released).
    pub async fn stop(mut self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
    }

    /// Waits until this node, and only it, runs `tenant_id` (5 s at most).
    pub async fn wait_until_owns(&self, tenant_id: Uuid) {
        eventually(
            Duration::from_secs(5),
            "the node owns the tenant",
            || async { (self.node.owned_tenants() == vec![tenant_id]).then_some(()) },
        )
        .await;
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a node with `gateway` and `config`.
pub async fn start_node_with(
    env: &NodeEnv,
    gateway: Arc<dyn WhatsAppGateway>,
    config: IngressConfig,
) -> RunningNode {
    let node = IngressNode::new(
        env.db.clone(),
        env.nats.clone(),
        env.subjects.clone(),
        gateway,
        config,
        env.master.clone(),
        env.media.clone(),
    )
    .await
    .expect("ingress node");
    let stop = CancellationToken::new();
    let running = node.clone();
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = running.run(stopped).await {
            panic!("ingress node failed: {e}");
        }
    });
    RunningNode { node, stop, task }
}

/// Starts a sandbox node with the test settings.
pub async fn start_node(env: &NodeEnv) -> RunningNode {
    let config = IngressConfig::for_tests();
    start_node_with(env, env.sandbox(&config), config).await
}

/// Starts a sandbox node and waits until it owns `tenant_id` (which must be linked, so that it wants a
/// connection).
pub async fn start_node_owning(env: &NodeEnv, tenant_id: Uuid) -> RunningNode {
    let node = start_node(env).await;
    node.wait_until_owns(tenant_id).await;
    node
}
