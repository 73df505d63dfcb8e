//! Settings of an ingress node (`tdjaasa ingress`), from flags or environment variables.

use std::time::Duration;

use crate::{Error, Result};

/// Which WhatsApp connector the node drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GatewayKind {
    /// Real WhatsApp Web linked devices (whatsapp-rust).
    Whatsapp,
    /// A local simulation for demos without a phone: QR codes are "scanned" with a NATS message and sent
    /// replies are published on NATS (see `ingress::sandbox`). Only when explicitly selected.
    Sandbox,
}

/// The lease bucket's `max_age` (see `tdj_nats::lease_bucket_stream`): an entry not rewritten within it vanishes.
pub const LEASE_BUCKET_MAX_AGE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, clap::Args)]
pub struct IngressConfig {
    /// This node's id in leases, forwarded commands and logs (letters, digits, `-`, `_`). Random by default;
    /// two live processes must never share one.
    #[arg(long = "ingress-node-id", env = "INGRESS_NODE_ID")]
    pub node_id: Option<String>,
    /// How long a tenant's lease lasts without renewal (renewed every third of it). Another node takes a
    /// tenant over once its lease has not changed for this long; must stay under the bucket's 30 s max age.
    #[arg(long = "ingress-lease-ttl", env = "INGRESS_LEASE_TTL", default_value = "15s", value_parser = parse_duration)]
    pub lease_ttl: Duration,
    /// Safety margin: a node stops a tenant (self-fences) when its last successful renewal is older than
    /// TTL minus this margin, before any other node may take the tenant over.
    #[arg(long = "ingress-lease-margin", env = "INGRESS_LEASE_MARGIN", default_value = "3s", value_parser = parse_duration)]
    pub lease_margin: Duration,
    /// How often the node looks for tenants wanting a connection that no live node holds.
    #[arg(long = "ingress-scan-interval", env = "INGRESS_SCAN_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub scan_interval: Duration,
    /// Replies sent per minute and per shop, at most (WhatsApp bans numbers that send like robots).
    #[arg(
        long = "ingress-send-rate-per-minute",
        env = "INGRESS_SEND_RATE_PER_MINUTE",
        default_value_t = 20
    )]
    pub send_rate_per_minute: u32,
    /// Replies a shop may send in a quick burst before the per-minute rate applies.
    #[arg(
        long = "ingress-send-burst",
        env = "INGRESS_SEND_BURST",
        default_value_t = 5
    )]
    pub send_burst: u32,
    /// Shortest "typing…" pause before a reply.
    #[arg(long = "ingress-typing-delay-min", env = "INGRESS_TYPING_DELAY_MIN", default_value = "800ms", value_parser = parse_duration)]
    pub typing_delay_min: Duration,
    /// Longest "typing…" pause before a reply (long replies are capped here).
    #[arg(long = "ingress-typing-delay-max", env = "INGRESS_TYPING_DELAY_MAX", default_value = "3s", value_parser = parse_duration)]
    pub typing_delay_max: Duration,
    /// Extra "typing…" time per character of the reply, as a person would take.
    #[arg(long = "ingress-typing-per-char", env = "INGRESS_TYPING_PER_CHAR", default_value = "25ms", value_parser = parse_duration)]
    pub typing_per_char: Duration,
    /// Attempts of a reply after the first one fails transiently; then it is marked failed for the shop.
    #[arg(
        long = "ingress-send-retries",
        env = "INGRESS_SEND_RETRIES",
        default_value_t = 3
    )]
    pub send_retries: u32,
    /// First wait between send attempts, doubled at each attempt.
    #[arg(long = "ingress-send-retry-backoff", env = "INGRESS_SEND_RETRY_BACKOFF", default_value = "1s", value_parser = parse_duration)]
    pub send_retry_backoff: Duration,
    /// Replies older than this are not sent any more (marked failed): a late answer confuses customers.
    #[arg(long = "ingress-outbound-max-age", env = "INGRESS_OUTBOUND_MAX_AGE", default_value = "6h", value_parser = parse_duration)]
    pub outbound_max_age: Duration,
    /// First wait before restarting a connection that ended unexpectedly on our side, or whose attempt could
    /// not reach WhatsApp (no internet), doubled up to the max.
    #[arg(long = "ingress-reconnect-backoff-min", env = "INGRESS_RECONNECT_BACKOFF_MIN", default_value = "1s", value_parser = parse_duration)]
    pub reconnect_backoff_min: Duration,
    /// Longest wait between restarts of a connection.
    #[arg(long = "ingress-reconnect-backoff-max", env = "INGRESS_RECONNECT_BACKOFF_MAX", default_value = "60s", value_parser = parse_duration)]
    pub reconnect_backoff_max: Duration,
    /// A connection stuck in "connecting" longer than this is rebuilt (the library's lifecycle can wedge).
    #[arg(long = "ingress-connecting-timeout", env = "INGRESS_CONNECTING_TIMEOUT", default_value = "90s", value_parser = parse_duration)]
    pub connecting_timeout: Duration,
    /// WhatsApp connector: `whatsapp` (real numbers) or `sandbox` (local demo, no phone).
    #[arg(
        long = "ingress-gateway",
        env = "WHATSAPP_GATEWAY",
        value_enum,
        default_value = "whatsapp"
    )]
    pub gateway: GatewayKind,
    /// Sandbox only: how long each simulated QR code stays valid.
    #[arg(long = "ingress-sandbox-qr-interval", env = "INGRESS_SANDBOX_QR_INTERVAL", default_value = "20s", value_parser = parse_duration)]
    pub sandbox_qr_interval: Duration,
    /// Sandbox only: QR codes shown before the link attempt expires.
    #[arg(
        long = "ingress-sandbox-qr-count",
        env = "INGRESS_SANDBOX_QR_COUNT",
        default_value_t = 6
    )]
    pub sandbox_qr_count: u32,
}

impl IngressConfig {
    /// Production defaults (as with no flag or variable set).
    pub fn defaults() -> Self {
        Self {
            node_id: None,
            lease_ttl: Duration::from_secs(15),
            lease_margin: Duration::from_secs(3),
            scan_interval: Duration::from_secs(5),
            send_rate_per_minute: 20,
            send_burst: 5,
            typing_delay_min: Duration::from_millis(800),
            typing_delay_max: Duration::from_secs(3),
            typing_per_char: Duration::from_millis(25),
            send_retries: 3,
            send_retry_backoff: Duration::from_secs(1),
            outbound_max_age: Duration::from_secs(6 * 3600),
            reconnect_backoff_min: Duration::from_secs(1),
            reconnect_backoff_max: Duration::from_secs(60),
            connecting_timeout: Duration::from_secs(90),
            gateway: GatewayKind::Whatsapp,
            sandbox_qr_interval: Duration::from_secs(20),
            sandbox_qr_count: 6,
        }
    }

    /// Short timings for tests: leases of 3 s, no typing pause, fast retries.
    pub fn for_tests() -> Self {
        Self {
            lease_ttl: Duration::from_secs(3),
            lease_margin: Duration::from_millis(800),
            scan_interval: Duration::from_millis(300),
            send_rate_per_minute: 600,
            send_burst: 50,
            typing_delay_min: Duration::ZERO,
            typing_delay_max: Duration::ZERO,
            typing_per_char: Duration::ZERO,
            send_retry_backoff: Duration::from_millis(50),
            reconnect_backoff_min: Duration::from_millis(100),
            reconnect_backoff_max: Duration::from_secs(1),
            connecting_timeout: Duration::from_secs(5),
            gateway: GatewayKind::Sandbox,
            sandbox_qr_interval: Duration::from_secs(2),
            ..Self::defaults()
        }
    }

    /// Renewal period: a third of the TTL. A failed renewal is retried until TTL − margin after the last
    /// successful one; only then does the node self-fence.
    pub fn renew_interval(&self) -> Duration {
        self.lease_ttl / 3
    }

    /// Checks the timings against each other and against the lease bucket.
    pub fn validate(&self) -> Result<()> {
        if self.lease_ttl.is_zero() || self.lease_ttl > LEASE_BUCKET_MAX_AGE * 2 / 3 {
            return Err(Error::Config(format!(
                "INGRESS_LEASE_TTL must be between 0 and 20s (the lease bucket keeps an entry {}s), got {:?}",
                LEASE_BUCKET_MAX_AGE.as_secs(),
                self.lease_ttl
            )));
        }
        if self.lease_margin.is_zero() || self.lease_margin >= self.lease_ttl / 2 {
            return Err(Error::Config(
                "INGRESS_LEASE_MARGIN must be above 0 and under half of INGRESS_LEASE_TTL".into(),
            ));
        }
        if self.typing_delay_min > self.typing_delay_max {
            return Err(Error::Config(
                "INGRESS_TYPING_DELAY_MIN must not exceed INGRESS_TYPING_DELAY_MAX".into(),
            ));
        }
        if self.send_rate_per_minute == 0 || self.send_burst == 0 {
            return Err(Error::Config(
                "INGRESS_SEND_RATE_PER_MINUTE and INGRESS_SEND_BURST must be at least 1".into(),
            ));
        }
        if let Some(id) = &self.node_id
            && (id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(Error::Config(format!(
                "INGRESS_NODE_ID {id:?} may hold only letters, digits, `-` and `_`"
            )));
        }
        Ok(())
    }

    /// The configured node id, or a fresh random one.
    pub fn node_id(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            format!(
                "ingress-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )
        })
    }

    /// The "typing…" pause for a reply of `chars` characters, with a little jitter, within the bounds.
    pub fn typing_delay(&self, chars: usize) -> Duration {
        use rand::Rng;
        let per_char = self
            .typing_per_char
            .saturating_mul(u32::try_from(chars).unwrap_or(u32::MAX));
        let base = self.typing_delay_min.saturating_add(per_char);
        let jitter = rand::thread_rng().gen_range(0.9..1.1);
        base.mul_f64(jitter)
            .clamp(self.typing_delay_min, self.typing_delay_max)
    }
}

/// Parses `500ms`, `15s`, `2m`, `6h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 500ms, 15s, 2m or 6h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn defaults_and_test_settings_are_valid() {
        assert!(IngressConfig::defaults().validate().is_ok());
        assert!(IngressConfig::for_tests().validate().is_ok());
        let too_long = IngressConfig {
            lease_ttl: Duration::from_secs(25),
            ..IngressConfig::defaults()
        };
        assert!(
            too_long.validate().is_err(),
            "a TTL near the bucket max age is refused"
        );
    }

    #[test]
    fn typing_delay_grows_with_length_and_is_capped() {
        let config = IngressConfig::defaults();
        let short = config.typing_delay(5);
        let long = config.typing_delay(10_000);
        assert!(short >= config.typing_delay_min && short < Duration::from_millis(1200));
        assert_eq!(long, config.typing_delay_max);
    }
}
