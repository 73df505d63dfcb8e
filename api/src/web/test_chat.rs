//! "Test your bot": a chat box that talks to the bot through the simulator channel, so the owner sees exactly
//! what customers would get (same pipeline, same catalogue, same assistant), before or after paying. The
//! owner may send a voice note or a photo too (a multipart form; the plain form still posts text).

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use schemas::Channel;
use serde::Deserialize;
use store::{chats, messages};

use super::conversations::{MessageView, message_views};
use super::error::{WebError, WebResult};
use super::form::{Posted, verify};
use super::session::Session;
use super::view::{Chrome, Flash, render};
use crate::AppState;
use crate::media::{Upload, limit_body, read_form, upload_body_limit};
use crate::simulator::{SimulatedMessage, declared_length, is_multipart};

/// The pretend customer of the test chat (one per shop, shared by its users).
const TEST_NUMBER: &str = "+225 07 00 00 00 00";

/// How many messages the test chat shows.
const SHOWN: i64 = 60;

pub fn router() -> Router<AppState> {
    // Uploads are limited by the media configuration, in the handler.
    Router::new().route(
        "/app/test",
        get(page).post(send).layer(DefaultBodyLimit::disable()),
    )
}

#[derive(askama::Template)]
#[template(path = "test_chat.html")]
struct TestTemplate {
    chrome: Chrome,
    messages: Vec<MessageView>,
    error: String,
    text: String,
}

fn test_jid() -> String {
    TEST_NUMBER.chars().filter(char::is_ascii_digit).collect()
}

async fn transcript(state: &AppState, session: &Session) -> WebResult<Vec<MessageView>> {
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let chat = chats::find(&mut tx, Channel::Simulator, &test_jid()).await?;
    let list = match chat {
        Some(chat) => messages::latest(&mut tx, chat.chat_id, SHOWN).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    Ok(message_views(session.lang, &state.media, &list))
}

/// The simulator: talk to the shop's bot as a customer would.
#[utoipa::path(
    get,
    path = "/app/test",
    operation_id = "testChatPage",
    tag = "pages",
    responses(crate::openapi::pages::SignedInPage)
)]
async fn page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    let chrome = Chrome::load(&state, &session, "test", "test.title", flash).await?;
    render(&TestTemplate {
        messages: transcript(&state, &session).await?,
        error: String::new(),
        text: String::new(),
        chrome,
    })
}

#[derive(Deserialize)]
struct SendForm {
    #[serde(default)]
    text: String,
}

/// Posts the owner's test message: a plain form (text), or a multipart one that may carry a voice note or
/// a photo.
async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> WebResult<Response> {
    let (session, text, file) = if is_multipart(&request) {
        let declared = declared_length(&request);
        let (mut parts, body) = limit_body(request, upload_body_limit(&state.media)).into_parts();
        let session = Session::from_request_parts(&mut parts, &state).await?;
        let multipart = Multipart::from_request(Request::from_parts(parts, body), &state)
            .await
            .map_err(|_| crate::Error::BadRequest("Formulaire illisible.".into()))?;
        // The token comes first in the form: a forged upload is refused before its file is read.
        let check_token = |fields: &[(String, String)]| {
            let token = fields
                .iter()
                .find(|(name, _)| name == "_csrf")
                .map_or("", |(_, value)| value.as_str());
            verify(&session, token)
        };
        let form = read_form::<WebError>(multipart, &state.media, declared, check_token).await?;
        verify(&session, &form.text("_csrf"))?;
        (session, form.text("text"), form.file)
    } else {
        let Posted { session, form } = Posted::<SendForm>::from_request(request, &state).await?;
        (session, form.text, None)
    };
    send_as_customer(&state, &headers, &session, text, file).await
}

async fn send_as_customer(
    state: &AppState,
    headers: &HeaderMap,
    session: &Session,
    text: String,
    file: Option<Upload>,
) -> WebResult<Response> {
    let message = SimulatedMessage {
        from: TEST_NUMBER.into(),
        // No name: the bot greets a nameless customer plainly instead of "Bonjour Client".
        name: String::new(),
        text: text.clone(),
        client_message_id: None,
    };
    let error = match crate::simulator::send_simulated(state, &session.user, message, file).await {
        Ok(_) if headers.contains_key("x-async") => {
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        Ok(_) => return Ok(Redirect::to("/app/test").into_response()),
        // Shown next to the form: a mistake in the message or the file, or the month's media used up.
        Err(crate::Error::Validation(errors)) => errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        Err(crate::Error::PlanLimit(message)) => message,
        Err(other) => return Err(other.into()),
    };
    let chrome = Chrome::load(state, session, "test", "test.title", Flash::default()).await?;
    let page = render(&TestTemplate {
        messages: transcript(state, session).await?,
        error,
        text,
        chrome,
    })?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
