//! Payments on a phone: the owner's "Paiements" settings, and the page a customer opens from the payment link
//! the bot sent (no login), in its sandbox form; a paid order cancelled shows the refund the shop owes.

use schemas::billing::Provider;
use sqlx::PgPool;

use super::{Viewport, WAIT};
use crate::helpers::spawn_app;
use crate::order_payments::{link, order_of};

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_owner_sets_payments_and_a_customer_pays_a_link_on_a_phone(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let order_id = order_of(&app, &shop).await;
    let sandbox = link(&app, &shop, order_id, Provider::Sandbox).await;

    let owner = app.browser(Viewport::Phone).await;
    owner.goto("/login").await;
    owner.fill("email", &shop.email).await;
    owner.fill("password", "motdepasse-solide").await;
    owner.submit("#login-submit").await;
    owner.goto("/app/settings/payments").await;
    owner.wait_for_text("main", "Wave", WAIT).await;
    owner.screenshot("payments-settings").await;
    assert!(
        !owner.has_horizontal_scroll().await,
        "the settings fit a phone"
    );
    owner.check("enabled").await;

    let customer = app.browser(Viewport::Phone).await;
    customer.goto(&format!("/pay/{}", sandbox.token)).await;
    customer.wait_for_text("main", "15 000", WAIT).await;
    customer.screenshot("pay-page").await;
    assert!(
        !customer.has_horizontal_scroll().await,
        "the pay page fits a phone"
    );
    let page = customer.text("main").await;
    assert!(page.contains("Boutique Awa"), "{page}");
    assert!(
        page.to_lowercase().contains("aucun argent"),
        "a test payment says so: {page}"
    );

    // The customer pays; the shop cancels the order and sees the refund it owes.
    customer.submit("#pay-sandbox-pay").await;
    customer.wait_for_text("main", "Paiement reçu", WAIT).await;
    let cancelled = app
        .patch(
            &format!("/api/v1/orders/{order_id}"),
            &shop.token,
            serde_json::json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(cancelled.status(), reqwest::StatusCode::OK);
    owner.goto(&format!("/app/orders/{order_id}")).await;
    owner
        .wait_for_text("main", "Remboursement à faire", WAIT)
        .await;
    owner.screenshot("order-refund-to-do").await;
    assert!(
        !owner.has_horizontal_scroll().await,
        "the order fits a phone"
    );
    assert!(
        owner
            .text("main")
            .await
            .contains("Marquer comme remboursée"),
        "the shop can say it refunded"
    );
}
