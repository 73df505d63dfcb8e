//! `Offline`: a deterministic French (or English) sales assistant, the provider used when no Gemini key is
//! set and when Gemini is down. It understands everyday Ivorian French and SMS spellings well enough for
//! prices, availability, the catalogue, orders and order status, and hands anything else to the shop's team.
//! Like Gemini it only learns prices and stock through the sales tools, and it keeps no state between turns:
//! a pending order is read back from its own recap message in the history (see [`recap`]).

mod calls;
mod dialogue;
mod intent;
mod listing;
mod quantity;
mod recap;
mod replies;

use async_trait::async_trait;

use super::{LlmError, LlmProvider, Reply, ToolExecutor, Turn, Usage};

/// The offline provider. Stateless and deterministic: the same turn and tool results give the same reply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl Offline {
    pub fn new() -> Self {
        Offline
    }
}

#[async_trait]
impl LlmProvider for Offline {
    fn name(&self) -> &'static str {
        "offline"
    }

    async fn respond(&self, turn: &Turn, tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError> {
        let text = dialogue::answer(turn, tools).await;
        Ok(Reply {
            text,
            usage: Usage::default(),
            engine: "offline",
        })
    }
}
