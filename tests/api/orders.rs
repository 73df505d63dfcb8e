//! Following orders up, and taking conversations over by hand.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::*;
use crate::helpers::{Shop, TestApp, error_code, spawn_app};

const CUSTOMER: &str = "2250700000003";

/// A shop with one order of 2 pagnes (stock 10 → 8), taken by the offline bot.
async fn shop_with_an_order(app: &TestApp) -> (Shop, String, String) {
    let shop = app.signup("Friperie").await;
    let pagne = app
        .create_product_ok(
            &shop,
            json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
        )
        .await;
    let _worker = start_offline_worker(app);
    ask(app, &shop, CUSTOMER, "je prends 2 pagnes").await;
    ask(app, &shop, CUSTOMER, "oui").await;
    let orders = orders_of(app, &shop).await;
    assert_eq!(orders.len(), 1);
    let order_id = orders[0]["order_id"].as_str().expect("id").to_owned();
    (
        shop,
        order_id,
        pagne["product_id"].as_str().expect("id").to_owned(),
    )
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_order_moves_forward_and_cancelling_restocks(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (shop, order_id, pagne) = shop_with_an_order(&app).await;
    assert_eq!(stock_of(&app, &pagne).await, Some(8));

    let confirmed: Value = app
        .update_order(&shop, &order_id, json!({"status": "confirmed"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(confirmed["status"], "confirmed");
    let skip = app
        .update_order(&shop, &order_id, json!({"status": "new"}))
        .await;
    assert_eq!(skip.status(), 409, "no going back");
    assert_eq!(error_code(skip).await, "invalid_transition");

    let cancelled = app
        .update_order(&shop, &order_id, json!({"status": "cancelled"}))
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(
        stock_of(&app, &pagne).await,
        Some(10),
        "cancelling put the items back"
    );
    let again = app
        .update_order(&shop, &order_id, json!({"status": "cancelled"}))
        .await;
    assert_eq!(
        again.status(),
        409,
        "a cancelled order cannot be cancelled twice (no double restock)"
    );
    assert_eq!(stock_of(&app, &pagne).await, Some(10));

    let read: Value = app
        .read_order(&shop, &order_id)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read["items"][0]["product_name"], "Pagne");
    let filtered: Value = app
        .list_orders_with(&shop, &[("status", "cancelled")])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));
    let events: i64 = sqlx::query_scalar(
        "select count(*) from outbox where subject like '%order.status_changed'",
    )
    .fetch_one(&app.admin_db)
    .await
    .expect("count");
    assert_eq!(events, 2, "each change is published for integrators");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn orders_and_conversations_are_isolated_between_tenants(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (shop, order_id, pagne) = shop_with_an_order(&app).await;
    let other = app.signup("Autre boutique").await;
    let chats: Value = app
        .list_conversations(&shop)
        .await
        .json()
        .await
        .expect("json");
    let chat_id = chats[0]["chat_id"].as_str().expect("chat");

    let probes = [
        ("GET the order", app.read_order(&other, &order_id).await),
        (
            "PATCH the order",
            app.update_order(&other, &order_id, json!({"status": "cancelled"}))
                .await,
        ),
        (
            "GET the chat's messages",
            app.conversation_messages(&other, chat_id).await,
        ),
        (
            "PUT the chat's bot",
            app.set_conversation_bot(&other, chat_id, json!({"paused_until": null}))
                .await,
        ),
    ];
    for (what, response) in probes {
        assert_eq!(response.status(), 404, "{what} with another tenant's token");
    }
    let lists = [
        ("the orders", app.list_orders(&other).await),
        ("the conversations", app.list_conversations(&other).await),
    ];
    for (what, response) in lists {
        let list: Value = response.json().await.expect("json");
        assert_eq!(list, json!([]), "{what} of the other shop is empty");
    }
    assert_eq!(
        stock_of(&app, &pagne).await,
        Some(8),
        "the foreign cancel did not restock"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_paused_conversation_gets_no_bot_reply_until_resumed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let _worker = start_offline_worker(&app);
    ask(&app, &shop, CUSTOMER, "bonjour").await;
    let chats: Value = app
        .list_conversations(&shop)
        .await
        .json()
        .await
        .expect("json");
    let chat = chats[0]["chat_id"].as_str().expect("chat");

    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    let paused = app
        .set_conversation_bot(&shop, chat, json!({"paused_until": until}))
        .await;
    assert_eq!(paused.status(), 200);
    say(&app, &shop, CUSTOMER, "vous êtes là ?").await;
    let (status, _) = wait_until_settled(&app, &shop, CUSTOMER, "vous êtes là ?").await;
    assert_eq!(
        status, "skipped",
        "the paused bot let the message go unanswered"
    );
    assert_eq!(
        bot_replies(&app, &shop, CUSTOMER).await.len(),
        1,
        "the bot stayed silent"
    );

    assert_eq!(
        app.set_conversation_bot(&shop, chat, json!({"paused_until": null}))
            .await
            .status(),
        200
    );
    ask(&app, &shop, CUSTOMER, "bonjour ?").await;
    assert_eq!(
        bot_replies(&app, &shop, CUSTOMER).await.len(),
        2,
        "answered again once resumed"
    );

    let too_long = chrono::Utc::now() + chrono::Duration::days(90);
    assert_eq!(
        app.set_conversation_bot(&shop, chat, json!({"paused_until": too_long}))
            .await
            .status(),
        422
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_simulator_validates_its_input(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    for (body, field) in [
        (json!({"from": "abc", "text": "bonjour"}), "from"),
        (json!({"from": "2250700000000", "text": "  "}), "text"),
        (
            json!({"from": "2250700000000", "text": "x".repeat(4001)}),
            "text",
        ),
        (
            json!({"from": "2250700000000", "text": "ok", "client_message_id": "a b"}),
            "client_message_id",
        ),
    ] {
        let response = app.simulate_message(&shop, body).await;
        assert_eq!(response.status(), 422, "{field}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["fields"][0]["field"], field);
    }
}
