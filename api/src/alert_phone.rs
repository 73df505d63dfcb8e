//! `GET|PUT /api/v1/bot/alert-phone` (owner only): the number that gets a WhatsApp message when the bot hands
//! a conversation over to the shop (it could not help the customer). Empty: alerts only on the dashboard.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use store::{audit, bot_settings};

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::phone::PhoneNumber;
use crate::validate::Check;
use crate::{AppState, Result};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/bot/alert-phone", get(read).put(replace))
}

/// The alert number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertPhone {
    /// An Ivorian number (`07 07 07 07 07`) or an international one (`+33 6 …`); `""` for none. Answered in
    /// international form (`+2250707070707`).
    pub phone: String,
}

/// The alert number (`""`: none).
#[utoipa::path(get, path = "/api/v1/bot/alert-phone", operation_id = "getAlertPhone", tag = "bot",
    security(("bearer" = [])),
    responses((status = 200, body = AlertPhone), (status = 403, description = "Not an owner")))]
async fn read(State(state): State<AppState>, user: AuthUser) -> Result<Json<AlertPhone>> {
    Ok(Json(get_alert_phone(&state, &user).await?))
}

pub(crate) async fn get_alert_phone(state: &AppState, user: &AuthUser) -> Result<AlertPhone> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let digits = bot_settings::alert_phone(&mut tx).await?;
    tx.commit().await?;
    Ok(AlertPhone::of_digits(&digits))
}

/// Sets or removes the alert number.
#[utoipa::path(put, path = "/api/v1/bot/alert-phone", operation_id = "replaceAlertPhone", tag = "bot",
    request_body = AlertPhone, security(("bearer" = [])),
    responses((status = 200, body = AlertPhone), (status = 403, description = "Not an owner"),
              (status = 422, description = "Not a phone number")))]
async fn replace(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<AlertPhone>,
) -> Result<Json<AlertPhone>> {
    Ok(Json(replace_alert_phone(&state, &user, &input).await?))
}

pub(crate) async fn replace_alert_phone(
    state: &AppState,
    user: &AuthUser,
    input: &AlertPhone,
) -> Result<AlertPhone> {
    user.require_owner()?;
    let digits = if input.phone.trim().is_empty() {
        String::new()
    } else {
        let mut check = Check::default();
        let phone = crate::phone::field(&mut check, "phone", &input.phone);
        check.finish()?;
        phone
            .map(|p: PhoneNumber| p.digits().to_owned())
            .unwrap_or_default()
    };
    let mut tx = state.db.tenant(user.ctx()).await?;
    bot_settings::set_alert_phone(&mut tx, &digits).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "bot.alert_phone_updated",
        serde_json::json!({ "set": !digits.is_empty() }),
    )
    .await?;
    tx.commit().await?;
    Ok(AlertPhone::of_digits(&digits))
}

impl AlertPhone {
    /// The stored digits (`2250707070707`, or empty) as the API answers them (`+2250707070707`).
    fn of_digits(digits: &str) -> Self {
        AlertPhone {
            phone: if digits.is_empty() {
                String::new()
            } else {
                format!("+{digits}")
            },
        }
    }
}
