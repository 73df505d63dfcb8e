//! `GET|PUT|PATCH /api/v1/bot`: the bot's identity — name, tone, language, instructions, business hours.
//! PUT replaces every field (each is required, so a forgotten one is a 422, never a silent erase); PATCH
//! changes only the fields present.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::audit;
use store::bot_settings::{self, BotSettings, BotSettingsFields};

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::validate::Check;
use crate::{AppState, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bot", get(read).put(replace).patch(patch))
        .route("/api/v1/bot/events", axum::routing::put(set_event_texts))
}

/// Whether the shop's domain events (NATS, for integrators) carry message texts.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTexts {
    /// `true`: `message.received` and `message.sent` events carry the text; `false` (the default): ids only.
    pub include_text: bool,
}

/// Opts the shop's domain events in or out of carrying message texts (owner only): customers' words leave
/// the database only when the shop wants an integration to read them.
#[utoipa::path(put, path = "/api/v1/bot/events", operation_id = "setEventTexts",
    tag = "bot", request_body = EventTexts, security(("bearer" = [])),
    responses((status = 200, body = EventTexts), (status = 403, description = "Not an owner"),
              (status = 422, description = "Invalid fields")))]
async fn set_event_texts(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<EventTexts>,
) -> Result<Json<EventTexts>> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    bot_settings::set_events_include_text(&mut tx, input.include_text).await?;
    store::audit::record(
        &mut tx,
        Some(user.user_id),
        "bot.events_text",
        serde_json::json!({ "include_text": input.include_text }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(input))
}

pub(crate) const TONES: [&str; 4] = ["friendly", "professional", "casual", "enthusiastic"];

/// Côte d'Ivoire's time zone, the shops' default.
pub(crate) const DEFAULT_TIME_ZONE: &str = "Africa/Abidjan";

/// The zones the dashboard offers (any IANA name is accepted over the API), with what they cover.
pub(crate) const TIME_ZONES: [(&str, &str); 6] = [
    (
        "Africa/Abidjan",
        "Côte d'Ivoire, Sénégal, Mali, Burkina Faso, Guinée, Togo (GMT)",
    ),
    ("Africa/Lagos", "Bénin, Niger, Nigeria (GMT+1)"),
    ("Africa/Douala", "Cameroun, Gabon, Congo (GMT+1)"),
    ("Africa/Kinshasa", "RD Congo – Kinshasa (GMT+1)"),
    ("Africa/Lubumbashi", "RD Congo – Lubumbashi (GMT+2)"),
    ("Europe/Paris", "France (GMT+1, heure d'été GMT+2)"),
];

/// `PUT /api/v1/bot`: every field is required (send `""` or `[]` to clear one).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotSettingsInput {
    /// 1 to 60 characters, e.g. "Awa".
    pub bot_name: String,
    /// `friendly`, `professional`, `casual` or `enthusiastic`.
    pub tone: String,
    /// `fr` or `en`.
    pub language: String,
    /// The shop's own instructions to the bot (delivery zones, returns…), up to 4000 characters; may be `""`.
    pub instructions: String,
    /// `[{"day": 0..6 (0 = Monday), "open": "08:00", "close": "20:00"}]`; `[]` = always open.
    pub business_hours: Vec<OpeningSlot>,
    /// What the bot says outside business hours, up to 1000 characters; `""` = it answers as usual.
    pub out_of_hours_message: String,
    /// The IANA time zone of the opening hours, e.g. `Africa/Abidjan` (the default) or `Africa/Douala`;
    /// absent: unchanged.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// `PATCH /api/v1/bot`: only the fields present change, with the same rules as PUT.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotSettingsPatch {
    pub bot_name: Option<String>,
    pub tone: Option<String>,
    pub language: Option<String>,
    pub instructions: Option<String>,
    pub business_hours: Option<Vec<OpeningSlot>>,
    pub out_of_hours_message: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningSlot {
    pub day: u8,
    pub open: String,
    pub close: String,
}

/// The bot's identity.
#[utoipa::path(get, path = "/api/v1/bot", operation_id = "getBotSettings", tag = "bot", security(("bearer" = [])),
    responses((status = 200, body = BotSettings), (status = 403, description = "Not an owner")))]
async fn read(State(state): State<AppState>, user: AuthUser) -> Result<Json<BotSettings>> {
    user.require_owner()?;
    Ok(Json(get_bot_settings(&state, &user).await?))
}

/// The shop's bot settings (the defaults until the owner changes them).
pub(crate) async fn get_bot_settings(state: &AppState, user: &AuthUser) -> Result<BotSettings> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    let settings = bot_settings::get(&mut tx).await?;
    tx.commit().await?;
    Ok(settings)
}

/// Replaces the bot's identity.
#[utoipa::path(put, path = "/api/v1/bot", operation_id = "replaceBotSettings",
    tag = "bot", request_body = BotSettingsInput, security(("bearer" = [])),
    responses((status = 200, body = BotSettings), (status = 403, description = "Not an owner"),
              (status = 422, description = "Invalid fields")))]
async fn replace(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<BotSettingsInput>,
) -> Result<Json<BotSettings>> {
    Ok(Json(replace_bot_settings(&state, &user, input).await?))
}

/// Validates and stores every field of the bot's identity.
pub(crate) async fn replace_bot_settings(
    state: &AppState,
    user: &AuthUser,
    input: BotSettingsInput,
) -> Result<BotSettings> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let mut input = input;
    if input.time_zone.is_none() {
        input.time_zone = Some(bot_settings::get_for_update(&mut tx).await?.time_zone);
    }
    let fields = validate(input)?;
    let settings = bot_settings::put(&mut tx, &fields).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "bot.updated",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(settings)
}

/// Changes some fields of the bot's identity.
#[utoipa::path(patch, path = "/api/v1/bot", operation_id = "patchBotSettings",
    tag = "bot", request_body = BotSettingsPatch, security(("bearer" = [])),
    responses((status = 200, body = BotSettings), (status = 403, description = "Not an owner"),
              (status = 422, description = "Invalid fields")))]
async fn patch(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(patch): ApiJson<BotSettingsPatch>,
) -> Result<Json<BotSettings>> {
    Ok(Json(patch_bot_settings(&state, &user, patch).await?))
}

/// Applies `patch` to the stored settings (read and written under a row lock, so concurrent patches of
/// different fields both land), validating the result as PUT does.
pub(crate) async fn patch_bot_settings(
    state: &AppState,
    user: &AuthUser,
    patch: BotSettingsPatch,
) -> Result<BotSettings> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let current = bot_settings::get_for_update(&mut tx).await?;
    let business_hours = match patch.business_hours {
        Some(hours) => hours,
        None => serde_json::from_value(current.business_hours)
            .map_err(|e| anyhow::anyhow!("stored business hours are unreadable: {e}"))?,
    };
    let input = BotSettingsInput {
        bot_name: patch.bot_name.unwrap_or(current.bot_name),
        tone: patch.tone.unwrap_or(current.tone),
        language: patch.language.unwrap_or(current.language),
        instructions: patch.instructions.unwrap_or(current.instructions),
        business_hours,
        out_of_hours_message: patch
            .out_of_hours_message
            .unwrap_or(current.out_of_hours_message),
        time_zone: Some(patch.time_zone.unwrap_or(current.time_zone)),
    };
    let fields = validate(input)?;
    let settings = bot_settings::put(&mut tx, &fields).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "bot.updated",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(settings)
}

fn validate(input: BotSettingsInput) -> Result<BotSettingsFields> {
    let mut check = Check::default();
    let bot_name = check.text("bot_name", &input.bot_name, 1, 60);
    let tone = input.tone.trim().to_lowercase();
    if !TONES.contains(&tone.as_str()) {
        check.fail(
            "tone",
            "Ton inconnu : friendly, professional, casual ou enthusiastic.",
        );
    }
    let language = input.language.trim().to_lowercase();
    if !["fr", "en", "auto"].contains(&language.as_str()) {
        check.fail("language", "Langue inconnue : fr, en ou auto.");
    }
    let instructions = check.text("instructions", &input.instructions, 0, 4000);
    let out_of_hours_message =
        check.text("out_of_hours_message", &input.out_of_hours_message, 0, 1000);
    if input.business_hours.len() > 21 {
        check.fail("business_hours", "Trois créneaux par jour au maximum.");
    }
    for (i, slot) in input.business_hours.iter().enumerate() {
        let field = format!("business_hours[{i}]");
        if slot.day > 6 {
            check.fail(&field, "Le jour doit être entre 0 (lundi) et 6 (dimanche).");
        }
        match (minutes(&slot.open), minutes(&slot.close)) {
            (Some(open), Some(close)) if open < close => {}
            (Some(_), Some(_)) => check.fail(
                &field,
                "L'heure de fermeture doit suivre l'heure d'ouverture.",
            ),
            _ => check.fail(&field, "Heures au format HH:MM, par exemple 08:00."),
        }
    }
    let time_zone = input
        .time_zone
        .as_deref()
        .map_or(DEFAULT_TIME_ZONE, str::trim)
        .to_owned();
    if time_zone.parse::<chrono_tz::Tz>().is_err() {
        check.fail(
            "time_zone",
            "Fuseau horaire inconnu : indiquez un nom comme Africa/Abidjan ou Africa/Douala.",
        );
    }
    check.finish()?;
    let business_hours =
        serde_json::to_value(&input.business_hours).unwrap_or(Value::Array(Vec::new()));
    Ok(BotSettingsFields {
        bot_name,
        tone,
        language,
        instructions,
        business_hours,
        out_of_hours_message,
        time_zone,
    })
}

/// "08:30" → 510; anything else → None.
fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::minutes;

    #[test]
    fn times_are_hh_mm() {
        assert_eq!(minutes("08:30"), Some(510));
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("8:30"), None);
        assert_eq!(minutes("24:01"), None);
        assert_eq!(minutes("12:60"), None);
    }
}
