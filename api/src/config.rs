//! The API's settings.

use axum::http::HeaderValue;

/// HTTP server and authentication settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiConfig {
    /// Address the HTTP server listens on (port 0 picks a free port).
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: String,
    /// Browser origins allowed to call the REST API (`/api/...`) from their pages, comma-separated, e.g.
    /// `https://boutique.example,https://app.example:8443`. Empty (the default): no CORS headers at all.
    #[arg(
        long,
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_allowed_origins: Vec<String>,
    /// Minutes the bot stays silent in a chat after the owner answered there by hand from the API or the
    /// dashboard (the workers read the same variable for replies typed on the phone).
    #[arg(
        long = "api-human-takeover-minutes",
        env = "HUMAN_TAKEOVER_MINUTES",
        default_value_t = 30
    )]
    pub human_takeover_minutes: i64,
    /// Lifetime of the access tokens issued at login and signup, in minutes.
    #[arg(long, env = "JWT_TTL_MINUTES", default_value_t = 60)]
    pub jwt_ttl_minutes: u64,
    /// Sign-in, sign-up and password-reset attempts allowed per client network (an IPv4 address or an
    /// IPv6 /64) and minute; generous enough for a carrier NAT, the per-account limit stops guessing.
    #[arg(long, env = "AUTH_RATE_PER_MINUTE", default_value_t = 30)]
    pub auth_rate_per_minute: u32,
    /// Sign-in attempts allowed per account (e-mail address) and hour, at most ten in a row, whatever the
    /// addresses they come from.
    #[arg(long, env = "AUTH_ACCOUNT_ATTEMPTS_PER_HOUR", default_value_t = 20)]
    pub auth_account_attempts_per_hour: u32,
    /// Take the client address from the last X-Forwarded-For entry (set only behind a reverse proxy).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// Test-chat messages a shop may send per minute (the test chat runs the real pipeline and model).
    #[arg(long, env = "SIMULATOR_RATE_PER_MINUTE", default_value_t = 20)]
    pub simulator_rate_per_minute: u32,
    /// Checkouts a shop may start per minute (each may open a session at a payment provider).
    #[arg(long, env = "CHECKOUT_RATE_PER_MINUTE", default_value_t = 10)]
    pub checkout_rate_per_minute: u32,
    /// Days a new shop's bot answers its WhatsApp customers before the first payment (0: none).
    #[arg(long, env = "TRIAL_DAYS", default_value_t = 7)]
    pub trial_days: u32,
    /// How often an open live stream (Server-Sent Events) re-checks its sign-in, in seconds: a revoked or
    /// expired token, a closed session or a changed role ends it within this delay.
    #[arg(long, env = "LIVE_RECHECK_SECS", default_value_t = 10)]
    pub live_recheck_secs: u64,
    /// Lifetime of a dashboard sign-in without activity, in hours (each visit slides it forward).
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 24 * 14)]
    pub session_ttl_hours: u64,
    /// Public base URL of the dashboard, e.g. `https://app.tdjaasa.ci`, for the links in e-mails (invitations,
    /// password resets). Unset: `BILLING_PUBLIC_URL`, else the request's Host (development only: production
    /// requires one of the two, so a forged Host header cannot redirect a reset link).
    #[arg(id = "api_public_url", long = "api-public-url", env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Mark cookies `Secure` (HTTPS only); set from `TDJ_ENV=production`.
    #[arg(skip)]
    pub secure_cookies: bool,
    /// The WhatsApp gateway is the local sandbox: the dashboard offers "simulate a scan / a customer".
    #[arg(skip)]
    pub whatsapp_sandbox: bool,
}

impl ApiConfig {
    /// Settings for tests: a free port, defaults otherwise.
    pub fn for_tests() -> Self {
        Self {
            http_addr: "127.0.0.1:0".into(),
            cors_allowed_origins: Vec::new(),
            human_takeover_minutes: 30,
            jwt_ttl_minutes: 60,
            auth_rate_per_minute: 10,
            auth_account_attempts_per_hour: 20,
            live_recheck_secs: 10,
            // Most tests are about paid and unpaid shops; the trial's own tests set it.
            trial_days: 0,
            simulator_rate_per_minute: 20,
            checkout_rate_per_minute: 10,
            trust_forwarded_for: false,
            session_ttl_hours: 24 * 14,
            public_url: None,
            secure_cookies: false,
            whatsapp_sandbox: false,
        }
    }
}

impl ApiConfig {
    /// The CORS origins, checked: each `http(s)://host[:port]` with no path (a trailing `/` is dropped),
    /// blanks ignored.
    pub fn cors_origins(&self) -> anyhow::Result<Vec<HeaderValue>> {
        self.cors_allowed_origins
            .iter()
            .map(|origin| origin.trim().trim_end_matches('/'))
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                let host = origin
                    .strip_prefix("https://")
                    .or_else(|| origin.strip_prefix("http://"))
                    .filter(|host| {
                        !host.is_empty()
                            && host
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
                    });
                anyhow::ensure!(
                    host.is_some(),
                    "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin (scheme://host[:port], no path)"
                );
                Ok(HeaderValue::from_str(origin)?)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        api: ApiConfig,
    }

    #[test]
    fn the_settings_parse_from_flags_with_working_defaults() {
        Cli::command().debug_assert();
        let defaults = Cli::try_parse_from(["api"]).expect("defaults").api;
        assert!(defaults.cors_origins().expect("empty").is_empty());
        let set = Cli::try_parse_from([
            "api",
            "--cors-allowed-origins",
            "https://a.example,https://b.example",
        ])
        .expect("flags")
        .api;
        assert_eq!(
            set.cors_origins().expect("valid"),
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn cors_origins_are_a_checked_comma_separated_list() {
        let mut config = ApiConfig::for_tests();
        config.cors_allowed_origins = vec![
            " https://boutique.example/ ".into(),
            "".into(),
            "http://localhost:5173".into(),
        ];
        assert_eq!(
            config.cors_origins().expect("valid"),
            ["https://boutique.example", "http://localhost:5173"]
        );
        for wrong in ["boutique.example", "https://boutique.example/app", "*"] {
            config.cors_allowed_origins = vec![wrong.into()];
            assert!(config.cors_origins().is_err(), "{wrong}");
        }
        assert!(
            ApiConfig::for_tests()
                .cors_origins()
                .expect("empty")
                .is_empty()
        );
    }
}
