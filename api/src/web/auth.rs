//! Sign up, log in and log out. Before sign-in there is no session to hold a CSRF token, so these forms use
//! a double-submit token: a random cookie the form must echo.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Deserialize;
use store::plans;
use subtle::ConstantTimeEq;

use super::billing::{PlanView, plan_views};
use super::error::{WebError, WebResult};
use super::form::Posted;
use super::i18n::Lang;
use super::session::{self, Session};
use super::view::{FieldErrors, field_errors, render};
use super::{LANG_COOKIE, lang_of_request};
use crate::auth::routes::{SignupRequest, authenticate, create_shop};
use crate::extract::ClientAddr;
use crate::{AppState, Error};

/// The pre-sign-in CSRF cookie.
const PRE_CSRF_COOKIE: &str = "tdj_csrf";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_page).post(login))
        .route("/signup", get(signup_page).post(signup))
        .route("/logout", post(logout))
}

/// The site's root: sends the visitor on to the right place.
#[utoipa::path(get, path = "/", operation_id = "rootPage", tag = "pages",
    responses((status = 303, description = "To `/app` (`/admin` for a platform administrator) when signed in, else to `/login`")))]
async fn root(session: Option<Session>) -> Redirect {
    Redirect::to(match session {
        Some(session) => home_of(&session.user),
        None => "/login",
    })
}

/// Where a signed-in user belongs: the operator's dashboard for a platform administrator, the shop's otherwise.
fn home_of(user: &crate::auth::AuthUser) -> &'static str {
    if user.role == store::users::Role::PlatformAdmin {
        "/admin"
    } else {
        "/app"
    }
}

#[derive(Deserialize)]
struct PublicQuery {
    lang: Option<String>,
    plan: Option<String>,
    next: Option<String>,
}

/// The page's language (a `?lang=` switch is remembered in a cookie) and the double-submit token.
pub(super) struct PublicPage {
    pub(super) lang: Lang,
    pub(super) csrf: String,
    pub(super) jar: CookieJar,
}

pub(super) fn public_page(
    headers: &HeaderMap,
    lang_switch: Option<&str>,
    state: &AppState,
) -> PublicPage {
    let mut jar = CookieJar::from_headers(headers);
    let lang = match lang_switch.and_then(Lang::parse) {
        Some(lang) => {
            jar = jar.add(lang_cookie(state, lang));
            lang
        }
        None => lang_of_request(headers),
    };
    let csrf = match jar.get(PRE_CSRF_COOKIE).map(|c| c.value().to_owned()) {
        Some(token) if token.len() >= 32 => token,
        _ => {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            let token = URL_SAFE_NO_PAD.encode(bytes);
            jar = jar.add(
                Cookie::build((PRE_CSRF_COOKIE, token.clone()))
                    .http_only(true)
                    .same_site(SameSite::Lax)
                    .secure(state.config.secure_cookies)
                    .path("/")
                    .build(),
            );
            token
        }
    };
    PublicPage { lang, csrf, jar }
}

pub(super) fn lang_cookie(state: &AppState, lang: Lang) -> Cookie<'static> {
    Cookie::build((LANG_COOKIE, lang.code()))
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .path("/")
        .max_age(cookie::time::Duration::days(365))
        .build()
}

/// Rejects a pre-sign-in form whose token does not match its cookie.
pub(super) fn check_pre_csrf(headers: &HeaderMap, posted: &str) -> WebResult<()> {
    let jar = CookieJar::from_headers(headers);
    let expected = jar.get(PRE_CSRF_COOKIE).map(|c| c.value().to_owned());
    match expected {
        Some(expected)
            if !posted.is_empty() && bool::from(expected.as_bytes().ct_eq(posted.as_bytes())) =>
        {
            Ok(())
        }
        _ => Err(WebError::Csrf),
    }
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginTemplate {
    lang: Lang,
    title_key: &'static str,
    csrf: String,
    email: String,
    error: String,
    info: Option<String>,
}

/// The sign-in page.
#[utoipa::path(get, path = "/login", operation_id = "loginPage", tag = "pages",
    params(("lang" = Option<String>, Query, description = "`fr` or `en`: switches the interface language (remembered in a cookie)"),
           ("next" = Option<String>, Query, description = "`reset`: says the password was just changed")),
    responses(crate::openapi::pages::PublicPage,
              (status = 303, description = "Already signed in: to the user's dashboard")))]
async fn login_page(
    State(state): State<AppState>,
    session: Option<Session>,
    headers: HeaderMap,
    Query(query): Query<PublicQuery>,
) -> WebResult<Response> {
    if let Some(session) = session {
        return Ok(Redirect::to(home_of(&session.user)).into_response());
    }
    let page = public_page(&headers, query.lang.as_deref(), &state);
    let info = (query.next.as_deref() == Some("reset"))
        .then(|| page.lang.t("auth.login.again").into_owned());
    let body = render(&LoginTemplate {
        lang: page.lang,
        title_key: "auth.login.title",
        csrf: page.csrf,
        email: String::new(),
        error: String::new(),
        info,
    })?;
    Ok((page.jar, body).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> WebResult<Response> {
    check_pre_csrf(&headers, &form.csrf)?;
    let page = public_page(&headers, None, &state);
    let outcome = match state.auth_limiter.check(client.0) {
        Ok(()) => authenticate(&state, &form.email, form.password)
            .await
            .map(|(user, _)| user),
        Err(limited) => Err(limited),
    };
    let user = match outcome {
        Ok(user) => user,
        Err(e @ (Error::InvalidCredentials | Error::TooManyRequests { .. })) => {
            let error = match e {
                Error::InvalidCredentials => page.lang.t("auth.login.wrong").into_owned(),
                other => other.user_message(),
            };
            let body = render(&LoginTemplate {
                lang: page.lang,
                title_key: "auth.login.title",
                csrf: page.csrf,
                email: form.email,
                error,
                info: None,
            })?;
            return Ok(
                (axum::http::StatusCode::UNPROCESSABLE_ENTITY, page.jar, body).into_response(),
            );
        }
        Err(other) => return Err(other.into()),
    };
    signed_in(&state, page.jar, &user, home_of(&user)).await
}

/// Opens the session, remembers the user's language and goes to `to`.
pub(super) async fn signed_in(
    state: &AppState,
    jar: CookieJar,
    user: &crate::auth::AuthUser,
    to: &str,
) -> WebResult<Response> {
    let cookie = session::open(state, user).await?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let language = store::users::get_language(&mut tx, user.user_id).await?;
    tx.commit().await?;
    let lang = Lang::parse(&language).unwrap_or_default();
    let jar = jar.add(cookie).add(lang_cookie(state, lang));
    Ok((jar, Redirect::to(to)).into_response())
}

#[derive(askama::Template)]
#[template(path = "signup.html")]
struct SignupTemplate {
    lang: Lang,
    title_key: &'static str,
    csrf: String,
    business_name: String,
    email: String,
    plan: String,
    plans: Vec<PlanView>,
    errors: FieldErrors,
    error: String,
}

/// The sign-up page: a new shop and its owner.
#[utoipa::path(get, path = "/signup", operation_id = "signupPage", tag = "pages",
    params(("lang" = Option<String>, Query, description = "`fr` or `en`: switches the interface language (remembered in a cookie)"),
           ("plan" = Option<String>, Query, description = "The plan chosen beforehand (`starter` by default)")),
    responses(crate::openapi::pages::PublicPage,
              (status = 303, description = "Already signed in: to `/app`")))]
async fn signup_page(
    State(state): State<AppState>,
    session: Option<Session>,
    headers: HeaderMap,
    Query(query): Query<PublicQuery>,
) -> WebResult<Response> {
    if session.is_some() {
        return Ok(Redirect::to("/app").into_response());
    }
    let page = public_page(&headers, query.lang.as_deref(), &state);
    let plans = plans::list_active(state.db.pool()).await?;
    let plan = query
        .plan
        .filter(|p| plans.iter().any(|x| &x.plan_code == p))
        .unwrap_or_else(|| "starter".into());
    let body = render(&SignupTemplate {
        lang: page.lang,
        title_key: "auth.signup.title",
        csrf: page.csrf,
        business_name: String::new(),
        email: String::new(),
        plan,
        plans: plan_views(page.lang, &plans),
        errors: FieldErrors::default(),
        error: String::new(),
    })?;
    Ok((page.jar, body).into_response())
}

#[derive(Deserialize)]
struct SignupForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    business_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    plan: String,
}

async fn signup(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignupForm>,
) -> WebResult<Response> {
    check_pre_csrf(&headers, &form.csrf)?;
    let page = public_page(&headers, None, &state);
    let request = SignupRequest {
        business_name: form.business_name.clone(),
        email: form.email.clone(),
        password: form.password,
        plan: form.plan.clone(),
    };
    let outcome = match state.auth_limiter.check(client.0) {
        Ok(()) => create_shop(&state, request).await,
        Err(limited) => Err(limited),
    };
    let (errors, error) = match outcome {
        Ok(user) => {
            // The shop starts in the language it signed up in.
            let mut tx = state.db.tenant(user.ctx()).await?;
            store::users::set_language(&mut tx, user.user_id, page.lang.code()).await?;
            tx.commit().await?;
            return signed_in(&state, page.jar, &user, "/app/onboarding").await;
        }
        Err(Error::Conflict { message, .. }) => (
            FieldErrors(vec![crate::error::FieldError {
                field: "email".into(),
                message,
            }]),
            String::new(),
        ),
        Err(e @ Error::TooManyRequests { .. }) => (FieldErrors::default(), e.user_message()),
        Err(other) => (field_errors(other)?, String::new()),
    };
    let plans = plans::list_active(state.db.pool()).await?;
    let body = render(&SignupTemplate {
        lang: page.lang,
        title_key: "auth.signup.title",
        csrf: page.csrf,
        business_name: form.business_name,
        email: form.email,
        plan: form.plan,
        plans: plan_views(page.lang, &plans),
        errors,
        error,
    })?;
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page.jar, body).into_response())
}

#[derive(Deserialize)]
struct Nothing {}

async fn logout(State(state): State<AppState>, posted: Posted<Nothing>) -> WebResult<Response> {
    let cookie = session::close(&state, &posted.session).await?;
    let jar = CookieJar::new().add(cookie);
    Ok((jar, Redirect::to("/login")).into_response())
}
