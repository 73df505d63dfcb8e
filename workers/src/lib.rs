//! Stateless workers: the sales-bot pipeline from inbound message to reply, and the language-model providers.

pub mod catalogue;
pub mod config;
pub mod knowledge;
pub mod lang;
pub mod llm;
pub mod metrics;
pub mod pipeline;

pub use config::{MAX_FAILED_TURNS, WorkerConfig};
pub use pipeline::{Outcome, Pipeline};

use std::sync::Arc;
use std::time::Duration;

use llm::LlmProvider;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("NATS: {0}")]
    Nats(String),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Llm(#[from] llm::LlmError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The provider the configuration asks for: Gemini (with the offline assistant as fallback) when a key is
/// set, the offline assistant otherwise.
pub fn provider_from_config(config: &WorkerConfig) -> Result<Arc<dyn LlmProvider>> {
    match llm::gemini::Gemini::from_config(&config.gemini)? {
        Some(gemini) => {
            tracing::info!(
                model = gemini.model(),
                "answering with Gemini, offline assistant as fallback"
            );
            Ok(Arc::new(llm::fallback::Fallback::new(
                Box::new(gemini),
                Box::new(llm::offline::Offline::new()),
                config.fallback_after_failures,
                Duration::from_secs(config.fallback_cooldown_secs),
            )))
        }
        None => {
            tracing::info!("GEMINI_API_KEY is not set: answering with the offline assistant");
            Ok(Arc::new(llm::offline::Offline::new()))
        }
    }
}
