//! `POST /api/v1/orders/{id}/refund-done`: the shop says it refunded a cancelled order its customer had paid
//! in the chat (the dashboard's "Marquer comme remboursée" calls the same [`mark_refund_done`]). Refused while
//! Wave is making the refund ([`super::refunds`]).

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use store::orders::{self, Order};
use store::{audit, order_payments};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::pagination::parse_id;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/orders/{id}/refund-done", post(refund_done))
}

const NOT_FOUND: Error = Error::NotFound("Commande introuvable.");

/// Marks the refund of a cancelled paid order done.
#[utoipa::path(post, path = "/api/v1/orders/{id}/refund-done", operation_id = "markOrderRefunded",
    tag = "orders", params(("id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 404),
              (status = 409, description = "No refund is due (the order was not paid in the chat, is not cancelled, or was refunded already), or Wave is making it")))]
pub(crate) async fn refund_done(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Order>> {
    let order_id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(mark_refund_done(&state, &user, order_id).await?))
}

/// Marks the refund done (another shop's order answers 404, an order owing none 409) and audits it.
pub(crate) async fn mark_refund_done(
    state: &AppState,
    user: &AuthUser,
    order_id: Uuid,
) -> Result<Order> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    orders::get(&mut tx, order_id)
        .await
        .map_err(Error::not_found_as("Commande introuvable."))?;
    order_payments::refund_done(&mut tx, order_id)
        .await
        .map_err(|e| match e {
            store::Error::Constraint(c) if c == "refund_not_due" => Error::Conflict {
                code: "refund_not_due",
                message: "Aucun remboursement n'est dû pour cette commande.".into(),
            },
            store::Error::Constraint(c) if c == "refund_automatic" => Error::Conflict {
                code: "refund_automatic",
                message:
                    "Wave est en train de rembourser ce paiement : ne remboursez pas le client \
                          vous-même."
                        .into(),
            },
            other => other.into(),
        })?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "order.refund_done",
        serde_json::json!({ "order_id": order_id }),
    )
    .await?;
    let order = orders::get(&mut tx, order_id).await?;
    tx.commit().await?;
    Ok(order)
}
