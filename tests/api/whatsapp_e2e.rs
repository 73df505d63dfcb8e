//! The dashboard's whole WhatsApp journey through the HTTP API, with an ingress node on the sandbox gateway:
//! connect → QR codes on the SSE stream → scan → connected → a customer writes → one reply is sent → logout.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::start_offline_worker;
use crate::helpers::spawn_app;
use crate::ingress_support::*;

const CUSTOMER: &str = "2250705060708@s.whatsapp.net";

/// Reads SSE chunks until one contains `needle` (10 s at most); returns what was read.
async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} on the event stream; got:\n{seen}"))
            .expect("stream")
            .expect("open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_links_its_number_from_the_dashboard_and_its_customers_get_answers(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    app.create_product(&shop, json!({"name": "Pagne", "price_xof": 7500}))
        .await;
    activate_subscription(&app, shop.tenant_id).await;
    let _worker = start_offline_worker(&app);
    let _node = start_node(&app).await;
    let mut stream = app
        .client
        .get(format!("{}/api/v1/whatsapp/events", app.address))
        .bearer_auth(&shop.token)
        .send()
        .await
        .expect("event stream");
    read_until(&mut stream, "disconnected").await;

    let connect = app
        .post("/api/v1/whatsapp/connect", &shop.token, json!({}))
        .await;
    assert_eq!(connect.status(), 202);
    let qr = read_until(&mut stream, "event: qr").await;
    assert!(qr.contains("<svg"), "the QR code comes ready to show");
    let status: Value = app
        .get("/api/v1/whatsapp", &shop.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "waiting_for_scan");

    scan_qr(&app, shop.tenant_id).await;
    read_until(&mut stream, "connected").await;
    let status: Value = app
        .get("/api/v1/whatsapp", &shop.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "connected");
    assert!(
        status["phone_number"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );

    let mut sent = sent_box(&app, shop.tenant_id).await;
    customer_writes(
        &app,
        shop.tenant_id,
        CUSTOMER,
        "WA-1",
        "c'est combien le pagne ?",
    )
    .await;
    let replies = sent_within(&mut sent, Duration::from_secs(8)).await;
    assert_eq!(replies.len(), 1, "exactly one reply: {replies:?}");
    assert!(
        replies[0].text.contains("7 500 FCFA"),
        "{}",
        replies[0].text
    );

    let logout = app
        .post("/api/v1/whatsapp/logout", &shop.token, json!({}))
        .await;
    assert_eq!(logout.status(), 202);
    eventually(Duration::from_secs(5), "logged out", || async {
        let status: Value = app
            .get("/api/v1/whatsapp", &shop.token)
            .await
            .json()
            .await
            .expect("json");
        status["status"] == "logged_out"
    })
    .await;
}
