//! The WhatsApp linking endpoints, as seen from the dashboard.

use std::sync::Arc;
use std::time::Duration;

use ingress::IngressConfig;
use ingress::whatsapp::{WaConfig, WhatsAppRustGateway};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, error_code, spawn_app};
use crate::ingress_support::{eventually, start_node, start_node_with};

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_new_shop_is_disconnected_and_connecting_without_ingress_is_unavailable(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let status: Value = app.whatsapp_status(&shop).await.json().await.expect("json");
    assert_eq!(status["status"], "disconnected");

    let response = app.connect_whatsapp(&shop).await;
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
        let response = app.connect_whatsapp_with(&shop, body).await;
        assert_eq!(response.status(), 422, "{field}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["fields"][0]["field"], field);
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_event_stream_starts_with_the_stored_status_then_relays_live_events(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let response = app.whatsapp_events(&shop).await;
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
    let staff_id: uuid::Uuid = sqlx::query_scalar(
        "insert into app_user (tenant_id, email, password_hash, role) values ($1, $2, 'unused', 'staff')
         returning user_id",
    )
    .bind(shop.tenant_id)
    .bind(format!("staff-{}@example.ci", uuid::Uuid::new_v4().simple()))
    .fetch_one(&app.admin_db)
    .await
    .expect("staff member");
    let claims = json!({"sub": staff_id, "tid": shop.tenant_id, "role": "staff", "iss": "tdjaasa",
                        "iat": chrono::Utc::now().timestamp(), "exp": chrono::Utc::now().timestamp() + 600});
    let secret = app.master_key.derive("tdjaasa/jwt/hs256/v1");
    let staff = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .expect("token");

    for (path, body) in [
        ("/api/v1/whatsapp/connect", json!({})),
        ("/api/v1/whatsapp/logout", json!({})),
        ("/api/v1/whatsapp/sandbox/scan", json!({})),
        (
            "/api/v1/whatsapp/sandbox/messages",
            json!({"from": "2250701020304", "name": "Awa", "text": "Bonjour"}),
        ),
    ] {
        let response = app.post(path, &staff, body).await;
        assert_eq!(response.status(), 403, "{path}");
    }
    assert_eq!(
        app.whatsapp_status(&staff).await.status(),
        200,
        "staff can see the status"
    );
}

/// `(status, error code, error message)` of a POST.
async fn refusal(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, String, String) {
    let response = app.post(path, token, body).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("json");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

const CUSTOMER_WRITES: &str = "/api/v1/whatsapp/sandbox/messages";
const PHONE_SCANS: &str = "/api/v1/whatsapp/sandbox/scan";

fn a_customer_message() -> Value {
    json!({"from": "2250701020304", "name": "Awa", "text": "Bonjour, vous avez des pagnes ?"})
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn sandbox_controls_are_refused_in_french_by_an_ingress_on_the_real_whatsapp_gateway(
    pool: PgPool,
) {
    // Arrange: the only ingress node speaks to the real WhatsApp.
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let gateway =
        WhatsAppRustGateway::new(app.db.clone(), app.master_key.clone(), WaConfig::default());
    let _node = start_node_with(&app, Arc::new(gateway), IngressConfig::for_tests()).await;

    for (path, body) in [
        (PHONE_SCANS, json!({})),
        (CUSTOMER_WRITES, a_customer_message()),
    ] {
        // Act
        let (status, code, message) = refusal(&app, path, &shop.token, body).await;

        // Assert
        assert_eq!(status, 409, "{path}");
        assert_eq!(code, "whatsapp_refused", "{path}");
        assert!(
            message.contains("vrai WhatsApp") && message.contains("WHATSAPP_GATEWAY=sandbox"),
            "{path}: {message}"
        );
    }
    let actions = app.audit_actions(shop.tenant_id).await;
    assert!(
        !actions.iter().any(|a| a.starts_with("whatsapp.sandbox")),
        "refusals are not audited: {actions:?}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_sandbox_scan_reaches_only_the_callers_own_connection(pool: PgPool) {
    // Arrange: shop A waits for its QR code to be scanned; shop B never connected.
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let other = app.signup("Autre boutique").await;
    let _node = start_node(&app).await;
    let connect = app.connect_whatsapp(&shop).await;
    assert_eq!(connect.status(), 202);
    eventually(Duration::from_secs(5), "A waits for the scan", || async {
        status_of(&app, &shop.token).await == "waiting_for_scan"
    })
    .await;

    // Act: B plays the phone and a customer.
    let scan = refusal(&app, PHONE_SCANS, &other.token, json!({})).await;
    let message = refusal(&app, CUSTOMER_WRITES, &other.token, a_customer_message()).await;

    // Assert: refused for B (no connection of B's runs), and A's code is still waiting.
    for (status, code, message) in [scan, message] {
        assert_eq!((status, code.as_str()), (409, "whatsapp_refused"));
        assert!(
            message.contains("Aucune connexion WhatsApp en cours"),
            "{message}"
        );
    }
    // The refusals are the node's answers: B's commands are over, nothing of them is still in flight.
    assert_eq!(status_of(&app, &shop.token).await, "waiting_for_scan");
    assert_eq!(status_of(&app, &other.token).await, "disconnected");

    // Act: A scans its own code.
    let scan = app.post(PHONE_SCANS, &shop.token, json!({})).await;

    // Assert
    assert_eq!(scan.status(), 202);
    eventually(Duration::from_secs(5), "A connected", || async {
        status_of(&app, &shop.token).await == "connected"
    })
    .await;
    assert_eq!(status_of(&app, &other.token).await, "disconnected");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn sandbox_customer_messages_are_validated(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    for (body, field) in [
        (json!({"from": "awa", "text": "Bonjour"}), "from"),
        (json!({"from": "12", "text": "Bonjour"}), "from"),
        (json!({"from": "2250701020304", "text": "   "}), "text"),
        (
            json!({"from": "2250701020304", "name": "A".repeat(61), "text": "Bonjour"}),
            "name",
        ),
    ] {
        let response = app.post(CUSTOMER_WRITES, &shop.token, body).await;
        assert_eq!(response.status(), 422, "{field}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["fields"][0]["field"], field);
    }
}

async fn status_of(app: &TestApp, token: &str) -> String {
    let status: Value = app.whatsapp_status(token).await.json().await.expect("json");
    status["status"].as_str().expect("status").to_owned()
}
