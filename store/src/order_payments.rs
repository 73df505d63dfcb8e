//! Customers' payments of their orders, in the chat, on the shop's own merchant account: one link per order and
//! method (`/pay/<token>`) for exactly the order's total, the provider checkout it opens, and its settlement by
//! the provider's notification — once, and only for the right amount.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use schemas::billing::{OrderPaymentStatus, Provider};
use schemas::commerce::{OrderStatus, Xof};
use serde::Serialize;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{Error, PlatformTx, Result, TenantTx};

/// One link of an order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderPayment {
    pub order_payment_id: Uuid,
    pub order_id: Uuid,
    pub provider: Provider,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount_xof: Xof,
    pub status: OrderPaymentStatus,
    /// The secret part of the customer's link. Not serialized: only the link's owner (the customer) gets it.
    #[serde(skip)]
    pub token: String,
    pub provider_ref: Option<String>,
    /// The provider's page, once opened.
    #[serde(skip)]
    pub checkout_url: Option<String>,
    #[serde(skip)]
    pub pay_token: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

macro_rules! payment_row {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            OrderPayment,
            $head
                + r#"order_payment_id, order_id, provider as "provider: Provider",
                     amount_xof as "amount_xof: Xof", status as "status: OrderPaymentStatus", token,
                     provider_ref, checkout_url, pay_token, expires_at, paid_at, created_at"#
                + $tail
            $(, $arg)*
        )
    };
}

/// A fresh link secret: 32 random bytes.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Why no link can be given for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoLink {
    /// Cancelled or delivered: nothing to pay.
    Closed,
    AlreadyPaid,
}

/// The order's link for `provider`, for exactly its total: the pending one if there is one, else a new one
/// (an expired or failed link is renewed with a new secret). Idempotent per order and method.
pub async fn open_link(
    tx: &mut TenantTx<'_>,
    order_id: Uuid,
    provider: Provider,
    valid_for: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<std::result::Result<OrderPayment, NoLink>> {
    let order = sqlx::query!(
        r#"select status as "status: OrderStatus", total_xof, paid_at from customer_order
           where tenant_id = $1 and order_id = $2 for update"#,
        tx.tenant_id(),
        order_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    if order.paid_at.is_some() {
        return Ok(Err(NoLink::AlreadyPaid));
    }
    if matches!(
        order.status,
        OrderStatus::Cancelled | OrderStatus::Delivered
    ) {
        return Ok(Err(NoLink::Closed));
    }
    let payment = payment_row!(
        "insert into order_payment (tenant_id, order_id, provider, amount_xof, token, expires_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (tenant_id, order_id, provider) do update set
           -- A live link stays as it is; a dead one (or one for an older total) starts again.
           token = case when order_payment.status = 'pending' and order_payment.expires_at > $7
                          and order_payment.amount_xof = excluded.amount_xof
                        then order_payment.token else excluded.token end,
           provider_ref = case when order_payment.status = 'pending' and order_payment.expires_at > $7
                                 and order_payment.amount_xof = excluded.amount_xof
                               then order_payment.provider_ref end,
           checkout_url = case when order_payment.status = 'pending' and order_payment.expires_at > $7
                                 and order_payment.amount_xof = excluded.amount_xof
                               then order_payment.checkout_url end,
           pay_token = case when order_payment.status = 'pending' and order_payment.expires_at > $7
                              and order_payment.amount_xof = excluded.amount_xof
                            then order_payment.pay_token end,
           expires_at = case when order_payment.status = 'pending' and order_payment.expires_at > $7
                               and order_payment.amount_xof = excluded.amount_xof
                             then order_payment.expires_at else excluded.expires_at end,
           amount_xof = excluded.amount_xof,
           status = 'pending',
           updated_at = now()
         returning ",
        "",
        tx.tenant_id(),
        order_id,
        provider.as_str(),
        order.total_xof,
        new_token(),
        now + valid_for,
        now,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(Ok(payment))
}

/// The link `token` names, with its shop, across shops (the pay page and the providers' return are public:
/// the token is the credential). `None` for an unknown token.
pub async fn by_token(tx: &mut PlatformTx, token: &str) -> Result<Option<(Uuid, OrderPayment)>> {
    let tenant_id = sqlx::query_scalar!(
        "select tenant_id from order_payment where token = $1",
        token
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(tenant_id) = tenant_id else {
        return Ok(None);
    };
    let payment = payment_row!(
        "select ",
        " from order_payment where tenant_id = $1 and token = $2",
        tenant_id,
        token,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some((tenant_id, payment)))
}

/// The payment `order_payment_id` of the shop, locked for its settlement.
pub async fn lock(tx: &mut TenantTx<'_>, order_payment_id: Uuid) -> Result<OrderPayment> {
    payment_row!(
        "select ",
        " from order_payment where tenant_id = $1 and order_payment_id = $2 for update",
        tx.tenant_id(),
        order_payment_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// The shop's payment whose provider reference is `provider_ref`.
pub async fn by_provider_ref(
    tx: &mut TenantTx<'_>,
    provider: Provider,
    provider_ref: &str,
) -> Result<Option<OrderPayment>> {
    Ok(payment_row!(
        "select ",
        " from order_payment where tenant_id = $1 and provider = $2 and provider_ref = $3",
        tx.tenant_id(),
        provider.as_str(),
        provider_ref,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// The order's links, newest first.
pub async fn of_order(tx: &mut TenantTx<'_>, order_id: Uuid) -> Result<Vec<OrderPayment>> {
    Ok(payment_row!(
        "select ",
        " from order_payment where tenant_id = $1 and order_id = $2 order by created_at desc",
        tx.tenant_id(),
        order_id,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// What the provider's checkout for a link is.
pub struct Checkout<'a> {
    pub provider_ref: &'a str,
    pub checkout_url: &'a str,
    /// Orange Money: the pay token (for its status API) and the SHA-256 of its notification token.
    pub pay_token: Option<&'a str>,
    pub notif_token_hash: Option<&'a [u8]>,
}

/// Records the checkout the provider opened for a still-pending link.
pub async fn record_checkout(
    tx: &mut TenantTx<'_>,
    order_payment_id: Uuid,
    checkout: &Checkout<'_>,
) -> Result<()> {
    sqlx::query!(
        "update order_payment
            set provider_ref = $3, checkout_url = $4, pay_token = $5, notif_token_hash = $6, updated_at = now()
          where tenant_id = $1 and order_payment_id = $2 and status = 'pending'",
        tx.tenant_id(),
        order_payment_id,
        checkout.provider_ref,
        checkout.checkout_url,
        checkout.pay_token,
        checkout.notif_token_hash,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The shop's link whose Orange Money notification token has SHA-256 `hash`.
pub async fn by_notif_token_hash(
    tx: &mut TenantTx<'_>,
    hash: &[u8],
) -> Result<Option<OrderPayment>> {
    Ok(payment_row!(
        "select ",
        " from order_payment where tenant_id = $1 and notif_token_hash = $2",
        tx.tenant_id(),
        hash,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Forgets the checkout of a still-pending link whose payment failed at the provider, so the customer's next
/// tap opens a new one (an Orange Money web payment cannot be paid again once failed).
pub async fn forget_checkout(tx: &mut TenantTx<'_>, order_payment_id: Uuid) -> Result<bool> {
    let forgotten = sqlx::query!(
        "update order_payment
            set provider_ref = null, checkout_url = null, pay_token = null, notif_token_hash = null,
                updated_at = now()
          where tenant_id = $1 and order_payment_id = $2 and status = 'pending'",
        tx.tenant_id(),
        order_payment_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(forgotten.rows_affected() == 1)
}

/// Records a provider notification once; `false` when it was seen before (a replay).
pub async fn first_event(
    tx: &mut TenantTx<'_>,
    provider: Provider,
    event_id: &str,
) -> Result<bool> {
    let inserted = sqlx::query!(
        "insert into order_payment_event (tenant_id, provider, event_id) values ($1, $2, $3)
         on conflict do nothing",
        tx.tenant_id(),
        provider.as_str(),
        event_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// What a provider's confirmation did to a link.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// Paid now: the order is marked paid (its stock hold lifted).
    Paid(OrderPayment),
    /// Paid before (a replayed or concurrent notification): nothing changed.
    AlreadyPaid,
    /// The provider paid another amount or currency: nothing is marked paid; the link fails for the shop
    /// to look at.
    Mismatch { paid_xof: i64, currency: String },
}

/// Settles the link as paid if the provider paid exactly its amount in XOF, in the caller's transaction (with
/// the thank-you reply and the event, so they happen once with it).
pub async fn settle_paid(
    tx: &mut TenantTx<'_>,
    order_payment_id: Uuid,
    paid_xof: i64,
    currency: &str,
    now: DateTime<Utc>,
) -> Result<Settled> {
    let payment = lock(tx, order_payment_id).await?;
    if payment.status == OrderPaymentStatus::Paid {
        return Ok(Settled::AlreadyPaid);
    }
    if paid_xof != payment.amount_xof.get() || currency != "XOF" {
        sqlx::query!(
            "update order_payment set status = 'failed', updated_at = now()
             where tenant_id = $1 and order_payment_id = $2",
            tx.tenant_id(),
            order_payment_id,
        )
        .execute(&mut **tx)
        .await?;
        return Ok(Settled::Mismatch {
            paid_xof,
            currency: currency.to_owned(),
        });
    }
    // Paid through another link of the same order meanwhile (two methods opened): the first one counts.
    let order_paid = sqlx::query_scalar!(
        r#"select paid_at is not null as "paid!" from customer_order
           where tenant_id = $1 and order_id = $2 for update"#,
        tx.tenant_id(),
        payment.order_id,
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query!(
        "update order_payment set status = 'paid', paid_at = $3, updated_at = now()
         where tenant_id = $1 and order_payment_id = $2",
        tx.tenant_id(),
        order_payment_id,
        now,
    )
    .execute(&mut **tx)
    .await?;
    if order_paid {
        return Ok(Settled::AlreadyPaid);
    }
    sqlx::query!(
        // Paid after the shop cancelled it: the customer is owed a refund.
        "update customer_order set paid_at = $3, paid_with = $4, hold_until = null, updated_at = now(),
           refund_status = case when status = 'cancelled' then 'to_do' else refund_status end
         where tenant_id = $1 and order_id = $2",
        tx.tenant_id(),
        payment.order_id,
        now,
        payment.provider.as_str(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(Settled::Paid(lock(tx, order_payment_id).await?))
}

/// Pending links past their expiry, across shops, oldest first: (shop, link).
pub async fn expired_links(
    tx: &mut PlatformTx,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        "select tenant_id, order_payment_id from order_payment
         where status = 'pending' and expires_at <= $1 order by expires_at limit $2",
        now,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tenant_id, r.order_payment_id))
        .collect())
}

/// Expires the link if it is still pending past its expiry; returns it when it did.
pub async fn expire(
    tx: &mut TenantTx<'_>,
    order_payment_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<OrderPayment>> {
    let payment = lock(tx, order_payment_id).await?;
    if payment.status != OrderPaymentStatus::Pending || payment.expires_at > now {
        return Ok(None);
    }
    sqlx::query!(
        "update order_payment set status = 'expired', updated_at = now()
         where tenant_id = $1 and order_payment_id = $2",
        tx.tenant_id(),
        order_payment_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(Some(OrderPayment {
        status: OrderPaymentStatus::Expired,
        ..payment
    }))
}

/// Marks the refund of a cancelled paid order done by the shop. Refused (`refund_not_due`) when none is due,
/// and (`refund_automatic`) while the provider is making it: the customer would be refunded twice.
pub async fn refund_done(tx: &mut TenantTx<'_>, order_id: Uuid) -> Result<()> {
    let due = sqlx::query!(
        r#"select coalesce(refund_status = 'to_do', false) as "due!",
                  coalesce(paid_with = 'wave' and refund_error is null, false) as "automatic!"
           from customer_order where tenant_id = $1 and order_id = $2 for update"#,
        tx.tenant_id(),
        order_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    if !due.due {
        return Err(Error::Constraint("refund_not_due".into()));
    }
    if due.automatic {
        return Err(Error::Constraint("refund_automatic".into()));
    }
    sqlx::query!(
        "update customer_order set refund_status = 'done', refunded_by = 'shop', updated_at = now()
         where tenant_id = $1 and order_id = $2",
        tx.tenant_id(),
        order_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A refund the provider can make: the order, and the paid Wave checkout session to refund.
#[derive(Debug, Clone, PartialEq)]
pub struct AutomaticRefund {
    pub order_id: Uuid,
    pub order_payment_id: Uuid,
    pub session_id: String,
    pub amount_xof: Xof,
    pub attempts: i32,
}

/// Refunds Wave can make, across shops, due now (never tried, or their retry time passed): (shop, order).
pub async fn refunds_due(
    tx: &mut PlatformTx,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        "select tenant_id, order_id from customer_order
         where refund_status = 'to_do' and paid_with = 'wave' and refund_error is null
           and (refund_retry_at is null or refund_retry_at <= $1)
         order by refund_retry_at nulls first limit $2",
        now,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tenant_id, r.order_id))
        .collect())
}

/// The order's automatic refund, locked for one attempt, if it is still due now.
pub async fn lock_refund(
    tx: &mut TenantTx<'_>,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<AutomaticRefund>> {
    Ok(sqlx::query_as!(
        AutomaticRefund,
        r#"select o.order_id, p.order_payment_id, p.provider_ref as "session_id!",
                  p.amount_xof as "amount_xof: Xof", o.refund_attempts as attempts
           from customer_order o
           join order_payment p on p.tenant_id = o.tenant_id and p.order_id = o.order_id
                and p.provider = 'wave' and p.status = 'paid' and p.provider_ref is not null
           where o.tenant_id = $1 and o.order_id = $2 and o.refund_status = 'to_do'
             and o.paid_with = 'wave' and o.refund_error is null
             and (o.refund_retry_at is null or o.refund_retry_at <= $3)
           for update of o"#,
        tx.tenant_id(),
        order_id,
        now,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// The provider refunded the order.
pub async fn refunded_by_provider(tx: &mut TenantTx<'_>, order_id: Uuid) -> Result<()> {
    sqlx::query!(
        "update customer_order
            set refund_status = 'done', refunded_by = 'provider', refund_attempts = refund_attempts + 1,
                refund_retry_at = null, updated_at = now()
          where tenant_id = $1 and order_id = $2 and refund_status = 'to_do'",
        tx.tenant_id(),
        order_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An attempt that did not refund: retried at `retry_at`, or, with none, left to the shop with `error`.
pub async fn refund_failed(
    tx: &mut TenantTx<'_>,
    order_id: Uuid,
    retry_at: Option<DateTime<Utc>>,
    error: &str,
) -> Result<()> {
    let error: String = error.chars().take(200).collect();
    sqlx::query!(
        "update customer_order
            set refund_attempts = refund_attempts + 1, refund_retry_at = $3,
                refund_error = case when $3::timestamptz is null then $4 else null end, updated_at = now()
          where tenant_id = $1 and order_id = $2 and refund_status = 'to_do'",
        tx.tenant_id(),
        order_id,
        retry_at,
        error,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
