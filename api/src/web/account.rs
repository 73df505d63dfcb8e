//! The user's password: change it (signed in, asks the current one), "forgot password" (a form asking the
//! e-mail, always the same answer) and the reset page an e-mailed link opens. Plus the development outbox
//! (`/app/dev/outbox`), where the development mailer's messages and their links can be read; it answers 404
//! when the mailer keeps no outbox (production). Every action calls the same functions as the REST API.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::auth::{check_pre_csrf, public_page};
use super::error::{WebError, WebResult};
use super::form::Posted;
use super::i18n::Lang;
use super::session::{self, Session};
use super::view::{Chrome, FieldErrors, Flash, render};
use crate::account::{self, RESET_LINK_INVALID};
use crate::extract::ClientAddr;
use crate::{AppState, Error};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/account/password", get(change_page).post(change))
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/reset/{token}", get(reset_page).post(reset))
        .route("/app/dev/outbox", get(outbox))
}

/// Links carrying a secret are never passed on to another site.
const NO_REFERRER: [(header::HeaderName, &str); 1] = [(header::REFERRER_POLICY, "no-referrer")];

#[derive(askama::Template)]
#[template(path = "password_change.html")]
struct ChangeTemplate {
    chrome: Chrome,
    errors: FieldErrors,
    error: String,
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

/// The form to change one's password.
#[utoipa::path(
    get,
    path = "/app/account/password",
    operation_id = "changePasswordPage",
    tag = "pages",
    responses(crate::openapi::pages::SignedInPage)
)]
async fn change_page(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<DoneQuery>,
) -> WebResult<Response> {
    let mut chrome = Chrome::load(
        &state,
        &session,
        "settings",
        "password.change.title",
        Flash::default(),
    )
    .await?;
    if query.done.as_deref() == Some("changed") {
        chrome.flash = Some(chrome.t("password.flash.changed").into_owned());
    }
    render(&ChangeTemplate {
        chrome,
        errors: FieldErrors::default(),
        error: String::new(),
    })
}

#[derive(Deserialize)]
struct ChangeFields {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Changes the password, which ends every sign-in of the user, then signs this browser in again.
async fn change(
    State(state): State<AppState>,
    client: ClientAddr,
    posted: Posted<ChangeFields>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let outcome = match state.auth_limiter.check(client.0) {
        Ok(()) => {
            account::change_password(
                &state,
                &session.user,
                form.current_password,
                form.new_password,
            )
            .await
        }
        Err(limited) => Err(limited),
    };
    let (errors, error) = match outcome {
        Ok(_) => {
            let cookie = session::open(&state, &session.user).await?;
            let jar = CookieJar::new().add(cookie);
            return Ok((jar, Redirect::to("/app/account/password?done=changed")).into_response());
        }
        Err(Error::Validation(fields)) => (FieldErrors(fields), String::new()),
        Err(e @ Error::TooManyRequests { .. }) => (FieldErrors::default(), e.user_message()),
        Err(other) => return Err(other.into()),
    };
    let chrome = Chrome::load(
        &state,
        &session,
        "settings",
        "password.change.title",
        Flash::default(),
    )
    .await?;
    let page = render(&ChangeTemplate {
        chrome,
        errors,
        error,
    })?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(askama::Template)]
#[template(path = "password_forgot.html")]
struct ForgotTemplate {
    lang: Lang,
    title_key: &'static str,
    csrf: String,
    email: String,
    errors: FieldErrors,
    error: String,
    sent: bool,
}

#[derive(Deserialize, Default)]
struct PublicQuery {
    lang: Option<String>,
    done: Option<String>,
}

/// The form asking for a password-reset link.
#[utoipa::path(get, path = "/password/forgot", operation_id = "forgotPasswordPage", tag = "pages",
    params(("lang" = Option<String>, Query, description = "`fr` or `en`: switches the interface language (remembered in a cookie)")),
    responses(crate::openapi::pages::PublicPage))]
async fn forgot_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PublicQuery>,
) -> WebResult<Response> {
    let page = public_page(&headers, query.lang.as_deref(), &state);
    let body = render(&ForgotTemplate {
        lang: page.lang,
        title_key: "password.forgot.title",
        csrf: page.csrf,
        email: String::new(),
        errors: FieldErrors::default(),
        error: String::new(),
        sent: query.done.as_deref() == Some("sent"),
    })?;
    Ok((page.jar, body).into_response())
}

#[derive(Deserialize)]
struct ForgotFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// Always the same answer whether or not the account exists (the e-mail leaves in the background).
async fn forgot(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ForgotFields>,
) -> WebResult<Response> {
    check_pre_csrf(&headers, &form.csrf)?;
    let page = public_page(&headers, None, &state);
    let outcome = state
        .auth_limiter
        .check(client.0)
        .and_then(|()| account::request_reset(&state, &form.email));
    let (errors, error) = match outcome {
        Ok(()) => return Ok(Redirect::to("/password/forgot?done=sent").into_response()),
        Err(Error::Validation(fields)) => (FieldErrors(fields), String::new()),
        Err(e @ Error::TooManyRequests { .. }) => (FieldErrors::default(), e.user_message()),
        Err(other) => return Err(other.into()),
    };
    let body = render(&ForgotTemplate {
        lang: page.lang,
        title_key: "password.forgot.title",
        csrf: page.csrf,
        email: form.email,
        errors,
        error,
        sent: false,
    })?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page.jar, body).into_response())
}

#[derive(askama::Template)]
#[template(path = "password_reset.html")]
struct ResetTemplate {
    lang: Lang,
    title_key: &'static str,
    csrf: String,
    /// The link is usable (otherwise one message for unknown, used and expired links).
    valid: bool,
    errors: FieldErrors,
    error: String,
}

#[derive(Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

/// The page a password-reset link opens: a new password, or why the link no longer works.
#[utoipa::path(get, path = "/password/reset/{token}", operation_id = "resetPasswordPage", tag = "pages",
    params(("token" = String, Path, description = "The secret of the e-mailed link"),
           ("lang" = Option<String>, Query, description = "`fr` or `en`: switches the interface language (remembered in a cookie)")),
    responses(crate::openapi::pages::PublicPage))]
async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(query): Query<LangQuery>,
) -> WebResult<Response> {
    let page = public_page(&headers, query.lang.as_deref(), &state);
    let valid = account::reset_link_usable(&state, &token).await?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let body = render(&ResetTemplate {
        lang: page.lang,
        title_key: "password.reset.title",
        csrf: page.csrf,
        valid,
        errors: FieldErrors::default(),
        error: String::new(),
    })?;
    Ok((status, NO_REFERRER, page.jar, body).into_response())
}

#[derive(Deserialize)]
struct ResetFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// Sets the new password; every sign-in of the account ends, so the user logs in again.
async fn reset(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
    axum::Form(form): axum::Form<ResetFields>,
) -> WebResult<Response> {
    check_pre_csrf(&headers, &form.csrf)?;
    let page = public_page(&headers, None, &state);
    let outcome = match state.auth_limiter.check(client.0) {
        Ok(()) => account::reset_password(&state, &token, form.password).await,
        Err(limited) => Err(limited),
    };
    let (status, valid, errors, error) = match outcome {
        Ok(()) => return Ok(Redirect::to("/login?next=reset").into_response()),
        Err(Error::NotFound(message)) if message == RESET_LINK_INVALID => (
            StatusCode::NOT_FOUND,
            false,
            FieldErrors::default(),
            String::new(),
        ),
        Err(Error::Validation(fields)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            true,
            FieldErrors(fields),
            String::new(),
        ),
        Err(e @ Error::TooManyRequests { .. }) => (
            StatusCode::TOO_MANY_REQUESTS,
            true,
            FieldErrors::default(),
            e.user_message(),
        ),
        Err(other) => return Err(WebError::Api(other)),
    };
    let body = render(&ResetTemplate {
        lang: page.lang,
        title_key: "password.reset.title",
        csrf: page.csrf,
        valid,
        errors,
        error,
    })?;
    Ok((status, NO_REFERRER, page.jar, body).into_response())
}

/// A message of the dev outbox.
struct OutboxRow {
    to: String,
    subject: String,
    sent_at: String,
    links: Vec<String>,
    text: String,
}

#[derive(askama::Template)]
#[template(path = "outbox.html")]
struct OutboxTemplate {
    lang: Lang,
    title_key: &'static str,
    messages: Vec<OutboxRow>,
}

/// Development only: the latest messages the development mailer kept, newest first, with their links.
/// Nobody is signed in when reading an invitation or a reset link, so no session is asked; production
/// (the SMTP mailer keeps no outbox) answers 404.
#[utoipa::path(get, path = "/app/dev/outbox", operation_id = "devOutboxPage", tag = "pages",
    responses(crate::openapi::pages::PublicPage,
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: production, where the mailer keeps no outbox")))]
async fn outbox(State(state): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    let Some(sent) = state.mailer.outbox() else {
        return Err(Error::NotFound("Cette page n'existe pas.").into());
    };
    let lang = super::lang_of_request(&headers);
    let messages = sent
        .into_iter()
        .map(|m| OutboxRow {
            links: crate::mail::links_in(&m.mail.text),
            to: m.mail.to,
            subject: m.mail.subject,
            sent_at: lang.datetime(m.sent_at),
            text: m.mail.text,
        })
        .collect();
    let body = render(&OutboxTemplate {
        lang,
        title_key: "outbox.title",
        messages,
    })?;
    Ok((NO_REFERRER, body).into_response())
}
