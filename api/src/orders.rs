//! `GET /api/v1/orders`, `GET|PATCH /api/v1/orders/{id}`: the orders the bot took, and their follow-up
//! (new → confirmed → delivered, or cancelled, which puts the items back in stock).

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use schemas::EventData;
use schemas::billing::{Provider, RefundStatus};
use schemas::commerce::OrderStatus;
use serde::Deserialize;
use store::orders::{self, Order};
use store::{audit, outbox};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::pagination::{bad_query, parse_id};
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orders", get(list))
        .route("/api/v1/orders/{id}", get(read).patch(update))
}

const NOT_FOUND: Error = Error::NotFound("Commande introuvable.");

fn not_found(e: store::Error) -> Error {
    Error::not_found_as("Commande introuvable.")(e)
}

/// Filter and page of the order list (`GET /api/v1/orders?status=&limit=&offset=`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// `new`, `confirmed`, `delivered` or `cancelled`.
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The shop's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", operation_id = "listOrders",
    tag = "orders", params(OrderQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Order>)))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    query: Result<Query<OrderQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Order>>> {
    let Query(query) = query.map_err(bad_query)?;
    Ok(Json(list_orders(&state, &user, query).await?))
}

/// A page of the shop's orders, newest first, optionally of one status.
pub(crate) async fn list_orders(
    state: &AppState,
    user: &AuthUser,
    query: OrderQuery,
) -> Result<Vec<Order>> {
    let (limit, offset) = crate::pagination::Page {
        limit: query.limit,
        offset: query.offset,
    }
    .bounds()?;
    let status = query
        .status
        .as_deref()
        .map(|word| {
            OrderStatus::parse(word).ok_or_else(|| {
                Check::refuse(
                    "status",
                    "Statut inconnu : new, confirmed, delivered ou cancelled.",
                )
            })
        })
        .transpose()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let list = orders::list(&mut tx, status, None, limit, offset).await?;
    tx.commit().await?;
    Ok(list)
}

/// One order with its items.
#[utoipa::path(get, path = "/api/v1/orders/{id}", operation_id = "getOrder",
    tag = "orders", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = [])), responses((status = 200, body = Order), (status = 404)))]
async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Order>> {
    let order_id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(get_order(&state, &user, order_id).await?))
}

/// One order of the shop with its items (another shop's id answers the same 404 as an unknown one).
pub(crate) async fn get_order(state: &AppState, user: &AuthUser, order_id: Uuid) -> Result<Order> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    let order = orders::get(&mut tx, order_id).await.map_err(not_found)?;
    tx.commit().await?;
    Ok(order)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderUpdate {
    /// `confirmed`, `delivered` or `cancelled`.
    pub status: String,
}

/// Moves an order forward (new → confirmed → delivered) or cancels it (items go back in stock).
#[utoipa::path(patch, path = "/api/v1/orders/{id}", operation_id = "updateOrder",
    tag = "orders", request_body = OrderUpdate,
    params(("id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 404), (status = 409, description = "Transition not allowed")))]
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OrderUpdate>,
) -> Result<Json<Order>> {
    let order_id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(
        change_order_status(&state, &user, order_id, body).await?,
    ))
}

/// Moves an order to `update.status` (cancelling puts its items back in stock), records an
/// `order.status_changed` event in the same transaction and publishes it after commit.
pub(crate) async fn change_order_status(
    state: &AppState,
    user: &AuthUser,
    order_id: Uuid,
    update: OrderUpdate,
) -> Result<Order> {
    let Some(to) = OrderStatus::parse(&update.status.trim().to_lowercase()) else {
        return Err(Check::refuse(
            "status",
            "Statut inconnu : confirmed, shipped, delivered ou cancelled.",
        ));
    };
    let mut tx = state.db.tenant(user.ctx()).await?;
    let (order, from) = orders::set_status(&mut tx, order_id, to).await.map_err(|e| match e {
        store::Error::Constraint(c) if c.starts_with("order_transition") => Error::Conflict {
            code: "invalid_transition",
            message: "Ce changement de statut n'est pas possible (nouvelle → confirmée → en livraison → livrée, ou annulée avant la livraison).".into(),
        },
        other => not_found(other),
    })?;
    outbox::push_event(
        &mut tx,
        &state.subjects,
        order.chat_id,
        EventData::OrderStatusChanged {
            order_id,
            order_ref: order.order_ref.clone(),
            from,
            to,
        },
    )
    .await?;
    crate::order_notices::notify(&mut tx, &state.subjects, &order, to).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "order.status_changed",
        serde_json::json!({
            "order_id": order_id, "from": from, "to": to
        }),
    )
    .await?;
    tx.commit().await?;
    tdj_nats::publish_outbox(&state.db, &state.nats, user.ctx()).await;
    // A cancelled order paid with Wave is refunded now (the periodic pass retries if Wave is unreachable).
    if order.refund_status == Some(RefundStatus::ToDo) && order.paid_with == Some(Provider::Wave) {
        let attempt = crate::order_pay::refunds::attempt(state, user.ctx(), order_id).await;
        match attempt {
            Ok(crate::order_pay::refunds::Attempt::NotDue) => {}
            Ok(_) => {
                let mut tx = state.db.tenant(user.ctx()).await?;
                let order = orders::get(&mut tx, order_id).await?;
                tx.commit().await?;
                return Ok(order);
            }
            Err(e) => {
                tracing::warn!(%order_id, error.cause_chain = ?e, error.message = %e,
                    "refund attempt failed: the periodic pass retries");
            }
        }
    }
    Ok(order)
}
