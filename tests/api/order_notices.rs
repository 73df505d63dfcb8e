//! The customer hears about their order: when the shop confirms, delivers or cancels it, a WhatsApp message
//! in the shop's words goes to the order's chat, once per status, through the bot's outbound path.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::*;
use crate::helpers::{Shop, TestApp, spawn_app};
use crate::web_support::WebUser;

const CUSTOMER: &str = "2250700000041";

/// A customer orders two pagnes through the bot; returns the order's id.
async fn ordered(app: &TestApp, shop: &Shop) -> String {
    app.create_product_ok(
        shop,
        json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
    )
    .await;
    let recap = ask(app, shop, CUSTOMER, "je prends 2 pagnes").await;
    assert!(recap.contains("Récapitulatif"), "{recap}");
    let done = ask(app, shop, CUSTOMER, "oui").await;
    assert!(done.contains("CMD-"), "{done}");
    let orders = orders_of(app, shop).await;
    orders[0]["order_id"].as_str().expect("id").to_owned()
}

/// The shop's order update texts, through the API.
async fn order_messages(app: &TestApp, shop: &Shop) -> Value {
    app.get("/api/v1/bot/order-messages", &shop.token)
        .await
        .json()
        .await
        .expect("json")
}

async fn set_status(app: &TestApp, shop: &Shop, order_id: &str, status: &str) -> u16 {
    app.patch(
        &format!("/api/v1/orders/{order_id}"),
        &shop.token,
        json!({ "status": status }),
    )
    .await
    .status()
    .as_u16()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_customer_is_told_once_when_the_shop_confirms_delivers_or_cancels(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);
    let order_id = ordered(&app, &shop).await;
    let reference = orders_of(&app, &shop).await[0]["order_ref"]
        .as_str()
        .expect("ref")
        .to_owned();
    let before = bot_replies(&app, &shop, CUSTOMER).await.len();

    assert_eq!(set_status(&app, &shop, &order_id, "confirmed").await, 200);
    let replies = bot_replies(&app, &shop, CUSTOMER).await;
    assert_eq!(replies.len(), before + 1);
    assert_eq!(
        replies[before],
        format!(
            "Bonne nouvelle : votre commande {reference} est confirmée par Couture Adjamé ! \
             Total : 15 000 FCFA. Nous revenons vers vous pour la livraison."
        )
    );
    assert_eq!(set_status(&app, &shop, &order_id, "confirmed").await, 409);
    assert_eq!(
        bot_replies(&app, &shop, CUSTOMER).await.len(),
        before + 1,
        "a refused change says nothing"
    );

    // The shop's own words; an empty text sends nothing.
    let texts = json!({
        "confirmed": "Commande {commande} validée.",
        "shipped": "", "delivered": "",
        "cancelled": "Désolé, {boutique} a annulé la commande {commande} ({total})."
    });
    let response = app
        .put("/api/v1/bot/order-messages", &shop.token, texts.clone())
        .await;
    assert_eq!(response.status(), 200);
    let stored: Value = order_messages(&app, &shop).await;
    assert_eq!(stored, texts);
    assert_eq!(set_status(&app, &shop, &order_id, "cancelled").await, 200);
    let replies = bot_replies(&app, &shop, CUSTOMER).await;
    assert_eq!(
        replies.last().map(String::as_str),
        Some(
            format!("Désolé, Couture Adjamé a annulé la commande {reference} (15 000 FCFA).")
                .as_str()
        )
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn order_texts_are_the_owner_s_to_set_and_checked(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let other = app.signup("Maquis Marcory").await;
    let too_long =
        json!({"confirmed": "x".repeat(501), "shipped": "", "delivered": "", "cancelled": ""});
    let response = app
        .put("/api/v1/bot/order-messages", &shop.token, too_long)
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "confirmed");

    let mine = json!({"confirmed": "OK {commande}", "shipped": "En route", "delivered": "Livré", "cancelled": "Annulé"});
    assert_eq!(
        app.put("/api/v1/bot/order-messages", &shop.token, mine.clone())
            .await
            .status(),
        200
    );
    let theirs: Value = order_messages(&app, &other).await;
    assert!(
        theirs["confirmed"]
            .as_str()
            .is_some_and(|t| t.starts_with("Bonne nouvelle")),
        "another shop keeps the defaults: {theirs}"
    );

    let mut owner = WebUser::signed_in(&app, &shop).await;
    let page = owner.page("/app/settings").await;
    assert!(
        page.contains("OK {commande}"),
        "the form shows the saved texts"
    );
    let response = owner
        .submit(
            "/app/settings",
            "/app/settings/order-messages",
            &[
                ("confirmed", "Confirmée : {commande}"),
                ("shipped", ""),
                ("delivered", ""),
                ("cancelled", "Annulée"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let stored: Value = order_messages(&app, &shop).await;
    assert_eq!(
        stored,
        json!({"confirmed": "Confirmée : {commande}", "shipped": "", "delivered": "", "cancelled": "Annulée"})
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_cancels_an_order_the_shop_has_not_confirmed_and_only_that(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);
    let order_id = ordered(&app, &shop).await;
    let product_stock = || async {
        let products: Value = app
            .get("/api/v1/products", &shop.token)
            .await
            .json()
            .await
            .expect("json");
        products["items"][0]["stock"].as_i64()
    };
    assert_eq!(product_stock().await, Some(8));

    let reply = ask(&app, &shop, CUSTOMER, "finalement annule ma commande stp").await;
    assert!(reply.contains("est annulée"), "{reply}");
    assert_eq!(orders_of(&app, &shop).await[0]["status"], "cancelled");
    assert_eq!(product_stock().await, Some(10), "the stock is back");
    let _ = order_id;

    // A confirmed order is the shop's to cancel: the bot says so and hands over.
    let recap = ask(&app, &shop, CUSTOMER, "je prends 1 pagne").await;
    assert!(recap.contains("Récapitulatif"), "{recap}");
    ask(&app, &shop, CUSTOMER, "oui").await;
    let orders = orders_of(&app, &shop).await;
    let confirmed = orders
        .iter()
        .find(|o| o["status"] == "new")
        .expect("the new order");
    let reference = confirmed["order_ref"].as_str().expect("ref").to_owned();
    let id = confirmed["order_id"].as_str().expect("id").to_owned();
    assert_eq!(set_status(&app, &shop, &id, "confirmed").await, 200);
    let reply = ask(
        &app,
        &shop,
        CUSTOMER,
        &format!("annulez la commande {reference}"),
    )
    .await;
    assert!(reply.contains("déjà confirmée"), "{reply}");
    let still: Vec<Value> = orders_of(&app, &shop).await;
    assert!(
        still
            .iter()
            .any(|o| o["order_ref"] == reference.as_str() && o["status"] == "confirmed"),
        "{still:?}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_order_goes_out_for_delivery_and_the_customer_is_told_at_each_step(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);
    let order_id = ordered(&app, &shop).await;
    let before = bot_replies(&app, &shop, CUSTOMER).await.len();

    assert_eq!(
        set_status(&app, &shop, &order_id, "shipped").await,
        409,
        "confirmed first"
    );
    for status in ["confirmed", "shipped", "delivered"] {
        assert_eq!(
            set_status(&app, &shop, &order_id, status).await,
            200,
            "{status}"
        );
    }
    let replies = bot_replies(&app, &shop, CUSTOMER).await;
    assert_eq!(replies.len(), before + 3, "{replies:?}");
    assert!(replies[before + 1].contains("est en route"), "{replies:?}");
    assert!(replies[before + 2].contains("est livrée"), "{replies:?}");
    let status = ask(&app, &shop, CUSTOMER, "où en est ma commande ?").await;
    assert!(status.contains("livrée"), "{status}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_order_nobody_confirms_in_time_is_cancelled_and_the_customer_is_told(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);
    let order_id = ordered(&app, &shop).await;
    sqlx::query("update customer_order set hold_until = now() - interval '1 minute' where order_id = $1::uuid")
        .bind(&order_id)
        .execute(&app.admin_db)
        .await
        .expect("hold expired");
    let before = bot_replies(&app, &shop, CUSTOMER).await.len();

    api::housekeeping::run(&app.db, &app.nats, &app.subjects).await;
    api::housekeeping::run(&app.db, &app.nats, &app.subjects).await;

    let order = &orders_of(&app, &shop).await[0];
    assert_eq!(order["status"], "cancelled");
    assert!(
        order["note"]
            .as_str()
            .is_some_and(|n| n.contains("non confirmée à temps")),
        "{order}"
    );
    let replies = bot_replies(&app, &shop, CUSTOMER).await;
    assert_eq!(replies.len(), before + 1, "told once: {replies:?}");
    assert!(replies[before].contains("a été annulée"), "{replies:?}");
    let events: i64 = sqlx::query_scalar(
        "select count(*) from outbox where tenant_id = $1 and subject like '%order.status_changed'",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("events");
    assert_eq!(events, 1, "integrators hear of it too");
}
