//! `POST /api/v1/simulator/messages`: the dashboard's "test your bot" chat. It publishes exactly what the
//! WhatsApp ingress publishes, on the same subject and through the same `tdj_nats::publish_inbound`, so the
//! whole pipeline is exercised; the bot's replies are stored and read through the conversation endpoints.
//! Each shop may send `SIMULATOR_RATE_PER_MINUTE` test messages a minute, and the language model answers
//! its plan's monthly allowance of them (the offline assistant beyond, said so in the reply).
//! Simulator chats are answered (a preview) even before the shop has paid — but not while the platform
//! operator suspends the shop: the bot is silent to customers then, and a test chat that answered would make
//! the owner believe it works (403, with the reason).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use schemas::{Channel, InboundMessage};
use serde::{Deserialize, Serialize};
use tdj_nats::{PublishInboundError, publish_inbound};
use uuid::Uuid;

use crate::admin::suspension::{Refused, refuse_if_suspended};
use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::phone;
use crate::validate::{self, Check};
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/simulator/messages", post(send))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedMessage {
    /// The pretend customer's phone number: Ivorian as typed locally ("07 00 00 00 00") or international
    /// ("+225 07 00 00 00 00", "+33 6 12 34 56 78"); normalised to E.164, refused if it is not a number.
    pub from: String,
    /// The pretend customer's WhatsApp name.
    #[serde(default)]
    pub name: String,
    pub text: String,
    /// Optional client id: sending the same id twice delivers the message once.
    #[serde(default)]
    pub client_message_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SimulatedAccepted {
    pub wa_message_id: String,
    /// The NATS subject token of the chat.
    pub chat_key: String,
}

/// Sends a message to the shop's bot as a customer would; the reply arrives in the conversation.
#[utoipa::path(post, path = "/api/v1/simulator/messages", operation_id = "sendSimulatedMessage",
    tag = "conversations", request_body = SimulatedMessage,
    security(("bearer" = [])),
    responses((status = 202, body = SimulatedAccepted),
              (status = 403, description = "The operator suspended the shop (`shop_suspended`, with the reason)"),
              (status = 422), (status = 429, description = "Too many test messages this minute"),
              (status = 503, description = "NATS unavailable")))]
async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(message): ApiJson<SimulatedMessage>,
) -> Result<(StatusCode, Json<SimulatedAccepted>)> {
    let accepted = send_simulated(&state, &user, message).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// Publishes `message` as a customer's inbound message of the shop, on the subject the WhatsApp ingress
/// uses; the bot's reply arrives in the conversation (`chat_key` or its chat id).
pub(crate) async fn send_simulated(
    state: &AppState,
    user: &AuthUser,
    message: SimulatedMessage,
) -> Result<SimulatedAccepted> {
    state.simulator_limiter.check_key(&user.tenant_id)?;
    refuse_if_suspended(state, user.ctx(), Refused::TestChat).await?;
    let mut check = Check::default();
    let from = phone::field(&mut check, "from", &message.from);
    let name = check.text("name", &message.name, 0, 60);
    let text = check.text("text", &message.text, 1, schemas::MAX_CUSTOMER_TEXT_CHARS);
    let client_id = validate::client_message_id(
        &mut check,
        "client_message_id",
        message.client_message_id.as_deref(),
    );
    check.finish()?;
    let Some(from) = from else {
        return Err(Error::Internal(anyhow::anyhow!(
            "validated phone number missing"
        )));
    };

    let wa_message_id = format!(
        "sim-{}",
        client_id.unwrap_or_else(|| Uuid::new_v4().simple().to_string())
    );
    let inbound = InboundMessage {
        tenant_id: user.tenant_id,
        channel: Channel::Simulator,
        // Like a WhatsApp JID's user part: the E.164 digits, so `sim_<digits>` names the chat.
        customer_jid: from.digits().to_owned(),
        customer_name: name,
        wa_message_id: wa_message_id.clone(),
        text,
        timestamp: Utc::now(),
        from_owner: false,
        attachment: None,
        location: None,
    };
    let chat_key = inbound.chat_key();
    let js = async_nats::jetstream::new(state.nats.clone());
    publish_inbound(&js, &state.subjects, &inbound)
        .await
        .map_err(|e| match e {
            PublishInboundError::Encode(e) => Error::Internal(e.into()),
            PublishInboundError::Publish(e) => {
                tracing::warn!(error = %e, "simulator publish failed");
                Error::Unavailable
            }
            PublishInboundError::Ack(e) => {
                tracing::warn!(error = %e, "simulator publish not acknowledged");
                Error::Unavailable
            }
        })?;
    Ok(SimulatedAccepted {
        wa_message_id,
        chat_key,
    })
}
