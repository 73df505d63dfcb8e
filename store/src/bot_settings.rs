//! The bot's identity for one shop: name, tone, language, instructions and business hours.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Result, TenantTx};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotSettings {
    pub bot_name: String,
    /// `friendly`, `professional`, `casual` or `enthusiastic`.
    pub tone: String,
    /// `fr`, `en` or `auto` (French, or English to a customer who writes in English): the language the bot answers in.
    pub language: String,
    /// The shop's own instructions to the bot (delivery zones, returns policy…).
    pub instructions: String,
    /// Opening hours, `[{"day": 0..6 (0 = Monday), "open": "HH:MM", "close": "HH:MM"}]`; empty = always open.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub business_hours: Value,
    /// What the bot says outside business hours (empty: it answers as usual).
    pub out_of_hours_message: String,
    /// The IANA time zone the opening hours are in (`Africa/Abidjan` by default).
    pub time_zone: String,
    pub updated_at: DateTime<Utc>,
}

/// The writable fields, already validated by the caller.
#[derive(Debug, Clone, Deserialize)]
pub struct BotSettingsFields {
    pub bot_name: String,
    pub tone: String,
    pub language: String,
    pub instructions: String,
    pub business_hours: Value,
    pub out_of_hours_message: String,
    pub time_zone: String,
}

/// A compile-checked query returning [`BotSettings`]: `$head`, the columns of `bot_setting`, then `$tail`.
macro_rules! settings_row {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            BotSettings,
            $head
                + "bot_name, tone, language, instructions, business_hours, out_of_hours_message, time_zone, \
                   updated_at"
                + $tail
            $(, $arg)*
        )
    };
}

/// Creates the shop's settings row with the defaults, unless it exists.
async fn ensure_row(tx: &mut TenantTx<'_>) -> Result<()> {
    sqlx::query!(
        "insert into bot_setting (tenant_id) values ($1) on conflict do nothing",
        tx.tenant_id(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether the shop's domain events carry message texts (an integrator's opt-in; off by default).
pub async fn events_include_text(tx: &mut TenantTx<'_>) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select coalesce((select events_include_text from bot_setting where tenant_id = $1), false)
           as "include!""#,
        tx.tenant_id(),
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Turns message texts in the shop's domain events on or off.
pub async fn set_events_include_text(tx: &mut TenantTx<'_>, include: bool) -> Result<()> {
    ensure_row(tx).await?;
    sqlx::query!(
        "update bot_setting set events_include_text = $2 where tenant_id = $1",
        tx.tenant_id(),
        include,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The settings, created with defaults if the shop has none yet (read first: every turn reads them, and
/// the row nearly always exists).
pub async fn get(tx: &mut TenantTx<'_>) -> Result<BotSettings> {
    let tenant_id = tx.tenant_id();
    if let Some(settings) = settings_row!(
        "select ",
        " from bot_setting where tenant_id = $1",
        tenant_id
    )
    .fetch_optional(&mut **tx)
    .await?
    {
        return Ok(settings);
    }
    ensure_row(tx).await?;
    Ok(settings_row!(
        "select ",
        " from bot_setting where tenant_id = $1",
        tenant_id
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Like [`get`], but locks the row until the transaction ends (read-modify-write of a PATCH).
pub async fn get_for_update(tx: &mut TenantTx<'_>) -> Result<BotSettings> {
    ensure_row(tx).await?;
    let tenant_id = tx.tenant_id();
    Ok(settings_row!(
        "select ",
        " from bot_setting where tenant_id = $1 for update",
        tenant_id
    )
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn put(tx: &mut TenantTx<'_>, fields: &BotSettingsFields) -> Result<BotSettings> {
    let tenant_id = tx.tenant_id();
    Ok(settings_row!(
        "insert into bot_setting (tenant_id, bot_name, tone, language, instructions, business_hours,
                                  out_of_hours_message, time_zone)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (tenant_id) do update set
           bot_name = excluded.bot_name, tone = excluded.tone, language = excluded.language,
           instructions = excluded.instructions, business_hours = excluded.business_hours,
           out_of_hours_message = excluded.out_of_hours_message, time_zone = excluded.time_zone,
           updated_at = now()
         returning ",
        "",
        tenant_id,
        fields.bot_name,
        fields.tone,
        fields.language,
        fields.instructions,
        fields.business_hours,
        fields.out_of_hours_message,
        fields.time_zone,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The texts the customer gets when an order changes status, by status (`confirmed`, `delivered`,
/// `cancelled`); a status absent uses the default text, an empty text sends nothing.
pub async fn order_messages(tx: &mut TenantTx<'_>) -> Result<Value> {
    Ok(sqlx::query_scalar!(
        r#"select coalesce((select order_messages from bot_setting where tenant_id = $1), '{}'::jsonb)
           as "messages!""#,
        tx.tenant_id(),
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Replaces the order-status texts (already validated by the caller).
pub async fn set_order_messages(tx: &mut TenantTx<'_>, messages: &Value) -> Result<()> {
    ensure_row(tx).await?;
    sqlx::query!(
        "update bot_setting set order_messages = $2, updated_at = now() where tenant_id = $1",
        tx.tenant_id(),
        messages,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The owner's number (digits, international form) that gets a WhatsApp message when the bot hands a
/// conversation over; empty: none.
pub async fn alert_phone(tx: &mut TenantTx<'_>) -> Result<String> {
    Ok(sqlx::query_scalar!(
        r#"select coalesce((select alert_phone from bot_setting where tenant_id = $1), '') as "phone!""#,
        tx.tenant_id(),
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Sets the alert number (already normalised by the caller; empty to remove it).
pub async fn set_alert_phone(tx: &mut TenantTx<'_>, phone: &str) -> Result<()> {
    ensure_row(tx).await?;
    sqlx::query!(
        "update bot_setting set alert_phone = $2, updated_at = now() where tenant_id = $1",
        tx.tenant_id(),
        phone,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
