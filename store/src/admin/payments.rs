//! Payments across shops with their provider status, and the review of flagged ones (amount or currency
//! mismatch: nothing was activated, the operator must look).

use chrono::{DateTime, Utc};
use schemas::billing::{PaymentStatus, Provider};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{PlatformTx, Result, TenantTx, audit};

/// A payment as the operator sees it: which shop, what the provider said, and the review of a flagged one.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminPayment {
    pub payment_id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub plan_code: String,
    pub provider: Provider,
    pub amount_xof: i64,
    pub currency: String,
    /// `flagged`: amount or currency mismatch.
    pub status: PaymentStatus,
    /// The provider's checkout/session reference.
    pub provider_ref: Option<String>,
    /// The provider's transaction id, once it reported one.
    pub provider_txn_id: Option<String>,
    /// Why it failed or was flagged.
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When an operator reviewed this flagged payment, who, and what they noted.
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewed_by: Option<Uuid>,
    pub review_note: Option<String>,
}

/// `sqlx::query_as!(AdminPayment, …)`: the operator's view of payments, then `$tail` (conditions, order).
macro_rules! query_admin_payment {
    ($tail:tt $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            AdminPayment,
            r#"select p.payment_id, p.tenant_id, t.name as tenant_name, p.plan_code,
                      p.provider as "provider: Provider", p.amount_xof, p.currency,
                      p.status as "status: PaymentStatus", p.provider_ref, p.provider_txn_id,
                      p.failure_reason, p.created_at, p.paid_at, p.reviewed_at, p.reviewed_by,
                      p.review_note
               from payment p join tenant t on t.tenant_id = p.tenant_id "#
                + $tail
            $(, $arg)*
        )
    };
}

/// What the operator's payment list is narrowed to (values checked by the API).
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub status: Option<PaymentStatus>,
    pub provider: Option<Provider>,
    /// Only flagged payments no operator has reviewed yet.
    pub needs_review: bool,
    pub tenant_id: Option<Uuid>,
}

/// Payments matching `filter`, newest first.
pub async fn list_payments(
    tx: &mut PlatformTx,
    filter: &PaymentFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<AdminPayment>> {
    Ok(query_admin_payment!(
        "where ($1::text is null or p.status = $1)
           and ($2::text is null or p.provider = $2)
           and (not $3 or (p.status = 'flagged' and p.reviewed_at is null))
           and ($4::uuid is null or p.tenant_id = $4)
         order by p.created_at desc, p.payment_id limit $5 offset $6",
        filter.status as _,
        filter.provider as _,
        filter.needs_review,
        filter.tenant_id,
        limit,
        offset,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// How many flagged payments, across shops, no operator has reviewed yet.
pub async fn count_payments_to_review(tx: &mut PlatformTx) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "count!" from payment where status = 'flagged' and reviewed_at is null"#,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The shop a payment belongs to (before the shop's own transaction is opened).
pub async fn payment_tenant(tx: &mut PlatformTx, payment_id: Uuid) -> Result<Uuid> {
    sqlx::query_scalar!(
        "select tenant_id from payment where payment_id = $1",
        payment_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

async fn fetch(conn: &mut PgConnection, payment_id: Uuid) -> Result<AdminPayment> {
    query_admin_payment!("where p.payment_id = $1", payment_id)
        .fetch_optional(conn)
        .await?
        .or_not_found()
}

/// What reviewing did.
#[derive(Debug, Clone)]
pub enum ReviewOutcome {
    Reviewed(Box<AdminPayment>),
    /// Only flagged payments are reviewed; this one is in another status.
    NotFlagged(PaymentStatus),
}

/// Marks a flagged payment of the transaction's shop reviewed, with the operator's note (audited). Reviewing
/// again replaces the note. The payment stays `flagged`: reviewing settles nothing with the provider.
pub async fn review_payment(
    tx: &mut TenantTx<'_>,
    payment_id: Uuid,
    actor_user_id: Uuid,
    note: &str,
    now: DateTime<Utc>,
) -> Result<ReviewOutcome> {
    let status = sqlx::query_scalar!(
        r#"select status as "status: PaymentStatus" from payment
           where tenant_id = $1 and payment_id = $2 for update"#,
        tx.tenant_id(),
        payment_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    if status != PaymentStatus::Flagged {
        return Ok(ReviewOutcome::NotFlagged(status));
    }
    sqlx::query!(
        "update payment set reviewed_at = $3, reviewed_by = $4, review_note = $5, updated_at = now()
         where tenant_id = $1 and payment_id = $2",
        tx.tenant_id(),
        payment_id,
        now,
        actor_user_id,
        note,
    )
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        Some(actor_user_id),
        "payment.reviewed_by_operator",
        json!({ "payment_id": payment_id, "note": note }),
    )
    .await?;
    Ok(ReviewOutcome::Reviewed(Box::new(
        fetch(tx, payment_id).await?,
    )))
}
