//! The platform operator's console over REST (`/api/v1/admin/...`, role `platform_admin` only) and the service
//! functions the operator's pages (`crate::web::admin`) call too: shops ([`tenants`]), revenue and activity
//! ([`stats`]), payments across shops ([`payments`]) and dead letters across shops ([`dead_letters`]). Every
//! action is audited with the operator's id and a required reason; a suspended shop is refused what would
//! mislead it ([`suspension`]).

pub(crate) mod dead_letters;
pub(crate) mod payments;
pub(crate) mod stats;
pub(crate) mod suspension;
pub(crate) mod tenants;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::AuthUser;
use crate::validate::Check;
use crate::{AppState, Error};

pub fn router() -> Router<AppState> {
    tenants::router()
        .merge(stats::router())
        .merge(payments::router())
        .merge(dead_letters::router())
}

/// The authenticated platform administrator. Anyone else is refused (401 without a valid token, 403 with a
/// shop's) before the rest of the request (path, query, body) is even read.
pub(crate) struct PlatformAdmin(pub AuthUser);

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        user.require_platform_admin()?;
        Ok(PlatformAdmin(user))
    }
}

/// The reason of an operator action, required: 3 to 500 characters once trimmed.
pub(crate) fn reason(check: &mut Check, field: &str, raw: &str) -> String {
    let reason = raw.trim();
    let len = reason.chars().count();
    if len < 3 {
        check.fail(
            field,
            "Indiquez le motif (au moins 3 caractères) : il est gardé dans le journal de la boutique.",
        );
    } else if len > 500 {
        check.fail(field, "Le motif ne doit pas dépasser 500 caractères.");
    }
    reason.to_owned()
}

/// An optional query value: absent or blank is `None`.
pub(crate) fn given(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// An optional filter that must be one of `allowed` (checked, in French, under `field`).
pub(crate) fn one_of(
    check: &mut Check,
    field: &str,
    value: Option<&str>,
    allowed: &[&str],
) -> Option<String> {
    let value = given(value)?.to_lowercase();
    if !allowed.contains(&value.as_str()) {
        check.fail(
            field,
            format!("Valeur inconnue : choisissez {}.", allowed.join(", ")),
        );
    }
    Some(value)
}

/// [`one_of`] over the values of an enum, by their stored names (`name`): the value, or `None` when absent or
/// unknown (then `check` holds the error).
pub(crate) fn one_of_enum<T: Copy>(
    check: &mut Check,
    field: &str,
    value: Option<&str>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Option<T> {
    let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
    let value = one_of(check, field, value, &names)?;
    all.iter().copied().find(|v| name(*v) == value)
}
