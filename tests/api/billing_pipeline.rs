//! The subscription decides whether real customers are answered; the simulator always answers.

use std::sync::Arc;

use schemas::Channel;
use serde_json::{Value, json};
use sqlx::PgPool;
use workers::Outcome;
use workers::llm::offline::Offline;

use crate::bot_support::*;
use crate::helpers::{Shop, TestApp, spawn_app};

const CUSTOMER: &str = "2250700000004@s.whatsapp.net";

async fn set_subscription(app: &TestApp, shop: &Shop, status: &str) {
    sqlx::query(
        "update subscription set status = $2, expires_at = now() + interval '20 days' where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .bind(status)
    .execute(&app.admin_db)
    .await
    .expect("subscription");
}

/// A WhatsApp message from a real customer, handled by a worker to the end: delivered again while the worker
/// asks for it (a database hiccup on a loaded machine), as JetStream would.
async fn whatsapp_message(app: &TestApp, shop: &Shop, text: &str) -> Outcome {
    let (_, mut message) = inbound(app, shop, CUSTOMER, text);
    message.channel = Channel::Whatsapp;
    let subject = app.subjects.inbound(shop.tenant_id, message.chat_key());
    let payload = serde_json::to_vec(&message).expect("json");
    let worker = pipeline(app, Arc::new(Offline::new()));
    let mut outcome = worker.process_delivery(&subject, &payload, 1).await;
    for delivered in 2..=5 {
        if !matches!(outcome, Outcome::Retry(_)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        outcome = worker.process_delivery(&subject, &payload, delivered).await;
    }
    outcome
}

async fn whatsapp_chat(app: &TestApp, shop: &Shop) -> (Vec<Value>, usize) {
    let chats: Value = app
        .list_conversations(shop)
        .await
        .json()
        .await
        .expect("json");
    let chat = chats
        .as_array()
        .and_then(|c| c.iter().find(|c| c["channel"] == "whatsapp"))
        .expect("chat")
        .clone();
    let chat_id = chat["chat_id"].as_str().expect("id");
    let messages: Value = app
        .conversation_messages(shop, chat_id)
        .await
        .json()
        .await
        .expect("json");
    let messages = messages.as_array().cloned().unwrap_or_default();
    let replies = messages.iter().filter(|m| m["author"] == "bot").count();
    (messages, replies)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_suspended_shop_is_silent_to_customers_keeps_its_data_and_still_previews(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    app.create_product_ok(&shop, json!({"name": "Pagne", "price_xof": 7500}))
        .await;
    set_subscription(&app, &shop, "suspended").await;

    assert_eq!(whatsapp_message(&app, &shop, "bonjour").await, Outcome::Ack);
    let (messages, replies) = whatsapp_chat(&app, &shop).await;
    assert_eq!(replies, 0, "the customer gets no reply");
    assert_eq!(messages[0]["status"], "skipped");
    assert!(
        messages[0]["status_detail"]
            .as_str()
            .is_some_and(|d| d.contains("suspendu")),
        "the shop sees why"
    );
    let outbound: i64 =
        sqlx::query_scalar("select count(*) from outbox where subject like '%.out.%'")
            .fetch_one(&app.admin_db)
            .await
            .expect("count");
    assert_eq!(outbound, 0, "nothing queued for WhatsApp");
    assert_eq!(
        app.count("product", shop.tenant_id).await,
        1,
        "data untouched"
    );

    let _worker = start_offline_worker(&app);
    let preview = ask(&app, &shop, "2250700000099", "bonjour").await;
    assert!(
        preview.contains("Friperie"),
        "the simulator still answers: {preview}"
    );

    set_subscription(&app, &shop, "active").await;
    assert_eq!(
        whatsapp_message(&app, &shop, "vous êtes là ?").await,
        Outcome::Ack
    );
    // The running worker may take the delivery first: its reply arrives a moment later.
    let reactivated = testkit::poll::within(std::time::Duration::from_secs(10), || async {
        (whatsapp_chat(&app, &shop).await.1 == 1).then_some(())
    })
    .await;
    assert!(reactivated.is_some(), "paying reactivates the bot at once");
    let queued: i64 =
        sqlx::query_scalar("select count(*) from outbox where subject like '%.out.%'")
            .fetch_one(&app.admin_db)
            .await
            .expect("count");
    assert_eq!(queued, 1, "the reply is queued for the ingress");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_that_never_paid_gets_no_customer_replies(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    assert_eq!(whatsapp_message(&app, &shop, "bonjour").await, Outcome::Ack);

    let (messages, replies) = whatsapp_chat(&app, &shop).await;
    assert_eq!(replies, 0);
    assert!(
        messages[0]["status_detail"]
            .as_str()
            .is_some_and(|d| d.contains("paiement"))
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn replies_to_customers_count_toward_the_monthly_limit(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Friperie", "starter").await;
    set_subscription(&app, &shop, "active").await;
    sqlx::query("insert into tenant_usage (tenant_id, month, bot_replies) values ($1, date_trunc('month', now())::date, 999)")
        .bind(shop.tenant_id)
        .execute(&app.admin_db)
        .await
        .expect("usage");

    // Each message is handled to the end before the next one arrives: two turns, two decisions.
    assert_eq!(whatsapp_message(&app, &shop, "bonjour").await, Outcome::Ack);
    assert_eq!(whatsapp_message(&app, &shop, "allô ?").await, Outcome::Ack);

    let (messages, replies) = whatsapp_chat(&app, &shop).await;
    assert_eq!(
        replies, 1,
        "the 1000th reply of the Starter plan is sent, the next is not: {messages:#?}"
    );
    let last = messages.last().expect("message");
    assert!(
        last["status_detail"]
            .as_str()
            .is_some_and(|d| d.contains("1000")),
        "{last}"
    );
    let (replies_count, inbound): (i32, i32) = sqlx::query_as(
        "select bot_replies, inbound_messages from tenant_usage_now where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("usage");
    assert_eq!((replies_count, inbound), (1000, 2));
}
