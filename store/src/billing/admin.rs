//! The platform operator's view across tenants (platform path only).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::permission::month_start;
use crate::error::OptionalExt;
use crate::tenants::PLATFORM_TENANT_ID;
use crate::{PlatformTx, Result};

/// One shop as the operator sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminTenant {
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    /// `active` or `suspended` (by the operator).
    pub status: String,
    pub plan_code: String,
    /// `pending`, `active`, `past_due` or `suspended`; null if the shop has no subscription row.
    pub subscription_status: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Customer messages received this UTC month.
    pub inbound_messages_this_month: i64,
    /// Bot replies sent this UTC month.
    pub bot_replies_this_month: i64,
    pub created_at: DateTime<Utc>,
}

const ADMIN_TENANT_SELECT: &str = "select t.tenant_id, t.name, t.slug, t.status, t.plan_code,
        s.status as subscription_status, s.expires_at,
        coalesce(u.inbound_messages, 0)::bigint as inbound_messages_this_month,
        coalesce(u.bot_replies, 0)::bigint as bot_replies_this_month, t.created_at
 from tenant t
 left join subscription s on s.tenant_id = t.tenant_id
 left join tenant_usage u on u.tenant_id = t.tenant_id and u.month = $1
 where t.tenant_id <> $2";

/// Every shop (not the platform's own tenant), newest first.
pub async fn list_tenants(tx: &mut PlatformTx, now: DateTime<Utc>) -> Result<Vec<AdminTenant>> {
    Ok(
        sqlx::query_as::<_, AdminTenant>(sqlx::AssertSqlSafe(format!(
            "{ADMIN_TENANT_SELECT} order by t.created_at desc limit 1000"
        )))
        .bind(month_start(now))
        .bind(PLATFORM_TENANT_ID)
        .fetch_all(&mut **tx)
        .await?,
    )
}

/// Suspends or reactivates a shop by hand; the reason goes to the shop's audit log with the operator's id.
pub async fn set_tenant_status(
    tx: &mut PlatformTx,
    tenant_id: Uuid,
    status: &str,
    reason: &str,
    actor_user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<AdminTenant> {
    let previous: String = sqlx::query_scalar(
        "select status from tenant where tenant_id = $1 and tenant_id <> $2 for update",
    )
    .bind(tenant_id)
    .bind(PLATFORM_TENANT_ID)
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    sqlx::query("update tenant set status = $2 where tenant_id = $1")
        .bind(tenant_id)
        .bind(status)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "insert into audit_log (tenant_id, actor_user_id, action, detail) values ($1, $2, 'tenant.status_changed', $3)",
    )
    .bind(tenant_id)
    .bind(actor_user_id)
    .bind(json!({ "from": previous, "to": status, "reason": reason }))
    .execute(&mut **tx)
    .await?;
    sqlx::query_as::<_, AdminTenant>(sqlx::AssertSqlSafe(format!(
        "{ADMIN_TENANT_SELECT} and t.tenant_id = $3"
    )))
    .bind(month_start(now))
    .bind(PLATFORM_TENANT_ID)
    .bind(tenant_id)
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Payments that succeeded through one provider.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderStats {
    pub provider: String,
    pub payments: i64,
    pub amount_xof: i64,
}

/// The operator's dashboard numbers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformStats {
    /// Shops not suspended by the operator whose subscription is `active`.
    pub active_tenants: i64,
    /// Monthly recurring revenue in XOF: the plan prices of those active subscriptions.
    pub mrr_xof: i64,
    /// Succeeded payments per provider, all time.
    pub payments_by_provider: Vec<ProviderStats>,
    /// Shops whose subscription lapsed (went past due or suspended for non-payment) in the last 30 days
    /// and are still not paid.
    pub churned_last_30_days: i64,
    /// `churned_last_30_days / (active_tenants + churned_last_30_days)`, 0 when both are 0.
    pub churn_rate_30_days: f64,
}

pub async fn stats(tx: &mut PlatformTx, now: DateTime<Utc>) -> Result<PlatformStats> {
    let (active_tenants, mrr_xof): (i64, i64) = sqlx::query_as(
        "select count(*)::bigint, coalesce(sum(p.price_xof), 0)::bigint
         from subscription s join tenant t using (tenant_id) join plan p on p.plan_code = s.plan_code
         where s.status = 'active' and t.status = 'active' and t.tenant_id <> $1",
    )
    .bind(PLATFORM_TENANT_ID)
    .fetch_one(&mut **tx)
    .await?;
    let payments_by_provider = sqlx::query_as::<_, ProviderStats>(
        "select provider, count(*)::bigint as payments, coalesce(sum(amount_xof), 0)::bigint as amount_xof
         from payment where status = 'succeeded' group by provider order by provider",
    )
    .fetch_all(&mut **tx)
    .await?;
    let churned_last_30_days: i64 = sqlx::query_scalar(
        "select count(*)::bigint from subscription
         where status in ('past_due', 'suspended') and past_due_since >= $1",
    )
    .bind(now - Duration::days(30))
    .fetch_one(&mut **tx)
    .await?;
    let base = active_tenants + churned_last_30_days;
    let churn_rate_30_days = if base == 0 {
        0.0
    } else {
        churned_last_30_days as f64 / base as f64
    };
    Ok(PlatformStats {
        active_tenants,
        mrr_xof,
        payments_by_provider,
        churned_last_30_days,
        churn_rate_30_days,
    })
}
