//! `/app/media/{media_id}`: a voice note or photo of the shop, for the dashboard's `<audio>` and `<img>`,
//! served exactly as `GET /api/v1/media/{media_id}` serves it, with the session instead of a token.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;

use super::error::WebResult;
use super::session::Session;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/app/media/{media_id}", get(serve))
}

/// A voice note or photo of the shop, for any member (another shop's id answers like an unknown one).
#[utoipa::path(get, path = "/app/media/{media_id}", operation_id = "mediaFile", tag = "pages",
    params(("media_id" = String, Path, description = "The `media_id` of a message's `attachment`")),
    responses(
        (status = 200, description = "The bytes, with their stored type (audio or photo) and the headers of \
            `GET /api/v1/media/{media_id}`", content_type = "application/octet-stream"),
        (status = 206, description = "The requested byte range", content_type = "application/octet-stream"),
        (status = 303, description = "No live session: to `/login`"),
        (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown media, or another shop's"),
        (status = 410, body = String, content_type = "text/html", description = "The media expired (the page says how long media are kept)")))]
async fn serve(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(media_id): Path<String>,
) -> WebResult<Response> {
    let opened = crate::media::open(&state, &session.user, &media_id).await?;
    Ok(crate::media::respond(opened, headers.get(header::RANGE)))
}
