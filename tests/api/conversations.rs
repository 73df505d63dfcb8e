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
        .simulate_message(
            &shop,
            json!({"from": CUSTOMER, "name": "Kouassi", "text": "bonjour"}),
        )
        .await
        .json()
        .await
        .expect("json");
    let key = accepted["chat_key"].as_str().expect("chat key").to_owned();
    wait_for_replies(&app, &shop, CUSTOMER, 1).await;
    let chats: Value = app
        .list_conversations(&shop)
        .await
        .json()
        .await
        .expect("json");
    let chat_id = chats[0]["chat_id"].as_str().expect("chat id");

    // Act
    let by_key = app.conversation_messages(&shop, &key).await;
    let paused = app
        .set_conversation_bot(&shop, &key, json!({"paused_until": null}))
        .await;

    // Assert
    assert_eq!(by_key.status(), 200, "{key} names the conversation");
    let by_key: Value = by_key.json().await.expect("json");
    let by_id: Value = app
        .conversation_messages(&shop, chat_id)
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
    let foreign = app.conversation_messages(&other, &key).await;
    let unknown = app.conversation_messages(&other, "sim_2250799999999").await;
    assert_eq!(foreign.status(), 404, "another shop's chat key");
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        foreign.text().await.expect("body"),
        unknown.text().await.expect("body"),
        "the same 404 as an unknown key"
    );
    let probes = [
        (
            "the messages by chat id",
            app.conversation_messages(&other, chat_id).await,
        ),
        (
            "the bot by chat key",
            app.set_conversation_bot(&other, &key, json!({"paused_until": null}))
                .await,
        ),
        (
            "the messages of a malformed key",
            app.conversation_messages(&other, "not-a-key").await,
        ),
    ];
    for (what, response) in probes {
        assert_eq!(response.status(), 404, "{what} as another shop");
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
        .set_conversation_bot(&shop, &key, json!({"paused_until": yesterday}))
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
        .list_conversations(&shop)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(chats[0]["bot_paused_until"], Value::Null, "nothing changed");
}

const WA_CUSTOMER: &str = "2250700000006@s.whatsapp.net";

/// A paid shop, so the bot answers real customers on WhatsApp.
async fn paid_shop(app: &crate::helpers::TestApp) -> crate::helpers::Shop {
    let shop = app.signup("Friperie").await;
    sqlx::query(
        "update subscription set status = 'active', expires_at = now() + interval '20 days' where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("subscription");
    shop
}

/// A WhatsApp customer message, handled by one worker step.
async fn from_whatsapp(app: &crate::helpers::TestApp, shop: &crate::helpers::Shop, text: &str) {
    let (_, mut message) = inbound(app, shop, WA_CUSTOMER, text);
    message.channel = schemas::Channel::Whatsapp;
    let subject = app.subjects.inbound(shop.tenant_id, message.chat_key());
    let outcome = pipeline(
        app,
        std::sync::Arc::new(workers::llm::offline::Offline::new()),
    )
    .process_delivery(&subject, &serde_json::to_vec(&message).expect("json"), 1)
    .await;
    assert_eq!(outcome, workers::Outcome::Ack, "{text}");
}

async fn messages_of(
    app: &crate::helpers::TestApp,
    shop: &crate::helpers::Shop,
    chat: &str,
) -> Vec<Value> {
    let messages: Value = app
        .conversation_messages(shop, chat)
        .await
        .json()
        .await
        .expect("json");
    messages.as_array().cloned().unwrap_or_default()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_reply_by_hand_reaches_the_whatsapp_customer_once_and_silences_the_bot(pool: PgPool) {
    // Arrange: a WhatsApp customer the bot answered once
    let app = spawn_app(pool).await;
    let shop = paid_shop(&app).await;
    from_whatsapp(&app, &shop, "bonjour").await;
    let chat = "wa_2250700000006";
    assert_eq!(
        outbound_replies(&app, &shop).await.len(),
        1,
        "the bot's greeting"
    );

    // Act: the owner answers by hand, and the request is retried
    let body = json!({"text": "Bonjour, c'est Awa de la boutique : je m'occupe de vous.", "client_message_id": "rep-1"});
    let first = app.reply_in_conversation(&shop, chat, body.clone()).await;
    let retried = app.reply_in_conversation(&shop, chat, body).await;
    from_whatsapp(&app, &shop, "ok merci, et le prix du pagne ?").await;

    // Assert
    assert_eq!(first.status(), 201);
    let stored: Value = first.json().await.expect("json");
    assert_eq!(stored["author"], "owner");
    assert_eq!(stored["direction"], "outbound");
    assert_eq!(
        stored["status"], "queued",
        "waiting for the ingress to send it"
    );
    assert_eq!(
        retried.status(),
        200,
        "the same client_message_id is a replay"
    );
    let retried: Value = retried.json().await.expect("json");
    assert_eq!(retried["message_id"], stored["message_id"]);

    let replies = outbound_replies(&app, &shop).await;
    let by_hand: Vec<_> = replies
        .iter()
        .filter(|r| r.text.starts_with("Bonjour, c'est Awa"))
        .collect();
    assert_eq!(by_hand.len(), 1, "exactly one OutboundReply: {replies:?}");
    assert_eq!(by_hand[0].customer_jid, WA_CUSTOMER);
    assert_eq!(replies.len(), 2, "and no bot answer after it");
    let messages = messages_of(&app, &shop, chat).await;
    let last = messages.last().expect("messages");
    assert_eq!(last["author"], "customer");
    assert_eq!(last["status"], "skipped", "the bot stayed silent: {last}");
    let chats: Value = app
        .list_conversations(&shop)
        .await
        .json()
        .await
        .expect("json");
    let paused_until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(chats[0]["bot_paused_until"].clone()).expect("paused");
    assert!(
        paused_until > chrono::Utc::now() + chrono::Duration::minutes(25),
        "HUMAN_TAKEOVER_MINUTES"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_reply_by_hand_in_the_simulator_is_stored_sent_and_never_sent_to_whatsapp(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let _worker = start_offline_worker(&app);
    ask(&app, &shop, CUSTOMER, "bonjour").await;

    // Act
    let response = app
        .reply_in_conversation(
            &shop,
            &format!("sim_{CUSTOMER}"),
            json!({"text": "Je vous réponds moi-même."}),
        )
        .await;

    // Assert
    assert_eq!(response.status(), 201);
    let stored: Value = response.json().await.expect("json");
    assert_eq!(
        (stored["author"].as_str(), stored["status"].as_str()),
        (Some("owner"), Some("sent"))
    );
    assert!(
        outbound_replies(&app, &shop).await.is_empty(),
        "nothing for the ingress"
    );
    let messages = messages_of(&app, &shop, &format!("sim_{CUSTOMER}")).await;
    assert_eq!(
        messages.last().map(|m| m["body"].clone()),
        Some(json!("Je vous réponds moi-même."))
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_reply_by_hand_is_validated_and_never_reaches_another_shops_chat(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = paid_shop(&app).await;
    let other = app.signup("Boutique Marcory").await;
    from_whatsapp(&app, &shop, "bonjour").await;
    let chats: Value = app
        .list_conversations(&shop)
        .await
        .json()
        .await
        .expect("json");
    let chat_id = chats[0]["chat_id"].as_str().expect("chat id").to_owned();

    // Act
    let foreign_by_id = app
        .reply_in_conversation(&other, &chat_id, json!({"text": "Coucou"}))
        .await;
    let foreign_by_key = app
        .reply_in_conversation(&other, "wa_2250700000006", json!({"text": "Coucou"}))
        .await;
    let unknown = app
        .reply_in_conversation(
            &other,
            &uuid::Uuid::new_v4().to_string(),
            json!({"text": "Coucou"}),
        )
        .await;
    let empty = app
        .reply_in_conversation(&shop, &chat_id, json!({"text": "  "}))
        .await;

    // Assert
    assert_eq!(foreign_by_id.status(), 404);
    assert_eq!(foreign_by_key.status(), 404);
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        foreign_by_id.text().await.expect("body"),
        unknown.text().await.expect("body"),
        "the same 404 as an unknown chat"
    );
    assert_eq!(empty.status(), 422);
    let owner_messages: i64 =
        sqlx::query_scalar("select count(*) from message where author = 'owner'")
            .fetch_one(&app.admin_db)
            .await
            .expect("count");
    assert_eq!(owner_messages, 0, "nothing stored");
    assert_eq!(
        outbound_replies(&app, &shop).await.len(),
        1,
        "only the bot's greeting"
    );
}
