//! Customers pay their order with Orange Money on the shop's own merchant account: the pay page opens one web
//! payment with the shop's credentials and its own notification URL; Orange's notification (no signature, a
//! per-payment `notif_token`) only makes the API ask Orange's status API, whose answer alone settles the order,
//! once; "j'ai payé" asks the same API; a failed web payment lets the customer try again.

use api::billing::fakes::FakeProvider;
use chrono::Utc;
use reqwest::StatusCode;
use schemas::billing::{PayCheckStatus, Provider};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use store::order_payments::OrderPayment;
use store::shop_payments::{self, Credentials, OrangeMoneyCredentials};
use uuid::Uuid;

use crate::helpers::{Shop, TestApp, spawn_billing_app};
use crate::order_payments::link;
use crate::pay_check::ask;
use crate::pay_in_chat::{chat_order, thanks, tx};

/// The API calling a fake Orange Money for the shops' own accounts.
async fn spawn(pool: PgPool, timeout_secs: u64) -> (TestApp, FakeProvider) {
    let om = FakeProvider::orange_money().await;
    let app = spawn_billing_app(pool, |c| {
        c.orange_money_base_url = om.base_url.clone();
        c.provider_timeout_secs = timeout_secs;
    })
    .await;
    (app, om)
}

/// Stores the shop's own Orange Money account (as the checked `PUT /api/v1/payment-settings/orange-money` does).
pub(crate) async fn orange_account(
    app: &TestApp,
    shop: &Shop,
    client_id: &str,
    merchant_key: &str,
) {
    let mut tx = tx(app, shop).await;
    let key = app.master_key.data_key(&mut tx).await.expect("key");
    let credentials = Credentials::OrangeMoney(OrangeMoneyCredentials {
        client_id: SecretString::from(client_id),
        client_secret: SecretString::from(format!("{client_id}-secret")),
        merchant_key: SecretString::from(merchant_key),
    });
    shop_payments::save_account(&mut tx, &key, &credentials, true, Some(Utc::now()))
        .await
        .expect("saved");
    tx.commit().await.expect("commit");
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The customer's pay page.
async fn pay_page(app: &TestApp, link: &OrderPayment) -> String {
    browser()
        .get(format!("{}/pay/{}", app.address, link.token))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body")
}

/// The customer taps "Payer avec Orange Money": where the browser is sent.
async fn tap_pay(app: &TestApp, link: &OrderPayment) -> reqwest::Response {
    browser()
        .post(format!("{}/pay/{}", app.address, link.token))
        .send()
        .await
        .expect("post")
}

/// The Orange order id of the link's current web payment.
async fn orange_order_id(app: &TestApp, link: &OrderPayment) -> Option<String> {
    sqlx::query_scalar("select provider_ref from order_payment where order_payment_id = $1")
        .bind(link.order_payment_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("link")
}

/// Orange's notification to shop `tenant_id`'s `notif_url`: the status code and the body.
async fn notify(
    app: &TestApp,
    tenant_id: Uuid,
    notif_token: &str,
    status: &str,
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!(
            "{}/api/v1/webhooks/shops/{tenant_id}/orange-money",
            app.address
        ))
        .header("content-type", "application/json")
        .body(
            json!({"status": status, "notif_token": notif_token, "txnid": "MP261205.2301.A00001"})
                .to_string(),
        )
        .send()
        .await
        .expect("notification");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn paid_with(app: &TestApp, order_id: Uuid) -> Option<String> {
    sqlx::query_scalar("select paid_with from customer_order where order_id = $1")
        .bind(order_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("order")
}

/// A shop with its Orange Money account, a customer's order and its link, and the web payment the customer
/// opened from it.
struct Opened {
    app: TestApp,
    om: FakeProvider,
    shop: Shop,
    order_id: Uuid,
    link: OrderPayment,
    /// Orange's order id of the web payment.
    orange_id: String,
}

async fn opened(pool: PgPool, timeout_secs: u64) -> Opened {
    let (app, om) = spawn(pool, timeout_secs).await;
    let shop = app.signup("Boutique Awa").await;
    orange_account(&app, &shop, "omA-client", "mkA-1234").await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::OrangeMoney).await;
    assert_eq!(tap_pay(&app, &link).await.status(), StatusCode::SEE_OTHER);
    let orange_id = orange_order_id(&app, &link).await.expect("order id");
    Opened {
        app,
        om,
        shop,
        order_id,
        link,
        orange_id,
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_pays_with_orange_money_on_the_shops_account_and_is_thanked_once(pool: PgPool) {
    // Arrange: two shops with their own Orange Money accounts; Orange answers only shop A's credentials.
    let (app, om) = spawn(pool, 10).await;
    let shop = app.signup("Boutique Awa").await;
    let other = app.signup("Boutique Bintou").await;
    orange_account(&app, &shop, "omA-client", "mkA-1234").await;
    orange_account(&app, &other, "omB-client", "mkB-5678").await;
    om.accept_only("omA-client:omA-client-secret");
    let (order_id, order_ref) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::OrangeMoney).await;

    // Act 1: the page, then two taps.
    let page = pay_page(&app, &link).await;
    let first = tap_pay(&app, &link).await;
    let second = tap_pay(&app, &link).await;

    // Assert 1: one web payment, with shop A's merchant key, for the exact total, notified to shop A's URL.
    assert!(page.contains("Payer 15 000 F avec Orange Money"), "{page}");
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let location = first.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with("https://webpayment-qualif.orange-money.com/payment/pay_token/"),
        "{location}"
    );
    assert_eq!(
        second.headers()["location"],
        location.as_str(),
        "the same web payment"
    );
    let opened = om.requests_to("/webpayment");
    assert_eq!(opened.len(), 1, "one web payment for two taps");
    let request = opened[0].json();
    assert_eq!(request["merchant_key"], "mkA-1234");
    assert_eq!(request["amount"], 15_000);
    assert_eq!(request["reference"], "Boutique Awa");
    assert_eq!(
        request["notif_url"],
        format!(
            "{}/api/v1/webhooks/shops/{}/orange-money",
            app.address, shop.tenant_id
        )
    );
    let orange_id = orange_order_id(&app, &link).await.expect("order id kept");
    assert!(orange_id.len() <= 30, "{orange_id}");
    let notif_token = om.om_notif_token(&orange_id).expect("notif token");

    // Act 2: a notification while Orange still says INITIATED; forged ones.
    let early = notify(&app, shop.tenant_id, &notif_token, "SUCCESS").await;
    let unknown = notify(
        &app,
        shop.tenant_id,
        "0123456789abcdef0123456789abcdef",
        "SUCCESS",
    )
    .await;
    let elsewhere = notify(&app, other.tenant_id, &notif_token, "SUCCESS").await;

    // Assert 2: only Orange's status API can say paid.
    assert_eq!(
        early,
        (StatusCode::OK, json!({"received": true, "result": "open"}))
    );
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        elsewhere.0,
        StatusCode::UNAUTHORIZED,
        "not a link of that shop"
    );
    assert_eq!(paid_with(&app, order_id).await, None);

    // Act 3: paid at Orange; the notification arrives five times at once, then again.
    om.set_om_status(&orange_id, "SUCCESS");
    let concurrent = futures::future::join_all(
        (0..5).map(|_| notify(&app, shop.tenant_id, &notif_token, "SUCCESS")),
    )
    .await;
    let replay = notify(&app, shop.tenant_id, &notif_token, "SUCCESS").await;

    // Assert 3: paid once, thanked once, with shop A's credentials only.
    assert!(
        concurrent.iter().all(|(s, _)| *s == StatusCode::OK),
        "{concurrent:?}"
    );
    let paid = concurrent
        .iter()
        .filter(|(_, b)| b["result"] == "paid")
        .count();
    assert_eq!(paid, 1, "{concurrent:?}");
    assert_eq!(replay.1["result"], "duplicate");
    assert_eq!(
        paid_with(&app, order_id).await.as_deref(),
        Some("orange_money")
    );
    let (stored, queued) = thanks(&app, &shop, link.order_payment_id).await;
    assert_eq!(queued, 1, "one thank-you queued for WhatsApp");
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].contains(&order_ref) && stored[0].contains("15 000 F"),
        "{stored:?}"
    );
    let statuses = om.requests_to("/transactionstatus");
    assert!(
        statuses
            .iter()
            .all(|r| r.json()["order_id"] == orange_id.as_str())
    );
    assert!(
        statuses.iter().all(|r| r.json()["amount"] == 15_000),
        "the amount asked is the order's"
    );
    assert_eq!(
        om.tokens_issued(),
        1,
        "one access token for the shop, reused"
    );
    let metrics = api::metrics::handle().render();
    assert!(
        metrics.contains(
            r#"order_payment_notifications_total{provider="orange_money",verdict="paid"}"#
        ),
        "counted for the operator"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_failed_orange_money_payment_lets_the_customer_try_again(pool: PgPool) {
    let Opened {
        app,
        om,
        shop,
        order_id,
        link,
        orange_id: first_id,
    } = opened(pool, 10).await;
    let notif_token = om.om_notif_token(&first_id).expect("token");

    om.set_om_status(&first_id, "FAILED");
    let failed = notify(&app, shop.tenant_id, &notif_token, "FAILED").await;
    let retried = tap_pay(&app, &link).await;

    assert_eq!(failed.1["result"], "reopened");
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    let second_id = orange_order_id(&app, &link).await.expect("new order id");
    assert_ne!(second_id, first_id, "Orange refuses a reused order id");
    assert_eq!(om.requests_to("/webpayment").len(), 2);
    assert_eq!(paid_with(&app, order_id).await, None);
    let (status, _) = notify(&app, shop.tenant_id, &notif_token, "FAILED").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old token is forgotten"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn j_ai_paye_asks_orange_money_before_answering(pool: PgPool) {
    let (app, om) = spawn(pool, 2).await;
    let shop = app.signup("Boutique Awa").await;
    orange_account(&app, &shop, "omA-client", "mkA-1234").await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::OrangeMoney).await;

    let before_opening = ask(&app, shop.tenant_id, order_id).await;
    assert_eq!(tap_pay(&app, &link).await.status(), StatusCode::SEE_OTHER);
    let orange_id = orange_order_id(&app, &link).await.expect("order id");
    let not_yet = ask(&app, shop.tenant_id, order_id).await;
    om.set_om_status(&orange_id, "SUCCESS");
    om.set_delay(std::time::Duration::from_secs(3));
    let orange_down = ask(&app, shop.tenant_id, order_id).await;
    om.set_delay(std::time::Duration::ZERO);
    let paid = ask(&app, shop.tenant_id, order_id).await;
    let again = ask(&app, shop.tenant_id, order_id).await;

    assert_eq!(
        before_opening,
        PayCheckStatus::Pending,
        "nothing opened, nothing paid"
    );
    assert_eq!(not_yet, PayCheckStatus::Pending);
    assert_eq!(orange_down, PayCheckStatus::Unknown, "never assumed paid");
    assert_eq!(paid, PayCheckStatus::Paid);
    assert_eq!(again, PayCheckStatus::Paid);
    assert_eq!(
        paid_with(&app, order_id).await.as_deref(),
        Some("orange_money")
    );
    let (_, queued) = thanks(&app, &shop, link.order_payment_id).await;
    assert_eq!(queued, 1, "thanked once however often asked");
}

/// Puts the link's expiry `minutes` in the past.
async fn expire_minutes_ago(app: &TestApp, link: &OrderPayment, minutes: i64) {
    sqlx::query(
        "update order_payment set expires_at = now() - make_interval(mins => $2::int) where order_payment_id = $1",
    )
    .bind(link.order_payment_id)
    .bind(minutes as i32)
    .execute(&app.admin_db)
    .await
    .expect("expired");
}

async fn link_status(app: &TestApp, link: &OrderPayment) -> String {
    sqlx::query_scalar("select status from order_payment where order_payment_id = $1")
        .bind(link.order_payment_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("link")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_lost_notification_is_caught_up_before_the_link_expires(pool: PgPool) {
    // Arrange: paid at Orange, whose notification never arrived (Orange does not retry).
    let Opened {
        app,
        om,
        shop,
        order_id,
        link,
        orange_id,
    } = opened(pool, 10).await;
    om.set_om_status(&orange_id, "SUCCESS");
    expire_minutes_ago(&app, &link, 1).await;

    // Act
    api::order_pay::expiry::run(&app.state).await;

    // Assert
    assert_eq!(
        link_status(&app, &link).await,
        "paid",
        "asked before expiring"
    );
    assert_eq!(
        paid_with(&app, order_id).await.as_deref(),
        Some("orange_money")
    );
    let (_, queued) = thanks(&app, &shop, link.order_payment_id).await;
    assert_eq!(queued, 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_link_whose_provider_cannot_be_asked_waits_then_expires(pool: PgPool) {
    let Opened {
        app,
        om,
        order_id,
        link,
        ..
    } = opened(pool, 1).await;
    om.set_delay(std::time::Duration::from_secs(2));

    expire_minutes_ago(&app, &link, 1).await;
    api::order_pay::expiry::run(&app.state).await;
    let while_unsure = link_status(&app, &link).await;
    expire_minutes_ago(&app, &link, 61).await;
    api::order_pay::expiry::run(&app.state).await;
    let an_hour_later = link_status(&app, &link).await;

    assert_eq!(while_unsure, "pending", "not expired on our clock alone");
    assert_eq!(an_hour_later, "expired");
    assert_eq!(paid_with(&app, order_id).await, None);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_back_from_orange_money_sees_the_order_paid_before_the_notification(
    pool: PgPool,
) {
    let Opened {
        app,
        om,
        shop,
        order_id,
        link,
        orange_id,
    } = opened(pool, 10).await;
    let before = pay_page(&app, &link).await;
    om.set_om_status(&orange_id, "SUCCESS");

    let back = pay_page(&app, &link).await;

    assert!(
        before.contains("Payer 15 000 F avec Orange Money"),
        "{before}"
    );
    assert!(back.contains("Commande déjà payée, merci !"), "{back}");
    assert!(!back.contains("Payer 15 000 F"), "{back}");
    assert_eq!(
        paid_with(&app, order_id).await.as_deref(),
        Some("orange_money")
    );
    assert_eq!(thanks(&app, &shop, link.order_payment_id).await.1, 1);
}
