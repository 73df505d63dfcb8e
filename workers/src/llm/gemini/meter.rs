//! Tokens and estimated cost of the model's answers, for the operator's metrics (not billing: a shop's usage is
//! counted in the database with each reply).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::PROVIDER;
use crate::llm::Usage;

/// The model's list prices in XOF per million tokens (`GEMINI_PRICE_*`): tokens × price is micro-XOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    pub prompt_xof_per_million: u64,
    pub output_xof_per_million: u64,
}

impl Prices {
    /// The estimated cost of `usage`, in millionths of a franc.
    pub fn micro_xof(self, usage: Usage) -> u64 {
        usage
            .prompt_tokens
            .saturating_mul(self.prompt_xof_per_million)
            .saturating_add(
                usage
                    .output_tokens
                    .saturating_mul(self.output_xof_per_million),
            )
    }
}

/// Counts `llm_tokens_total` and `llm_cost_xof_total` for one model. The cost counter moves by whole francs
/// (Prometheus counters are integers here); the fractions add up across answers, so nothing is lost.
#[derive(Debug, Clone)]
pub struct Meter {
    model: String,
    prices: Prices,
    /// Estimated cost so far in this process, micro-XOF; shared by the provider's clones.
    spent: Arc<AtomicU64>,
}

impl Meter {
    pub fn new(model: &str, prices: Prices) -> Self {
        Self {
            model: model.to_owned(),
            prices,
            spent: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records one answer's tokens; returns the whole francs the cost counter advanced by.
    pub fn record(&self, usage: Usage) -> u64 {
        let model = self.model.clone();
        metrics::counter!("llm_tokens_total", "provider" => PROVIDER, "model" => model.clone(), "kind" => "prompt")
            .increment(usage.prompt_tokens);
        metrics::counter!("llm_tokens_total", "provider" => PROVIDER, "model" => model.clone(), "kind" => "output")
            .increment(usage.output_tokens);
        metrics::counter!("llm_media_tokens_total", "provider" => PROVIDER, "model" => model.clone())
            .increment(usage.media_tokens);
        let cost = self.prices.micro_xof(usage);
        let before = self.spent.fetch_add(cost, Ordering::Relaxed);
        let francs = (before.saturating_add(cost)) / 1_000_000 - before / 1_000_000;
        metrics::counter!("llm_cost_xof_total", "provider" => PROVIDER, "model" => model)
            .increment(francs);
        francs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_of_a_franc_add_up_to_whole_francs_without_loss() {
        // 1 000 prompt tokens at 180 XOF per million and 100 output tokens at 1 500: 0.33 XOF an answer.
        let meter = Meter::new(
            "gemini-test",
            Prices {
                prompt_xof_per_million: 180,
                output_xof_per_million: 1_500,
            },
        );
        let usage = Usage {
            prompt_tokens: 1_000,
            output_tokens: 100,
            media_tokens: 0,
        };
        let francs: u64 = (0..100).map(|_| meter.record(usage)).sum();
        // 100 answers × 0.33 XOF = 33 XOF exactly.
        assert_eq!(francs, 33);
        assert_eq!(meter.record(Usage::default()), 0);
    }
}
