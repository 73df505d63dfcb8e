//! Signing up, logging in, and the account endpoint.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_signs_up_logs_in_and_sees_its_account(pool: PgPool) {
    let app = spawn_app(pool).await;

    let response = app
        .signup_with(json!({"business_name": "Friperie d'Abobo", "email": "Awa@Example.CI", "password": "garba-piment-lagune", "plan": "pro"}))
        .await;
    assert_eq!(response.status(), 201);
    let signup: Value = response.json().await.expect("json");
    assert!(signup["token"].as_str().is_some_and(|t| !t.is_empty()));

    let response = app.login("awa@example.ci", "garba-piment-lagune").await;
    assert_eq!(
        response.status(),
        200,
        "login is case-insensitive on the e-mail"
    );
    let login: Value = response.json().await.expect("json");
    assert_eq!(login["tenant_id"], signup["tenant_id"]);
    assert_eq!(login["role"], "owner");

    let me: Value = app
        .get("/api/v1/me", login["token"].as_str().expect("token"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["user"]["email"], "awa@example.ci");
    assert_eq!(me["tenant"]["name"], "Friperie d'Abobo");
    assert_eq!(me["tenant"]["slug"], "friperie-d-abobo");
    assert_eq!(me["plan"]["plan_code"], "pro");
    assert_eq!(me["plan"]["price_xof"], 10000);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_email_can_hold_only_one_account(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique A").await;

    let response = app
        .signup_with(json!({"business_name": "Boutique B", "email": shop.email.to_uppercase(), "password": "garba-piment-lagune", "plan": "starter"}))
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "email_taken");
    let tenants: i64 = sqlx::query_scalar("select count(*) from tenant")
        .fetch_one(&app.admin_db)
        .await
        .expect("count");
    assert_eq!(tenants, 1, "the refused signup left no tenant behind");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique A").await;

    for (email, password, case) in [
        (
            shop.email.as_str(),
            "mauvais-mot-de-passe",
            "wrong password",
        ),
        ("inconnu@example.ci", "motdepasse-solide", "unknown e-mail"),
    ] {
        let response = app.login(email, password).await;
        assert_eq!(response.status(), 401, "{case}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_credentials", "{case}");
        assert_eq!(
            body["error"]["message"], "E-mail ou mot de passe incorrect.",
            "{case}"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn signup_reports_every_invalid_field_in_french(pool: PgPool) {
    let app = spawn_app(pool).await;

    let response = app
        .signup_with(json!({"business_name": "A", "email": "pas-un-email", "password": "court", "plan": "platinum"}))
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["business_name", "email", "password", "plan"]);
    assert_eq!(
        body["error"]["fields"][1]["message"],
        "Adresse e-mail invalide."
    );
    let tenants: i64 = sqlx::query_scalar("select count(*) from tenant")
        .fetch_one(&app.admin_db)
        .await
        .expect("count");
    assert_eq!(tenants, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn login_attempts_are_rate_limited_per_client_address(pool: PgPool) {
    let app = spawn_app_with(pool, |config| config.auth_rate_per_minute = 3).await;
    let attempt = || app.login("x@example.ci", "motdepasse");

    for i in 0..3 {
        assert_eq!(
            attempt().await.status(),
            401,
            "attempt {i} is within the quota"
        );
    }
    let limited = attempt().await;
    assert_eq!(limited.status(), 429);
    assert!(
        limited.headers().get("retry-after").is_some(),
        "tells the client when to retry"
    );
    assert_eq!(error_code(limited).await, "too_many_requests");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn password_hashes_never_leave_the_database(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique A").await;

    let hash: String = sqlx::query_scalar("select password_hash from app_user")
        .fetch_one(&app.admin_db)
        .await
        .expect("hash");
    assert!(hash.starts_with("$argon2id$"), "argon2id is used");
    let me = app.me(&shop.token).await.text().await.expect("body");
    assert!(!me.contains("argon2") && !me.contains("password"), "{me}");
}
