//! The shop's web dashboard: server-rendered pages (askama templates, plain CSS, one small script, all
//! embedded in the binary) served by the API process on the same port. Page handlers call the same service
//! functions as the REST endpoints; sign-in is a server-side session ([`session`]) and every state-changing
//! form carries a CSRF token ([`form`]).

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod assets;
pub(crate) mod auth;
pub(crate) mod billing;
mod bot_form;
pub(crate) mod conversations;
mod error;
mod form;
pub(crate) mod home;
pub mod i18n;
mod knowledge_form;
pub(crate) mod live;
pub(crate) mod media;
pub(crate) mod onboarding;
pub(crate) mod orders;
pub(crate) mod payments;
pub(crate) mod products;
mod session;
pub(crate) mod settings;
pub(crate) mod team;
pub(crate) mod test_chat;
mod view;
pub(crate) mod whatsapp;

use axum::Router;
use axum::http::HeaderMap;
use axum::middleware;
use axum_extra::extract::CookieJar;

pub use error::{WebError, WebResult, not_found};
pub use session::COOKIE as SESSION_COOKIE;

use crate::AppState;
use i18n::Lang;

/// Cookie remembering the interface language (not a secret; read by pages shown before sign-in and by error
/// pages).
pub const LANG_COOKIE: &str = "tdj_lang";

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(assets::router())
        .merge(auth::router())
        .merge(home::router())
        .merge(billing::router())
        .merge(onboarding::router())
        .merge(settings::router())
        .merge(payments::router())
        .merge(whatsapp::router())
        .merge(products::router())
        .merge(orders::router())
        .merge(conversations::router())
        .merge(test_chat::router())
        .merge(media::router())
        .merge(live::router())
        .merge(admin::router())
        .merge(team::router().merge(account::router()))
        .layer(middleware::from_fn(error::render_error_pages))
}

/// The language of a request before (or without) a session: the language cookie, then the browser's.
pub(crate) fn lang_of_request(headers: &HeaderMap) -> Lang {
    CookieJar::from_headers(headers)
        .get(LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .unwrap_or_else(|| {
            Lang::from_accept_language(
                headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}
