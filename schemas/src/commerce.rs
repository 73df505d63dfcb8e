//! The shop's domain values: the states of orders, messages and dead letters, who wrote a message, and the
//! validated product values (`Sku`, `Xof`, `Stock`).
//!
//! Each enum is stored as a `text` column with a CHECK constraint listing the same snake_case words
//! (`customer_order.status`, `message.status`, `message.direction`, `message.author`,
//! `dead_letter.status`; `chat.channel` holds [`crate::Channel`]), and serialised as those words in the
//! REST API and the events. With the `sqlx` feature a row decodes into the enum or fails: an unknown word
//! is an error, never a default. The newtypes are checked where input enters (the API, the dashboard, the
//! CSV import); values read back from the database were checked on the way in and by the table's
//! constraints.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where an order stands: new → confirmed → (shipped →) delivered, or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrderStatus {
    /// Taken by the bot, waiting for the shop's confirmation.
    New,
    Confirmed,
    /// Handed to the delivery: on its way to the customer.
    Shipped,
    Delivered,
    /// Its items went back in stock.
    Cancelled,
}

words!(OrderStatus {
    New => "new",
    Confirmed => "confirmed",
    Shipped => "shipped",
    Delivered => "delivered",
    Cancelled => "cancelled",
});

impl OrderStatus {
    /// Whether an order may go from `self` to `to`: new → confirmed → shipped → delivered (shipping may be
    /// skipped), and cancelled from any step before delivery.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (New, Confirmed)
                | (Confirmed, Shipped)
                | (Confirmed | Shipped, Delivered)
                | (New | Confirmed | Shipped, Cancelled)
        )
    }
}

/// Where a message stands: `pending`, `answered` or `skipped` for a customer's message, `queued`, `sent` or
/// `failed` for a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MessageStatus {
    /// A customer message no turn has answered yet.
    Pending,
    Answered,
    /// Not answered, on purpose (bot paused, not paid, dead-lettered…); the detail says why.
    Skipped,
    /// A reply waiting for the ingress to send it on WhatsApp.
    Queued,
    Sent,
    Failed,
}

words!(MessageStatus {
    Pending => "pending",
    Answered => "answered",
    Skipped => "skipped",
    Queued => "queued",
    Sent => "sent",
    Failed => "failed",
});

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// To the customer (the bot, or the owner by hand).
    Outbound,
}

words!(Direction {
    Inbound => "inbound",
    Outbound => "outbound",
});

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Author {
    Customer,
    Bot,
    /// The shop owner, from the dashboard or typed by hand on the linked phone.
    Owner,
}

words!(Author {
    Customer => "customer",
    Bot => "bot",
    Owner => "owner",
});

/// What became of a message the pipeline gave up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeadLetterStatus {
    /// Nobody has replayed or discarded it yet.
    Open,
    /// Put back into the pipeline.
    Replayed,
    Discarded,
}

words!(DeadLetterStatus {
    Open => "open",
    Replayed => "replayed",
    Discarded => "discarded",
});

/// A value refused where input enters, with the French messages shown next to its field (by the API's
/// 422 and by the dashboard's forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(Vec<&'static str>);

impl Invalid {
    fn one(message: &'static str) -> Self {
        Invalid(vec![message])
    }

    /// Every problem found, in order.
    pub fn messages(&self) -> &[&'static str] {
        &self.0
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl std::error::Error for Invalid {}

/// A shop's own product reference, unique within the shop: 1 to 64 letters, digits, `-`, `_`, `.` or `/`
/// (column `product.sku`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(transparent))]
pub struct Sku(String);

impl Sku {
    pub const MAX_CHARS: usize = 64;

    /// The reference as typed, trimmed. Reports every problem (too long and a forbidden character).
    pub fn new(raw: &str) -> Result<Self, Invalid> {
        let sku = raw.trim();
        let mut problems = Vec::new();
        if sku.is_empty() {
            problems.push("Ce champ est obligatoire.");
        } else if sku.chars().count() > Self::MAX_CHARS {
            problems.push("Ne doit pas dépasser 64 caractères.");
        }
        if !sku
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            problems.push(
                "La référence ne peut contenir que des lettres, chiffres, « - », « _ », « . » et « / ».",
            );
        }
        if problems.is_empty() {
            Ok(Sku(sku.to_owned()))
        } else {
            Err(Invalid(problems))
        }
    }

    /// An optional reference: absent, empty or blank is `None`.
    pub fn optional(raw: Option<&str>) -> Result<Option<Self>, Invalid> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            Some(sku) => Self::new(sku).map(Some),
            None => Ok(None),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        Sku::new(&raw)
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Sku> for String {
    fn from(sku: Sku) -> String {
        sku.0
    }
}

/// An amount in francs CFA (XOF), which have no cents: a non-negative integer (columns `*_xof`, `bigint`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "i64")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(transparent))]
pub struct Xof(i64);

impl Xof {
    /// The highest price a shop may give a product.
    pub const MAX_PRICE: i64 = 1_000_000_000;

    /// Any non-negative amount (a total, a line price).
    pub fn new(amount: i64) -> Result<Self, Invalid> {
        if amount < 0 {
            return Err(Invalid::one(
                "Le montant doit être un nombre entier de francs CFA, positif ou nul.",
            ));
        }
        Ok(Xof(amount))
    }

    /// A product's price: 0 to [`Xof::MAX_PRICE`].
    pub fn price(amount: i64) -> Result<Self, Invalid> {
        if !(0..=Self::MAX_PRICE).contains(&amount) {
            return Err(Invalid::one(
                "Le prix doit être un nombre entier de francs CFA, positif ou nul.",
            ));
        }
        Ok(Xof(amount))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Xof {
    type Error = Invalid;
    fn try_from(amount: i64) -> Result<Self, Invalid> {
        Xof::new(amount)
    }
}

impl From<Xof> for i64 {
    fn from(amount: Xof) -> i64 {
        amount.0
    }
}

impl fmt::Display for Xof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The bare number, as the plain integer it replaced printed in logs and refusal reasons.
impl fmt::Debug for Xof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Units of a product in stock: a non-negative PostgreSQL `integer` (column `product.stock`; a null there,
/// `Option::None` here, means unlimited).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(transparent))]
pub struct Stock(i32);

impl Stock {
    /// The most units a shop may declare.
    pub const MAX: i64 = 10_000_000;

    /// 0 to [`Stock::MAX`] units.
    pub fn new(units: i64) -> Result<Self, Invalid> {
        match i32::try_from(units) {
            Ok(units) if (0..=Self::MAX).contains(&i64::from(units)) => Ok(Stock(units)),
            _ => Err(Invalid::one(
                "Le stock doit être un nombre entier positif ou nul (vide = illimité).",
            )),
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<i64> for Stock {
    type Error = Invalid;
    fn try_from(units: i64) -> Result<Self, Invalid> {
        Stock::new(units)
    }
}

impl From<Stock> for i64 {
    fn from(units: Stock) -> i64 {
        i64::from(units.0)
    }
}

impl fmt::Display for Stock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The bare number, as the plain integer it replaced printed in logs and refusal reasons.
impl fmt::Debug for Stock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_status_moves_forward_or_to_cancelled() {
        use OrderStatus::*;
        for (from, to, allowed) in [
            (New, Confirmed, true),
            (Confirmed, Shipped, true),
            (Shipped, Delivered, true),
            (Shipped, Cancelled, true),
            (New, Shipped, false),
            (Shipped, Confirmed, false),
            (Confirmed, Delivered, true),
            (New, Cancelled, true),
            (Confirmed, Cancelled, true),
            (New, Delivered, false),
            (Delivered, Cancelled, false),
            (Cancelled, New, false),
            (Confirmed, New, false),
        ] {
            assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
        }
    }

    #[test]
    fn enums_are_the_same_words_in_json_and_in_the_database() {
        for status in MessageStatus::ALL {
            let json = serde_json::to_value(status).expect("serialize");
            assert_eq!(json, status.as_str(), "{status:?}");
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(
            OrderStatus::parse("lost"),
            None,
            "unknown words are refused"
        );
        assert_eq!(
            serde_json::to_string(&DeadLetterStatus::Replayed).expect("serialize"),
            "\"replayed\""
        );
    }

    #[test]
    fn skus_are_trimmed_and_limited_to_a_safe_alphabet() {
        assert_eq!(
            Sku::new(" RW-1/a.b_c ").expect("valid").as_str(),
            "RW-1/a.b_c"
        );
        assert_eq!(Sku::optional(Some("   ")), Ok(None));
        assert_eq!(Sku::new("a b").map_err(|e| e.messages().len()), Err(1));
        let both = Sku::new(&"é".repeat(65)).expect_err("too long and not ASCII");
        assert_eq!(both.messages().len(), 2, "every problem is reported");
    }

    #[test]
    fn amounts_and_stock_are_non_negative_and_bounded() {
        assert_eq!(Xof::price(0).map(Xof::get), Ok(0));
        assert!(Xof::price(-1).is_err());
        assert!(Xof::price(Xof::MAX_PRICE + 1).is_err());
        assert!(
            Xof::new(Xof::MAX_PRICE * 10).is_ok(),
            "a total may exceed a price"
        );
        assert_eq!(Stock::new(3).map(Stock::get), Ok(3));
        assert!(Stock::new(-1).is_err());
        assert!(Stock::new(Stock::MAX + 1).is_err());
        assert!(Stock::new(i64::MAX).is_err());
        assert!(serde_json::from_str::<Stock>("-2").is_err());
        assert_eq!(serde_json::to_string(&Xof(15_000)).expect("json"), "15000");
    }
}
