//! The process-wide Prometheus recorder and the HTTP request metrics.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tdj_nats::telemetry::MetricDoc;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The API's metrics and their help lines (the README's "Metrics" table lists every service's).
pub const CATALOGUE: &[MetricDoc] = &[
    (
        "http_requests_total",
        "HTTP requests answered, by method, route template (path) and status.",
    ),
    (
        "http_request_duration_seconds",
        "Time to answer an HTTP request, by method, route template (path) and status.",
    ),
    (
        "payments_total",
        "Payments settled by their provider's notification, by provider and outcome (paid, failed).",
    ),
    (
        "payment_webhooks_total",
        "Payment provider notifications received, by provider and verdict.",
    ),
    (
        "order_payment_notifications_total",
        "Notifications from the shops' own Wave and Orange Money accounts about their customers' order payments, by provider and verdict.",
    ),
    (
        "order_refunds_total",
        "Refunds of cancelled paid orders asked of Wave, by outcome (refunded, retry, left_to_shop).",
    ),
    (
        "subscriptions",
        "Shops' subscriptions by status, sampled at each expiry pass (trial: not paid yet, within the free trial).",
    ),
    (
        "subscription_renewals_failed_total",
        "Paid subscriptions that reached their expiry without a renewal payment and went past due.",
    ),
];

/// Latency buckets of the `_seconds` histograms: 5 ms to 30 s.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The reply latency includes the model and WhatsApp's pacing: 0.5 s to 2 minutes.
const REPLY_LATENCY_BUCKETS: [f64; 10] = [0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 120.0];

/// Installs the recorder on first use (one per process: every service in `tdjaasa up` shares it), with the
/// help lines of the API's metrics; the other services describe theirs once it is installed.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            // The full-name match wins over the suffix for the reply latency.
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("pipeline_reply_latency_seconds".into()),
                        &REPLY_LATENCY_BUCKETS,
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; ours then simply records nothing.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            tdj_nats::telemetry::describe(CATALOGUE);
            tdj_nats::telemetry::describe(tdj_nats::telemetry::CATALOGUE);
            handle
        })
        .clone()
}

/// Counts requests and their latency by method, route template (never the raw path: ids would explode
/// the cardinality) and status.
pub async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}

/// A minimal HTTP listener with `/metrics` and `/healthz`, on its own address (`METRICS_ADDR`) in every
/// process: the operator's Prometheus reaches it, the public API port does not serve it.
pub async fn serve(
    addr: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let handle = handle();
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || std::future::ready(handle.render())),
        )
        .route("/healthz", axum::routing::get(|| std::future::ready("ok")));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("metrics server failed")
}
