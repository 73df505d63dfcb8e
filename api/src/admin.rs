//! The platform operator's endpoints (role `platform_admin` only, platform path):
//! `GET /api/v1/admin/tenants`, `PATCH /api/v1/admin/tenants/{id}`, `GET /api/v1/admin/stats`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use store::billing::{self, AdminTenant, PlatformStats};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/tenants", get(list))
        .route("/api/v1/admin/tenants/{id}", axum::routing::patch(update))
        .route("/api/v1/admin/stats", get(stats))
}

const NOT_FOUND: Error = Error::NotFound("Boutique introuvable.");

/// Every shop: status, plan, subscription and its expiry, this month's messages.
#[utoipa::path(get, path = "/api/v1/admin/tenants", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<AdminTenant>), (status = 403)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<AdminTenant>>> {
    user.require_platform_admin()?;
    let mut tx = state.db.platform().await?;
    let tenants = billing::list_tenants(&mut tx, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(tenants))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantStatusChange {
    /// `active` or `suspended`.
    pub status: String,
    /// Why (kept in the shop's audit log).
    pub reason: String,
}

/// Suspends or reactivates a shop by hand; the reason is required and audited.
#[utoipa::path(patch, path = "/api/v1/admin/tenants/{id}", tag = "admin", request_body = TenantStatusChange,
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AdminTenant), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<TenantStatusChange>,
) -> Result<Json<AdminTenant>> {
    user.require_platform_admin()?;
    let id: Uuid = id.parse().map_err(|_| NOT_FOUND)?;
    let mut check = Check::default();
    let status = change.status.trim().to_lowercase();
    if status != "active" && status != "suspended" {
        check.fail("status", "Statut invalide : active ou suspended.");
    }
    let reason = check.text("reason", &change.reason, 3, 500);
    check.finish()?;
    let mut tx = state.db.platform().await?;
    let tenant =
        billing::set_tenant_status(&mut tx, id, &status, &reason, user.user_id, Utc::now())
            .await
            .map_err(Error::not_found_as("Boutique introuvable."))?;
    tx.commit().await?;
    tracing::info!(tenant_id = %id, %status, "tenant status changed by the operator");
    Ok(Json(tenant))
}

/// Active shops, monthly recurring revenue (XOF), succeeded payments per provider and 30-day churn.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = PlatformStats), (status = 403)))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<PlatformStats>> {
    user.require_platform_admin()?;
    let mut tx = state.db.platform().await?;
    let stats = billing::stats(&mut tx, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(stats))
}
