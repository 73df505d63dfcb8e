//! The expiry job with a controlled clock: active → past_due (grace) → suspended → reactivated by a
//! payment; and two instances running at once act once.

use api::billing::run_expiry_once;
use chrono::{Duration, Utc};
use sqlx::PgPool;
use store::TenantCtx;
use store::billing::{AnswerPermission, SuspendReason, answer_permission};

use crate::helpers::{TestApp, spawn_app};

async fn permission(
    app: &TestApp,
    tenant_id: uuid::Uuid,
    now: chrono::DateTime<Utc>,
) -> AnswerPermission {
    let mut tx = app.db.tenant(TenantCtx::new(tenant_id)).await.expect("tx");
    let permission = answer_permission(&mut tx, now).await.expect("permission");
    tx.commit().await.expect("commit");
    permission
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_unpaid_subscription_goes_past_due_then_suspended_and_a_payment_reactivates_it(
    pool: PgPool,
) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&shop, "pro").await;
    let expires_at = app
        .subscription_state(shop.tenant_id)
        .await
        .1
        .expect("expiry");
    let grace = Duration::days(3);

    // Act + Assert: before expiry nothing moves
    let report = run_expiry_once(&app.db, expires_at - Duration::minutes(1), grace)
        .await
        .expect("run");
    assert!(
        report.past_due.is_empty() && report.suspended.is_empty(),
        "not yet expired"
    );

    // Just after expiry: past due, the bot still answers until the grace period ends
    let after_expiry = expires_at + Duration::hours(1);
    let report = run_expiry_once(&app.db, after_expiry, grace)
        .await
        .expect("run");
    assert_eq!(report.past_due, vec![shop.tenant_id]);
    assert_eq!(app.subscription_state(shop.tenant_id).await.0, "past_due");
    assert_eq!(
        permission(&app, shop.tenant_id, after_expiry).await,
        AnswerPermission::GracePeriod {
            until: expires_at + grace
        }
    );

    // After the grace period: suspended, the bot stops; the data stays
    let after_grace = expires_at + grace + Duration::hours(1);
    let report = run_expiry_once(&app.db, after_grace, grace)
        .await
        .expect("run");
    assert_eq!(report.suspended, vec![shop.tenant_id]);
    assert_eq!(app.subscription_state(shop.tenant_id).await.0, "suspended");
    assert_eq!(
        permission(&app, shop.tenant_id, after_grace).await,
        AnswerPermission::Suspended {
            reason: SuspendReason::Unpaid
        }
    );
    assert_eq!(
        app.billing_overview(&shop.token).await.status(),
        200,
        "the dashboard still works"
    );

    // Paying reactivates at once
    app.pay_with_sandbox(&shop, "pro").await;
    let (status, new_expiry) = app.subscription_state(shop.tenant_id).await;
    assert_eq!(status, "active");
    assert!(new_expiry.expect("expiry") > expires_at);
    assert_eq!(
        permission(&app, shop.tenant_id, Utc::now()).await,
        AnswerPermission::Allowed
    );
    let actions = app.audit_actions(shop.tenant_id).await;
    for action in ["subscription.past_due", "subscription.suspended"] {
        assert!(actions.contains(&action.to_owned()), "{action} audited");
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn two_expiry_jobs_running_at_once_act_once(pool: PgPool) {
    // Arrange: five shops whose subscription expired yesterday
    let app = spawn_app(pool).await;
    let mut tenants = Vec::new();
    for i in 0..5 {
        let shop = app.signup(&format!("Boutique {i}")).await;
        sqlx::query("update subscription set status = 'active', expires_at = now() - interval '1 day' where tenant_id = $1")
            .bind(shop.tenant_id)
            .execute(&app.admin_db)
            .await
            .expect("subscription");
        tenants.push(shop.tenant_id);
    }
    let grace = Duration::days(3);
    let now = Utc::now();

    // Act
    let (a, b) = tokio::join!(
        run_expiry_once(&app.db, now, grace),
        run_expiry_once(&app.db, now, grace)
    );
    let (a, b) = (a.expect("run a"), b.expect("run b"));
    let later = now + Duration::days(3);
    let (c, d) = tokio::join!(
        run_expiry_once(&app.db, later, grace),
        run_expiry_once(&app.db, later, grace)
    );
    let (c, d) = (c.expect("run c"), d.expect("run d"));

    // Assert
    let mut moved: Vec<_> = a.past_due.iter().chain(&b.past_due).copied().collect();
    moved.sort();
    tenants.sort();
    assert_eq!(moved, tenants, "each shop moved to past_due exactly once");
    assert_eq!(
        c.suspended.len() + d.suspended.len(),
        5,
        "each shop suspended exactly once"
    );
    for tenant_id in &tenants {
        let actions = app.audit_actions(*tenant_id).await;
        let count = |name: &str| actions.iter().filter(|a| *a == name).count();
        assert_eq!(
            count("subscription.past_due"),
            1,
            "one past_due entry for {tenant_id}"
        );
        assert_eq!(
            count("subscription.suspended"),
            1,
            "one suspension entry for {tenant_id}"
        );
    }
}
