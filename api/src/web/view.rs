//! What every signed-in page shares: the layout's data ([`Chrome`]) and the flash message after a
//! successful post (POST/redirect/GET with `?done=<what>`).

use std::borrow::Cow;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use store::tenants;

use super::error::WebResult;
use super::i18n::Lang;
use super::session::Session;
use crate::AppState;

/// Flash messages a redirect may ask for; anything else in `done` is ignored.
pub(super) const FLASHES: [&str; 17] = [
    "saved",
    "order_refund",
    "created",
    "deleted",
    "deactivated",
    "activated",
    "imported",
    "order_status",
    "paused",
    "resumed",
    "sent",
    "paid",
    "payment_failed",
    "payment_pending",
    "language",
    "whatsapp",
    "signed_up",
];

/// The confirmation asked for by `?done=…`.
#[derive(Debug, Default, Clone)]
pub struct Flash(pub Option<&'static str>);

impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let done = parts
            .uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("done="));
        Ok(Flash(
            done.and_then(|d| FLASHES.iter().copied().find(|f| *f == d)),
        ))
    }
}

/// The layout's data: language, CSRF token for the forms, navigation, the shop's name.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: Lang,
    pub csrf: String,
    /// The navigation entry to highlight.
    pub nav: &'static str,
    pub title: String,
    pub shop_name: String,
    pub email: String,
    pub owner: bool,
    pub flash: Option<String>,
    /// Onboarding not finished: the layout offers to resume it.
    pub onboarding: bool,
}

impl Chrome {
    pub async fn load(
        state: &AppState,
        session: &Session,
        nav: &'static str,
        title_key: &str,
        flash: Flash,
    ) -> WebResult<Self> {
        let mut tx = state.db.tenant(session.user.ctx()).await?;
        let tenant = tenants::get(&mut tx).await?;
        let step = tenants::onboarding_step(&mut tx).await?;
        tx.commit().await?;
        let lang = session.lang;
        Ok(Chrome {
            lang,
            csrf: session.csrf.clone(),
            nav,
            title: lang.t(title_key).into_owned(),
            shop_name: tenant.name,
            email: session.email.clone(),
            owner: session.is_owner(),
            flash: flash.0.map(|f| lang.t(&format!("flash.{f}")).into_owned()),
            onboarding: step != tenants::OnboardingStep::Done,
        })
    }

    pub fn t(&self, key: &str) -> Cow<'static, str> {
        self.lang.t(key)
    }

    /// The `class` of a navigation link.
    pub fn nav_class(&self, entry: &str) -> &'static str {
        if self.nav == entry { "on" } else { "" }
    }
}

/// Renders a template into an HTML response.
pub fn render<T: askama::Template>(template: &T) -> WebResult<Response> {
    let body = template
        .render()
        .map_err(|e| crate::Error::Internal(anyhow::Error::new(e).context("template")))?;
    Ok(Html(body).into_response())
}

/// A field's error message, for templates: `errors.of("price_xof")`.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(pub Vec<crate::error::FieldError>);

impl FieldErrors {
    pub fn of(&self, field: &str) -> &str {
        self.0
            .iter()
            .find(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
            .map_or("", |e| e.message.as_str())
    }

    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

/// Splits an API error into field errors (re-render the form) or anything else (an error page).
pub fn field_errors(error: crate::Error) -> WebResult<FieldErrors> {
    match error {
        crate::Error::Validation(fields) => Ok(FieldErrors(fields)),
        other => Err(other.into()),
    }
}

impl Chrome {
    pub fn css(&self) -> &'static str {
        super::assets::css_url()
    }

    pub fn js(&self) -> &'static str {
        super::assets::js_url()
    }
}
