//! The sandbox payment page (`/billing/sandbox/{id}`), in a real browser.

use serde_json::Value;
use sqlx::PgPool;

use super::{Viewport, WAIT};
use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_pays_in_the_sandbox_from_a_phone_browser(pool: PgPool) {
    // Arrange: a shop on the starter plan has started a sandbox checkout for the pro plan
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Friperie Abobo", "starter").await;
    let checkout = app.checkout_ok(&shop, "pro", "sandbox").await;
    let checkout_url = checkout["checkout_url"].as_str().expect("checkout url");
    let payment_id = checkout["payment_id"].as_str().expect("payment id");
    let (phone, desktop) =
        tokio::join!(app.browser(Viewport::Phone), app.browser(Viewport::Desktop));
    desktop.goto(checkout_url).await;
    desktop.wait_for_text("h1", "Paiement test", WAIT).await;
    desktop.screenshot("sandbox-checkout").await;
    desktop.close().await;

    // Act: the owner opens the payment link on a phone and approves
    phone.goto(checkout_url).await;
    phone.wait_for_text("h1", "Paiement test", WAIT).await;
    phone.screenshot("sandbox-checkout").await;
    let scrolls_sideways = phone.has_horizontal_scroll().await;
    let amount = phone.text(".amount").await;
    phone.submit("button.ok").await;
    phone.wait_for_text("h1", "Paiement accepté", WAIT).await;
    phone.screenshot("sandbox-approved").await;

    // Assert
    assert!(!scrolls_sideways, "the payment page fits a 360 px screen");
    assert_eq!(amount, "10\u{202f}000 F CFA");
    assert_eq!(
        phone.current_path().await,
        format!("/billing/sandbox/{payment_id}/approve")
    );
    let payment: Value = app
        .read_payment(&shop, payment_id)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(payment["status"], "succeeded", "paid: {payment}");
    let billing: Value = app
        .billing_overview(&shop)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(billing["subscription"]["status"], "active");
    assert_eq!(billing["plan"]["plan_code"], "pro");
    phone.close().await;
}
