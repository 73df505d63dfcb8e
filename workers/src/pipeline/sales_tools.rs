//! The sales tools, executed over a snapshot of the shop taken before the model is called: no database
//! connection is held during a turn. `create_order` only records an intent, checked against the snapshot and
//! priced from it; the pipeline places it for real (stock decremented atomically) when it commits the turn.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemas::commerce::Xof;
use serde_json::{Value, json};
use store::knowledge::DeliveryZone;
use store::orders::{self, Order};
use uuid::Uuid;

use crate::catalogue::{self, ProductText};
use crate::knowledge::{self, Opening, Topic};
use crate::lang::Lang;
use crate::llm::tools::{self, CreateOrder, GetProduct, OrderStatus, SearchProducts};
use crate::llm::{CatalogItem, ShopProfile, ToolExecutor};

const DEFAULT_RESULTS: usize = 5;
const MAX_RESULTS: usize = 20;
const MAX_QUANTITY: u32 = 1000;
/// Orders one customer may have waiting for the shop's confirmation: their stock is held, so a number that
/// ordered everything would empty the shop.
pub const MAX_OPEN_ORDERS: usize = 3;

/// An order the model placed during the turn, to write at commit.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderIntent {
    pub order_id: Uuid,
    pub lines: Vec<(Uuid, i32)>,
    pub customer_name: String,
    pub delivery_address: String,
    /// The shop's zone the order goes to (empty: none) and its fee, from the shop's zones.
    pub delivery_zone: String,
    pub delivery_fee_xof: Xof,
    pub note: String,
}

pub struct SalesTools<'a> {
    catalog: &'a [CatalogItem],
    /// The shop's own facts (FAQ, delivery zones, hours) for `shop_info`, and the moment of the turn.
    shop: Option<(&'a ShopProfile, DateTime<Utc>)>,
    /// This customer's recent orders.
    orders: &'a [Order],
    customer_name: &'a str,
    /// Units already promised by earlier intents of this turn.
    reserved: HashMap<Uuid, i64>,
    pub intents: Vec<OrderIntent>,
    /// Why the provider handed the conversation over to the shop, if it did.
    pub handover: Option<String>,
    /// This customer's orders the turn cancels at their request (not yet confirmed by the shop).
    pub cancellations: Vec<Uuid>,
    /// The tools called, in order (known names only), for the turn's record.
    pub called: Vec<&'static str>,
    /// Products whose photo goes with the reply, in the order asked.
    pub photos: Vec<Uuid>,
    /// Orders the customer chose to pay by link (the links are added to the reply at commit).
    pub payments: Vec<PayRequest>,
    /// Answers "j'ai payé" from the provider.
    pay_checker: Option<&'a dyn PayChecker>,
}

/// Asks the payment provider (through the API) where an order's payment stands.
#[async_trait]
pub trait PayChecker: Send + Sync {
    async fn check(&self, order_id: Uuid) -> schemas::billing::PayCheckStatus;
}

/// A customer's choice of how to pay an order: a link for `provider`.
#[derive(Debug, Clone, PartialEq)]
pub struct PayRequest {
    pub order_id: Uuid,
    pub provider: schemas::billing::Provider,
}

impl<'a> SalesTools<'a> {
    pub fn new(catalog: &'a [CatalogItem], orders: &'a [Order], customer_name: &'a str) -> Self {
        Self {
            catalog,
            shop: None,
            orders,
            customer_name,
            reserved: HashMap::new(),
            intents: Vec::new(),
            handover: None,
            cancellations: Vec::new(),
            called: Vec::new(),
            photos: Vec::new(),
            payments: Vec::new(),
            pay_checker: None,
        }
    }

    /// At most this many photos go with one reply.
    const MAX_PHOTOS: usize = 3;

    /// The customer chose how to pay an order of theirs: a link (added to the reply at commit) or cash on
    /// delivery, among the methods the shop offers.
    fn payment_link(&mut self, args: tools::PaymentLink) -> Value {
        use schemas::billing::Provider;
        let Some((shop, _)) = self.shop else {
            return json!({ "error": "Aucun moyen de paiement en ligne." });
        };
        let options = &shop.payments;
        let provider = match args.method.trim() {
            "cash_on_delivery" if options.cash_on_delivery => None,
            method => match Provider::parse(method).filter(|p| options.links.contains(p)) {
                Some(provider) => Some(provider),
                None => {
                    let mut offered: Vec<&str> = options.links.iter().map(|p| p.as_str()).collect();
                    if options.cash_on_delivery {
                        offered.push("cash_on_delivery");
                    }
                    return json!({ "error": "La boutique ne propose pas ce moyen de paiement.", "offered": offered });
                }
            },
        };
        let wanted = args.order_ref.as_deref().map(|r| r.trim().to_uppercase());
        let this_turn = self
            .intents
            .iter()
            .rev()
            .map(|i| i.order_id)
            .find(|id| wanted.as_ref().is_none_or(|r| *r == orders::order_ref(*id)));
        let earlier = || {
            self.orders
                .iter()
                .filter(|o| {
                    wanted.as_ref().is_none_or(|r| *r == o.order_ref)
                        && !matches!(
                            o.status,
                            schemas::commerce::OrderStatus::Cancelled
                                | schemas::commerce::OrderStatus::Delivered
                        )
                })
                .max_by_key(|o| o.created_at)
        };
        let order_id = match (this_turn, earlier()) {
            (Some(id), _) => id,
            (None, Some(order)) if order.paid_at.is_some() => {
                return json!({ "error": "Cette commande est déjà payée.", "order_ref": order.order_ref });
            }
            (None, Some(order)) => order.order_id,
            (None, None) => {
                return json!({ "error": "Aucune commande à payer : crée d'abord la commande." });
            }
        };
        let order_ref = orders::order_ref(order_id);
        let Some(provider) = provider else {
            return json!({ "ok": true, "order_ref": order_ref, "note": "Paiement à la livraison : dis-le au client." });
        };
        let request = PayRequest { order_id, provider };
        if !self.payments.contains(&request) {
            self.payments.push(request);
        }
        json!({ "ok": true, "order_ref": order_ref, "note": "Le lien de paiement (montant exact de la commande) est ajouté à la fin de ta réponse : ne l'écris pas toi-même." })
    }

    /// "J'ai payé": the provider's answer, through the API, for the customer's order.
    async fn payment_status(&mut self, args: tools::PaymentStatus) -> Value {
        use schemas::billing::PayCheckStatus;
        let wanted = args.order_ref.as_deref().map(|r| r.trim().to_uppercase());
        let order = self
            .orders
            .iter()
            .filter(|o| wanted.as_ref().is_none_or(|r| *r == o.order_ref))
            .filter(|o| o.status != schemas::commerce::OrderStatus::Cancelled)
            .max_by_key(|o| o.created_at);
        let Some(order) = order else {
            return json!({ "status": "none", "note": "Aucune commande de ce client." });
        };
        let status = match (order.paid_at, self.pay_checker) {
            (Some(_), _) => PayCheckStatus::Paid,
            (None, Some(checker)) => checker.check(order.order_id).await,
            (None, None) => PayCheckStatus::Unknown,
        };
        let status = match status {
            PayCheckStatus::Paid => "paid",
            PayCheckStatus::Pending => "pending",
            PayCheckStatus::None => "none",
            PayCheckStatus::Unknown => "unknown",
        };
        json!({ "status": status, "order_ref": order.order_ref, "total_xof": order.total_xof })
    }

    fn send_photo(&mut self, args: tools::SendProductPhoto) -> Value {
        let Some(product) = self
            .catalog
            .iter()
            .find(|p| p.product_id == args.product_id)
        else {
            return json!({ "error": "Produit inconnu : utilise un product_id de search_products." });
        };
        if product
            .fields
            .image_url
            .as_deref()
            .is_none_or(|u| u.trim().is_empty())
        {
            return json!({ "error": "Ce produit n'a pas de photo : décris-le au client." });
        }
        if !self.photos.contains(&args.product_id) {
            if self.photos.len() >= Self::MAX_PHOTOS {
                return json!({ "error": "Trois photos au plus par réponse." });
            }
            self.photos.push(args.product_id);
        }
        json!({ "ok": true, "note": "La photo part juste avant ta réponse, avec le nom et le prix en légende : n'ajoute pas de lien." })
    }

    /// Lets `shop_info` answer from the shop's knowledge, as of `now`.
    /// Lets `payment_status` ask the provider.
    pub fn checking_payments(mut self, checker: &'a dyn PayChecker) -> Self {
        self.pay_checker = Some(checker);
        self
    }

    pub fn knowing(mut self, shop: &'a ShopProfile, now: DateTime<Utc>) -> Self {
        self.shop = Some((shop, now));
        self
    }

    fn shop_info(&self, args: tools::ShopInfo) -> Value {
        let Some((shop, now)) = self.shop else {
            return json!({ "found": false });
        };
        let found = knowledge::lookup(
            &args.question,
            &shop.faq,
            &shop.delivery_zones,
            &shop.instructions,
        );
        let zone = |z: &DeliveryZone| json!({ "name": z.name, "fee_xof": z.fee_xof.get() });
        let mut result = json!({
            "faq": found.faq.iter().map(|e| json!({ "question": e.question, "answer": e.answer })).collect::<Vec<_>>(),
            "delivery_zone": found.zone.map(zone),
            "delivery_zones": found.zones.iter().map(|z| zone(z)).collect::<Vec<_>>(),
            "instructions": found.instructions,
        });
        let lang = Lang::of(&shop.language);
        let asks_hours = found.topics.contains(&Topic::Hours);
        match shop.hours.at(now) {
            Opening::Always => {}
            opening => {
                result["opening_hours"] = json!(shop.hours.describe(lang));
                result["open_now"] = json!(opening == Opening::Open);
                if let Opening::Closed {
                    reopens: Some(reopens),
                } = opening
                {
                    result["reopens"] = json!(reopens.describe(lang));
                }
            }
        }
        let found_any = !found.is_empty() || (asks_hours && result.get("opening_hours").is_some());
        result["found"] = json!(found_any);
        if !found_any {
            result["note"] = json!(
                "La boutique n'a pas donné cette information : ne l'invente pas, dis-le au client et propose de transmettre sa question à la boutique."
            );
        }
        result
    }

    fn product(&self, id: Uuid) -> Option<&CatalogItem> {
        self.catalog.iter().find(|p| p.product_id == id)
    }

    fn available(&self, p: &CatalogItem) -> Option<i64> {
        p.fields
            .stock
            .map(|s| i64::from(s) - self.reserved.get(&p.product_id).copied().unwrap_or(0))
    }

    fn summary(&self, p: &CatalogItem) -> Value {
        let stock = self.available(p);
        let f = &p.fields;
        json!({
            "product_id": p.product_id, "sku": f.sku, "name": f.name, "category": f.category,
            "price_xof": f.price_xof, "stock": stock, "in_stock": stock.is_none_or(|s| s > 0),
        })
    }

    /// Products by words, category and price range, best match (or by price) first.
    fn search(&self, args: SearchProducts) -> Value {
        let max = args
            .max_results
            .map_or(DEFAULT_RESULTS, |m| (m as usize).clamp(1, MAX_RESULTS));
        let mut found: Vec<usize> = if args.query.trim().is_empty() {
            (0..self.catalog.len()).collect()
        } else {
            catalogue::search(
                self.catalog.iter().map(ProductText::from),
                &args.query,
                self.catalog.len(),
            )
        };
        let category = args
            .category
            .as_deref()
            .map(|c| store::text::fold(c.trim()))
            .filter(|c| !c.is_empty());
        let price = |i: usize| self.catalog[i].fields.price_xof.get();
        found.retain(|&i| {
            category
                .as_ref()
                .is_none_or(|c| store::text::fold(self.catalog[i].fields.category.trim()) == *c)
                && args.min_price_xof.is_none_or(|min| price(i) >= min)
                && args.max_price_xof.is_none_or(|max| price(i) <= max)
        });
        match args.sort.as_deref() {
            Some("price_asc") => found.sort_by_key(|&i| price(i)),
            Some("price_desc") => found.sort_by_key(|&i| std::cmp::Reverse(price(i))),
            _ => {}
        }
        let total = found.len();
        let products: Vec<Value> = found
            .into_iter()
            .take(max)
            .map(|i| self.summary(&self.catalog[i]))
            .collect();
        json!({ "products": products, "total_found": total })
    }

    fn get(&self, args: GetProduct) -> Value {
        match self.product(args.product_id) {
            Some(p) => {
                let mut details = self.summary(p);
                details["description"] = json!(p.fields.description);
                details["attributes"] = p.fields.attributes.clone();
                details
            }
            None => json!({ "error": "unknown_product" }),
        }
    }

    fn create_order(&mut self, args: CreateOrder) -> Value {
        if args.items.is_empty() {
            return json!({ "error": "empty_order" });
        }
        let open = self
            .orders
            .iter()
            .filter(|o| o.status == schemas::commerce::OrderStatus::New)
            .count()
            + self.intents.len();
        if open >= MAX_OPEN_ORDERS {
            return json!({ "error": "too_many_open_orders", "open_orders": open, "max": MAX_OPEN_ORDERS });
        }
        // Merge repeated lines of one product so stock is checked on the total.
        let mut lines: Vec<(Uuid, u32)> = Vec::new();
        for line in &args.items {
            if line.quantity == 0 || line.quantity > MAX_QUANTITY {
                return json!({ "error": "invalid_quantity", "max": MAX_QUANTITY });
            }
            match lines.iter_mut().find(|(id, _)| *id == line.product_id) {
                Some((_, q)) => *q += line.quantity,
                None => lines.push((line.product_id, line.quantity)),
            }
        }
        let mut items = Vec::new();
        let mut total = 0i64;
        for (product_id, quantity) in &lines {
            let Some(p) = self.product(*product_id) else {
                return json!({ "error": "unknown_product" });
            };
            if let Some(available) = self.available(p)
                && available < i64::from(*quantity)
            {
                return json!({ "error": "insufficient_stock", "product": p.fields.name, "available": available.max(0) });
            }
            let price = p.fields.price_xof.get();
            let line_total = price * i64::from(*quantity);
            total += line_total;
            items.push(
                json!({ "name": p.fields.name, "quantity": quantity, "unit_price_xof": price,
                               "line_total_xof": line_total }),
            );
        }
        // The fee comes from the shop's zones, found by the zone or the address the customer gave.
        let zones = self
            .shop
            .map(|(shop, _)| shop.delivery_zones.as_slice())
            .unwrap_or_default();
        let zone = [
            args.delivery_zone.as_deref(),
            args.delivery_address.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find_map(|said| knowledge::zone_named(said, zones));
        let fee = zone.map_or(Xof::default(), |z| z.fee_xof);
        total += fee.get();
        for (product_id, quantity) in &lines {
            *self.reserved.entry(*product_id).or_default() += i64::from(*quantity);
        }
        let order_id = Uuid::new_v4();
        let name = args
            .customer_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.customer_name.to_owned());
        self.intents.push(OrderIntent {
            order_id,
            lines: lines
                .iter()
                .map(|(id, q)| (*id, i32::try_from(*q).unwrap_or(i32::MAX)))
                .collect(),
            customer_name: clip(&name, 120),
            delivery_address: clip(args.delivery_address.as_deref().unwrap_or_default(), 500),
            delivery_zone: zone.map(|z| z.name.clone()).unwrap_or_default(),
            delivery_fee_xof: fee,
            note: clip(args.note.as_deref().unwrap_or_default(), 500),
        });
        json!({ "order_ref": store::orders::order_ref(order_id), "status": schemas::commerce::OrderStatus::New,
                "total_xof": total, "items": items, "delivery_zone": zone.map(|z| z.name.clone()),
                "delivery_fee_xof": fee.get() })
    }

    /// Records the cancellation of one of this customer's orders still waiting for the shop.
    fn cancel(&mut self, args: tools::CancelOrder) -> Value {
        let wanted = args.order_ref.map(|r| r.trim().to_uppercase());
        let order = self.orders.iter().find(|o| {
            wanted
                .as_deref()
                .is_none_or(|w| o.order_ref == w || o.order_ref.ends_with(w))
        });
        let Some(order) = order else {
            return json!({ "error": "unknown_order" });
        };
        if order.status != schemas::commerce::OrderStatus::New {
            return json!({ "error": "not_cancellable", "order_ref": order.order_ref, "status": order.status });
        }
        if !self.cancellations.contains(&order.order_id) {
            self.cancellations.push(order.order_id);
        }
        json!({ "cancelled": true, "order_ref": order.order_ref })
    }

    fn status(&self, args: OrderStatus) -> Value {
        let wanted = args.order_ref.map(|r| r.trim().to_uppercase());
        let mut orders: Vec<Value> = self
            .intents
            .iter()
            .map(|i| {
                let total: i64 = i
                    .lines
                    .iter()
                    .filter_map(|(id, q)| self.product(*id).map(|p| p.fields.price_xof.get() * i64::from(*q)))
                    .sum::<i64>()
                    + i.delivery_fee_xof.get();
                json!({ "order_ref": store::orders::order_ref(i.order_id), "status": schemas::commerce::OrderStatus::New,
                        "total_xof": total, "created_at": "maintenant" })
            })
            .chain(self.orders.iter().map(|o| {
                json!({ "order_ref": o.order_ref, "status": o.status, "total_xof": o.total_xof,
                        "created_at": o.created_at.to_rfc3339() })
            }))
            .collect();
        if let Some(wanted) = wanted {
            orders.retain(|o| {
                o["order_ref"]
                    .as_str()
                    .is_some_and(|r| r == wanted || r.ends_with(&wanted))
            });
        }
        json!({ "orders": orders })
    }
}

fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

fn invalid(name: &str, e: serde_json::Error) -> Value {
    json!({ "error": "invalid_arguments", "tool": name, "detail": e.to_string() })
}

#[async_trait]
impl ToolExecutor for SalesTools<'_> {
    async fn call(&mut self, name: &str, args: Value) -> Value {
        // The name comes from the model: only known names become a label value or a record.
        let known = [
            tools::SEARCH_PRODUCTS,
            tools::GET_PRODUCT,
            tools::CREATE_ORDER,
            tools::ORDER_STATUS,
            tools::SHOP_INFO,
            tools::HAND_OVER,
            tools::CANCEL_ORDER,
            tools::SEND_PRODUCT_PHOTO,
            tools::PAYMENT_LINK,
            tools::PAYMENT_STATUS,
        ]
        .into_iter()
        .find(|known| *known == name);
        metrics::counter!("llm_tool_calls_total", "tool" => known.unwrap_or("unknown"))
            .increment(1);
        if let Some(known) = known {
            self.called.push(known);
        }
        match name {
            tools::SEARCH_PRODUCTS => {
                serde_json::from_value(args).map_or_else(|e| invalid(name, e), |a| self.search(a))
            }
            tools::GET_PRODUCT => {
                serde_json::from_value(args).map_or_else(|e| invalid(name, e), |a| self.get(a))
            }
            tools::CREATE_ORDER => serde_json::from_value(args)
                .map_or_else(|e| invalid(name, e), |a| self.create_order(a)),
            tools::ORDER_STATUS => {
                serde_json::from_value(args).map_or_else(|e| invalid(name, e), |a| self.status(a))
            }
            tools::SHOP_INFO => serde_json::from_value(args)
                .map_or_else(|e| invalid(name, e), |a| self.shop_info(a)),
            tools::CANCEL_ORDER => {
                serde_json::from_value(args).map_or_else(|e| invalid(name, e), |a| self.cancel(a))
            }
            tools::PAYMENT_LINK => serde_json::from_value(args)
                .map_or_else(|e| invalid(name, e), |a| self.payment_link(a)),
            tools::PAYMENT_STATUS => match serde_json::from_value::<tools::PaymentStatus>(args) {
                Ok(a) => self.payment_status(a).await,
                Err(e) => invalid(name, e),
            },
            tools::SEND_PRODUCT_PHOTO => serde_json::from_value(args)
                .map_or_else(|e| invalid(name, e), |a| self.send_photo(a)),
            tools::HAND_OVER => match serde_json::from_value::<tools::HandOver>(args) {
                Ok(a) => {
                    self.handover = Some(clip(&a.reason, 300));
                    json!({ "ok": true, "note": "La boutique est alertée : dis au client que quelqu'un de l'équipe va lui répondre." })
                }
                Err(e) => invalid(name, e),
            },
            other => json!({ "error": "unknown_tool", "tool": other }),
        }
    }

    fn discard_attempt(&mut self) {
        self.intents.clear();
        self.reserved.clear();
        self.handover = None;
        self.cancellations.clear();
        self.called.clear();
    }
}

#[cfg(test)]
mod tests {
    use schemas::commerce::Stock;
    use store::products::ProductFields;

    use super::*;

    fn item(name: &str, price: i64, stock: Option<i64>) -> CatalogItem {
        CatalogItem {
            product_id: Uuid::new_v4(),
            fields: ProductFields {
                stock: stock.map(|s| Stock::new(s).expect("stock")),
                ..ProductFields::new(name, Xof::price(price).expect("price"))
            },
        }
    }

    #[tokio::test]
    async fn a_payment_link_is_for_an_order_of_the_customer_and_a_method_the_shop_offers() {
        let catalog = vec![item("Pagne", 7_500, Some(10))];
        let shop = crate::llm::ShopProfile {
            payments: crate::llm::PaymentOptions {
                links: vec![schemas::billing::Provider::Wave],
                cash_on_delivery: false,
            },
            ..Default::default()
        };
        let mut tools = SalesTools::new(&catalog, &[], "Koffi").knowing(&shop, Utc::now());

        let early = tools.call("payment_link", json!({"method": "wave"})).await;
        assert!(
            early["error"]
                .as_str()
                .is_some_and(|e| e.contains("Aucune commande")),
            "{early}"
        );
        let product_id = catalog[0].product_id;
        let placed = tools
            .call(
                "create_order",
                json!({"items": [{"product_id": product_id, "quantity": 2}]}),
            )
            .await;
        assert!(placed.get("error").is_none(), "{placed}");
        let om = tools
            .call("payment_link", json!({"method": "orange_money"}))
            .await;
        assert_eq!(om["offered"], json!(["wave"]), "{om}");
        let cash = tools
            .call("payment_link", json!({"method": "cash_on_delivery"}))
            .await;
        assert!(
            cash.get("error").is_some(),
            "the shop does not take cash: {cash}"
        );

        let wave = tools.call("payment_link", json!({"method": "wave"})).await;
        tools.call("payment_link", json!({"method": "wave"})).await;

        assert_eq!(wave["ok"], true, "{wave}");
        assert_eq!(
            tools.payments,
            vec![PayRequest {
                order_id: tools.intents[0].order_id,
                provider: schemas::billing::Provider::Wave
            }],
            "one link per order and method"
        );
    }

    #[tokio::test]
    async fn search_filters_by_category_and_price_and_sorts_by_price() {
        let mut catalog = vec![
            item("Robe wax", 15_000, None),
            item("Robe bazin", 25_000, None),
            item("Pagne", 5_000, None),
            item("Sac", 8_000, None),
        ];
        for (p, category) in catalog.iter_mut().zip(["Robes", "Robes", "Tissus", "Sacs"]) {
            p.fields.category = category.into();
        }
        let mut tools = SalesTools::new(&catalog, &[], "");
        let names = |result: Value| -> Vec<String> {
            result["products"]
                .as_array()
                .expect("products")
                .iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        };
        let cheap = tools
            .call(
                "search_products",
                json!({"query": "", "max_price_xof": 10000, "sort": "price_asc"}),
            )
            .await;
        assert_eq!(names(cheap), ["Pagne", "Sac"]);
        let robes = tools
            .call(
                "search_products",
                json!({"query": "", "category": "robes", "sort": "price_desc"}),
            )
            .await;
        assert_eq!(names(robes), ["Robe bazin", "Robe wax"]);
        let worded = tools
            .call(
                "search_products",
                json!({"query": "robe", "min_price_xof": 20000}),
            )
            .await;
        assert_eq!(names(worded), ["Robe bazin"]);
    }

    #[tokio::test]
    async fn orders_are_priced_from_the_catalogue_and_reserve_stock() {
        let catalog = vec![item("Pagne", 7500, Some(3))];
        let mut tools = SalesTools::new(&catalog, &[], "Awa");
        let id = catalog[0].product_id;

        let first = tools
            .call(
                "create_order",
                json!({"items": [{"product_id": id, "quantity": 2}]}),
            )
            .await;
        assert_eq!(first["total_xof"], 15000);
        let second = tools
            .call(
                "create_order",
                json!({"items": [{"product_id": id, "quantity": 2}]}),
            )
            .await;
        assert_eq!(
            second["error"], "insufficient_stock",
            "only one unit left after the first order"
        );
        assert_eq!(second["available"], 1);
        assert_eq!(tools.intents.len(), 1);
        assert_eq!(tools.intents[0].customer_name, "Awa");
    }

    #[tokio::test]
    async fn bad_arguments_and_unknown_products_are_tool_errors() {
        let catalog = vec![item("Pagne", 7500, None)];
        let mut tools = SalesTools::new(&catalog, &[], "");
        let cases = [
            ("create_order", json!({"items": []}), "empty_order"),
            (
                "create_order",
                json!({"items": [{"product_id": Uuid::new_v4(), "quantity": 1}]}),
                "unknown_product",
            ),
            (
                "create_order",
                json!({"items": [{"product_id": catalog[0].product_id, "quantity": 0}]}),
                "invalid_quantity",
            ),
            (
                "get_product",
                json!({"product_id": "not-a-uuid"}),
                "invalid_arguments",
            ),
            ("drop_tables", json!({}), "unknown_tool"),
        ];
        for (tool, args, error) in cases {
            assert_eq!(tools.call(tool, args).await["error"], error, "{tool}");
        }
        assert!(tools.intents.is_empty());
    }

    #[tokio::test]
    async fn search_finds_products_despite_accents_and_plurals() {
        let catalog = vec![item("Robe wax", 15000, Some(2)), item("Pagne", 7500, None)];
        let mut tools = SalesTools::new(&catalog, &[], "");
        let found = tools
            .call("search_products", json!({"query": "les pagnes"}))
            .await;
        assert_eq!(found["products"][0]["name"], "Pagne");
        assert_eq!(found["products"][0]["stock"], Value::Null, "unlimited");
        assert_eq!(found["products"][0]["in_stock"], true);
    }

    #[tokio::test]
    async fn a_customer_cannot_hold_more_than_a_few_unconfirmed_orders() {
        let catalog = vec![item("Pagne", 7500, None)];
        let mut tools = SalesTools::new(&catalog, &[], "Awa");
        let order = json!({"items": [{"product_id": catalog[0].product_id, "quantity": 1}]});
        for _ in 0..MAX_OPEN_ORDERS {
            assert!(
                tools
                    .call("create_order", order.clone())
                    .await
                    .get("error")
                    .is_none()
            );
        }
        let refused = tools.call("create_order", order).await;
        assert_eq!(refused["error"], "too_many_open_orders");
        assert_eq!(tools.intents.len(), MAX_OPEN_ORDERS);
    }
}
