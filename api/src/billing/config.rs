//! Billing settings: the platform's provider keys (never per tenant), provider base URLs (overridable so
//! tests can point them at local fakes), timeouts and the grace period.

use secrecy::SecretString;

fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

/// How shops pay Tdjaasa. With no provider key set, only the local sandbox provider is offered.
#[derive(Debug, Clone, clap::Args)]
pub struct BillingConfig {
    /// Public base URL of the API, as payers' browsers and providers reach it (payment return pages,
    /// Orange Money notifications). Unset: the Host of the checkout request (fine locally, set it in production).
    #[arg(long, env = "BILLING_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Days a past-due subscription keeps its bot answering before it is suspended.
    #[arg(long, env = "BILLING_GRACE_DAYS", default_value_t = 3)]
    pub grace_days: u32,
    /// How often the expiry job runs, in seconds.
    #[arg(long, env = "BILLING_EXPIRY_INTERVAL_SECS", default_value_t = 300)]
    pub expiry_interval_secs: u64,
    /// Time limit of each call to a payment provider, in seconds.
    #[arg(long, env = "BILLING_PROVIDER_TIMEOUT_SECS", default_value_t = 15)]
    pub provider_timeout_secs: u64,
    /// Offer the local sandbox provider (fake payment page, signed webhook). Default: on in development,
    /// off in production (anyone holding a sandbox link could "pay").
    #[arg(long, env = "BILLING_SANDBOX")]
    pub sandbox: Option<bool>,

    /// Wave Checkout API key (`wave_ci_prod_…`); enables Wave.
    #[arg(long, env = "WAVE_API_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub wave_api_key: Option<SecretString>,
    /// Wave webhook signing secret (`wave_…_WHS_…`), for the `Wave-Signature` header.
    #[arg(long, env = "WAVE_WEBHOOK_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub wave_webhook_secret: Option<SecretString>,
    /// Wave API base URL.
    #[arg(long, env = "WAVE_BASE_URL", default_value = "https://api.wave.com")]
    pub wave_base_url: String,

    /// Orange Money WebPay OAuth2 client id; enables Orange Money with the secret and merchant key.
    #[arg(long, env = "ORANGE_MONEY_CLIENT_ID")]
    pub orange_money_client_id: Option<String>,
    /// Orange Money OAuth2 client secret.
    #[arg(long, env = "ORANGE_MONEY_CLIENT_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub orange_money_client_secret: Option<SecretString>,
    /// Orange Money merchant key (from the Orange Developer portal).
    #[arg(long, env = "ORANGE_MONEY_MERCHANT_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub orange_money_merchant_key: Option<SecretString>,
    /// Orange API base URL.
    #[arg(
        long,
        env = "ORANGE_MONEY_BASE_URL",
        default_value = "https://api.orange.com"
    )]
    pub orange_money_base_url: String,
    /// OAuth2 token path.
    #[arg(
        long,
        env = "ORANGE_MONEY_TOKEN_PATH",
        default_value = "/oauth/v3/token"
    )]
    pub orange_money_token_path: String,
    /// WebPay API path (`/orange-money-webpay/dev/v1` in the sandbox).
    #[arg(
        long,
        env = "ORANGE_MONEY_API_PATH",
        default_value = "/orange-money-webpay/ci/v1"
    )]
    pub orange_money_api_path: String,
    /// Currency sent to Orange Money (`OUV` in the sandbox).
    #[arg(long, env = "ORANGE_MONEY_CURRENCY", default_value = "XOF")]
    pub orange_money_currency: String,

    /// Stripe secret key (`sk_…`); enables card payments by Stripe Checkout.
    #[arg(long, env = "STRIPE_SECRET_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub stripe_secret_key: Option<SecretString>,
    /// Stripe webhook endpoint signing secret (`whsec_…`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub stripe_webhook_secret: Option<SecretString>,
    /// Stripe API base URL.
    #[arg(
        long,
        env = "STRIPE_BASE_URL",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_base_url: String,
}

impl BillingConfig {
    /// No provider keys, sandbox on, short timeouts: the keyless local default.
    pub fn for_tests() -> Self {
        Self {
            public_url: None,
            grace_days: 3,
            expiry_interval_secs: 300,
            provider_timeout_secs: 2,
            sandbox: Some(true),
            wave_api_key: None,
            wave_webhook_secret: None,
            wave_base_url: "https://api.wave.com".into(),
            orange_money_client_id: None,
            orange_money_client_secret: None,
            orange_money_merchant_key: None,
            orange_money_base_url: "https://api.orange.com".into(),
            orange_money_token_path: "/oauth/v3/token".into(),
            orange_money_api_path: "/orange-money-webpay/ci/v1".into(),
            orange_money_currency: "XOF".into(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_base_url: "https://api.stripe.com".into(),
        }
    }

    pub fn grace(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.grace_days))
    }
}
