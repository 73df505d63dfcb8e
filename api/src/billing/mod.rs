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
pub(crate) mod pages;
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

/// Every payment provider the platform knows (configured or not), in display order, with the name shown to
/// shops (each provider's `label()`).
const KNOWN_PROVIDERS: [(&str, &str); 4] = [
    ("wave", "Wave"),
    ("orange_money", "Orange Money"),
    ("stripe", "Carte bancaire (Stripe)"),
    ("sandbox", "Bac à sable (test)"),
];

/// The label of a known provider.
fn label_of(name: &str) -> Option<&'static str> {
    KNOWN_PROVIDERS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, label)| *label)
}

/// A payment provider and whether this platform offers it (`GET /api/v1/billing`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct KnownProvider {
    /// `wave`, `orange_money`, `stripe` or `sandbox`: the `provider` of a checkout.
    pub provider: String,
    /// The name shown to shops.
    pub label: String,
    /// The platform has its keys: checkouts with it are possible.
    pub configured: bool,
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

    /// Every provider the platform knows, in display order, and whether it is configured here.
    pub fn known(&self) -> Vec<KnownProvider> {
        KNOWN_PROVIDERS
            .iter()
            .map(|&(name, label)| KnownProvider {
                provider: name.to_owned(),
                label: label.to_owned(),
                configured: self.provider(name).is_some(),
            })
            .collect()
    }

    /// Why `name` cannot be paid with here, in French: a known provider the platform has not configured, or
    /// an unknown name. `None` when it is configured.
    pub fn unavailable_reason(&self, name: &str) -> Option<String> {
        if self.provider(name).is_some() {
            return None;
        }
        Some(match label_of(name) {
            Some(label) => format!(
                "Le paiement par {label} n'est pas encore proposé sur cette plateforme : choisissez un \
                 autre moyen de paiement."
            ),
            None => match self.available().as_slice() {
                [] => "Moyen de paiement inconnu.".to_owned(),
                available => format!(
                    "Moyen de paiement inconnu : choisissez {}.",
                    available.join(", ")
                ),
            },
        })
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

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn the_known_providers_are_the_stored_ones_with_their_own_labels() {
        let mut config = BillingConfig::for_tests();
        config.wave_api_key = Some(SecretString::from("k"));
        config.orange_money_client_id = Some("id".into());
        config.orange_money_client_secret = Some(SecretString::from("s"));
        config.orange_money_merchant_key = Some(SecretString::from("m"));
        config.stripe_secret_key = Some(SecretString::from("sk"));
        let billing =
            Billing::from_config(&config, &MasterKey::generate(), false).expect("billing");
        let known: Vec<&str> = KNOWN_PROVIDERS.iter().map(|(name, _)| *name).collect();
        assert_eq!(known, store::billing::PROVIDERS);
        for (name, label) in KNOWN_PROVIDERS {
            let provider = billing.provider(name).expect("configured");
            assert_eq!((provider.name(), provider.label()), (name, label));
        }
    }

    #[test]
    fn a_known_provider_without_keys_is_told_apart_from_an_unknown_name() {
        let billing = Billing::sandbox_only();
        assert_eq!(billing.unavailable_reason("sandbox"), None);
        assert!(
            billing
                .unavailable_reason("wave")
                .is_some_and(|m| m.contains("Wave") && m.contains("pas encore proposé"))
        );
        assert_eq!(
            billing.unavailable_reason("paypal").as_deref(),
            Some("Moyen de paiement inconnu : choisissez sandbox.")
        );
    }
}
