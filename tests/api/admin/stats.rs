//! Revenue and activity: MRR over active and past-due subscriptions, shops by state, new and churned shops per
//! month, customer messages and orders per day, and the overview page's charts (server-rendered SVG, light).

use chrono::{Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;

use super::support;
use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_operator_sees_revenue_shops_by_state_and_activity_over_time(pool: PgPool) {
    // Arrange: Pro active, Starter past due, Business suspended for non-payment (churned 40 days ago, through
    // the expiry job's audit entry), one never paid, and one Pro shop suspended by the operator
    let app = spawn_app(pool).await;
    let admin = support::create_admin(&app).await;
    let active = app.signup_on("Boutique Active", "pro").await;
    app.pay_with_sandbox(&active, "pro").await;
    let past_due = app.signup_on("Boutique Retard", "starter").await;
    app.pay_with_sandbox(&past_due, "starter").await;
    sqlx::query("update subscription set status = 'past_due', past_due_since = now() - interval '1 day' where tenant_id = $1")
        .bind(past_due.tenant_id)
        .execute(&app.admin_db)
        .await
        .expect("past due");
    let churned = app.signup_on("Boutique Partie", "business").await;
    app.pay_with_sandbox(&churned, "business").await;
    let churned_at = Utc::now() - Duration::days(40);
    sqlx::query(
        "update subscription set status = 'suspended', past_due_since = $2 where tenant_id = $1",
    )
    .bind(churned.tenant_id)
    .bind(churned_at)
    .execute(&app.admin_db)
    .await
    .expect("suspended");
    sqlx::query("insert into audit_log (tenant_id, action, detail, created_at) values ($1, 'subscription.suspended', '{\"reason\": \"unpaid\"}', $2)")
        .bind(churned.tenant_id)
        .bind(churned_at)
        .execute(&app.admin_db)
        .await
        .expect("churn event");
    app.signup("Boutique Gratuite").await;
    let operator = app.signup_on("Boutique Fraude", "pro").await;
    app.pay_with_sandbox(&operator, "pro").await;
    support::set_status(&app, &admin, &operator, "suspended", "Fraude avérée").await;
    support::whatsapp_free_messages(&app, &active, 3).await;

    // Act
    let stats: Value = app
        .admin_stats(&admin.token)
        .await
        .json()
        .await
        .expect("json");
    let activity: Value = app
        .admin_activity(&admin.token)
        .await
        .json()
        .await
        .expect("json");

    // Assert
    assert_eq!(
        stats["active_tenants"], 2,
        "Pro and the operator-suspended Pro: {stats}"
    );
    assert_eq!(stats["past_due_tenants"], 1);
    assert_eq!(stats["suspended_unpaid_tenants"], 1);
    assert_eq!(stats["pending_tenants"], 1);
    assert_eq!(stats["suspended_by_operator_tenants"], 1);
    assert_eq!(
        stats["mrr_xof"],
        10_000 + 5_000 + 10_000,
        "active and past-due subscriptions"
    );
    let months = activity["months"].as_array().expect("months");
    assert_eq!(months.len(), 12);
    let this_month = &months[11];
    assert_eq!(this_month["new_shops"], 5, "{this_month}");
    let churn_month = churned_at.format("%Y-%m-01").to_string();
    let churned_row = months
        .iter()
        .find(|m| m["month"] == churn_month.as_str())
        .expect("that month");
    assert_eq!(churned_row["churned_shops"], 1);
    assert_eq!(
        months
            .iter()
            .map(|m| m["churned_shops"].as_i64().unwrap_or(0))
            .sum::<i64>(),
        1
    );
    let days = activity["days"].as_array().expect("days");
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["day"], Utc::now().format("%Y-%m-%d").to_string());
    assert_eq!(
        days[29]["messages"], 3,
        "today's WhatsApp customer messages"
    );
    assert_eq!(days[28]["messages"], 0);

    // The overview page: figures and three SVG charts, light.
    let mut web = support::admin_web(&app, &admin).await;
    let page = web.page("/admin").await;
    assert_eq!(page.matches("<svg").count(), 3, "three charts");
    assert!(
        page.contains("25\u{a0}000\u{a0}F"),
        "the MRR as shops write amounts"
    );
    assert!(page.contains("Nouvelles boutiques") && page.contains("Désabonnement"));
    assert!(page.len() < 60 * 1024, "light: {} bytes", page.len());
}
