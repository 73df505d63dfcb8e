//! Telling the customer on WhatsApp when the shop confirms, delivers or cancels their order, in the shop's
//! words: `GET|PUT /api/v1/bot/order-messages` (owner only) holds a text per status, and [`notify`] queues the
//! message in the transaction that changes the status, through the bot's outbound path (outbox, then the
//! ingress), so a status change and its message are committed together or not at all.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use schemas::Subjects;
use schemas::commerce::{Author, OrderStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::orders::Order;
use store::{TenantTx, audit, bot_settings, chats, tenants};

use crate::auth::AuthUser;
use crate::conversations::{ToCustomer, send_to_customer};
use crate::extract::ApiJson;
use crate::validate::Check;
use crate::web::i18n::group_thousands;
use crate::{AppState, Result};

/// Longest order-status text.
const MAX_TEXT: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/bot/order-messages", get(read).put(replace))
}

/// What the customer is told for each status. `{commande}`, `{total}` and `{boutique}` are replaced by the
/// order reference, its total and the shop's name; an empty text sends nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderMessages {
    pub confirmed: String,
    pub shipped: String,
    pub delivered: String,
    pub cancelled: String,
}

impl OrderMessages {
    fn defaults() -> Self {
        OrderMessages {
            confirmed: "Bonne nouvelle : votre commande {commande} est confirmée par {boutique} ! \
                        Total : {total}. Nous revenons vers vous pour la livraison."
                .into(),
            shipped: "Votre commande {commande} est en route : le livreur vous contactera bientôt."
                .into(),
            delivered:
                "Votre commande {commande} est livrée. Merci pour votre achat chez {boutique} !"
                    .into(),
            cancelled:
                "Votre commande {commande} a été annulée. Une question ? Répondez à ce message."
                    .into(),
        }
    }

    /// The stored texts over the defaults.
    fn from_stored(stored: &Value) -> Self {
        let defaults = Self::defaults();
        let text = |status: &str, default: String| {
            stored
                .get(status)
                .and_then(Value::as_str)
                .map_or(default, str::to_owned)
        };
        OrderMessages {
            confirmed: text("confirmed", defaults.confirmed),
            shipped: text("shipped", defaults.shipped),
            delivered: text("delivered", defaults.delivered),
            cancelled: text("cancelled", defaults.cancelled),
        }
    }

    fn for_status(&self, status: OrderStatus) -> Option<&str> {
        let text = match status {
            OrderStatus::Confirmed => &self.confirmed,
            OrderStatus::Shipped => &self.shipped,
            OrderStatus::Delivered => &self.delivered,
            OrderStatus::Cancelled => &self.cancelled,
            OrderStatus::New => return None,
        };
        (!text.trim().is_empty()).then_some(text.as_str())
    }
}

/// The texts the customer gets when an order changes status.
#[utoipa::path(get, path = "/api/v1/bot/order-messages", operation_id = "getOrderMessages", tag = "bot",
    security(("bearer" = [])),
    responses((status = 200, body = OrderMessages), (status = 403, description = "Not an owner")))]
async fn read(State(state): State<AppState>, user: AuthUser) -> Result<Json<OrderMessages>> {
    Ok(Json(get_order_messages(&state, &user).await?))
}

pub(crate) async fn get_order_messages(state: &AppState, user: &AuthUser) -> Result<OrderMessages> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let stored = bot_settings::order_messages(&mut tx).await?;
    tx.commit().await?;
    Ok(OrderMessages::from_stored(&stored))
}

/// Replaces the texts (each up to 500 characters; `""` sends nothing for that status).
#[utoipa::path(put, path = "/api/v1/bot/order-messages", operation_id = "replaceOrderMessages", tag = "bot",
    request_body = OrderMessages, security(("bearer" = [])),
    responses((status = 200, body = OrderMessages), (status = 403, description = "Not an owner"),
              (status = 422, description = "Invalid fields")))]
async fn replace(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<OrderMessages>,
) -> Result<Json<OrderMessages>> {
    Ok(Json(replace_order_messages(&state, &user, &input).await?))
}

pub(crate) async fn replace_order_messages(
    state: &AppState,
    user: &AuthUser,
    input: &OrderMessages,
) -> Result<OrderMessages> {
    user.require_owner()?;
    let mut check = Check::default();
    let texts = OrderMessages {
        confirmed: check.text("confirmed", &input.confirmed, 0, MAX_TEXT),
        shipped: check.text("shipped", &input.shipped, 0, MAX_TEXT),
        delivered: check.text("delivered", &input.delivered, 0, MAX_TEXT),
        cancelled: check.text("cancelled", &input.cancelled, 0, MAX_TEXT),
    };
    check.finish()?;
    let stored = serde_json::to_value(&texts).map_err(anyhow::Error::from)?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    bot_settings::set_order_messages(&mut tx, &stored).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "bot.order_messages_updated",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(texts)
}

/// Queues the customer's message for `order` having become `status`, in `tx`: an outbound message in the
/// order's chat (once per order and status), the reply for the ingress (WhatsApp) and a `message.sent` event.
/// Nothing for an order with no chat (typed by the shop) or a status whose text is empty. The caller
/// publishes the outbox after commit.
pub(crate) async fn notify(
    tx: &mut TenantTx<'_>,
    subjects: &Subjects,
    order: &Order,
    status: OrderStatus,
) -> Result<()> {
    let Some(chat_id) = order.chat_id else {
        return Ok(());
    };
    let stored = bot_settings::order_messages(tx).await?;
    let texts = OrderMessages::from_stored(&stored);
    let Some(template) = texts.for_status(status) else {
        return Ok(());
    };
    let chat = chats::get(tx, chat_id).await?;
    let shop = tenants::get(tx).await?;
    let text = template
        .replace("{commande}", &order.order_ref)
        .replace("{total}", &fcfa(order.total_xof.get()))
        .replace("{boutique}", &shop.name);
    let outbound_id = format!("ord-{}-{}", order.order_id.simple(), status.as_str());
    let notice = ToCustomer {
        text: &text,
        outbound_id: &outbound_id,
        author: Author::Bot,
        in_reply_to: &[],
    };
    send_to_customer(tx, subjects, &chat, &notice, Utc::now()).await?;
    Ok(())
}

/// "15000" → "15 000 FCFA".
fn fcfa(xof: i64) -> String {
    format!("{} FCFA", group_thousands(xof).replace('\u{a0}', " "))
}
