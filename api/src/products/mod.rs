//! The catalogue endpoints: `/api/v1/products` (list, create), `/api/v1/products/{id}` (read, patch,
//! delete) and `/api/v1/products/import` (CSV).

pub(crate) mod import;
pub(crate) mod input;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use store::products::{self, Product, ProductFields, ProductFilter};
use store::{TenantTx, audit, plans};
use uuid::Uuid;

use self::input::{Draft, NewProduct, ProductPatch};
use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/products", get(list).post(create))
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Part of the name, SKU or category.
    q: Option<String>,
    category: Option<String>,
    active: Option<bool>,
    /// 1 to 200, default 50.
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProductList {
    items: Vec<Product>,
    /// Number of products in the shop (all filters off).
    total: i64,
    limit: i64,
    offset: i64,
}

/// Lists the shop's products, alphabetically.
#[utoipa::path(get, path = "/api/v1/products", tag = "products", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ProductList)))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProductList>> {
    let Query(query) =
        query.map_err(|_| Error::BadRequest("Paramètres de recherche invalides.".into()))?;
    let limit = query.limit.unwrap_or(50);
    let offset = query.offset.unwrap_or(0);
    let mut check = Check::default();
    check.range_i64("limit", limit, 1, 200, "limit doit être entre 1 et 200.");
    check.range_i64("offset", offset, 0, i64::MAX, "offset doit être positif.");
    check.finish()?;
    let filter = ProductFilter {
        search: query.q.filter(|q| !q.trim().is_empty()),
        category: query.category.filter(|c| !c.trim().is_empty()),
        active: query.active,
        limit,
        offset,
    };
    let mut tx = state.db.tenant(user.ctx()).await?;
    let items = products::list(&mut tx, &filter).await?;
    let total = products::count(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(ProductList {
        items,
        total,
        limit,
        offset,
    }))
}

/// Adds a product to the catalogue.
#[utoipa::path(post, path = "/api/v1/products", tag = "products", request_body = NewProduct, security(("bearer" = [])),
    responses((status = 201, body = Product), (status = 402, description = "Plan limit reached"),
              (status = 409, description = "SKU already used"), (status = 422, description = "Invalid fields")))]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(new): ApiJson<NewProduct>,
) -> Result<(StatusCode, Json<Product>)> {
    let mut check = Check::default();
    let fields = Draft::from(new).validate(&mut check);
    check.finish()?;
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
    Ok((StatusCode::CREATED, Json(product)))
}

/// One product.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Product), (status = 404)))]
async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Product>> {
    let id = parse_id(&id)?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let product = products::get(&mut tx, id).await.map_err(not_found)?;
    tx.commit().await?;
    Ok(Json(product))
}

/// Changes some fields of a product.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "products", request_body = ProductPatch,
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Product), (status = 404), (status = 409), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ProductPatch>,
) -> Result<Json<Product>> {
    let id = parse_id(&id)?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let current = products::get_for_update(&mut tx, id)
        .await
        .map_err(not_found)?;
    let mut check = Check::default();
    let fields = Draft::patched(ProductFields::from(current), patch).validate(&mut check);
    check.finish()?;
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
    Ok(Json(product))
}

/// Deletes a product. Past orders keep its name and price.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404)))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = parse_id(&id)?;
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
    Ok(StatusCode::NO_CONTENT)
}

/// A malformed id cannot name any product: the same 404 as an unknown one.
fn parse_id(id: &str) -> Result<Uuid> {
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
                    fields.sku.as_deref().unwrap_or_default()
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
