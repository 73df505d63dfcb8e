//! Linking the shop's WhatsApp number: `POST /api/v1/whatsapp/connect`, `GET /api/v1/whatsapp`,
//! `GET /api/v1/whatsapp/events` (Server-Sent Events: status changes and QR codes as they rotate) and
//! `POST /api/v1/whatsapp/logout`. Commands go to the ingress node that owns the tenant over NATS
//! request/reply; live events come back on a core NATS subject (never stored: a QR code is a credential).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt, stream};
use schemas::whatsapp::{WaCommand, WaCommandReply, WaEvent};
use serde::{Deserialize, Serialize};
use store::audit;
use store::users::Role;
use store::whatsapp_sessions;

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
}

/// How long the api waits for an ingress node to take a command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// `disconnected`, `waiting_for_scan`, `connecting`, `connected`, `logged_out` or `banned`.
    pub status: String,
    /// Why, in French (e.g. "QR code expiré, relancez la connexion").
    pub detail: String,
    /// The linked number, once connected.
    pub phone_number: Option<String>,
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl WaConnection {
    pub(crate) async fn load(state: &AppState, user: &AuthUser) -> Result<Self> {
        let mut tx = state.db.tenant(user.ctx()).await?;
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
                status: "disconnected".into(),
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
#[utoipa::path(get, path = "/api/v1/whatsapp", tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, body = WaConnection)))]
async fn status(State(state): State<AppState>, user: AuthUser) -> Result<Json<WaConnection>> {
    Ok(Json(WaConnection::load(&state, &user).await?))
}

/// Starts linking the shop's number; QR or pairing codes then arrive on `/api/v1/whatsapp/events`.
#[utoipa::path(post, path = "/api/v1/whatsapp/connect", tag = "whatsapp", request_body = ConnectRequest,
    security(("bearer" = [])),
    responses((status = 202, body = CommandAccepted), (status = 403), (status = 409), (status = 422),
              (status = 503, description = "No ingress node available")))]
async fn connect(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ConnectRequest>,
) -> Result<(StatusCode, Json<CommandAccepted>)> {
    start_connect(&state, &user, req).await
}

/// Validates a connect request and sends it to the ingress (shared by the REST endpoint and the dashboard).
pub(crate) async fn start_connect(
    state: &AppState,
    user: &AuthUser,
    req: ConnectRequest,
) -> Result<(StatusCode, Json<CommandAccepted>)> {
    require_owner(user)?;
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
#[utoipa::path(post, path = "/api/v1/whatsapp/logout", tag = "whatsapp", security(("bearer" = [])),
    responses((status = 202, body = CommandAccepted), (status = 403), (status = 409), (status = 503)))]
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, Json<CommandAccepted>)> {
    require_owner(&user)?;
    audited_command(&state, &user, &WaCommand::Logout, "whatsapp.logout").await
}

/// Live connection events as Server-Sent Events: `status` first (the stored state), then `status`, `qr` and
/// `pairing_code` events as they happen. QR events carry the string to encode and a ready-to-show SVG.
#[utoipa::path(get, path = "/api/v1/whatsapp/events", tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream")))]
async fn events(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    Ok(Sse::new(live_events(&state, &user).await?).keep_alive(KeepAlive::default()))
}

/// The stored status, then live events (shared by the REST endpoint and the dashboard).
pub(crate) async fn live_events(
    state: &AppState,
    user: &AuthUser,
) -> Result<impl Stream<Item = Result<Event, Infallible>> + Send + use<>> {
    // Subscribe before reading the stored status, so no change falls between the two.
    let subscription = state
        .nats
        .subscribe(state.subjects.wa_events(user.tenant_id))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot subscribe to WhatsApp events");
            Error::Unavailable
        })?;
    let current = WaConnection::load(state, user).await?;
    let first = Event::default()
        .event("status")
        .json_data(&current)
        .unwrap_or_default();
    let live = subscription.filter_map(|message| async move {
        let event: WaEvent = serde_json::from_slice(&message.payload).ok()?;
        Some(Ok(sse_event(event)))
    });
    Ok(stream::once(async move { Ok(first) }).chain(live))
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

fn require_owner(user: &AuthUser) -> Result<()> {
    if user.role == Role::Owner {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Sends a command, then records it in the audit log once an ingress node accepted it.
pub(crate) async fn audited_command(
    state: &AppState,
    user: &AuthUser,
    command: &WaCommand,
    action: &str,
) -> Result<(StatusCode, Json<CommandAccepted>)> {
    let reply = send_command(state, user, command).await?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    audit::record(&mut tx, Some(user.user_id), action, serde_json::json!({})).await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CommandAccepted {
            message: reply.message,
        }),
    ))
}

/// Sends a command to the ingress node that owns (or takes) the tenant, and returns its answer.
async fn send_command(
    state: &AppState,
    user: &AuthUser,
    command: &WaCommand,
) -> Result<WaCommandReply> {
    let payload = serde_json::to_vec(command).map_err(anyhow::Error::from)?;
    let subject = state.subjects.wa_command(user.tenant_id);
    let request = state.nats.request(subject, payload.into());
    let response = match tokio::time::timeout(COMMAND_TIMEOUT, request).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no ingress node answered a WhatsApp command");
            return Err(Error::Unavailable);
        }
        Err(_) => return Err(Error::Unavailable),
    };
    let reply: WaCommandReply =
        serde_json::from_slice(&response.payload).map_err(anyhow::Error::from)?;
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
