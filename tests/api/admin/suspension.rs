//! An operator suspension is its own state, with its own words: the shop is told the operator's reason (never
//! "pay your subscription"), its pages show it, paying and the test chat are refused with the reason and whom
//! to contact, its sessions end, its data stays, and reactivating restores answering.

use std::sync::Arc;

use reqwest::StatusCode;
use schemas::Channel;
use serde_json::{Value, json};
use sqlx::PgPool;
use workers::Outcome;
use workers::llm::offline::Offline;

use super::support::{self, Admin};
use crate::bot_support::{inbound, pipeline};
use crate::helpers::{Shop, TestApp, spawn_app};
use crate::web_support::{WebUser, location};

const REASON: &str = "Fraude signalée par plusieurs clients";
const CUSTOMER: &str = "2250700000042@s.whatsapp.net";

/// A paid shop (its bot answers WhatsApp customers) and an administrator.
async fn paid_shop(app: &TestApp) -> (Shop, Admin) {
    let shop = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&shop, "pro").await;
    app.create_product_ok(&shop, json!({"name": "Pagne wax", "price_xof": 7500}))
        .await;
    (shop, support::create_admin(app).await)
}

/// A WhatsApp customer's message handled by one worker step; returns the stored message (status, detail).
async fn customer_writes(app: &TestApp, shop: &Shop, text: &str) -> (String, String) {
    let (_, mut message) = inbound(app, shop, CUSTOMER, text);
    message.channel = Channel::Whatsapp;
    let subject = app.subjects.inbound(shop.tenant_id, message.chat_key());
    let outcome = pipeline(app, Arc::new(Offline::new()))
        .process_delivery(&subject, &serde_json::to_vec(&message).expect("json"), 1)
        .await;
    assert_eq!(outcome, Outcome::Ack);
    support::settled(app, &message.wa_message_id).await
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_operator_suspension_tells_the_shop_the_operators_reason_not_to_pay(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let (shop, admin) = paid_shop(&app).await;
    let unpaid = app.signup("Boutique Marcory").await;
    app.pay_with_sandbox(&unpaid, "pro").await;
    sqlx::query("update subscription set status = 'suspended' where tenant_id = $1")
        .bind(unpaid.tenant_id)
        .execute(&app.admin_db)
        .await
        .expect("lapse");

    // Act
    support::set_status(&app, &admin, &shop, "suspended", REASON).await;
    let (status, detail) = customer_writes(&app, &shop, "bonjour, le pagne est dispo ?").await;
    let (_, unpaid_detail) = customer_writes(&app, &unpaid, "bonjour").await;

    // Assert
    assert_eq!(status, "skipped", "the customer gets no reply");
    assert!(
        detail.contains("suspendue par l'équipe Tdjaasa") && detail.contains(REASON),
        "the shop is told who suspended it and why: {detail}"
    );
    assert!(
        !detail.contains("Réglez votre abonnement"),
        "paying is not the way out: {detail}"
    );
    assert!(
        unpaid_detail.contains("Réglez votre abonnement") && !unpaid_detail.contains("équipe"),
        "non-payment keeps its own message: {unpaid_detail}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_suspension_and_its_reason_are_stored_on_the_shop_and_shown_on_its_pages(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let (shop, admin) = paid_shop(&app).await;

    // Act
    support::set_status(&app, &admin, &shop, "suspended", REASON).await;
    let again = support::owner_again(&app, &shop).await;
    let mut web = WebUser::signed_in(&app, &again).await;
    let home = web.page("/app").await;
    let billing_page = web.page("/app/billing").await;
    let billing: Value = app
        .billing_overview(&again.token)
        .await
        .json()
        .await
        .expect("json");

    // Assert
    let (reason, at, by): (
        Option<String>,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<uuid::Uuid>,
    ) = sqlx::query_as(
        "select suspended_reason, suspended_at, suspended_by from tenant where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("tenant");
    assert_eq!(reason.as_deref(), Some(REASON));
    assert!(at.is_some());
    assert_eq!(by, Some(admin.user_id), "who suspended it");
    assert!(
        home.contains("id=\"operator-suspension\"") && home.contains(REASON),
        "the home page gives the operator's reason: {home}"
    );
    assert!(
        !home.contains("href=\"/app/billing\">Payer"),
        "and offers no payment that would not lift it"
    );
    assert!(
        billing_page.contains(&format!("Suspendue par l&#39;équipe Tdjaasa : {REASON}"))
            || billing_page.contains(&format!("Suspendue par l'équipe Tdjaasa : {REASON}")),
        "the billing page shows the real state: {billing_page}"
    );
    assert!(
        !billing_page.contains(">Actif<"),
        "not `active`: {billing_page}"
    );
    assert!(
        billing_page.contains("id=\"pay-refused\"") && !billing_page.contains("id=\"pay-form\""),
        "no pay button while paying cannot help"
    );
    assert_eq!(billing["operator_suspension"]["reason"], REASON);
    assert_eq!(
        billing["subscription"]["status"], "active",
        "the subscription itself is still paid"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn paying_is_refused_while_suspended_with_the_reason_and_whom_to_contact(pool: PgPool) {
    // Arrange: a sandbox checkout started before the suspension
    let app = spawn_app(pool).await;
    let (shop, admin) = paid_shop(&app).await;
    let started = app.checkout_ok(&shop, "business", "sandbox").await;
    let started_id = started["payment_id"].as_str().expect("id").to_owned();
    let (_, expires_before) = app.subscription_state(shop.tenant_id).await;
    support::set_status(&app, &admin, &shop, "suspended", REASON).await;
    let again = support::owner_again(&app, &shop).await;
    let payments_before = app.count("payment", shop.tenant_id).await;

    // Act
    let checkout = app.checkout(&again, "pro", "sandbox", None).await;
    let checkout_status = checkout.status();
    let body: Value = checkout.json().await.expect("json");
    let mut web = WebUser::signed_in(&app, &again).await;
    let page_checkout = web
        .submit(
            "/app/settings",
            "/app/billing/checkout",
            &[("plan", "pro"), ("provider", "sandbox")],
        )
        .await;
    let page_status = page_checkout.status();
    let page_html = page_checkout.text().await.expect("body");
    let sandbox_page = app
        .client
        .get(format!("{}/billing/sandbox/{started_id}", app.address))
        .send()
        .await
        .expect("sandbox page");
    let sandbox_page_status = sandbox_page.status();
    let approve = app
        .client
        .post(format!(
            "{}/billing/sandbox/{started_id}/approve",
            app.address
        ))
        .send()
        .await
        .expect("approve");
    let approve_status = approve.status();
    let approve_html = approve.text().await.expect("body");

    // Assert
    assert_eq!(checkout_status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "shop_suspended");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(REASON) && message.contains("contactez l'équipe Tdjaasa"),
        "says why and whom to contact: {message}"
    );
    assert_eq!(
        page_status,
        StatusCode::FORBIDDEN,
        "the page's checkout too"
    );
    assert!(page_html.contains(REASON), "{page_html}");
    assert_eq!(
        sandbox_page_status,
        StatusCode::FORBIDDEN,
        "an older checkout link"
    );
    assert_eq!(approve_status, StatusCode::FORBIDDEN);
    assert!(approve_html.contains(REASON), "{approve_html}");
    assert_eq!(
        app.count("payment", shop.tenant_id).await,
        payments_before,
        "no payment recorded"
    );
    assert_eq!(
        app.payment_status(&started_id).await,
        "pending",
        "nothing paid"
    );
    assert_eq!(
        app.subscription_state(shop.tenant_id).await.1,
        expires_before,
        "nothing extended"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_test_chat_refuses_clearly_while_suspended(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let (shop, admin) = paid_shop(&app).await;
    support::set_status(&app, &admin, &shop, "suspended", REASON).await;
    let again = support::owner_again(&app, &shop).await;

    // Act
    let rest = app
        .post(
            "/api/v1/simulator/messages",
            &again.token,
            json!({"from": "0700000099", "text": "bonjour"}),
        )
        .await;
    let rest_status = rest.status();
    let body: Value = rest.json().await.expect("json");
    let mut web = WebUser::signed_in(&app, &again).await;
    let page = web
        .submit("/app/test", "/app/test", &[("text", "bonjour")])
        .await;
    let page_status = page.status();
    let html = page.text().await.expect("body");

    // Assert
    assert_eq!(rest_status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "shop_suspended");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(REASON) && message.contains("ni dans le test"),
        "the owner is not led to believe the bot works: {message}"
    );
    assert_eq!(page_status, StatusCode::FORBIDDEN);
    assert!(html.contains(REASON), "{html}");
    assert_eq!(
        app.count("message", shop.tenant_id).await,
        0,
        "nothing reached the pipeline"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn suspension_ends_every_session_keeps_the_data_and_reactivation_restores_answering(
    pool: PgPool,
) {
    // Arrange: the owner is signed in on the web and over REST
    let app = spawn_app(pool).await;
    let (shop, admin) = paid_shop(&app).await;
    let mut web = WebUser::signed_in(&app, &shop).await;
    assert_eq!(web.get("/app").await.status(), StatusCode::OK);

    // Act
    support::set_status(&app, &admin, &shop, "suspended", REASON).await;
    let web_after = web.get("/app").await;
    let token_after = app.list_products(&shop.token).await.status();
    let silent = customer_writes(&app, &shop, "bonjour").await;
    support::set_status(
        &app,
        &admin,
        &shop,
        "active",
        "Vérification faite, tout est en ordre",
    )
    .await;
    let answered = customer_writes(&app, &shop, "vous êtes là ?").await;

    // Assert
    assert_eq!(location(&web_after), "/login", "the browser session ended");
    assert_eq!(token_after, StatusCode::UNAUTHORIZED, "the API token ended");
    assert_eq!(app.count("product", shop.tenant_id).await, 1, "data intact");
    assert_eq!(silent.0, "skipped");
    assert_eq!(answered.0, "answered", "reactivation restores answering");
    let (status, reason): (String, Option<String>) =
        sqlx::query_as("select status, suspended_reason from tenant where tenant_id = $1")
            .bind(shop.tenant_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("tenant");
    assert_eq!(
        (status.as_str(), reason),
        ("active", None),
        "the reason is cleared"
    );
    let again = support::owner_again(&app, &shop).await;
    let home = WebUser::signed_in(&app, &again).await.page("/app").await;
    assert!(!home.contains("operator-suspension"), "no more alert");
    let actions = app.audit_actions(shop.tenant_id).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "tenant.status_changed")
            .count(),
        2,
        "both audited: {actions:?}"
    );
}
