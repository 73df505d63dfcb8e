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

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use rand::RngCore;
use secrecy::{SecretBox, SecretString};
use store::billing::Provider;
use store::crypto::MasterKey;

pub use config::BillingConfig;
pub use expiry::{run_expiry_once, spawn_expiry_job};

use self::providers::PaymentProvider;
use self::providers::orange_money::{OrangeMoney, TokenCache};
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
    /// Where the shops' own merchant accounts are called (the same hosts as ours, so tests reach the fakes).
    pub(crate) merchant: MerchantEndpoints,
    /// The shops' Orange Money access tokens, by the SHA-256 of their client id and secret (never the
    /// credentials themselves): a shop's token serves all its web payments and status reads.
    merchant_tokens: std::sync::Mutex<HashMap<[u8; 32], TokenCache>>,
}

/// The provider URLs and settings used with a shop's own credentials (`crate::payment_settings`).
pub(crate) struct MerchantEndpoints {
    pub(crate) wave_base_url: String,
    pub(crate) orange_money_base_url: String,
    pub(crate) orange_money_token_path: String,
    pub(crate) orange_money_api_path: String,
    pub(crate) orange_money_currency: String,
}

impl MerchantEndpoints {
    fn of(config: &BillingConfig) -> Self {
        Self {
            wave_base_url: config.wave_base_url.clone(),
            orange_money_base_url: config.orange_money_base_url.clone(),
            orange_money_token_path: config.orange_money_token_path.clone(),
            orange_money_api_path: config.orange_money_api_path.clone(),
            orange_money_currency: config.orange_money_currency.clone(),
        }
    }
}

/// The name shown to shops for a provider, configured or not (each provider's `label()`).
fn label_of(provider: Provider) -> &'static str {
    match provider {
        Provider::Wave => "Wave",
        Provider::OrangeMoney => "Orange Money",
        Provider::Stripe => "Carte bancaire (Stripe)",
        Provider::Sandbox => "Bac à sable (test)",
    }
}

/// A payment provider and whether this platform offers it (`GET /api/v1/billing`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct KnownProvider {
    /// The `provider` of a checkout.
    pub provider: Provider,
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
            merchant: MerchantEndpoints::of(&BillingConfig::for_tests()),
            merchant_tokens: Default::default(),
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
                token: TokenCache::default(),
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
        // The sandbox approves payments without any sign-in: never in production, whatever is configured.
        anyhow::ensure!(
            !(production && config.sandbox == Some(true)),
            "BILLING_SANDBOX=true is refused with TDJ_ENV=production: anyone holding a sandbox link could \
             activate a plan without paying"
        );
        let sandbox = (!production && config.sandbox.unwrap_or(true)).then(|| Sandbox {
            secret: SecretBox::new(Box::new(master.derive(SANDBOX_SECRET_PURPOSE))),
        });
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
            merchant: MerchantEndpoints::of(config),
            merchant_tokens: Default::default(),
        })
    }

    /// The provider, if configured.
    pub fn provider(&self, provider: Provider) -> Option<&dyn PaymentProvider> {
        match provider {
            Provider::Wave => self.wave.as_ref().map(|p| p as &dyn PaymentProvider),
            Provider::OrangeMoney => self
                .orange_money
                .as_ref()
                .map(|p| p as &dyn PaymentProvider),
            Provider::Stripe => self.stripe.as_ref().map(|p| p as &dyn PaymentProvider),
            Provider::Sandbox => self.sandbox.as_ref().map(|p| p as &dyn PaymentProvider),
        }
    }

    /// Every provider the platform knows, in display order, and whether it is configured here.
    pub fn known(&self) -> Vec<KnownProvider> {
        Provider::ALL
            .into_iter()
            .map(|provider| KnownProvider {
                provider,
                label: label_of(provider).to_owned(),
                configured: self.provider(provider).is_some(),
            })
            .collect()
    }

    /// Why `name` cannot be paid with here, in French: a known provider the platform has not configured, or
    /// an unknown name. `None` when it is configured.
    pub fn unavailable_reason(&self, name: &str) -> Option<String> {
        let provider = Provider::parse(name);
        if provider.is_some_and(|p| self.provider(p).is_some()) {
            return None;
        }
        Some(match provider {
            Some(provider) => format!(
                "Le paiement par {} n'est pas encore proposé sur cette plateforme : choisissez un \
                 autre moyen de paiement.",
                label_of(provider)
            ),
            None => match self.available().as_slice() {
                [] => "Moyen de paiement inconnu.".to_owned(),
                available => format!(
                    "Moyen de paiement inconnu : choisissez {}.",
                    available
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        })
    }

    /// The configured providers, in display order.
    pub fn available(&self) -> Vec<Provider> {
        Provider::ALL
            .into_iter()
            .filter(|&provider| self.provider(provider).is_some())
            .collect()
    }

    /// A Wave client speaking with a shop's own key.
    pub(crate) fn merchant_wave(
        &self,
        api_key: SecretString,
        webhook_secret: SecretString,
    ) -> Wave {
        Wave {
            http: self.http.clone(),
            base_url: self.merchant.wave_base_url.clone(),
            api_key,
            webhook_secret: Some(webhook_secret),
            timeout: self.timeout,
        }
    }

    /// An Orange Money client speaking with a shop's own credentials, sharing their access token with every
    /// other client of the same credentials.
    pub(crate) fn merchant_orange_money(
        &self,
        client_id: String,
        client_secret: SecretString,
        merchant_key: SecretString,
    ) -> OrangeMoney {
        use secrecy::ExposeSecret;
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(client_id.as_bytes());
        hasher.update([0]);
        hasher.update(client_secret.expose_secret().as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        let token = self
            .merchant_tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        OrangeMoney {
            http: self.http.clone(),
            base_url: self.merchant.orange_money_base_url.clone(),
            token_path: self.merchant.orange_money_token_path.clone(),
            api_path: self.merchant.orange_money_api_path.clone(),
            currency: self.merchant.orange_money_currency.clone(),
            client_id,
            client_secret,
            merchant_key,
            timeout: self.timeout,
            token,
        }
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
        let known: Vec<Provider> = billing.known().iter().map(|k| k.provider).collect();
        assert_eq!(known, Provider::ALL);
        for known in billing.known() {
            let provider = billing.provider(known.provider).expect("configured");
            assert_eq!(
                (provider.id(), provider.label()),
                (known.provider, known.label.as_str())
            );
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

    #[test]
    fn production_refuses_the_sandbox_and_never_offers_it_by_default() {
        let master = MasterKey::generate();
        let mut config = BillingConfig::for_tests();
        let refused = Billing::from_config(&config, &master, true).map(|_| ());
        assert!(
            refused.is_err_and(|e| e.to_string().contains("BILLING_SANDBOX=true is refused")),
            "an explicit sandbox in production stops the start-up"
        );
        config.sandbox = None;
        let billing = Billing::from_config(&config, &master, true).expect("billing");
        assert!(billing.provider(Provider::Sandbox).is_none());
        let billing = Billing::from_config(&config, &master, false).expect("billing");
        assert!(
            billing.provider(Provider::Sandbox).is_some(),
            "on by default in development"
        );
    }
}
