//! The operator's console in a real browser: the administrator suspends a shop with a reason; the shop sees the
//! reason, its WhatsApp customers get no reply (the shop is told why, on the message), its test chat refuses
//! clearly; the administrator reactivates it and the next customer is answered. Screenshots of every admin
//! page at 360 px and 1280 px.

use serde_json::json;
use sqlx::PgPool;

use super::{Browser, Viewport, WAIT};
use crate::admin::support::{
    self, ADMIN_PASSWORD, OWNER_PASSWORD, replies_to, settled, whatsapp_message,
};
use crate::bot_support::start_offline_worker;
use crate::helpers::spawn_app;

const REASON: &str = "Fraude signalée par plusieurs clients";

async fn sign_in(browser: &Browser, email: &str, password: &str) {
    browser.goto("/login").await;
    browser.fill("email", email).await;
    browser.fill("password", password).await;
    browser.submit("#login-submit").await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_operator_suspends_a_shop_that_sees_why_and_is_silent_until_reactivated(pool: PgPool) {
    // Arrange: a paid shop whose bot answers WhatsApp customers, an administrator, a running worker
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&shop, "pro").await;
    app.create_product_ok(
        &shop,
        json!({"name": "Pagne wax", "price_xof": 7500, "stock": 4}),
    )
    .await;
    let admin = support::create_admin(&app).await;
    let other = app.signup("Cosmétiques Yopougon").await;
    let flagged = app.checkout_ok(&other, "business", "sandbox").await;
    sqlx::query("update payment set status = 'flagged', failure_reason = 'montant ou devise inattendus' where payment_id = $1::uuid")
        .bind(flagged["payment_id"].as_str().expect("id"))
        .execute(&app.admin_db)
        .await
        .expect("flagged payment");
    sqlx::query(
        "insert into dead_letter (tenant_id, subject, wa_message_id, payload, reason, deliveries)
         values ($1, 'tdj.in.x', 'wamid-1', $2, 'abandonné après 8 tentatives : le modèle ne répond pas', 8)",
    )
    .bind(other.tenant_id)
    .bind(json!({"tenant_id": other.tenant_id, "channel": "whatsapp", "customer_jid": "2250700000066@s.whatsapp.net",
        "customer_name": "Kouassi", "wa_message_id": "wamid-1", "text": "Vous livrez à Bingerville ?",
        "timestamp": "2026-01-05T10:00:00Z", "from_owner": false}))
    .execute(&app.admin_db)
    .await
    .expect("dead letter");
    let _worker = start_offline_worker(&app);
    let before = whatsapp_message(&app, &shop, "2250700000055", "Bonjour !").await;
    assert_eq!(
        settled(&app, &before).await.0,
        "answered",
        "the bot answers before"
    );
    let (operator, owner) =
        tokio::join!(app.browser(Viewport::Desktop), app.browser(Viewport::Phone));

    // Act 1: the administrator signs in, finds the shop and suspends it with a reason
    sign_in(&operator, &admin.email, ADMIN_PASSWORD).await;
    operator.wait_for_text("h1", "Vue d'ensemble", WAIT).await;
    let landed = operator.current_path().await;
    operator.goto("/admin/tenants").await;
    operator.fill("q", "abobo").await;
    operator.submit("#search-submit").await;
    operator
        .wait_for_text(".tenant-row", "Friperie Abobo", WAIT)
        .await;
    operator.click(".tenant-row a").await;
    operator.wait_for_text("h1", "Friperie Abobo", WAIT).await;
    operator.fill("reason", REASON).await;
    operator.submit("#suspend").await;
    operator
        .wait_for_text(".flash", "Boutique suspendue", WAIT)
        .await;
    operator.screenshot("admin-tenant-suspended").await;

    // Act 2: the owner signs in again on a phone; a WhatsApp customer writes; the owner tries the test chat
    sign_in(&owner, &shop.email, OWNER_PASSWORD).await;
    owner
        .wait_for_text("#operator-suspension", REASON, WAIT)
        .await;
    let home_scrolls = owner.has_horizontal_scroll().await;
    owner.screenshot("home-operator-suspension").await;
    let during = whatsapp_message(&app, &shop, "2250700000055", "Le pagne wax est dispo ?").await;
    let (during_status, during_detail) = settled(&app, &during).await;
    owner.goto("/app/conversations").await;
    owner.click(".chat-row a").await;
    owner.wait_for_text("#transcript", REASON, WAIT).await;
    owner.screenshot("conversation-operator-suspension").await;
    owner.goto("/app/billing").await;
    let billing = owner.text("#expires-at").await;
    owner.goto("/app/test").await;
    owner.fill("text", "bonjour, tu marches ?").await;
    owner.submit("#test-send").await;
    owner.wait_for_text("body", REASON, WAIT).await;
    let test_chat = owner.text("body").await;
    owner.screenshot("test-chat-refused").await;

    // Act 3: the administrator reactivates the shop; the next customer message is answered
    operator
        .fill("reason", "Vérification faite avec la boutique")
        .await;
    operator.submit("#reactivate").await;
    operator
        .wait_for_text(".flash", "Boutique réactivée", WAIT)
        .await;
    let after = whatsapp_message(&app, &shop, "2250700000055", "Vous êtes là ?").await;
    let (after_status, _) = settled(&app, &after).await;

    // Assert
    assert_eq!(landed, "/admin", "an administrator lands on the console");
    assert!(!home_scrolls, "the shop's home page fits a phone");
    assert_eq!(during_status, "skipped", "no reply while suspended");
    assert_eq!(replies_to(&app, &during).await, 0);
    assert!(
        during_detail.contains("suspendue par l'équipe Tdjaasa") && during_detail.contains(REASON),
        "{during_detail}"
    );
    assert_eq!(
        billing,
        format!("Suspendue par l'équipe Tdjaasa : {REASON}")
    );
    assert!(
        test_chat.contains("ni dans le test") && test_chat.contains(REASON),
        "the test chat refuses clearly: {test_chat}"
    );
    assert_eq!(after_status, "answered", "reactivation restores answering");
    assert_eq!(replies_to(&app, &after).await, 1);

    // Every admin page, on a laptop and on a phone (looked at by hand; no sideways scrolling on the phone).
    let phone = app.browser(Viewport::Phone).await;
    sign_in(&phone, &admin.email, ADMIN_PASSWORD).await;
    let detail = format!("/admin/tenants/{}", shop.tenant_id);
    for (path, name) in [
        ("/admin", "admin-overview"),
        ("/admin/tenants", "admin-tenants"),
        (detail.as_str(), "admin-tenant"),
        ("/admin/payments", "admin-payments"),
        ("/admin/dead-letters", "admin-dead-letters"),
    ] {
        for browser in [&operator, &phone] {
            browser.goto(path).await;
            browser.screenshot(name).await;
        }
        assert!(
            !phone.has_horizontal_scroll().await,
            "{path} fits a 360 px screen"
        );
        let weight = phone.page_weight_bytes().await;
        assert!(
            weight < 100 * 1024,
            "{path} is light for slow mobile data: {weight} bytes with its assets"
        );
    }
    phone.close().await;
    owner.close().await;
    operator.close().await;
}
