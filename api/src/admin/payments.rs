//! Payments across shops: `GET /api/v1/admin/payments` (by status, provider, or the flagged ones still to
//! review) and `POST /api/v1/admin/payments/{id}/review` (a flagged payment marked reviewed with a note,
//! audited).

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use store::TenantCtx;
use store::admin::{self, AdminPayment, PaymentFilter, ReviewOutcome};
use store::billing::{PaymentStatus, Provider};
use uuid::Uuid;

use super::{PlatformAdmin, one_of_enum, reason};
use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::pagination::{Page, bad_query, parse_id};
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/payments", get(list))
        .route("/api/v1/admin/payments/{id}/review", post(review))
}

const NOT_FOUND: Error = Error::NotFound("Paiement introuvable.");

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// `pending`, `succeeded`, `failed` or `flagged`.
    pub status: Option<String>,
    /// `wave`, `orange_money`, `stripe` or `sandbox`.
    pub provider: Option<String>,
    /// `true`: only flagged payments (amount or currency mismatch) no operator has reviewed yet.
    pub needs_review: Option<bool>,
    /// One shop's payments.
    pub tenant_id: Option<Uuid>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

pub(crate) async fn list_payments(
    state: &AppState,
    admin: &AuthUser,
    query: &PaymentQuery,
) -> Result<Vec<AdminPayment>> {
    admin.require_platform_admin()?;
    let (limit, offset) = Page {
        limit: query.limit,
        offset: query.offset,
    }
    .bounds()?;
    let mut check = Check::default();
    let filter = PaymentFilter {
        status: one_of_enum(
            &mut check,
            "status",
            query.status.as_deref(),
            &PaymentStatus::ALL,
            PaymentStatus::as_str,
        ),
        provider: one_of_enum(
            &mut check,
            "provider",
            query.provider.as_deref(),
            &Provider::ALL,
            Provider::as_str,
        ),
        needs_review: query.needs_review.unwrap_or(false),
        tenant_id: query.tenant_id,
    };
    check.finish()?;
    let mut tx = state.db.platform().await?;
    let payments = admin::list_payments(&mut tx, &filter, limit, offset).await?;
    tx.commit().await?;
    Ok(payments)
}

/// Payments of every shop with their provider status, newest first.
#[utoipa::path(get, path = "/api/v1/admin/payments", operation_id = "adminListPayments",
    tag = "admin", security(("bearer" = [])), params(PaymentQuery),
    responses((status = 200, body = Vec<AdminPayment>), (status = 403), (status = 422)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    query: Result<Query<PaymentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<AdminPayment>>> {
    let query = query.map_err(bad_query)?.0;
    Ok(Json(list_payments(&state, &user, &query).await?))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentReview {
    /// What the operator found or did (3 to 500 characters), e.g. « Montant confirmé avec Wave, remboursé ».
    pub note: String,
}

/// Marks a flagged payment reviewed with the operator's note (audited in the shop's log). The payment stays
/// flagged and activates nothing; reviewing again replaces the note.
pub(crate) async fn review_payment(
    state: &AppState,
    admin: &AuthUser,
    payment_id: Uuid,
    review: &PaymentReview,
) -> Result<AdminPayment> {
    admin.require_platform_admin()?;
    let mut check = Check::default();
    let note = reason(&mut check, "note", &review.note);
    check.finish()?;
    let mut tx = state.db.platform().await?;
    let tenant_id = admin::payment_tenant(&mut tx, payment_id)
        .await
        .map_err(Error::not_found_as("Paiement introuvable."))?;
    tx.commit().await?;
    let mut tx = state.db.billing(TenantCtx::new(tenant_id)).await?;
    let outcome = admin::review_payment(&mut tx, payment_id, admin.user_id, &note, Utc::now())
        .await
        .map_err(Error::not_found_as("Paiement introuvable."))?;
    tx.commit().await?;
    match outcome {
        ReviewOutcome::Reviewed(payment) => Ok(*payment),
        ReviewOutcome::NotFlagged(status) => Err(Error::Conflict {
            code: "payment_not_flagged",
            message: format!(
                "Seuls les paiements signalés (montant ou devise inattendus) se vérifient : celui-ci est « {status} »."
            ),
        }),
    }
}

/// Marks a flagged payment reviewed, with a note.
#[utoipa::path(post, path = "/api/v1/admin/payments/{id}/review", operation_id = "adminReviewPayment",
    tag = "admin", request_body = PaymentReview,
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AdminPayment), (status = 403), (status = 404),
              (status = 409, description = "Not a flagged payment"), (status = 422)))]
pub(crate) async fn review(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    Path(id): Path<String>,
    ApiJson(review): ApiJson<PaymentReview>,
) -> Result<Json<AdminPayment>> {
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(review_payment(&state, &user, id, &review).await?))
}
