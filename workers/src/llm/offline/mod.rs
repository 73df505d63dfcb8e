//! `Offline`: a deterministic French (or English) sales assistant, the provider used when no Gemini key is
//! set and when Gemini is down. It understands everyday Ivorian French and SMS spellings well enough for
//! prices, availability, the catalogue, orders and order status, and hands anything else to the shop's team.
//! Like Gemini it only learns prices and stock through the sales tools, and it keeps no state between turns:
//! a pending order is read back from its own recap message in the history (see [`recap`]).

mod calls;
mod dialogue;
mod intent;
mod matching;
mod quantity;
mod recap;
mod replies;
mod text;

use async_trait::async_trait;
use schemas::commerce::Sku;

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
        })
    }
}

/// Indices of the catalogue products a free-text query names, best first: the same fuzzy matching the
/// offline assistant uses, shared with the `search_products` tool so both find the same products.
pub fn search_catalog(
    catalog: &[super::CatalogItem],
    query: &str,
    max_results: usize,
) -> Vec<usize> {
    let index = matching::Index::new(catalog.iter().map(|p| matching::ProductText {
        name: &p.fields.name,
        category: &p.fields.category,
        sku: p.fields.sku.as_ref().map(Sku::as_str),
        attributes: Some(&p.fields.attributes),
    }));
    let words: Vec<String> = text::words(query)
        .into_iter()
        .filter(|w| !intent::is_stopword(w))
        .collect();
    index
        .rank(&words)
        .into_iter()
        .take(max_results)
        .map(|c| c.index)
        .collect()
}
