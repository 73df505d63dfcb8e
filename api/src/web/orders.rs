//! Orders: the list by status, an order's detail (items, customer, link to the conversation), and confirm /
//! deliver / cancel with the stock effects of `PATCH /api/v1/orders/{id}` (cancelling puts items back).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use schemas::billing::{Provider, RefundStatus, RefundedBy};
use schemas::commerce::OrderStatus;
use serde::Deserialize;
use store::orders::Order;

use super::error::WebResult;
use super::form::Posted;
use super::i18n::Lang;
use super::session::Session;
use super::view::{Chrome, Flash, render};
use crate::AppState;
use crate::orders::{OrderQuery, OrderUpdate};

const ORDER_NOT_FOUND: crate::Error = crate::Error::NotFound("Commande introuvable.");

/// Orders per page.
const PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/orders", get(list))
        .route("/app/orders/{id}", get(detail))
        .route("/app/orders/{id}/status", post(set_status))
        .route("/app/orders/{id}/refund-done", post(refund_done))
}

struct OrderRow {
    id: String,
    reference: String,
    customer: String,
    total: String,
    status: String,
    status_label: String,
    at: String,
    items: String,
    /// "Payée (Wave) le 4 déc. 2026, 18:55", when the customer paid in the chat.
    paid: Option<String>,
    /// A cancelled paid order: the refund the shop owes, or made.
    refund: Option<Refund>,
}

/// Where the refund of a cancelled paid order stands.
struct Refund {
    /// The shop owes it and may mark it done.
    due: bool,
    /// The badge's status style: `cancelled` (to do), `pending` (Wave making it), `delivered` (done).
    tone: &'static str,
    label: String,
    /// Why it is the shop's to make, when Wave could not (order page only).
    detail: Option<String>,
}

/// Where a cancelled paid order's refund stands, for the shop.
fn refund_view(lang: Lang, o: &Order) -> Option<Refund> {
    let status = o.refund_status?;
    Some(match (status, o.refunded_by, o.refund_error.as_deref()) {
        (RefundStatus::Done, Some(RefundedBy::Provider), _) => Refund {
            due: false,
            tone: "delivered",
            label: lang.t("order.refund.done_by_wave").into_owned(),
            detail: None,
        },
        (RefundStatus::Done, _, _) => Refund {
            due: false,
            tone: "delivered",
            label: lang.t("order.refund.done").into_owned(),
            detail: None,
        },
        (RefundStatus::ToDo, _, Some(code)) => Refund {
            due: true,
            tone: "cancelled",
            label: lang.t("order.refund.to_do").into_owned(),
            detail: Some(lang.tf("order.refund.refused", &[("code", code)])),
        },
        (RefundStatus::ToDo, _, None) if o.paid_with == Some(Provider::Wave) => Refund {
            due: false,
            tone: "pending",
            label: lang.t("order.refund.by_wave").into_owned(),
            detail: None,
        },
        (RefundStatus::ToDo, _, None) => Refund {
            due: true,
            tone: "cancelled",
            label: lang.t("order.refund.to_do").into_owned(),
            detail: None,
        },
    })
}

fn order_row(lang: Lang, o: &Order) -> OrderRow {
    OrderRow {
        id: o.order_id.to_string(),
        reference: o.order_ref.clone(),
        customer: if o.customer_name.trim().is_empty() {
            o.customer_phone.clone()
        } else {
            o.customer_name.clone()
        },
        total: lang.money(o.total_xof.get()),
        status: o.status.to_string(),
        status_label: lang.t(&format!("order.status.{}", o.status)).into_owned(),
        at: lang.datetime(o.created_at),
        items: o
            .items
            .iter()
            .map(|i| format!("{} × {}", i.quantity, i.product_name))
            .collect::<Vec<_>>()
            .join(", "),
        paid: o.paid_at.map(|at| {
            let method = o.paid_with.map_or_else(String::new, |p| {
                lang.t(&format!("order.paid_with.{p}")).into_owned()
            });
            lang.tf(
                "order.paid",
                &[("method", &method), ("at", &lang.datetime(at))],
            )
        }),
        refund: refund_view(lang, o),
    }
}

#[derive(Deserialize, Default)]
struct ListParams {
    status: Option<String>,
    page: Option<i64>,
}

#[derive(askama::Template)]
#[template(path = "orders.html")]
struct ListTemplate {
    chrome: Chrome,
    status: String,
    tabs: Vec<(&'static str, String)>,
    rows: Vec<OrderRow>,
    page: i64,
    has_more: bool,
}

/// The orders, newest first, by status.
#[utoipa::path(get, path = "/app/orders", operation_id = "ordersPage", tag = "pages",
    params(("status" = Option<String>, Query, description = "`new`, `confirmed`, `delivered` or `cancelled`"),
           ("page" = Option<i64>, Query, description = "Page number, from 1")),
    responses(crate::openapi::pages::SignedInPage))]
async fn list(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
    Query(params): Query<ListParams>,
) -> WebResult<Response> {
    let chrome = Chrome::load(&state, &session, "orders", "orders.title", flash).await?;
    let lang = chrome.lang;
    let status = params
        .status
        .filter(|s| OrderStatus::parse(s).is_some())
        .unwrap_or_default();
    let page = params.page.unwrap_or(1).max(1);
    let mut orders = crate::orders::list_orders(
        &state,
        &session.user,
        OrderQuery {
            status: Some(status.clone()).filter(|s| !s.is_empty()),
            limit: Some(PAGE + 1),
            offset: Some((page - 1) * PAGE),
        },
    )
    .await?;
    let has_more = orders.len() as i64 > PAGE;
    orders.truncate(PAGE as usize);
    render(&ListTemplate {
        // In the order a shop works through them.
        tabs: OrderStatus::ALL
            .iter()
            .map(|s| (s.as_str(), lang.t(&format!("order.tab.{s}")).into_owned()))
            .collect(),
        rows: orders.iter().map(|o| order_row(lang, o)).collect(),
        status,
        page,
        has_more,
        chrome,
    })
}

struct ItemRow {
    name: String,
    quantity: i32,
    unit: String,
    line: String,
}

#[derive(askama::Template)]
#[template(path = "order.html")]
struct DetailTemplate {
    chrome: Chrome,
    order: OrderRow,
    items: Vec<ItemRow>,
    phone: String,
    address: String,
    /// "Cocody" and its fee, when the order has a delivery zone.
    delivery: Option<(String, String)>,
    note: String,
    chat_id: Option<String>,
    /// Transitions allowed from here, with their button labels.
    actions: Vec<(&'static str, String)>,
}

/// One order: its lines, its customer and the status changes allowed.
#[utoipa::path(get, path = "/app/orders/{id}", operation_id = "orderPage", tag = "pages",
    params(("id" = Uuid, Path, description = "The order")),
    responses(crate::openapi::pages::SignedInPage,
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown order, or another shop's")))]
async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    flash: Flash,
) -> WebResult<Response> {
    let id = crate::pagination::parse_id(&id, ORDER_NOT_FOUND)?;
    let order = crate::orders::get_order(&state, &session.user, id).await?;
    let mut chrome = Chrome::load(&state, &session, "orders", "orders.title", flash).await?;
    let lang = chrome.lang;
    chrome.title = lang.tf("order.title", &[("ref", &order.order_ref)]);
    let actions: Vec<&'static str> = OrderStatus::ALL
        .iter()
        .filter(|to| order.status.can_become(**to))
        .map(|to| to.as_str())
        .collect();
    render(&DetailTemplate {
        items: order
            .items
            .iter()
            .map(|i| ItemRow {
                name: i.product_name.clone(),
                quantity: i.quantity,
                unit: lang.money(i.unit_price_xof.get()),
                line: lang.money(i.unit_price_xof.get().saturating_mul(i64::from(i.quantity))),
            })
            .collect(),
        phone: crate::phone::PhoneNumber::display(&order.customer_phone),
        address: order.delivery_address.clone(),
        delivery: (!order.delivery_zone.is_empty()).then(|| {
            (
                order.delivery_zone.clone(),
                lang.money(order.delivery_fee_xof.get()),
            )
        }),
        note: order.note.clone(),
        chat_id: order.chat_id.map(|c| c.to_string()),
        actions: actions
            .iter()
            .map(|a| (*a, lang.t(&format!("order.action.{a}")).into_owned()))
            .collect(),
        order: order_row(lang, &order),
        chrome,
    })
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<StatusForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let id = crate::pagination::parse_id(&id, ORDER_NOT_FOUND)?;
    crate::orders::change_order_status(
        &state,
        &session.user,
        id,
        OrderUpdate {
            status: form.status,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/app/orders/{id}?done=order_status")).into_response())
}

/// "Marquer comme remboursée": the same as `POST /api/v1/orders/{id}/refund-done`.
async fn refund_done(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<RefundForm>,
) -> WebResult<Response> {
    let Posted { session, .. } = posted;
    let id = crate::pagination::parse_id(&id, ORDER_NOT_FOUND)?;
    crate::order_pay::refund::mark_refund_done(&state, &session.user, id).await?;
    Ok(Redirect::to(&format!("/app/orders/{id}?done=order_refund")).into_response())
}

/// The refund form carries only its CSRF token.
#[derive(Deserialize)]
struct RefundForm {}
