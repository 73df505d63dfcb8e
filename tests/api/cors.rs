//! Cross-origin access to the REST API: only the configured origins, only under `/api/`.

use reqwest::{Method, Response};
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const SHOP_SITE: &str = "https://boutique.example";

async fn spawn_with_cors(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |config| {
        config.cors_allowed_origins = vec![SHOP_SITE.into(), "https://autre.example".into()];
    })
    .await
}

/// A browser's preflight before a cross-origin POST with a token and an idempotency key.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, format!("{}{path}", app.address))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .expect("preflight sent")
}

fn cors_headers(response: &Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_allowed_origin_passes_the_preflight_with_the_api_headers(pool: PgPool) {
    // Arrange
    let app = spawn_with_cors(pool).await;
    let shop = app.signup("Friperie").await;

    // Act
    let response = preflight(&app, "/api/v1/billing/checkout", SHOP_SITE).await;
    let actual = app
        .client
        .get(format!("{}/api/v1/products", app.address))
        .bearer_auth(&shop.token)
        .header("origin", SHOP_SITE)
        .send()
        .await
        .expect("sent");

    // Assert
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(header(&response, "access-control-allow-origin"), SHOP_SITE);
    assert!(header(&response, "access-control-allow-methods").contains("POST"));
    let allowed = header(&response, "access-control-allow-headers").to_lowercase();
    for name in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }
    assert_eq!(
        header(&response, "access-control-allow-credentials"),
        "",
        "bearer tokens, no cookies"
    );
    assert_eq!(actual.status(), 200);
    assert_eq!(header(&actual, "access-control-allow-origin"), SHOP_SITE);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn other_origins_and_other_paths_get_no_cors_headers(pool: PgPool) {
    let app = spawn_with_cors(pool).await;

    let stranger = preflight(&app, "/api/v1/products", "https://pirate.example").await;
    let not_api = preflight(&app, "/healthz", SHOP_SITE).await;
    let unconfigured = spawn_app(app.admin_db.clone()).await;
    let off = preflight(&unconfigured, "/api/v1/products", SHOP_SITE).await;

    for (case, response) in [
        ("another origin", stranger),
        ("a path outside /api/", not_api),
        ("CORS_ALLOWED_ORIGINS empty", off),
    ] {
        assert_eq!(cors_headers(&response), Vec::<String>::new(), "{case}");
    }
}
