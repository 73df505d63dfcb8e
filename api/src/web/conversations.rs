//! Conversations: the chat list with unanswered counts and last message, a transcript that updates by itself,
//! "take over" (the bot stays silent in this chat) and "give back", and replying by hand — the owner's message
//! goes to the customer through the same outbound path as the bot's.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use schemas::commerce::{Author, MessageStatus};
use schemas::{Attachment, Channel, Location, MediaKind, MediaRefusal};
use serde::Deserialize;
use store::media::MediaConfig;
use store::messages::Message;
use store::{dead_letters, messages};

use super::error::WebResult;
use super::form::Posted;
use super::i18n::Lang;
use super::session::Session;
use super::view::{Chrome, Flash, render};
use crate::AppState;
use crate::conversations::{BotPause, ChatRef, HandReply};
use crate::pagination::Page;

/// Messages shown in a transcript (the latest ones).
const SHOWN: i64 = 100;

/// How long "take over" silences the bot in a chat (the owner can give it back sooner).
const TAKEOVER_HOURS: i64 = 12;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/conversations", get(list))
        .route("/app/conversations/{chat}", get(transcript))
        .route("/app/conversations/{chat}/pause", post(pause))
        .route("/app/conversations/{chat}/reply", post(reply))
        .route("/app/dead-letters/{id}/replay", post(replay_dead))
        .route("/app/dead-letters/{id}/discard", post(discard_dead))
}

/// A message as the transcript shows it.
pub struct MessageView {
    pub id: String,
    /// `customer`, `bot` or `owner`: the bubble's side and colour.
    pub author: String,
    /// The text, HTML-escaped, with WhatsApp's *bold* and _italic_ markers rendered.
    pub body_html: String,
    pub who: String,
    pub at: String,
    /// Why it was not answered, or its delivery state.
    pub note: String,
    pub failed: bool,
    /// For a bot reply: the engine, the tools it used, the orders it took ("Gemini · recherche, commande").
    pub turn: String,
    /// A voice note or photo the message carried, or why it is not shown.
    pub media: Option<MediaView>,
    /// What the customer said in a voice note, as the model heard it (empty when unknown).
    pub transcript: String,
    /// A location the customer shared.
    pub location: Option<LocationView>,
}

/// A message's media as the transcript shows it.
pub struct MediaView {
    /// `audio` (a player), `image` (a thumbnail) or `note` (not shown: `note` says why).
    pub show: &'static str,
    /// Where the dashboard serves the bytes.
    pub src: String,
    /// "Message vocal (0:12)", or the photo's alternative text.
    pub label: String,
    pub note: String,
}

/// A shared location: its description and a map link.
pub struct LocationView {
    pub text: String,
    pub url: String,
}

pub fn message_views(lang: Lang, media: &MediaConfig, list: &[Message]) -> Vec<MessageView> {
    let now = Utc::now();
    list.iter()
        .map(|m| MessageView {
            id: m.message_id.to_string(),
            author: m.author.to_string(),
            body_html: whatsapp_markup(&m.body),
            who: lang.t(&format!("chat.author.{}", m.author)).into_owned(),
            at: lang.datetime(m.sent_at),
            note: match m.status {
                MessageStatus::Skipped | MessageStatus::Failed => m.status_detail.clone(),
                MessageStatus::Queued => lang.t("chat.queued").into_owned(),
                MessageStatus::Pending => lang.t("chat.pending").into_owned(),
                MessageStatus::Answered | MessageStatus::Sent => String::new(),
            },
            failed: m.status == MessageStatus::Failed,
            turn: m
                .turn
                .as_ref()
                .map(|t| turn_summary(lang, t))
                .unwrap_or_default(),
            media: m
                .attachment
                .as_ref()
                .map(|a| media_view(lang, media, now, m, a)),
            transcript: m.transcript.clone().unwrap_or_default(),
            location: m.location.as_ref().map(|l| location_view(l)),
        })
        .collect()
}

/// How a message's attachment shows. Customer media expire after the retention period; the transcript
/// tells from the message's age, without opening the media store for every message.
fn media_view(
    lang: Lang,
    config: &MediaConfig,
    now: DateTime<Utc>,
    message: &Message,
    attachment: &Attachment,
) -> MediaView {
    let note = |note: String| MediaView {
        show: "note",
        src: String::new(),
        label: String::new(),
        note,
    };
    let kept = attachment.kind.is_understood() && attachment.refused.is_none();
    let Some(media_id) = attachment.media_id.filter(|_| kept) else {
        return note(refusal_note(lang, config, attachment));
    };
    // Product photos the bot sends are kept; customer media go after the retention period.
    if message.author == Author::Customer && config.expires_at(message.sent_at) <= now {
        return note(lang.t("chat.media.expired").into_owned());
    }
    let src = crate::media::page_url(media_id);
    match attachment.kind {
        MediaKind::Audio => {
            let what = if attachment.voice {
                lang.t("chat.media.voice")
            } else {
                lang.t("chat.media.audio")
            };
            let label = match attachment.seconds {
                Some(seconds) => format!("{what} ({}:{:02})", seconds / 60, seconds % 60),
                None => what.into_owned(),
            };
            MediaView {
                show: "audio",
                src,
                label,
                note: String::new(),
            }
        }
        _ => MediaView {
            show: "image",
            src,
            label: if message.author == Author::Customer {
                lang.t("chat.media.customer_photo").into_owned()
            } else {
                lang.t("chat.media.bot_photo").into_owned()
            },
            note: String::new(),
        },
    }
}

/// Why a customer's media is not shown: a kind the bot does not read, or a voice note or photo not kept.
fn refusal_note(lang: Lang, config: &MediaConfig, attachment: &Attachment) -> String {
    match attachment.kind {
        MediaKind::Video => return lang.t("chat.media.video").into_owned(),
        MediaKind::Sticker => return lang.t("chat.media.sticker").into_owned(),
        MediaKind::Document => {
            return match attachment.file_name.as_deref().map(str::trim) {
                Some(name) if !name.is_empty() => lang.tf("chat.media.document", &[("name", name)]),
                _ => lang.t("chat.media.document_unnamed").into_owned(),
            };
        }
        MediaKind::Audio | MediaKind::Image => {}
    }
    let what = match attachment.kind {
        MediaKind::Image => lang.t("chat.media.not_kept.image"),
        _ if attachment.voice => lang.t("chat.media.not_kept.voice"),
        _ => lang.t("chat.media.not_kept.audio"),
    };
    let why = match attachment.refused {
        Some(MediaRefusal::TooLarge) if attachment.size_bytes > 0 => lang.tf(
            "chat.media.too_large",
            &[
                ("size", &lang.file_size(attachment.size_bytes)),
                ("max", &lang.file_size(config.media_max_bytes)),
            ],
        ),
        Some(MediaRefusal::TooLarge) => lang.tf(
            "chat.media.too_large_unknown",
            &[("max", &lang.file_size(config.media_max_bytes))],
        ),
        Some(MediaRefusal::QuotaReached) => lang.t("chat.media.quota").into_owned(),
        Some(MediaRefusal::Unsupported) => lang.t("chat.media.unsupported").into_owned(),
        Some(MediaRefusal::Unavailable) | None => lang.t("chat.media.unavailable").into_owned(),
    };
    lang.tf("chat.media.because", &[("what", &what), ("why", &why)])
}

fn location_view(location: &Location) -> LocationView {
    LocationView {
        text: location.describe(),
        url: location.map_url(),
    }
}

/// "IA Gemini · search_products, create_order · CMD-1A2B3C4D · transmis à l'équipe".
fn turn_summary(lang: Lang, turn: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    match turn["engine"].as_str() {
        Some("gemini") => parts.push(lang.t("chat.engine.gemini").into_owned()),
        Some("offline") => parts.push(lang.t("chat.engine.offline").into_owned()),
        _ => {}
    }
    let tools: Vec<&str> = turn["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    if !tools.is_empty() {
        parts.push(tools.join(", "));
    }
    if let Some(orders) = turn["orders"].as_array() {
        parts.extend(
            orders
                .iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_owned),
        );
    }
    if turn["handover"].is_string() {
        parts.push(lang.t("chat.handed_over").into_owned());
    }
    parts.join(" · ")
}

/// Escapes `text` for HTML, then renders WhatsApp's `*bold*` and `_italic_` (markers that open and close on
/// the same line, around non-blank text) as the customer's phone shows them.
pub fn whatsapp_markup(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    escaped
        .split('\n')
        .map(|line| emphasis(&emphasis(line, '*', "b"), '_', "i"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn emphasis(line: &str, marker: char, tag: &str) -> String {
    let parts: Vec<&str> = line.split(marker).collect();
    if parts.len() < 3 {
        return line.to_owned();
    }
    let mut out = String::from(parts[0]);
    let mut i = 1;
    while i < parts.len() {
        let inner = parts[i];
        let closes = i + 1 < parts.len();
        if closes && !inner.trim().is_empty() && inner.trim() == inner {
            out.push_str(&format!("<{tag}>{inner}</{tag}>"));
            out.push_str(parts[i + 1]);
            i += 2;
        } else {
            out.push(marker);
            out.push_str(inner);
            i += 1;
        }
    }
    out
}

struct ChatRow {
    id: String,
    name: String,
    last: String,
    at: String,
    pending: i64,
    test: bool,
    paused: bool,
    /// Why the bot handed the conversation over, while it waits for the shop.
    handed_over: Option<String>,
}

/// A message the pipeline gave up on, as the shop sees it (home page and conversations).
pub(super) struct DeadRow {
    pub id: String,
    pub at: String,
    pub reason: String,
    /// The customer's words, when the stored message reads as one.
    pub text: String,
}

pub(super) fn dead_rows(lang: Lang, list: &[store::dead_letters::DeadLetter]) -> Vec<DeadRow> {
    list.iter()
        .map(|d| DeadRow {
            id: d.dead_letter_id.to_string(),
            at: lang.datetime(d.created_at),
            reason: d.reason.clone(),
            text: d.payload["text"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
        })
        .collect()
}

/// `?dead=replayed|discarded`: the confirmation after the owner replayed or discarded a dead letter.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DeadDone {
    dead: Option<String>,
}

impl DeadDone {
    pub(super) fn flash(&self, lang: Lang) -> Option<String> {
        match self.dead.as_deref()? {
            "replayed" => Some(lang.t("dead.flash.replayed").into_owned()),
            "discarded" => Some(lang.t("dead.flash.discarded").into_owned()),
            "unchanged" => Some(lang.t("dead.flash.unchanged").into_owned()),
            _ => None,
        }
    }
}

#[derive(askama::Template)]
#[template(path = "conversations.html")]
struct ListTemplate {
    chrome: Chrome,
    chats: Vec<ChatRow>,
    dead: Vec<DeadRow>,
    /// Where the dead letters' buttons come back to.
    dead_back: &'static str,
}

/// "Awa (+225 07 01 02 03 04)", or the number alone.
fn display_name(chat: &store::chats::Chat) -> String {
    let phone = crate::phone::PhoneNumber::display(&chat.customer_jid);
    match (chat.customer_name.trim(), phone.is_empty()) {
        ("", _) => phone,
        (name, true) => name.to_owned(),
        (name, false) => format!("{name} ({phone})"),
    }
}

/// The conversations, most recent first, and the messages the bot could not handle.
#[utoipa::path(
    get,
    path = "/app/conversations",
    operation_id = "conversationsPage",
    tag = "pages",
    responses(crate::openapi::pages::SignedInPage)
)]
async fn list(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
    dead_done: Result<Query<DeadDone>, axum::extract::rejection::QueryRejection>,
) -> WebResult<Response> {
    let mut chrome = Chrome::load(
        &state,
        &session,
        "conversations",
        "conversations.title",
        flash,
    )
    .await?;
    let lang = chrome.lang;
    if let Some(flash) = dead_done.ok().and_then(|Query(d)| d.flash(lang)) {
        chrome.flash = Some(flash);
    }
    let summaries = crate::conversations::list_chats(
        &state,
        &session.user,
        Page {
            limit: Some(100),
            offset: Some(0),
        },
    )
    .await?;
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let dead = dead_letters::list_open(&mut tx, 20).await?;
    tx.commit().await?;
    let now = Utc::now();
    render(&ListTemplate {
        chats: summaries
            .iter()
            .map(|s| ChatRow {
                id: s.chat.chat_id.to_string(),
                name: display_name(&s.chat),
                last: s.last_message.clone().unwrap_or_default(),
                at: s
                    .chat
                    .last_message_at
                    .map(|at| lang.datetime(at))
                    .unwrap_or_default(),
                pending: s.pending_count,
                test: s.chat.channel == Channel::Simulator,
                paused: s.chat.bot_paused_until.is_some_and(|u| u > now),
                handed_over: s.attention_reason.clone(),
            })
            .collect(),
        dead: dead_rows(lang, &dead),
        dead_back: "conversations",
        chrome,
    })
}

#[derive(askama::Template)]
#[template(path = "conversation.html")]
struct TranscriptTemplate {
    chrome: Chrome,
    chat_id: String,
    messages: Vec<MessageView>,
    paused_until: String,
    error: String,
    text: String,
}

async fn transcript_page(
    state: &AppState,
    session: &Session,
    chat: &str,
    flash: Flash,
    error: String,
    text: String,
) -> WebResult<Response> {
    let chat = resolve(state, session, chat).await?;
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let list = messages::latest(&mut tx, chat.chat_id, SHOWN).await?;
    tx.commit().await?;
    let mut chrome = Chrome::load(
        state,
        session,
        "conversations",
        "conversations.title",
        flash,
    )
    .await?;
    let lang = chrome.lang;
    chrome.title = display_name(&chat);
    render(&TranscriptTemplate {
        chat_id: chat.chat_id.to_string(),
        messages: message_views(lang, &state.media, &list),
        paused_until: chat
            .bot_paused_until
            .filter(|u| *u > Utc::now())
            .map(|u| lang.datetime(u))
            .unwrap_or_default(),
        error,
        text,
        chrome,
    })
}

/// The shop's chat named by an id or a chat key (another shop's answers like an unknown one).
async fn resolve(state: &AppState, session: &Session, chat: &str) -> WebResult<store::chats::Chat> {
    let chat = ChatRef::parse(chat)?;
    let thread = crate::conversations::chat_thread(
        state,
        &session.user,
        &chat,
        Page {
            limit: Some(1),
            offset: Some(0),
        },
    )
    .await?;
    Ok(thread.chat)
}

/// One conversation: its messages, the hand reply and the bot pause.
#[utoipa::path(get, path = "/app/conversations/{chat}", operation_id = "conversationPage", tag = "pages",
    params(("chat" = String, Path, description = "The chat_id, or its chat key (`sim_2250700000000`)")),
    responses(crate::openapi::pages::SignedInPage,
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown conversation, or another shop's")))]
async fn transcript(
    State(state): State<AppState>,
    session: Session,
    Path(chat): Path<String>,
    flash: Flash,
) -> WebResult<Response> {
    transcript_page(&state, &session, &chat, flash, String::new(), String::new()).await
}

#[derive(Deserialize)]
struct PauseForm {
    /// `1` takes the conversation over, `0` gives it back to the bot.
    pause: String,
}

async fn pause(
    State(state): State<AppState>,
    Path(chat): Path<String>,
    posted: Posted<PauseForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let chat_id = resolve(&state, &session, &chat).await?.chat_id;
    let take_over = form.pause == "1";
    let paused_until = take_over.then(|| Utc::now() + Duration::hours(TAKEOVER_HOURS));
    crate::conversations::set_bot_pause(
        &state,
        &session.user,
        &ChatRef::Id(chat_id),
        BotPause { paused_until },
    )
    .await?;
    let done = if take_over { "paused" } else { "resumed" };
    Ok(Redirect::to(&format!("/app/conversations/{chat_id}?done={done}")).into_response())
}

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    text: String,
}

async fn reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(chat): Path<String>,
    posted: Posted<ReplyForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let chat_id = resolve(&state, &session, &chat).await?.chat_id;
    let sent = crate::conversations::reply_by_hand(
        &state,
        &session.user,
        &ChatRef::Id(chat_id),
        HandReply {
            text: form.text.clone(),
            client_message_id: None,
        },
    )
    .await;
    match sent {
        Ok(_) if headers.contains_key("x-async") => Ok(StatusCode::CREATED.into_response()),
        Ok(_) => {
            Ok(Redirect::to(&format!("/app/conversations/{chat_id}?done=sent")).into_response())
        }
        Err(crate::Error::Validation(errors)) => {
            let error = errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            let page = transcript_page(&state, &session, &chat, Flash::default(), error, form.text)
                .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct DeadForm {
    /// `home` or `conversations`: the page the buttons were on.
    #[serde(default)]
    back: String,
}

/// The owner puts a message that could not be processed back into the pipeline, or sets it aside (the same
/// resolution as `POST /api/v1/dead-letters/{id}/replay|discard`).
async fn resolve_dead(
    state: &AppState,
    id: &str,
    posted: Posted<DeadForm>,
    action: crate::dead_letters::Action,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    super::billing::require_owner(&session)?;
    let id = crate::pagination::parse_id(id, crate::dead_letters::NOT_FOUND)?;
    let resolved = crate::dead_letters::resolve(
        state,
        session.user.ctx(),
        id,
        action,
        session.user.user_id,
        "",
    )
    .await?;
    let done = match (resolved.changed, action) {
        (false, _) => "unchanged",
        (true, crate::dead_letters::Action::Replay) => "replayed",
        (true, crate::dead_letters::Action::Discard) => "discarded",
    };
    let page = if form.back == "home" {
        "/app"
    } else {
        "/app/conversations"
    };
    Ok(Redirect::to(&format!("{page}?dead={done}")).into_response())
}

async fn replay_dead(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<DeadForm>,
) -> WebResult<Response> {
    resolve_dead(&state, &id, posted, crate::dead_letters::Action::Replay).await
}

async fn discard_dead(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<DeadForm>,
) -> WebResult<Response> {
    resolve_dead(&state, &id, posted, crate::dead_letters::Action::Discard).await
}

#[cfg(test)]
mod tests {
    use super::whatsapp_markup;

    #[test]
    fn transcripts_show_whatsapp_formatting_and_never_the_customers_html() {
        assert_eq!(
            whatsapp_markup("Commande *CMD-1A2B* prête"),
            "Commande <b>CMD-1A2B</b> prête"
        );
        assert_eq!(whatsapp_markup("_merci_ !"), "<i>merci</i> !");
        assert_eq!(whatsapp_markup("2 * 3 = 6"), "2 * 3 = 6");
        assert_eq!(whatsapp_markup("a *b\nc* d"), "a *b\nc* d");
        assert_eq!(
            whatsapp_markup("<script>alert('x')</script> *ok*"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; <b>ok</b>"
        );
    }
}
