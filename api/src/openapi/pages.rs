//! The responses the dashboard's pages share in the OpenAPI document (tag `pages`). A page answers HTML,
//! its errors are HTML pages too, and a missing session is a redirect to the sign-in page, never a 401.
//! These types only describe responses (`responses(SignedInPage)`); handlers never build them.
#![allow(
    dead_code,
    reason = "response descriptions for the OpenAPI document, never constructed"
)]

/// A page anyone may open.
#[derive(utoipa::IntoResponses)]
pub(crate) enum PublicPage {
    /// The page, in the visitor's language (`?lang=`, then the `tdj_lang` cookie, then `Accept-Language`).
    #[response(status = 200, content_type = "text/html")]
    Page(String),
}

/// A page of the shop's dashboard, for any member of the shop.
#[derive(utoipa::IntoResponses)]
pub(crate) enum SignedInPage {
    /// The page, in the user's language.
    #[response(status = 200, content_type = "text/html")]
    Page(String),
    /// No live session: to `/login`.
    #[response(status = 303)]
    SignIn,
}

/// A page of the shop's dashboard that only its owners may open.
#[derive(utoipa::IntoResponses)]
pub(crate) enum OwnerPage {
    /// The page, in the user's language.
    #[response(status = 200, content_type = "text/html")]
    Page(String),
    /// No live session: to `/login`.
    #[response(status = 303)]
    SignIn,
    /// The "not allowed" page: the user is not an owner of the shop.
    #[response(status = 403, content_type = "text/html")]
    Forbidden(String),
}

/// A page of the operator's console.
#[derive(utoipa::IntoResponses)]
pub(crate) enum AdminPage {
    /// The page, in the operator's language.
    #[response(status = 200, content_type = "text/html")]
    Page(String),
    /// No live session: to `/login`.
    #[response(status = 303)]
    SignIn,
    /// The "not allowed" page: the user is not a platform administrator.
    #[response(status = 403, content_type = "text/html")]
    Forbidden(String),
}
