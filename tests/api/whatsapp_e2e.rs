//! The dashboard's whole WhatsApp journey through the HTTP API, with an ingress node on the sandbox gateway:
//! connect → QR codes on the SSE stream → scan → connected → a customer writes → one reply is sent → logout;
//! the same journey with the sandbox's REST controls instead of raw NATS; and what a viewer who opens the
//! page between two QR codes sees.

use std::time::{Duration, Instant};

use futures::StreamExt;
use ingress::IngressConfig;
use schemas::{Channel, InboundMessage};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::start_offline_worker;
use crate::helpers::spawn_app;
use crate::ingress_support::*;

const CUSTOMER: &str = "2250705060708@s.whatsapp.net";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_links_its_number_from_the_dashboard_and_its_customers_get_answers(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    app.create_product_ok(&shop, json!({"name": "Pagne", "price_xof": 7500}))
        .await;
    activate_subscription(&app, shop.tenant_id).await;
    let _worker = start_offline_worker(&app);
    let _node = start_node(&app).await;
    let mut stream = app.whatsapp_events(&shop).await;
    read_until(&mut stream, "disconnected").await;

    let connect = app.connect_whatsapp(&shop).await;
    assert_eq!(connect.status(), 202);
    let qr = read_until(&mut stream, "event: qr").await;
    assert!(qr.contains("<svg"), "the QR code comes ready to show");
    let status: Value = app.whatsapp_status(&shop).await.json().await.expect("json");
    assert_eq!(status["status"], "waiting_for_scan");

    scan_qr(&app, shop.tenant_id).await;
    read_until(&mut stream, "connected").await;
    let status: Value = app.whatsapp_status(&shop).await.json().await.expect("json");
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

    let logout = app.logout_whatsapp(&shop).await;
    assert_eq!(logout.status(), 202);
    eventually(Duration::from_secs(5), "logged out", || async {
        let status: Value = app.whatsapp_status(&shop).await.json().await.expect("json");
        status["status"] == "logged_out"
    })
    .await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn in_sandbox_mode_the_shop_plays_the_scan_and_a_customer_over_rest_and_the_customer_gets_one_answer(
    pool: PgPool,
) {
    // Arrange: a shop waiting for its QR code to be scanned.
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    app.create_product_ok(&shop, json!({"name": "Pagne", "price_xof": 7500}))
        .await;
    activate_subscription(&app, shop.tenant_id).await;
    let _worker = start_offline_worker(&app);
    let _node = start_node(&app).await;
    let connect = app.connect_whatsapp(&shop).await;
    assert_eq!(connect.status(), 202);
    eventually(Duration::from_secs(5), "waiting for the scan", || async {
        status_of(&app, &shop.token).await["status"] == "waiting_for_scan"
    })
    .await;
    let customer =
        json!({"from": "+225 07 05 06 07 08", "name": "Awa", "text": "c'est combien le pagne ?"});
    let too_early = app.sandbox_message(&shop, customer.clone()).await;
    assert_eq!(
        too_early.status(),
        409,
        "no customer before the number is linked"
    );
    assert!(
        error_message(too_early)
            .await
            .contains("pas encore connecté"),
        "explained in French"
    );

    // Act: the phone scans.
    let scan = app.sandbox_scan(&shop).await;

    // Assert
    assert_eq!(scan.status(), 202);
    eventually(Duration::from_secs(5), "connected", || async {
        status_of(&app, &shop.token).await["status"] == "connected"
    })
    .await;
    assert_eq!(
        status_of(&app, &shop.token).await["phone_number"],
        ingress::sandbox::DEFAULT_PHONE
    );
    let again = app.sandbox_scan(&shop).await;
    assert_eq!(again.status(), 409, "nothing left to scan");
    assert!(error_message(again).await.contains("déjà connecté"));

    // Act: a customer writes.
    let mut inbound = app
        .nats
        .subscribe(app.subjects.inbound(shop.tenant_id, "*"))
        .await
        .expect("inbound");
    let mut sent = sent_box(&app, shop.tenant_id).await;
    let message = app.sandbox_message(&shop, customer).await;

    // Assert: it took the real inbound path, and exactly one answer went out on "WhatsApp".
    assert_eq!(message.status(), 202);
    let published = tokio::time::timeout(Duration::from_secs(5), inbound.next())
        .await
        .expect("published on tdj.in in time")
        .expect("inbound");
    let published: InboundMessage = serde_json::from_slice(&published.payload).expect("json");
    assert_eq!(published.channel, Channel::Whatsapp);
    assert_eq!(published.customer_jid, CUSTOMER);
    assert_eq!(published.customer_name, "Awa");
    assert!(!published.from_owner);
    let replies = sent_within(&mut sent, Duration::from_secs(8)).await;
    assert_eq!(replies.len(), 1, "exactly one reply: {replies:?}");
    assert_eq!(replies[0].to, CUSTOMER);
    assert!(
        replies[0].text.contains("7 500 FCFA"),
        "{}",
        replies[0].text
    );
    let actions = app.audit_actions(shop.tenant_id).await;
    for action in ["whatsapp.sandbox.scan", "whatsapp.sandbox.message"] {
        assert_eq!(
            actions.iter().filter(|a| *a == action).count(),
            1,
            "{action} audited once (refusals are not): {actions:?}"
        );
    }

    // Assert: a viewer arriving now sees the connected number and no leftover QR code.
    let mut viewer = open_events(&app, &shop.token).await;
    let seen = read_for(&mut viewer, Duration::from_secs(1)).await;
    assert!(seen.contains(r#""status":"connected""#), "{seen}");
    assert!(!seen.contains("event: qr"), "no stale QR code: {seen}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_new_viewer_gets_the_qr_code_shown_right_now_without_waiting_for_the_next_one(
    pool: PgPool,
) {
    // Arrange: QR codes that rotate every 20 s, and a first viewer who saw the first one.
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let other = app.signup("Autre boutique").await;
    let config = IngressConfig {
        sandbox_qr_interval: Duration::from_secs(20),
        ..IngressConfig::for_tests()
    };
    let _node = start_node_with(&app, sandbox(&app, &config), config).await;
    let mut first_viewer = open_events(&app, &shop.token).await;
    read_until(&mut first_viewer, "disconnected").await;
    let connect = app.connect_whatsapp(&shop).await;
    assert_eq!(connect.status(), 202);
    let shown = sse_data(&read_until(&mut first_viewer, "event: qr").await, "qr");

    // Act
    let opened = Instant::now();
    let mut second_viewer = open_events(&app, &shop.token).await;
    let seen = read_until_within(&mut second_viewer, "event: qr", Duration::from_secs(2)).await;

    // Assert: the stored status, then the same QR code at once, with what is left of its validity.
    assert!(opened.elapsed() < Duration::from_secs(2));
    let status = seen.find("event: status").expect("status event");
    assert!(status < seen.find("event: qr").expect("qr event"), "{seen}");
    assert!(seen.contains("waiting_for_scan"), "{seen}");
    let qr = sse_data(&seen, "qr");
    assert_eq!(qr["code"], shown["code"], "the code on screen right now");
    let left = qr["expires_in_secs"].as_u64().expect("expires_in_secs");
    assert!((1..=20).contains(&left), "remaining validity {left} s");
    assert!(qr["svg"].as_str().is_some_and(|svg| svg.contains("<svg")));

    // Assert: another shop's viewer never gets it.
    let mut foreign_viewer = open_events(&app, &other.token).await;
    let foreign = read_for(&mut foreign_viewer, Duration::from_secs(1)).await;
    assert!(foreign.contains("event: status"), "{foreign}");
    assert!(!foreign.contains("event: qr"), "{foreign}");
    assert!(
        !foreign.contains(shown["code"].as_str().expect("code")),
        "{foreign}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_new_viewer_gets_the_pairing_code_at_once_and_the_simulated_phone_links_that_number(
    pool: PgPool,
) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let _node = start_node(&app).await;
    let mut first_viewer = open_events(&app, &shop.token).await;
    read_until(&mut first_viewer, "disconnected").await;
    let connect = app
        .connect_whatsapp_with(
            &shop,
            json!({"mode": "pairing_code", "phone": "225 07 01 02 03 04"}),
        )
        .await;
    assert_eq!(connect.status(), 202);
    let shown = sse_data(
        &read_until(&mut first_viewer, "event: pairing_code").await,
        "pairing_code",
    );

    // Act
    let mut second_viewer = open_events(&app, &shop.token).await;
    let seen = read_until_within(
        &mut second_viewer,
        "event: pairing_code",
        Duration::from_secs(2),
    )
    .await;

    // Assert
    assert_eq!(sse_data(&seen, "pairing_code")["code"], shown["code"]);

    // Act: the phone types the code.
    let scan = app.sandbox_scan(&shop).await;

    // Assert
    assert_eq!(scan.status(), 202);
    eventually(Duration::from_secs(5), "linked", || async {
        status_of(&app, &shop.token).await["phone_number"] == "2250701020304"
    })
    .await;
}

async fn status_of(app: &crate::helpers::TestApp, token: &str) -> Value {
    app.whatsapp_status(token).await.json().await.expect("json")
}

async fn error_message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("json error");
    body["error"]["message"]
        .as_str()
        .expect("error.message")
        .to_owned()
}
