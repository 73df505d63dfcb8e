//! The catalogue: one tenant's products, prices (integer XOF) and stock.

use chrono::{DateTime, Utc};
use schemas::commerce::{Sku, Stock, Xof};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{Result, TenantTx};

/// A product of the catalogue: its fields, and what the store keeps about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    pub product_id: Uuid,
    #[serde(flatten)]
    pub fields: ProductFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Another active product of the shop has the same name, ignoring case, accents and spacing (always
    /// false for an inactive product): customers cannot tell them apart, so the owner should rename or
    /// deactivate one.
    pub duplicate_name: bool,
}

/// A product's writable fields, validated: what the API takes and returns, the store writes and the bot's
/// catalogue offers. Declared once; the API's raw input (`api::products::input`) becomes this type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductFields {
    /// The shop's own reference, unique within the shop; used to update rows on CSV re-import.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub sku: Option<Sku>,
    pub name: String,
    pub description: String,
    pub category: String,
    /// Price in XOF (FCFA), an integer.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub price_xof: Xof,
    /// Units in stock; null means unlimited.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>))]
    pub stock: Option<Stock>,
    pub image_url: Option<String>,
    /// Free-form attributes (sizes, colours…), a JSON object.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub attributes: Value,
    /// Inactive products are kept but never offered by the bot.
    pub active: bool,
}

impl ProductFields {
    /// An active product with a name and a price only: no SKU, description, category, photo or attributes,
    /// and unlimited stock.
    pub fn new(name: impl Into<String>, price_xof: Xof) -> Self {
        ProductFields {
            sku: None,
            name: name.into(),
            description: String::new(),
            category: String::new(),
            price_xof,
            stock: None,
            image_url: None,
            attributes: Value::Object(Default::default()),
            active: true,
        }
    }
}

/// A `product` row as the queries below read it ([`product_row!`]); `query_as!` fills flat structs only.
struct ProductRow {
    product_id: Uuid,
    sku: Option<Sku>,
    name: String,
    description: String,
    category: String,
    price_xof: Xof,
    stock: Option<Stock>,
    image_url: Option<String>,
    attributes: Value,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    duplicate_name: bool,
}

impl From<ProductRow> for Product {
    fn from(row: ProductRow) -> Self {
        Product {
            product_id: row.product_id,
            fields: ProductFields {
                sku: row.sku,
                name: row.name,
                description: row.description,
                category: row.category,
                price_xof: row.price_xof,
                stock: row.stock,
                image_url: row.image_url,
                attributes: row.attributes,
                active: row.active,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
            duplicate_name: row.duplicate_name,
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

/// A compile-checked query returning [`ProductRow`]s: `$head`, the columns of a product read from
/// `product p`, then `$tail`. `duplicate_name` is computed against the other active products of the shop
/// (index `product_tenant_name_key`).
macro_rules! product_row {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            ProductRow,
            $head
                + r#"p.product_id, p.sku as "sku: Sku", p.name, p.description, p.category,
                     p.price_xof as "price_xof: Xof", p.stock as "stock: Stock", p.image_url, p.attributes,
                     p.active, p.created_at, p.updated_at,
                     (p.active and exists (select 1 from product d where d.tenant_id = p.tenant_id and d.active
                        and d.name_key = p.name_key and d.product_id <> p.product_id)) as "duplicate_name!""#
                + $tail
            $(, $arg)*
        )
    };
}

/// The page of products matching the filter: name, SKU or category containing `search` (folded, see
/// [`ProductFilter::search`]), of `category`, `active` or not — each filter skipped when `None`.
pub async fn list(tx: &mut TenantTx<'_>, filter: &ProductFilter) -> Result<Vec<Product>> {
    let tenant_id = tx.tenant_id();
    let rows = product_row!(
        "select ",
        " from product p
         where p.tenant_id = $1
           and ($2::text is null or p.name_key like tdj_fold($2) or tdj_fold(coalesce(p.sku, '')) like tdj_fold($2)
                or tdj_fold(p.category) like tdj_fold($2))
           and ($3::text is null or p.category = $3)
           and ($4::bool is null or p.active = $4)
         order by lower(p.name), p.product_id limit $5 offset $6",
        tenant_id,
        search_pattern(filter),
        filter.category,
        filter.active,
        filter.limit,
        filter.offset,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(Product::from).collect())
}

/// How many products match the filter (its limit and offset aside); the same conditions as [`list`].
pub async fn count_matching(tx: &mut TenantTx<'_>, filter: &ProductFilter) -> Result<i64> {
    let count = sqlx::query_scalar!(
        r#"select count(*) as "count!" from product p
         where p.tenant_id = $1
           and ($2::text is null or p.name_key like tdj_fold($2) or tdj_fold(coalesce(p.sku, '')) like tdj_fold($2)
                or tdj_fold(p.category) like tdj_fold($2))
           and ($3::text is null or p.category = $3)
           and ($4::bool is null or p.active = $4)"#,
        tx.tenant_id(),
        search_pattern(filter),
        filter.category,
        filter.active,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(count)
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
    let tenant_id = tx.tenant_id();
    let rows = product_row!(
        "select ",
        " from product p where p.tenant_id = $1 order by lower(p.name), p.product_id",
        tenant_id,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(Product::from).collect())
}

pub async fn count(tx: &mut TenantTx<'_>) -> Result<i64> {
    let count = sqlx::query_scalar!(
        r#"select count(*) as "count!" from product where tenant_id = $1"#,
        tx.tenant_id(),
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(count)
}

pub async fn get(tx: &mut TenantTx<'_>, product_id: Uuid) -> Result<Product> {
    let tenant_id = tx.tenant_id();
    product_row!(
        "select ",
        " from product p where p.tenant_id = $1 and p.product_id = $2",
        tenant_id,
        product_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(Product::from)
    .or_not_found()
}

/// Like `get`, but locks the row until the transaction ends (read-modify-write of a PATCH).
pub async fn get_for_update(tx: &mut TenantTx<'_>, product_id: Uuid) -> Result<Product> {
    let tenant_id = tx.tenant_id();
    product_row!(
        "select ",
        " from product p where p.tenant_id = $1 and p.product_id = $2 for update of p",
        tenant_id,
        product_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(Product::from)
    .or_not_found()
}

pub async fn create(tx: &mut TenantTx<'_>, fields: &ProductFields) -> Result<Product> {
    let tenant_id = tx.tenant_id();
    let row = product_row!(
        "insert into product as p (tenant_id, sku, name, description, category, price_xof, stock, image_url,
                                   attributes, active)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning ",
        "",
        tenant_id,
        fields.sku.as_ref().map(Sku::as_str),
        fields.name,
        fields.description,
        fields.category,
        fields.price_xof.get(),
        fields.stock.map(Stock::get),
        fields.image_url,
        fields.attributes,
        fields.active,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.into())
}

pub async fn update(
    tx: &mut TenantTx<'_>,
    product_id: Uuid,
    fields: &ProductFields,
) -> Result<Product> {
    let tenant_id = tx.tenant_id();
    product_row!(
        "update product p set sku = $3, name = $4, description = $5, category = $6, price_xof = $7, stock = $8,
                image_url = $9, attributes = $10, active = $11, updated_at = now()
         where p.tenant_id = $1 and p.product_id = $2
         returning ",
        "",
        tenant_id,
        product_id,
        fields.sku.as_ref().map(Sku::as_str),
        fields.name,
        fields.description,
        fields.category,
        fields.price_xof.get(),
        fields.stock.map(Stock::get),
        fields.image_url,
        fields.attributes,
        fields.active,
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(Product::from)
    .or_not_found()
}

/// The product with this SKU, if the shop has one (CSV re-import updates it instead of duplicating it).
pub async fn find_by_sku(tx: &mut TenantTx<'_>, sku: &Sku) -> Result<Option<Product>> {
    let tenant_id = tx.tenant_id();
    let row = product_row!(
        "select ",
        " from product p where p.tenant_id = $1 and p.sku = $2",
        tenant_id,
        sku.as_str(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(Product::from))
}

pub async fn delete(tx: &mut TenantTx<'_>, product_id: Uuid) -> Result<()> {
    let deleted = sqlx::query!(
        "delete from product where tenant_id = $1 and product_id = $2",
        tx.tenant_id(),
        product_id,
    )
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
    Ok(sqlx::query_scalar!(
        "select distinct category from product where tenant_id = $1 and category <> '' order by 1",
        tx.tenant_id(),
    )
    .fetch_all(&mut **tx)
    .await?)
}
