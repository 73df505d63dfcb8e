//! The operator's actions on one shop, each in the shop's own transaction and audited with who and why:
//! suspend or reactivate, extend the subscription by hand, change the plan.

use chrono::{DateTime, Utc};
use schemas::billing::SubscriptionStatus;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::tenants::{PLATFORM_TENANT_ID, TenantStatus};
use crate::{Result, TenantTx, audit};

/// Who acts, why, and when: every operator action writes them to the shop's audit log.
#[derive(Debug, Clone, Copy)]
pub struct OperatorAction<'a> {
    /// The platform administrator.
    pub actor_user_id: Uuid,
    /// The reason the operator typed (3 to 500 characters, checked by the caller).
    pub reason: &'a str,
    pub now: DateTime<Utc>,
}

/// Locks the transaction's shop row and returns its operator status. The platform's own tenant is not a shop.
async fn lock_shop(tx: &mut TenantTx<'_>) -> Result<TenantStatus> {
    sqlx::query_scalar!(
        r#"select status as "status: TenantStatus" from tenant
           where tenant_id = $1 and tenant_id <> $2 for update"#,
        tx.tenant_id(),
        PLATFORM_TENANT_ID,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Suspends or reactivates the transaction's shop. A suspension stores its reason, time
/// and author on the shop (the shop's pages and the bot's notes show the reason); reactivating clears them.
/// Suspending again replaces the reason. Returns the previous status.
pub async fn set_status(
    tx: &mut TenantTx<'_>,
    status: TenantStatus,
    action: &OperatorAction<'_>,
) -> Result<TenantStatus> {
    let previous = lock_shop(tx).await?;
    match status {
        TenantStatus::Suspended => {
            sqlx::query!(
                "update tenant set status = 'suspended', suspended_reason = $2, suspended_at = $3,
                        suspended_by = $4
                 where tenant_id = $1",
                tx.tenant_id(),
                action.reason,
                action.now,
                action.actor_user_id,
            )
            .execute(&mut **tx)
            .await?;
        }
        TenantStatus::Active => {
            sqlx::query!(
                "update tenant set status = 'active', suspended_reason = null, suspended_at = null,
                        suspended_by = null
                 where tenant_id = $1",
                tx.tenant_id(),
            )
            .execute(&mut **tx)
            .await?;
        }
    }
    audit::record(
        tx,
        Some(action.actor_user_id),
        "tenant.status_changed",
        json!({ "from": previous, "to": status, "reason": action.reason }),
    )
    .await?;
    Ok(previous)
}

/// How long a subscription is extended by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Extension {
    Days(i32),
    Months(i32),
}

/// What extending did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtensionOutcome {
    /// The subscription's status before; it is now `active`.
    pub previous_status: SubscriptionStatus,
    pub previous_expires_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

/// Extends the subscription by hand (a shop that paid in cash): from the later of now and the current expiry,
/// like a paid period, and a pending, past-due or suspended subscription becomes active. An operator suspension
/// of the shop is not lifted by this (that is [`set_status`]).
pub async fn extend_subscription(
    tx: &mut TenantTx<'_>,
    extension: Extension,
    action: &OperatorAction<'_>,
) -> Result<ExtensionOutcome> {
    lock_shop(tx).await?;
    let previous = sqlx::query!(
        r#"select status as "status: SubscriptionStatus", expires_at from subscription
           where tenant_id = $1 for update"#,
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    let (previous_status, previous_expires_at) = previous
        .map_or((SubscriptionStatus::Pending, None), |row| {
            (row.status, row.expires_at)
        });
    let (months, days) = match extension {
        Extension::Days(days) => (0, days),
        Extension::Months(months) => (months, 0),
    };
    // Calendar arithmetic in UTC, like a paid month (31 January + 1 month = 28 or 29 February).
    let expires_at = sqlx::query_scalar!(
        r#"insert into subscription (tenant_id, plan_code, status, expires_at)
         select t.tenant_id, t.plan_code, 'active',
                (($2::timestamptz at time zone 'UTC') + make_interval(months => $3, days => $4)) at time zone 'UTC'
         from tenant t where t.tenant_id = $1
         on conflict (tenant_id) do update set
           status = 'active',
           expires_at = ((greatest(subscription.expires_at, $2::timestamptz) at time zone 'UTC')
                         + make_interval(months => $3, days => $4)) at time zone 'UTC',
           past_due_since = null, grace_until = null, suspended_at = null, updated_at = now()
         returning expires_at as "expires_at!""#,
        tx.tenant_id(),
        action.now,
        months,
        days,
    )
    .fetch_one(&mut **tx)
    .await?;
    audit::record(
        tx,
        Some(action.actor_user_id),
        "subscription.extended_by_operator",
        json!({
            "extension": extension,
            "from": previous_status,
            "previous_expires_at": previous_expires_at,
            "expires_at": expires_at,
            "reason": action.reason,
        }),
    )
    .await?;
    Ok(ExtensionOutcome {
        previous_status,
        previous_expires_at,
        expires_at,
    })
}

/// Moves the shop (and its subscription) to `plan_code`, an active plan checked by the caller. The expiry
/// stays: the next payment is for the new plan. Returns the previous plan.
pub async fn change_plan(
    tx: &mut TenantTx<'_>,
    plan_code: &str,
    action: &OperatorAction<'_>,
) -> Result<String> {
    lock_shop(tx).await?;
    let previous = sqlx::query_scalar!(
        "select plan_code from tenant where tenant_id = $1",
        tx.tenant_id(),
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query!(
        "update tenant set plan_code = $2 where tenant_id = $1",
        tx.tenant_id(),
        plan_code,
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "update subscription set plan_code = $2, updated_at = now() where tenant_id = $1",
        tx.tenant_id(),
        plan_code,
    )
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        Some(action.actor_user_id),
        "plan.changed_by_operator",
        json!({ "from": previous, "to": plan_code, "reason": action.reason }),
    )
    .await?;
    Ok(previous)
}
