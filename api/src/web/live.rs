//! `/app/events`: the shop's domain events as Server-Sent Events, so open pages (home, orders,
//! conversations, test chat) refresh by themselves. Only the kind and ids are sent; the page fetches what
//! changed through its own authenticated request.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};
use schemas::EventData;

use super::error::WebResult;
use super::session::Session;
use crate::{AppState, live};

pub fn router() -> Router<AppState> {
    Router::new().route("/app/events", get(events))
}

/// The shop's live updates for the open dashboard page.
#[utoipa::path(get, path = "/app/events", operation_id = "liveEventsStream", tag = "pages",
    responses((status = 200, content_type = "text/event-stream", description = "Server-sent events: the kind and ids of the shop's domain events"),
              (status = 303, description = "No live session: to `/login`")))]
async fn events(
    State(state): State<AppState>,
    session: Session,
) -> WebResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let subject = state.subjects.event(session.user.tenant_id, ">");
    let subscription = state.nats.subscribe(subject).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot subscribe to the shop's events");
        crate::Error::Unavailable
    })?;
    let slot = state.live_streams.open(session.user.tenant_id)?;
    let stream = subscription.filter_map(|message| async move {
        let event: schemas::Event = serde_json::from_slice(&message.payload).ok()?;
        let ids = match &event.data {
            EventData::MessageReceived { chat_id, .. } | EventData::MessageSent { chat_id, .. } => {
                serde_json::json!({ "chat_id": chat_id })
            }
            EventData::OrderCreated { order_id, .. }
            | EventData::OrderStatusChanged { order_id, .. } => {
                serde_json::json!({ "order_id": order_id })
            }
            EventData::MessageDeadLettered { .. } => serde_json::json!({}),
        };
        Some(Ok(Event::default()
            .event(event.data.kind())
            .data(ids.to_string())))
    });
    let every = Duration::from_secs(state.config.live_recheck_secs);
    let stream = live::until_revoked(live::holding(stream, slot), every, move || {
        let (state, session) = (state.clone(), session.clone());
        async move { session.still_live(&state).await }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
