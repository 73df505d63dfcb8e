//! Orders: priced from the catalogue, stock checked and decremented atomically, idempotent per bot turn.

use chrono::{DateTime, Utc};
use schemas::billing::{Provider, RefundStatus, RefundedBy};
use schemas::commerce::{OrderStatus, Stock, Xof};
use serde::Serialize;
use sqlx::Acquire;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{Error, PlatformTx, Result, TenantTx};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    pub order_id: Uuid,
    /// What the customer quotes, e.g. `CMD-1A2B3C4D`.
    pub order_ref: String,
    pub chat_id: Option<Uuid>,
    pub customer_name: String,
    pub customer_phone: String,
    pub delivery_address: String,
    /// The shop's delivery zone the order goes to (empty: none given), and its fee, included in the total.
    pub delivery_zone: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub delivery_fee_xof: Xof,
    pub note: String,
    pub status: OrderStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub total_xof: Xof,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the customer paid it in the chat, and how (absent: not paid that way).
    pub paid_at: Option<DateTime<Utc>>,
    pub paid_with: Option<Provider>,
    /// A paid order that was cancelled: its refund, made by Wave on the platform's request or owed by the shop.
    pub refund_status: Option<RefundStatus>,
    pub refunded_by: Option<RefundedBy>,
    /// Why the provider did not refund (its error code): the shop refunds by hand.
    pub refund_error: Option<String>,
    pub items: Vec<OrderItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderItem {
    pub line_no: i32,
    /// Null once the product is deleted; name and price stay as sold.
    pub product_id: Option<Uuid>,
    pub product_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub unit_price_xof: Xof,
    pub quantity: i32,
}

/// A `customer_order` row as [`order_row!`] reads it, before its items are loaded.
struct OrderRow {
    order_id: Uuid,
    order_ref: String,
    chat_id: Option<Uuid>,
    customer_name: String,
    customer_phone: String,
    delivery_address: String,
    delivery_zone: String,
    delivery_fee_xof: Xof,
    note: String,
    status: OrderStatus,
    total_xof: Xof,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    paid_with: Option<Provider>,
    refund_status: Option<RefundStatus>,
    refunded_by: Option<RefundedBy>,
    refund_error: Option<String>,
}

impl OrderRow {
    fn with_items(self, items: Vec<OrderItem>) -> Order {
        Order {
            order_id: self.order_id,
            order_ref: self.order_ref,
            chat_id: self.chat_id,
            customer_name: self.customer_name,
            customer_phone: self.customer_phone,
            delivery_address: self.delivery_address,
            delivery_zone: self.delivery_zone,
            delivery_fee_xof: self.delivery_fee_xof,
            note: self.note,
            status: self.status,
            total_xof: self.total_xof,
            created_at: self.created_at,
            updated_at: self.updated_at,
            paid_at: self.paid_at,
            paid_with: self.paid_with,
            refund_status: self.refund_status,
            refunded_by: self.refunded_by,
            refund_error: self.refund_error,
            items,
        }
    }
}

/// An order to place. Prices are not part of it: they are read from the catalogue.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Chosen by the caller, so the reference can be quoted before the order is written.
    pub order_id: Uuid,
    pub chat_id: Option<Uuid>,
    pub customer_name: String,
    pub customer_phone: String,
    pub customer_jid: String,
    pub delivery_address: String,
    /// The delivery zone and its fee (from the shop's zones), added to the total.
    pub delivery_zone: String,
    pub delivery_fee_xof: Xof,
    pub note: String,
    /// Same key, same order: a retried turn never creates a second one.
    pub idempotency_key: String,
    pub lines: Vec<(Uuid, i32)>,
    /// Not confirmed by the shop by then, the order is cancelled and its stock put back ([`expire_holds`]).
    pub hold_until: Option<DateTime<Utc>>,
}

/// Why an order could not be placed; nothing was written.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The product does not exist (in this shop) or is not for sale.
    UnknownProduct(Uuid),
    InsufficientStock {
        product_id: Uuid,
        name: String,
        available: Stock,
    },
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Placed {
    Created(Order),
    /// This idempotency key was already used: the order placed then.
    Existing(Order),
    Refused(Refusal),
}

/// A compile-checked query returning [`OrderRow`]s: `$head`, the columns of `customer_order`, then `$tail`.
macro_rules! order_row {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            OrderRow,
            $head
                + r#"order_id, order_ref, chat_id, customer_name, customer_phone, delivery_address,
                     delivery_zone, delivery_fee_xof as "delivery_fee_xof: Xof", note,
                     status as "status: OrderStatus", total_xof as "total_xof: Xof", created_at, updated_at,
                     paid_at, paid_with as "paid_with: Provider", refund_status as "refund_status: RefundStatus",
                     refunded_by as "refunded_by: RefundedBy", refund_error"#
                + $tail
            $(, $arg)*
        )
    };
}

pub fn order_ref(order_id: Uuid) -> String {
    format!("CMD-{}", &order_id.simple().to_string()[..8].to_uppercase())
}

/// Places an order in the caller's transaction. Stock is decremented in a savepoint, so a refusal leaves the
/// transaction as it was.
pub async fn place(tx: &mut TenantTx<'_>, new: &NewOrder) -> Result<Placed> {
    if let Some(existing) = by_idempotency_key(tx, &new.idempotency_key).await? {
        return Ok(Placed::Existing(existing));
    }
    if new.lines.is_empty() || new.lines.iter().any(|(_, q)| *q <= 0) {
        return Ok(Placed::Refused(Refusal::Empty));
    }
    let tenant_id = tx.tenant_id();
    let mut sp = (&mut **tx).begin().await?;
    // Lock products in a fixed order so two concurrent orders cannot deadlock.
    let mut lines = new.lines.clone();
    lines.sort_by_key(|(id, _)| *id);
    let mut priced = Vec::with_capacity(lines.len());
    for (product_id, quantity) in &lines {
        let taken = sqlx::query!(
            r#"update product set stock = stock - $3,
                 updated_at = case when stock is null then updated_at else now() end
             where tenant_id = $1 and product_id = $2 and active and (stock is null or stock >= $3)
             returning name, price_xof as "price_xof: Xof""#,
            tenant_id,
            product_id,
            quantity,
        )
        .fetch_optional(&mut *sp)
        .await?;
        match taken {
            Some(row) => priced.push((*product_id, row.name, row.price_xof, *quantity)),
            None => {
                let current = sqlx::query!(
                    r#"select name, stock as "stock: Stock", active from product
                     where tenant_id = $1 and product_id = $2"#,
                    tenant_id,
                    product_id,
                )
                .fetch_optional(&mut *sp)
                .await?;
                sp.rollback().await?;
                return Ok(Placed::Refused(
                    match current.map(|row| (row.name, row.stock, row.active)) {
                        Some((name, Some(available), true)) => Refusal::InsufficientStock {
                            product_id: *product_id,
                            name,
                            available,
                        },
                        _ => Refusal::UnknownProduct(*product_id),
                    },
                ));
            }
        }
    }
    // Keep the customer's line order on the order itself.
    priced.sort_by_key(|(id, ..)| new.lines.iter().position(|(l, _)| l == id));
    let total: i64 = priced
        .iter()
        .map(|(_, _, price, q)| price.get() * i64::from(*q))
        .sum::<i64>()
        + new.delivery_fee_xof.get();
    let order_id = new.order_id;
    let row = order_row!(
        "insert into customer_order (tenant_id, order_id, order_ref, chat_id, customer_name, customer_phone,
                                     customer_jid, delivery_address, note, total_xof, idempotency_key,
                                     hold_until, delivery_zone, delivery_fee_xof)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         returning ",
        "",
        tenant_id,
        order_id,
        order_ref(order_id),
        new.chat_id,
        new.customer_name,
        new.customer_phone,
        new.customer_jid,
        new.delivery_address,
        new.note,
        total,
        new.idempotency_key,
        new.hold_until,
        new.delivery_zone,
        new.delivery_fee_xof.get(),
    )
    .fetch_one(&mut *sp)
    .await?;
    for (line_no, (product_id, name, price, quantity)) in (1..).zip(&priced) {
        let line_no: i32 = line_no;
        sqlx::query!(
            "insert into order_item (tenant_id, order_id, line_no, product_id, product_name, unit_price_xof,
                                     quantity)
             values ($1, $2, $3, $4, $5, $6, $7)",
            tenant_id,
            order_id,
            line_no,
            product_id,
            name,
            price.get(),
            quantity,
        )
        .execute(&mut *sp)
        .await?;
    }
    sp.commit().await?;
    let items = items(tx, order_id).await?;
    Ok(Placed::Created(row.with_items(items)))
}

async fn by_idempotency_key(tx: &mut TenantTx<'_>, key: &str) -> Result<Option<Order>> {
    let tenant_id = tx.tenant_id();
    let row = order_row!(
        "select ",
        " from customer_order where tenant_id = $1 and idempotency_key = $2",
        tenant_id,
        key,
    )
    .fetch_optional(&mut **tx)
    .await?;
    with_items(tx, row).await
}

async fn items(tx: &mut TenantTx<'_>, order_id: Uuid) -> Result<Vec<OrderItem>> {
    Ok(sqlx::query_as!(
        OrderItem,
        r#"select line_no, product_id, product_name, unit_price_xof as "unit_price_xof: Xof", quantity
         from order_item where tenant_id = $1 and order_id = $2 order by line_no"#,
        tx.tenant_id(),
        order_id,
    )
    .fetch_all(&mut **tx)
    .await?)
}

async fn with_items(tx: &mut TenantTx<'_>, row: Option<OrderRow>) -> Result<Option<Order>> {
    match row {
        Some(row) => {
            let items = items(tx, row.order_id).await?;
            Ok(Some(row.with_items(items)))
        }
        None => Ok(None),
    }
}

pub async fn get(tx: &mut TenantTx<'_>, order_id: Uuid) -> Result<Order> {
    let tenant_id = tx.tenant_id();
    let row = order_row!(
        "select ",
        " from customer_order where tenant_id = $1 and order_id = $2",
        tenant_id,
        order_id,
    )
    .fetch_optional(&mut **tx)
    .await?;
    with_items(tx, row).await?.or_not_found()
}

/// Orders, newest first, optionally of one status or one chat.
pub async fn list(
    tx: &mut TenantTx<'_>,
    status: Option<OrderStatus>,
    chat_id: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Order>> {
    let tenant_id = tx.tenant_id();
    let rows = order_row!(
        "select ",
        " from customer_order where tenant_id = $1 and ($2::text is null or status = $2)
            and ($3::uuid is null or chat_id = $3)
          order by created_at desc, order_id limit $4 offset $5",
        tenant_id,
        status.map(OrderStatus::as_str),
        chat_id,
        limit,
        offset,
    )
    .fetch_all(&mut **tx)
    .await?;
    // The items of the whole page in one query, not one per order.
    let ids: Vec<Uuid> = rows.iter().map(|row| row.order_id).collect();
    let mut items_of: std::collections::HashMap<Uuid, Vec<OrderItem>> =
        std::collections::HashMap::with_capacity(ids.len());
    for line in sqlx::query!(
        r#"select order_id, line_no, product_id, product_name, unit_price_xof as "unit_price_xof: Xof", quantity
         from order_item where tenant_id = $1 and order_id = any($2) order by order_id, line_no"#,
        tenant_id,
        &ids,
    )
    .fetch_all(&mut **tx)
    .await?
    {
        items_of.entry(line.order_id).or_default().push(OrderItem {
            line_no: line.line_no,
            product_id: line.product_id,
            product_name: line.product_name,
            unit_price_xof: line.unit_price_xof,
            quantity: line.quantity,
        });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let items = items_of.remove(&row.order_id).unwrap_or_default();
            row.with_items(items)
        })
        .collect())
}

/// Moves an order to `to` if [`OrderStatus::can_become`] allows it; cancelling puts its items back in stock.
/// Returns the order and its former status.
pub async fn set_status(
    tx: &mut TenantTx<'_>,
    order_id: Uuid,
    to: OrderStatus,
) -> Result<(Order, OrderStatus)> {
    let from = sqlx::query_scalar!(
        r#"select status as "status: OrderStatus" from customer_order
         where tenant_id = $1 and order_id = $2 for update"#,
        tx.tenant_id(),
        order_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    if !from.can_become(to) {
        return Err(Error::Constraint(format!("order_transition:{from}->{to}")));
    }
    if to == OrderStatus::Cancelled {
        sqlx::query!(
            "update product p set stock = p.stock + i.quantity, updated_at = now()
             from order_item i
             where i.tenant_id = $1 and i.order_id = $2 and p.tenant_id = i.tenant_id
               and p.product_id = i.product_id and p.stock is not null",
            tx.tenant_id(),
            order_id,
        )
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query!(
        "update customer_order
            set status = $3, updated_at = now(),
                -- A paid order cancelled: the shop owes the customer a refund.
                refund_status = case when $3 = 'cancelled' and paid_at is not null then 'to_do' else refund_status end
          where tenant_id = $1 and order_id = $2",
        tx.tenant_id(),
        order_id,
        to.as_str(),
    )
    .execute(&mut **tx)
    .await?;
    Ok((get(tx, order_id).await?, from))
}

/// Bot orders still `new` past their hold, in every shop (platform transaction), oldest hold first, at most
/// `limit`: each is then cancelled in its own shop's transaction ([`expire_hold`]).
pub async fn expired_holds(
    tx: &mut PlatformTx,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        "select tenant_id, order_id from customer_order
         where status = 'new' and hold_until < $1 order by hold_until limit $2",
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

/// Cancels the order if it is still `new` past its hold (its items back in stock, a note saying why);
/// `None` when the shop confirmed or cancelled it meanwhile.
pub async fn expire_hold(
    tx: &mut TenantTx<'_>,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Order>> {
    let still = sqlx::query_scalar!(
        r#"select true as "still!" from customer_order
         where tenant_id = $1 and order_id = $2 and status = 'new' and hold_until < $3 for update"#,
        tx.tenant_id(),
        order_id,
        now,
    )
    .fetch_optional(&mut **tx)
    .await?;
    if still.is_none() {
        return Ok(None);
    }
    set_status(tx, order_id, OrderStatus::Cancelled).await?;
    sqlx::query!(
        "update customer_order
            set hold_until = null,
                note = trim(note || ' ' || 'Annulée automatiquement : non confirmée à temps.')
          where tenant_id = $1 and order_id = $2",
        tx.tenant_id(),
        order_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(Some(get(tx, order_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_refs_are_short_and_upper_case() {
        let id = Uuid::parse_str("1a2b3c4d-0000-4000-8000-000000000000").expect("uuid");
        assert_eq!(order_ref(id), "CMD-1A2B3C4D");
    }
}
