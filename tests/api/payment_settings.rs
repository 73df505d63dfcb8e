//! The shop's payment settings (`/api/v1/payment-settings`, `/app/settings/payments`): its own Wave and Orange
//! Money credentials are checked live with the provider, stored sealed with the shop's data key, never shown
//! back; owners only, one shop never sees another's.

use std::time::Duration;

use api::billing::fakes::FakeProvider;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use store::TenantCtx;
use store::shop_payments::{self, Credentials, MerchantProvider};
use uuid::Uuid;

use crate::helpers::{Shop, TestApp, error_code, spawn_billing_app};
use crate::web_support::{WebUser, location};

const WAVE_KEY: &str = "wave_ci_prod_shopkey_AbCdEf9876";
const WAVE_HOOK: &str = "wave_ci_WHS_shophook_secret42";

struct Providers {
    wave: FakeProvider,
    orange_money: FakeProvider,
}

/// The API with no platform keys, calling the fakes for the shops' own accounts.
async fn spawn(pool: PgPool) -> (TestApp, Providers) {
    let providers = Providers {
        wave: FakeProvider::wave().await,
        orange_money: FakeProvider::orange_money().await,
    };
    let app = spawn_billing_app(pool, |c| {
        c.wave_base_url = providers.wave.base_url.clone();
        c.orange_money_base_url = providers.orange_money.base_url.clone();
    })
    .await;
    (app, providers)
}

async fn put_wave(app: &TestApp, shop: &Shop, api_key: &str) -> reqwest::Response {
    app.put(
        "/api/v1/payment-settings/wave",
        &shop.token,
        json!({ "api_key": api_key, "webhook_secret": WAVE_HOOK }),
    )
    .await
}

async fn settings(app: &TestApp, shop: &Shop) -> Value {
    let response = app.get("/api/v1/payment-settings", &shop.token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn sealed_of(app: &TestApp, tenant_id: Uuid, provider: &str) -> Option<Vec<u8>> {
    sqlx::query_scalar(
        "select sealed_credentials from shop_payment_account where tenant_id = $1 and provider = $2",
    )
    .bind(tenant_id)
    .bind(provider)
    .fetch_optional(&app.admin_db)
    .await
    .expect("read")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_wave_key_is_checked_with_wave_then_stored_sealed_and_never_shown_back(pool: PgPool) {
    // Arrange
    let (app, providers) = spawn(pool).await;
    providers.wave.accept_only(WAVE_KEY);
    let shop = app.signup("Boutique Adjamé").await;

    // Act
    let saved = put_wave(&app, &shop, WAVE_KEY).await;

    // Assert
    assert_eq!(saved.status(), StatusCode::OK);
    let saved = saved.text().await.expect("body");
    let calls = providers.wave.requests_to("/v1/checkout/sessions/search");
    assert_eq!(calls.len(), 1, "one live check");
    assert_eq!(calls[0].method, "GET");
    assert_eq!(
        calls[0].header("authorization").as_deref(),
        Some(format!("Bearer {WAVE_KEY}").as_str())
    );
    let shown = settings(&app, &shop).await;
    for answer in [saved.as_str(), &shown.to_string()] {
        assert!(
            !answer.contains("shopkey") && !answer.contains("shophook"),
            "no secret answered: {answer}"
        );
    }
    assert_eq!(shown["accounts"][0]["provider"], "wave");
    assert_eq!(shown["accounts"][0]["hint"], "9876");
    assert_eq!(shown["accounts"][0]["enabled"], true);
    assert!(shown["accounts"][0]["verified_at"].is_string());
    assert_eq!(shown["cash_on_delivery"], true, "on by default");

    let sealed = sealed_of(&app, shop.tenant_id, "wave")
        .await
        .expect("stored");
    assert!(
        !sealed.windows(6).any(|w| w == b"shopke" || w == b"shopho"),
        "the column is not the plaintext"
    );
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    let key = app.master_key.data_key(&mut tx).await.expect("key");
    let opened = shop_payments::credentials(&mut tx, &key, MerchantProvider::Wave)
        .await
        .expect("open")
        .expect("configured");
    let Credentials::Wave(wave) = opened else {
        panic!("wave credentials")
    };
    use secrecy::ExposeSecret;
    assert_eq!(wave.api_key.expose_secret(), WAVE_KEY);
    assert_eq!(wave.webhook_secret.expose_secret(), WAVE_HOOK);
    tx.commit().await.expect("commit");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn another_shops_data_key_cannot_open_the_sealed_credentials(pool: PgPool) {
    // Arrange
    let (app, _providers) = spawn(pool).await;
    let shop = app.signup("Boutique Adjamé").await;
    let other = app.signup("Maquis Yopougon").await;
    assert_eq!(put_wave(&app, &shop, WAVE_KEY).await.status(), 200);
    let sealed = sealed_of(&app, shop.tenant_id, "wave")
        .await
        .expect("stored");

    // Act
    let mut tx = app
        .db
        .tenant(TenantCtx::new(other.tenant_id))
        .await
        .expect("tx");
    let other_key = app.master_key.data_key(&mut tx).await.expect("key");
    let opened = other_key.open("payments/wave", &sealed);
    // The row copied into the other shop does not open either.
    sqlx::query(
        "insert into shop_payment_account (tenant_id, provider, sealed_credentials, hint) values ($1, 'wave', $2, '')",
    )
    .bind(other.tenant_id)
    .bind(&sealed)
    .execute(&app.admin_db)
    .await
    .expect("copy");
    let copied = shop_payments::credentials(&mut tx, &other_key, MerchantProvider::Wave).await;

    // Assert
    assert!(opened.is_err(), "another shop's key fails");
    assert!(
        matches!(copied, Err(store::Error::Crypto)),
        "a copied blob fails"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_wave_key_refused_by_wave_is_a_french_422_and_nothing_is_stored(pool: PgPool) {
    // Arrange
    let (app, providers) = spawn(pool).await;
    providers.wave.accept_only(WAVE_KEY);
    let shop = app.signup("Boutique Adjamé").await;

    // Act
    let response = put_wave(&app, &shop, "wave_ci_prod_wrongkey_000000").await;

    // Assert
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "payment_credentials_refused");
    assert_eq!(
        body["error"]["message"],
        "Clé Wave refusée par Wave (401) : vérifiez la clé API copiée depuis le portail Wave Business."
    );
    assert!(!body.to_string().contains("wrongkey"));
    assert_eq!(app.count("shop_payment_account", shop.tenant_id).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_silent_wave_is_a_502_that_says_to_try_again(pool: PgPool) {
    // Arrange
    let (app, providers) = spawn(pool).await;
    providers.wave.set_delay(Duration::from_secs(4));
    let shop = app.signup("Boutique Adjamé").await;

    // Act
    let response = put_wave(&app, &shop, WAVE_KEY).await;

    // Assert
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["error"]["message"],
        "Wave ne répond pas, réessayez dans un instant."
    );
    assert_eq!(app.count("shop_payment_account", shop.tenant_id).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn malformed_keys_are_refused_field_by_field_without_calling_wave(pool: PgPool) {
    // Arrange
    let (app, providers) = spawn(pool).await;
    let shop = app.signup("Boutique Adjamé").await;

    // Act
    let cases = [
        (
            json!({"api_key": "wave_ci_prod_abc def_123456", "webhook_secret": WAVE_HOOK}),
            "api_key",
            "espace",
        ),
        (
            json!({"api_key": WAVE_HOOK, "webhook_secret": WAVE_HOOK}),
            "api_key",
            "secret de webhook",
        ),
        (
            json!({"api_key": WAVE_KEY, "webhook_secret": "wave_ci_prod_other_key_1234"}),
            "webhook_secret",
            "_WHS_",
        ),
        (
            json!({"api_key": "", "webhook_secret": WAVE_HOOK}),
            "api_key",
            "obligatoire",
        ),
    ];
    for (body, field, words) in cases {
        let response = app
            .put("/api/v1/payment-settings/wave", &shop.token, body.clone())
            .await;

        // Assert
        assert_eq!(response.status(), 422, "{body}");
        let answer: Value = response.json().await.expect("json");
        let fields = answer["error"]["fields"].as_array().expect("fields");
        assert!(
            fields
                .iter()
                .any(|f| f["field"] == field
                    && f["message"].as_str().is_some_and(|m| m.contains(words))),
            "{field} says {words}: {answer}"
        );
    }
    assert!(providers.wave.requests().is_empty(), "no live call");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn orange_money_credentials_are_checked_with_a_token_request(pool: PgPool) {
    // Arrange
    let (app, providers) = spawn(pool).await;
    providers
        .orange_money
        .accept_only("shop-client-4321:shop-client-secret");
    let shop = app.signup("Boutique Adjamé").await;

    // Act
    let refused = app
        .put(
            "/api/v1/payment-settings/orange-money",
            &shop.token,
            json!({"client_id": "shop-client-4321", "client_secret": "wrong-secret", "merchant_key": "a86b2087"}),
        )
        .await;
    let refused_status = refused.status();
    let refused: Value = refused.json().await.expect("json");
    let stored_after_refusal = app.count("shop_payment_account", shop.tenant_id).await;
    let accepted = app
        .put(
            "/api/v1/payment-settings/orange-money",
            &shop.token,
            json!({"client_id": "shop-client-4321", "client_secret": "shop-client-secret", "merchant_key": "a86b2087"}),
        )
        .await;

    // Assert
    assert_eq!(refused_status, 422);
    assert_eq!(refused["error"]["code"], "payment_credentials_refused");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Identifiants Orange Money refusés par Orange (401)")),
        "{refused}"
    );
    assert_eq!(stored_after_refusal, 0, "nothing stored when refused");
    assert_eq!(accepted.status(), 200);
    let token_calls = providers.orange_money.requests_to("/oauth/v3/token");
    let basic =
        base64::engine::general_purpose::STANDARD.encode("shop-client-4321:shop-client-secret");
    assert_eq!(
        token_calls.last().and_then(|c| c.header("authorization")),
        Some(format!("Basic {basic}"))
    );
    let shown = settings(&app, &shop).await;
    assert_eq!(shown["accounts"][0]["provider"], "orange_money");
    assert_eq!(shown["accounts"][0]["hint"], "4321");
    assert!(!shown.to_string().contains("shop-client-secret"));
    assert!(!shown.to_string().contains("a86b2087"));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn another_shops_owner_never_sees_nor_changes_these_settings(pool: PgPool) {
    // Arrange
    let (app, _providers) = spawn(pool).await;
    let shop = app.signup("Boutique Adjamé").await;
    let other = app.signup("Maquis Yopougon").await;
    assert_eq!(put_wave(&app, &shop, WAVE_KEY).await.status(), 200);

    // Act
    let seen = settings(&app, &other).await;
    let removed = app
        .request(
            Method::DELETE,
            "/api/v1/payment-settings/wave",
            Some(&other.token),
            None,
        )
        .await;

    // Assert
    assert_eq!(seen["accounts"], json!([]), "the other shop has none");
    assert_eq!(removed.status(), 404);
    assert_eq!(settings(&app, &shop).await["accounts"][0]["hint"], "9876");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn staff_members_get_403_on_every_payment_setting(pool: PgPool) {
    // Arrange
    let (app, providers) = spawn(pool).await;
    let owner = app.signup("Boutique Adjamé").await;
    let (staff, _) = crate::team::join(&app, &owner, "vendeuse@example.ci", "staff").await;

    // Act
    let answers = [
        app.get("/api/v1/payment-settings", &staff.token).await,
        put_wave(&app, &staff, WAVE_KEY).await,
        app.request(
            Method::DELETE,
            "/api/v1/payment-settings/wave",
            Some(&staff.token),
            None,
        )
        .await,
        app.put(
            "/api/v1/payment-settings/cash-on-delivery",
            &staff.token,
            json!({"enabled": false}),
        )
        .await,
    ];
    let mut web = WebUser::signed_in(&app, &staff).await;
    let page = web.get("/app/settings/payments").await;
    let more = web.page("/app/more").await;

    // Assert
    for answer in answers {
        assert_eq!(error_code(answer).await, "forbidden");
    }
    assert_eq!(page.status(), 403);
    assert!(
        !more.contains("/app/settings/payments"),
        "no link for staff"
    );
    assert!(providers.wave.requests().is_empty());
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_account_can_be_removed_and_payment_on_delivery_turned_off(pool: PgPool) {
    // Arrange
    let (app, _providers) = spawn(pool).await;
    let shop = app.signup("Boutique Adjamé").await;
    assert_eq!(put_wave(&app, &shop, WAVE_KEY).await.status(), 200);

    // Act
    let removed = app
        .request(
            Method::DELETE,
            "/api/v1/payment-settings/wave",
            Some(&shop.token),
            None,
        )
        .await;
    let again = app
        .request(
            Method::DELETE,
            "/api/v1/payment-settings/wave",
            Some(&shop.token),
            None,
        )
        .await;
    let cash = app
        .put(
            "/api/v1/payment-settings/cash-on-delivery",
            &shop.token,
            json!({"enabled": false}),
        )
        .await;

    // Assert
    assert_eq!(removed.status(), 204);
    assert_eq!(again.status(), 404);
    assert_eq!(cash.status(), 200);
    let shown = settings(&app, &shop).await;
    assert_eq!(
        shown,
        json!({"cash_on_delivery": false, "release_on_link_expiry": false, "accounts": []})
    );
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where tenant_id = $1 and action like 'payments.%' order by created_at",
    )
    .bind(shop.tenant_id)
    .fetch_all(&app.admin_db)
    .await
    .expect("audit");
    assert_eq!(
        actions,
        [
            "payments.account_saved",
            "payments.account_removed",
            "payments.cash_on_delivery"
        ]
    );
    let details: Vec<Value> =
        sqlx::query_scalar("select detail from audit_log where tenant_id = $1")
            .bind(shop.tenant_id)
            .fetch_all(&app.admin_db)
            .await
            .expect("audit");
    assert!(
        details.iter().all(|d| !d.to_string().contains("shopkey")),
        "no secret audited"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_owner_saves_a_wave_key_from_the_payments_page(pool: PgPool) {
    // Arrange
    let (app, providers) = spawn(pool).await;
    providers.wave.accept_only(WAVE_KEY);
    let shop = app.signup("Boutique Adjamé").await;
    let mut web = WebUser::signed_in(&app, &shop).await;
    let more = web.page("/app/more").await;
    let empty = web.page("/app/settings/payments").await;

    // Act
    let refused = web
        .submit(
            "/app/settings/payments",
            "/app/settings/payments/wave",
            &[
                ("api_key", "wave_ci_prod_wrongkey_000000"),
                ("webhook_secret", WAVE_HOOK),
                ("enabled", "on"),
            ],
        )
        .await;
    let refused_status = refused.status();
    let refused = refused.text().await.expect("body");
    let saved = web
        .submit(
            "/app/settings/payments",
            "/app/settings/payments/wave",
            &[
                ("api_key", WAVE_KEY),
                ("webhook_secret", WAVE_HOOK),
                ("enabled", "on"),
            ],
        )
        .await;
    let after = web.page(&location(&saved)).await;

    // Assert
    assert!(more.contains("/app/settings/payments"), "linked from Plus");
    assert!(empty.contains("Non configuré."));
    assert!(
        empty.contains(&format!(
            "/api/v1/webhooks/shops/{}/wave</code>",
            shop.tenant_id
        )),
        "the page gives the shop its own Wave webhook address: {empty}"
    );
    assert!(empty.contains(r#"type="password""#) && empty.contains(r#"autocomplete="off""#));
    assert_eq!(refused_status, 422);
    assert!(
        refused.contains("Clé Wave refusée par Wave (401)"),
        "{refused}"
    );
    assert!(
        !refused.contains("wrongkey") && !refused.contains("shophook"),
        "secrets not echoed"
    );
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert!(after.contains("Modifications enregistrées."));
    assert!(after.contains("••••9876"));
    assert!(!after.contains("shopkey") && !after.contains("shophook"));
}
