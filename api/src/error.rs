//! The API's error type and its JSON shape: `{"error": {"code", "message", "fields"?, "details"?}}`, messages in French.
//! Internal details never reach the client; they are logged once by [`log_errors`].

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the body is not what the endpoint reads (bad JSON syntax, bad CSV encoding…).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 422: well-formed, but some fields are invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 401: no valid token.
    #[error("authentication required")]
    Unauthenticated,
    /// 401: wrong e-mail or password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 403: authenticated, but the role does not allow this.
    #[error("forbidden")]
    Forbidden,
    /// 403: the platform operator suspended the shop; the French message says why and whom to contact.
    #[error("shop suspended by the operator")]
    ShopSuspended(String),
    /// 404: no such resource for this tenant (another tenant's ids answer the same).
    #[error("not found")]
    NotFound(&'static str),
    /// 410: the resource existed but is kept no more (expired media); the French message says why.
    #[error("gone")]
    Gone(String),
    /// 409: the request conflicts with existing data.
    #[error("conflict: {code}")]
    Conflict { code: &'static str, message: String },
    /// 422: the request was understood but refused as a whole, with structured details (e.g. CSV rows).
    #[error("rejected: {code}")]
    Rejected {
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
    /// 402: the plan's limit is reached; the shop must upgrade.
    #[error("plan limit reached")]
    PlanLimit(String),
    /// 413: the body is larger than the endpoint accepts.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: wrong Content-Type.
    #[error("unsupported media type")]
    UnsupportedMediaType(&'static str),
    /// 429: rate limited; retry after the given number of seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 401: a webhook without a valid, fresh signature (or Orange Money notif_token).
    #[error("invalid webhook signature")]
    InvalidSignature,
    /// 502: a payment provider failed or timed out; the message (French) says what to do.
    #[error("payment provider failed")]
    BadGateway(String),
    /// 503: a dependency (PostgreSQL, NATS) is unavailable.
    #[error("service unavailable")]
    Unavailable,
    /// 500: anything else. Logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<store::Error> for Error {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NotFound => Error::NotFound("Ressource introuvable."),
            other => Error::Internal(anyhow::Error::new(other)),
        }
    }
}

impl Error {
    /// Maps a store error to this resource's 404 (`message`) when the row does not exist for the tenant.
    pub(crate) fn not_found_as(message: &'static str) -> impl Fn(store::Error) -> Error {
        move |e| match e {
            store::Error::NotFound => Error::NotFound(message),
            other => other.into(),
        }
    }
}

/// The body of every error response: `ApiError` in the OpenAPI document, which gives it to every 4xx and 5xx
/// response of the REST operations.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiError)]
pub(crate) struct Body<'a> {
    error: ErrorBody<'a>,
}

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiErrorBody)]
pub(crate) struct ErrorBody<'a> {
    /// Stable and machine-readable: `validation_failed`, `unauthenticated`, `forbidden`, `not_found`,
    /// `plan_limit_reached`, `too_many_requests`, … or the conflict's own code (`sku_taken`, …).
    code: &'a str,
    /// For people, in French.
    message: &'a str,
    /// With `validation_failed`: each invalid field and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    fields: Option<&'a [FieldError]>,
    /// A refusal's structured details, e.g. `rows` (`RowError`s) when a CSV import is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<Object>)]
    details: Option<&'a serde_json::Value>,
}

/// The internal error behind a 500, kept in the response extensions for [`log_errors`].
#[derive(Clone)]
struct LoggedError(Arc<anyhow::Error>);

impl Error {
    fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Validation(_) | Error::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthenticated | Error::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Error::Forbidden | Error::ShopSuspended(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Gone(_) => StatusCode::GONE,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::PlanLimit(_) => StatusCode::PAYMENT_REQUIRED,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::InvalidSignature => StatusCode::UNAUTHORIZED,
            Error::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Error::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::Validation(_) => "validation_failed",
            Error::Unauthenticated => "unauthenticated",
            Error::InvalidCredentials => "invalid_credentials",
            Error::Forbidden => "forbidden",
            Error::ShopSuspended(_) => "shop_suspended",
            Error::NotFound(_) => "not_found",
            Error::Gone(_) => "gone",
            Error::Conflict { code, .. } | Error::Rejected { code, .. } => code,
            Error::PlanLimit(_) => "plan_limit_reached",
            Error::PayloadTooLarge => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::InvalidSignature => "invalid_signature",
            Error::BadGateway(_) => "payment_provider_unavailable",
            Error::Unavailable => "service_unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    /// The French message the client is shown.
    pub(crate) fn user_message(&self) -> String {
        self.message()
    }

    fn message(&self) -> String {
        match self {
            Error::BadRequest(message) => message.clone(),
            Error::Validation(_) => "Certains champs sont invalides.".into(),
            Error::Unauthenticated => "Authentification requise : connectez-vous à nouveau.".into(),
            Error::InvalidCredentials => "E-mail ou mot de passe incorrect.".into(),
            Error::Forbidden => "Vous n'avez pas les droits pour cette action.".into(),
            Error::NotFound(message) => (*message).into(),
            Error::Conflict { message, .. } | Error::Rejected { message, .. } => message.clone(),
            Error::PlanLimit(message) | Error::ShopSuspended(message) | Error::Gone(message) => {
                message.clone()
            }
            Error::PayloadTooLarge => "La requête est trop volumineuse.".into(),
            Error::UnsupportedMediaType(expected) => {
                format!("Type de contenu non pris en charge : envoyez {expected}.")
            }
            Error::TooManyRequests { retry_after_secs } => {
                format!("Trop de tentatives. Réessayez dans {retry_after_secs} secondes.")
            }
            Error::InvalidSignature => {
                "Signature de la notification absente, invalide ou expirée.".into()
            }
            Error::BadGateway(message) => message.clone(),
            Error::Unavailable => {
                "Service momentanément indisponible. Réessayez dans un instant.".into()
            }
            Error::Internal(_) => "Une erreur interne est survenue. Réessayez plus tard.".into(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let message = self.message();
        let fields = match &self {
            Error::Validation(fields) => Some(fields.as_slice()),
            _ => None,
        };
        let details = match &self {
            Error::Rejected { details, .. } => Some(details),
            _ => None,
        };
        let body = Body {
            error: ErrorBody {
                code: self.code(),
                message: &message,
                fields,
                details,
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Error::TooManyRequests { retry_after_secs } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let Error::Internal(e) = self {
            response.extensions_mut().insert(LoggedError(Arc::new(e)));
        }
        response
    }
}

/// Logs each internal error once, with its cause chain, next to the request that caused it.
pub async fn log_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    // The route template, never the raw path: invitation and reset links carry their token in the path.
    let path = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(
            || request.uri().path().to_owned(),
            |p| p.as_str().to_owned(),
        );
    let response = next.run(request).await;
    if let Some(LoggedError(e)) = response.extensions().get::<LoggedError>() {
        tracing::error!(%method, %path, error.cause_chain = ?e, error.message = %e, "request failed");
    }
    response
}
