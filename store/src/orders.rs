//! Orders: priced from the catalogue, stock checked and decremented atomically, idempotent per bot turn.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Acquire;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{Error, Result, TenantTx};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    pub order_id: Uuid,
    /// What the customer quotes, e.g. `CMD-1A2B3C4D`.
    pub order_ref: String,
    pub chat_id: Option<Uuid>,
    pub customer_name: String,
    pub customer_phone: String,
    pub delivery_address: String,
    pub note: String,
    /// `new`, `confirmed`, `delivered` or `cancelled`.
    pub status: String,
    pub total_xof: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[sqlx(skip)]
    pub items: Vec<OrderItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderItem {
    pub line_no: i32,
    /// Null once the product is deleted; name and price stay as sold.
    pub product_id: Option<Uuid>,
    pub product_name: String,
    pub unit_price_xof: i64,
    pub quantity: i32,
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
    pub note: String,
    /// Same key, same order: a retried turn never creates a second one.
    pub idempotency_key: String,
    pub lines: Vec<(Uuid, i32)>,
}

/// Why an order could not be placed; nothing was written.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The product does not exist (in this shop) or is not for sale.
    UnknownProduct(Uuid),
    InsufficientStock {
        product_id: Uuid,
        name: String,
        available: i32,
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

macro_rules! order_columns {
    () => {
        "order_id, order_ref, chat_id, customer_name, customer_phone, delivery_address, note, status, total_xof, \
         created_at, updated_at"
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
        let row: Option<(String, i64)> = sqlx::query_as(
            "update product set stock = stock - $3, updated_at = case when stock is null then updated_at else now() end
             where tenant_id = $1 and product_id = $2 and active and (stock is null or stock >= $3)
             returning name, price_xof",
        )
        .bind(tenant_id)
        .bind(product_id)
        .bind(quantity)
        .fetch_optional(&mut *sp)
        .await?;
        match row {
            Some((name, price)) => priced.push((*product_id, name, price, *quantity)),
            None => {
                let current: Option<(String, Option<i32>, bool)> = sqlx::query_as(
                    "select name, stock, active from product where tenant_id = $1 and product_id = $2",
                )
                .bind(tenant_id)
                .bind(product_id)
                .fetch_optional(&mut *sp)
                .await?;
                sp.rollback().await?;
                return Ok(Placed::Refused(match current {
                    Some((name, Some(available), true)) => Refusal::InsufficientStock {
                        product_id: *product_id,
                        name,
                        available,
                    },
                    _ => Refusal::UnknownProduct(*product_id),
                }));
            }
        }
    }
    // Keep the customer's line order on the order itself.
    priced.sort_by_key(|(id, ..)| new.lines.iter().position(|(l, _)| l == id));
    let total: i64 = priced
        .iter()
        .map(|(_, _, price, q)| price * i64::from(*q))
        .sum();
    let order_id = new.order_id;
    let mut order = sqlx::query_as::<_, Order>(concat!(
        "insert into customer_order (tenant_id, order_id, order_ref, chat_id, customer_name, customer_phone,
                                     customer_jid, delivery_address, note, total_xof, idempotency_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         returning ",
        order_columns!()
    ))
    .bind(tenant_id)
    .bind(order_id)
    .bind(order_ref(order_id))
    .bind(new.chat_id)
    .bind(&new.customer_name)
    .bind(&new.customer_phone)
    .bind(&new.customer_jid)
    .bind(&new.delivery_address)
    .bind(&new.note)
    .bind(total)
    .bind(&new.idempotency_key)
    .fetch_one(&mut *sp)
    .await?;
    for (line_no, (product_id, name, price, quantity)) in (1..).zip(&priced) {
        sqlx::query(
            "insert into order_item (tenant_id, order_id, line_no, product_id, product_name, unit_price_xof, quantity)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant_id)
        .bind(order_id)
        .bind(line_no)
        .bind(product_id)
        .bind(name)
        .bind(price)
        .bind(quantity)
        .execute(&mut *sp)
        .await?;
    }
    sp.commit().await?;
    order.items = items(tx, order_id).await?;
    Ok(Placed::Created(order))
}

async fn by_idempotency_key(tx: &mut TenantTx<'_>, key: &str) -> Result<Option<Order>> {
    let order = sqlx::query_as::<_, Order>(concat!(
        "select ",
        order_columns!(),
        " from customer_order where tenant_id = $1 and idempotency_key = $2"
    ))
    .bind(tx.tenant_id())
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    with_items(tx, order).await
}

async fn items(tx: &mut TenantTx<'_>, order_id: Uuid) -> Result<Vec<OrderItem>> {
    Ok(sqlx::query_as::<_, OrderItem>(
        "select line_no, product_id, product_name, unit_price_xof, quantity from order_item
         where tenant_id = $1 and order_id = $2 order by line_no",
    )
    .bind(tx.tenant_id())
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?)
}

async fn with_items(tx: &mut TenantTx<'_>, order: Option<Order>) -> Result<Option<Order>> {
    match order {
        Some(mut order) => {
            order.items = items(tx, order.order_id).await?;
            Ok(Some(order))
        }
        None => Ok(None),
    }
}

pub async fn get(tx: &mut TenantTx<'_>, order_id: Uuid) -> Result<Order> {
    let order = sqlx::query_as::<_, Order>(concat!(
        "select ",
        order_columns!(),
        " from customer_order where tenant_id = $1 and order_id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?;
    with_items(tx, order).await?.or_not_found()
}

/// Orders, newest first, optionally of one status or one chat.
pub async fn list(
    tx: &mut TenantTx<'_>,
    status: Option<&str>,
    chat_id: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Order>> {
    let orders = sqlx::query_as::<_, Order>(concat!(
        "select ",
        order_columns!(),
        " from customer_order where tenant_id = $1 and ($2::text is null or status = $2)
            and ($3::uuid is null or chat_id = $3)
          order by created_at desc, order_id limit $4 offset $5"
    ))
    .bind(tx.tenant_id())
    .bind(status)
    .bind(chat_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::with_capacity(orders.len());
    for order in orders {
        if let Some(order) = with_items(tx, Some(order)).await? {
            out.push(order);
        }
    }
    Ok(out)
}

/// Whether an order may go from `from` to `to`: new → confirmed → delivered, and new|confirmed → cancelled.
pub fn transition_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("new", "confirmed") | ("confirmed", "delivered") | ("new" | "confirmed", "cancelled")
    )
}

/// Moves an order to `to`; cancelling puts its items back in stock. Returns the order and its former status.
pub async fn set_status(
    tx: &mut TenantTx<'_>,
    order_id: Uuid,
    to: &str,
) -> Result<(Order, String)> {
    let from: String = sqlx::query_scalar(
        "select status from customer_order where tenant_id = $1 and order_id = $2 for update",
    )
    .bind(tx.tenant_id())
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    if !transition_allowed(&from, to) {
        return Err(Error::Constraint(format!("order_transition:{from}->{to}")));
    }
    if to == "cancelled" {
        sqlx::query(
            "update product p set stock = p.stock + i.quantity, updated_at = now()
             from order_item i
             where i.tenant_id = $1 and i.order_id = $2 and p.tenant_id = i.tenant_id
               and p.product_id = i.product_id and p.stock is not null",
        )
        .bind(tx.tenant_id())
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("update customer_order set status = $3, updated_at = now() where tenant_id = $1 and order_id = $2")
        .bind(tx.tenant_id())
        .bind(order_id)
        .bind(to)
        .execute(&mut **tx)
        .await?;
    Ok((get(tx, order_id).await?, from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_status_moves_forward_or_to_cancelled() {
        for (from, to, allowed) in [
            ("new", "confirmed", true),
            ("confirmed", "delivered", true),
            ("new", "cancelled", true),
            ("confirmed", "cancelled", true),
            ("new", "delivered", false),
            ("delivered", "cancelled", false),
            ("cancelled", "new", false),
            ("confirmed", "new", false),
        ] {
            assert_eq!(transition_allowed(from, to), allowed, "{from} -> {to}");
        }
    }

    #[test]
    fn order_refs_are_short_and_upper_case() {
        let id = Uuid::parse_str("1a2b3c4d-0000-4000-8000-000000000000").expect("uuid");
        assert_eq!(order_ref(id), "CMD-1A2B3C4D");
    }
}
