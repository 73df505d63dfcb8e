//! Typed calls to the sales tools through the [`ToolExecutor`], and the result shapes the offline assistant
//! reads. Every price, stock level and order reference it tells a customer comes through here. Results are
//! parsed leniently: one malformed product is skipped, a malformed answer reads as "nothing found".

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::llm::ToolExecutor;
use crate::llm::tools::{
    CANCEL_ORDER, CREATE_ORDER, CancelOrder, CreateOrder, GET_PRODUCT, GetProduct, ORDER_STATUS,
    OrderLine, OrderStatus, SEARCH_PRODUCTS, SearchProducts,
};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Product {
    pub product_id: Uuid,
    #[serde(default)]
    pub sku: Option<String>,
    pub name: String,
    #[serde(default)]
    pub category: Option<String>,
    pub price_xof: i64,
    /// `None` = unlimited.
    #[serde(default)]
    pub stock: Option<i64>,
    #[serde(default)]
    pub in_stock: Option<bool>,
}

impl Product {
    pub fn available(&self) -> bool {
        self.in_stock.unwrap_or(true) && self.stock.is_none_or(|s| s > 0)
    }

    pub fn category(&self) -> &str {
        self.category.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlacedItem {
    pub name: String,
    pub quantity: i64,
    #[serde(default)]
    pub unit_price_xof: i64,
    pub line_total_xof: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Placed {
    Order {
        order_ref: String,
        total_xof: i64,
        items: Vec<PlacedItem>,
    },
    InsufficientStock {
        product: String,
        available: i64,
    },
    UnknownProduct,
    /// The customer already has the most orders waiting for the shop's confirmation.
    TooManyOpen,
    /// Any other error or an answer we cannot read: the order may not exist, so a person must look.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderInfo {
    pub order_ref: String,
    pub status: String,
    #[serde(default)]
    pub total_xof: i64,
    #[serde(default)]
    pub created_at: Option<String>,
}

pub async fn search(tools: &mut dyn ToolExecutor, query: &str, max_results: u32) -> Vec<Product> {
    let args = to_args(&SearchProducts {
        query: query.to_owned(),
        max_results: Some(max_results),
        ..SearchProducts::default()
    });
    let result = tools.call(SEARCH_PRODUCTS, args).await;
    list(&result, "products")
}

pub async fn get(tools: &mut dyn ToolExecutor, product_id: Uuid) -> Option<Product> {
    let result = tools
        .call(GET_PRODUCT, to_args(&GetProduct { product_id }))
        .await;
    let product = result.get("product").unwrap_or(&result);
    Product::deserialize(product).ok()
}

pub async fn create_order(
    tools: &mut dyn ToolExecutor,
    items: Vec<OrderLine>,
    customer_name: &str,
    delivery_zone: Option<String>,
) -> Placed {
    let name = customer_name.trim();
    let args = to_args(&CreateOrder {
        items,
        customer_name: (!name.is_empty()).then(|| name.to_owned()),
        delivery_address: delivery_zone.clone(),
        delivery_zone,
        note: None,
    });
    let result = tools.call(CREATE_ORDER, args).await;
    match result.get("error").and_then(Value::as_str) {
        Some("insufficient_stock") => Placed::InsufficientStock {
            product: result
                .get("product")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            available: result.get("available").and_then(Value::as_i64).unwrap_or(0),
        },
        Some("unknown_product") => Placed::UnknownProduct,
        Some("too_many_open_orders") => Placed::TooManyOpen,
        Some(_) => Placed::Failed,
        None => {
            let order_ref = result.get("order_ref").and_then(Value::as_str);
            let total = result.get("total_xof").and_then(Value::as_i64);
            match (order_ref, total) {
                (Some(order_ref), Some(total_xof)) => Placed::Order {
                    order_ref: order_ref.to_owned(),
                    total_xof,
                    items: list(&result, "items"),
                },
                _ => Placed::Failed,
            }
        }
    }
}

/// What cancelling an order did.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancelled {
    Done(String),
    /// The shop confirmed it already: only the shop can cancel it now.
    TooLate(String),
    NoSuchOrder,
}

/// Where the customer's payment stands, as the provider says.
pub enum PayState {
    Paid(String),
    Pending(String),
    NoLink,
    Unknown,
}

pub async fn payment_status(tools: &mut dyn ToolExecutor) -> PayState {
    let result = tools
        .call(
            crate::llm::tools::PAYMENT_STATUS,
            to_args(&crate::llm::tools::PaymentStatus::default()),
        )
        .await;
    let order_ref = result
        .get("order_ref")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match result.get("status").and_then(Value::as_str) {
        Some("paid") => PayState::Paid(order_ref),
        Some("pending") => PayState::Pending(order_ref),
        Some("none") => PayState::NoLink,
        _ => PayState::Unknown,
    }
}

/// What asking for a payment link gave.
pub enum PayLink {
    /// The link follows the reply.
    Link,
    OnDelivery,
    AlreadyPaid,
    NoOrder,
    NotOffered,
}

/// The customer pays their latest order with `method` (`wave`, `orange_money`, `sandbox`, `cash_on_delivery`).
pub async fn payment_link(tools: &mut dyn ToolExecutor, method: &str) -> PayLink {
    let result = tools
        .call(
            crate::llm::tools::PAYMENT_LINK,
            to_args(&crate::llm::tools::PaymentLink {
                method: method.to_owned(),
                order_ref: None,
            }),
        )
        .await;
    let error = result.get("error").and_then(Value::as_str).unwrap_or("");
    match (result.get("ok").and_then(Value::as_bool), error) {
        (Some(true), _) if method == "cash_on_delivery" => PayLink::OnDelivery,
        (Some(true), _) => PayLink::Link,
        (_, e) if e.contains("déjà payée") => PayLink::AlreadyPaid,
        (_, e) if e.contains("Aucune commande") => PayLink::NoOrder,
        _ => PayLink::NotOffered,
    }
}

/// Asks for the product's photo to go with the reply; `false` when the product has none.
pub async fn send_photo(tools: &mut dyn ToolExecutor, product_id: Uuid) -> bool {
    let result = tools
        .call(
            crate::llm::tools::SEND_PRODUCT_PHOTO,
            to_args(&crate::llm::tools::SendProductPhoto { product_id }),
        )
        .await;
    result.get("ok").and_then(Value::as_bool) == Some(true)
}

pub async fn cancel_order(tools: &mut dyn ToolExecutor, order_ref: Option<String>) -> Cancelled {
    let result = tools
        .call(CANCEL_ORDER, to_args(&CancelOrder { order_ref }))
        .await;
    let reference = || {
        result
            .get("order_ref")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match result.get("error").and_then(Value::as_str) {
        None if result.get("cancelled").and_then(Value::as_bool) == Some(true) => {
            Cancelled::Done(reference())
        }
        Some("not_cancellable") => Cancelled::TooLate(reference()),
        _ => Cancelled::NoSuchOrder,
    }
}

/// The customer's orders, newest first as the tool gives them; `None` when the tool failed.
pub async fn order_status(
    tools: &mut dyn ToolExecutor,
    order_ref: Option<String>,
) -> Option<Vec<OrderInfo>> {
    let result = tools
        .call(ORDER_STATUS, to_args(&OrderStatus { order_ref }))
        .await;
    if result.get("error").is_some() || result.get("orders").is_none() {
        return None;
    }
    Some(list(&result, "orders"))
}

fn to_args(args: &impl serde::Serialize) -> Value {
    serde_json::to_value(args).unwrap_or_default()
}

/// The readable elements of `result[key]`, skipping any that do not parse.
fn list<T: DeserializeOwned>(result: &Value, key: &str) -> Vec<T> {
    result
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| T::deserialize(v).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stock_null_means_unlimited_and_zero_means_sold_out() {
        let product = |stock: Value, in_stock: Value| {
            Product::deserialize(json!({
                "product_id": Uuid::nil(), "name": "Pagne", "price_xof": 5000, "stock": stock, "in_stock": in_stock
            }))
        };
        assert!(product(Value::Null, json!(true)).is_ok_and(|p| p.available()));
        assert!(product(json!(0), json!(false)).is_ok_and(|p| !p.available()));
        assert!(product(json!(3), Value::Null).is_ok_and(|p| p.available()));
    }

    #[test]
    fn malformed_list_items_are_skipped() {
        let result = json!({"products": [{"name": "no id"}, {"product_id": Uuid::nil(), "name": "Sac", "price_xof": 1}]});
        let products: Vec<Product> = list(&result, "products");
        assert_eq!(products.len(), 1);
        assert!(list::<Product>(&json!("garbage"), "products").is_empty());
    }
}
