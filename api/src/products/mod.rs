//! The catalogue endpoints: `/api/v1/products` (list, create), `/api/v1/products/{id}` (read, patch,
//! delete), `/api/v1/products/import` (CSV in) and `/api/v1/products/export.csv` (CSV out).
//!
//! Each endpoint is a thin wrapper over a service function of this module (`list_products`,
//! `get_product`, `create_product`, `update_product`, `delete_product`, [`import::import_csv`],
//! [`export::export_csv`]): the dashboard calls the same functions with the same typed inputs.

pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod input;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use schemas::commerce::Sku;
use serde::{Deserialize, Serialize};
use store::products::{self, Product, ProductFields, ProductFilter};
use store::{TenantTx, audit, plans};
use uuid::Uuid;

use self::input::{NewProduct, ProductPatch};
use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/products", get(list).post(create))
        .route("/api/v1/products/export.csv", get(export::export))
        .route(
            "/api/v1/products/{id}",
            get(read).patch(update).delete(remove),
        )
        .route(
            "/api/v1/products/import",
            post(import::import).layer(DefaultBodyLimit::max(import::MAX_CSV_BYTES)),
        )
}

const NOT_FOUND: Error = Error::NotFound("Produit introuvable.");

/// Filters and page of the product list (`GET /api/v1/products?q=&category=&active=&limit=&offset=`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Part of the name, SKU or category; case and accents do not matter ("dorees" finds "Sandales dorées").
    pub q: Option<String>,
    pub category: Option<String>,
    pub active: Option<bool>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductList {
    /// This page of the matching products, alphabetically.
    pub items: Vec<Product>,
    /// Number of products matching the filters (`q`, `category`, `active`), all pages together: page with it.
    pub matching: i64,
    /// Number of products in the shop, filters off (what the plan's product limit counts).
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Lists the shop's products, alphabetically.
#[utoipa::path(get, path = "/api/v1/products", operation_id = "listProducts",
    tag = "products", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ProductList)))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProductList>> {
    let Query(query) =
        query.map_err(|_| Error::BadRequest("Paramètres de recherche invalides.".into()))?;
    Ok(Json(list_products(&state, &user, query).await?))
}

/// The page of the shop's products matching `query`, alphabetically.
pub(crate) async fn list_products(
    state: &AppState,
    user: &AuthUser,
    query: ListQuery,
) -> Result<ProductList> {
    let (limit, offset) = crate::pagination::Page {
        limit: query.limit,
        offset: query.offset,
    }
    .bounds()?;
    let filter = ProductFilter {
        search: query.q.filter(|q| !q.trim().is_empty()),
        category: query.category.filter(|c| !c.trim().is_empty()),
        active: query.active,
        limit,
        offset,
    };
    let mut tx = state.db.tenant(user.ctx()).await?;
    let items = products::list(&mut tx, &filter).await?;
    let matching = products::count_matching(&mut tx, &filter).await?;
    let total = products::count(&mut tx).await?;
    tx.commit().await?;
    Ok(ProductList {
        items,
        matching,
        total,
        limit,
        offset,
    })
}

/// Adds a product to the catalogue.
#[utoipa::path(post, path = "/api/v1/products", operation_id = "createProduct",
    tag = "products", request_body = NewProduct, security(("bearer" = [])),
    responses((status = 201, body = Product), (status = 402, description = "Plan limit reached"),
              (status = 409, description = "SKU already used"), (status = 422, description = "Invalid fields")))]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(new): ApiJson<NewProduct>,
) -> Result<(StatusCode, Json<Product>)> {
    let product = create_product(&state, &user, new).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Validates and adds a product, within the plan's product limit.
pub(crate) async fn create_product(
    state: &AppState,
    user: &AuthUser,
    new: NewProduct,
) -> Result<Product> {
    let fields = new.validate()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    ensure_room_for(&mut tx, 1).await?;
    let product = products::create(&mut tx, &fields)
        .await
        .map_err(sku_conflict(&fields))?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "product.created",
        serde_json::json!({ "product_id": product.product_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(product)
}

/// One product.
#[utoipa::path(get, path = "/api/v1/products/{id}", operation_id = "getProduct",
    tag = "products", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Product), (status = 404)))]
async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Product>> {
    Ok(Json(get_product(&state, &user, parse_id(&id)?).await?))
}

/// One product of the shop (another shop's id answers the same 404 as an unknown one).
pub(crate) async fn get_product(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Product> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    let product = products::get(&mut tx, id).await.map_err(not_found)?;
    tx.commit().await?;
    Ok(product)
}

/// Changes some fields of a product.
#[utoipa::path(patch, path = "/api/v1/products/{id}", operation_id = "updateProduct",
    tag = "products", request_body = ProductPatch,
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Product), (status = 404), (status = 409), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ProductPatch>,
) -> Result<Json<Product>> {
    Ok(Json(
        update_product(&state, &user, parse_id(&id)?, patch).await?,
    ))
}

/// Applies `patch` to the product (only the fields present change) and validates the result.
pub(crate) async fn update_product(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    patch: ProductPatch,
) -> Result<Product> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    let current = products::get_for_update(&mut tx, id)
        .await
        .map_err(not_found)?;
    let fields = NewProduct::patched(current.fields, patch).validate()?;
    let product = products::update(&mut tx, id, &fields)
        .await
        .map_err(sku_conflict(&fields))?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "product.updated",
        serde_json::json!({ "product_id": id }),
    )
    .await?;
    tx.commit().await?;
    Ok(product)
}

/// Deletes a product. Past orders keep its name and price.
#[utoipa::path(delete, path = "/api/v1/products/{id}", operation_id = "deleteProduct",
    tag = "products", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404)))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    delete_product(&state, &user, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a product of the shop; past orders keep its name and price.
pub(crate) async fn delete_product(state: &AppState, user: &AuthUser, id: Uuid) -> Result<()> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    products::delete(&mut tx, id).await.map_err(not_found)?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "product.deleted",
        serde_json::json!({ "product_id": id }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A malformed id cannot name any product: the same 404 as an unknown one.
pub(crate) fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| NOT_FOUND)
}

fn not_found(e: store::Error) -> Error {
    Error::not_found_as("Produit introuvable.")(e)
}

fn sku_conflict(fields: &ProductFields) -> impl FnOnce(store::Error) -> Error + '_ {
    move |e| {
        if e.constraint() == Some("product_tenant_sku") {
            Error::Conflict {
                code: "sku_taken",
                message: format!(
                    "Un produit avec la référence « {} » existe déjà.",
                    fields.sku.as_ref().map(Sku::as_str).unwrap_or_default()
                ),
            }
        } else {
            e.into()
        }
    }
}

/// Refuses to grow the catalogue past the plan's product limit.
pub(crate) async fn ensure_room_for(tx: &mut TenantTx<'_>, additional: i64) -> Result<()> {
    let plan = plans::of_tenant(tx).await?;
    if let Some(max) = plan.max_products {
        let count = products::count(tx).await?;
        if count + additional > i64::from(max) {
            return Err(Error::PlanLimit(format!(
                "Votre forfait {} permet {max} produits (vous en avez {count}). Passez à un forfait supérieur pour en ajouter.",
                plan.name
            )));
        }
    }
    Ok(())
}
