//! Payment links of orders (`store::order_payments`): one link per order and method for exactly the order's
//! total, settled once and only for the right amount, a paid order keeping its stock and owing a refund when
//! cancelled, and every shop's links its own.

use chrono::{Duration, Utc};
use schemas::billing::{OrderPaymentStatus, Provider, RefundStatus};
use schemas::commerce::{OrderStatus, Xof};
use serde_json::json;
use sqlx::PgPool;
use store::TenantCtx;
use store::order_payments::{self, NoLink, Settled};
use store::orders::{self, NewOrder, Placed};
use uuid::Uuid;

use crate::helpers::{Shop, TestApp, spawn_app};

/// A customer's order of 2 `product` at 7 500 F (15 000 F), held for a day, in conversation `chat_id` if any.
pub(crate) async fn place_order(
    app: &TestApp,
    shop: &Shop,
    product: &str,
    chat_id: Option<Uuid>,
) -> orders::Order {
    let created = app
        .create_product_ok(
            shop,
            json!({"name": product, "price_xof": 7500, "stock": 10}),
        )
        .await;
    let product_id: Uuid = created["product_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    let placed = orders::place(
        &mut tx,
        &NewOrder {
            order_id: Uuid::new_v4(),
            chat_id,
            customer_name: "Koffi".into(),
            customer_phone: "+2250701020304".into(),
            customer_jid: "2250701020304@s.whatsapp.net".into(),
            delivery_address: String::new(),
            delivery_zone: String::new(),
            delivery_fee_xof: Xof::new(0).expect("zero"),
            note: String::new(),
            idempotency_key: format!("test:{}", Uuid::new_v4()),
            lines: vec![(product_id, 2)],
            hold_until: Some(Utc::now() + Duration::days(1)),
        },
    )
    .await
    .expect("placed");
    tx.commit().await.expect("commit");
    match placed {
        Placed::Created(order) => order,
        other => panic!("order not placed: {other:?}"),
    }
}

/// An order of 2 pagnes at 7 500 F (15 000 F), held for a day.
pub(crate) async fn order_of(app: &TestApp, shop: &Shop) -> Uuid {
    place_order(app, shop, "Pagne", None).await.order_id
}

/// The link the bot would send for `provider`.
pub(crate) async fn link(
    app: &TestApp,
    shop: &Shop,
    order_id: Uuid,
    provider: Provider,
) -> order_payments::OrderPayment {
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    let link =
        order_payments::open_link(&mut tx, order_id, provider, Duration::hours(1), Utc::now())
            .await
            .expect("open")
            .expect("a link");
    tx.commit().await.expect("commit");
    link
}

async fn settle(app: &TestApp, shop: &Shop, payment: Uuid, paid: i64, currency: &str) -> Settled {
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    let settled = order_payments::settle_paid(&mut tx, payment, paid, currency, Utc::now())
        .await
        .expect("settle");
    tx.commit().await.expect("commit");
    settled
}

async fn order(app: &TestApp, shop: &Shop, order_id: Uuid) -> orders::Order {
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    orders::get(&mut tx, order_id).await.expect("order")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn one_link_per_order_and_method_for_exactly_the_order_total(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let order_id = order_of(&app, &shop).await;

    let first = link(&app, &shop, order_id, Provider::Wave).await;
    let again = link(&app, &shop, order_id, Provider::Wave).await;
    let other = link(&app, &shop, order_id, Provider::OrangeMoney).await;

    assert_eq!(first.amount_xof.get(), 15_000);
    assert_eq!(first.status, OrderPaymentStatus::Pending);
    assert_eq!(
        again.order_payment_id, first.order_payment_id,
        "asking again gives the same link"
    );
    assert_eq!(again.token, first.token);
    assert!(first.token.len() >= 43, "an unguessable secret");
    assert_ne!(other.token, first.token, "one link per method");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_link_is_paid_once_and_only_for_the_right_amount(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let order_id = order_of(&app, &shop).await;
    let wave = link(&app, &shop, order_id, Provider::Wave).await;

    let short = settle(&app, &shop, wave.order_payment_id, 1_500, "XOF").await;
    assert_eq!(
        short,
        Settled::Mismatch {
            paid_xof: 1_500,
            currency: "XOF".into()
        }
    );
    assert_eq!(
        order(&app, &shop, order_id).await.paid_at,
        None,
        "a wrong amount pays nothing"
    );

    let renewed = link(&app, &shop, order_id, Provider::Wave).await;
    assert_ne!(
        renewed.token, wave.token,
        "a failed link is renewed with a new secret"
    );
    let euros = settle(&app, &shop, renewed.order_payment_id, 15_000, "EUR").await;
    assert!(matches!(euros, Settled::Mismatch { .. }), "{euros:?}");

    let renewed = link(&app, &shop, order_id, Provider::Wave).await;
    let paid = settle(&app, &shop, renewed.order_payment_id, 15_000, "XOF").await;
    assert!(matches!(paid, Settled::Paid(_)), "{paid:?}");
    let replay = settle(&app, &shop, renewed.order_payment_id, 15_000, "XOF").await;
    assert_eq!(replay, Settled::AlreadyPaid);
    let paid_order = order(&app, &shop, order_id).await;
    assert!(paid_order.paid_at.is_some());
    assert_eq!(paid_order.paid_with, Some(Provider::Wave));

    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    let closed = order_payments::open_link(
        &mut tx,
        order_id,
        Provider::OrangeMoney,
        Duration::hours(1),
        Utc::now(),
    )
    .await
    .expect("open");
    assert_eq!(
        closed,
        Err(NoLink::AlreadyPaid),
        "no new link for a paid order"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn concurrent_confirmations_pay_an_order_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let order_id = order_of(&app, &shop).await;
    let wave = link(&app, &shop, order_id, Provider::Wave).await;
    let om = link(&app, &shop, order_id, Provider::OrangeMoney).await;

    let settles = (0..8).map(|i| {
        let payment = if i % 2 == 0 { &wave } else { &om };
        settle(&app, &shop, payment.order_payment_id, 15_000, "XOF")
    });
    let outcomes = futures::future::join_all(settles).await;

    let paid = outcomes
        .iter()
        .filter(|o| matches!(o, Settled::Paid(_)))
        .count();
    assert_eq!(paid, 1, "{outcomes:?}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_paid_order_keeps_its_stock_and_owes_a_refund_once_cancelled(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let order_id = order_of(&app, &shop).await;
    // Paid by a method without a refund API: the refund is the shop's to make (Wave's: see pay_refunds).
    let sandbox = link(&app, &shop, order_id, Provider::Sandbox).await;
    settle(&app, &shop, sandbox.order_payment_id, 15_000, "XOF").await;

    let mut tx = app.db.platform().await.expect("platform");
    let overdue = orders::expired_holds(&mut tx, Utc::now() + Duration::days(3), 10)
        .await
        .expect("holds");
    drop(tx);
    assert!(
        !overdue.iter().any(|(_, id)| *id == order_id),
        "a paid order is never cancelled for want of confirmation"
    );

    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    orders::set_status(&mut tx, order_id, OrderStatus::Cancelled)
        .await
        .expect("cancelled");
    tx.commit().await.expect("commit");
    assert_eq!(
        order(&app, &shop, order_id).await.refund_status,
        Some(RefundStatus::ToDo)
    );
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    order_payments::refund_done(&mut tx, order_id)
        .await
        .expect("refunded");
    tx.commit().await.expect("commit");
    assert_eq!(
        order(&app, &shop, order_id).await.refund_status,
        Some(RefundStatus::Done)
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn links_expire_and_belong_to_their_shop(pool: PgPool) {
    let app = spawn_app(pool).await;
    let awa = app.signup("Boutique Awa").await;
    let koffi = app.signup("Boutique Koffi").await;
    let order_id = order_of(&app, &awa).await;
    let wave = link(&app, &awa, order_id, Provider::Wave).await;

    // Another shop sees neither the link nor the order.
    let mut tx = app
        .db
        .tenant(TenantCtx::new(koffi.tenant_id))
        .await
        .expect("tx");
    let seen = order_payments::lock(&mut tx, wave.order_payment_id).await;
    assert!(matches!(seen, Err(store::Error::NotFound)), "{seen:?}");
    let settled =
        order_payments::settle_paid(&mut tx, wave.order_payment_id, 15_000, "XOF", Utc::now())
            .await;
    assert!(
        matches!(settled, Err(store::Error::NotFound)),
        "{settled:?}"
    );
    drop(tx);
    // The public page finds the link by its secret, with its shop.
    let mut tx = app.db.platform().await.expect("platform");
    let found = order_payments::by_token(&mut tx, &wave.token)
        .await
        .expect("lookup");
    assert_eq!(
        found.map(|(tenant, p)| (tenant, p.order_payment_id)),
        Some((awa.tenant_id, wave.order_payment_id))
    );
    assert_eq!(
        order_payments::by_token(&mut tx, "not-a-token")
            .await
            .expect("lookup"),
        None
    );

    let later = Utc::now() + Duration::hours(2);
    let due = order_payments::expired_links(&mut tx, later, 10)
        .await
        .expect("due");
    assert_eq!(due, vec![(awa.tenant_id, wave.order_payment_id)]);
    drop(tx);
    let mut tx = app
        .db
        .tenant(TenantCtx::new(awa.tenant_id))
        .await
        .expect("tx");
    let expired = order_payments::expire(&mut tx, wave.order_payment_id, later)
        .await
        .expect("expire");
    tx.commit().await.expect("commit");
    assert_eq!(expired.map(|p| p.status), Some(OrderPaymentStatus::Expired));
    let renewed = link(&app, &awa, order_id, Provider::Wave).await;
    assert_eq!(renewed.status, OrderPaymentStatus::Pending);
    assert_ne!(renewed.token, wave.token);
}
