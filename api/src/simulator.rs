//! `POST /api/v1/simulator/messages`: the dashboard's "test your bot" chat. It publishes exactly what the
//! WhatsApp ingress publishes, on the same subject and through the same `tdj_nats::publish_inbound`, so the
//! whole pipeline is exercised; the bot's replies are stored and read through the conversation endpoints.
//! Each shop may send `SIMULATOR_RATE_PER_MINUTE` test messages a minute, and the language model answers
//! its plan's monthly allowance of them (the offline assistant beyond, said so in the reply).
//! Simulator chats are answered (a preview) even before the shop has paid — but not while the platform
//! operator suspends the shop: the bot is silent to customers then, and a test chat that answered would make
//! the owner believe it works (403, with the reason).
//!
//! A test message may carry a voice note or a photo, posted as `multipart/form-data` (field `file`, the
//! message's other fields beside it): refused past `MEDIA_MAX_BYTES` or when its bytes are neither a photo
//! nor an audio format, counted against the plan's monthly media allowance, then stored sealed and referenced
//! by the published message, as the ingress does with a customer's.

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use schemas::{Attachment, Channel, InboundMessage};
use serde::{Deserialize, Serialize};
use tdj_nats::{PublishInboundError, publish_inbound};
use uuid::Uuid;

use crate::admin::suspension::{Refused, refuse_if_suspended};
use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::media::{Upload, check_upload, limit_body, read_form, store_upload, upload_body_limit};
use crate::phone;
use crate::validate::{self, Check};
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    // The body limit is the media configuration's, applied by the handler.
    Router::new().route(
        "/api/v1/simulator/messages",
        post(send).layer(DefaultBodyLimit::disable()),
    )
}

/// Largest JSON body (the server-wide limit of JSON requests).
const MAX_JSON_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedMessage {
    /// The pretend customer's phone number: Ivorian as typed locally ("07 00 00 00 00") or international
    /// ("+225 07 00 00 00 00", "+33 6 12 34 56 78"); normalised to E.164, refused if it is not a number.
    pub from: String,
    /// The pretend customer's WhatsApp name.
    #[serde(default)]
    pub name: String,
    /// The text, or the caption of the file sent with it (optional then).
    #[serde(default)]
    pub text: String,
    /// Optional client id: sending the same id twice delivers the message once.
    #[serde(default)]
    pub client_message_id: Option<String>,
}

/// The same message as `multipart/form-data`, with a voice note or a photo.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "documents the multipart body, read field by field"
)]
pub struct SimulatedUpload {
    pub from: String,
    pub name: Option<String>,
    /// The caption.
    pub text: Option<String>,
    pub client_message_id: Option<String>,
    /// A voice note (OGG, MP3, M4A, WAV, WebM) or a photo (JPEG, PNG, WebP), told by its bytes, at most
    /// `MEDIA_MAX_BYTES` (10 Mo by default).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SimulatedAccepted {
    pub wa_message_id: String,
    /// The NATS subject token of the chat.
    pub chat_key: String,
}

/// Sends a message to the shop's bot as a customer would; the reply arrives in the conversation. JSON for
/// text; `multipart/form-data` to send a voice note or a photo: fields `from`, `name`, `text` (the caption),
/// `client_message_id` and `file` (OGG, MP3, M4A, WAV or WebM audio, or a JPEG, PNG or WebP photo, told by its
/// bytes, at most `MEDIA_MAX_BYTES`). The document declares the JSON body only: generated clients do not handle
/// one operation with two body types.
#[utoipa::path(post, path = "/api/v1/simulator/messages", operation_id = "sendSimulatedMessage",
    tag = "conversations",
    request_body = SimulatedMessage,
    security(("bearer" = [])),
    responses((status = 202, body = SimulatedAccepted),
              (status = 402, description = "The plan's monthly media allowance is used up (`plan_limit_reached`)"),
              (status = 403, description = "The operator suspended the shop (`shop_suspended`, with the reason)"),
              (status = 422, description = "Invalid fields, among them `file`: too large, or neither a photo nor a voice note"),
              (status = 429, description = "Too many test messages this minute"),
              (status = 503, description = "NATS unavailable")))]
async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    request: Request,
) -> Result<(StatusCode, Json<SimulatedAccepted>)> {
    let (message, file) = if is_multipart(&request) {
        let declared = declared_length(&request);
        let request = limit_body(request, upload_body_limit(&state.media));
        let multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|_| Error::BadRequest("Formulaire illisible.".into()))?;
        let form = read_form(multipart, &state.media, declared, |_| Ok::<_, Error>(())).await?;
        let message = SimulatedMessage {
            from: form.text("from"),
            name: form.text("name"),
            text: form.text("text"),
            client_message_id: form.optional("client_message_id"),
        };
        (message, form.file)
    } else {
        let request = limit_body(request, MAX_JSON_BYTES);
        let ApiJson(message) = ApiJson::<SimulatedMessage>::from_request(request, &state).await?;
        (message, None)
    };
    let accepted = send_simulated(&state, &user, message, file).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// Whether the request is a `multipart/form-data` form (an upload).
pub(crate) fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// The request's `Content-Length`, if it sent one.
pub(crate) fn declared_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Publishes `message` (with `file`, a voice note or a photo, stored first) as a customer's inbound message
/// of the shop, on the subject the WhatsApp ingress uses; the bot's reply arrives in the conversation
/// (`chat_key` or its chat id).
pub(crate) async fn send_simulated(
    state: &AppState,
    user: &AuthUser,
    message: SimulatedMessage,
    file: Option<Upload>,
) -> Result<SimulatedAccepted> {
    state.simulator_limiter.check_key(&user.tenant_id)?;
    refuse_if_suspended(state, user.ctx(), Refused::TestChat).await?;
    let mut check = Check::default();
    let from = phone::field(&mut check, "from", &message.from);
    let name = check.text("name", &message.name, 0, 60);
    // A photo or a voice note says it all: its caption is optional.
    let min_text = usize::from(file.is_none());
    let text = check.text(
        "text",
        &message.text,
        min_text,
        schemas::MAX_CUSTOMER_TEXT_CHARS,
    );
    let client_id = validate::client_message_id(
        &mut check,
        "client_message_id",
        message.client_message_id.as_deref(),
    );
    let media = file
        .as_ref()
        .and_then(|file| check_upload(&mut check, &state.media, file));
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
    let attachment: Option<Attachment> = match (media, &file) {
        (Some(media), Some(file)) => {
            Some(store_upload(state, user, &wa_message_id, media, &file.bytes).await?)
        }
        _ => None,
    };
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
        attachment,
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
