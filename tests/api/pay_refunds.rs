//! Cancelling an order the customer paid with Wave refunds it through Wave's idempotent refund API with the
//! shop's own key, once, and tells the customer; Wave unreachable is retried, Wave refusing leaves the refund
//! to the shop with Wave's reason; the shop cannot mark done by hand a refund Wave is making.

use api::billing::fakes::FakeProvider;
use api::order_pay::refunds;
use reqwest::StatusCode;
use schemas::billing::{PayCheckStatus, Provider};
use serde_json::{Value, json};
use sqlx::PgPool;
use store::TenantCtx;
use uuid::Uuid;

use crate::helpers::{Shop, TestApp, spawn_billing_app};
use crate::order_payments::link;
use crate::pay_check::{ask, open_wave_checkout};
use crate::pay_in_chat::{chat_order, wave_account};
use crate::web_support::WebUser;

const KEY_A: &str = "wave_ci_prod_shopA_key_1111";
const HOOK_A: &str = "wave_ci_WHS_shopA_secret";
const KEY_B: &str = "wave_ci_prod_shopB_key_2222";
const HOOK_B: &str = "wave_ci_WHS_shopB_secret";

/// The API calling a fake Wave for the shops' own accounts, with a billing timeout a loaded test machine
/// meets (10 s).
async fn spawn(pool: PgPool) -> (TestApp, FakeProvider) {
    let wave = FakeProvider::wave().await;
    let app = spawn_billing_app(pool, |c| {
        c.wave_base_url = wave.base_url.clone();
        c.provider_timeout_secs = 10;
    })
    .await;
    (app, wave)
}

/// A WhatsApp order of 15 000 F paid with Wave: its id and Wave checkout session.
async fn paid_with_wave(app: &TestApp, wave: &FakeProvider, shop: &Shop) -> (Uuid, String) {
    let (order_id, _) = chat_order(app, shop).await;
    let link = link(app, shop, order_id, Provider::Wave).await;
    let session = open_wave_checkout(app, &link).await;
    wave.complete_wave_session(&session, "TCN-REFUND-1");
    assert_eq!(
        ask(app, shop.tenant_id, order_id).await,
        PayCheckStatus::Paid
    );
    (order_id, session)
}

/// A shop with its Wave account and a customer's order it paid with Wave: the order and its session.
async fn shop_with_a_wave_paid_order(pool: PgPool) -> (TestApp, FakeProvider, Shop, Uuid, String) {
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, session) = paid_with_wave(&app, &wave, &shop).await;
    (app, wave, shop, order_id, session)
}

async fn cancel(app: &TestApp, shop: &Shop, order_id: Uuid) -> Value {
    let response = app
        .patch(
            &format!("/api/v1/orders/{order_id}"),
            &shop.token,
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn refund_calls(wave: &FakeProvider, session: &str) -> Vec<api::billing::fakes::Recorded> {
    wave.requests_to(&format!("/v1/checkout/sessions/{session}/refund"))
}

/// The refund messages stored in the order's chat.
async fn refund_messages(app: &TestApp, order_id: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "select body from message where wa_message_id = $1 and direction = 'outbound'",
    )
    .bind(format!("refund-{}", order_id.simple()))
    .fetch_all(&app.admin_db)
    .await
    .expect("messages")
}

/// Brings the order's next automatic attempt to now.
async fn retry_now(app: &TestApp, order_id: Uuid) {
    sqlx::query("update customer_order set refund_retry_at = now() - interval '1 second' where order_id = $1")
        .bind(order_id)
        .execute(&app.admin_db)
        .await
        .expect("retry");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn cancelling_an_order_paid_with_wave_refunds_it_through_wave_once(pool: PgPool) {
    // Arrange: two shops on the same Wave, each with its own key.
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let other = app.signup("Boutique Bintou").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    wave_account(&app, &other, KEY_B, HOOK_B).await;
    let (order_id, session) = paid_with_wave(&app, &wave, &shop).await;

    // Act
    let from_other = app
        .patch(
            &format!("/api/v1/orders/{order_id}"),
            &other.token,
            json!({"status": "cancelled"}),
        )
        .await;
    let cancelled = cancel(&app, &shop, order_id).await;
    refunds::run(&app.state).await;
    let by_hand = app
        .post(
            &format!("/api/v1/orders/{order_id}/refund-done"),
            &shop.token,
            json!({}),
        )
        .await;

    // Assert
    assert_eq!(from_other.status(), StatusCode::NOT_FOUND);
    assert_eq!(cancelled["refund_status"], "done", "{cancelled}");
    assert_eq!(cancelled["refunded_by"], "provider");
    let calls = refund_calls(&wave, &session);
    assert_eq!(calls.len(), 1, "asked once, the periodic pass asks no more");
    assert_eq!(
        calls[0].header("authorization").as_deref(),
        Some(format!("Bearer {KEY_A}").as_str()),
        "with the shop's own key"
    );
    assert_eq!(wave.wave_refunds(&session), 1);
    assert_eq!(
        by_hand.status(),
        StatusCode::CONFLICT,
        "nothing left to refund"
    );
    let told = refund_messages(&app, order_id).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains("15 000 F") && told[0].contains("remboursé"),
        "{told:?}"
    );
    let mut web = WebUser::signed_in(&app, &shop).await;
    let detail = web.page(&format!("/app/orders/{order_id}")).await;
    assert!(detail.contains("Remboursée par Wave"), "{detail}");
    assert!(!detail.contains("Marquer comme remboursée"), "{detail}");
    assert!(
        api::metrics::handle()
            .render()
            .contains(r#"order_refunds_total{outcome="refunded"}"#),
        "counted for the operator"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_wave_that_cannot_answer_is_asked_again_later(pool: PgPool) {
    let (app, wave, shop, order_id, session) = shop_with_a_wave_paid_order(pool).await;
    wave.fail_refunds(Some((503, "internal-server-error")));

    let cancelled = cancel(&app, &shop, order_id).await;
    let mut web = WebUser::signed_in(&app, &shop).await;
    let in_progress = web.page(&format!("/app/orders/{order_id}")).await;
    let by_hand = app
        .post(
            &format!("/api/v1/orders/{order_id}/refund-done"),
            &shop.token,
            json!({}),
        )
        .await;
    let too_early = refunds::attempt(&app.state, TenantCtx::new(shop.tenant_id), order_id)
        .await
        .expect("attempt");
    wave.fail_refunds(None);
    retry_now(&app, order_id).await;
    refunds::run(&app.state).await;

    assert_eq!(cancelled["refund_status"], "to_do", "{cancelled}");
    assert_eq!(cancelled["refund_error"], Value::Null, "not given up");
    assert!(
        in_progress.contains("Remboursement en cours par Wave"),
        "{in_progress}"
    );
    assert!(
        !in_progress.contains("Marquer comme remboursée"),
        "{in_progress}"
    );
    assert_eq!(
        by_hand.status(),
        StatusCode::CONFLICT,
        "Wave is refunding it"
    );
    assert_eq!(
        too_early,
        refunds::Attempt::NotDue,
        "waits for its retry time"
    );
    assert_eq!(refund_calls(&wave, &session).len(), 2);
    assert_eq!(wave.wave_refunds(&session), 1);
    let order: Value = app
        .get(&format!("/api/v1/orders/{order_id}"), &shop.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(order["refund_status"], "done");
    assert_eq!(refund_messages(&app, order_id).await.len(), 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_refund_wave_refuses_is_left_to_the_shop_with_waves_reason(pool: PgPool) {
    let (app, wave, shop, order_id, session) = shop_with_a_wave_paid_order(pool).await;
    wave.fail_refunds(Some((400, "insufficient-funds")));

    let cancelled = cancel(&app, &shop, order_id).await;
    refunds::run(&app.state).await;
    let mut web = WebUser::signed_in(&app, &shop).await;
    let detail = web.page(&format!("/app/orders/{order_id}")).await;
    let by_hand = web
        .submit(
            &format!("/app/orders/{order_id}"),
            &format!("/app/orders/{order_id}/refund-done"),
            &[],
        )
        .await;

    assert_eq!(cancelled["refund_status"], "to_do");
    assert_eq!(cancelled["refund_error"], "insufficient-funds");
    assert_eq!(
        refund_calls(&wave, &session).len(),
        1,
        "a refusal is not retried"
    );
    assert!(
        detail.contains("pu rembourser automatiquement (insufficient-funds)"),
        "{detail}"
    );
    assert!(detail.contains("Marquer comme remboursée"), "{detail}");
    assert_eq!(by_hand.status(), StatusCode::SEE_OTHER);
    let order: Value = app
        .get(&format!("/api/v1/orders/{order_id}"), &shop.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(order["refund_status"], "done");
    assert_eq!(order["refunded_by"], "shop");
    assert!(
        refund_messages(&app, order_id).await.is_empty(),
        "no refund claimed to the customer"
    );
}
