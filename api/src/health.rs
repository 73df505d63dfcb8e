//! `GET /healthz` (the process is up), `GET /readyz` (PostgreSQL and NATS answer), `GET /metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    status: &'static str,
    postgres: &'static str,
    nats: &'static str,
}

/// Liveness: answers as long as the process serves requests.
#[utoipa::path(get, path = "/healthz", operation_id = "getHealth", tag = "ops", responses((status = 200)))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: PostgreSQL and NATS both reachable.
#[utoipa::path(get, path = "/readyz", operation_id = "getReadiness", tag = "ops",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let timeout = Duration::from_secs(2);
    let postgres = matches!(
        tokio::time::timeout(timeout, state.db.ping()).await,
        Ok(Ok(()))
    );
    let nats = matches!(
        tokio::time::timeout(timeout, state.nats.flush()).await,
        Ok(Ok(()))
    );
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let ready = postgres && nats;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: word(ready),
            postgres: word(postgres),
            nats: word(nats),
        }),
    )
}

/// Prometheus exposition of every metric this process records.
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics",
    tag = "ops", responses((status = 200, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
