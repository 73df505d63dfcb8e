//! The review's findings on abuse and security, one test each: what an attacker tried, and that it no longer
//! works.

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::spawn_app;
use crate::team::mail_link;

const FORGED_HOST: &str = "attacker.example";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_forged_host_header_moves_no_link_no_return_url_and_no_webhook(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Friperie Abobo", "starter").await;

    let checkout: Value = app
        .client
        .post(format!("{}/api/v1/billing/checkout", app.address))
        .header("host", FORGED_HOST)
        .bearer_auth(&shop.token)
        .json(&serde_json::json!({ "plan": "pro", "provider": "sandbox" }))
        .send()
        .await
        .expect("checkout")
        .json()
        .await
        .expect("json");
    let url = checkout["checkout_url"].as_str().expect("url");
    assert!(url.starts_with(&app.address), "{url}");

    // The sandbox posts its signed webhook to our own configured address, not to the Host it was shown on.
    let id = checkout["payment_id"].as_str().expect("id");
    let approved = app
        .client
        .post(format!("{}/billing/sandbox/{id}/approve", app.address))
        .header("host", FORGED_HOST)
        .send()
        .await
        .expect("approve");
    assert_eq!(approved.status(), 200);
    assert_eq!(app.subscription_state(shop.tenant_id).await.0, "active");

    let forgot = app
        .client
        .post(format!("{}/api/v1/auth/password/forgot", app.address))
        .header("host", FORGED_HOST)
        .json(&serde_json::json!({ "email": shop.email }))
        .send()
        .await
        .expect("forgot");
    assert_eq!(forgot.status(), 202);
    let link = mail_link(&app, &shop.email, "/password/reset/").await;
    assert!(!link.contains(FORGED_HOST), "{link}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn prepaid_months_of_a_cheaper_plan_do_not_become_months_of_a_dearer_one(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Friperie Abobo", "starter").await;
    for _ in 0..3 {
        app.pay_with_sandbox(&shop, "starter").await;
    }
    let (_, starter_until) = app.subscription_state(shop.tenant_id).await;
    let starter_until = starter_until.expect("paid");

    app.pay_with_sandbox(&shop, "business").await;

    // The three Starter months (5 000 F each) are worth one Business month (15 000 F): two Business months in
    // all from now, not four.
    let now = chrono::Utc::now();
    let converted = (starter_until - now) / 3;
    let expected = (now + converted)
        .checked_add_months(chrono::Months::new(1))
        .expect("date");
    let (status, business_until) = app.subscription_state(shop.tenant_id).await;
    assert_eq!(status, "active");
    let business_until = business_until.expect("paid");
    assert!(
        (business_until - expected).num_seconds().abs() < 120,
        "expected about {expected}, got {business_until}"
    );
    let plan: String = sqlx::query_scalar("select plan_code from tenant where tenant_id = $1")
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("plan");
    assert_eq!(plan, "business");
}
