//! Revenue and activity across shops: `GET /api/v1/admin/stats` (MRR, shops by state, payments per provider,
//! 30-day churn) and `GET /api/v1/admin/activity` (new and churned shops per month, customer messages and
//! orders per day), the figures behind the operator's charts.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Serialize;
use store::admin::{self, DailyActivity, MonthlyShops, PlatformStats};

use super::PlatformAdmin;
use crate::auth::AuthUser;
use crate::{AppState, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/stats", get(stats))
        .route("/api/v1/admin/activity", get(activity))
}

/// Months in the monthly series (the current one included).
pub(crate) const MONTHS: i32 = 12;
/// Days in the daily series (today included).
pub(crate) const DAYS: i32 = 30;

pub(crate) async fn platform_stats(state: &AppState, admin: &AuthUser) -> Result<PlatformStats> {
    admin.require_platform_admin()?;
    let mut tx = state.db.platform().await?;
    let stats = admin::stats(&mut tx, Utc::now()).await?;
    tx.commit().await?;
    Ok(stats)
}

/// Shops by state, monthly recurring revenue (XOF), succeeded payments per provider and 30-day churn.
#[utoipa::path(get, path = "/api/v1/admin/stats", operation_id = "adminGetStats",
    tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = PlatformStats), (status = 403)))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
) -> Result<Json<PlatformStats>> {
    Ok(Json(platform_stats(&state, &user).await?))
}

/// The series behind the operator's charts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Activity {
    /// New and churned shops of the last 12 UTC months, oldest first. A shop churns in the month its
    /// subscription is suspended for non-payment (an event: paying again later does not erase it).
    pub months: Vec<MonthlyShops>,
    /// Customer messages (WhatsApp) and orders of the last 30 UTC days, oldest first.
    pub days: Vec<DailyActivity>,
}

pub(crate) async fn platform_activity(state: &AppState, admin: &AuthUser) -> Result<Activity> {
    admin.require_platform_admin()?;
    let now = Utc::now();
    let mut tx = state.db.platform().await?;
    let months = admin::monthly(&mut tx, now, MONTHS).await?;
    let days = admin::daily(&mut tx, now, DAYS).await?;
    tx.commit().await?;
    Ok(Activity { months, days })
}

/// New and churned shops per month (12 months), customer messages and orders per day (30 days).
#[utoipa::path(get, path = "/api/v1/admin/activity", operation_id = "adminGetActivity",
    tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Activity), (status = 403)))]
pub(crate) async fn activity(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
) -> Result<Json<Activity>> {
    Ok(Json(platform_activity(&state, &user).await?))
}

/// What waits for the operator: flagged payments to review, open dead letters.
pub(crate) struct Attention {
    pub payments_to_review: i64,
    pub open_dead_letters: i64,
}

pub(crate) async fn attention(state: &AppState, admin: &AuthUser) -> Result<Attention> {
    admin.require_platform_admin()?;
    let mut tx = state.db.platform().await?;
    let payments_to_review = admin::count_payments_to_review(&mut tx).await?;
    let open_dead_letters = admin::count_open_dead_letters(&mut tx).await?;
    tx.commit().await?;
    Ok(Attention {
        payments_to_review,
        open_dead_letters,
    })
}
