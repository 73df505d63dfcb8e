//! The workers' settings.

use std::time::Duration;

use crate::llm::gemini::GeminiConfig;

#[derive(Debug, Clone, clap::Args)]
pub struct WorkerConfig {
    /// Inbound messages one worker process handles at once.
    #[arg(
        long = "worker-concurrency",
        env = "WORKER_CONCURRENCY",
        default_value_t = 16
    )]
    pub concurrency: usize,
    /// Turns one shop may have running at once, across every worker process; its other chats wait (in order
    /// of age) for one to finish, so one busy shop cannot take every slot from the others.
    #[arg(
        long = "worker-tenant-concurrent-turns",
        env = "WORKER_TENANT_CONCURRENT_TURNS",
        default_value_t = 4
    )]
    pub tenant_concurrent_turns: u32,
    /// The most one turn may take, every model round and tool call included; past it the turn fails and is
    /// retried after a backoff. Shorter than the chat claim.
    #[arg(
        long = "worker-turn-deadline-secs",
        env = "WORKER_TURN_DEADLINE_SECS",
        default_value_t = 60
    )]
    pub turn_deadline_secs: u64,
    /// How long a worker may hold a chat before another may take it over: longer than the turn deadline
    /// plus the commit, so a live worker never loses a claim it is using.
    #[arg(
        long = "worker-claim-ttl-secs",
        env = "WORKER_CLAIM_TTL_SECS",
        default_value_t = 120
    )]
    pub claim_ttl_secs: u64,
    /// Earlier messages of the chat given to the model as memory.
    #[arg(
        long = "worker-history-messages",
        env = "WORKER_HISTORY_MESSAGES",
        default_value_t = 20
    )]
    pub history_messages: i64,
    /// Minutes the bot stays silent in a chat after the shop owner wrote there by hand.
    #[arg(
        long = "human-takeover-minutes",
        env = "HUMAN_TAKEOVER_MINUTES",
        default_value_t = 30
    )]
    pub takeover_minutes: i64,
    /// Seconds between sweeps for stranded chats and unpublished outbox entries.
    #[arg(
        long = "worker-sweep-secs",
        env = "WORKER_SWEEP_SECS",
        default_value_t = 10
    )]
    pub sweep_secs: u64,
    /// Seconds a customer message may wait unanswered before the sweeper treats its chat as stranded.
    #[arg(
        long = "worker-stranded-after-secs",
        env = "WORKER_STRANDED_AFTER_SECS",
        default_value_t = 5
    )]
    pub stranded_after_secs: u64,
    /// Consecutive model failures after which the offline assistant answers for a cool-down; 0 never falls back.
    #[arg(
        long = "llm-fallback-after-failures",
        env = "LLM_FALLBACK_AFTER_FAILURES",
        default_value_t = 3
    )]
    pub fallback_after_failures: u32,
    /// How long the offline assistant answers once the model provider is considered down.
    #[arg(
        long = "llm-fallback-cooldown-secs",
        env = "LLM_FALLBACK_COOLDOWN_SECS",
        default_value_t = 120
    )]
    pub fallback_cooldown_secs: u64,
    /// Replies one WhatsApp customer may get in a row; then [`Self::customer_replies_per_minute`]. Messages
    /// sent faster wait and are answered together, so one number cannot take the shop's turns.
    #[arg(long, env = "CUSTOMER_REPLY_BURST", default_value_t = 10)]
    pub customer_reply_burst: u32,
    /// Replies one WhatsApp customer gets per minute once the burst is spent.
    #[arg(long, env = "CUSTOMER_REPLIES_PER_MINUTE", default_value_t = 2)]
    pub customer_replies_per_minute: u32,
    /// Replies one WhatsApp customer may get per (UTC) day: one number cannot use up the shop's month.
    /// Beyond, their messages are kept for the shop, unanswered.
    #[arg(long, env = "CUSTOMER_REPLIES_PER_DAY", default_value_t = 100)]
    pub customer_replies_per_day: u32,
    /// Hours an order taken by the bot holds its stock; not confirmed by the shop by then, it is cancelled
    /// and the stock put back.
    #[arg(long, env = "ORDER_HOLD_HOURS", default_value_t = 48)]
    pub order_hold_hours: u32,
    /// Largest product photo the bot fetches from a product's image address and sends, in bytes.
    #[arg(long, env = "PRODUCT_PHOTO_MAX_BYTES", default_value_t = 5 * 1024 * 1024)]
    pub product_photo_max_bytes: u64,
    /// Let the bot fetch product photos from private and loopback addresses (a local demo's image server).
    /// Off in production: a product's image address must not reach the platform's own network.
    #[arg(
        long,
        env = "PRODUCT_PHOTO_ALLOW_PRIVATE_HOSTS",
        default_value_t = false
    )]
    pub product_photo_allow_private_hosts: bool,
    /// Minutes a payment link the bot sends stays valid; unpaid by then, the customer asks for a new one.
    #[arg(long, env = "ORDER_PAY_LINK_MINUTES", default_value_t = 60)]
    pub pay_link_minutes: u32,
    /// The dashboard's public address, for the payment links the bot sends (`PUBLIC_URL`; set by the binary).
    #[arg(skip)]
    pub public_url: Option<String>,
    /// Offer the local sandbox payment (no money moves) to shops without merchant credentials: only where the
    /// platform's payment sandbox is on (development).
    #[arg(skip)]
    pub pay_sandbox: bool,
    #[command(flatten)]
    pub gemini: GeminiConfig,
}

/// Consecutive failed turns of a chat (model errors, timeouts) before its pending messages are dead-lettered.
/// Database and NATS errors never count: they are retried until the service is back.
pub const MAX_FAILED_TURNS: i32 = 8;

impl WorkerConfig {
    pub fn claim_ttl(&self) -> Duration {
        Duration::from_secs(self.claim_ttl_secs.max(1))
    }

    pub fn turn_deadline(&self) -> Duration {
        Duration::from_secs(self.turn_deadline_secs.max(1))
    }

    /// The deadlines must nest: a turn ends (or is abandoned) before its chat claim expires, and the claim
    /// before JetStream would redeliver the message to another worker (progress acks keep the delivery alive
    /// meanwhile, see `consume`).
    pub fn check(&self) -> Result<(), String> {
        let margin = Duration::from_secs(15);
        if self.turn_deadline() + margin > self.claim_ttl() {
            return Err(format!(
                "WORKER_TURN_DEADLINE_SECS ({}) must be at least {} s shorter than WORKER_CLAIM_TTL_SECS ({})",
                self.turn_deadline_secs,
                margin.as_secs(),
                self.claim_ttl_secs
            ));
        }
        if self.gemini.timeout_secs > self.turn_deadline_secs {
            return Err(format!(
                "GEMINI_TIMEOUT_SECS ({}) must not exceed WORKER_TURN_DEADLINE_SECS ({})",
                self.gemini.timeout_secs, self.turn_deadline_secs
            ));
        }
        Ok(())
    }

    /// Settings for tests: small and fast, no fallback, no Gemini.
    pub fn for_tests() -> Self {
        Self {
            concurrency: 8,
            tenant_concurrent_turns: 1000,
            turn_deadline_secs: 15,
            claim_ttl_secs: 30,
            history_messages: 20,
            takeover_minutes: 30,
            sweep_secs: 1,
            stranded_after_secs: 1,
            fallback_after_failures: 0,
            fallback_cooldown_secs: 60,
            customer_reply_burst: 10,
            customer_replies_per_minute: 2,
            customer_replies_per_day: 100,
            order_hold_hours: 48,
            product_photo_max_bytes: 5 * 1024 * 1024,
            product_photo_allow_private_hosts: true,
            pay_link_minutes: 60,
            public_url: Some("http://127.0.0.1:8080".to_owned()),
            pay_sandbox: true,
            gemini: GeminiConfig {
                timeout_secs: 10,
                ..GeminiConfig::default()
            },
        }
    }
}
