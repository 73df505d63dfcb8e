//! Shared state of the API handlers.

use std::net::SocketAddr;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use schemas::Subjects;
use store::crypto::MasterKey;
use store::media::MediaConfig;

use crate::ApiConfig;
use crate::auth::TokenKeys;
use crate::auth::revocation::TokenVersions;
use crate::billing::Billing;
use crate::mail::{DevMailer, Mailer};
use crate::rate_limit::{AccountLimiter, AddrLimiter, ShopLimiter};

#[derive(Clone)]
pub struct AppState {
    pub db: store::Db,
    pub nats: async_nats::Client,
    pub subjects: Subjects,
    pub config: Arc<ApiConfig>,
    pub tokens: Arc<TokenKeys>,
    pub auth_limiter: Arc<AddrLimiter>,
    /// Sign-in attempts per account, from any address.
    pub(crate) account_limiter: Arc<AccountLimiter>,
    /// Test-chat messages per shop.
    pub(crate) simulator_limiter: Arc<ShopLimiter>,
    /// Checkouts per shop.
    pub(crate) checkout_limiter: Arc<ShopLimiter>,
    pub metrics: PrometheusHandle,
    /// Payment providers and billing settings; the sandbox alone unless [`AppState::with_billing`] is used.
    pub billing: Arc<Billing>,
    /// Outgoing e-mail; the development mailer (log + outbox) unless [`AppState::with_mailer`] is used.
    pub mailer: Arc<dyn Mailer>,
    /// Users' current token versions, remembered briefly (revocation of API tokens).
    pub(crate) token_versions: Arc<TokenVersions>,
    /// Our public base URLs, from configuration only, never from a request's Host header (a forged Host
    /// would redirect reset links or the sandbox's webhook); completed by [`crate::Application::build`].
    pub(crate) urls: Arc<PublicUrls>,
    /// Open Server-Sent Event streams per shop.
    pub(crate) live_streams: Arc<crate::live::LiveStreams>,
    /// Opens the shops' data keys, which seal their media; set by [`AppState::with_master_key`]. No default:
    /// a key made up here would wrap a new shop's data key with a key no other process has.
    pub(crate) master_key: Option<MasterKey>,
    /// Limits on customer media (upload size, retention); the defaults unless [`AppState::with_media`] is used.
    pub(crate) media: Arc<MediaConfig>,
}

/// Public base URLs, without a trailing `/`.
#[derive(Debug, Clone)]
pub(crate) struct PublicUrls {
    /// Links in e-mails (invitations, password resets): `PUBLIC_URL`, else `BILLING_PUBLIC_URL`.
    pub links: String,
    /// Payment return pages and provider notifications: `BILLING_PUBLIC_URL`, else `PUBLIC_URL`.
    pub billing: String,
}

impl PublicUrls {
    /// The configured URLs; with none (development only: production refuses to start), the address the
    /// server listens on.
    pub fn resolve(links: Option<&str>, billing: Option<&str>, listening: SocketAddr) -> Self {
        let local = if listening.ip().is_unspecified() {
            format!("http://127.0.0.1:{}", listening.port())
        } else {
            format!("http://{listening}")
        };
        let clean = |url: &str| url.trim().trim_end_matches('/').to_owned();
        Self {
            links: links.or(billing).map_or_else(|| local.clone(), clean),
            billing: billing.or(links).map_or(local, clean),
        }
    }
}

impl AppState {
    pub fn new(
        db: store::Db,
        nats: async_nats::Client,
        subjects: Subjects,
        config: ApiConfig,
        tokens: TokenKeys,
    ) -> Self {
        let config_links = config.public_url.clone();
        Self {
            auth_limiter: Arc::new(AddrLimiter::per_minute(config.auth_rate_per_minute)),
            checkout_limiter: Arc::new(ShopLimiter::per_shop_minute(
                config.checkout_rate_per_minute,
            )),
            simulator_limiter: Arc::new(ShopLimiter::per_shop_minute(
                config.simulator_rate_per_minute,
            )),
            account_limiter: Arc::new(AccountLimiter::per_hour(
                config.auth_account_attempts_per_hour,
            )),
            db,
            nats,
            subjects,
            config: Arc::new(config),
            tokens: Arc::new(tokens),
            metrics: crate::metrics::handle(),
            billing: Arc::new(Billing::sandbox_only()),
            mailer: Arc::new(DevMailer::default()),
            token_versions: Arc::new(TokenVersions::default()),
            live_streams: Arc::default(),
            master_key: None,
            media: Arc::new(MediaConfig::default()),
            urls: Arc::new(PublicUrls::resolve(
                config_links.as_deref(),
                None,
                SocketAddr::from(([127, 0, 0, 1], 0)),
            )),
        }
    }

    /// Replaces the development mailer (e.g. with SMTP in production).
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// Replaces the keyless sandbox default with configured billing ([`Billing::from_config`]).
    pub fn with_billing(mut self, billing: Billing) -> Self {
        self.billing = Arc::new(billing);
        self
    }

    /// The platform master key (`TDJ_MASTER_KEY`), needed to store and read the shops' media.
    pub fn with_master_key(mut self, master_key: MasterKey) -> Self {
        self.master_key = Some(master_key);
        self
    }

    /// Limits on customer media (`MEDIA_MAX_BYTES`, `MEDIA_RETENTION_DAYS`).
    pub fn with_media(mut self, media: MediaConfig) -> Self {
        self.media = Arc::new(media);
        self
    }

    /// The master key, or an internal error when the process was built without one.
    pub(crate) fn master_key(&self) -> crate::Result<&MasterKey> {
        self.master_key.as_ref().ok_or_else(|| {
            crate::Error::Internal(anyhow::anyhow!(
                "the API was started without the master key (AppState::with_master_key)"
            ))
        })
    }
}
