//! "J'ai payé": when a customer says they paid, the workers ask the API over NATS
//! (`tdj.pay.check.<tenant>`) and the API asks the provider with the shop's own key before answering. A paid
//! Wave session settles the order once (one thank-you), however many times it is asked; a provider that cannot
//! be asked answers `unknown`, never `paid`; another shop's order is not seen and costs no provider call.

use api::billing::fakes::FakeProvider;
use api::billing::signature::{self, Scheme};
use chrono::Utc;
use schemas::billing::{PayCheck, PayCheckReply, PayCheckStatus, Provider};
use serde_json::json;
use sqlx::PgPool;
use store::order_payments::OrderPayment;
use uuid::Uuid;

use crate::helpers::{Shop, TestApp, spawn_billing_app};
use crate::order_payments::link;
use crate::pay_in_chat::{chat_order, wave_account};

const KEY_A: &str = "wave_ci_prod_shopA_key_1111";
const HOOK_A: &str = "wave_ci_WHS_shopA_secret";
const KEY_B: &str = "wave_ci_prod_shopB_key_2222";
const HOOK_B: &str = "wave_ci_WHS_shopB_secret";

/// The API calling a fake Wave for the shops' own accounts, with a billing timeout a loaded test machine
/// meets (10 s).
async fn spawn(pool: PgPool) -> (TestApp, FakeProvider) {
    spawn_with_timeout(pool, 10).await
}

async fn spawn_with_timeout(pool: PgPool, timeout_secs: u64) -> (TestApp, FakeProvider) {
    let wave = FakeProvider::wave().await;
    let app = spawn_billing_app(pool, |c| {
        c.wave_base_url = wave.base_url.clone();
        c.provider_timeout_secs = timeout_secs;
    })
    .await;
    (app, wave)
}

/// The customer taps "Payer avec Wave" on the pay page: the Wave checkout session id the link records.
pub(crate) async fn open_wave_checkout(app: &TestApp, link: &OrderPayment) -> String {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/pay/{}", app.address, link.token))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER, "to Wave");
    sqlx::query_scalar("select provider_ref from order_payment where order_payment_id = $1")
        .bind(link.order_payment_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("session id recorded")
}

/// What a worker asks when a customer of `tenant_id` says they paid order `order_id`.
pub(crate) async fn ask(app: &TestApp, tenant_id: Uuid, order_id: Uuid) -> PayCheckStatus {
    let body = serde_json::to_vec(&PayCheck { order_id }).expect("json");
    let reply = app
        .nats
        .request(app.subjects.pay_check(tenant_id), body.into())
        .await
        .expect("an answer");
    serde_json::from_slice::<PayCheckReply>(&reply.payload)
        .expect("a reply")
        .status
}

/// Wave's session reads (`GET /v1/checkout/sessions/{id}`) so far.
fn session_reads(wave: &FakeProvider) -> usize {
    wave.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/v1/checkout/sessions/"))
        .count()
}

async fn order_paid(app: &TestApp, order_id: Uuid) -> bool {
    sqlx::query_scalar("select paid_at is not null from customer_order where order_id = $1")
        .bind(order_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("order")
}

/// How many thank-you messages are stored for a link, and how many WhatsApp replies are queued for them.
async fn thanks(app: &TestApp, shop: &Shop, link_id: Uuid) -> (i64, i64) {
    let (stored, queued) = crate::pay_in_chat::thanks(app, shop, link_id).await;
    (stored.len() as i64, queued)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_who_paid_on_wave_is_confirmed_by_wave_and_thanked_once(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let session_id = open_wave_checkout(&app, &link).await;

    // Act: the customer says "j'ai payé" before paying, then pays and says it five times at once.
    let before = ask(&app, shop.tenant_id, order_id).await;
    wave.complete_wave_session(&session_id, "TCN-18");
    let asks = (0..5).map(|_| ask(&app, shop.tenant_id, order_id));
    let after = futures::future::join_all(asks).await;

    // Assert
    assert_eq!(before, PayCheckStatus::Pending, "Wave has no payment yet");
    assert_eq!(
        after,
        vec![PayCheckStatus::Paid; 5],
        "every ask sees it paid"
    );
    assert!(order_paid(&app, order_id).await, "the order is marked paid");
    assert_eq!(
        thanks(&app, &shop, link.order_payment_id).await,
        (1, 1),
        "one thank-you stored and queued"
    );
    let reads = wave.requests();
    let read = reads
        .iter()
        .find(|r| r.method == "GET")
        .expect("Wave was asked");
    assert_eq!(
        read.header("authorization").as_deref(),
        Some(format!("Bearer {KEY_A}").as_str()),
        "with the shop's own key"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_paid_order_is_confirmed_without_asking_wave(pool: PgPool) {
    // Arrange: Wave's signed webhook paid the order.
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let session_id = open_wave_checkout(&app, &link).await;
    wave.complete_wave_session(&session_id, "TCN-1");
    let body = json!({
        "id": "EV_paid_check_1",
        "type": "checkout.session.completed",
        "data": {
            "id": session_id,
            "amount": "15000",
            "currency": "XOF",
            "checkout_status": "complete",
            "payment_status": "succeeded",
            "client_reference": link.order_payment_id.to_string(),
            "transaction_id": "TCN-1",
        }
    })
    .to_string();
    let signed = signature::header(
        HOOK_A.as_bytes(),
        Scheme::Concatenated,
        Utc::now().timestamp(),
        body.as_bytes(),
    );
    let delivered = app
        .client
        .post(format!(
            "{}/api/v1/webhooks/shops/{}/wave",
            app.address, shop.tenant_id
        ))
        .header("content-type", "application/json")
        .header("Wave-Signature", signed)
        .body(body)
        .send()
        .await
        .expect("webhook");
    assert_eq!(delivered.status(), reqwest::StatusCode::OK);
    assert!(order_paid(&app, order_id).await, "paid by the webhook");
    let reads = session_reads(&wave);

    // Act
    let status = ask(&app, shop.tenant_id, order_id).await;

    // Assert
    assert_eq!(status, PayCheckStatus::Paid);
    assert_eq!(session_reads(&wave), reads, "Wave is not asked again");
    assert_eq!(
        thanks(&app, &shop, link.order_payment_id).await,
        (1, 1),
        "still one thank-you"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_wave_that_does_not_answer_in_time_is_unknown_never_paid(pool: PgPool) {
    // Arrange: the customer paid, but Wave answers after the 2 s billing timeout.
    let (app, wave) = spawn_with_timeout(pool, 2).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let session_id = open_wave_checkout(&app, &link).await;
    wave.complete_wave_session(&session_id, "TCN-18");
    wave.set_delay(std::time::Duration::from_secs(4));

    // Act
    let status = ask(&app, shop.tenant_id, order_id).await;

    // Assert
    assert_eq!(status, PayCheckStatus::Unknown);
    assert!(!order_paid(&app, order_id).await, "nothing settled");
    assert_eq!(thanks(&app, &shop, link.order_payment_id).await, (0, 0));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn another_shops_order_is_not_seen_and_asks_no_provider(pool: PgPool) {
    // Arrange: shop B's customer opened and paid a Wave checkout.
    let (app, wave) = spawn(pool).await;
    let shop_a = app.signup("Boutique Awa").await;
    let shop_b = app.signup("Boutique Binta").await;
    wave_account(&app, &shop_a, KEY_A, HOOK_A).await;
    wave_account(&app, &shop_b, KEY_B, HOOK_B).await;
    let (order_b, _) = chat_order(&app, &shop_b).await;
    let link_b = link(&app, &shop_b, order_b, Provider::Wave).await;
    let session_id = open_wave_checkout(&app, &link_b).await;
    wave.complete_wave_session(&session_id, "TCN-B");

    // Act: shop B's order id asked on shop A's subject.
    let status = ask(&app, shop_a.tenant_id, order_b).await;

    // Assert
    assert_eq!(status, PayCheckStatus::None, "shop A has no such order");
    assert_eq!(session_reads(&wave), 0, "no provider asked");
    assert!(!order_paid(&app, order_b).await, "shop B's order untouched");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn orders_without_an_open_link_answer_none_and_sandbox_links_pending(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let (without_link, _) = chat_order(&app, &shop).await;
    let (with_sandbox, _) = chat_order(&app, &shop).await;
    link(&app, &shop, with_sandbox, Provider::Sandbox).await;

    // Act
    let cases = [
        (Uuid::new_v4(), PayCheckStatus::None, "an unknown order"),
        (
            without_link,
            PayCheckStatus::None,
            "an order never sent a link",
        ),
        (
            with_sandbox,
            PayCheckStatus::Pending,
            "a pending sandbox link",
        ),
    ];

    // Assert
    for (order_id, expected, case) in cases {
        assert_eq!(
            ask(&app, shop.tenant_id, order_id).await,
            expected,
            "{case}"
        );
    }
    assert!(wave.requests().is_empty(), "no provider asked");
}
