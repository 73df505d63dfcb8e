//! "Test your bot": a chat box that talks to the bot through the simulator channel, so the owner sees exactly
//! what customers would get (same pipeline, same catalogue, same assistant), before or after paying.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use schemas::Channel;
use serde::Deserialize;
use store::{chats, messages};

use super::conversations::{MessageView, message_views};
use super::error::WebResult;
use super::form::Posted;
use super::session::Session;
use super::view::{Chrome, Flash, render};
use crate::AppState;
use crate::simulator::SimulatedMessage;

/// The pretend customer of the test chat (one per shop, shared by its users).
const TEST_NUMBER: &str = "+225 07 00 00 00 00";

/// How many messages the test chat shows.
const SHOWN: i64 = 60;

pub fn router() -> Router<AppState> {
    Router::new().route("/app/test", get(page).post(send))
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
    Ok(message_views(session.lang, &list))
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

async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<SendForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let message = SimulatedMessage {
        from: TEST_NUMBER.into(),
        // No name: the bot greets a nameless customer plainly instead of "Bonjour Client".
        name: String::new(),
        text: form.text.clone(),
        client_message_id: None,
    };
    match crate::simulator::send_simulated(&state, &session.user, message).await {
        Ok(_) if headers.contains_key("x-async") => Ok(StatusCode::ACCEPTED.into_response()),
        Ok(_) => Ok(Redirect::to("/app/test").into_response()),
        Err(crate::Error::Validation(errors)) => {
            let chrome =
                Chrome::load(&state, &session, "test", "test.title", Flash::default()).await?;
            let page = render(&TestTemplate {
                messages: transcript(&state, &session).await?,
                error: errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default(),
                text: form.text,
                chrome,
            })?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
