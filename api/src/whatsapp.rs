//! Linking the shop's WhatsApp number: `POST /api/v1/whatsapp/connect`, `GET /api/v1/whatsapp`,
//! `GET /api/v1/whatsapp/events` (Server-Sent Events: the stored status, the QR or pairing code shown right
//! now, then status changes and codes as they rotate) and `POST /api/v1/whatsapp/logout`; with the sandbox
//! gateway, `POST /api/v1/whatsapp/sandbox/scan` and `POST /api/v1/whatsapp/sandbox/messages` play the phone
//! and a customer. Commands go to the ingress node that owns the tenant over NATS request/reply; live events
//! come back on a core NATS subject (never stored: a QR code is a credential).
//!
//! The REST handlers are thin wrappers over the `pub(crate)` functions below, which the dashboard's pages
//! call with their cookie-authenticated [`AuthUser`].

use std::convert::Infallible;
use std::time::Duration;

use async_nats::Subject;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{Stream, StreamExt, stream};
use schemas::whatsapp::{SandboxMedia, WaCommand, WaCommandReply, WaEvent, WaStatus};
use schemas::{Location, MediaKind};
use serde::{Deserialize, Serialize};
use store::{TenantCtx, audit, whatsapp_sessions};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/whatsapp", get(status))
        .route("/api/v1/whatsapp/connect", post(connect))
        .route("/api/v1/whatsapp/logout", post(logout))
        .route("/api/v1/whatsapp/events", get(events))
        .route("/api/v1/whatsapp/sandbox/scan", post(sandbox_scan))
        .route(
            "/api/v1/whatsapp/sandbox/messages",
            post(sandbox_message).layer(DefaultBodyLimit::max(SANDBOX_MESSAGE_BODY_BYTES)),
        )
}

/// Largest media a sandbox message carries, decoded: the command travels on core NATS (1 MiB a message by
/// default), base64 and all. A larger file is announced with `declared_size` instead.
const SANDBOX_MEDIA_MAX_BYTES: usize = 700_000;

/// Largest sandbox message body: the media's base64 and the JSON around it.
const SANDBOX_MESSAGE_BODY_BYTES: usize = 1024 * 1024;

/// How long the api waits for an ingress node to take a command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new event stream waits for the QR or pairing code shown right now; without an answer the
/// stream goes on with live events only.
const LIVE_STATE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// `qr` (scan a QR code, the default) or `pairing_code` (type a code on the phone).
    #[serde(default)]
    pub mode: Option<String>,
    /// The shop's number in international format, for `pairing_code`, e.g. "2250700000000".
    #[serde(default)]
    pub phone: Option<String>,
}

/// The shop's WhatsApp connection as the dashboard shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaConnection {
    pub status: WaStatus,
    /// Why, in French (e.g. "QR code expiré, relancez la connexion").
    pub detail: String,
    /// The linked number, once connected.
    pub phone_number: Option<String>,
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A customer message played in sandbox mode.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxMessageRequest {
    /// The customer's number in international format, e.g. "2250701020304".
    pub from: String,
    /// The customer's WhatsApp name.
    #[serde(default)]
    pub name: String,
    /// The text, or the media's caption; optional with media or a location.
    #[serde(default)]
    pub text: String,
    /// A voice note, photo or other media the customer sends.
    #[serde(default)]
    pub media: Option<SandboxMediaRequest>,
    /// A location the customer shares.
    #[serde(default)]
    pub location: Option<SandboxLocationRequest>,
}

/// Media in a sandbox customer message: what WhatsApp would announce, and the bytes a download would return.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxMediaRequest {
    pub kind: MediaKind,
    /// As the customer's phone would declare it, e.g. `audio/ogg; codecs=opus`, `image/jpeg`.
    pub mime: String,
    /// Base64 (standard alphabet) of the bytes, at most 700 000 bytes once decoded: sandbox commands travel
    /// on core NATS. May be empty for the kinds the bot does not read (video, document, sticker).
    #[serde(default)]
    pub data_base64: String,
    /// A recorded voice note (push-to-talk) rather than an audio file.
    #[serde(default)]
    pub voice: bool,
    /// Length of an audio or video, in seconds.
    #[serde(default)]
    pub seconds: Option<u32>,
    /// A document's file name.
    #[serde(default)]
    pub file_name: Option<String>,
    /// The size WhatsApp announces (larger than the bytes sent, to try the size limit); the bytes' length
    /// when absent.
    #[serde(default)]
    pub declared_size: Option<u64>,
}

/// A location a sandbox customer shares.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxLocationRequest {
    /// -90 to 90.
    pub latitude: f64,
    /// -180 to 180.
    pub longitude: f64,
    /// The place's name, when the customer picked one.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

impl WaConnection {
    pub(crate) async fn load(state: &AppState, user: &AuthUser) -> Result<Self> {
        Self::of_tenant(state, user.tenant_id).await
    }

    async fn of_tenant(state: &AppState, tenant_id: Uuid) -> Result<Self> {
        let mut tx = state.db.tenant(TenantCtx::new(tenant_id)).await?;
        let session = whatsapp_sessions::get(&mut tx).await?;
        tx.commit().await?;
        Ok(match session {
            Some(s) => WaConnection {
                status: s.status,
                detail: s.status_detail,
                phone_number: s.phone_number,
                last_seen_at: s.last_seen_at,
            },
            None => WaConnection {
                status: WaStatus::Disconnected,
                detail: String::new(),
                phone_number: None,
                last_seen_at: None,
            },
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommandAccepted {
    pub message: String,
}

/// The shop's WhatsApp connection status.
#[utoipa::path(get, path = "/api/v1/whatsapp", operation_id = "getWhatsappStatus",
    tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, body = WaConnection)))]
async fn status(State(state): State<AppState>, user: AuthUser) -> Result<Json<WaConnection>> {
    Ok(Json(connection_status(&state, &user).await?))
}

/// Starts linking the shop's number; QR or pairing codes then arrive on `/api/v1/whatsapp/events`.
#[utoipa::path(post, path = "/api/v1/whatsapp/connect", operation_id = "connectWhatsapp",
    tag = "whatsapp", request_body = ConnectRequest,
    security(("bearer" = [])),
    responses((status = 202, body = CommandAccepted), (status = 403), (status = 409), (status = 422),
              (status = 503, description = "No ingress node available")))]
async fn connect(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ConnectRequest>,
) -> Result<(StatusCode, Json<CommandAccepted>)> {
    let accepted = connect_number(&state, &user, req.mode.as_deref(), req.phone.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// The shop's connection as stored (`GET /api/v1/whatsapp`); every role may see it.
pub(crate) async fn connection_status(state: &AppState, user: &AuthUser) -> Result<WaConnection> {
    WaConnection::load(state, user).await
}

/// Starts linking the shop's number (`POST /api/v1/whatsapp/connect`): `mode` `None` or `"qr"` for a QR
/// code, `"pairing_code"` with `phone` (international format) for a code typed on the phone. Owner only,
/// audited. Errors: 403, 422 (fields `mode`, `phone`), 409 (refused by the ingress, French message), 503 (no
/// ingress node).
pub(crate) async fn connect_number(
    state: &AppState,
    user: &AuthUser,
    mode: Option<&str>,
    phone: Option<&str>,
) -> Result<CommandAccepted> {
    let req = ConnectRequest {
        mode: mode.map(str::to_owned),
        phone: phone.map(str::to_owned),
    };
    start_connect(state, user, req).await
}

/// Validates a connect request and sends it to the ingress (see [`connect_number`]).
pub(crate) async fn start_connect(
    state: &AppState,
    user: &AuthUser,
    req: ConnectRequest,
) -> Result<CommandAccepted> {
    user.require_owner()?;
    let mut check = Check::default();
    let pairing_phone = match req.mode.as_deref().unwrap_or("qr") {
        "qr" => None,
        "pairing_code" => crate::phone::field(
            &mut check,
            "phone",
            req.phone.as_deref().unwrap_or_default(),
        )
        .map(|phone| phone.digits().to_owned()),
        _ => {
            check.fail("mode", "Mode inconnu : qr ou pairing_code.");
            None
        }
    };
    check.finish()?;
    audited_command(
        state,
        user,
        &WaCommand::Connect { pairing_phone },
        "whatsapp.connect",
    )
    .await
}

/// Unlinks the shop's number and forgets the session.
#[utoipa::path(post, path = "/api/v1/whatsapp/logout", operation_id = "logoutWhatsapp",
    tag = "whatsapp", security(("bearer" = [])),
    responses((status = 202, body = CommandAccepted), (status = 403), (status = 409), (status = 503)))]
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, Json<CommandAccepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(logout_number(&state, &user).await?),
    ))
}

/// Unlinks the shop's number and forgets the session (`POST /api/v1/whatsapp/logout`). Owner only, audited.
/// Errors: 403, 409, 503.
pub(crate) async fn logout_number(state: &AppState, user: &AuthUser) -> Result<CommandAccepted> {
    user.require_owner()?;
    audited_command(state, user, &WaCommand::Logout, "whatsapp.logout").await
}

/// Sandbox mode only: the shop's phone scans the QR code shown (or types the pairing code), and the number
/// gets connected. Refused with 409 and a French message by an ingress on the real WhatsApp gateway, or
/// when no code is waiting to be scanned.
#[utoipa::path(post, path = "/api/v1/whatsapp/sandbox/scan", operation_id = "simulateWhatsappScan",
    tag = "whatsapp", security(("bearer" = [])),
    responses((status = 202, body = CommandAccepted), (status = 403),
              (status = 409, description = "Not the sandbox gateway, or nothing to scan"),
              (status = 503, description = "No ingress node available")))]
async fn sandbox_scan(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, Json<CommandAccepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(simulate_scan(&state, &user).await?),
    ))
}

/// Sandbox mode only: a customer writes to the shop's linked number. The message takes the real inbound
/// path (ingress, `tdj.in.<tenant>.<chat>`, workers), so the bot's answer is sent back through the sandbox
/// and appears in the conversation. It may carry media (base64, at most 700 000 bytes decoded) or a shared
/// location, the text then being optional. Refused with 409 on the real WhatsApp gateway or before the
/// number is connected.
#[utoipa::path(post, path = "/api/v1/whatsapp/sandbox/messages", operation_id = "simulateWhatsappMessage",
    tag = "whatsapp",
    request_body = SandboxMessageRequest, security(("bearer" = [])),
    responses((status = 202, body = CommandAccepted), (status = 403),
              (status = 409, description = "Not the sandbox gateway, or the number is not connected"),
              (status = 422), (status = 503, description = "No ingress node available")))]
async fn sandbox_message(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<SandboxMessageRequest>,
) -> Result<(StatusCode, Json<CommandAccepted>)> {
    let accepted = simulate_customer_message(
        &state,
        &user,
        &req.from,
        &req.name,
        &req.text,
        req.media.as_ref(),
        req.location.as_ref(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// Sandbox: completes the pending QR code or pairing code as if the phone scanned it
/// (`POST /api/v1/whatsapp/sandbox/scan`). Owner only, audited. Errors: 403, 409 (real gateway, nothing to
/// scan, already connected), 503.
pub(crate) async fn simulate_scan(state: &AppState, user: &AuthUser) -> Result<CommandAccepted> {
    user.require_owner()?;
    let command = WaCommand::SandboxScan { phone_number: None };
    audited_command(state, user, &command, "whatsapp.sandbox.scan").await
}

/// Sandbox: customer `from` (a phone number in international format) named `name` writes `text` to the
/// shop's number, with `media` or a `location` if given (`POST /api/v1/whatsapp/sandbox/messages`). Owner
/// only, audited (without the text). Errors: 403, 422 (fields `from`, `name`, `text`, `media.*`,
/// `location.*`), 409 (real gateway, not connected), 503.
pub(crate) async fn simulate_customer_message(
    state: &AppState,
    user: &AuthUser,
    from: &str,
    name: &str,
    text: &str,
    media: Option<&SandboxMediaRequest>,
    location: Option<&SandboxLocationRequest>,
) -> Result<CommandAccepted> {
    user.require_owner()?;
    let mut check = Check::default();
    let phone = crate::phone::PhoneNumber::parse(from);
    if phone.is_err() {
        check.fail("from", crate::phone::PhoneNumber::MESSAGE);
    }
    let name = check.text("name", name, 0, 60);
    // Media or a location say it all: the text is then a caption, optional.
    let min_text = usize::from(media.is_none() && location.is_none());
    let text = check.text("text", text, min_text, schemas::MAX_CUSTOMER_TEXT_CHARS);
    let media = media.map(|m| Box::new(sandbox_media(&mut check, m)));
    let location = location.map(|l| sandbox_location(&mut check, l));
    check.finish()?;
    let digits = phone.map(|p| p.digits().to_owned()).unwrap_or_default();
    let command = WaCommand::SandboxMessage {
        from: format!("{digits}@s.whatsapp.net"),
        name,
        text,
        media,
        location,
    };
    audited_command(state, user, &command, "whatsapp.sandbox.message").await
}

/// The checked media of a sandbox message, its bytes re-encoded as read.
fn sandbox_media(check: &mut Check, media: &SandboxMediaRequest) -> SandboxMedia {
    let mime = media.mime.trim();
    if mime.is_empty()
        || mime.len() > 100
        || !mime.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        check.fail(
            "media.mime",
            "Type invalide : par exemple audio/ogg ou image/jpeg.",
        );
    }
    let bytes = match BASE64.decode(media.data_base64.trim()) {
        Ok(bytes) if bytes.len() > SANDBOX_MEDIA_MAX_BYTES => {
            check.fail(
                "media.data_base64",
                "Au plus 700 000 octets une fois décodés : annoncez un fichier plus gros avec declared_size.",
            );
            Vec::new()
        }
        Ok(bytes) => bytes,
        Err(_) => {
            check.fail("media.data_base64", "Base64 invalide.");
            Vec::new()
        }
    };
    let file_name = check.optional_text("media.file_name", media.file_name.as_deref(), 255);
    SandboxMedia {
        kind: media.kind,
        mime: mime.to_owned(),
        data_base64: BASE64.encode(&bytes),
        voice: media.voice,
        seconds: media.seconds,
        file_name,
        declared_size: media.declared_size,
    }
}

/// The checked location of a sandbox message.
fn sandbox_location(check: &mut Check, location: &SandboxLocationRequest) -> Location {
    let checked = Location {
        latitude: location.latitude,
        longitude: location.longitude,
        name: check.optional_text("location.name", location.name.as_deref(), 200),
        address: check.optional_text("location.address", location.address.as_deref(), 300),
    };
    if !checked.is_valid() {
        check.fail(
            "location",
            "Coordonnées invalides : latitude entre -90 et 90, longitude entre -180 et 180.",
        );
    }
    checked
}

/// Live connection events as Server-Sent Events: `status` first (the stored state), then the `qr` or
/// `pairing_code` shown right now (if any, with its remaining validity), then `status`, `qr` and
/// `pairing_code` events as they happen. QR events carry the string to encode and a ready-to-show SVG.
#[utoipa::path(get, path = "/api/v1/whatsapp/events", operation_id = "streamWhatsappEvents",
    tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream"), (status = 403, description = "Not an owner")))]
async fn events(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    user: AuthUser,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // The QR or pairing code links a phone to the shop's number: owner only, like connecting.
    user.require_owner()?;
    let token = crate::auth::bearer_token(&headers)
        .ok_or(Error::Unauthenticated)?
        .to_owned();
    let slot = state.live_streams.open(user.tenant_id)?;
    let events = live_events(&state, user.tenant_id).await?;
    let every = std::time::Duration::from_secs(state.config.live_recheck_secs);
    // A revoked or expired token, or an owner who is one no more, stops seeing codes at once.
    let events = crate::live::until_revoked(crate::live::holding(events, slot), every, move || {
        let (state, token) = (state.clone(), token.clone());
        async move {
            crate::auth::authorize(&state, &token)
                .await
                .is_ok_and(|now| now.role == user.role && now.tenant_id == user.tenant_id)
        }
    });
    Ok(Sse::new(events.map(Ok)).keep_alive(KeepAlive::default()))
}

/// Exactly what `GET /api/v1/whatsapp/events` streams for `tenant_id` (the caller checks who may see it):
/// the stored status, the QR or pairing code shown right now (asked of the ingress node that owns the
/// tenant, which keeps it in memory only), then live events. Errors: 503 when NATS is unavailable.
pub(crate) async fn live_events(
    state: &AppState,
    tenant_id: Uuid,
) -> Result<impl Stream<Item = Event> + Send + 'static + use<>> {
    // Subscribe before reading the stored status, so no change falls between the two.
    let subscription = state
        .nats
        .subscribe(state.subjects.wa_events(tenant_id))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot subscribe to WhatsApp events");
            Error::Unavailable
        })?;
    let current = WaConnection::of_tenant(state, tenant_id).await?;
    let first = Event::default()
        .event("status")
        .json_data(&current)
        .unwrap_or_default();
    // Only a connection on its way to linking can show a code.
    let may_show_code = matches!(current.status.as_str(), "waiting_for_scan" | "connecting");
    let nats = state.nats.clone();
    let subject = Subject::from(state.subjects.wa_command(tenant_id));
    let shown_now = stream::once(async move {
        let shown = if may_show_code {
            current_code(&nats, subject).await
        } else {
            Vec::new()
        };
        stream::iter(shown.into_iter().map(sse_event))
    })
    .flatten();
    let live = subscription.filter_map(|message| async move {
        let event: WaEvent = serde_json::from_slice(&message.payload).ok()?;
        Some(sse_event(event))
    });
    Ok(stream::once(async move { first })
        .chain(shown_now)
        .chain(live))
}

/// The QR or pairing code the owning ingress node shows right now; nothing when none is shown or no node
/// answers in time (the next rotation then arrives as a live event).
async fn current_code(nats: &async_nats::Client, subject: Subject) -> Vec<WaEvent> {
    match request(nats, subject, &WaCommand::LiveState, LIVE_STATE_TIMEOUT).await {
        Ok(reply) if reply.accepted => reply
            .live
            .into_iter()
            .filter(|event| matches!(event, WaEvent::Qr { .. } | WaEvent::PairingCode { .. }))
            .collect(),
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::debug!(error = %e, "no current WhatsApp code for a new viewer");
            Vec::new()
        }
    }
}

fn sse_event(event: WaEvent) -> Event {
    match &event {
        WaEvent::Status { .. } => Event::default().event("status"),
        WaEvent::Qr { code, expires_in_secs } => {
            let data = serde_json::json!({ "code": code, "expires_in_secs": expires_in_secs, "svg": qr_svg(code) });
            return Event::default().event("qr").data(data.to_string());
        }
        WaEvent::PairingCode { .. } => Event::default().event("pairing_code"),
    }
    .json_data(&event)
    .unwrap_or_default()
}

/// The QR code as an SVG image the dashboard shows as is.
pub fn qr_svg(code: &str) -> Option<String> {
    let qr = qrcode::QrCode::new(code.as_bytes()).ok()?;
    Some(
        qr.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(256, 256)
            .build(),
    )
}

/// Sends a command, then records it in the audit log once an ingress node accepted it.
pub(crate) async fn audited_command(
    state: &AppState,
    user: &AuthUser,
    command: &WaCommand,
    action: &str,
) -> Result<CommandAccepted> {
    let reply = send_command(state, user, command).await?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    audit::record(&mut tx, Some(user.user_id), action, serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(CommandAccepted {
        message: reply.message,
    })
}

/// One command request; `Unavailable` when no ingress node answers within `timeout`.
async fn request(
    nats: &async_nats::Client,
    subject: Subject,
    command: &WaCommand,
    timeout: Duration,
) -> Result<WaCommandReply> {
    let payload = serde_json::to_vec(command).map_err(anyhow::Error::from)?;
    let response = match tokio::time::timeout(timeout, nats.request(subject, payload.into())).await
    {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no ingress node answered a WhatsApp command");
            return Err(Error::Unavailable);
        }
        Err(_) => return Err(Error::Unavailable),
    };
    Ok(serde_json::from_slice(&response.payload).map_err(anyhow::Error::from)?)
}

/// Sends a command to the ingress node that owns (or takes) the tenant, and returns its answer.
async fn send_command(
    state: &AppState,
    user: &AuthUser,
    command: &WaCommand,
) -> Result<WaCommandReply> {
    let subject = Subject::from(state.subjects.wa_command(user.tenant_id));
    let reply = request(&state.nats, subject, command, COMMAND_TIMEOUT).await?;
    if reply.accepted {
        Ok(reply)
    } else {
        Err(Error::Conflict {
            code: "whatsapp_refused",
            message: reply.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::qr_svg;

    #[test]
    fn qr_codes_render_as_svg() {
        let svg = qr_svg("2@abc,def,ghi,1").expect("renders");
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{}",
            &svg[..80]
        );
    }
}
