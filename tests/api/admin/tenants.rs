//! The operator's shops: search and filters, one shop in detail (never a password hash), extending a
//! subscription by hand and changing the plan, each audited with who and why; another shop's data never leaks
//! into a shop's own view.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::support;
use crate::helpers::{TestApp, spawn_app};
use crate::web_support::location;

async fn ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let response = app
        .get(&format!("/api/v1/admin/tenants{query}"), token)
        .await;
    assert_eq!(response.status(), 200, "{query}");
    let list: Vec<Value> = response.json().await.expect("json");
    list.iter()
        .map(|t| t["tenant_id"].as_str().expect("id").to_owned())
        .collect()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_operator_finds_shops_by_name_slug_or_owner_email_and_filters_them(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let admin = support::create_admin(&app).await;
    let friperie = app.signup_on("Friperie Éléonore", "starter").await;
    app.pay_with_sandbox(&friperie, "starter").await;
    let maquis = app.signup_on("Maquis Chez Tantie", "business").await;
    let suspended = app.signup_on("Cosmétiques Marcory", "pro").await;
    support::set_status(
        &app,
        &admin,
        &suspended,
        "suspended",
        "Contrefaçons signalées",
    )
    .await;
    let [friperie_id, maquis_id, suspended_id] =
        [&friperie, &maquis, &suspended].map(|s| s.tenant_id.to_string());
    sqlx::query("update chat set last_message_at = now() where tenant_id = $1")
        .bind(friperie.tenant_id)
        .execute(&app.admin_db)
        .await
        .expect("activity");

    // Act / Assert: each filter on its own, then together
    let cases: [(&str, Vec<&String>, &str); 9] = [
        (
            "",
            vec![&suspended_id, &maquis_id, &friperie_id],
            "all, newest first",
        ),
        ("?q=eleonore", vec![&friperie_id], "accents ignored"),
        ("?q=CHEZ-TANTIE", vec![&maquis_id], "the slug, case ignored"),
        (
            &format!("?q={}", &maquis.email[..10]),
            vec![&maquis_id],
            "the owner's e-mail",
        ),
        (
            "?status=suspended",
            vec![&suspended_id],
            "suspended by the operator",
        ),
        ("?subscription=active", vec![&friperie_id], "paid"),
        (
            "?subscription=pending&plan=business",
            vec![&maquis_id],
            "never paid, on Business",
        ),
        (
            "?plan=starter&status=active",
            vec![&friperie_id],
            "plan and status",
        ),
        ("?q=nulle-part", vec![], "nothing"),
    ];
    for (query, expected, case) in cases {
        let found = ids(&app, &admin.token, query).await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(found, expected, "{case} ({query})");
    }
    let bad = app
        .admin_tenants(
            &admin.token,
            &[("status", "banned"), ("subscription", "free")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(
        body["error"]["fields"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    let all: Vec<Value> = app
        .admin_tenants(&admin.token, &[("q", "friperie")])
        .await
        .json()
        .await
        .expect("json");
    let row = &all[0];
    assert_eq!(row["whatsapp_status"], "disconnected");
    assert_eq!(row["owner_email"], friperie.email);
    assert_eq!(row["subscription_status"], "active");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_shop_detail_shows_users_payments_usage_and_audit_but_never_a_password_hash(
    pool: PgPool,
) {
    // Arrange
    let app = spawn_app(pool).await;
    let admin = support::create_admin(&app).await;
    let shop = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&shop, "pro").await;
    let (staff_email, _) = support::staff_of(&app, &shop).await;
    sqlx::query("insert into tenant_usage (tenant_id, month, inbound_messages, bot_replies) values ($1, date_trunc('month', now())::date, 12, 10)")
        .bind(shop.tenant_id)
        .execute(&app.admin_db)
        .await
        .expect("usage");
    let other = app.signup("Autre boutique").await;
    app.checkout_ok(&other, "starter", "sandbox").await;

    // Act
    let response = app.admin_tenant(&admin.token, shop.tenant_id).await;
    let unknown = app.admin_tenant(&admin.token, uuid::Uuid::new_v4()).await;
    let platform = app
        .admin_tenant(&admin.token, store::tenants::PLATFORM_TENANT_ID)
        .await;

    // Assert
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "no hash: {text}"
    );
    let detail: Value = serde_json::from_str(&text).expect("json");
    let emails: Vec<&str> = detail["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["email"].as_str().expect("e-mail"))
        .collect();
    assert_eq!(
        emails,
        [shop.email.as_str(), staff_email.as_str()],
        "owner first"
    );
    assert_eq!(detail["users"][1]["role"], "staff");
    let payments = detail["payments"].as_array().expect("payments");
    assert_eq!(payments.len(), 1, "only this shop's payments");
    assert_eq!(payments[0]["status"], "succeeded");
    assert_eq!(detail["usage"][0]["inbound_messages"], 12);
    assert_eq!(detail["usage"][0]["bot_replies"], 10);
    let actions: Vec<&str> = detail["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .map(|a| a["action"].as_str().expect("action"))
        .collect();
    assert!(actions.contains(&"payment.succeeded"), "{actions:?}");
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        platform.status(),
        404,
        "the platform's own tenant is not a shop"
    );
    let mut web = support::admin_web(&app, &admin).await;
    let page = web
        .page(&format!("/admin/tenants/{}", shop.tenant_id))
        .await;
    assert!(
        page.contains(&staff_email) && page.contains("payment.succeeded"),
        "{page}"
    );
    let unknown_page = web
        .get(&format!("/admin/tenants/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(unknown_page.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn extending_by_hand_activates_the_subscription_and_is_audited_with_who_and_why(
    pool: PgPool,
) {
    // Arrange: a shop that never paid, and one past due
    let app = spawn_app(pool).await;
    let admin = support::create_admin(&app).await;
    let pending = app.signup("Boutique Espèces").await;
    let past_due = app.signup("Boutique En Retard").await;
    app.pay_with_sandbox(&past_due, "pro").await;
    let expired = Utc::now() - Duration::days(2);
    sqlx::query("update subscription set status = 'past_due', expires_at = $2, past_due_since = $2, grace_until = now() + interval '1 day' where tenant_id = $1")
        .bind(past_due.tenant_id)
        .bind(expired)
        .execute(&app.admin_db)
        .await
        .expect("past due");

    // Act
    let months = app
        .admin_extend_tenant(
            &admin.token,
            pending.tenant_id,
            json!({"months": 1, "reason": "Payé en espèces au bureau de Cocody, reçu n° 142"}),
        )
        .await;
    let months_status = months.status();
    let months_body: Value = months.json().await.expect("json");
    let days = app
        .admin_extend_tenant(
            &admin.token,
            past_due.tenant_id,
            json!({"days": 10, "reason": "Geste commercial"}),
        )
        .await;
    let days_status = days.status();
    let invalid: Vec<(Value, &str)> = vec![
        (json!({"reason": "Espèces"}), "days"),
        (json!({"days": 3, "months": 1, "reason": "Espèces"}), "days"),
        (json!({"days": 0, "reason": "Espèces"}), "days"),
        (json!({"months": 25, "reason": "Espèces"}), "months"),
        (json!({"months": 1, "reason": " x "}), "reason"),
    ];

    // Assert
    assert_eq!(months_status, 200, "{months_body}");
    assert_eq!(months_body["extension"]["previous_status"], "pending");
    assert_eq!(months_body["tenant"]["subscription_status"], "active");
    let (status, expires) = app.subscription_state(pending.tenant_id).await;
    assert_eq!(status, "active");
    let expires = expires.expect("expiry");
    assert!(
        (expires - (Utc::now() + Duration::days(28))).num_days() >= 0,
        "about a month: {expires}"
    );
    assert_eq!(days_status, 200);
    let (status, expires) = app.subscription_state(past_due.tenant_id).await;
    assert_eq!(status, "active", "past due → active");
    let expected = Utc::now() + Duration::days(10);
    assert!(
        (expires.expect("expiry") - expected).num_minutes().abs() < 5,
        "ten days from now, the expiry being past"
    );
    let (actor, detail): (Option<uuid::Uuid>, Value) = sqlx::query_as(
        "select actor_user_id, detail from audit_log where tenant_id = $1 and action = 'subscription.extended_by_operator'",
    )
    .bind(pending.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("audited");
    assert_eq!(actor, Some(admin.user_id));
    assert_eq!(
        detail["reason"],
        "Payé en espèces au bureau de Cocody, reçu n° 142"
    );
    assert_eq!(detail["from"], "pending");
    for (body, field) in invalid {
        let response = app
            .post(
                &format!("/api/v1/admin/tenants/{}/extend", pending.tenant_id),
                &admin.token,
                body.clone(),
            )
            .await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(
            error["error"]["fields"][0]["field"], field,
            "{body}: {error}"
        );
        let message = error["error"]["fields"][0]["message"]
            .as_str()
            .expect("message");
        assert!(
            message.chars().any(|c| "éèàù".contains(c))
                || message.contains("Indiquez")
                || message.contains("Entre"),
            "French: {message}"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_operator_changes_a_shops_plan_with_a_reason_and_from_the_page(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let admin = support::create_admin(&app).await;
    let shop = app.signup_on("Friperie Abobo", "starter").await;
    let mut web = support::admin_web(&app, &admin).await;
    let page = format!("/admin/tenants/{}", shop.tenant_id);

    // Act
    let refused = web
        .submit(
            &page,
            &format!("{page}/plan"),
            &[("plan", "business"), ("reason", "")],
        )
        .await;
    let refused_status = refused.status();
    let refused_html = refused.text().await.expect("body");
    let done = web
        .submit(
            &page,
            &format!("{page}/plan"),
            &[
                ("plan", "business"),
                ("reason", "Grossiste : besoin de plus de réponses"),
            ],
        )
        .await;
    let unknown = app
        .admin_change_plan(
            &admin.token,
            shop.tenant_id,
            json!({"plan": "gold", "reason": "test"}),
        )
        .await;

    // Assert
    assert_eq!(
        refused_status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the form comes back"
    );
    assert!(
        refused_html.contains("Indiquez le motif"),
        "the error next to the field: {refused_html}"
    );
    assert_eq!(location(&done), format!("{page}?done=plan_changed"));
    let plans: (String, String) = sqlx::query_as(
        "select t.plan_code, s.plan_code from tenant t join subscription s using (tenant_id) where t.tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("plans");
    assert_eq!(plans, ("business".into(), "business".into()));
    assert_eq!(unknown.status(), 422);
    let detail = support::audit_detail(&app, shop.tenant_id, "plan.changed_by_operator").await;
    assert_eq!(
        detail,
        json!({"from": "starter", "to": "business", "reason": "Grossiste : besoin de plus de réponses"})
    );
}
