//! The shop's media over HTTP: `GET /api/v1/media/{media_id}` serves a voice note or photo (a customer's, or
//! a product photo the bot sent), opened with the shop's data key; the dashboard's `/app/media/{media_id}`
//! serves the same through [`open`] and [`respond`]. Also the media a shop uploads itself (the test chat and
//! the simulator): read within the size limit ([`read_form`]), told by their bytes, counted against the
//! plan's monthly allowance and stored sealed ([`store_upload`]).
//!
//! Served bytes come from customers: they are never run as a page (`nosniff`, a sandboxing CSP, only audio
//! and photo types), and another shop's id answers exactly like an unknown one.

use axum::Router;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use schemas::{Attachment, MediaKind};
use store::media::{MediaConfig, NewMedia};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/media/{media_id}", get(read))
}

/// The 404 of an unknown, malformed or another shop's media id: one answer for all three.
const NOT_FOUND: &str = "Média introuvable.";

/// Media bytes ready to serve.
pub(crate) struct Opened {
    /// The type sent as `Content-Type`: the stored one when it is audio or a photo format.
    pub content_type: HeaderValue,
    pub bytes: Vec<u8>,
}

/// The stored bytes of a media.
#[utoipa::path(get, path = "/api/v1/media/{media_id}", operation_id = "getMedia", tag = "conversations",
    params(("media_id" = String, Path, description = "The `media_id` of a message's `attachment`"),
           ("Range" = Option<String>, Header, description = "One byte range (`bytes=0-1023`), as audio players ask")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bytes, with their stored type as `Content-Type` (audio or photo). \
            Sent with `Cache-Control: private, max-age=3600`, `X-Content-Type-Options: nosniff`, \
            `Content-Security-Policy: default-src 'none'; sandbox` and `Content-Disposition: inline`.",
            content_type = "application/octet-stream"),
        (status = 206, description = "The requested byte range (`Content-Range`)",
            content_type = "application/octet-stream"),
        (status = 404, description = "No such media in this shop (another shop's id answers the same)"),
        (status = 410, description = "The media expired: its bytes are deleted after the retention period (`gone`)")))]
async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(media_id): Path<String>,
) -> Result<Response> {
    let opened = open(&state, &user, &media_id).await?;
    Ok(respond(opened, headers.get(header::RANGE)))
}

/// The shop's media `media_id`, opened: 404 for an unknown, malformed or another shop's id (RLS hides the
/// row), 410 with a French message once its bytes expired.
pub(crate) async fn open(state: &AppState, user: &AuthUser, media_id: &str) -> Result<Opened> {
    let media_id = crate::pagination::parse_id(media_id, Error::NotFound(NOT_FOUND))?;
    let master = state.master_key()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let key = master.data_key(&mut tx).await?;
    let media = store::media::get(&mut tx, &key, media_id)
        .await
        .map_err(Error::not_found_as(NOT_FOUND))?;
    tx.commit().await?;
    let Some(bytes) = media.bytes else {
        return Err(Error::Gone(format!(
            "Ce média a expiré : les fichiers sont conservés {} jours.",
            state.media.media_retention_days
        )));
    };
    Ok(Opened {
        content_type: served_type(&media.mime),
        bytes,
    })
}

/// The stored type if it is one a browser only plays or shows, else plain bytes: whatever a sender
/// declared, nothing served here renders as a document.
fn served_type(mime: &str) -> HeaderValue {
    let playable =
        mime.starts_with("audio/") || matches!(mime, "image/jpeg" | "image/png" | "image/webp");
    let mime = if playable {
        mime
    } else {
        "application/octet-stream"
    };
    HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// The response for `opened`: the whole bytes, or the one range asked for (Safari plays audio only by
/// ranges). A range that cannot be served is ignored, as HTTP allows: the whole bytes then.
pub(crate) fn respond(opened: Opened, range: Option<&HeaderValue>) -> Response {
    let Opened {
        content_type,
        bytes,
    } = opened;
    let total = bytes.len();
    let (status, body, content_range) = match byte_range(range, total) {
        Some((start, end)) => (
            StatusCode::PARTIAL_CONTENT,
            bytes[start..=end].to_vec(),
            Some(format!("bytes {start}-{end}/{total}")),
        ),
        None => (StatusCode::OK, bytes, None),
    };
    let mut response = (status, Body::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(value) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

/// The inclusive bounds of a single `bytes=` range within `total` bytes; `None` for no range, several
/// ranges, or one that does not fit.
fn byte_range(header: Option<&HeaderValue>, total: usize) -> Option<(usize, usize)> {
    let spec = header?.to_str().ok()?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || total == 0 {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    let last = total - 1;
    let (start, end) = if start.is_empty() {
        // `bytes=-N`: the last N bytes.
        let suffix: usize = end.parse().ok()?;
        if suffix == 0 {
            return None;
        }
        (total.saturating_sub(suffix), last)
    } else {
        let start: usize = start.parse().ok()?;
        let end = if end.is_empty() {
            last
        } else {
            end.parse::<usize>().ok()?.min(last)
        };
        (start, end)
    };
    (start <= end && start <= last).then_some((start, end))
}

/// A file the shop uploaded, read up to the media size limit.
pub(crate) struct Upload {
    /// The bytes, complete only when `size` is within the limit.
    pub bytes: Vec<u8>,
    /// The file's full size, counted past the limit; `None` when the body was too large even to count.
    pub size: Option<u64>,
}

/// A multipart form with at most one file (field `file`).
pub(crate) struct UploadForm {
    pub fields: Vec<(String, String)>,
    /// `None` when no file was chosen (a browser then sends an empty, nameless part).
    pub file: Option<Upload>,
}

impl UploadForm {
    /// The text field `name`, empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.clone())
    }
}

/// Longest text field of an upload form (a caption is at most 2 000 characters).
const MAX_TEXT_FIELD_BYTES: usize = 16 * 1024;

/// The largest body an upload route reads: a file somewhat over the limit is still read to the end (and
/// discarded) so the owner learns its size rather than seeing the connection cut.
pub(crate) fn upload_body_limit(config: &MediaConfig) -> usize {
    let max = usize::try_from(config.media_max_bytes).unwrap_or(usize::MAX);
    max.saturating_mul(2).saturating_add(1024 * 1024)
}

/// `request` with its body cut off after `limit` bytes: upload routes disable the default limit, which is
/// fixed when the router is built, for this one, taken from the configuration.
pub(crate) fn limit_body(request: Request, limit: usize) -> Request {
    request.map(|body| Body::new(http_body_util::Limited::new(body, limit)))
}

/// Reads a multipart upload form. `before_file` sees the text fields read so far before any file byte is
/// kept (the dashboard checks its CSRF token there, so a forged upload is refused unread); file bytes past
/// `config.media_max_bytes` are counted and dropped, and a body past the route's limit leaves a file of
/// unknown size ([`check_upload`] refuses both).
pub(crate) async fn read_form<E: From<Error>>(
    mut multipart: Multipart,
    config: &MediaConfig,
    declared_length: Option<u64>,
    mut before_file: impl FnMut(&[(String, String)]) -> std::result::Result<(), E>,
) -> std::result::Result<UploadForm, E> {
    let mut form = UploadForm {
        fields: Vec::new(),
        file: None,
    };
    let mut file_seen = false;
    let cut_off = loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            let value = read_text(field).await.map_err(E::from)?;
            form.fields.push((name, value));
            continue;
        }
        before_file(&form.fields)?;
        file_seen = true;
        match read_file(field, config.media_max_bytes).await {
            // A browser sends an empty part when no file was chosen.
            Ok(upload) if upload.size == Some(0) => {}
            Ok(upload) => form.file = Some(upload),
            Err(e) => break Some(e),
        }
    };
    match cut_off {
        None => Ok(form),
        Some(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            if !file_seen {
                before_file(&form.fields)?;
            }
            // The request's length stands in for the file's, which was never read to its end.
            form.file = Some(Upload {
                bytes: Vec::new(),
                size: declared_length,
            });
            Ok(form)
        }
        Some(_) => Err(E::from(unreadable())),
    }
}

fn unreadable() -> Error {
    Error::BadRequest("Formulaire illisible.".into())
}

async fn read_file(mut field: Field<'_>, max: u64) -> std::result::Result<Upload, MultipartError> {
    let mut bytes = Vec::new();
    let mut size: u64 = 0;
    while let Some(chunk) = field.chunk().await? {
        size = size.saturating_add(chunk.len() as u64);
        // Past the limit the file is refused: only its size still matters.
        if size <= max {
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(Upload {
        bytes,
        size: Some(size),
    })
}

async fn read_text(mut field: Field<'_>) -> Result<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            return Err(Error::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| unreadable())
}

/// "12,4 Mo", "850 Ko": sizes as the French messages write them.
pub(crate) fn french_size(bytes: u64) -> String {
    crate::web::i18n::Lang::Fr.file_size(bytes)
}

/// "Fichier trop volumineux : 12,4 Mo, maximum 10 Mo."
fn too_large_message(size: Option<u64>, max: u64) -> String {
    match size {
        Some(size) => format!(
            "Fichier trop volumineux : {}, maximum {}.",
            french_size(size),
            french_size(max)
        ),
        None => format!("Fichier trop volumineux : maximum {}.", french_size(max)),
    }
}

/// Says what is wrong with an uploaded file (too large, not a photo or a voice note) under `file`; its kind
/// and true type otherwise.
pub(crate) fn check_upload(
    check: &mut Check,
    config: &MediaConfig,
    upload: &Upload,
) -> Option<(MediaKind, &'static str)> {
    match upload.size {
        Some(size) if size <= config.media_max_bytes => {}
        size => {
            check.fail("file", too_large_message(size, config.media_max_bytes));
            return None;
        }
    }
    let sniffed = store::media::sniff(&upload.bytes);
    if sniffed.is_none() {
        check.fail(
            "file",
            "Format non pris en charge : envoyez une photo (JPEG, PNG, WebP) ou un message vocal (OGG, MP3, \
             M4A, WAV, WebM).",
        );
    }
    sniffed
}

/// Stores a checked upload sealed under the id of the message `wa_message_id` carries, within the plan's
/// monthly allowance (402 beyond it), and returns the message's attachment.
pub(crate) async fn store_upload(
    state: &AppState,
    user: &AuthUser,
    wa_message_id: &str,
    (kind, mime): (MediaKind, &'static str),
    bytes: &[u8],
) -> Result<Attachment> {
    let master = state.master_key()?;
    let now = Utc::now();
    let media_id = store::media::inbound_media_id(user.tenant_id, wa_message_id);
    let mut tx = state.db.tenant(user.ctx()).await?;
    let (used, allowed) = store::media::month_usage(&mut tx, now).await?;
    if let Some(allowed) = allowed.filter(|allowed| used >= *allowed) {
        return Err(Error::PlanLimit(format!(
            "Quota mensuel de médias atteint ({allowed}) : votre forfait ne reçoit plus de messages vocaux ni \
             de photos ce mois-ci. Passez à un forfait supérieur pour en recevoir davantage."
        )));
    }
    let key = master.data_key(&mut tx).await?;
    store::media::put(
        &mut tx,
        &key,
        &NewMedia {
            media_id,
            kind,
            mime,
            bytes,
            expires_at: Some(state.media.expires_at(now)),
            product: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Attachment {
        kind,
        media_id: Some(media_id),
        mime: mime.to_owned(),
        size_bytes: bytes.len() as u64,
        voice: kind == MediaKind::Audio,
        seconds: None,
        file_name: None,
        refused: None,
    })
}

/// The URL the dashboard shows a media at.
pub(crate) fn page_url(media_id: Uuid) -> String {
    format!("/app/media/{media_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn players_get_the_one_range_they_ask_for() {
        let range = |v: &'static str| byte_range(Some(&HeaderValue::from_static(v)), 100);
        assert_eq!(range("bytes=0-"), Some((0, 99)));
        assert_eq!(range("bytes=10-19"), Some((10, 19)));
        assert_eq!(range("bytes=90-500"), Some((90, 99)), "cut to the end");
        assert_eq!(range("bytes=-10"), Some((90, 99)), "the last ten bytes");
        assert_eq!(range("bytes=100-"), None, "past the end: the whole file");
        assert_eq!(range("bytes=5-2"), None);
        assert_eq!(
            range("bytes=0-1,5-6"),
            None,
            "several ranges: the whole file"
        );
        assert_eq!(range("items=0-1"), None);
        assert_eq!(byte_range(None, 100), None);
    }

    #[test]
    fn the_openapi_document_describes_media_and_uploads() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(crate::ApiDoc::openapi()).expect("document");
        let paths = &doc["paths"];
        assert!(paths["/api/v1/media/{media_id}"]["get"]["responses"]["410"].is_object());
        assert!(paths["/app/media/{media_id}"]["get"].is_object());
        // One body type per operation (generated clients take no more); the upload is described in words.
        let simulator = &paths["/api/v1/simulator/messages"]["post"];
        assert!(simulator["requestBody"]["content"]["application/json"].is_object());
        let words = format!("{} {}", simulator["summary"], simulator["description"]);
        assert!(
            words.contains("multipart/form-data") && words.contains("`file`"),
            "{words}"
        );
        let sandbox = &doc["components"]["schemas"]["SandboxMessageRequest"]["properties"];
        assert!(sandbox["media"].is_object() && sandbox["location"].is_object());
    }

    #[test]
    fn only_audio_and_photos_are_served_as_themselves() {
        assert_eq!(served_type("audio/ogg"), "audio/ogg");
        assert_eq!(served_type("image/png"), "image/png");
        assert_eq!(served_type("text/html"), "application/octet-stream");
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
    }
}
