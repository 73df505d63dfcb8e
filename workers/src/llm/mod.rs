//! Language-model providers behind one trait. A provider answers one *turn*: the pending customer messages
//! of a chat, given the shop's identity, its catalogue and the recent conversation, calling the sales tools
//! (`search_products`, `get_product`, `create_order`, `order_status`, `shop_info`) through a [`ToolExecutor`] until it
//! has a final text. Providers never touch the database: the executor works on a snapshot taken before the
//! turn, and the pipeline writes the outcome afterwards in one transaction.

pub mod fallback;
pub mod gemini;
pub mod offline;
pub mod prompt;
pub mod tools;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemas::MediaKind;
use schemas::commerce::Sku;
use serde::{Deserialize, Serialize};
use store::knowledge::{DeliveryZone, FaqEntry};
use store::products::{Product, ProductFields};
use uuid::Uuid;

use crate::catalogue::ProductText;
use crate::knowledge::OpeningHours;

/// Everything a provider may know for one turn: only the active tenant's data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Turn {
    /// The shop: what a provider's failures are counted against (never sent to the model).
    #[serde(default)]
    pub tenant_id: Uuid,
    pub shop: ShopProfile,
    /// Active products of this shop only.
    pub catalog: Vec<CatalogItem>,
    /// The customer's WhatsApp display name (may be empty).
    pub customer_name: String,
    /// Earlier messages of this chat, oldest first (the last N).
    pub history: Vec<ChatMessage>,
    /// The customer messages to answer now, oldest first (at least one; a voice note's text may be empty).
    pub incoming: Vec<String>,
    /// The voice notes and photos of those messages, for a provider that can hear and see.
    #[serde(default)]
    pub media: Vec<TurnMedia>,
    /// When the turn runs: opening hours are judged at this moment.
    #[serde(default = "Utc::now")]
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ShopProfile {
    pub shop_name: String,
    pub bot_name: String,
    /// `friendly`, `professional`, `casual` or `enthusiastic`.
    pub tone: String,
    /// `fr`, `en` or `auto` (the customer's language, French by default).
    pub language: String,
    /// The shop owner's own instructions (delivery zones, payment, returns…).
    pub instructions: String,
    /// Questions customers ask, with the shop's answers.
    #[serde(default)]
    pub faq: Vec<FaqEntry>,
    /// Where the shop delivers and for how much.
    #[serde(default)]
    pub delivery_zones: Vec<DeliveryZone>,
    #[serde(default)]
    pub hours: OpeningHours,
    /// What the shop says to customers who write while it is closed (empty: nothing).
    #[serde(default)]
    pub out_of_hours_message: String,
    /// How customers may pay their orders.
    #[serde(default)]
    pub payments: PaymentOptions,
}

/// How a shop's customers may pay: links for these methods (its own merchant accounts, or the sandbox in
/// development), and cash on delivery.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PaymentOptions {
    pub links: Vec<schemas::billing::Provider>,
    pub cash_on_delivery: bool,
}

impl PaymentOptions {
    /// Whether the customer has any choice to make.
    pub fn any(&self) -> bool {
        !self.links.is_empty() || self.cash_on_delivery
    }
}

/// A product the bot may offer: the same field set the API and the store use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogItem {
    pub product_id: Uuid,
    #[serde(flatten)]
    pub fields: ProductFields,
}

impl From<Product> for CatalogItem {
    fn from(product: Product) -> Self {
        CatalogItem {
            product_id: product.product_id,
            fields: product.fields,
        }
    }
}

impl<'a> From<&'a CatalogItem> for ProductText<'a> {
    fn from(item: &'a CatalogItem) -> Self {
        ProductText {
            name: &item.fields.name,
            category: &item.fields.category,
            sku: item.fields.sku.as_ref().map(Sku::as_str),
            attributes: Some(&item.fields.attributes),
        }
    }
}

/// How a shared location starts its line in a customer message's text (`pipeline::media`), so the offline
/// assistant can acknowledge it rather than read it as a question.
pub const LOCATION_PREFIX: &str = "📍 Position partagée par le client";

/// A voice note or a photo the customer sent in this turn.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct TurnMedia {
    /// Which of [`Turn::incoming`] it came with.
    pub message: usize,
    pub kind: MediaKind,
    /// The type the bytes were recognised as (`audio/ogg`, `image/jpeg`…).
    pub mime: String,
    /// Never serialized: a turn's record must not carry the customer's voice.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for TurnMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnMedia")
            .field("message", &self.message)
            .field("kind", &self.kind)
            .field("mime", &self.mime)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The customer.
    Customer,
    /// The shop's bot (or the shop owner answering by hand).
    Shop,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub text: String,
}

/// The provider's final answer for the turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    pub text: String,
    pub usage: Usage,
    /// The engine that wrote it (`gemini`, `offline`), recorded with the reply for the shop.
    pub engine: &'static str,
    /// What the customer said in each voice note, by index into [`Turn::incoming`].
    pub transcripts: Vec<(usize, String)>,
}

/// Tokens consumed by the turn (all rounds), recorded per tenant per month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    /// Of the prompt tokens, those of audio and images.
    pub media_tokens: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The provider asked us to slow down (HTTP 429); retry after `retry_after` when it said so.
    #[error("rate limited by the model provider")]
    RateLimited { retry_after: Option<Duration> },
    /// Worth retrying with backoff: 5xx, timeout, connection error, malformed answer.
    #[error("transient model error: {0}")]
    Transient(String),
    /// Retrying cannot help (bad request, bad key, unknown model): reported, not retried.
    #[error("model error: {0}")]
    Permanent(String),
    /// The model refused this prompt on content grounds (safety, blocklist, personal data): the same prompt
    /// would be refused again, and the model itself is fine. Never retried.
    #[error("the model refused the prompt: {0}")]
    Refused(String),
}

/// Runs the sales tools for a provider. Results are JSON objects; a tool error is a result too
/// (`{"error": "…"}`) so the model can explain it to the customer.
#[async_trait]
pub trait ToolExecutor: Send {
    async fn call(&mut self, name: &str, args: serde_json::Value) -> serde_json::Value;

    /// Forgets everything an abandoned attempt did (its order intents, the stock they held), so that the
    /// provider answering instead starts from the snapshot: one customer request, one order.
    fn discard_attempt(&mut self);
}

#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// Short name for logs and metrics (`gemini`, `offline`).
    fn name(&self) -> &'static str;

    /// Answers the turn, calling tools as needed.
    async fn respond(&self, turn: &Turn, tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError>;
}
