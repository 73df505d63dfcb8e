//! When the bot cannot help, it hands the conversation over: the customer is told someone will answer, the
//! shop sees the conversation marked on its dashboard and, with an alert number, gets a WhatsApp message.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::*;
use crate::helpers::{Shop, TestApp, spawn_app};
use crate::web_support::WebUser;

const CUSTOMER: &str = "2250700000051";

/// The customer's conversation in the shop's list.
async fn conversation(app: &TestApp, shop: &Shop) -> Value {
    crate::bot_support::conversation(app, shop, CUSTOMER)
        .await
        .expect("the customer's conversation")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_question_the_bot_cannot_answer_is_handed_to_the_shop_until_it_replies(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);

    let reply = ask(&app, &shop, CUSTOMER, "vous faites du crédit sur 3 mois ?").await;
    assert!(reply.contains("Je transmets votre message"), "{reply}");
    let chat = conversation(&app, &shop).await;
    assert!(
        chat["attention_reason"]
            .as_str()
            .is_some_and(|r| r.contains("crédit sur 3 mois")),
        "{chat}"
    );
    let mut owner = WebUser::signed_in(&app, &shop).await;
    let home = owner.page("/app").await;
    assert!(
        home.contains("id=\"alert-handed-over\""),
        "the home page says so"
    );
    let list = owner.page("/app/conversations").await;
    assert!(list.contains("À traiter"), "the conversation is marked");

    // A question the bot answers does not mark anything.
    let other = app.signup("Maquis Marcory").await;
    app.create_product_ok(&other, json!({"name": "Attiéké", "price_xof": 1500}))
        .await;
    ask(&app, &other, CUSTOMER, "c'est combien l'attiéké ?").await;
    assert_eq!(
        conversation(&app, &other).await["attention_reason"],
        Value::Null
    );

    let chat_id = chat["chat_id"].as_str().expect("chat id").to_owned();
    let response = app
        .post(
            &format!("/api/v1/conversations/{chat_id}/messages"),
            &shop.token,
            json!({"text": "Oui, en 3 fois sans frais. Passez à la boutique."}),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        conversation(&app, &shop).await["attention_reason"],
        Value::Null,
        "the shop answered"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_owner_s_alert_number_gets_one_whatsapp_message_per_handed_over_conversation(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    app.pay_with_sandbox(&shop, "starter").await;
    let refused = app
        .put(
            "/api/v1/bot/alert-phone",
            &shop.token,
            json!({"phone": "12"}),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let saved = app
        .put(
            "/api/v1/bot/alert-phone",
            &shop.token,
            json!({"phone": "07 07 07 07 07"}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let body: Value = saved.json().await.expect("json");
    assert_eq!(body["phone"], "+2250707070707");

    let pipeline = pipeline(
        &app,
        std::sync::Arc::new(workers::llm::offline::Offline::new()),
    );
    for text in ["vous faites du crédit ?", "et le paiement en 3 fois ?"] {
        let (subject, message) =
            whatsapp_inbound(&app, &shop, "2250700000052@s.whatsapp.net", text);
        assert_eq!(
            pipeline.process_delivery(&subject, &message, 1).await,
            workers::Outcome::Ack
        );
    }
    let alerts: Vec<(String,)> = sqlx::query_as(
        "select payload->>'text' from outbox
         where tenant_id = $1 and payload->>'customer_jid' = '2250707070707@s.whatsapp.net'",
    )
    .bind(shop.tenant_id)
    .fetch_all(&app.admin_db)
    .await
    .expect("outbox");
    assert_eq!(
        alerts.len(),
        1,
        "one alert until the shop answers: {alerts:?}"
    );
    assert!(
        alerts[0].0.contains("un client attend votre réponse") && alerts[0].0.contains("crédit"),
        "{alerts:?}"
    );
}
