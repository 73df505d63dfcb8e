//! Checkout: the pending payment written first, the provider requests on the wire, idempotency, provider
//! failures, the sandbox page, the billing overview and cross-tenant isolation.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{error_code, spawn_app, spawn_app_with_fake_providers, spawn_billing_app};

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn wave_checkout_sends_the_documented_request_and_records_a_pending_payment(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup_on("Friperie Abobo", "starter").await;

    // Act
    let response = app.checkout(&shop, "pro", "wave", None).await;

    // Assert
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    let payment_id = body["payment_id"].as_str().expect("payment id");
    assert!(
        body["checkout_url"]
            .as_str()
            .expect("url")
            .starts_with("https://pay.wave.com/c/cos-")
    );
    assert_eq!(
        body["amount_xof"], 10000,
        "Pro costs 10 000 F, read from the plan table"
    );
    let sent = fakes.wave.requests_to("/v1/checkout/sessions");
    assert_eq!(sent.len(), 1, "one session created");
    let request = &sent[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.header("authorization").as_deref(),
        Some("Bearer wave_ci_prod_test_key")
    );
    assert_eq!(
        request.header("idempotency-key").as_deref(),
        Some(payment_id)
    );
    let json = request.json();
    assert_eq!(json["amount"], "10000", "amount is an integer string");
    assert_eq!(json["currency"], "XOF");
    assert_eq!(json["client_reference"], payment_id);
    assert!(
        json["success_url"]
            .as_str()
            .expect("success_url")
            .contains("/billing/return")
    );
    assert!(
        json["error_url"]
            .as_str()
            .expect("error_url")
            .contains("statut=echec")
    );
    assert_eq!(app.payment_status(payment_id).await, "pending");
    let (status, _) = app.subscription_state(shop.tenant_id).await;
    assert_eq!(status, "pending", "nothing is activated before the webhook");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn orange_money_checkout_caches_its_token_and_stores_only_the_notif_token_hash(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Maquis Marcory").await;

    // Act
    let first = app.checkout_ok(&shop, "starter", "orange_money").await;
    let second = app.checkout_ok(&shop, "business", "orange_money").await;

    // Assert
    assert_eq!(
        fakes.orange_money.tokens_issued(),
        1,
        "the OAuth token is cached"
    );
    let token_request = &fakes.orange_money.requests_to("/oauth/v3/token")[0];
    assert!(
        token_request
            .header("authorization")
            .expect("basic")
            .starts_with("Basic ")
    );
    assert_eq!(&token_request.body[..], b"grant_type=client_credentials");
    let payments = fakes.orange_money.requests_to("/webpayment");
    assert_eq!(payments.len(), 2);
    let json = payments[0].json();
    let payment_id = first["payment_id"].as_str().expect("id");
    let order_id: String = payment_id.replace('-', "").chars().take(30).collect();
    assert_eq!(
        json["order_id"],
        order_id.as_str(),
        "order_id is ≤ 30 chars, derived from the payment"
    );
    assert_eq!(json["amount"], 5000, "amount is an integer");
    assert_eq!(json["currency"], "XOF");
    assert_eq!(json["merchant_key"], "a86b2087");
    assert_eq!(json["lang"], "fr");
    assert!(
        json["notif_url"]
            .as_str()
            .expect("notif_url")
            .ends_with("/api/v1/webhooks/orange-money")
    );
    assert_eq!(
        payments[0].header("authorization").as_deref(),
        payments[1].header("authorization").as_deref(),
        "the same bearer token is reused"
    );
    assert_eq!(second["amount_xof"], 15000);

    let notif_token = fakes
        .orange_money
        .om_notif_token(&order_id)
        .expect("notif token");
    let stored: (Option<Vec<u8>>, Option<String>) = sqlx::query_as(
        "select notif_token_hash, pay_token from payment where payment_id = $1::uuid",
    )
    .bind(payment_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("payment");
    assert_eq!(
        stored.0,
        Some(Sha256::digest(notif_token.as_bytes()).to_vec())
    );
    let everything: String = sqlx::query_scalar(
        "select row_to_json(p)::text from payment p where payment_id = $1::uuid",
    )
    .bind(payment_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("row");
    assert!(
        !everything.contains(&notif_token),
        "the notif_token itself is never stored"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn stripe_checkout_is_form_encoded_in_zero_decimal_xof(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Beauté Cocody").await;

    // Act
    let body = app.checkout_ok(&shop, "business", "stripe").await;

    // Assert
    let payment_id = body["payment_id"].as_str().expect("id");
    assert!(
        body["checkout_url"]
            .as_str()
            .expect("url")
            .starts_with("https://checkout.stripe.com/")
    );
    let request = &fakes.stripe.requests_to("/v1/checkout/sessions")[0];
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.header("authorization").as_deref(),
        Some("Bearer sk_test_key")
    );
    assert_eq!(
        request.header("idempotency-key").as_deref(),
        Some(payment_id)
    );
    for (field, expected) in [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "xof"),
        ("line_items[0][price_data][unit_amount]", "15000"),
        ("line_items[0][quantity]", "1"),
        ("client_reference_id", payment_id),
        ("metadata[payment_id]", payment_id),
        ("locale", "fr"),
    ] {
        assert_eq!(
            request.form_value(field).as_deref(),
            Some(expected),
            "form field {field}"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_double_click_creates_one_payment_and_one_provider_session(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    fakes.wave.set_delay(Duration::from_millis(300));

    // Act: two clicks at once, no Idempotency-Key header
    let (a, b) = tokio::join!(
        app.checkout(&shop, "pro", "wave", None),
        app.checkout(&shop, "pro", "wave", None)
    );

    // Assert
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201], "one creates, the other replays");
    let a: Value = a.json().await.expect("json");
    let b: Value = b.json().await.expect("json");
    assert_eq!(a["payment_id"], b["payment_id"], "same payment");
    assert_eq!(a["checkout_url"], b["checkout_url"], "same checkout");
    assert_eq!(app.count("payment", shop.tenant_id).await, 1);
    assert_eq!(
        fakes.wave.requests_to("/v1/checkout/sessions").len(),
        1,
        "charged once"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_same_idempotency_key_returns_the_same_payment(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;

    // Act
    let first = app.checkout(&shop, "pro", "sandbox", Some("clic-42")).await;
    let again = app.checkout(&shop, "pro", "sandbox", Some("clic-42")).await;
    let other_plan = app
        .checkout(&shop, "starter", "sandbox", Some("clic-42"))
        .await;
    let new_key = app.checkout(&shop, "pro", "sandbox", Some("clic-43")).await;

    // Assert
    assert_eq!(first.status(), 201);
    assert_eq!(again.status(), 200);
    let first: Value = first.json().await.expect("json");
    let again: Value = again.json().await.expect("json");
    assert_eq!(first, again, "the replay is the same payment and checkout");
    assert_eq!(
        other_plan.status(),
        409,
        "a key cannot be reused for another plan"
    );
    assert_eq!(error_code(other_plan).await, "idempotency_key_mismatch");
    assert_eq!(new_key.status(), 201, "a new key is a new payment");
    assert_eq!(app.count("payment", shop.tenant_id).await, 2);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_provider_timeout_answers_502_in_french_and_marks_the_payment_failed(pool: PgPool) {
    // Arrange
    let (app, fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    fakes.stripe.set_delay(Duration::from_secs(5));

    // Act
    let response = app.checkout(&shop, "pro", "stripe", None).await;

    // Assert
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "payment_provider_unavailable");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("ne répond pas"),
        "French message: {message}"
    );
    assert!(!message.contains("sk_test"), "no secret in the message");
    let status: String = sqlx::query_scalar("select status from payment where tenant_id = $1")
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("payment");
    assert_eq!(status, "failed", "no half-written pending payment is left");
    assert!(
        app.audit_actions(shop.tenant_id)
            .await
            .contains(&"payment.checkout_failed".to_owned())
    );

    // A retry after the failure is a new attempt, not a replay of the failure.
    fakes.stripe.set_delay(Duration::ZERO);
    assert_eq!(
        app.checkout(&shop, "pro", "stripe", None).await.status(),
        201
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn checkout_refuses_unknown_plans_and_unavailable_providers(pool: PgPool) {
    // Arrange: no provider keys, so only the sandbox is offered
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;

    for (plan, provider, why) in [
        ("gold", "sandbox", "unknown plan"),
        ("pro", "wave", "Wave is not configured"),
        ("pro", "paypal", "unknown provider"),
    ] {
        // Act
        let response = app.checkout(&shop, plan, provider, None).await;
        // Assert
        assert_eq!(response.status(), 422, "{why}");
    }
    assert_eq!(app.count("payment", shop.tenant_id).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_known_provider_without_keys_is_not_offered_yet_and_an_unknown_one_is_unknown(
    pool: PgPool,
) {
    // Arrange: no provider keys, so only the sandbox is offered
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;

    for (provider, expected) in [
        (
            "wave",
            "Le paiement par Wave n'est pas encore proposé sur cette plateforme",
        ),
        (
            "orange_money",
            "Le paiement par Orange Money n'est pas encore proposé",
        ),
        (
            "stripe",
            "Le paiement par Carte bancaire (Stripe) n'est pas encore proposé",
        ),
        ("paypal", "Moyen de paiement inconnu"),
    ] {
        // Act
        let response = app.checkout(&shop, "pro", provider, None).await;

        // Assert
        assert_eq!(response.status(), 422, "{provider}");
        let body: serde_json::Value = response.json().await.expect("json");
        let field = &body["error"]["fields"][0];
        assert_eq!(field["field"], "provider", "{provider}");
        assert!(
            field["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(expected)),
            "{provider}: {field}"
        );
    }
    let overview: serde_json::Value = app
        .billing_overview(&shop.token)
        .await
        .json()
        .await
        .expect("json");
    let known: Vec<(&str, bool)> = overview["known_providers"]
        .as_array()
        .expect("known_providers")
        .iter()
        .map(|p| {
            (
                p["provider"].as_str().unwrap_or_default(),
                p["configured"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        known,
        [
            ("wave", false),
            ("orange_money", false),
            ("stripe", false),
            ("sandbox", true)
        ]
    );
    assert_eq!(app.count("payment", shop.tenant_id).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_provider_with_keys_is_listed_as_configured(pool: PgPool) {
    let (app, _fakes) = spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Friperie Abobo").await;

    let overview: serde_json::Value = app
        .billing_overview(&shop.token)
        .await
        .json()
        .await
        .expect("json");

    let known = overview["known_providers"]
        .as_array()
        .expect("known_providers");
    assert_eq!(known.len(), 4);
    assert!(
        known
            .iter()
            .all(|p| p["configured"] == true && p["label"].is_string()),
        "{known:?}"
    );
    assert_eq!(
        overview["providers"],
        serde_json::json!(["wave", "orange_money", "stripe", "sandbox"])
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn sandbox_page_renders_and_approve_fires_the_signed_webhook_that_activates(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Friperie Abobo", "starter").await;
    let checkout = app.checkout_ok(&shop, "pro", "sandbox").await;
    let url = checkout["checkout_url"].as_str().expect("url");

    // Act
    let page = app.client.get(url).send().await.expect("page");
    let html = page.text().await.expect("html");
    let id = checkout["payment_id"].as_str().expect("id");
    let approved = app
        .client
        .post(format!("{}/billing/sandbox/{id}/approve", app.address))
        .send()
        .await
        .expect("approve");

    // Assert
    assert!(
        html.contains("lang=\"fr\"") && html.contains("viewport"),
        "mobile-friendly French page"
    );
    assert!(html.contains("10\u{202f}000 F CFA"), "shows the amount");
    assert!(html.contains("Approuver") && html.contains("Refuser"));
    assert_eq!(approved.status(), 200);
    assert!(
        approved
            .text()
            .await
            .expect("html")
            .contains("Paiement accepté")
    );
    let (status, expires_at) = app.subscription_state(shop.tenant_id).await;
    assert_eq!(status, "active");
    let expected = chrono::Utc::now()
        .checked_add_months(chrono::Months::new(1))
        .expect("date");
    assert!(
        (expires_at.expect("expiry") - expected).num_seconds().abs() < 60,
        "one month from now"
    );
    let plan: String = sqlx::query_scalar("select plan_code from tenant where tenant_id = $1")
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("tenant");
    assert_eq!(plan, "pro", "the tenant's plan follows the paid plan");
    assert!(
        app.audit_actions(shop.tenant_id)
            .await
            .contains(&"payment.succeeded".to_owned())
    );

    let overview: Value = app
        .billing_overview(&shop.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(overview["plan"]["plan_code"], "pro");
    assert_eq!(overview["subscription"]["status"], "active");
    assert_eq!(overview["payments"].as_array().map(Vec::len), Some(1));
    let receipt = &overview["receipts"][0];
    assert_eq!(receipt["amount_xof"], 10000);
    assert_eq!(receipt["provider"], "sandbox");
    assert!(receipt["paid_at"].is_string() && receipt["reference"].is_string());
    assert_eq!(overview["providers"], serde_json::json!(["sandbox"]));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn sandbox_refuse_marks_the_payment_failed(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let checkout = app.checkout_ok(&shop, "pro", "sandbox").await;
    let id = checkout["payment_id"].as_str().expect("id");

    // Act
    let refused = app
        .client
        .post(format!("{}/billing/sandbox/{id}/refuse", app.address))
        .send()
        .await
        .expect("refuse");

    // Assert
    assert_eq!(refused.status(), 200);
    assert_eq!(app.payment_status(id).await, "failed");
    assert_eq!(app.subscription_state(shop.tenant_id).await.0, "pending");
    let again = app
        .client
        .get(format!("{}/billing/sandbox/{id}", app.address))
        .send()
        .await
        .expect("page");
    assert!(
        again.text().await.expect("html").contains("refusé"),
        "a settled payment cannot be approved any more"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_cannot_see_another_shops_payment(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let abobo = app.signup("Friperie Abobo").await;
    let marcory = app.signup("Boutique Marcory").await;
    let checkout = app.checkout_ok(&abobo, "pro", "sandbox").await;
    let id = checkout["payment_id"].as_str().expect("id");

    // Act
    let own = app.read_payment(&abobo.token, id).await;
    let foreign = app.read_payment(&marcory.token, id).await;
    let unknown = app
        .get(
            &format!("/api/v1/billing/payments/{}", uuid::Uuid::new_v4()),
            &marcory.token,
        )
        .await;
    let overview: Value = app
        .billing_overview(&marcory.token)
        .await
        .json()
        .await
        .expect("json");

    // Assert
    assert_eq!(own.status(), 200);
    assert_eq!(foreign.status(), 404);
    assert_eq!(
        foreign.text().await.expect("body"),
        unknown.text().await.expect("body"),
        "another shop's payment answers like a missing one"
    );
    assert_eq!(
        overview["payments"],
        serde_json::json!([]),
        "not listed either"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_keyless_default_offers_only_the_sandbox(pool: PgPool) {
    // Arrange
    let app = spawn_billing_app(pool, |_| {}).await;
    let shop = app.signup("Friperie Abobo").await;

    // Act
    let overview: Value = app
        .billing_overview(&shop.token)
        .await
        .json()
        .await
        .expect("json");

    // Assert
    assert_eq!(overview["providers"], serde_json::json!(["sandbox"]));
    assert_eq!(overview["subscription"]["status"], "pending");
    let prices: Vec<i64> = overview["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .filter_map(|p| p["price_xof"].as_i64())
        .collect();
    assert_eq!(prices, [5000, 10000, 15000], "plans come from the database");
}
