//! Customers pay their order inside the WhatsApp chat, on the shop's own merchant account: the public pay page
//! (`/pay/{token}`) shows the order and opens one Wave checkout with the shop's own key; the shop's own Wave
//! webhook, signed with its secret, marks the order paid once and thanks the customer once; the sandbox walks
//! the same path without money; the shop sees the payment and marks the refund of a cancelled paid order.

use api::billing::fakes::FakeProvider;
use api::billing::signature::{self, Scheme};
use chrono::Utc;
use reqwest::StatusCode;
use schemas::Channel;
use schemas::billing::Provider;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use store::shop_payments::{self, Credentials, WaveCredentials};
use store::{TenantCtx, chats};
use uuid::Uuid;

use crate::helpers::{Shop, TestApp, spawn_billing_app};
use crate::order_payments::{link, place_order};
use crate::web_support::WebUser;

const KEY_A: &str = "wave_ci_prod_shopA_key_1111";
const HOOK_A: &str = "wave_ci_WHS_shopA_secret";
const KEY_B: &str = "wave_ci_prod_shopB_key_2222";
const HOOK_B: &str = "wave_ci_WHS_shopB_secret";
const CUSTOMER: &str = "2250701020304@s.whatsapp.net";

/// The API (sandbox on) calling a fake Wave for the shops' own accounts.
async fn spawn(pool: PgPool) -> (TestApp, FakeProvider) {
    let wave = FakeProvider::wave().await;
    let app = spawn_billing_app(pool, |c| c.wave_base_url = wave.base_url.clone()).await;
    (app, wave)
}

/// A browser that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub(crate) async fn tx(app: &TestApp, shop: &Shop) -> store::TenantTx<'static> {
    app.db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx")
}

/// Stores the shop's own Wave account (as the checked `PUT /api/v1/payment-settings/wave` does).
pub(crate) async fn wave_account(app: &TestApp, shop: &Shop, api_key: &str, webhook_secret: &str) {
    let mut tx = tx(app, shop).await;
    let key = app.master_key.data_key(&mut tx).await.expect("key");
    let credentials = Credentials::Wave(WaveCredentials {
        api_key: SecretString::from(api_key),
        webhook_secret: SecretString::from(webhook_secret),
    });
    shop_payments::save_account(&mut tx, &key, &credentials, true, Some(Utc::now()))
        .await
        .expect("saved");
    tx.commit().await.expect("commit");
}

/// A customer's WhatsApp order of 2 pagnes at 7 500 F (15 000 F): its id and reference.
pub(crate) async fn chat_order(app: &TestApp, shop: &Shop) -> (Uuid, String) {
    let mut tx = tx(app, shop).await;
    let (chat_id, _) =
        chats::upsert_for_message(&mut tx, Channel::Whatsapp, CUSTOMER, "Koffi", Utc::now())
            .await
            .expect("chat");
    tx.commit().await.expect("commit");
    let order = place_order(app, shop, "Pagne wax", Some(chat_id)).await;
    (order.order_id, order.order_ref)
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = browser()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("get");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

async fn post(app: &TestApp, path: &str) -> reqwest::Response {
    browser()
        .post(format!("{}{path}", app.address))
        .send()
        .await
        .expect("post")
}

/// The customer paid `amount` at Wave for a link: Wave's `checkout.session.completed` for that session (which
/// the webhook re-reads from Wave).
fn completed(wave: &FakeProvider, event_id: &str, link_id: Uuid, amount: &str) -> String {
    let session_id = wave.paid_wave_session(amount, &link_id.to_string());
    completed_event(wave, event_id, &session_id)
}

/// Wave's `checkout.session.completed` for a session it holds.
fn completed_event(wave: &FakeProvider, event_id: &str, session_id: &str) -> String {
    json!({
        "id": event_id,
        "type": "checkout.session.completed",
        "data": wave.wave_session(session_id).expect("a Wave session"),
    })
    .to_string()
}

/// Delivers a notification to shop `tenant_id`'s Wave webhook, signed with `secret`.
async fn deliver(app: &TestApp, tenant_id: Uuid, secret: &str, body: &str) -> StatusCode {
    let signed = signature::header(
        secret.as_bytes(),
        Scheme::Concatenated,
        Utc::now().timestamp(),
        body.as_bytes(),
    );
    app.client
        .post(format!(
            "{}/api/v1/webhooks/shops/{tenant_id}/wave",
            app.address
        ))
        .header("content-type", "application/json")
        .header("Wave-Signature", signed)
        .body(body.to_owned())
        .send()
        .await
        .expect("webhook")
        .status()
}

/// The thank-you messages stored in the order's chat for a link, and the WhatsApp replies queued for them.
pub(crate) async fn thanks(app: &TestApp, shop: &Shop, link_id: Uuid) -> (Vec<String>, i64) {
    let outbound_id = format!("paid-{}", link_id.simple());
    let stored: Vec<String> = sqlx::query_scalar(
        "select body from message where tenant_id = $1 and wa_message_id = $2 and direction = 'outbound'",
    )
    .bind(shop.tenant_id)
    .bind(&outbound_id)
    .fetch_all(&app.admin_db)
    .await
    .expect("messages");
    let queued: i64 = sqlx::query_scalar(
        "select count(*) from outbox where tenant_id = $1 and subject like '%.out.%'
           and payload->>'outbound_id' = $2",
    )
    .bind(shop.tenant_id)
    .bind(&outbound_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("outbox");
    (stored, queued)
}

async fn order_json(app: &TestApp, shop: &Shop, order_id: Uuid) -> Value {
    app.get(&format!("/api/v1/orders/{order_id}"), &shop.token)
        .await
        .json()
        .await
        .expect("json")
}

async fn link_status(app: &TestApp, link_id: Uuid) -> String {
    sqlx::query_scalar("select status from order_payment where order_payment_id = $1")
        .bind(link_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("link")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_pay_page_shows_the_shop_the_order_and_its_total(pool: PgPool) {
    // Arrange
    let (app, _wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, reference) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;

    // Act
    let (status, body) = page(&app, &format!("/pay/{}", link.token)).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "Boutique Awa",
        reference.as_str(),
        "2 × Pagne wax",
        "15 000 F",
        "Payer 15 000 F avec Wave",
    ] {
        assert!(body.contains(expected), "{expected:?} in {body}");
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn paying_opens_one_wave_checkout_with_the_shops_own_key(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let path = format!("/pay/{}", link.token);

    // Act
    let first = post(&app, &path).await;
    let second = post(&app, &path).await;

    // Assert
    let checkouts = wave.requests_to("/v1/checkout/sessions");
    let checkouts: Vec<_> = checkouts.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(checkouts.len(), 1, "one checkout for two taps");
    let sent = checkouts[0];
    assert_eq!(
        sent.header("authorization").as_deref(),
        Some(format!("Bearer {KEY_A}").as_str()),
        "the shop's own key"
    );
    let body = sent.json();
    assert_eq!(body["amount"], "15000");
    assert_eq!(body["currency"], "XOF");
    assert_eq!(body["client_reference"], link.order_payment_id.to_string());
    assert!(
        body["success_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&path)),
        "back to the pay page: {body}"
    );
    for response in [first, second] {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let to = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(to.starts_with("https://pay.wave.com/c/"), "to Wave: {to}");
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_wave_that_does_not_answer_leaves_the_link_to_try_again(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    wave.accept_only("another key");

    // Act
    let response = post(&app, &format!("/pay/{}", link.token)).await;

    // Assert
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body = response.text().await.expect("body");
    assert!(
        body.contains("Wave ne répond pas, réessayez dans un instant."),
        "{body}"
    );
    assert_eq!(link_status(&app, link.order_payment_id).await, "pending");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_shops_signed_webhook_marks_the_order_paid_and_thanks_once_under_replays(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, reference) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let body = completed(&wave, "EV_paid_1", link.order_payment_id, "15000");

    // Act: Wave retries the same event five times.
    for _ in 0..5 {
        assert_eq!(
            deliver(&app, shop.tenant_id, HOOK_A, &body).await,
            StatusCode::OK
        );
    }

    // Assert
    let order = order_json(&app, &shop, order_id).await;
    assert!(order["paid_at"].is_string(), "paid: {order}");
    assert_eq!(order["paid_with"], "wave");
    let (stored, queued) = thanks(&app, &shop, link.order_payment_id).await;
    assert_eq!(
        stored,
        vec![format!(
            "Merci, nous avons bien reçu votre paiement de 15 000 F pour la commande {reference}. \
             La boutique prépare votre commande."
        )],
        "one thank-you in the chat"
    );
    assert_eq!(queued, 1, "one WhatsApp reply queued");
    let (status, page) = page(&app, &format!("/pay/{}", link.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Commande déjà payée, merci !"), "{page}");
    assert!(!page.contains("pay-button"), "nothing left to pay");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn concurrent_deliveries_pay_and_thank_once(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let session_id = wave.paid_wave_session("15000", &link.order_payment_id.to_string());

    // Act: ten deliveries at once, half of them distinct events for the same payment.
    let bodies: Vec<String> = (0..10)
        .map(|i| completed_event(&wave, &format!("EV_c_{}", i % 2), &session_id))
        .collect();
    let statuses = futures::future::join_all(
        bodies
            .iter()
            .map(|body| deliver(&app, shop.tenant_id, HOOK_A, body)),
    )
    .await;

    // Assert
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let (stored, queued) = thanks(&app, &shop, link.order_payment_id).await;
    assert_eq!((stored.len(), queued), (1, 1), "one thank-you");
    assert_eq!(link_status(&app, link.order_payment_id).await, "paid");
    let paid: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where tenant_id = $1 and action = 'order.paid'",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("audit");
    assert_eq!(paid, 1, "one audit entry");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_payment_of_another_amount_marks_nothing_paid(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;

    // Act
    let status = deliver(
        &app,
        shop.tenant_id,
        HOOK_A,
        &completed(&wave, "EV_short", link.order_payment_id, "100"),
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "received, so Wave stops retrying");
    assert!(order_json(&app, &shop, order_id).await["paid_at"].is_null());
    assert_eq!(link_status(&app, link.order_payment_id).await, "failed");
    assert_eq!(thanks(&app, &shop, link.order_payment_id).await.0.len(), 0);
    let (_, page) = page(&app, &format!("/pay/{}", link.token)).await;
    assert!(
        page.contains("Ce lien a expiré : demandez un nouveau lien dans la conversation WhatsApp."),
        "{page}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn another_shops_secret_or_webhook_url_changes_nothing(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop_a = app.signup("Boutique Awa").await;
    let shop_b = app.signup("Boutique Bintou").await;
    wave_account(&app, &shop_a, KEY_A, HOOK_A).await;
    wave_account(&app, &shop_b, KEY_B, HOOK_B).await;
    let (order_id, _) = chat_order(&app, &shop_a).await;
    let link = link(&app, &shop_a, order_id, Provider::Wave).await;
    let body = completed(&wave, "EV_cross", link.order_payment_id, "15000");

    // Act
    let with_b_secret = deliver(&app, shop_a.tenant_id, HOOK_B, &body).await;
    let through_b = deliver(&app, shop_b.tenant_id, HOOK_B, &body).await;
    let unknown_shop = deliver(&app, Uuid::new_v4(), HOOK_A, &body).await;
    let unsigned = app
        .client
        .post(format!(
            "{}/api/v1/webhooks/shops/{}/wave",
            app.address, shop_a.tenant_id
        ))
        .body(body.clone())
        .send()
        .await
        .expect("unsigned")
        .status();

    // Assert
    assert_eq!(
        with_b_secret,
        StatusCode::UNAUTHORIZED,
        "another shop's secret"
    );
    assert_eq!(
        through_b,
        StatusCode::OK,
        "B's own webhook, validly signed, ignores A's link"
    );
    assert_eq!(unknown_shop, StatusCode::UNAUTHORIZED);
    assert_eq!(unsigned, StatusCode::UNAUTHORIZED);
    assert!(order_json(&app, &shop_a, order_id).await["paid_at"].is_null());
    assert_eq!(link_status(&app, link.order_payment_id).await, "pending");
    assert!(
        thanks(&app, &shop_a, link.order_payment_id)
            .await
            .0
            .is_empty()
    );

    // The right shop's delivery of the same event still pays: nothing was recorded for it.
    assert_eq!(
        deliver(&app, shop_a.tenant_id, HOOK_A, &body).await,
        StatusCode::OK
    );
    assert_eq!(link_status(&app, link.order_payment_id).await, "paid");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_sandbox_pays_without_money_and_thanks(pool: PgPool) {
    // Arrange
    let (app, _wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let (order_id, reference) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Sandbox).await;
    let path = format!("/pay/{}", link.token);
    let (_, shown) = page(&app, &path).await;
    assert!(
        shown.contains("Paiement test — aucun argent ne circule"),
        "{shown}"
    );

    // Act
    let refused = post(&app, &format!("{path}/sandbox/refuse")).await;
    let refused = refused.text().await.expect("body");
    let paid = post(&app, &format!("{path}/sandbox/pay")).await;
    let again = post(&app, &format!("{path}/sandbox/pay")).await;

    // Assert
    assert!(refused.contains("Paiement refusé"), "{refused}");
    assert_eq!(paid.status(), StatusCode::OK);
    assert!(paid.text().await.expect("body").contains("Paiement reçu"));
    assert!(
        again
            .text()
            .await
            .expect("body")
            .contains("Commande déjà payée, merci !")
    );
    let order = order_json(&app, &shop, order_id).await;
    assert_eq!(order["paid_with"], "sandbox");
    let (stored, queued) = thanks(&app, &shop, link.order_payment_id).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains(&reference), "{stored:?}");
    assert_eq!(queued, 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn unknown_expired_cancelled_and_removed_account_links_say_why(pool: PgPool) {
    // Arrange
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (expired_order, _) = chat_order(&app, &shop).await;
    let expired = link(&app, &shop, expired_order, Provider::Wave).await;
    sqlx::query("update order_payment set expires_at = now() - interval '1 minute' where order_payment_id = $1")
        .bind(expired.order_payment_id)
        .execute(&app.admin_db)
        .await
        .expect("expire");
    let (cancelled_order, _) = chat_order(&app, &shop).await;
    let cancelled = link(&app, &shop, cancelled_order, Provider::Wave).await;
    let response = app
        .patch(
            &format!("/api/v1/orders/{cancelled_order}"),
            &shop.token,
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (orphan_order, _) = chat_order(&app, &shop).await;
    let orphan = link(&app, &shop, orphan_order, Provider::Wave).await;

    // Act
    let unknown = page(&app, "/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    let expired_page = page(&app, &format!("/pay/{}", expired.token)).await;
    let expired_post = post(&app, &format!("/pay/{}", expired.token)).await;
    let cancelled_page = page(&app, &format!("/pay/{}", cancelled.token)).await;
    let mut tx = tx(&app, &shop).await;
    shop_payments::remove_account(&mut tx, shop_payments::MerchantProvider::Wave)
        .await
        .expect("removed");
    tx.commit().await.expect("commit");
    let orphan_post = post(&app, &format!("/pay/{}", orphan.token)).await;

    // Assert
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
    assert!(unknown.1.contains("Lien de paiement introuvable."));
    assert!(
        expired_page
            .1
            .contains("Ce lien a expiré : demandez un nouveau lien dans la conversation WhatsApp."),
        "{}",
        expired_page.1
    );
    assert_eq!(expired_post.status(), StatusCode::OK, "a page, no checkout");
    assert!(
        cancelled_page.1.contains("Cette commande a été annulée"),
        "{}",
        cancelled_page.1
    );
    assert_eq!(orphan_post.status(), StatusCode::CONFLICT);
    assert!(
        orphan_post
            .text()
            .await
            .expect("body")
            .contains("accepte plus le paiement par Wave")
    );
    assert!(
        wave.requests_to("/v1/checkout/sessions").is_empty(),
        "no checkout opened for any of them"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_cancelled_paid_order_shows_its_refund_until_the_shop_marks_it_done(pool: PgPool) {
    // Arrange: paid through the sandbox, then cancelled.
    let (app, _wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let other = app.signup("Boutique Bintou").await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Sandbox).await;
    let paid = post(&app, &format!("/pay/{}/sandbox/pay", link.token)).await;
    assert_eq!(paid.status(), StatusCode::OK);
    let mut web = WebUser::signed_in(&app, &shop).await;
    let detail = web.page(&format!("/app/orders/{order_id}")).await;
    assert!(detail.contains("Payée (test) le"), "{detail}");
    let path = format!("/api/v1/orders/{order_id}/refund-done");
    assert_eq!(
        app.post(&path, &shop.token, json!({})).await.status(),
        StatusCode::CONFLICT,
        "nothing to refund before the cancellation"
    );
    let cancelled = app
        .patch(
            &format!("/api/v1/orders/{order_id}"),
            &shop.token,
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let detail = web.page(&format!("/app/orders/{order_id}")).await;
    assert!(detail.contains("Remboursement à faire"), "{detail}");
    assert!(detail.contains("Marquer comme remboursée"), "{detail}");
    let list = web.page("/app/orders").await;
    assert!(list.contains("Remboursement à faire"), "{list}");

    // Act
    let from_other = app.post(&path, &other.token, json!({})).await;
    let done = web
        .submit(
            &format!("/app/orders/{order_id}"),
            &format!("/app/orders/{order_id}/refund-done"),
            &[],
        )
        .await;
    let twice = app.post(&path, &shop.token, json!({})).await;

    // Assert
    assert_eq!(
        from_other.status(),
        StatusCode::NOT_FOUND,
        "another shop's order"
    );
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(twice.status(), StatusCode::CONFLICT, "refunded once");
    let order = order_json(&app, &shop, order_id).await;
    assert_eq!(order["refund_status"], "done");
    let detail = web.page(&format!("/app/orders/{order_id}")).await;
    assert!(!detail.contains("Marquer comme remboursée"), "{detail}");
    assert!(detail.contains("Remboursée"), "{detail}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_payment_arriving_after_the_cancellation_is_owed_back_without_thanks(pool: PgPool) {
    // Arrange: the customer opened Wave, the shop cancelled meanwhile.
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let cancelled = app
        .patch(
            &format!("/api/v1/orders/{order_id}"),
            &shop.token,
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);

    // Act
    let status = deliver(
        &app,
        shop.tenant_id,
        HOOK_A,
        &completed(&wave, "EV_late", link.order_payment_id, "15000"),
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    let order = order_json(&app, &shop, order_id).await;
    assert!(order["paid_at"].is_string(), "{order}");
    assert_eq!(order["refund_status"], "to_do", "the shop owes it back");
    assert!(
        thanks(&app, &shop, link.order_payment_id)
            .await
            .0
            .is_empty(),
        "no thanks for an order that will not be prepared"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_expired_link_s_wave_session_is_expired_at_wave(pool: PgPool) {
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let session = crate::pay_check::open_wave_checkout(&app, &link).await;
    sqlx::query("update order_payment set expires_at = now() - interval '1 minute' where order_payment_id = $1")
        .bind(link.order_payment_id)
        .execute(&app.admin_db)
        .await
        .expect("past");

    api::order_pay::expiry::run(&app.state).await;

    assert_eq!(link_status(&app, link.order_payment_id).await, "expired");
    let at_wave = wave.wave_session(&session).expect("session");
    assert_eq!(at_wave["checkout_status"], "expired", "no longer payable");
    let asked = wave.requests_to(&format!("/v1/checkout/sessions/{session}"));
    assert_eq!(asked.len(), 1, "Wave was asked before expiring: {asked:?}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_webhook_wave_does_not_confirm_pays_nothing(pool: PgPool) {
    // Arrange: a signed notification claims a payment; Wave's session says otherwise.
    let (app, wave) = spawn(pool).await;
    let shop = app.signup("Boutique Awa").await;
    wave_account(&app, &shop, KEY_A, HOOK_A).await;
    let (order_id, _) = chat_order(&app, &shop).await;
    let link = link(&app, &shop, order_id, Provider::Wave).await;
    let session_id = crate::pay_check::open_wave_checkout(&app, &link).await;
    let mut claimed: Value =
        serde_json::from_str(&completed_event(&wave, "EV_claim", &session_id)).expect("json");
    claimed["data"]["payment_status"] = json!("succeeded");
    let claimed = claimed.to_string();

    // Act: Wave's session is still open; then Wave cannot be reached; then the customer really pays.
    let unconfirmed = deliver(&app, shop.tenant_id, HOOK_A, &claimed).await;
    wave.set_delay(std::time::Duration::from_secs(3));
    let unreachable = deliver(&app, shop.tenant_id, HOOK_A, &claimed).await;
    wave.set_delay(std::time::Duration::ZERO);
    wave.complete_wave_session(&session_id, "TCN-9");
    let confirmed = deliver(&app, shop.tenant_id, HOOK_A, &claimed).await;

    // Assert: only Wave's own answer pays, and the same event is checked again until it does.
    assert_eq!(unconfirmed, StatusCode::OK);
    assert_eq!(unreachable, StatusCode::BAD_GATEWAY, "Wave delivers again");
    assert_eq!(confirmed, StatusCode::OK);
    assert_eq!(link_status(&app, link.order_payment_id).await, "paid");
    assert_eq!(thanks(&app, &shop, link.order_payment_id).await.1, 1);
}
