//! The expiry job's transitions: `active` past its expiry → `past_due` (grace period) → `suspended`.
//!
//! Safe with several API instances running it at once: rows are claimed with `for update skip locked` and
//! every transition is conditional on the current status, so a subscription moves at most once per step.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{PlatformTx, Result};

/// What one run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpiryReport {
    /// Tenants whose subscription expired: now past due, the bot still answers during the grace period.
    pub past_due: Vec<Uuid>,
    /// Tenants whose grace period ended: the bot stops answering customers.
    pub suspended: Vec<Uuid>,
}

/// Subscriptions by status across tenants, for the operator's gauge: `trial` is a pending subscription within
/// its free trial (the bot answers), `pending` one that never paid after it.
pub async fn status_counts(tx: &mut PlatformTx, now: DateTime<Utc>) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(
        r#"select case when status = 'pending' and trial_ends_at > $1 then 'trial' else status end
                    as "status!",
                  count(*) as "count!"
           from subscription group by 1"#,
        now,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.count)).collect())
}

/// Applies every transition due at `now`. `grace` is how long a past-due subscription keeps its bot; the
/// end of the grace period is stored (`grace_until`) so the worker's check needs no configuration.
#[tracing::instrument(skip_all, fields(%now))]
pub async fn run_expiry(
    tx: &mut PlatformTx,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<ExpiryReport> {
    let grace_secs = grace.num_seconds().max(0) as f64;
    let past_due = sqlx::query!(
        r#"with due as (
           select tenant_id from subscription
           where status = 'active' and expires_at <= $1
           for update skip locked
         )
         update subscription s set status = 'past_due', past_due_since = $1,
                grace_until = s.expires_at + make_interval(secs => $2), updated_at = now()
         from due where s.tenant_id = due.tenant_id
         returning s.tenant_id, s.grace_until as "grace_until!""#,
        now,
        grace_secs,
    )
    .fetch_all(&mut **tx)
    .await?;
    for row in &past_due {
        audit(
            tx,
            row.tenant_id,
            "subscription.past_due",
            json!({ "grace_until": row.grace_until }),
        )
        .await?;
    }

    let suspended = sqlx::query_scalar!(
        "with due as (
           select tenant_id from subscription
           where status = 'past_due' and grace_until <= $1
           for update skip locked
         )
         update subscription s set status = 'suspended', suspended_at = $1, updated_at = now()
         from due where s.tenant_id = due.tenant_id
         returning s.tenant_id",
        now,
    )
    .fetch_all(&mut **tx)
    .await?;
    for tenant_id in &suspended {
        audit(
            tx,
            *tenant_id,
            "subscription.suspended",
            json!({ "reason": "unpaid" }),
        )
        .await?;
    }

    Ok(ExpiryReport {
        past_due: past_due.into_iter().map(|row| row.tenant_id).collect(),
        suspended,
    })
}

/// An audit entry written by the platform (no acting user).
async fn audit(
    tx: &mut PlatformTx,
    tenant_id: Uuid,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query!(
        "insert into audit_log (tenant_id, action, detail) values ($1, $2, $3)",
        tenant_id,
        action,
        detail,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
