//! Health, readiness, metrics and the OpenAPI document.

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn health_and_readiness_report_dependencies(pool: PgPool) {
    let app = spawn_app(pool).await;
    let health = app
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(health.status(), 200);
    let ready: Value = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        ready,
        serde_json::json!({"status": "ok", "postgres": "ok", "nats": "ok"})
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn metrics_count_requests_by_route_template(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    app.get(
        &format!("/api/v1/products/{}", uuid::Uuid::new_v4()),
        &shop.token,
    )
    .await;

    let metrics = api::metrics::handle().render();
    assert!(
        metrics.contains(r#"path="/api/v1/products/{id}""#),
        "route templates, not raw ids:\n{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
    assert!(
        metrics.contains("# HELP http_requests_total "),
        "every metric has a help line:\n{metrics}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_openapi_document_lists_every_endpoint(pool: PgPool) {
    let app = spawn_app(pool).await;
    let doc: Value = app
        .request(reqwest::Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json()
        .await
        .expect("json");
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/products",
        "/api/v1/products/{id}",
        "/api/v1/products/import",
        "/api/v1/products/export.csv",
        "/api/v1/bot",
        "/readyz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
}
