//! The platform operator's dashboard (`/admin/...`, role `platform_admin` only; any shop user gets 403): the
//! overview with revenue and activity charts ([`overview`]), shops and their detail with the audited actions
//! ([`tenants`]), payments across shops ([`payments`]) and dead letters across shops ([`dead_letters`]). Its own
//! layout (`admin_layout.html`), the same stylesheet; every handler calls the service functions of the REST
//! endpoints (`crate::admin`).

mod charts;
pub(crate) mod dead_letters;
pub(crate) mod overview;
pub(crate) mod payments;
pub(crate) mod tenants;

use std::borrow::Cow;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::WebError;
use super::i18n::Lang;
use super::session::Session;
use crate::AppState;

pub fn router() -> Router<AppState> {
    overview::router()
        .merge(tenants::router())
        .merge(payments::router())
        .merge(dead_letters::router())
}

/// A signed-in platform administrator; a shop's owner or staff is refused with the 403 page.
pub struct AdminSession(pub Session);

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        require_admin(&session)?;
        Ok(AdminSession(session))
    }
}

/// Refuses anyone but a platform administrator (403 page).
pub(super) fn require_admin(session: &Session) -> Result<(), WebError> {
    session
        .user
        .require_platform_admin()
        .map_err(WebError::from)
}

/// What a redirect after an operator action may confirm (`?done=…`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AdminFlash(Option<&'static str>);

impl<S: Send + Sync> FromRequestParts<S> for AdminFlash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let done = parts
            .uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("done="));
        Ok(AdminFlash(done.and_then(|d| {
            [
                "suspended",
                "reactivated",
                "extended",
                "plan_changed",
                "reviewed",
                "replayed",
                "discarded",
                "unchanged",
            ]
            .into_iter()
            .find(|f| *f == d)
        })))
    }
}

impl AdminFlash {
    fn text(self, lang: Lang) -> Option<String> {
        let key = match self.0? {
            "suspended" => "admin.flash.suspended",
            "reactivated" => "admin.flash.reactivated",
            "extended" => "admin.flash.extended",
            "plan_changed" => "admin.flash.plan_changed",
            "reviewed" => "admin.flash.reviewed",
            "replayed" => "admin.flash.replayed",
            "discarded" => "admin.flash.discarded",
            _ => "admin.flash.unchanged",
        };
        Some(lang.t(key).into_owned())
    }
}

/// The admin layout's data.
#[derive(Debug, Clone)]
pub struct AdminChrome {
    pub lang: Lang,
    pub csrf: String,
    /// The navigation entry to highlight: `overview`, `tenants`, `payments` or `dead_letters`.
    pub nav: &'static str,
    pub title: String,
    pub email: String,
    pub flash: Option<String>,
}

impl AdminChrome {
    pub fn new(session: &Session, nav: &'static str, title: String, flash: AdminFlash) -> Self {
        AdminChrome {
            lang: session.lang,
            csrf: session.csrf.clone(),
            nav,
            title,
            email: session.email.clone(),
            flash: flash.text(session.lang),
        }
    }

    pub fn t(&self, key: &str) -> Cow<'static, str> {
        self.lang.t(key)
    }

    /// The `class` of a navigation link.
    pub fn nav_class(&self, entry: &str) -> &'static str {
        if self.nav == entry { "on" } else { "" }
    }

    pub fn css(&self) -> &'static str {
        super::assets::css_url()
    }

    pub fn js(&self) -> &'static str {
        super::assets::js_url()
    }
}

/// "4 déc. 2026, 18:55", or "—".
pub(super) fn datetime(lang: Lang, at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), |at| lang.datetime(at))
}

/// "4 déc. 2026", or "—".
pub(super) fn date(lang: Lang, at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), |at| lang.date(at))
}

/// The label of a subscription status (`subscription.*` of the shop's catalogue), "—" without one.
pub(super) fn subscription_label(lang: Lang, status: Option<&str>) -> String {
    match status {
        Some(status @ ("pending" | "active" | "past_due" | "suspended")) => {
            lang.t(&format!("subscription.{status}")).into_owned()
        }
        _ => "—".to_owned(),
    }
}

/// The label of a payment provider (`provider.*`).
pub(super) fn provider_label(lang: Lang, provider: &str) -> String {
    if store::billing::PROVIDERS.contains(&provider) {
        lang.t(&format!("provider.{provider}")).into_owned()
    } else {
        provider.to_owned()
    }
}

/// The label of a payment status (`payment.*`).
pub(super) fn payment_label(lang: Lang, status: &str) -> String {
    if crate::admin::payments::STATUSES.contains(&status) {
        lang.t(&format!("payment.{status}")).into_owned()
    } else {
        status.to_owned()
    }
}
