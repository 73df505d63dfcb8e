//! Gemini first, the offline assistant when Gemini keeps failing for a shop: a circuit breaker per shop and
//! per kind of error, so customers are answered during an outage instead of waiting for retries, and one
//! shop's trouble (its prompts rate-limited or refused) never switches another shop to the offline assistant.
//! A prompt the model refuses on content grounds is answered offline at once: retrying cannot help, and it
//! says nothing about the model's health.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use uuid::Uuid;

use super::{LlmError, LlmProvider, Reply, ToolExecutor, Turn};

/// Above this many remembered shops, closed breakers are forgotten.
const TRIM_ABOVE: usize = 10_000;

/// The kinds of failure counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    RateLimited,
    Transient,
    Permanent,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::RateLimited, Kind::Transient, Kind::Permanent];
}

pub struct Fallback {
    primary: Box<dyn LlmProvider>,
    secondary: Box<dyn LlmProvider>,
    /// Consecutive failures of one kind that open a shop's breaker; 0 disables the fallback.
    threshold: u32,
    cooldown: Duration,
    breakers: Mutex<HashMap<(Uuid, Kind), Breaker>>,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    fn is_open(&self, now: Instant) -> bool {
        self.open_until.is_some_and(|until| now < until)
    }
}

impl Fallback {
    pub fn new(
        primary: Box<dyn LlmProvider>,
        secondary: Box<dyn LlmProvider>,
        threshold: u32,
        cooldown: Duration,
    ) -> Self {
        Self {
            primary,
            secondary,
            threshold,
            cooldown,
            breakers: Mutex::new(HashMap::new()),
        }
    }

    fn breakers(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, Kind), Breaker>> {
        self.breakers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any of the shop's breakers is open (three lookups, whatever the number of shops).
    fn is_open(&self, tenant_id: Uuid) -> bool {
        let now = Instant::now();
        let breakers = self.breakers();
        Kind::ALL.iter().any(|kind| {
            breakers
                .get(&(tenant_id, *kind))
                .is_some_and(|breaker| breaker.is_open(now))
        })
    }

    /// Records a failure of the shop; true when its breaker of that kind is (now) open.
    fn failed(&self, tenant_id: Uuid, kind: Kind) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let now = Instant::now();
        let mut breakers = self.breakers();
        if breakers.len() > TRIM_ABOVE {
            breakers.retain(|_, b| b.failures > 0 || b.is_open(now));
        }
        let breaker = breakers.entry((tenant_id, kind)).or_default();
        breaker.failures += 1;
        if breaker.failures >= self.threshold {
            breaker.open_until = Some(now + self.cooldown);
            breaker.failures = 0;
            metrics::counter!("llm_fallback_opened_total").increment(1);
            tracing::warn!(
                provider = self.primary.name(),
                %tenant_id,
                ?kind,
                "model provider keeps failing for this shop: answering it offline for a while"
            );
            return true;
        }
        false
    }

    /// The secondary answers because the primary is unavailable (counted; a refusal is counted apart).
    async fn answer_instead(
        &self,
        turn: &Turn,
        tools: &mut dyn ToolExecutor,
    ) -> Result<Reply, LlmError> {
        let reply = self.secondary.respond(turn, tools).await;
        if reply.is_ok() {
            metrics::counter!("llm_fallback_replies_total").increment(1);
        }
        reply
    }

    fn succeeded(&self, tenant_id: Uuid) {
        let mut breakers = self.breakers();
        for kind in Kind::ALL {
            breakers.remove(&(tenant_id, kind));
        }
    }
}

#[async_trait]
impl LlmProvider for Fallback {
    fn name(&self) -> &'static str {
        self.primary.name()
    }

    async fn respond(&self, turn: &Turn, tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError> {
        let shop = turn.tenant_id;
        if self.is_open(shop) {
            return self.answer_instead(turn, tools).await;
        }
        match self.primary.respond(turn, tools).await {
            Ok(reply) => {
                self.succeeded(shop);
                Ok(reply)
            }
            Err(LlmError::Refused(message)) => {
                tracing::info!(provider = self.primary.name(), %message, "the model refused the prompt; answering offline");
                metrics::counter!("llm_refused_total").increment(1);
                tools.discard_attempt();
                self.secondary.respond(turn, tools).await
            }
            Err(LlmError::Permanent(message)) if self.threshold > 0 => {
                // A bad key or model id will not fix itself: answer now, and let the operator see the error.
                tracing::error!(provider = self.primary.name(), %message, "model provider refused the request");
                self.failed(shop, Kind::Permanent);
                tools.discard_attempt();
                self.answer_instead(turn, tools).await
            }
            Err(e) => {
                let kind = match e {
                    LlmError::RateLimited { .. } => Kind::RateLimited,
                    LlmError::Permanent(_) => Kind::Permanent,
                    LlmError::Transient(_) | LlmError::Refused(_) => Kind::Transient,
                };
                if self.failed(shop, kind) {
                    tools.discard_attempt();
                    self.answer_instead(turn, tools).await
                } else {
                    Err(e)
                }
            }
        }
    }
}
