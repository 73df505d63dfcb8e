//! The platform operator's console: admins only (every page and endpoint refuses shop users), the shop list,
//! suspension with an audited reason, stats. The submodules cover each screen of the console.

mod dead_letters;
mod payments;
mod stats;
pub mod support;
mod suspension;
mod tenants;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use store::TenantCtx;
use store::billing::{AnswerPermission, SuspendReason, answer_permission};

use crate::helpers::{Shop, error_code, spawn_app};
use crate::web_support::{WebUser, csrf_of, location};

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_owner_or_staff_gets_403_on_every_admin_page_and_endpoint(pool: PgPool) {
    // Arrange: a shop with an owner and a staff member, signed in over REST and in the browser; ids of real
    // things (their own shop, a payment, a dead letter) so a 404 cannot hide a missing check
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let payment = app.checkout_ok(&shop, "pro", "sandbox").await;
    let payment_id = payment["payment_id"]
        .as_str()
        .expect("payment id")
        .to_owned();
    let dead_letter: uuid::Uuid = sqlx::query_scalar(
        "insert into dead_letter (tenant_id, subject, payload, reason, deliveries)
         values ($1, 'x', '{}', 'test', 8) returning dead_letter_id",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("dead letter");
    let (staff_email, staff_token) = support::staff_of(&app, &shop).await;
    let tenant = shop.tenant_id;
    let reason = json!({"reason": "je me réactive"});
    let endpoints: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/admin/tenants".into(), None),
        (Method::GET, format!("/api/v1/admin/tenants/{tenant}"), None),
        (
            Method::PATCH,
            format!("/api/v1/admin/tenants/{tenant}"),
            Some(json!({"status": "active", "reason": "je me réactive"})),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/tenants/{tenant}/extend"),
            Some(json!({"months": 12, "reason": "cadeau"})),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/tenants/{tenant}/plan"),
            Some(json!({"plan": "business", "reason": "cadeau"})),
        ),
        (Method::GET, "/api/v1/admin/stats".into(), None),
        (Method::GET, "/api/v1/admin/activity".into(), None),
        (Method::GET, "/api/v1/admin/payments".into(), None),
        (
            Method::POST,
            format!("/api/v1/admin/payments/{payment_id}/review"),
            Some(json!({"note": "vu"})),
        ),
        (Method::GET, "/api/v1/admin/dead-letters".into(), None),
        (
            Method::POST,
            format!("/api/v1/admin/dead-letters/{dead_letter}/replay"),
            Some(reason.clone()),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/dead-letters/{dead_letter}/discard"),
            Some(reason.clone()),
        ),
        // A body the endpoint would refuse: still 403, the role is checked first.
        (
            Method::PATCH,
            format!("/api/v1/admin/tenants/{tenant}"),
            Some(json!({"oops": true})),
        ),
    ];
    let pages = [
        (Method::GET, "/admin".to_owned()),
        (Method::GET, "/admin/tenants".into()),
        (Method::GET, format!("/admin/tenants/{tenant}")),
        (Method::GET, "/admin/payments".into()),
        (Method::GET, "/admin/dead-letters".into()),
        (Method::POST, format!("/admin/tenants/{tenant}/status")),
        (Method::POST, format!("/admin/tenants/{tenant}/extend")),
        (Method::POST, format!("/admin/tenants/{tenant}/plan")),
        (Method::POST, format!("/admin/payments/{payment_id}/review")),
        (
            Method::POST,
            format!("/admin/dead-letters/{dead_letter}/replay"),
        ),
        (
            Method::POST,
            format!("/admin/dead-letters/{dead_letter}/discard"),
        ),
    ];
    let owner_web = WebUser::signed_in(&app, &shop).await;
    let staff_shop = Shop {
        token: staff_token.clone(),
        tenant_id: tenant,
        email: staff_email,
    };
    let staff_web = WebUser::signed_in(&app, &staff_shop).await;

    for (who, token, mut web) in [
        ("owner", shop.token.clone(), owner_web),
        ("staff", staff_token, staff_web),
    ] {
        for (method, path, body) in &endpoints {
            // Act
            let response = app
                .request(method.clone(), path, Some(&token), body.clone())
                .await;
            // Assert
            assert_eq!(response.status(), 403, "{who}: {method} {path}");
            assert_eq!(
                error_code(response).await,
                "forbidden",
                "{who}: {method} {path}"
            );
        }
        let csrf = csrf_of(&web.page("/app/settings").await);
        for (method, path) in &pages {
            let response = if *method == Method::GET {
                web.get(path).await
            } else {
                web.post(
                    path,
                    &[
                        ("_csrf", csrf.as_str()),
                        ("reason", "je me réactive"),
                        ("status", "active"),
                        ("note", "vu"),
                        ("amount", "12"),
                        ("unit", "months"),
                        ("plan", "business"),
                    ],
                )
                .await
            };
            assert_eq!(response.status(), 403, "{who}: page {method} {path}");
            let html = response.text().await.expect("body");
            assert!(
                html.contains("Accès refusé"),
                "{who}: {method} {path} shows the 403 page: {html}"
            );
        }
    }
    let anonymous = app
        .request(Method::GET, "/api/v1/admin/stats", None, None)
        .await;
    assert_eq!(anonymous.status(), 401);
    let mut visitor = WebUser::new(&app);
    assert_eq!(
        location(&visitor.get("/admin").await),
        "/login",
        "signed out: to the login page"
    );
    let (status, expires) = app.subscription_state(tenant).await;
    assert_eq!(
        (status.as_str(), expires),
        ("pending", None),
        "nothing was extended"
    );
    let actions = app.audit_actions(tenant).await;
    assert!(
        !actions.iter().any(|a| a.contains("operator")
            || a == "tenant.status_changed"
            || a.starts_with("dead_letter.")),
        "no operator action happened: {actions:?}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_admin_lists_tenants_with_subscription_and_usage(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let admin = app.platform_admin_token().await;
    let paid = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&paid, "business").await;
    let unpaid = app.signup("Boutique Marcory").await;
    sqlx::query("insert into tenant_usage (tenant_id, month, inbound_messages, bot_replies) values ($1, $2, 42, 40)")
        .bind(paid.tenant_id)
        .bind(store::billing::month_start(Utc::now()))
        .execute(&app.admin_db)
        .await
        .expect("usage");

    // Act
    let response = app.admin_tenants(&admin, &[]).await;

    // Assert
    assert_eq!(response.status(), 200);
    let tenants: Vec<Value> = response.json().await.expect("json");
    assert_eq!(tenants.len(), 2, "the platform's own tenant is not listed");
    let find = |id: uuid::Uuid| {
        tenants
            .iter()
            .find(|t| t["tenant_id"] == id.to_string())
            .expect("listed")
            .clone()
    };
    let abobo = find(paid.tenant_id);
    assert_eq!(abobo["status"], "active");
    assert_eq!(abobo["plan_code"], "business");
    assert_eq!(abobo["subscription_status"], "active");
    assert!(abobo["expires_at"].is_string());
    assert_eq!(abobo["inbound_messages_this_month"], 42);
    assert_eq!(abobo["bot_replies_this_month"], 40);
    let marcory = find(unpaid.tenant_id);
    assert_eq!(marcory["subscription_status"], "pending");
    assert_eq!(marcory["inbound_messages_this_month"], 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_admin_suspends_a_tenant_with_a_reason_that_is_audited(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let admin = app.platform_admin_token().await;
    let shop = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&shop, "pro").await;
    let path = format!("/api/v1/admin/tenants/{}", shop.tenant_id);

    // Act
    let no_reason = app
        .patch(&path, &admin, json!({"status": "suspended", "reason": " "}))
        .await;
    let bad_status = app
        .patch(
            &path,
            &admin,
            json!({"status": "banned", "reason": "fraude"}),
        )
        .await;
    let unknown = app
        .admin_update_tenant(
            &admin,
            uuid::Uuid::new_v4(),
            json!({"status": "suspended", "reason": "fraude"}),
        )
        .await;
    let suspended = app
        .patch(
            &path,
            &admin,
            json!({"status": "suspended", "reason": "Fraude signalée"}),
        )
        .await;

    // Assert
    assert_eq!(no_reason.status(), 422, "a reason is required");
    assert_eq!(bad_status.status(), 422);
    assert_eq!(unknown.status(), 404);
    assert_eq!(suspended.status(), 200);
    let body: Value = suspended.json().await.expect("json");
    assert_eq!(body["status"], "suspended");
    let (action, actor, detail): (String, Option<uuid::Uuid>, Value) = sqlx::query_as(
        "select action, actor_user_id, detail from audit_log where tenant_id = $1 and action = 'tenant.status_changed'",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("audit row");
    assert_eq!(action, "tenant.status_changed");
    assert!(actor.is_some(), "the operator is named");
    assert_eq!(
        detail,
        json!({"from": "active", "to": "suspended", "reason": "Fraude signalée"})
    );
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    assert_eq!(
        answer_permission(&mut tx, Utc::now())
            .await
            .expect("permission"),
        AnswerPermission::Suspended {
            reason: SuspendReason::ByOperator
        },
        "the bot stops although the subscription is paid"
    );
    tx.commit().await.expect("commit");
    assert_eq!(
        app.list_products(&shop.token).await.status(),
        401,
        "the suspension ended the shop's tokens"
    );
    let again = support::owner_again(&app, &shop).await;
    assert_eq!(
        app.list_products(&again.token).await.status(),
        200,
        "the dashboard stays"
    );

    let reactivated = app
        .patch(
            &path,
            &admin,
            json!({"status": "active", "reason": "Vérifié"}),
        )
        .await;
    assert_eq!(reactivated.status(), 200);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn admin_stats_count_active_tenants_revenue_payments_and_churn(pool: PgPool) {
    // Arrange: Pro and Starter paid, a Business shop that lapsed last week, a shop that never paid
    let app = spawn_app(pool).await;
    let admin = app.platform_admin_token().await;
    let pro = app.signup("Boutique Pro").await;
    app.pay_with_sandbox(&pro, "pro").await;
    let starter = app.signup("Boutique Starter").await;
    app.pay_with_sandbox(&starter, "starter").await;
    let lapsed = app.signup("Boutique Business").await;
    app.pay_with_sandbox(&lapsed, "business").await;
    sqlx::query(
        "update subscription set status = 'suspended', past_due_since = now() - interval '7 days',
                suspended_at = now() - interval '4 days' where tenant_id = $1",
    )
    .bind(lapsed.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("lapse");
    app.signup("Boutique Gratuite").await;

    // Act
    let response = app.admin_stats(&admin).await;

    // Assert
    assert_eq!(response.status(), 200);
    let stats: Value = response.json().await.expect("json");
    assert_eq!(stats["active_tenants"], 2);
    assert_eq!(stats["mrr_xof"], 15000, "10 000 (Pro) + 5 000 (Starter)");
    assert_eq!(
        stats["payments_by_provider"],
        json!([{"provider": "sandbox", "payments": 3, "amount_xof": 30000}])
    );
    assert_eq!(stats["churned_last_30_days"], 1);
    let rate = stats["churn_rate_30_days"].as_f64().expect("rate");
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "1 lapsed of 3: {rate}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_openapi_document_lists_every_operator_endpoint(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;

    // Act
    let doc: Value = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json()
        .await
        .expect("json");

    // Assert
    for (path, method) in [
        ("/api/v1/admin/tenants", "get"),
        ("/api/v1/admin/tenants/{id}", "get"),
        ("/api/v1/admin/tenants/{id}", "patch"),
        ("/api/v1/admin/tenants/{id}/extend", "post"),
        ("/api/v1/admin/tenants/{id}/plan", "post"),
        ("/api/v1/admin/stats", "get"),
        ("/api/v1/admin/activity", "get"),
        ("/api/v1/admin/payments", "get"),
        ("/api/v1/admin/payments/{id}/review", "post"),
        ("/api/v1/admin/dead-letters", "get"),
        ("/api/v1/admin/dead-letters/{id}/replay", "post"),
        ("/api/v1/admin/dead-letters/{id}/discard", "post"),
        ("/api/v1/dead-letters/{id}/replay", "post"),
        ("/api/v1/dead-letters/{id}/discard", "post"),
    ] {
        assert!(
            doc["paths"][path].get(method).is_some(),
            "{method} {path} is documented"
        );
    }
}
