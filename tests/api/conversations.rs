//! Conversations as the shop reads and takes them over: by chat id or chat key, pausing the bot, answering
//! by hand.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::*;
use crate::helpers::spawn_app;

const CUSTOMER: &str = "2250700000005";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_conversation_is_read_by_the_chat_key_the_simulator_answers(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let other = app.signup("Boutique Marcory").await;
    let _worker = start_offline_worker(&app);
    let accepted: Value = app
        .post(
            "/api/v1/simulator/messages",
            &shop.token,
            json!({"from": CUSTOMER, "name": "Kouassi", "text": "bonjour"}),
        )
        .await
        .json()
        .await
        .expect("json");
    let key = accepted["chat_key"].as_str().expect("chat key").to_owned();
    wait_for_replies(&app, &shop, CUSTOMER, 1).await;
    let chats: Value = app
        .get("/api/v1/conversations", &shop.token)
        .await
        .json()
        .await
        .expect("json");
    let chat_id = chats[0]["chat_id"].as_str().expect("chat id");

    // Act
    let by_key = app
        .get(
            &format!("/api/v1/conversations/{key}/messages"),
            &shop.token,
        )
        .await;
    let paused = app
        .put(
            &format!("/api/v1/conversations/{key}/bot"),
            &shop.token,
            json!({"paused_until": null}),
        )
        .await;

    // Assert
    assert_eq!(by_key.status(), 200, "{key} names the conversation");
    let by_key: Value = by_key.json().await.expect("json");
    let by_id: Value = app
        .get(
            &format!("/api/v1/conversations/{chat_id}/messages"),
            &shop.token,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(by_key, by_id);
    assert_eq!(
        by_key.as_array().map(Vec::len),
        Some(2),
        "question and reply"
    );
    assert_eq!(paused.status(), 200);
    let foreign = app
        .get(
            &format!("/api/v1/conversations/{key}/messages"),
            &other.token,
        )
        .await;
    let unknown = app
        .get(
            "/api/v1/conversations/sim_2250799999999/messages",
            &other.token,
        )
        .await;
    assert_eq!(foreign.status(), 404, "another shop's chat key");
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        foreign.text().await.expect("body"),
        unknown.text().await.expect("body"),
        "the same 404 as an unknown key"
    );
    for path in [
        format!("/api/v1/conversations/{chat_id}/messages"),
        format!("/api/v1/conversations/{key}/bot"),
        "/api/v1/conversations/not-a-key/messages".to_owned(),
    ] {
        let response = if path.ends_with("/bot") {
            app.put(&path, &other.token, json!({"paused_until": null}))
                .await
        } else {
            app.get(&path, &other.token).await
        };
        assert_eq!(response.status(), 404, "{path} as another shop");
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_pause_that_ends_in_the_past_is_refused(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let _worker = start_offline_worker(&app);
    ask(&app, &shop, CUSTOMER, "bonjour").await;
    let key = format!("sim_{CUSTOMER}");
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);

    // Act
    let response = app
        .put(
            &format!("/api/v1/conversations/{key}/bot"),
            &shop.token,
            json!({"paused_until": yesterday}),
        )
        .await;

    // Assert
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "paused_until");
    assert!(
        body["error"]["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("dans le futur")),
        "{body}"
    );
    let chats: Value = app
        .get("/api/v1/conversations", &shop.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(chats[0]["bot_paused_until"], Value::Null, "nothing changed");
}
