//! Provider webhooks: verified on the raw body, idempotent, amount and currency checked, and activation
//! stacking renewals; anything forged, stale or unknown changes nothing.

use crate::metrics_catalogue::series_value;
use api::billing::signature::{self, Scheme};
use chrono::{DateTime, Months, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    Fakes, STRIPE_WEBHOOK_SECRET, Shop, TestApp, WAVE_WEBHOOK_SECRET, spawn_app_with_fake_providers,
};

/// (why, headers, body, expected status)
type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a [u8], u16);

fn now() -> i64 {
    Utc::now().timestamp()
}

fn wave_signature(body: &[u8]) -> String {
    signature::header(
        WAVE_WEBHOOK_SECRET.as_bytes(),
        Scheme::Concatenated,
        now(),
        body,
    )
}

fn stripe_signature(body: &[u8]) -> String {
    signature::header(
        STRIPE_WEBHOOK_SECRET.as_bytes(),
        Scheme::Dotted,
        now(),
        body,
    )
}

/// Opens a Wave checkout, lets the fake payer pay it, and returns the payment id and the
/// `checkout.session.completed` body Wave would send.
async fn paid_wave_session(
    app: &TestApp,
    fakes: &Fakes,
    shop: &Shop,
    event_id: &str,
) -> (String, Vec<u8>) {
    let checkout = app.checkout_ok(shop, "pro", "wave").await;
    let payment_id = checkout["payment_id"].as_str().expect("id").to_owned();
    let payment: Value = app
        .read_payment(&shop.token, &payment_id)
        .await
        .json()
        .await
        .expect("json");
    let session_id = payment["provider_ref"].as_str().expect("session id");
    fakes
        .wave
        .complete_wave_session(session_id, &format!("T_{event_id}"));
    let session = fakes.wave.wave_session(session_id).expect("session");
    let body = json!({ "id": event_id, "type": "checkout.session.completed", "data": session });
    (payment_id, serde_json::to_vec(&body).expect("json"))
}

async fn expiry(app: &TestApp, shop: &Shop) -> DateTime<Utc> {
    app.subscription_state(shop.tenant_id)
        .await
        .1
        .expect("expires_at")
}

fn months_from_now(n: u32) -> DateTime<Utc> {
    Utc::now().checked_add_months(Months::new(n)).expect("date")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_signed_wave_webhook_activates_after_rechecking_the_session(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let (payment_id, body) = paid_wave_session(&app, &fakes, &shop, "AE_ci_1").await;

    // Act
    let response = app
        .post_raw(
            "/api/v1/webhooks/wave",
            &[("Wave-Signature", wave_signature(&body))],
            &body,
        )
        .await;

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(app.payment_status(&payment_id).await, "succeeded");
    assert_eq!(app.subscription_state(shop.tenant_id).await.0, "active");
    assert!(
        (expiry(&app, &shop).await - months_from_now(1))
            .num_seconds()
            .abs()
            < 60
    );
    let rechecks = fakes
        .wave
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(
        rechecks, 1,
        "the session is re-read server-to-server before granting"
    );
    let overview: Value = app
        .billing_overview(&shop.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        overview["receipts"][0]["reference"], "T_AE_ci_1",
        "the receipt carries Wave's transaction id"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn renewals_stack_two_payments_extend_the_expiry_two_months(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Friperie Abobo").await;

    // Act: pay a month, then another (the second checkout starts after the first is paid)
    for event_id in ["AE_ci_1", "AE_ci_2"] {
        let (_, body) = paid_wave_session(&app, &fakes, &shop, event_id).await;
        let response = app
            .post_raw(
                "/api/v1/webhooks/wave",
                &[("Wave-Signature", wave_signature(&body))],
                &body,
            )
            .await;
        assert_eq!(response.status(), 200, "{event_id}");
    }

    // Assert
    let expires_at = expiry(&app, &shop).await;
    assert!(
        (expires_at - months_from_now(2)).num_seconds().abs() < 60,
        "two months out, not one: {expires_at}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_paid_stripe_checkout_session_activates(pool: PgPool) {
    // Arrange
    let (app, _fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Beauté Cocody").await;
    let checkout = app.checkout_ok(&shop, "business", "stripe").await;
    let payment_id = checkout["payment_id"].as_str().expect("id");
    let body = serde_json::to_vec(&stripe_event("evt_1", payment_id, 15000, "xof")).expect("json");

    // Act
    let response = app
        .post_raw(
            "/api/v1/webhooks/stripe",
            &[("Stripe-Signature", stripe_signature(&body))],
            &body,
        )
        .await;

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(app.payment_status(payment_id).await, "succeeded");
    assert_eq!(app.subscription_state(shop.tenant_id).await.0, "active");
}

fn stripe_event(event_id: &str, payment_id: &str, amount: i64, currency: &str) -> Value {
    json!({
        "id": event_id, "object": "event", "type": "checkout.session.completed",
        "api_version": "2025-03-31.basil", "created": now(), "livemode": false,
        "data": { "object": {
            "id": "cs_test_1", "object": "checkout.session", "payment_status": "paid", "status": "complete",
            "amount_total": amount, "currency": currency, "client_reference_id": payment_id,
            "metadata": { "payment_id": payment_id }, "payment_intent": "pi_1",
        }}
    })
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn orange_money_notifications_are_confirmed_by_the_status_api(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Maquis Marcory").await;
    let checkout = app.checkout_ok(&shop, "starter", "orange_money").await;
    let payment_id = checkout["payment_id"].as_str().expect("id");
    let order_id: String = payment_id.replace('-', "").chars().take(30).collect();
    let notif_token = fakes.orange_money.om_notif_token(&order_id).expect("token");
    let notification = serde_json::to_vec(
        &json!({ "status": "SUCCESS", "notif_token": notif_token, "txnid": "MP150709.1341.A00073" }),
    )
    .expect("json");

    // Act: a notification while Orange still says INITIATED grants nothing
    let early = app
        .post_raw("/api/v1/webhooks/orange-money", &[], &notification)
        .await;
    let pending = app.payment_status(payment_id).await;
    fakes.orange_money.set_om_status(&order_id, "SUCCESS");
    let confirmed = app
        .post_raw("/api/v1/webhooks/orange-money", &[], &notification)
        .await;

    // Assert
    assert_eq!(early.status(), 200);
    assert_eq!(
        pending, "pending",
        "not activated on the notification alone"
    );
    assert_eq!(confirmed.status(), 200);
    assert_eq!(app.payment_status(payment_id).await, "succeeded");
    assert_eq!(app.subscription_state(shop.tenant_id).await.0, "active");
    let status_checks = fakes.orange_money.requests_to("/transactionstatus");
    assert_eq!(status_checks.len(), 2);
    let query = status_checks[1].json();
    assert_eq!(query["order_id"], order_id.as_str());
    assert_eq!(query["amount"], 5000);
    assert!(query["pay_token"].is_string());
    assert!(
        status_checks[1]
            .header("authorization")
            .expect("bearer")
            .starts_with("Bearer om-access-")
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_orange_money_notification_with_an_unknown_token_is_refused(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Maquis Marcory").await;
    let checkout = app.checkout_ok(&shop, "starter", "orange_money").await;
    let order_id: String = checkout["payment_id"]
        .as_str()
        .expect("id")
        .replace('-', "")
        .chars()
        .take(30)
        .collect();
    fakes.orange_money.set_om_status(&order_id, "SUCCESS");
    let forged = serde_json::to_vec(
        &json!({ "status": "SUCCESS", "notif_token": "dd497bda3b250e536186fc0663f32f40" }),
    )
    .expect("json");

    // Act
    let response = app
        .post_raw("/api/v1/webhooks/orange-money", &[], &forged)
        .await;

    // Assert
    assert_eq!(response.status(), 401);
    assert_eq!(app.subscription_state(shop.tenant_id).await.0, "pending");
    assert!(
        fakes
            .orange_money
            .requests_to("/transactionstatus")
            .is_empty(),
        "no status check for a forgery"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn forged_unsigned_stale_and_unknown_webhooks_change_nothing(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let (payment_id, body) = paid_wave_session(&app, &fakes, &shop, "AE_ci_1").await;
    let secret = WAVE_WEBHOOK_SECRET.as_bytes();
    let t = now();
    let refused = r#"payment_webhooks_total{provider="wave",verdict="bad_signature"}"#;
    let refused_before = series_value(refused);
    let tampered = String::from_utf8(body.clone())
        .expect("utf8")
        .replace("10000", "1")
        .into_bytes();
    let unknown = serde_json::to_vec(&json!({
        "id": "AE_ci_x", "type": "checkout.session.completed",
        "data": { "id": "cos-x", "amount": "10000", "currency": "XOF", "client_reference": uuid::Uuid::new_v4() }
    }))
    .expect("json");
    let cases: Vec<Case<'_>> = vec![
        ("unsigned", vec![], &body, 401),
        (
            "forged with another secret",
            vec![(
                "Wave-Signature",
                signature::header(b"wave_ci_WHS_guess", Scheme::Concatenated, t, &body),
            )],
            &body,
            401,
        ),
        (
            "stale timestamp",
            vec![(
                "Wave-Signature",
                signature::header(secret, Scheme::Concatenated, t - 400, &body),
            )],
            &body,
            401,
        ),
        (
            "timestamp from the future",
            vec![(
                "Wave-Signature",
                signature::header(secret, Scheme::Concatenated, t + 400, &body),
            )],
            &body,
            401,
        ),
        (
            "body changed after signing",
            vec![(
                "Wave-Signature",
                signature::header(secret, Scheme::Concatenated, t, &body),
            )],
            &tampered,
            401,
        ),
        (
            "dotted signing form",
            vec![(
                "Wave-Signature",
                signature::header(secret, Scheme::Dotted, t, &body),
            )],
            &body,
            401,
        ),
        (
            "garbage header",
            vec![("Wave-Signature", "nonsense".into())],
            &body,
            401,
        ),
        (
            "unknown payment, validly signed",
            vec![(
                "Wave-Signature",
                signature::header(secret, Scheme::Concatenated, t, &unknown),
            )],
            &unknown,
            400,
        ),
    ];

    let signature_refusals = cases.iter().filter(|case| case.3 == 401).count() as f64;
    for (why, headers, payload, expected) in cases {
        // Act
        let response = app
            .post_raw("/api/v1/webhooks/wave", &headers, payload)
            .await;
        // Assert
        assert_eq!(response.status().as_u16(), expected, "{why}");
    }
    assert_eq!(
        app.payment_status(&payment_id).await,
        "pending",
        "nothing settled"
    );
    assert_eq!(
        app.subscription_state(shop.tenant_id).await.0,
        "pending",
        "nothing activated"
    );
    assert_eq!(app.count("billing_event", shop.tenant_id).await, 0);
    let sandbox = app.post_raw("/api/v1/webhooks/sandbox", &[], b"{}").await;
    assert_eq!(sandbox.status(), 401, "the sandbox webhook is signed too");
    assert!(
        series_value(refused) - refused_before >= signature_refusals,
        "each refused signature is counted for the operator's alert"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_wrong_amount_or_currency_flags_the_payment_and_activates_nothing(pool: PgPool) {
    // Arrange
    let (app, _fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Beauté Cocody").await;

    for (why, amount, currency) in [
        ("amount too low", 100, "xof"),
        ("another currency", 10000, "eur"),
    ] {
        let checkout = app.checkout_ok(&shop, "pro", "stripe").await;
        let payment_id = checkout["payment_id"].as_str().expect("id");
        let body = serde_json::to_vec(&stripe_event(
            &format!("evt_{why}"),
            payment_id,
            amount,
            currency,
        ))
        .expect("json");

        // Act
        let response = app
            .post_raw(
                "/api/v1/webhooks/stripe",
                &[("Stripe-Signature", stripe_signature(&body))],
                &body,
            )
            .await;

        // Assert
        assert_eq!(
            response.status(),
            200,
            "{why}: acknowledged, so Stripe stops retrying"
        );
        assert_eq!(app.payment_status(payment_id).await, "flagged", "{why}");
        assert_eq!(
            app.subscription_state(shop.tenant_id).await.0,
            "pending",
            "{why}"
        );
    }
    let flagged = app
        .audit_actions(shop.tenant_id)
        .await
        .into_iter()
        .filter(|a| a == "payment.flagged")
        .count();
    assert_eq!(flagged, 2, "each flag is audited for the operator");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_same_webhook_delivered_100_times_concurrently_extends_once(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let (payment_id, body) = paid_wave_session(&app, &fakes, &shop, "AE_ci_1").await;
    let headers = [("Wave-Signature", wave_signature(&body))];

    // Act
    let deliveries = (0..100).map(|_| app.post_raw("/api/v1/webhooks/wave", &headers, &body));
    let responses = futures::future::join_all(deliveries).await;

    // Assert
    assert!(
        responses.iter().all(|r| r.status() == 200),
        "every copy is acknowledged"
    );
    assert_eq!(app.payment_status(&payment_id).await, "succeeded");
    assert!(
        (expiry(&app, &shop).await - months_from_now(1))
            .num_seconds()
            .abs()
            < 60,
        "extended once"
    );
    assert_eq!(app.count("billing_event", shop.tenant_id).await, 1);
    let activations = app
        .audit_actions(shop.tenant_id)
        .await
        .into_iter()
        .filter(|a| a == "payment.succeeded")
        .count();
    assert_eq!(activations, 1);
}
