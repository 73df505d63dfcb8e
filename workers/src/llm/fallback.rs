//! Gemini first, the offline assistant when Gemini keeps failing: a small circuit breaker so customers are
//! answered during an outage instead of waiting for retries.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{LlmError, LlmProvider, Reply, ToolExecutor, Turn};

pub struct Fallback {
    primary: Box<dyn LlmProvider>,
    secondary: Box<dyn LlmProvider>,
    /// Consecutive failures that open the breaker; 0 disables the fallback.
    threshold: u32,
    cooldown: Duration,
    state: Mutex<Breaker>,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
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
            state: Mutex::new(Breaker::default()),
        }
    }

    fn is_open(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.open_until.is_some_and(|until| Instant::now() < until)
    }

    /// Records a failure; true when the breaker is (now) open.
    fn failed(&self) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.failures += 1;
        if state.failures >= self.threshold {
            state.open_until = Some(Instant::now() + self.cooldown);
            state.failures = 0;
            metrics::counter!("llm_fallback_opened_total").increment(1);
            tracing::warn!(
                provider = self.primary.name(),
                "model provider keeps failing: answering offline for a while"
            );
            return true;
        }
        false
    }

    fn succeeded(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.failures = 0;
        state.open_until = None;
    }
}

#[async_trait]
impl LlmProvider for Fallback {
    fn name(&self) -> &'static str {
        self.primary.name()
    }

    async fn respond(&self, turn: &Turn, tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError> {
        if self.is_open() {
            return self.secondary.respond(turn, tools).await;
        }
        match self.primary.respond(turn, tools).await {
            Ok(reply) => {
                self.succeeded();
                Ok(reply)
            }
            Err(LlmError::Permanent(message)) if self.threshold > 0 => {
                // A bad key or model id will not fix itself: answer now, and let the operator see the error.
                tracing::error!(provider = self.primary.name(), %message, "model provider refused the request");
                self.failed();
                tools.discard_attempt();
                self.secondary.respond(turn, tools).await
            }
            Err(e) => {
                if self.failed() {
                    tools.discard_attempt();
                    self.secondary.respond(turn, tools).await
                } else {
                    Err(e)
                }
            }
        }
    }
}
