//! Malformed requests get a clear 4xx in the API's JSON format, and write nothing.

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn malformed_requests_get_clear_errors_and_write_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let url = format!("{}/api/v1/products", app.address);
    let huge = format!(
        r#"{{"name": "Robe", "price_xof": 100, "description": "{}"}}"#,
        "x".repeat(200_000)
    );

    let cases: [(&str, Option<&str>, String, u16, &str); 6] = [
        (
            "oversized body",
            Some("application/json"),
            huge,
            413,
            "payload_too_large",
        ),
        (
            "broken JSON",
            Some("application/json"),
            r#"{"name": "Robe", "#.into(),
            400,
            "bad_request",
        ),
        (
            "unknown field",
            Some("application/json"),
            r#"{"name": "Robe", "price_xof": 1, "prix": 2}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "price as text",
            Some("application/json"),
            r#"{"name": "Robe", "price_xof": "mille"}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "fractional price",
            Some("application/json"),
            r#"{"name": "Robe", "price_xof": 10.5}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "no content type",
            None,
            r#"{"name": "Robe", "price_xof": 1}"#.into(),
            415,
            "unsupported_media_type",
        ),
    ];
    for (case, content_type, body, status, code) in cases {
        let mut request = app.client.post(&url).bearer_auth(&shop.token).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status().as_u16(), status, "{case}");
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{case}: JSON error body: {e}"));
        assert_eq!(body["error"]["code"], code, "{case}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{case}"
        );
    }
    assert_eq!(app.count("product", shop.tenant_id).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn unknown_fields_are_named_in_french(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let response = app
        .post(
            "/api/v1/products",
            &shop.token,
            serde_json::json!({"name": "Robe", "price_xof": 1, "prix": 2}),
        )
        .await;
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["error"]["fields"][0]["message"],
        "Champ inconnu : « prix »."
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn malformed_ids_and_unknown_routes_are_not_found(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    for path in ["/api/v1/products/not-a-uuid", "/api/v1/nothing-here"] {
        let response = app.get(path, &shop.token).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

/// The `(field, message)` pairs of a 422 response.
async fn field_errors(response: reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Asserts that each expected pair is reported, and that no message leaks serde's English.
fn assert_reported(errors: &[(String, String)], expected: &[(&str, &str)]) {
    for (field, message) in expected {
        assert!(
            errors
                .iter()
                .any(|(f, m)| f == field && m.starts_with(message)),
            "{field}: « {message} » expected in {errors:?}"
        );
    }
    for (field, message) in errors {
        assert!(
            !["invalid", "expected", "missing", "unknown"]
                .iter()
                .any(|english| message.contains(english)),
            "{field}: « {message} » is not French"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_mistake_in_a_product_is_reported_at_once_in_french(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let response = app
        .post(
            "/api/v1/products",
            &shop.token,
            serde_json::json!({"price_xof": "5 000", "stock": "trois", "active": "oui", "prix": 1}),
        )
        .await;

    let errors = field_errors(response).await;
    assert_reported(
        &errors,
        &[
            ("name", "Champ obligatoire manquant"),
            ("price_xof", "Doit être un nombre entier (ex. 5000)"),
            ("stock", "Doit être un nombre entier"),
            ("active", "Doit être true ou false"),
            ("prix", "Champ inconnu"),
        ],
    );
    assert_eq!(errors.len(), 5, "{errors:?}");
    assert_eq!(app.count("product", shop.tenant_id).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_mistake_in_a_signup_is_reported_at_once_in_french(pool: PgPool) {
    let app = spawn_app(pool).await;

    let response = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(serde_json::json!({"email": 225, "password": true})),
        )
        .await;

    assert_reported(
        &field_errors(response).await,
        &[
            ("business_name", "Champ obligatoire manquant"),
            ("plan", "Champ obligatoire manquant"),
            ("email", "Doit être du texte"),
            ("password", "Doit être du texte"),
        ],
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_mistake_in_the_bot_settings_is_reported_at_once_in_french(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let response = app
        .put(
            "/api/v1/bot",
            &shop.token,
            serde_json::json!({"tone": 3, "instructions": "",
                "business_hours": [{"day": "lundi", "open": "08:00"}]}),
        )
        .await;

    assert_reported(
        &field_errors(response).await,
        &[
            ("bot_name", "Champ obligatoire manquant"),
            ("language", "Champ obligatoire manquant"),
            ("tone", "Doit être du texte"),
            ("business_hours[0].day", "Doit être un nombre entier"),
            ("business_hours[0].close", "Champ obligatoire manquant"),
        ],
    );
}
