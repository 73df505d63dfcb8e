//! Forged, tampered, expired and confused tokens are all refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, error_code, spawn_app};

fn sign(claims: &Value, key: &[u8], alg: Algorithm) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("encode")
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload part");
    serde_json::from_slice(&B64.decode(part).expect("base64")).expect("json")
}

async fn status_with(app: &TestApp, token: &str) -> (u16, String) {
    let response = app.me(token).await;
    let status = response.status().as_u16();
    (
        status,
        if status == 401 {
            error_code(response).await
        } else {
            String::new()
        },
    )
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn forged_tokens_are_rejected(pool: PgPool) {
    let app = spawn_app(pool).await;
    let victim = app.signup("Victime").await;
    let attacker = app.signup("Attaquant").await;
    let secret = app.master_key.derive("tdjaasa/jwt/hs256/v1");
    let now = chrono::Utc::now().timestamp();

    let mut stolen_claims = payload(&attacker.token);
    stolen_claims["tid"] = json!(victim.tenant_id);
    let attacker_parts: Vec<&str> = attacker.token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        attacker_parts[0],
        B64.encode(serde_json::to_vec(&stolen_claims).expect("json")),
        attacker_parts[2]
    );
    let alg_none = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(serde_json::to_vec(&stolen_claims).expect("json"))
    );
    let mut expired_claims = payload(&victim.token);
    expired_claims["iat"] = json!(now - 7200);
    expired_claims["exp"] = json!(now - 3600);

    let cases = [
        (alg_none, "alg none"),
        (
            tampered,
            "payload changed to another tenant, original signature",
        ),
        (
            sign(
                &stolen_claims,
                b"another-secret-entirely-32-bytes!",
                Algorithm::HS256,
            ),
            "signed with a wrong key",
        ),
        (
            sign(&expired_claims, &secret, Algorithm::HS256),
            "expired an hour ago",
        ),
        (
            sign(&payload(&victim.token), &secret, Algorithm::HS512),
            "right key, other algorithm",
        ),
        ("not.a.token".to_owned(), "garbage"),
        (String::new(), "empty"),
    ];
    for (token, case) in cases {
        assert_eq!(
            status_with(&app, &token).await,
            (401, "unauthenticated".into()),
            "{case}"
        );
    }
    assert_eq!(
        status_with(&app, &victim.token).await.0,
        200,
        "the genuine token still works"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn requests_without_a_token_are_unauthenticated(pool: PgPool) {
    let app = spawn_app(pool).await;
    for path in ["/api/v1/me", "/api/v1/products", "/api/v1/bot"] {
        let response = app.request(reqwest::Method::GET, path, None, None).await;
        assert_eq!(response.status(), 401, "{path}");
    }
}
