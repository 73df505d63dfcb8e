//! Running the pipeline in tests: workers over the test app's database and NATS namespace, and helpers that
//! talk to the bot like a customer through the simulator.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use schemas::{Channel, InboundMessage};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use workers::llm::LlmProvider;
use workers::llm::offline::Offline;
use workers::{Pipeline, WorkerConfig};

use crate::helpers::{Shop, TestApp};
use crate::ingress_support::eventually;

pub fn pipeline_with(
    app: &TestApp,
    provider: Arc<dyn LlmProvider>,
    config: WorkerConfig,
) -> Pipeline {
    Pipeline::new(
        app.db.clone(),
        app.nats.clone(),
        app.subjects.clone(),
        provider,
        config,
        app.master_key.clone(),
    )
}

pub fn pipeline(app: &TestApp, provider: Arc<dyn LlmProvider>) -> Pipeline {
    pipeline_with(app, provider, WorkerConfig::for_tests())
}

/// A worker consuming the app's inbound stream until dropped.
pub struct RunningWorker {
    stop: CancellationToken,
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn start_worker(app: &TestApp, provider: Arc<dyn LlmProvider>) -> RunningWorker {
    let stop = CancellationToken::new();
    tokio::spawn(pipeline(app, provider).run(stop.clone()));
    RunningWorker { stop }
}

pub fn start_offline_worker(app: &TestApp) -> RunningWorker {
    start_worker(app, Arc::new(Offline::new()))
}

/// A WhatsApp customer message from `jid` as the ingress publishes it (subject, payload).
pub fn whatsapp_inbound(app: &TestApp, shop: &Shop, jid: &str, text: &str) -> (String, Vec<u8>) {
    let message = InboundMessage {
        tenant_id: shop.tenant_id,
        channel: schemas::Channel::Whatsapp,
        customer_jid: jid.into(),
        customer_name: "Kouassi".into(),
        wa_message_id: format!("wa-{}", uuid::Uuid::new_v4().simple()),
        text: text.to_owned(),
        timestamp: chrono::Utc::now(),
        from_owner: false,
        attachment: None,
        location: None,
    };
    let subject = app.subjects.inbound(shop.tenant_id, message.chat_key());
    (subject, serde_json::to_vec(&message).expect("json"))
}

/// A customer message as the simulator publishes it, and its subject.
pub fn inbound(app: &TestApp, shop: &Shop, from: &str, text: &str) -> (String, InboundMessage) {
    let message = InboundMessage {
        tenant_id: shop.tenant_id,
        channel: Channel::Simulator,
        customer_jid: from.to_owned(),
        customer_name: "Kouassi".into(),
        wa_message_id: format!("sim-{}", Uuid::new_v4().simple()),
        text: text.to_owned(),
        timestamp: Utc::now(),
        from_owner: false,
        attachment: None,
        location: None,
    };
    (
        app.subjects.inbound(shop.tenant_id, message.chat_key()),
        message,
    )
}

/// Sends a message through the simulator endpoint.
pub async fn say(app: &TestApp, shop: &Shop, from: &str, text: &str) {
    let response = app
        .simulate_message(
            shop,
            json!({ "from": from, "name": "Kouassi", "text": text }),
        )
        .await;
    assert_eq!(response.status(), 202, "simulator accepted {text:?}");
}

/// The bot's replies in the customer's chat, oldest first (read as the shop, through the API).
pub async fn bot_replies(app: &TestApp, shop: &Shop, from: &str) -> Vec<String> {
    chat_messages(app, shop, from)
        .await
        .iter()
        .filter(|m| m["author"] == "bot")
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect()
}

/// The customer's conversation as the shop's conversation list shows it, if there is one.
pub async fn conversation(app: &TestApp, shop: &Shop, from: &str) -> Option<Value> {
    let chats: Value = app
        .list_conversations(shop)
        .await
        .json()
        .await
        .expect("json");
    chats
        .as_array()
        .and_then(|c| c.iter().find(|c| c["customer_jid"] == from))
        .cloned()
}

/// Every message of the customer's chat, oldest first (read as the shop, through the API).
pub async fn chat_messages(app: &TestApp, shop: &Shop, from: &str) -> Vec<Value> {
    let Some(chat) = conversation(app, shop, from).await else {
        return Vec::new();
    };
    let chat_id = chat["chat_id"].as_str().expect("chat id");
    let messages: Value = app
        .conversation_messages_with(shop, chat_id, &[("limit", "200")])
        .await
        .json()
        .await
        .expect("json");
    messages.as_array().cloned().expect("messages")
}

/// Polls until the customer's message `text` is settled (answered or skipped: the workers are done with it),
/// and returns its status and status detail.
pub async fn wait_until_settled(
    app: &TestApp,
    shop: &Shop,
    from: &str,
    text: &str,
) -> (String, String) {
    let settled = || async move {
        chat_messages(app, shop, from)
            .await
            .into_iter()
            .find(|m| m["author"] == "customer" && m["body"] == text && m["status"] != "pending")
            .map(|m| {
                let field = |name: &str| m[name].as_str().unwrap_or_default().to_owned();
                (field("status"), field("status_detail"))
            })
    };
    eventually(
        Duration::from_secs(10),
        &format!("{text:?} settled"),
        || async move { settled().await.is_some() },
    )
    .await;
    settled().await.expect("settled")
}

/// Runs the sweeper until the customer has `count` replies (10 s at most): it answers a stranded chat once
/// the chat's claim has expired.
pub async fn sweep_until_replies(
    pipeline: &Pipeline,
    app: &TestApp,
    shop: &Shop,
    from: &str,
    count: usize,
) {
    eventually(
        Duration::from_secs(10),
        &format!("{count} replies for {from} after sweeping"),
        || async move {
            pipeline.sweep_once().await;
            bot_replies(app, shop, from).await.len() >= count
        },
    )
    .await;
}

/// Waits until the workers have acked every message of the app's inbound stream. A worker acks last, so
/// everything those messages caused is committed and published by then.
pub async fn wait_until_inbound_acked(app: &TestApp) {
    let js = async_nats::jetstream::new(app.nats.clone());
    let stream = js
        .get_stream(app.subjects.inbound_stream())
        .await
        .expect("stream");
    let (stream, consumer) = (&stream, &app.subjects.workers_consumer());
    eventually(
        Duration::from_secs(10),
        "every inbound message acked",
        || async move {
            let last = stream
                .get_info()
                .await
                .expect("stream info")
                .state
                .last_sequence;
            let acked = stream
                .consumer_info(consumer)
                .await
                .expect("consumer info")
                .ack_floor
                .stream_sequence;
            acked >= last
        },
    )
    .await;
}

/// Polls until the customer has `count` replies (10 s at most), and returns them.
pub async fn wait_for_replies(app: &TestApp, shop: &Shop, from: &str, count: usize) -> Vec<String> {
    let found = testkit::poll::within(Duration::from_secs(10), || async {
        let replies = bot_replies(app, shop, from).await;
        (replies.len() >= count).then_some(replies)
    })
    .await;
    match found {
        Some(replies) => replies,
        None => panic!(
            "expected {count} replies for {from}, got {:?}",
            bot_replies(app, shop, from).await
        ),
    }
}

/// Says `text` and waits for the next reply.
pub async fn ask(app: &TestApp, shop: &Shop, from: &str, text: &str) -> String {
    let before = bot_replies(app, shop, from).await.len();
    say(app, shop, from, text).await;
    wait_for_replies(app, shop, from, before + 1)
        .await
        .pop()
        .expect("a reply")
}

pub async fn stock_of(app: &TestApp, product_id: &str) -> Option<i32> {
    sqlx::query_scalar("select stock from product where product_id = $1::uuid")
        .bind(product_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("stock")
}

pub async fn orders_of(app: &TestApp, shop: &Shop) -> Vec<Value> {
    let orders: Value = app.list_orders(shop).await.json().await.expect("json");
    orders.as_array().cloned().unwrap_or_default()
}

/// Lets every chat's retry backoff run out now (what waiting would do), so a test can retry a failed turn
/// without sleeping through the backoff.
pub async fn backoff_elapsed(app: &TestApp) {
    sqlx::query("update chat set retry_at = now() where retry_at is not null")
        .execute(&app.admin_db)
        .await
        .expect("backoff");
}

/// The chat's consecutive failed turns and whether it is held back right now.
pub async fn backoff_of(app: &TestApp, shop: &Shop) -> Vec<(i32, bool)> {
    sqlx::query_as(
        "select failed_turns, coalesce(retry_at > now(), false) from chat where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .fetch_all(&app.admin_db)
    .await
    .expect("chats")
}

/// The shop's dead letters, as its owner lists them through the API.
pub async fn dead_letters_of(app: &TestApp, shop: &Shop) -> Value {
    app.list_dead_letters(shop)
        .await
        .json()
        .await
        .expect("json")
}

/// Every reply published for the ingress on the shop's outbound subject.
pub async fn outbound_replies(app: &TestApp, shop: &Shop) -> Vec<schemas::OutboundReply> {
    let js = async_nats::jetstream::new(app.nats.clone());
    let mut stream = js
        .get_stream(app.subjects.outbound_stream())
        .await
        .expect("stream");
    let state = stream.info().await.expect("info").state.clone();
    let mut replies = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        let Ok(message) = stream.get_raw_message(seq).await else {
            continue;
        };
        if message.subject.as_str() == app.subjects.outbound(shop.tenant_id) {
            replies.push(serde_json::from_slice(&message.payload).expect("OutboundReply"));
        }
    }
    replies
}
