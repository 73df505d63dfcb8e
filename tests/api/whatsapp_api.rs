//! The WhatsApp linking endpoints, as seen from the dashboard.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{error_code, spawn_app};

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_new_shop_is_disconnected_and_connecting_without_ingress_is_unavailable(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let status: Value = app
        .get("/api/v1/whatsapp", &shop.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "disconnected");

    let response = app
        .post("/api/v1/whatsapp/connect", &shop.token, json!({}))
        .await;
    assert_eq!(response.status(), 503, "no ingress node is running");
    assert_eq!(error_code(response).await, "service_unavailable");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn connect_requests_are_validated(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    for (body, field) in [
        (json!({"mode": "pairing_code", "phone": "12"}), "phone"),
        (json!({"mode": "telepathy"}), "mode"),
    ] {
        let response = app
            .post("/api/v1/whatsapp/connect", &shop.token, body)
            .await;
        assert_eq!(response.status(), 422, "{field}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["fields"][0]["field"], field);
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_event_stream_starts_with_the_stored_status_then_relays_live_events(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let response = app
        .client
        .get(format!("{}/api/v1/whatsapp/events", app.address))
        .bearer_auth(&shop.token)
        .send()
        .await
        .expect("sse");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/event-stream"))
    );
    let mut response = response;
    let first = String::from_utf8(
        response
            .chunk()
            .await
            .expect("chunk")
            .expect("bytes")
            .to_vec(),
    )
    .expect("utf8");
    assert!(
        first.contains("event: status") && first.contains("disconnected"),
        "{first}"
    );

    let qr = schemas::whatsapp::WaEvent::Qr {
        code: "2@ref,key,id,adv,1".into(),
        expires_in_secs: 60,
    };
    let other = app.signup("Autre").await;
    let foreign = schemas::whatsapp::WaEvent::Qr {
        code: "2@other".into(),
        expires_in_secs: 60,
    };
    app.nats
        .publish(
            app.subjects.wa_events(other.tenant_id),
            serde_json::to_vec(&foreign).expect("json").into(),
        )
        .await
        .expect("publish");
    app.nats
        .publish(
            app.subjects.wa_events(shop.tenant_id),
            serde_json::to_vec(&qr).expect("json").into(),
        )
        .await
        .expect("publish");
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk())
        .await
        .expect("event in time");
    let text = String::from_utf8(next.expect("chunk").expect("bytes").to_vec()).expect("utf8");
    assert!(
        text.contains("event: qr") && text.contains("2@ref,key,id,adv,1") && text.contains("<svg"),
        "{text}"
    );
    assert!(
        !text.contains("2@other"),
        "another shop's QR never reaches this stream"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn only_the_owner_links_or_unlinks_the_number(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let claims = json!({"sub": uuid::Uuid::new_v4(), "tid": shop.tenant_id, "role": "staff", "iss": "tdjaasa",
                        "iat": chrono::Utc::now().timestamp(), "exp": chrono::Utc::now().timestamp() + 600});
    let secret = app.master_key.derive("tdjaasa/jwt/hs256/v1");
    let staff = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .expect("token");

    for path in ["/api/v1/whatsapp/connect", "/api/v1/whatsapp/logout"] {
        let response = app.post(path, &staff, json!({})).await;
        assert_eq!(response.status(), 403, "{path}");
    }
    assert_eq!(
        app.get("/api/v1/whatsapp", &staff).await.status(),
        200,
        "staff can see the status"
    );
}
