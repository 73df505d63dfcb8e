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
    /// Bot turns per second allowed per shop (bursts of twice that); beyond it a shop's messages wait for the
    /// sweeper, so one busy shop cannot starve the others.
    #[arg(
        long = "worker-tenant-turns-per-second",
        env = "WORKER_TENANT_TURNS_PER_SECOND",
        default_value_t = 5
    )]
    pub tenant_turns_per_second: u32,
    /// How long a worker may hold a chat before another may take it over; longer than one model turn.
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
    #[command(flatten)]
    pub gemini: GeminiConfig,
}

impl WorkerConfig {
    pub fn claim_ttl(&self) -> Duration {
        Duration::from_secs(self.claim_ttl_secs.max(1))
    }

    /// Settings for tests: small and fast, no fallback, no Gemini.
    pub fn for_tests() -> Self {
        Self {
            concurrency: 8,
            tenant_turns_per_second: 1000,
            claim_ttl_secs: 30,
            history_messages: 20,
            takeover_minutes: 30,
            sweep_secs: 1,
            stranded_after_secs: 1,
            fallback_after_failures: 0,
            fallback_cooldown_secs: 60,
            gemini: GeminiConfig::default(),
        }
    }
}
