//! Phone numbers the API takes are normalised to E.164 (Côte d'Ivoire by default), and refused when they
//! are not numbers.

use std::time::Duration;

use futures::StreamExt;
use schemas::whatsapp::{WaCommand, WaCommandReply};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::*;
use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_local_ivorian_number_in_the_simulator_is_one_international_customer(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    app.create_product_ok(
        &shop,
        json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
    )
    .await;
    let _worker = start_offline_worker(&app);

    // Act: the same customer typed three ways
    let mut keys = Vec::new();
    for (from, text) in [
        ("07 07 07 07 07", "je prends 2 pagnes"),
        ("0707070707", "oui"),
        ("+225 07 07 07 07 07", "merci"),
    ] {
        let response = app
            .simulate_message(
                &shop,
                json!({"from": from, "name": "Kouassi", "text": text}),
            )
            .await;
        assert_eq!(response.status(), 202, "{from}");
        let accepted: Value = response.json().await.expect("json");
        keys.push(accepted["chat_key"].as_str().expect("key").to_owned());
        wait_for_replies(&app, &shop, "2250707070707", keys.len()).await;
    }

    // Assert
    assert_eq!(keys, ["sim_2250707070707"; 3], "one conversation");
    let orders = orders_of(&app, &shop).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["customer_phone"], "+2250707070707");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn what_is_not_a_phone_number_is_refused_in_french(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    for from in ["abc", "0707", "+225 12", "1-800-FLOWERS"] {
        let response = app
            .simulate_message(&shop, json!({"from": from, "text": "bonjour"}))
            .await;
        assert_eq!(response.status(), 422, "{from}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["fields"][0]["field"], "from", "{from}");
        assert!(
            body["error"]["fields"][0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Numéro de téléphone invalide")),
            "{body}"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_pairing_phone_reaches_the_ingress_in_international_digits(pool: PgPool) {
    // Arrange: an ingress node that accepts every command and remembers it
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let mut commands = app
        .nats
        .subscribe(app.subjects.wa_command(shop.tenant_id))
        .await
        .expect("subscribe");
    let nats = app.nats.clone();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(request) = commands.next().await {
            let command: WaCommand = serde_json::from_slice(&request.payload).expect("command");
            let _ = seen_tx.send(command);
            let reply = WaCommandReply::accepted("ok");
            if let Some(inbox) = request.reply {
                let payload = serde_json::to_vec(&reply).expect("json");
                nats.publish(inbox, payload.into()).await.expect("reply");
            }
        }
    });

    // Act
    let accepted = app
        .connect_whatsapp_with(
            &shop,
            json!({"mode": "pairing_code", "phone": "07 07 07 07 07"}),
        )
        .await;
    let refused = app
        .connect_whatsapp_with(&shop, json!({"mode": "pairing_code", "phone": "0707"}))
        .await;

    // Assert
    assert_eq!(accepted.status(), 202);
    let command = tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .expect("in time");
    assert_eq!(
        command,
        Some(WaCommand::Connect {
            pairing_phone: Some("2250707070707".into())
        })
    );
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "phone");
    assert!(seen.try_recv().is_err(), "a refused number sends nothing");
}
