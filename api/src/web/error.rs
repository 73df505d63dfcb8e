//! What a dashboard page shows when something goes wrong: a page in the user's language, never a raw error.
//!
//! Handlers return [`WebError`]; its response carries an [`ErrorPage`] marker and no body, and the
//! [`render_error_pages`] middleware, which sees the request's language cookie, writes the page. Internal
//! errors keep the API's logging extension, so they are logged once with their cause.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::i18n::Lang;
use super::lang_of_request;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No live session: go to the sign-in page.
    #[error("sign in required")]
    SignIn,
    /// The form's CSRF token is missing or wrong (a forged or stale form): nothing was changed.
    #[error("invalid form token")]
    Csrf,
    #[error(transparent)]
    Api(#[from] crate::Error),
}

impl From<store::Error> for WebError {
    fn from(e: store::Error) -> Self {
        WebError::Api(e.into())
    }
}

pub type WebResult<T> = Result<T, WebError>;

/// Which page the middleware renders.
#[derive(Debug, Clone)]
pub(crate) enum ErrorPage {
    NotFound,
    Forbidden,
    Csrf,
    /// A French message from the API's error (limits, conflicts, provider failures).
    Message(String),
    Unavailable,
    Internal,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (page, mut response) = match self {
            WebError::SignIn => return Redirect::to("/login").into_response(),
            WebError::Csrf => (ErrorPage::Csrf, StatusCode::FORBIDDEN.into_response()),
            WebError::Api(error) => {
                let page = match &error {
                    crate::Error::NotFound(_) => ErrorPage::NotFound,
                    crate::Error::Forbidden => ErrorPage::Forbidden,
                    crate::Error::Unauthenticated => {
                        return Redirect::to("/login").into_response();
                    }
                    crate::Error::Unavailable => ErrorPage::Unavailable,
                    crate::Error::Internal(_) => ErrorPage::Internal,
                    // A form without its own field display (e.g. a one-button action): list every problem.
                    crate::Error::Validation(fields) => ErrorPage::Message(
                        fields
                            .iter()
                            .map(|f| f.message.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    other => ErrorPage::Message(other.user_message()),
                };
                // The API's own response keeps the logging extension of internal errors.
                (page, error.into_response())
            }
        };
        response.extensions_mut().insert(page);
        response
    }
}

/// The fallback of every unknown address: JSON under `/api/`, a page in the visitor's language elsewhere.
pub async fn not_found(request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        return crate::Error::NotFound("Cette adresse n'existe pas.").into_response();
    }
    let lang = lang_of_request(request.headers());
    page(
        StatusCode::NOT_FOUND,
        lang,
        lang.t("error.not_found.title").into_owned(),
        lang.t("error.not_found.body").into_owned(),
    )
}

fn page(status: StatusCode, lang: Lang, title: String, message: String) -> Response {
    let page = ErrorTemplate {
        lang,
        title,
        message,
    };
    let body = askama::Template::render(&page).unwrap_or_else(|_| page.message.clone());
    (status, Html(body)).into_response()
}

/// Writes the localized error page for responses marked with [`ErrorPage`].
pub async fn render_error_pages(request: Request, next: Next) -> Response {
    let lang = lang_of_request(request.headers());
    let response = next.run(request).await;
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let (title, message) = match page {
        ErrorPage::NotFound => (
            lang.t("error.not_found.title"),
            lang.t("error.not_found.body"),
        ),
        ErrorPage::Forbidden => (
            lang.t("error.forbidden.title"),
            lang.t("error.forbidden.body"),
        ),
        ErrorPage::Csrf => (lang.t("error.csrf.title"), lang.t("error.csrf.body")),
        ErrorPage::Message(message) => (lang.t("error.refused.title"), message.into()),
        ErrorPage::Unavailable => (
            lang.t("error.unavailable.title"),
            lang.t("error.unavailable.body"),
        ),
        ErrorPage::Internal => (
            lang.t("error.internal.title"),
            lang.t("error.internal.body"),
        ),
    };
    let page = ErrorTemplate {
        lang,
        title: title.into_owned(),
        message: message.into_owned(),
    };
    let body = askama::Template::render(&page).unwrap_or_else(|_| page.message.clone());
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, Html(body)).into_response()
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    lang: Lang,
    title: String,
    message: String,
}
