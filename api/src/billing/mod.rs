//! Billing: plans paid monthly through Wave, Orange Money, Stripe or the local sandbox.
//!
//! - `POST /api/v1/billing/checkout` writes a pending payment (idempotent), then asks the provider for a
//!   checkout; `GET /api/v1/billing` and `GET /api/v1/billing/payments/{id}` show the subscription, payments
//!   and receipts ([`routes`]).
//! - `POST /api/v1/webhooks/{wave,orange-money,stripe,sandbox}` verify the raw body, resolve the payment on
//!   the platform path and settle it in the tenant's transaction, idempotently ([`webhooks`]).
//! - The sandbox payment page ([`pages`]) and the expiry job ([`expiry`]).

mod config;
pub mod expiry;
#[cfg(feature = "test-support")]
pub mod fakes;
mod pages;
pub mod providers;
pub(crate) mod routes;
pub mod signature;
pub(crate) mod webhooks;

use std::time::Duration;

use anyhow::Context;
use axum::Router;
use rand::RngCore;
use secrecy::SecretBox;
use store::crypto::MasterKey;
use tokio::sync::Mutex;

pub use config::BillingConfig;
pub use expiry::{run_expiry_once, spawn_expiry_job};

use self::providers::PaymentProvider;
use self::providers::orange_money::OrangeMoney;
use self::providers::sandbox::Sandbox;
use self::providers::stripe::Stripe;
use self::providers::wave::Wave;
use crate::AppState;

/// The configured providers and billing settings, shared by the handlers.
pub struct Billing {
    pub(crate) public_url: Option<String>,
    pub(crate) grace: chrono::Duration,
    pub(crate) timeout: Duration,
    pub(crate) http: reqwest::Client,
    pub(crate) wave: Option<Wave>,
    pub(crate) orange_money: Option<OrangeMoney>,
    pub(crate) stripe: Option<Stripe>,
    pub(crate) sandbox: Option<Sandbox>,
}

/// Purpose string of the sandbox webhook secret derived from the master key.
const SANDBOX_SECRET_PURPOSE: &str = "billing/sandbox-webhook/v1";

impl Billing {
    /// Only the sandbox, with a random signing secret: the keyless default of [`AppState::new`]. A process
    /// built this way must not share sandbox pages with another instance (use [`Billing::from_config`]).
    pub fn sandbox_only() -> Self {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let timeout = Duration::from_secs(15);
        Self {
            public_url: None,
            grace: chrono::Duration::days(3),
            timeout,
            http: reqwest::Client::new(),
            wave: None,
            orange_money: None,
            stripe: None,
            sandbox: Some(Sandbox {
                secret: SecretBox::new(Box::new(secret)),
            }),
        }
    }

    /// The providers whose keys are set. The sandbox is on unless `BILLING_SANDBOX=false`, and off by
    /// default in production.
    pub fn from_config(
        config: &BillingConfig,
        master: &MasterKey,
        production: bool,
    ) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(config.provider_timeout_secs.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .context("cannot build the payment providers' HTTP client")?;
        let wave = config.wave_api_key.as_ref().map(|key| Wave {
            http: http.clone(),
            base_url: config.wave_base_url.clone(),
            api_key: key.clone(),
            webhook_secret: config.wave_webhook_secret.clone(),
            timeout,
        });
        if wave.is_some() && config.wave_webhook_secret.is_none() {
            tracing::warn!(
                "WAVE_API_KEY is set without WAVE_WEBHOOK_SECRET: Wave webhooks will be refused"
            );
        }
        let orange_money = match (
            &config.orange_money_client_id,
            &config.orange_money_client_secret,
            &config.orange_money_merchant_key,
        ) {
            (Some(id), Some(secret), Some(merchant)) => Some(OrangeMoney {
                http: http.clone(),
                base_url: config.orange_money_base_url.clone(),
                token_path: config.orange_money_token_path.clone(),
                api_path: config.orange_money_api_path.clone(),
                currency: config.orange_money_currency.clone(),
                client_id: id.clone(),
                client_secret: secret.clone(),
                merchant_key: merchant.clone(),
                timeout,
                token: Mutex::new(None),
            }),
            (None, None, None) => None,
            _ => anyhow::bail!(
                "Orange Money needs ORANGE_MONEY_CLIENT_ID, ORANGE_MONEY_CLIENT_SECRET and ORANGE_MONEY_MERCHANT_KEY together"
            ),
        };
        let stripe = config.stripe_secret_key.as_ref().map(|key| Stripe {
            http: http.clone(),
            base_url: config.stripe_base_url.clone(),
            secret_key: key.clone(),
            webhook_secret: config.stripe_webhook_secret.clone(),
            timeout,
        });
        if stripe.is_some() && config.stripe_webhook_secret.is_none() {
            tracing::warn!(
                "STRIPE_SECRET_KEY is set without STRIPE_WEBHOOK_SECRET: Stripe webhooks will be refused"
            );
        }
        let sandbox = config.sandbox.unwrap_or(!production).then(|| Sandbox {
            secret: SecretBox::new(Box::new(master.derive(SANDBOX_SECRET_PURPOSE))),
        });
        if production && sandbox.is_some() {
            tracing::warn!(
                "BILLING_SANDBOX is on in production: anyone with a sandbox link can activate a plan"
            );
        }
        Ok(Self {
            public_url: config
                .public_url
                .clone()
                .map(|u| u.trim_end_matches('/').to_owned()),
            grace: config.grace(),
            timeout,
            http,
            wave,
            orange_money,
            stripe,
            sandbox,
        })
    }

    /// The provider stored as `name` in `payment.provider`, if configured.
    pub fn provider(&self, name: &str) -> Option<&dyn PaymentProvider> {
        match name {
            "wave" => self.wave.as_ref().map(|p| p as &dyn PaymentProvider),
            "orange_money" => self
                .orange_money
                .as_ref()
                .map(|p| p as &dyn PaymentProvider),
            "stripe" => self.stripe.as_ref().map(|p| p as &dyn PaymentProvider),
            "sandbox" => self.sandbox.as_ref().map(|p| p as &dyn PaymentProvider),
            _ => None,
        }
    }

    /// Names of the configured providers, in display order.
    pub fn available(&self) -> Vec<&'static str> {
        store::billing::PROVIDERS
            .iter()
            .filter_map(|name| self.provider(name).map(|p| p.name()))
            .collect()
    }

    /// The grace period of past-due subscriptions.
    pub fn grace(&self) -> chrono::Duration {
        self.grace
    }

    /// The sandbox signature of `body` at `timestamp`, for tests and the sandbox page.
    pub fn sandbox_signature(&self, timestamp: i64, body: &[u8]) -> Option<String> {
        self.sandbox.as_ref().map(|s| s.sign(timestamp, body))
    }
}

pub fn router() -> Router<AppState> {
    routes::router()
        .merge(webhooks::router())
        .merge(pages::router())
}
