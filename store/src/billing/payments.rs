//! Payments: the pending row written before a provider is called, the checkout it leads to, and what a
//! verified webhook does to it and to the subscription.

use chrono::{DateTime, Utc};
use schemas::billing::{PaymentStatus, Provider, SubscriptionStatus};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{PlatformTx, Result, TenantTx, audit};

/// One payment attempt, as the shop sees it (no tokens).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payment {
    pub payment_id: Uuid,
    pub plan_code: String,
    pub provider: Provider,
    pub amount_xof: i64,
    pub currency: String,
    /// `flagged`: amount or currency mismatch, for the operator.
    pub status: PaymentStatus,
    /// Where the payer completes the payment.
    pub checkout_url: Option<String>,
    /// The provider's checkout/session reference.
    pub provider_ref: Option<String>,
    /// The provider's transaction id, once paid: the receipt reference.
    pub provider_txn_id: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub idempotency_key: String,
}

/// `sqlx::query_as!(Payment, …)` with the payment's columns between `$head` and `$tail`.
macro_rules! query_payment {
    ($head:tt, $tail:tt $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Payment,
            $head
                + r#" payment_id, plan_code, provider as "provider: Provider", amount_xof, currency,
                    status as "status: PaymentStatus", checkout_url, provider_ref, provider_txn_id,
                    failure_reason, created_at, paid_at, idempotency_key "#
                + $tail
            $(, $arg)*
        )
    };
}

/// What checkout records before calling the provider.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub plan_code: &'a str,
    pub provider: Provider,
    pub amount_xof: i64,
    pub idempotency_key: &'a str,
}

/// Inserts a pending payment, or returns the one already recorded under the same idempotency key.
/// The boolean is true when this call created it.
pub async fn create_pending(
    tx: &mut TenantTx<'_>,
    new: &NewPayment<'_>,
) -> Result<(Payment, bool)> {
    let created = query_payment!(
        "insert into payment (tenant_id, plan_code, provider, amount_xof, currency, idempotency_key)
           values ($1, $2, $3, $4, 'XOF', $5)
           on conflict (tenant_id, idempotency_key) do nothing
           returning",
        "",
        tx.tenant_id(),
        new.plan_code,
        new.provider as _,
        new.amount_xof,
        new.idempotency_key,
    )
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(payment) = created {
        return Ok((payment, true));
    }
    let existing = find_by_key(tx, new.idempotency_key).await?.or_not_found()?;
    Ok((existing, false))
}

pub async fn find_by_key(tx: &mut TenantTx<'_>, idempotency_key: &str) -> Result<Option<Payment>> {
    Ok(query_payment!(
        "select",
        "from payment where tenant_id = $1 and idempotency_key = $2",
        tx.tenant_id(),
        idempotency_key,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn get_payment(tx: &mut TenantTx<'_>, payment_id: Uuid) -> Result<Payment> {
    query_payment!(
        "select",
        "from payment where tenant_id = $1 and payment_id = $2",
        tx.tenant_id(),
        payment_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// The shop's payments, newest first.
pub async fn list_payments(tx: &mut TenantTx<'_>) -> Result<Vec<Payment>> {
    Ok(query_payment!(
        "select",
        "from payment where tenant_id = $1 order by created_at desc limit 100",
        tx.tenant_id(),
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Records the checkout the provider created. Only a still-pending payment is updated.
pub async fn attach_checkout(
    tx: &mut TenantTx<'_>,
    payment_id: Uuid,
    checkout_url: &str,
    provider_ref: Option<&str>,
    pay_token: Option<&str>,
    notif_token_hash: Option<&[u8]>,
) -> Result<Payment> {
    query_payment!(
        "update payment set checkout_url = $3, provider_ref = $4, pay_token = $5, notif_token_hash = $6,
                  updated_at = now()
           where tenant_id = $1 and payment_id = $2 and status = 'pending'
           returning",
        "",
        tx.tenant_id(),
        payment_id,
        checkout_url,
        provider_ref,
        pay_token,
        notif_token_hash,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Marks a pending payment failed (the provider refused or did not answer).
pub async fn mark_failed(tx: &mut TenantTx<'_>, payment_id: Uuid, reason: &str) -> Result<()> {
    sqlx::query!(
        "update payment set status = 'failed', failure_reason = $3, updated_at = now()
         where tenant_id = $1 and payment_id = $2 and status = 'pending'",
        tx.tenant_id(),
        payment_id,
        reason,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The subscription of the transaction's tenant.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subscription {
    pub plan_code: String,
    pub status: SubscriptionStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// While `past_due`: the bot keeps answering until then.
    pub grace_until: Option<DateTime<Utc>>,
    pub past_due_since: Option<DateTime<Utc>>,
    pub suspended_at: Option<DateTime<Utc>>,
    /// A never-paid shop's bot answers its WhatsApp customers until then.
    pub trial_ends_at: Option<DateTime<Utc>>,
}

pub async fn subscription(tx: &mut TenantTx<'_>) -> Result<Subscription> {
    sqlx::query_as!(
        Subscription,
        r#"select plan_code, status as "status: SubscriptionStatus", expires_at, grace_until,
                  past_due_since, suspended_at, trial_ends_at
           from subscription where tenant_id = $1"#,
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Who a payment belongs to, found on the platform path before the tenant is known (webhooks).
#[derive(Debug, Clone)]
pub struct PaymentOwner {
    pub tenant_id: Uuid,
    pub payment_id: Uuid,
    pub provider: Provider,
    pub plan_code: String,
    pub amount_xof: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub provider_ref: Option<String>,
    pub pay_token: Option<String>,
}

pub async fn owner_of_payment(
    tx: &mut PlatformTx,
    payment_id: Uuid,
) -> Result<Option<PaymentOwner>> {
    Ok(sqlx::query_as!(
        PaymentOwner,
        r#"select tenant_id, payment_id, provider as "provider: Provider", plan_code, amount_xof, currency,
                  status as "status: PaymentStatus", provider_ref, pay_token
           from payment where payment_id = $1"#,
        payment_id,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Orange Money notifications carry only the notif_token: the payment is found by its hash.
pub async fn owner_by_notif_token_hash(
    tx: &mut PlatformTx,
    hash: &[u8],
) -> Result<Option<PaymentOwner>> {
    Ok(sqlx::query_as!(
        PaymentOwner,
        r#"select tenant_id, payment_id, provider as "provider: Provider", plan_code, amount_xof, currency,
                  status as "status: PaymentStatus", provider_ref, pay_token
           from payment where notif_token_hash = $1 and provider = 'orange_money'"#,
        hash,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// What a verified provider message says happened to a payment.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub provider: Provider,
    /// The provider's event (or transaction) id: processing is idempotent on it.
    pub event_id: String,
    pub status: OutcomeStatus,
    /// The amount and currency the provider reports, checked against the recorded payment.
    pub amount_xof: Option<i64>,
    pub currency: Option<String>,
    pub provider_txn_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeStatus {
    Succeeded,
    Failed,
}

/// What processing a verified webhook did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum WebhookDecision {
    /// The payment succeeded; the subscription now runs until `expires_at`.
    Activated { expires_at: DateTime<Utc> },
    /// The provider reports a failed payment.
    Failed,
    /// Amount or currency differ from the recorded payment: nothing activated, the operator must look.
    Flagged,
    /// This event id was already processed.
    Duplicate,
    /// The payment was already settled (`status`) by another event.
    AlreadySettled { status: PaymentStatus },
}

impl WebhookDecision {
    fn outcome(&self) -> &'static str {
        match self {
            WebhookDecision::Activated { .. } => "activated",
            WebhookDecision::Failed => "failed",
            WebhookDecision::Flagged => "flagged",
            WebhookDecision::Duplicate => "duplicate",
            WebhookDecision::AlreadySettled { .. } => "already_settled",
        }
    }
}

/// Applies a verified provider outcome to a payment of the transaction's tenant, exactly once per event id
/// and at most one activation per payment: the payment row is locked first, so concurrent deliveries run
/// one after the other and all but the first see a settled payment or a known event id. Every decision is
/// written to the audit log.
#[tracing::instrument(skip_all, fields(tenant_id = %tx.tenant_id(), %payment_id))]
pub async fn apply_outcome(
    tx: &mut TenantTx<'_>,
    payment_id: Uuid,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<WebhookDecision> {
    let payment = query_payment!(
        "select",
        "from payment where tenant_id = $1 and payment_id = $2 for update",
        tx.tenant_id(),
        payment_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;

    let fresh = sqlx::query_scalar!(
        r#"insert into billing_event (tenant_id, provider, event_id, payment_id, outcome)
           values ($1, $2, $3, $4, 'processing') on conflict do nothing returning 1 as "fresh!""#,
        tx.tenant_id(),
        outcome.provider as _,
        &outcome.event_id,
        payment_id,
    )
    .fetch_optional(&mut **tx)
    .await?;
    let mut detail = json!({
        "payment_id": payment_id,
        "provider": outcome.provider,
        "event_id": outcome.event_id,
    });
    if fresh.is_none() {
        audit::record(tx, None, "payment.webhook_duplicate", detail).await?;
        return Ok(WebhookDecision::Duplicate);
    }

    let decision = if payment.status != PaymentStatus::Pending {
        detail["status"] = json!(payment.status);
        audit::record(tx, None, "payment.webhook_ignored", detail).await?;
        WebhookDecision::AlreadySettled {
            status: payment.status,
        }
    } else if outcome.status == OutcomeStatus::Failed {
        sqlx::query!(
            "update payment set status = 'failed', failure_reason = 'refusé par le fournisseur',
                    provider_txn_id = coalesce($3, provider_txn_id), updated_at = now()
             where tenant_id = $1 and payment_id = $2",
            tx.tenant_id(),
            payment_id,
            outcome.provider_txn_id.as_deref(),
        )
        .execute(&mut **tx)
        .await?;
        audit::record(tx, None, "payment.failed", detail).await?;
        WebhookDecision::Failed
    } else if outcome.amount_xof != Some(payment.amount_xof)
        || outcome.currency.as_deref().map(str::to_ascii_uppercase)
            != Some(payment.currency.clone())
    {
        sqlx::query!(
            "update payment set status = 'flagged', failure_reason = 'montant ou devise inattendus',
                    provider_txn_id = coalesce($3, provider_txn_id), updated_at = now()
             where tenant_id = $1 and payment_id = $2",
            tx.tenant_id(),
            payment_id,
            outcome.provider_txn_id.as_deref(),
        )
        .execute(&mut **tx)
        .await?;
        detail["expected"] =
            json!({ "amount_xof": payment.amount_xof, "currency": payment.currency });
        detail["received"] =
            json!({ "amount_xof": outcome.amount_xof, "currency": outcome.currency });
        audit::record(tx, None, "payment.flagged", detail).await?;
        tracing::warn!(%payment_id, "payment flagged: amount or currency mismatch");
        WebhookDecision::Flagged
    } else {
        let expires_at = activate(tx, &payment, outcome, now).await?;
        detail["plan"] = json!(payment.plan_code);
        detail["amount_xof"] = json!(payment.amount_xof);
        detail["expires_at"] = json!(expires_at);
        audit::record(tx, None, "payment.succeeded", detail).await?;
        WebhookDecision::Activated { expires_at }
    };

    sqlx::query!(
        "update billing_event set outcome = $4 where tenant_id = $1 and provider = $2 and event_id = $3",
        tx.tenant_id(),
        outcome.provider as _,
        &outcome.event_id,
        decision.outcome(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(decision)
}

/// Where a paid month of `plan_code` starts, given the subscription's current plan, expiry and that plan's
/// monthly price. Renewing the same plan stacks on the current expiry. Changing plan starts the new plan now
/// and converts the time left on the old one at the ratio of the two prices, so a payment never buys more
/// than it costs: 12 prepaid Starter months and one Business payment give one Business month plus the
/// Starter months' worth of Business time, not 13 Business months.
pub fn period_start(
    current: Option<(&str, Option<DateTime<Utc>>, i64)>,
    plan_code: &str,
    price_xof: i64,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let Some((current_plan, Some(expires_at), current_price)) = current else {
        return now;
    };
    if expires_at <= now {
        return now;
    }
    if current_plan == plan_code {
        return expires_at;
    }
    let left_ms = i128::from((expires_at - now).num_milliseconds());
    let converted_ms = if price_xof > 0 {
        left_ms * i128::from(current_price.max(0)) / i128::from(price_xof)
    } else {
        left_ms
    };
    now + chrono::Duration::milliseconds(i64::try_from(converted_ms).unwrap_or(i64::MAX / 2))
}

/// Marks the payment paid and extends the subscription by one month (added in UTC) from
/// [`period_start`], on the paid plan.
async fn activate(
    tx: &mut TenantTx<'_>,
    payment: &Payment,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    sqlx::query!(
        "update payment set status = 'succeeded', paid_at = $3, provider_txn_id = coalesce($4, provider_txn_id),
                updated_at = now()
         where tenant_id = $1 and payment_id = $2",
        tx.tenant_id(),
        payment.payment_id,
        now,
        outcome.provider_txn_id.as_deref(),
    )
    .execute(&mut **tx)
    .await?;
    let current = sqlx::query!(
        "select s.plan_code, s.expires_at, p.price_xof
         from subscription s join plan p on p.plan_code = s.plan_code
         where s.tenant_id = $1 for update of s",
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    let price_xof = sqlx::query_scalar!(
        "select price_xof from plan where plan_code = $1",
        &payment.plan_code
    )
    .fetch_one(&mut **tx)
    .await?;
    let start = period_start(
        current
            .as_ref()
            .map(|c| (c.plan_code.as_str(), c.expires_at, c.price_xof)),
        &payment.plan_code,
        price_xof,
        now,
    );
    let expires_at = sqlx::query_scalar!(
        r#"insert into subscription (tenant_id, plan_code, status, expires_at)
         values ($1, $2, 'active', (($3::timestamptz at time zone 'UTC') + interval '1 month') at time zone 'UTC')
         on conflict (tenant_id) do update set
           plan_code = excluded.plan_code,
           status = 'active',
           expires_at = excluded.expires_at,
           past_due_since = null, grace_until = null, suspended_at = null, updated_at = now()
         returning expires_at as "expires_at!""#,
        tx.tenant_id(),
        &payment.plan_code,
        start,
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query!(
        "update tenant set plan_code = $2 where tenant_id = $1",
        tx.tenant_id(),
        &payment.plan_code,
    )
    .execute(&mut **tx)
    .await?;
    Ok(expires_at)
}

/// Opens the subscription of a new shop on `plan_code`, pending its first payment; its bot answers
/// WhatsApp customers until `trial_ends_at` (none: not before the first payment).
pub async fn open_subscription(
    tx: &mut TenantTx<'_>,
    plan_code: &str,
    trial_ends_at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query!(
        "insert into subscription (tenant_id, plan_code, trial_ends_at) values ($1, $2, $3)",
        tx.tenant_id(),
        plan_code,
        trial_ends_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0)
            .single()
            .expect("date")
    }

    #[test]
    fn a_first_payment_or_a_lapsed_subscription_starts_now() {
        assert_eq!(period_start(None, "pro", 10_000, now()), now());
        let pending = Some(("starter", None, 5_000));
        assert_eq!(period_start(pending, "pro", 10_000, now()), now());
        let lapsed = Some(("starter", Some(now() - Duration::days(3)), 5_000));
        assert_eq!(period_start(lapsed, "starter", 5_000, now()), now());
    }

    #[test]
    fn renewing_the_same_plan_stacks_on_the_current_expiry() {
        let paid_until = now() + Duration::days(40);
        let current = Some(("starter", Some(paid_until), 5_000));
        assert_eq!(period_start(current, "starter", 5_000, now()), paid_until);
    }

    #[test]
    fn changing_plan_converts_the_time_left_at_the_prices_ratio() {
        // 360 days of Starter (5 000) are worth 120 days of Business (15 000), not 360.
        let current = Some(("starter", Some(now() + Duration::days(360)), 5_000));
        assert_eq!(
            period_start(current, "business", 15_000, now()),
            now() + Duration::days(120)
        );
        // A downgrade keeps the value too: 10 days of Pro (10 000) are 20 days of Starter.
        let current = Some(("pro", Some(now() + Duration::days(10)), 10_000));
        assert_eq!(
            period_start(current, "starter", 5_000, now()),
            now() + Duration::days(20)
        );
    }
}
