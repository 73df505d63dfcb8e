//! Shops, for the operator: `GET /api/v1/admin/tenants` (search and filters), `GET /api/v1/admin/tenants/{id}`
//! (payments, usage by month, audit trail, users), and the audited actions `PATCH /api/v1/admin/tenants/{id}`
//! (suspend or reactivate), `POST /api/v1/admin/tenants/{id}/extend` and `POST /api/v1/admin/tenants/{id}/plan`.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use store::TenantCtx;
use store::admin::{
    self, AdminPayment, AdminTenant, AuditEntry, Extension, ExtensionOutcome, MonthlyUsage,
    OperatorAction, PaymentFilter, TenantFilter, TenantUser,
};
use store::billing::SubscriptionStatus;
use store::tenants::TenantStatus;
use uuid::Uuid;

use super::{PlatformAdmin, one_of, one_of_enum, reason};
use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::pagination::{Page, bad_query, parse_id};
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/tenants", get(list))
        .route("/api/v1/admin/tenants/{id}", get(detail).patch(update))
        .route("/api/v1/admin/tenants/{id}/extend", post(extend))
        .route("/api/v1/admin/tenants/{id}/plan", post(plan))
}

pub(crate) const NOT_FOUND: Error = Error::NotFound("Boutique introuvable.");

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// Part of the shop's name (accents and case ignored), its slug or its owner's e-mail.
    pub q: Option<String>,
    /// `active` or `suspended` (by the operator).
    pub status: Option<String>,
    /// The subscription's status: `pending`, `active`, `past_due` or `suspended`.
    pub subscription: Option<String>,
    /// A plan code (`starter`, `pro`, `business`).
    pub plan: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

/// A page of shops and how many match in all.
pub(crate) struct TenantList {
    pub tenants: Vec<AdminTenant>,
    pub total: i64,
}

/// The shops matching `query`, newest first.
pub(crate) async fn list_tenants(
    state: &AppState,
    admin: &AuthUser,
    query: &TenantQuery,
) -> Result<TenantList> {
    admin.require_platform_admin()?;
    let (limit, offset) = Page {
        limit: query.limit,
        offset: query.offset,
    }
    .bounds()?;
    let mut check = Check::default();
    let plans = store::plans::list_active(state.db.pool()).await?;
    let plan_codes: Vec<&str> = plans.iter().map(|p| p.plan_code.as_str()).collect();
    let filter = TenantFilter {
        search: super::given(query.q.as_deref()),
        status: one_of_enum(
            &mut check,
            "status",
            query.status.as_deref(),
            &TenantStatus::ALL,
            TenantStatus::as_str,
        ),
        subscription: one_of_enum(
            &mut check,
            "subscription",
            query.subscription.as_deref(),
            &SubscriptionStatus::ALL,
            SubscriptionStatus::as_str,
        ),
        plan: one_of(&mut check, "plan", query.plan.as_deref(), &plan_codes),
    };
    if filter
        .search
        .as_ref()
        .is_some_and(|s| s.chars().count() > 200)
    {
        check.fail("q", "La recherche ne doit pas dépasser 200 caractères.");
    }
    check.finish()?;
    let mut tx = state.db.platform().await?;
    let tenants = admin::list_tenants(&mut tx, &filter, limit, offset, Utc::now()).await?;
    let total = admin::count_tenants(&mut tx, &filter).await?;
    tx.commit().await?;
    Ok(TenantList { tenants, total })
}

/// Every shop, or those matching the search and filters: plan, subscription and its expiry, WhatsApp state,
/// this month's messages and replies, last activity. Newest first.
#[utoipa::path(get, path = "/api/v1/admin/tenants", operation_id = "adminListTenants",
    tag = "admin", security(("bearer" = [])), params(TenantQuery),
    responses((status = 200, body = Vec<AdminTenant>), (status = 403), (status = 422)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    query: Result<Query<TenantQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<AdminTenant>>> {
    let query = query.map_err(bad_query)?.0;
    Ok(Json(list_tenants(&state, &user, &query).await?.tenants))
}

/// One shop in detail, for the operator.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantDetail {
    pub tenant: AdminTenant,
    /// E-mails and roles (never password hashes).
    pub users: Vec<TenantUser>,
    /// The latest 100 payments, newest first.
    pub payments: Vec<AdminPayment>,
    /// Usage of the latest 12 months, newest first.
    pub usage: Vec<MonthlyUsage>,
    /// The latest 100 audit entries, newest first.
    pub audit: Vec<AuditEntry>,
}

pub(crate) async fn tenant_detail(
    state: &AppState,
    admin: &AuthUser,
    tenant_id: Uuid,
) -> Result<TenantDetail> {
    admin.require_platform_admin()?;
    let mut tx = state.db.platform().await?;
    let tenant = admin::get_tenant(&mut tx, tenant_id, Utc::now())
        .await
        .map_err(Error::not_found_as("Boutique introuvable."))?;
    let users = admin::tenant_users(&mut tx, tenant_id).await?;
    let payments = admin::list_payments(
        &mut tx,
        &PaymentFilter {
            tenant_id: Some(tenant_id),
            ..Default::default()
        },
        100,
        0,
    )
    .await?;
    let usage = admin::tenant_usage(&mut tx, tenant_id, 12).await?;
    let audit = admin::tenant_audit(&mut tx, tenant_id, 100).await?;
    tx.commit().await?;
    Ok(TenantDetail {
        tenant,
        users,
        payments,
        usage,
        audit,
    })
}

/// One shop: its state, users, payments, usage by month and audit trail.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}", operation_id = "adminGetTenant",
    tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = TenantDetail), (status = 403), (status = 404)))]
pub(crate) async fn detail(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    Path(id): Path<String>,
) -> Result<Json<TenantDetail>> {
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(tenant_detail(&state, &user, id).await?))
}

/// The shop as it stands now (after an action).
async fn reload(state: &AppState, tenant_id: Uuid) -> Result<AdminTenant> {
    let mut tx = state.db.platform().await?;
    let tenant = admin::get_tenant(&mut tx, tenant_id, Utc::now())
        .await
        .map_err(Error::not_found_as("Boutique introuvable."))?;
    tx.commit().await?;
    Ok(tenant)
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantStatusChange {
    /// `active` (reactivate) or `suspended`.
    pub status: String,
    /// Why, 3 to 500 characters: kept in the shop's audit log, and shown to the shop while it is suspended.
    pub reason: String,
}

/// Suspends or reactivates a shop. A suspension stores the reason on the shop (its home and billing pages show
/// it), silences the bot (the test chat and payments are refused with the reason) and ends every session and
/// API token of the shop's users; the data stays. Reactivating restores answering at once.
pub(crate) async fn change_status(
    state: &AppState,
    admin: &AuthUser,
    tenant_id: Uuid,
    change: &TenantStatusChange,
) -> Result<AdminTenant> {
    admin.require_platform_admin()?;
    let mut check = Check::default();
    let status = TenantStatus::parse(&change.status.trim().to_lowercase());
    if status.is_none() {
        check.fail(
            "status",
            "Statut inconnu : active (réactiver) ou suspended (suspendre).",
        );
    }
    let reason = reason(&mut check, "reason", &change.reason);
    check.finish()?;
    let Some(status) = status else {
        return Err(Error::Internal(anyhow::anyhow!("validated status missing")));
    };
    let mut tx = state.db.billing(TenantCtx::new(tenant_id)).await?;
    let action = OperatorAction {
        actor_user_id: admin.user_id,
        reason: &reason,
        now: Utc::now(),
    };
    let previous = admin::set_status(&mut tx, status, &action)
        .await
        .map_err(Error::not_found_as("Boutique introuvable."))?;
    if status == TenantStatus::Suspended {
        crate::auth::revoke_shop(state, &mut tx).await?;
    }
    tx.commit().await?;
    tracing::info!(%tenant_id, from = %previous, to = %status, operator = %admin.user_id,
        "shop status changed by the operator");
    reload(state, tenant_id).await
}

/// Suspends or reactivates a shop, with a required reason (audited with the operator's id).
#[utoipa::path(patch, path = "/api/v1/admin/tenants/{id}", operation_id = "adminSetTenantStatus",
    tag = "admin", request_body = TenantStatusChange,
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AdminTenant), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<TenantStatusChange>,
) -> Result<Json<AdminTenant>> {
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(change_status(&state, &user, id, &change).await?))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// Days to add (1 to 366); give `days` or `months`, not both.
    #[serde(default)]
    pub days: Option<i32>,
    /// Months to add (1 to 24).
    #[serde(default)]
    pub months: Option<i32>,
    /// Why, 3 to 500 characters (e.g. « Payé en espèces au bureau de Cocody, reçu n° 142 »).
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Extended {
    pub tenant: AdminTenant,
    pub extension: ExtensionOutcome,
}

/// Extends a shop's subscription by hand (it paid in cash): from the later of now and the current expiry, and a
/// pending, past-due or suspended subscription becomes active. An operator suspension stays.
pub(crate) async fn extend_subscription(
    state: &AppState,
    admin: &AuthUser,
    tenant_id: Uuid,
    request: &ExtendRequest,
) -> Result<Extended> {
    admin.require_platform_admin()?;
    let mut check = Check::default();
    let extension = match (request.days, request.months) {
        (Some(days), None) if (1..=366).contains(&days) => Some(Extension::Days(days)),
        (None, Some(months)) if (1..=24).contains(&months) => Some(Extension::Months(months)),
        (Some(_), None) => {
            check.fail("days", "Entre 1 et 366 jours.");
            None
        }
        (None, Some(_)) => {
            check.fail("months", "Entre 1 et 24 mois.");
            None
        }
        _ => {
            check.fail(
                "days",
                "Indiquez une durée : un nombre de jours (1 à 366) ou de mois (1 à 24), pas les deux.",
            );
            None
        }
    };
    let reason = reason(&mut check, "reason", &request.reason);
    check.finish()?;
    let Some(extension) = extension else {
        return Err(Error::Internal(anyhow::anyhow!(
            "validated extension missing"
        )));
    };
    let mut tx = state.db.billing(TenantCtx::new(tenant_id)).await?;
    let outcome = admin::extend_subscription(
        &mut tx,
        extension,
        &OperatorAction {
            actor_user_id: admin.user_id,
            reason: &reason,
            now: Utc::now(),
        },
    )
    .await
    .map_err(Error::not_found_as("Boutique introuvable."))?;
    tx.commit().await?;
    tracing::info!(%tenant_id, ?extension, expires_at = %outcome.expires_at, operator = %admin.user_id,
        "subscription extended by the operator");
    Ok(Extended {
        tenant: reload(state, tenant_id).await?,
        extension: outcome,
    })
}

/// Extends a shop's subscription by N days or months (e.g. paid in cash); audited.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/extend", operation_id = "adminExtendTenant",
    tag = "admin", request_body = ExtendRequest,
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Extended), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn extend(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ExtendRequest>,
) -> Result<Json<Extended>> {
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(
        extend_subscription(&state, &user, id, &request).await?,
    ))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    /// `starter`, `pro` or `business`.
    pub plan: String,
    /// Why, 3 to 500 characters.
    pub reason: String,
}

/// Moves a shop to another plan (its limits apply at once; the expiry stays, the next payment is for the new
/// plan).
pub(crate) async fn change_plan(
    state: &AppState,
    admin: &AuthUser,
    tenant_id: Uuid,
    change: &PlanChange,
) -> Result<AdminTenant> {
    admin.require_platform_admin()?;
    let mut check = Check::default();
    let plan_code = change.plan.trim().to_lowercase();
    if store::plans::get_active(state.db.pool(), &plan_code)
        .await?
        .is_none()
    {
        check.fail(
            "plan",
            "Forfait inconnu : choisissez starter, pro ou business.",
        );
    }
    let reason = reason(&mut check, "reason", &change.reason);
    check.finish()?;
    let mut tx = state.db.billing(TenantCtx::new(tenant_id)).await?;
    let previous = admin::change_plan(
        &mut tx,
        &plan_code,
        &OperatorAction {
            actor_user_id: admin.user_id,
            reason: &reason,
            now: Utc::now(),
        },
    )
    .await
    .map_err(Error::not_found_as("Boutique introuvable."))?;
    tx.commit().await?;
    tracing::info!(%tenant_id, from = %previous, to = %plan_code, operator = %admin.user_id,
        "plan changed by the operator");
    reload(state, tenant_id).await
}

/// Moves a shop to another plan; audited.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/plan", operation_id = "adminChangeTenantPlan",
    tag = "admin", request_body = PlanChange,
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AdminTenant), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn plan(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<PlanChange>,
) -> Result<Json<AdminTenant>> {
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(change_plan(&state, &user, id, &change).await?))
}
