//! Linking the shop's WhatsApp number from the dashboard: status, a QR code that refreshes by itself (or a
//! pairing code for an owner with one phone), logout, and in sandbox mode buttons that simulate the scan and a
//! customer. Commands go through the same functions as `/api/v1/whatsapp/*`.

use std::convert::Infallible;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt};
use schemas::whatsapp::WaStatus;
use serde::Deserialize;

use super::billing::require_owner;
use super::error::WebResult;
use super::form::Posted;
use super::session::Session;
use super::view::{Chrome, Flash, render};
use crate::AppState;
use crate::whatsapp::{ConnectRequest, WaConnection};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/whatsapp", get(page))
        .route("/app/whatsapp/connect", post(connect))
        .route("/app/whatsapp/logout", post(logout))
        .route("/app/whatsapp/events", get(events))
        .route("/app/whatsapp/sandbox/scan", post(simulate_scan))
        .route("/app/whatsapp/sandbox/message", post(simulate_customer))
}

/// The linking panel, shown on its own page and in the onboarding.
pub struct WaPanel {
    pub status: String,
    pub label: String,
    pub detail: String,
    pub phone: String,
    pub connected: bool,
}

impl WaPanel {
    pub async fn load(state: &AppState, session: &Session) -> WebResult<Self> {
        let connection = WaConnection::load(state, &session.user).await?;
        let lang = session.lang;
        Ok(WaPanel {
            label: lang
                .t(&format!("wa.status.{}", connection.status))
                .into_owned(),
            connected: connection.status == WaStatus::Connected,
            detail: connection.detail,
            phone: connection
                .phone_number
                .map(|p| crate::phone::PhoneNumber::display(&p))
                .unwrap_or_default(),
            status: connection.status.to_string(),
        })
    }
}

#[derive(askama::Template)]
#[template(path = "whatsapp.html")]
struct WhatsappTemplate {
    chrome: Chrome,
    wa: WaPanel,
    sandbox_whatsapp: bool,
    from: &'static str,
}

/// The WhatsApp connection: status, QR code or pairing code, log out.
#[utoipa::path(
    get,
    path = "/app/whatsapp",
    operation_id = "whatsappPage",
    tag = "pages",
    responses(crate::openapi::pages::OwnerPage)
)]
async fn page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    require_owner(&session)?;
    let chrome = Chrome::load(&state, &session, "whatsapp", "whatsapp.title", flash).await?;
    render(&WhatsappTemplate {
        wa: WaPanel::load(&state, &session).await?,
        sandbox_whatsapp: state.config.whatsapp_sandbox,
        from: "whatsapp",
        chrome,
    })
}

#[derive(Deserialize)]
struct ConnectForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    from: String,
}

fn back_to(from: &str) -> &'static str {
    if from == "onboarding" {
        "/app/onboarding/whatsapp"
    } else {
        "/app/whatsapp"
    }
}

async fn connect(
    State(state): State<AppState>,
    posted: Posted<ConnectForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let request = ConnectRequest {
        mode: Some(
            if form.mode == "pairing_code" {
                "pairing_code"
            } else {
                "qr"
            }
            .to_owned(),
        ),
        phone: (!form.phone.trim().is_empty()).then(|| form.phone.clone()),
    };
    let _accepted = crate::whatsapp::start_connect(&state, &session.user, request).await?;
    Ok(Redirect::to(back_to(&form.from)).into_response())
}

#[derive(Deserialize)]
struct FromForm {
    #[serde(default)]
    from: String,
}

async fn logout(State(state): State<AppState>, posted: Posted<FromForm>) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let _accepted = crate::whatsapp::audited_command(
        &state,
        &session.user,
        &schemas::whatsapp::WaCommand::Logout,
        "whatsapp.logout",
    )
    .await?;
    Ok(Redirect::to(back_to(&form.from)).into_response())
}

/// The connection's live events (status, QR codes, pairing code) for the signed-in shop.
#[utoipa::path(get, path = "/app/whatsapp/events", operation_id = "whatsappEventsStream", tag = "pages",
    responses((status = 200, content_type = "text/event-stream", description = "Server-sent events: status changes, QR codes, pairing code"),
              (status = 303, description = "No live session: to `/login`"),
              (status = 403, body = String, content_type = "text/html", description = "The \"not allowed\" page: the user is not an owner")))]
async fn events(
    State(state): State<AppState>,
    session: Session,
) -> WebResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    require_owner(&session)?;
    let slot = state.live_streams.open(session.user.tenant_id)?;
    let stream = crate::whatsapp::live_events(&state, session.user.tenant_id).await?;
    let every = std::time::Duration::from_secs(state.config.live_recheck_secs);
    let stream = crate::live::until_revoked(crate::live::holding(stream, slot), every, move || {
        let (state, session) = (state.clone(), session.clone());
        async move { session.still_live(&state).await }
    });
    Ok(Sse::new(stream.map(Ok)).keep_alive(KeepAlive::default()))
}

/// Sandbox: the phone "scans" the QR code.
async fn simulate_scan(
    State(state): State<AppState>,
    posted: Posted<FromForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    crate::whatsapp::simulate_scan(&state, &session.user).await?;
    Ok(Redirect::to(back_to(&form.from)).into_response())
}

#[derive(Deserialize)]
struct CustomerForm {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    from: String,
}

/// Sandbox: a customer writes to the shop's number; the message takes the real inbound path.
async fn simulate_customer(
    State(state): State<AppState>,
    posted: Posted<CustomerForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let name = session.lang.t("whatsapp.sandbox.customer_name");
    crate::whatsapp::simulate_customer_message(
        &state,
        &session.user,
        &form.phone,
        &name,
        &form.text,
        None,
        None,
    )
    .await?;
    let to = if form.from == "onboarding" {
        "/app/onboarding/whatsapp?done=sent".to_owned()
    } else {
        "/app/conversations?done=sent".to_owned()
    };
    Ok(Redirect::to(&to).into_response())
}
