//! `GET /healthz` (the process is up), `GET /readyz` (PostgreSQL and NATS answer). `/metrics` is not here:
//! it is served on its own address (`METRICS_ADDR`, [`crate::metrics::serve`]), out of the public port.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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
