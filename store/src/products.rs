//! The catalogue: one tenant's products, prices (integer XOF) and stock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{Result, TenantTx};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    pub product_id: Uuid,
    /// The shop's own reference, unique within the shop; used to update rows on CSV re-import.
    pub sku: Option<String>,
    pub name: String,
    pub description: String,
    pub category: String,
    /// Price in XOF (FCFA), an integer.
    pub price_xof: i64,
    /// Units in stock; null means unlimited.
    pub stock: Option<i32>,
    pub image_url: Option<String>,
    /// Free-form attributes (sizes, colours…), a JSON object.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub attributes: Value,
    /// Inactive products are kept but never offered by the bot.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Another active product of the shop has the same name, ignoring case, accents and spacing (always
    /// false for an inactive product): customers cannot tell them apart, so the owner should rename or
    /// deactivate one.
    pub duplicate_name: bool,
}

/// A product's writable fields, already validated by the caller.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductFields {
    pub sku: Option<String>,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_xof: i64,
    pub stock: Option<i32>,
    pub image_url: Option<String>,
    pub attributes: Value,
    pub active: bool,
}

impl From<Product> for ProductFields {
    fn from(p: Product) -> Self {
        ProductFields {
            sku: p.sku,
            name: p.name,
            description: p.description,
            category: p.category,
            price_xof: p.price_xof,
            stock: p.stock,
            image_url: p.image_url,
            attributes: p.attributes,
            active: p.active,
        }
    }
}

/// Listing filters.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Substring of the name, SKU or category, ignoring case and accents (`tdj_fold`, migration 0008).
    pub search: Option<String>,
    pub category: Option<String>,
    pub active: Option<bool>,
    pub limit: i64,
    pub offset: i64,
}

/// The columns of a [`Product`] read from `product p`; `duplicate_name` is computed against the other
/// active products of the shop (index `product_tenant_name_key`).
macro_rules! product_columns {
    () => {
        "p.product_id, p.sku, p.name, p.description, p.category, p.price_xof, p.stock, p.image_url, \
         p.attributes, p.active, p.created_at, p.updated_at, \
         (p.active and exists (select 1 from product d where d.tenant_id = p.tenant_id and d.active \
            and d.name_key = p.name_key and d.product_id <> p.product_id)) as duplicate_name"
    };
}

/// The listing filters as SQL over `product p`, binding `$1` tenant, `$2` search pattern, `$3` category,
/// `$4` active.
macro_rules! product_filter {
    () => {
        " from product p
         where p.tenant_id = $1
           and ($2::text is null or p.name_key like tdj_fold($2) or tdj_fold(coalesce(p.sku, '')) like tdj_fold($2)
                or tdj_fold(p.category) like tdj_fold($2))
           and ($3::text is null or p.category = $3)
           and ($4::bool is null or p.active = $4)"
    };
}

pub async fn list(tx: &mut TenantTx<'_>, filter: &ProductFilter) -> Result<Vec<Product>> {
    Ok(sqlx::query_as::<_, Product>(concat!(
        "select ",
        product_columns!(),
        product_filter!(),
        " order by lower(p.name), p.product_id limit $5 offset $6"
    ))
    .bind(tx.tenant_id())
    .bind(search_pattern(filter))
    .bind(&filter.category)
    .bind(filter.active)
    .bind(filter.limit)
    .bind(filter.offset)
    .fetch_all(&mut **tx)
    .await?)
}

/// How many products match the filter (its limit and offset aside).
pub async fn count_matching(tx: &mut TenantTx<'_>, filter: &ProductFilter) -> Result<i64> {
    Ok(
        sqlx::query_scalar(concat!("select count(*)", product_filter!()))
            .bind(tx.tenant_id())
            .bind(search_pattern(filter))
            .bind(&filter.category)
            .bind(filter.active)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// `%search%` with LIKE's wildcards escaped; folded in SQL.
fn search_pattern(filter: &ProductFilter) -> Option<String> {
    filter
        .search
        .as_ref()
        .map(|s| format!("%{}%", escape_like(s.trim())))
}

/// Every product of the shop, alphabetically (the CSV export).
pub async fn all(tx: &mut TenantTx<'_>) -> Result<Vec<Product>> {
    Ok(sqlx::query_as::<_, Product>(concat!(
        "select ",
        product_columns!(),
        " from product p where p.tenant_id = $1 order by lower(p.name), p.product_id"
    ))
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn count(tx: &mut TenantTx<'_>) -> Result<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from product where tenant_id = $1")
            .bind(tx.tenant_id())
            .fetch_one(&mut **tx)
            .await?,
    )
}

pub async fn get(tx: &mut TenantTx<'_>, product_id: Uuid) -> Result<Product> {
    sqlx::query_as::<_, Product>(concat!(
        "select ",
        product_columns!(),
        " from product p where p.tenant_id = $1 and p.product_id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(product_id)
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Like `get`, but locks the row until the transaction ends (read-modify-write of a PATCH).
pub async fn get_for_update(tx: &mut TenantTx<'_>, product_id: Uuid) -> Result<Product> {
    sqlx::query_as::<_, Product>(concat!(
        "select ",
        product_columns!(),
        " from product p where p.tenant_id = $1 and p.product_id = $2 for update of p"
    ))
    .bind(tx.tenant_id())
    .bind(product_id)
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

pub async fn create(tx: &mut TenantTx<'_>, fields: &ProductFields) -> Result<Product> {
    Ok(sqlx::query_as::<_, Product>(concat!("insert into product as p (tenant_id, sku, name, description, category, price_xof, stock, image_url, attributes, active)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning ", product_columns!()))
    .bind(tx.tenant_id())
    .bind(&fields.sku)
    .bind(&fields.name)
    .bind(&fields.description)
    .bind(&fields.category)
    .bind(fields.price_xof)
    .bind(fields.stock)
    .bind(&fields.image_url)
    .bind(&fields.attributes)
    .bind(fields.active)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn update(
    tx: &mut TenantTx<'_>,
    product_id: Uuid,
    fields: &ProductFields,
) -> Result<Product> {
    sqlx::query_as::<_, Product>(concat!("update product p set sku = $3, name = $4, description = $5, category = $6, price_xof = $7, stock = $8,
                image_url = $9, attributes = $10, active = $11, updated_at = now()
         where p.tenant_id = $1 and p.product_id = $2
         returning ", product_columns!()))
    .bind(tx.tenant_id())
    .bind(product_id)
    .bind(&fields.sku)
    .bind(&fields.name)
    .bind(&fields.description)
    .bind(&fields.category)
    .bind(fields.price_xof)
    .bind(fields.stock)
    .bind(&fields.image_url)
    .bind(&fields.attributes)
    .bind(fields.active)
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// The product with this SKU, if the shop has one (CSV re-import updates it instead of duplicating it).
pub async fn find_by_sku(tx: &mut TenantTx<'_>, sku: &str) -> Result<Option<Product>> {
    Ok(sqlx::query_as::<_, Product>(concat!(
        "select ",
        product_columns!(),
        " from product p where p.tenant_id = $1 and p.sku = $2"
    ))
    .bind(tx.tenant_id())
    .bind(sku)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn delete(tx: &mut TenantTx<'_>, product_id: Uuid) -> Result<()> {
    let deleted = sqlx::query("delete from product where tenant_id = $1 and product_id = $2")
        .bind(tx.tenant_id())
        .bind(product_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(crate::Error::NotFound);
    }
    Ok(())
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The shop's product categories, for the list's filter.
pub async fn categories(tx: &mut TenantTx<'_>) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select distinct category from product where tenant_id = $1 and category <> '' order by 1",
    )
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await?)
}
