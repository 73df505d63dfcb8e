//! Payments across shops with their provider status; the flagged ones (amount or currency mismatch) are
//! reviewed with a note, audited, and stay flagged.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::support;
use crate::helpers::{TestApp, spawn_app};
use crate::web_support::location;

async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = app
        .get(&format!("/api/v1/admin/payments{query}"), token)
        .await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.expect("json")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_operator_sees_every_shops_payments_and_reviews_the_flagged_ones(pool: PgPool) {
    // Arrange: one paid shop, one with a pending checkout, one whose payment was flagged
    let app = spawn_app(pool).await;
    let admin = support::create_admin(&app).await;
    let paid = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&paid, "pro").await;
    let pending = app.signup("Boutique Marcory").await;
    app.checkout_ok(&pending, "starter", "sandbox").await;
    let flagged_shop = app.signup("Cosmétiques Yopougon").await;
    let flagged = app.checkout_ok(&flagged_shop, "business", "sandbox").await;
    let flagged_id = flagged["payment_id"].as_str().expect("id").to_owned();
    sqlx::query("update payment set status = 'flagged', failure_reason = 'montant ou devise inattendus' where payment_id = $1::uuid")
        .bind(&flagged_id)
        .execute(&app.admin_db)
        .await
        .expect("flag");

    // Act
    let all = listed(&app, &admin.token, "").await;
    let succeeded = listed(&app, &admin.token, "?status=succeeded&provider=sandbox").await;
    let wave = listed(&app, &admin.token, "?provider=wave").await;
    let to_review = listed(&app, &admin.token, "?needs_review=true").await;
    let path = format!("/api/v1/admin/payments/{flagged_id}/review");
    let no_note = app.post(&path, &admin.token, json!({"note": ""})).await;
    let reviewed = app
        .post(
            &path,
            &admin.token,
            json!({"note": "Montant vérifié avec le relevé : remboursé"}),
        )
        .await;
    let reviewed_status = reviewed.status();
    let reviewed_body: Value = reviewed.json().await.expect("json");
    let to_review_after = listed(&app, &admin.token, "?needs_review=true").await;
    let paid_id = succeeded[0]["payment_id"].as_str().expect("id").to_owned();
    let not_flagged = app
        .admin_review_payment(&admin.token, paid_id, json!({"note": "Vérifié"}))
        .await;
    let unknown = app
        .admin_review_payment(
            &admin.token,
            uuid::Uuid::new_v4(),
            json!({"note": "Vérifié"}),
        )
        .await;
    let bad_filter = app
        .admin_payments(&admin.token, &[("provider", "paypal")])
        .await;

    // Assert
    assert_eq!(all.len(), 3, "every shop's payments");
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0]["tenant_name"], "Friperie Abobo");
    assert!(
        succeeded[0]["provider_txn_id"].is_string(),
        "the provider's reference"
    );
    assert!(wave.is_empty());
    assert_eq!(to_review.len(), 1);
    assert_eq!(to_review[0]["payment_id"], flagged_id.as_str());
    assert_eq!(no_note.status(), 422);
    assert_eq!(reviewed_status, 200, "{reviewed_body}");
    assert_eq!(
        reviewed_body["status"], "flagged",
        "reviewing activates nothing"
    );
    assert_eq!(
        reviewed_body["review_note"],
        "Montant vérifié avec le relevé : remboursé"
    );
    assert_eq!(reviewed_body["reviewed_by"], admin.user_id.to_string());
    assert!(to_review_after.is_empty(), "no longer waiting for review");
    assert_eq!(not_flagged.status(), StatusCode::CONFLICT);
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(bad_filter.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail =
        support::audit_detail(&app, flagged_shop.tenant_id, "payment.reviewed_by_operator").await;
    assert_eq!(detail["note"], "Montant vérifié avec le relevé : remboursé");
    assert_eq!(
        app.subscription_state(flagged_shop.tenant_id).await.0,
        "pending",
        "still not paid"
    );

    // The page: the flagged payment with its review form, the note required.
    let mut web = support::admin_web(&app, &admin).await;
    let page = web.page("/admin/payments?status=flagged").await;
    assert!(
        page.contains("Cosmétiques Yopougon") && page.contains("Montant vérifié avec le relevé"),
        "{page}"
    );
    let refused = web
        .submit(
            "/admin/payments",
            &format!("/admin/payments/{flagged_id}/review"),
            &[("note", "")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("Indiquez le motif")
    );
    let done = web
        .submit(
            "/admin/payments",
            &format!("/admin/payments/{flagged_id}/review"),
            &[("note", "Deuxième vérification")],
        )
        .await;
    assert_eq!(
        location(&done),
        "/admin/payments?status=flagged&done=reviewed"
    );
}
