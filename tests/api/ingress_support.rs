//! Running ingress nodes with the sandbox gateway over the test app's database and NATS namespace, and
//! talking to the sandbox like a phone and a customer would.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ingress::sandbox::{SandboxInbound, SandboxSent};
use ingress::{IngressConfig, WhatsAppGateway, names};
use schemas::whatsapp::{WaCommand, WaCommandReply};
use testkit::node::NodeEnv;
use uuid::Uuid;

use crate::helpers::TestApp;

pub use testkit::eventually;
pub use testkit::node::RunningNode;

/// What an in-process node runs on: the test app's database and NATS namespace.
pub fn node_env(app: &TestApp) -> NodeEnv {
    NodeEnv {
        db: app.db.clone(),
        nats: app.nats.clone(),
        subjects: app.subjects.clone(),
        master: app.master_key.clone(),
        media: store::media::MediaConfig::default(),
    }
}

pub fn sandbox(app: &TestApp, config: &IngressConfig) -> Arc<dyn WhatsAppGateway> {
    node_env(app).sandbox(config)
}

pub async fn start_node_with(
    app: &TestApp,
    gateway: Arc<dyn WhatsAppGateway>,
    config: IngressConfig,
) -> RunningNode {
    testkit::node::start_node_with(&node_env(app), gateway, config).await
}

pub async fn start_node(app: &TestApp) -> RunningNode {
    testkit::node::start_node(&node_env(app)).await
}

/// Starts a sandbox node and waits until it runs `tenant_id` (which must be linked).
pub async fn start_node_owning(app: &TestApp, tenant_id: Uuid) -> RunningNode {
    testkit::node::start_node_owning(&node_env(app), tenant_id).await
}

/// Sends a `WaCommand` as the api does.
pub async fn command(app: &TestApp, tenant_id: Uuid, command: &WaCommand) -> WaCommandReply {
    let reply = tokio::time::timeout(
        Duration::from_secs(15),
        app.nats.request(
            app.subjects.wa_command(tenant_id),
            serde_json::to_vec(command).expect("json").into(),
        ),
    )
    .await
    .expect("command answered in time")
    .expect("command request");
    serde_json::from_slice(&reply.payload).expect("command reply")
}

pub async fn scan_qr(app: &TestApp, tenant_id: Uuid) {
    app.nats
        .publish(names::sandbox_scan(&app.subjects, tenant_id), "".into())
        .await
        .expect("scan");
    app.nats.flush().await.expect("flush");
}

pub async fn customer_writes(app: &TestApp, tenant_id: Uuid, from: &str, id: &str, text: &str) {
    let message = SandboxInbound {
        id: Some(id.to_owned()),
        from: from.to_owned(),
        name: "Awa".into(),
        text: Some(text.to_owned()),
        kind: "direct".into(),
        from_me: false,
        ..Default::default()
    };
    app.nats
        .publish(
            names::sandbox_inbound(&app.subjects, tenant_id),
            serde_json::to_vec(&message).expect("json").into(),
        )
        .await
        .expect("inject");
    app.nats.flush().await.expect("flush");
}

/// Everything the sandbox sends for the tenant, from now on.
pub async fn sent_box(app: &TestApp, tenant_id: Uuid) -> async_nats::Subscriber {
    let sub = app
        .nats
        .subscribe(names::sandbox_sent(&app.subjects, tenant_id))
        .await
        .expect("subscribe to sent");
    app.nats.flush().await.expect("flush");
    sub
}

/// Sent texts received within `wait`.
pub async fn sent_within(sub: &mut async_nats::Subscriber, wait: Duration) -> Vec<SandboxSent> {
    let mut sent = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, sub.next()).await {
        sent.push(serde_json::from_slice(&message.payload).expect("sent json"));
    }
    sent
}

/// `(status, detail, phone)` of the tenant's session row, read as the superuser.
pub async fn session_row(
    app: &TestApp,
    tenant_id: Uuid,
) -> Option<(String, String, Option<String>)> {
    sqlx::query_as(
        "select status, status_detail, phone_number from whatsapp_session where tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(&app.admin_db)
    .await
    .expect("session row")
}

/// Marks the tenant as linked and wanting a connection, as after an earlier successful scan.
pub async fn set_linked(app: &TestApp, tenant_id: Uuid) {
    sqlx::query(
        "insert into whatsapp_session (tenant_id, status, phone_number) values ($1, 'connected', '2250700000000')
         on conflict (tenant_id) do update set status = 'connected', phone_number = '2250700000000'",
    )
    .bind(tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("linked session");
}

pub async fn activate_subscription(app: &TestApp, tenant_id: Uuid) {
    sqlx::query(
        "update subscription set status = 'active', expires_at = now() + interval '20 days' where tenant_id = $1",
    )
    .bind(tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("subscription");
}

pub use testkit::publish::reply;

/// Publishes `reply` on the tenant's outbound subject as the pipeline's outbox does.
pub async fn publish_reply(app: &TestApp, reply: &schemas::OutboundReply) {
    testkit::publish::publish_outbound(&app.nats, &app.subjects, reply).await;
}

/// Opens the shop's `GET /api/v1/whatsapp/events` stream.
pub async fn open_events(app: &TestApp, token: &str) -> reqwest::Response {
    let response = app.whatsapp_events(token).await;
    assert_eq!(response.status(), 200, "event stream opened");
    response
}

/// Reads SSE chunks until one contains `needle` (10 s at most); returns what was read.
pub async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
    read_until_within(response, needle, Duration::from_secs(10)).await
}

/// Reads SSE chunks until the event containing `needle` is complete, failing the test after `within`;
/// returns what was read.
pub async fn read_until_within(
    response: &mut reqwest::Response,
    needle: &str,
    within: Duration,
) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + within;
    let complete = |seen: &str| {
        seen.find(needle)
            .is_some_and(|at| seen[at..].contains("\n\n"))
    };
    while !complete(&seen) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| {
                panic!("no {needle:?} on the event stream within {within:?}; got:\n{seen}")
            })
            .expect("stream")
            .expect("open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

/// Everything the stream sends within `wait`.
pub async fn read_for(response: &mut reqwest::Response, wait: Duration) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

/// The JSON data of the first `event` in SSE text.
pub fn sse_data(text: &str, event: &str) -> serde_json::Value {
    let marker = format!("event: {event}\n");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no {event:?} event in:\n{text}"))
        + marker.len();
    let data = text[start..]
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .expect("data line");
    serde_json::from_str(data).expect("event data is JSON")
}
