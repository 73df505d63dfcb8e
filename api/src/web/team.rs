//! The team screen (owners only): members with their role and since when, open invitations (resend,
//! cancel), invite by e-mail, change a role, remove a member. And the public page an invitation link opens
//! (`/invitation/{token}`): the shop's name, a password to choose, then the new member is signed in.
//! Every action calls the same functions as `/api/v1/team/*`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use store::users::Role;

use super::auth::{check_pre_csrf, public_page, signed_in};
use super::error::{WebError, WebResult};
use super::form::Posted;
use super::i18n::Lang;
use super::session::Session;
use super::view::{Chrome, FieldErrors, Flash, render};
use crate::extract::ClientAddr;
use crate::team::{self, INVITATION_LINK_INVALID, Team, UPGRADE_PATH, role_label};
use crate::{AppState, Error};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/team", get(page))
        .route("/app/team/invitations", post(invite))
        .route("/app/team/invitations/{id}/resend", post(resend))
        .route("/app/team/invitations/{id}/cancel", post(cancel))
        .route("/app/team/members/{id}/role", post(change_role))
        .route("/app/team/members/{id}/remove", post(remove))
        .route("/invitation/{token}", get(invitation_page).post(accept))
}

const MEMBER_NOT_FOUND: Error = Error::NotFound("Membre introuvable.");
const INVITATION_NOT_FOUND: Error = Error::NotFound("Invitation introuvable.");

/// A member as the page lists them.
pub struct MemberRow {
    pub id: String,
    pub email: String,
    pub role: &'static str,
    pub role_label: String,
    pub since: String,
    pub is_you: bool,
    /// Not the last owner: their role can change and they can be removed.
    pub can_change: bool,
}

/// An open invitation as the page lists it.
pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub role_label: String,
    pub expired: bool,
    /// "expires on …" or "expired on …".
    pub when: String,
}

/// The invite form's values and errors.
#[derive(Default)]
pub struct InviteForm {
    pub email: String,
    pub role: String,
    pub errors: FieldErrors,
    /// The plan has no seat left (with a link to change plan).
    pub limit_error: String,
}

#[derive(askama::Template)]
#[template(path = "team.html")]
struct TeamTemplate {
    chrome: Chrome,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    seats: String,
    full: bool,
    upgrade: &'static str,
    form: InviteForm,
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

/// The confirmation after a successful action (POST/redirect/GET).
fn flash(lang: Lang, done: Option<&str>) -> Option<String> {
    let key = match done? {
        "invited" => "team.flash.invited",
        "invited_unsent" => "team.flash.invited_unsent",
        "resent" => "team.flash.resent",
        "cancelled" => "team.flash.cancelled",
        "role" => "team.flash.role",
        "removed" => "team.flash.removed",
        _ => return None,
    };
    Some(lang.t(key).into_owned())
}

async fn render_team(
    state: &AppState,
    session: &Session,
    done: Option<&str>,
    form: InviteForm,
) -> WebResult<Response> {
    let team = team::team(state, &session.user).await?;
    let mut chrome = Chrome::load(state, session, "team", "team.title", Flash::default()).await?;
    chrome.flash = flash(chrome.lang, done);
    let lang = chrome.lang;
    let Team {
        members,
        invitations,
        seats,
    } = team;
    let owners = members.iter().filter(|m| m.role == Role::Owner).count();
    let full = seats
        .limit
        .is_some_and(|limit| seats.used >= i64::from(limit));
    let seats_line = match seats.limit {
        Some(limit) => lang.tf(
            "team.seats",
            &[
                ("plan", &seats.plan_name),
                ("used", &seats.used.to_string()),
                ("limit", &limit.to_string()),
            ],
        ),
        None => lang.tf(
            "team.seats_unlimited",
            &[
                ("plan", &seats.plan_name),
                ("used", &seats.used.to_string()),
            ],
        ),
    };
    render(&TeamTemplate {
        members: members
            .into_iter()
            .map(|m| MemberRow {
                id: m.user_id.to_string(),
                can_change: !(m.role == Role::Owner && owners <= 1),
                role: m.role.as_str(),
                role_label: role_label(lang, m.role),
                since: lang.date(m.since),
                is_you: m.is_you,
                email: m.email,
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(|i| InvitationRow {
                id: i.invitation_id.to_string(),
                role_label: role_label(lang, i.role),
                when: lang.tf(
                    if i.expired {
                        "team.invitation.expired"
                    } else {
                        "team.invitation.expires"
                    },
                    &[("date", &lang.date(i.expires_at))],
                ),
                expired: i.expired,
                email: i.email,
            })
            .collect(),
        seats: seats_line,
        full,
        upgrade: UPGRADE_PATH,
        form: InviteForm {
            role: if form.role.is_empty() {
                "staff".into()
            } else {
                form.role
            },
            ..form
        },
        chrome,
    })
}

/// The team: members, their roles, pending invitations.
#[utoipa::path(
    get,
    path = "/app/team",
    operation_id = "teamPage",
    tag = "pages",
    responses(crate::openapi::pages::OwnerPage)
)]
async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<DoneQuery>,
) -> WebResult<Response> {
    render_team(
        &state,
        &session,
        query.done.as_deref(),
        InviteForm::default(),
    )
    .await
}

#[derive(Deserialize)]
struct InviteFields {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn invite(
    State(state): State<AppState>,
    posted: Posted<InviteFields>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let outcome = team::invite_member(&state, &session.user, &form.email, Some(&form.role)).await;
    let mut shown = InviteForm {
        email: form.email,
        role: form.role,
        ..InviteForm::default()
    };
    match outcome {
        Ok(sent) if sent.email_sent => Ok(Redirect::to("/app/team?done=invited").into_response()),
        Ok(_) => Ok(Redirect::to("/app/team?done=invited_unsent").into_response()),
        Err(Error::Validation(fields)) => {
            shown.errors = FieldErrors(fields);
            unprocessable(render_team(&state, &session, None, shown).await)
        }
        Err(Error::Conflict { message, .. }) => {
            shown.errors = FieldErrors(vec![crate::error::FieldError {
                field: "email".into(),
                message,
            }]);
            unprocessable(render_team(&state, &session, None, shown).await)
        }
        Err(Error::PlanLimit(message)) => {
            shown.limit_error = message;
            unprocessable(render_team(&state, &session, None, shown).await)
        }
        Err(other) => Err(other.into()),
    }
}

fn unprocessable(page: WebResult<Response>) -> WebResult<Response> {
    page.map(|page| (StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Deserialize)]
struct Nothing {}

async fn resend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Nothing>,
) -> WebResult<Response> {
    let id = crate::pagination::parse_id(&id, INVITATION_NOT_FOUND)?;
    let sent = team::resend_invitation(&state, &posted.session.user, id).await?;
    let done = if sent.email_sent {
        "resent"
    } else {
        "invited_unsent"
    };
    Ok(Redirect::to(&format!("/app/team?done={done}")).into_response())
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Nothing>,
) -> WebResult<Response> {
    let id = crate::pagination::parse_id(&id, INVITATION_NOT_FOUND)?;
    team::cancel_invitation(&state, &posted.session.user, id).await?;
    Ok(Redirect::to("/app/team?done=cancelled").into_response())
}

#[derive(Deserialize)]
struct RoleFields {
    #[serde(default)]
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<RoleFields>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let id = crate::pagination::parse_id(&id, MEMBER_NOT_FOUND)?;
    team::set_member_role(&state, &session.user, id, &form.role).await?;
    // The member's sign-ins ended; when that is the caller, they sign in again.
    if id == session.user.user_id {
        return Ok(Redirect::to("/login?next=reset").into_response());
    }
    Ok(Redirect::to("/app/team?done=role").into_response())
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<Nothing>,
) -> WebResult<Response> {
    let session = posted.session;
    let id = crate::pagination::parse_id(&id, MEMBER_NOT_FOUND)?;
    team::remove_member(&state, &session.user, id).await?;
    if id == session.user.user_id {
        return Ok(Redirect::to("/login").into_response());
    }
    Ok(Redirect::to("/app/team?done=removed").into_response())
}

#[derive(askama::Template)]
#[template(path = "invitation.html")]
struct InvitationTemplate {
    lang: Lang,
    title_key: &'static str,
    csrf: String,
    shop: String,
    email: String,
    role_label: String,
    errors: FieldErrors,
    error: String,
}

#[derive(askama::Template)]
#[template(path = "invitation_invalid.html")]
struct InvalidTemplate {
    lang: Lang,
    title_key: &'static str,
    message: String,
}

#[derive(Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

/// Links carrying a secret are never passed on to another site.
const NO_REFERRER: [(header::HeaderName, &str); 1] = [(header::REFERRER_POLICY, "no-referrer")];

/// The page an invitation link opens: the same answer for an unknown, used or expired link.
#[utoipa::path(get, path = "/invitation/{token}", operation_id = "invitationPage", tag = "pages",
    params(("token" = String, Path, description = "The secret of the e-mailed link"),
           ("lang" = Option<String>, Query, description = "`fr` or `en`: switches the interface language (remembered in a cookie)")),
    responses(crate::openapi::pages::PublicPage))]
async fn invitation_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(query): Query<LangQuery>,
) -> WebResult<Response> {
    let page = public_page(&headers, query.lang.as_deref(), &state);
    let link = match team::pending_invitation(&state, &token).await {
        Ok(link) => link,
        Err(Error::NotFound(_)) => return invalid(page.lang, page.jar),
        Err(other) => return Err(other.into()),
    };
    // The inviter's language, unless the visitor picked one on this page.
    let lang = match query.lang.as_deref().and_then(Lang::parse) {
        Some(lang) => lang,
        None => Lang::parse(&link.language).unwrap_or(page.lang),
    };
    let body = render(&InvitationTemplate {
        lang,
        title_key: "invitation.title",
        csrf: page.csrf,
        shop: link.shop_name,
        email: link.email,
        role_label: role_label(lang, link.role),
        errors: FieldErrors::default(),
        error: String::new(),
    })?;
    Ok((NO_REFERRER, page.jar, body).into_response())
}

fn invalid(lang: Lang, jar: axum_extra::extract::CookieJar) -> WebResult<Response> {
    let body = render(&InvalidTemplate {
        lang,
        title_key: "invitation.invalid.title",
        message: lang.t("invitation.invalid.body").into_owned(),
    })?;
    Ok((StatusCode::NOT_FOUND, NO_REFERRER, jar, body).into_response())
}

#[derive(Deserialize)]
struct AcceptFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    lang: String,
}

/// Creates the member and signs them in on the dashboard.
async fn accept(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
    axum::Form(form): axum::Form<AcceptFields>,
) -> WebResult<Response> {
    check_pre_csrf(&headers, &form.csrf)?;
    let page = public_page(&headers, None, &state);
    let lang = Lang::parse(&form.lang).unwrap_or(page.lang);
    let outcome = match state.auth_limiter.check(client.0) {
        Ok(()) => team::accept_invitation(&state, &token, form.password).await,
        Err(limited) => Err(limited),
    };
    let (errors, error) = match outcome {
        Ok(member) => return signed_in(&state, page.jar, &member, "/app").await,
        Err(Error::NotFound(message)) if message == INVITATION_LINK_INVALID => {
            return invalid(lang, page.jar);
        }
        Err(Error::Validation(fields)) => (FieldErrors(fields), String::new()),
        Err(e @ (Error::PlanLimit(_) | Error::Conflict { .. } | Error::TooManyRequests { .. })) => {
            (FieldErrors::default(), e.user_message())
        }
        Err(other) => return Err(WebError::Api(other)),
    };
    let link = match team::pending_invitation(&state, &token).await {
        Ok(link) => link,
        Err(Error::NotFound(_)) => return invalid(lang, page.jar),
        Err(other) => return Err(other.into()),
    };
    let body = render(&InvitationTemplate {
        lang,
        title_key: "invitation.title",
        csrf: page.csrf,
        shop: link.shop_name,
        email: link.email,
        role_label: role_label(lang, link.role),
        errors,
        error,
    })?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        NO_REFERRER,
        page.jar,
        body,
    )
        .into_response())
}
