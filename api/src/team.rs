//! The shop's team: `GET /api/v1/team`, `POST /api/v1/team/invitations`,
//! `POST /api/v1/team/invitations/{id}/resend`, `DELETE /api/v1/team/invitations/{id}`,
//! `PATCH|DELETE /api/v1/team/members/{id}`, and `POST /api/v1/invitations/accept` for the invited person.
//!
//! Owners manage the team; staff get 403. Roles: `owner` (everything) and `staff` (products, orders,
//! conversations, test chat). Seats: the plan's `max_staff_users` counts every member, owners included, plus
//! the pending invitations (Starter's 1 is the owner alone). The shop always keeps at least one owner.
//! A role change or a removal ends the member's sign-ins (their tokens carry the old role).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use store::invitations::{self, Invitation, InvitationLink, NewInvitation};
use store::plans::{self, Plan};
use store::users::{self, Role, User};
use store::{TenantCtx, TenantTx, audit, tenants};
use uuid::Uuid;

use crate::account::{check_password, hash_link_token, new_link_token};
use crate::auth::{AuthUser, hash_password};
use crate::extract::{ApiJson, ClientAddr};
use crate::mail::Mail;
use crate::validate::Check;
use crate::web::i18n::Lang;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/team", get(overview))
        .route("/api/v1/team/invitations", post(invite))
        .route("/api/v1/team/invitations/{id}", delete(cancel))
        .route("/api/v1/team/invitations/{id}/resend", post(resend))
        .route(
            "/api/v1/team/members/{id}",
            patch(change_role).delete(remove),
        )
        .route("/api/v1/invitations/accept", post(accept))
}

/// How long an invitation link works.
pub const INVITATION_VALID_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// The one answer to an unknown, used or expired invitation link.
pub const INVITATION_LINK_INVALID: &str = "Ce lien d'invitation n'est plus valable (déjà utilisé, expiré ou \
    inconnu). Demandez au propriétaire de la boutique de vous inviter à nouveau.";

const MEMBER_NOT_FOUND: &str = "Membre introuvable.";
const INVITATION_NOT_FOUND: &str = "Invitation introuvable.";

/// Where a plan-limit message sends the owner.
pub const UPGRADE_PATH: &str = "/app/billing";

/// A member of the shop.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    /// `owner` or `staff`.
    pub role: Role,
    /// When they joined.
    pub since: DateTime<Utc>,
    /// This member is the caller.
    pub is_you: bool,
}

impl Member {
    fn of(user: User, caller: &AuthUser) -> Self {
        Member {
            is_you: user.user_id == caller.user_id,
            user_id: user.user_id,
            email: user.email,
            role: user.role,
            since: user.created_at,
        }
    }
}

/// The plan's seats.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Seats {
    pub plan_code: String,
    pub plan_name: String,
    /// Members allowed, owners included (`null`: unlimited).
    pub limit: Option<i32>,
    /// Members plus pending invitations.
    pub used: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Team {
    /// Oldest first.
    pub members: Vec<Member>,
    /// Invitations not accepted yet, pending or expired, newest first.
    pub invitations: Vec<Invitation>,
    pub seats: Seats,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    /// `staff` (the default) or `owner`.
    pub role: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationSent {
    pub invitation: Invitation,
    /// The e-mail with the link left; `false`: the invitation exists, resend it later.
    pub email_sent: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `owner` or `staff`.
    pub role: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The token of the e-mailed link (the last part of `/invitation/{token}`).
    pub token: String,
    /// The new member's password, 8 to 128 characters.
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AcceptResponse {
    pub token: String,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

/// The team: members, open invitations and the plan's seats. Owners only.
#[utoipa::path(get, path = "/api/v1/team", operation_id = "getTeam", tag = "team", security(("bearer" = [])),
    responses((status = 200, body = Team), (status = 403, description = "Not an owner")))]
async fn overview(State(state): State<AppState>, user: AuthUser) -> Result<Json<Team>> {
    Ok(Json(team(&state, &user).await?))
}

/// Invites someone by e-mail: a link valid 7 days, used once, sent in the inviter's language.
#[utoipa::path(post, path = "/api/v1/team/invitations", operation_id = "inviteMember",
    tag = "team", request_body = InviteRequest,
    security(("bearer" = [])),
    responses((status = 201, body = InvitationSent), (status = 402, description = "The plan has no seat left"),
              (status = 403, description = "Not an owner"),
              (status = 409, description = "The e-mail already has an account, or an invitation is pending"),
              (status = 422, description = "Invalid e-mail or role")))]
async fn invite(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InvitationSent>)> {
    let sent = invite_member(&state, &user, &req.email, req.role.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

/// Sends a new link for an open invitation (the old one stops working; 7 more days).
#[utoipa::path(post, path = "/api/v1/team/invitations/{id}/resend", operation_id = "resendInvitation",
    tag = "team", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationSent), (status = 402, description = "The plan has no seat left"),
              (status = 403), (status = 404, description = "Unknown invitation, or another shop's")))]
async fn resend(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<InvitationSent>> {
    let id = crate::pagination::parse_id(&id, Error::NotFound(INVITATION_NOT_FOUND))?;
    Ok(Json(resend_invitation(&state, &user, id).await?))
}

/// Cancels an open invitation: its link stops working.
#[utoipa::path(delete, path = "/api/v1/team/invitations/{id}", operation_id = "cancelInvitation",
    tag = "team", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404, description = "Unknown invitation, or another shop's")))]
async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = crate::pagination::parse_id(&id, Error::NotFound(INVITATION_NOT_FOUND))?;
    cancel_invitation(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a member's role; their sign-ins end (they sign in again with the new role).
#[utoipa::path(patch, path = "/api/v1/team/members/{id}", operation_id = "changeMemberRole",
    tag = "team", request_body = RoleRequest,
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Member), (status = 403),
              (status = 404, description = "Unknown member, or another shop's"),
              (status = 409, description = "The shop would be left without an owner"),
              (status = 422, description = "Unknown role")))]
async fn change_role(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<Json<Member>> {
    let id = crate::pagination::parse_id(&id, Error::NotFound(MEMBER_NOT_FOUND))?;
    Ok(Json(set_member_role(&state, &user, id, &req.role).await?))
}

/// Removes a member: their API tokens and browser sessions stop working at once.
#[utoipa::path(delete, path = "/api/v1/team/members/{id}", operation_id = "removeMember",
    tag = "team", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404, description = "Unknown member, or another shop's"),
              (status = 409, description = "The last owner cannot be removed")))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = crate::pagination::parse_id(&id, Error::NotFound(MEMBER_NOT_FOUND))?;
    remove_member(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation: creates the member with this password and signs them in.
#[utoipa::path(post, path = "/api/v1/invitations/accept", operation_id = "acceptInvitation",
    tag = "team", request_body = AcceptRequest,
    responses((status = 201, body = AcceptResponse),
              (status = 402, description = "The shop's plan has no seat left"),
              (status = 404, description = "Unknown, used or expired link (one message for the three)"),
              (status = 409, description = "The e-mail got an account meanwhile"),
              (status = 422, description = "Password too short or too long"),
              (status = 429, description = "Rate limited")))]
async fn accept(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(req): ApiJson<AcceptRequest>,
) -> Result<(StatusCode, Json<AcceptResponse>)> {
    state.auth_limiter.check(client.0)?;
    let member = accept_invitation(&state, &req.token, req.password).await?;
    // A new member's token version is 0.
    let token = state
        .tokens
        .issue(member.user_id, member.tenant_id, member.role, 0)?;
    Ok((
        StatusCode::CREATED,
        Json(AcceptResponse {
            token,
            tenant_id: member.tenant_id,
            user_id: member.user_id,
            role: member.role,
            expires_in: state.tokens.ttl_secs(),
        }),
    ))
}

/// The team as the owner sees it.
pub(crate) async fn team(state: &AppState, user: &AuthUser) -> Result<Team> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let members = users::list(&mut tx).await?;
    let invitations = invitations::list_open(&mut tx).await?;
    let plan = plans::of_tenant(&mut tx).await?;
    tx.commit().await?;
    let pending = invitations.iter().filter(|i| !i.expired).count();
    let used = i64::try_from(members.len() + pending).unwrap_or(i64::MAX);
    Ok(Team {
        members: members.into_iter().map(|m| Member::of(m, user)).collect(),
        invitations,
        seats: Seats {
            plan_code: plan.plan_code,
            plan_name: plan.name,
            limit: plan.max_staff_users,
            used,
        },
    })
}

/// `owner` or `staff`; field errors on `field`.
fn parse_role(check: &mut Check, field: &str, role: &str) -> Role {
    match role.trim().to_lowercase().as_str() {
        "owner" => Role::Owner,
        "staff" => Role::Staff,
        _ => {
            check.fail(
                field,
                "Rôle inconnu : owner (propriétaire) ou staff (employé).",
            );
            Role::Staff
        }
    }
}

/// Refuses one seat more than the plan allows: members, owners included, plus pending invitations
/// (`except` left out: the invitation being resent or accepted).
async fn check_seat_for_one_more(
    tx: &mut TenantTx<'_>,
    plan: &Plan,
    except: Option<Uuid>,
    refused: impl FnOnce(&Plan, i32, i64, i64) -> String,
) -> Result<()> {
    let Some(limit) = plan.max_staff_users else {
        return Ok(());
    };
    let (members, _) = users::count_members(tx).await?;
    let pending = invitations::count_pending(tx, except).await?;
    if members + pending >= i64::from(limit) {
        return Err(Error::PlanLimit(refused(plan, limit, members, pending)));
    }
    Ok(())
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n > 1 { many } else { one })
}

/// The owner's message when inviting one more would exceed the plan.
fn no_seat_to_invite(plan: &Plan, limit: i32, members: i64, pending: i64) -> String {
    format!(
        "Votre forfait {} permet {} au total, propriétaire compris : {} et {} occupent déjà \
         toutes les places. Changez de forfait pour inviter quelqu'un de plus : {UPGRADE_PATH}",
        plan.name,
        plural(i64::from(limit), "utilisateur", "utilisateurs"),
        plural(members, "membre", "membres"),
        plural(pending, "invitation en attente", "invitations en attente"),
    )
}

/// Sends `email` an invitation to join the caller's shop as `role` (default `staff`).
pub(crate) async fn invite_member(
    state: &AppState,
    user: &AuthUser,
    email: &str,
    role: Option<&str>,
) -> Result<InvitationSent> {
    user.require_owner()?;
    let mut check = Check::default();
    let email = crate::validate::email(&mut check, "email", email);
    let role = parse_role(&mut check, "role", role.unwrap_or("staff"));
    check.finish()?;
    let base = state.urls.links.clone();
    let mut ptx = state.db.platform().await?;
    let taken = users::email_taken(&mut ptx, &email).await?;
    ptx.commit().await?;
    if taken {
        return Err(Error::Conflict {
            code: "email_taken",
            message:
                "Cette adresse e-mail a déjà un compte Tdjaasa : elle ne peut pas être invitée."
                    .into(),
        });
    }

    let (token, token_hash) = new_link_token();
    let mut tx = state.db.tenant(user.ctx()).await?;
    users::lock_team(&mut tx).await?;
    let already = invitations::list_open(&mut tx)
        .await?
        .into_iter()
        .any(|i| i.email == email && !i.expired);
    if already {
        return Err(already_invited());
    }
    let plan = plans::of_tenant(&mut tx).await?;
    check_seat_for_one_more(&mut tx, &plan, None, no_seat_to_invite).await?;
    let lang = Lang::parse(&users::get_language(&mut tx, user.user_id).await?).unwrap_or_default();
    let invitation = invitations::create(
        &mut tx,
        &NewInvitation {
            email: &email,
            role,
            token_hash: &token_hash,
            invited_by: user.user_id,
            language: lang.code(),
            valid_for: INVITATION_VALID_FOR,
        },
    )
    .await
    .map_err(|e| {
        if e.constraint() == Some("invitation_open_email") {
            already_invited()
        } else {
            e.into()
        }
    })?;
    let shop = tenants::get(&mut tx).await?.name;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "team.invited",
        serde_json::json!({ "invitation_id": invitation.invitation_id, "email": email, "role": role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    let email_sent = send_invitation(state, lang, &invitation, &shop, &base, &token).await;
    Ok(InvitationSent {
        invitation,
        email_sent,
    })
}

fn already_invited() -> Error {
    Error::Conflict {
        code: "already_invited",
        message:
            "Une invitation est déjà en attente pour cette adresse : renvoyez-la ou annulez-la."
                .into(),
    }
}

/// A new link for an open invitation, e-mailed again.
pub(crate) async fn resend_invitation(
    state: &AppState,
    user: &AuthUser,
    invitation_id: Uuid,
) -> Result<InvitationSent> {
    user.require_owner()?;
    let base = state.urls.links.clone();
    let (token, token_hash) = new_link_token();
    let mut tx = state.db.tenant(user.ctx()).await?;
    users::lock_team(&mut tx).await?;
    invitations::get_open(&mut tx, invitation_id)
        .await
        .map_err(Error::not_found_as(INVITATION_NOT_FOUND))?;
    let plan = plans::of_tenant(&mut tx).await?;
    check_seat_for_one_more(&mut tx, &plan, Some(invitation_id), no_seat_to_invite).await?;
    let invitation =
        invitations::renew(&mut tx, invitation_id, &token_hash, INVITATION_VALID_FOR).await?;
    let lang = Lang::parse(&users::get_language(&mut tx, user.user_id).await?).unwrap_or_default();
    let shop = tenants::get(&mut tx).await?.name;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "team.invitation_resent",
        serde_json::json!({ "invitation_id": invitation_id }),
    )
    .await?;
    tx.commit().await?;
    let email_sent = send_invitation(state, lang, &invitation, &shop, &base, &token).await;
    Ok(InvitationSent {
        invitation,
        email_sent,
    })
}

/// Sends the invitation e-mail; a failure is logged (without the link) and reported as `false`.
async fn send_invitation(
    state: &AppState,
    lang: Lang,
    invitation: &Invitation,
    shop: &str,
    base: &str,
    token: &str,
) -> bool {
    let mail = invitation_mail(
        lang,
        &invitation.email,
        shop,
        invitation.role,
        &format!("{base}/invitation/{token}"),
    );
    match state.mailer.send(mail).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(invitation_id = %invitation.invitation_id, error.cause_chain = ?e,
                error.message = %e, "invitation e-mail not sent");
            false
        }
    }
}

/// The invitation e-mail, in the inviter's language.
pub(crate) fn invitation_mail(lang: Lang, to: &str, shop: &str, role: Role, link: &str) -> Mail {
    let role = role_label(lang, role);
    Mail {
        to: to.to_owned(),
        subject: lang.tf("mail.invite.subject", &[("shop", shop)]),
        text: lang.tf(
            "mail.invite.body",
            &[("shop", shop), ("role", &role), ("link", link)],
        ),
    }
}

/// "Propriétaire" / "Employé(e)".
pub(crate) fn role_label(lang: Lang, role: Role) -> String {
    match role {
        Role::Owner => lang.t("team.role.owner"),
        Role::Staff => lang.t("team.role.staff"),
        Role::PlatformAdmin => lang.t("team.role.platform_admin"),
    }
    .into_owned()
}

/// Cancels an open invitation.
pub(crate) async fn cancel_invitation(
    state: &AppState,
    user: &AuthUser,
    invitation_id: Uuid,
) -> Result<()> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    invitations::delete_open(&mut tx, invitation_id)
        .await
        .map_err(Error::not_found_as(INVITATION_NOT_FOUND))?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "team.invitation_cancelled",
        serde_json::json!({ "invitation_id": invitation_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn last_owner() -> Error {
    Error::Conflict {
        code: "last_owner",
        message: "La boutique doit garder au moins un propriétaire : nommez d'abord un autre \
                  propriétaire."
            .into(),
    }
}

/// Gives a member another role (`owner` or `staff`) and ends their sign-ins. Field errors: `role`.
pub(crate) async fn set_member_role(
    state: &AppState,
    user: &AuthUser,
    member_id: Uuid,
    role: &str,
) -> Result<Member> {
    user.require_owner()?;
    let mut check = Check::default();
    let role = parse_role(&mut check, "role", role);
    check.finish()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    users::lock_team(&mut tx).await?;
    let member = users::get(&mut tx, member_id)
        .await
        .map_err(Error::not_found_as(MEMBER_NOT_FOUND))?;
    if member.role == role {
        tx.commit().await?;
        return Ok(Member::of(member, user));
    }
    let (_, owners) = users::count_members(&mut tx).await?;
    if member.role == Role::Owner && owners <= 1 {
        return Err(last_owner());
    }
    let updated = users::set_role(&mut tx, member_id, role).await?;
    // Tokens carry the role: the member signs in again to get the new one.
    crate::auth::revoke_user(state, &mut tx, member_id).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "team.role_changed",
        serde_json::json!({ "user_id": member_id, "from": member.role.as_str(), "to": role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(Member::of(updated, user))
}

/// Removes a member and ends their sign-ins at once.
pub(crate) async fn remove_member(
    state: &AppState,
    user: &AuthUser,
    member_id: Uuid,
) -> Result<()> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    users::lock_team(&mut tx).await?;
    let member = users::get(&mut tx, member_id)
        .await
        .map_err(Error::not_found_as(MEMBER_NOT_FOUND))?;
    let (_, owners) = users::count_members(&mut tx).await?;
    if member.role == Role::Owner && owners <= 1 {
        return Err(last_owner());
    }
    crate::auth::revoke_user(state, &mut tx, member_id).await?;
    users::delete(&mut tx, member_id).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "team.member_removed",
        serde_json::json!({ "user_id": member_id, "email": member.email, "role": member.role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The pending invitation behind a link, for the acceptance page. Errors: 404 ([`INVITATION_LINK_INVALID`]).
pub(crate) async fn pending_invitation(state: &AppState, token: &str) -> Result<InvitationLink> {
    let token_hash = hash_link_token(token).ok_or(Error::NotFound(INVITATION_LINK_INVALID))?;
    let mut tx = state.db.platform().await?;
    let found = invitations::find_pending_by_token(&mut tx, &token_hash).await?;
    tx.commit().await?;
    found.ok_or(Error::NotFound(INVITATION_LINK_INVALID))
}

/// Creates the invited member with `password`, in the invitation's shop and language; the link is used up.
/// Errors: 404 (unknown, used or expired link), 422 (field `password`), 402 (no seat left), 409 (the e-mail
/// got an account meanwhile).
pub(crate) async fn accept_invitation(
    state: &AppState,
    token: &str,
    password: String,
) -> Result<AuthUser> {
    let link = pending_invitation(state, token).await?;
    let mut check = Check::default();
    check_password(&mut check, "password", &password, &[&link.email]);
    check.finish()?;
    let token_hash = hash_link_token(token).ok_or(Error::NotFound(INVITATION_LINK_INVALID))?;
    let password_hash = hash_password(SecretString::from(password)).await?;

    let mut tx = state.db.tenant(TenantCtx::new(link.tenant_id)).await?;
    users::lock_team(&mut tx).await?;
    let (email, role, language) = invitations::accept(&mut tx, link.invitation_id, &token_hash)
        .await?
        .ok_or(Error::NotFound(INVITATION_LINK_INVALID))?;
    let plan = plans::of_tenant(&mut tx).await?;
    let shop = link.shop_name.clone();
    check_seat_for_one_more(&mut tx, &plan, None, |_, _, _, _| {
        format!(
            "La boutique {shop} a déjà autant d'utilisateurs que son forfait le permet. Demandez au \
             propriétaire de changer de forfait, puis rouvrez ce lien."
        )
    })
    .await?;
    let member = users::create(&mut tx, &email, &password_hash, role)
        .await
        .map_err(|e| {
            if e.constraint() == Some("app_user_email_key") {
                Error::Conflict {
                    code: "email_taken",
                    message: "Cette adresse e-mail a déjà un compte Tdjaasa : connectez-vous avec."
                        .into(),
                }
            } else {
                e.into()
            }
        })?;
    users::set_language(&mut tx, member.user_id, &language).await?;
    audit::record(
        &mut tx,
        Some(member.user_id),
        "team.joined",
        serde_json::json!({ "invitation_id": link.invitation_id, "role": role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %link.tenant_id, "a new member joined a shop");
    Ok(AuthUser {
        user_id: member.user_id,
        tenant_id: link.tenant_id,
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invitation_mail_speaks_the_inviters_language_and_carries_the_link() {
        let fr = invitation_mail(
            Lang::Fr,
            "kofi@example.ci",
            "Friperie Abobo",
            Role::Staff,
            "http://x/invitation/abc",
        );
        assert!(fr.subject.contains("Friperie Abobo"), "{}", fr.subject);
        assert!(fr.text.contains("http://x/invitation/abc"), "{}", fr.text);
        assert!(fr.text.contains("7 jours"), "{}", fr.text);
        let en = invitation_mail(
            Lang::En,
            "kofi@example.ci",
            "Friperie Abobo",
            Role::Owner,
            "http://x/invitation/abc",
        );
        assert!(en.text.contains("7 days"), "{}", en.text);
        assert!(en.text.contains("role: Owner"), "{}", en.text);
    }

    #[test]
    fn the_seat_message_counts_the_owner_and_points_to_the_plans() {
        let plan = Plan {
            plan_code: "starter".into(),
            name: "Starter".into(),
            price_xof: 5000,
            max_products: Some(50),
            max_replies_per_month: Some(1000),
            max_staff_users: Some(1),
        };
        let message = no_seat_to_invite(&plan, 1, 1, 0);
        assert!(
            message.contains("Starter permet 1 utilisateur au total, propriétaire compris"),
            "{message}"
        );
        assert!(message.contains("/app/billing"), "{message}");
    }
}
