//! Cross-origin access to the REST API (`CORS_ALLOWED_ORIGINS`), with tower-http's `CorsLayer`.
//!
//! Only `/api/...` requests from a configured origin go through the layer: the dashboard, the payment pages
//! and the probes never answer CORS, and a request from any other origin gets no CORS header at all (not
//! even a preflight's allowed methods). The API authenticates with bearer tokens, never cookies, so
//! credentials are not allowed cross-origin.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The configured origins and the layer answering them.
#[derive(Clone)]
pub struct Cors {
    origins: Arc<[HeaderValue]>,
    layer: CorsLayer,
}

impl Cors {
    /// `None` when no origin is configured.
    pub fn new(origins: Vec<HeaderValue>) -> Option<Self> {
        if origins.is_empty() {
            return None;
        }
        let layer = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.clone()))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([header::RETRY_AFTER, header::CONTENT_DISPOSITION])
            .max_age(Duration::from_secs(3600));
        Some(Self {
            origins: origins.into(),
            layer,
        })
    }
}

/// Middleware: CORS for `/api/` requests from a configured origin, nothing for the rest.
pub async fn apply(State(cors): State<Cors>, request: Request, next: Next) -> Response {
    let allowed = request.uri().path().starts_with("/api/")
        && request
            .headers()
            .get(header::ORIGIN)
            .is_some_and(|origin| cors.origins.contains(origin));
    if !allowed {
        return next.run(request).await;
    }
    match cors.layer.layer(next).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
