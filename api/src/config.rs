//! The API's settings.

/// HTTP server and authentication settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiConfig {
    /// Address the HTTP server listens on (port 0 picks a free port).
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: String,
    /// Lifetime of the access tokens issued at login and signup, in minutes.
    #[arg(long, env = "JWT_TTL_MINUTES", default_value_t = 60)]
    pub jwt_ttl_minutes: u64,
    /// Login and signup attempts allowed per client address and minute.
    #[arg(long, env = "AUTH_RATE_PER_MINUTE", default_value_t = 10)]
    pub auth_rate_per_minute: u32,
    /// Take the client address from the last X-Forwarded-For entry (set only behind a reverse proxy).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// Lifetime of a dashboard sign-in without activity, in hours (each visit slides it forward).
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 24 * 14)]
    pub session_ttl_hours: u64,
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
            jwt_ttl_minutes: 60,
            auth_rate_per_minute: 10,
            trust_forwarded_for: false,
            session_ttl_hours: 24 * 14,
            secure_cookies: false,
            whatsapp_sandbox: false,
        }
    }
}
