//! The plan catalogue (seeded by migration) and the limits a tenant's plan sets.

use serde::Serialize;
use sqlx::PgExecutor;

use crate::error::OptionalExt;
use crate::{Result, TenantTx};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    pub plan_code: String,
    pub name: String,
    pub price_xof: i64,
    /// Maximum number of products in the catalogue; null means unlimited.
    pub max_products: Option<i32>,
    /// Maximum bot replies per calendar month; null means unlimited.
    pub max_replies_per_month: Option<i32>,
    /// Maximum number of dashboard users; null means unlimited.
    pub max_staff_users: Option<i32>,
}

/// Plans on sale, cheapest first. The catalogue is not tenant data: any executor (pool or transaction) will do.
pub async fn list_active<'c>(conn: impl PgExecutor<'c>) -> Result<Vec<Plan>> {
    Ok(sqlx::query_as!(
        Plan,
        "select plan_code, name, price_xof, max_products, max_replies_per_month, max_staff_users
         from plan where active order by sort_order"
    )
    .fetch_all(conn)
    .await?)
}

pub async fn get_active<'c>(conn: impl PgExecutor<'c>, plan_code: &str) -> Result<Option<Plan>> {
    Ok(sqlx::query_as!(
        Plan,
        "select plan_code, name, price_xof, max_products, max_replies_per_month, max_staff_users
         from plan where active and plan_code = $1",
        plan_code
    )
    .fetch_optional(conn)
    .await?)
}

/// The plan the transaction's tenant is on.
pub async fn of_tenant(tx: &mut TenantTx<'_>) -> Result<Plan> {
    sqlx::query_as!(
        Plan,
        "select p.plan_code, p.name, p.price_xof, p.max_products, p.max_replies_per_month, p.max_staff_users
         from plan p join tenant t using (plan_code) where t.tenant_id = $1",
        tx.tenant_id()
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}
