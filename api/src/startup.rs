//! Building the router and serving it until shutdown.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::cors::Cors;

use crate::{
    AppState, account, admin, alert_phone, auth, billing, bot, conversations, dead_letters, health,
    knowledge, media, openapi, order_notices, order_pay, orders, payment_settings, products,
    simulator, team, web, whatsapp,
};

/// Largest JSON body accepted (the CSV import route allows more).
const MAX_JSON_BYTES: usize = 64 * 1024;

/// Longest a request may take to get its response started (a slow client or a stuck dependency cannot hold
/// a task forever); live streams are not cut, their response starts at once.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Requests served at once by one process; more wait (bounded memory under a flood).
const MAX_CONCURRENT_REQUESTS: usize = 512;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let cors = state.config.cors_origins().map_or_else(
        |e| {
            tracing::warn!(error = %e, "CORS disabled: invalid CORS_ALLOWED_ORIGINS");
            None
        },
        Cors::new,
    );
    let app = Router::new()
        .merge(auth::routes::router())
        .merge(products::router())
        .merge(bot::router())
        .merge(knowledge::router())
        .merge(simulator::router())
        .merge(conversations::router())
        .merge(media::router())
        .merge(orders::router())
        .merge(order_notices::router())
        .merge(order_pay::router())
        .merge(alert_phone::router())
        .merge(payment_settings::router())
        .merge(dead_letters::router())
        .merge(whatsapp::router())
        .merge(billing::router())
        .merge(admin::router())
        .merge(team::router().merge(account::router()))
        .merge(health::router())
        .merge(openapi::router())
        .merge(web::router())
        .fallback(web::not_found);
    let app = match cors {
        Some(cors) => app.layer(middleware::from_fn_with_state(cors, crate::cors::apply)),
        None => app,
    };
    app.layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            MAX_CONCURRENT_REQUESTS,
        ))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(crate::error::log_errors))
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let matched_path = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str);
                tracing::info_span!("http", method = %request.method(), matched_path)
            }),
        )
        .with_state(state)
}

/// A bound, not yet serving, API server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// Subscribed in `build`, so a question asked once the API is up finds its responder.
    pay_checks: order_pay::check::PayCheckResponder,
}

impl Application {
    pub async fn build(state: AppState) -> anyhow::Result<Self> {
        state.config.cors_origins()?;
        let addr = state.config.http_addr.clone();
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let listening = listener.local_addr()?;
        let mut state = state;
        state.urls = std::sync::Arc::new(crate::state::PublicUrls::resolve(
            state.config.public_url.as_deref(),
            state.billing.public_url.as_deref(),
            listening,
        ));
        let pay_checks = order_pay::check::PayCheckResponder::subscribe(&state).await?;
        Ok(Self {
            listener,
            state,
            pay_checks,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let limiter = self.state.auth_limiter.clone();
        let accounts = self.state.account_limiter.clone();
        let shops = self.state.simulator_limiter.clone();
        let checkouts = self.state.checkout_limiter.clone();
        let db = self.state.db.clone();
        let nats = self.state.nats.clone();
        let subjects = self.state.subjects.clone();
        let payments = self.state.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::rate_limit::SHRINK_EVERY);
            loop {
                tick.tick().await;
                limiter.shrink();
                accounts.shrink();
                shops.shrink();
                checkouts.shrink();
                crate::housekeeping::run(&db, &nats, &subjects).await;
                crate::order_pay::periodic(&payments).await;
            }
        });
        let (stop_checks, checks_stopped) = tokio::sync::oneshot::channel();
        let pay_checks = tokio::spawn(self.pay_checks.run(self.state.clone(), checks_stopped));
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        sweeper.abort();
        // The receiver is gone only if the responder already stopped.
        let _ = stop_checks.send(());
        if let Err(e) = pay_checks.await {
            tracing::error!(error = %e, "pay check responder failed");
        }
        served.context("HTTP server failed")
    }
}
