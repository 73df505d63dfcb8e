//! Dead letters, replayed or discarded by the operator (across shops, with a reason) or by the shop's owner
//! (its own): a replayed message goes back into the pipeline and is answered exactly once, however many times
//! replay is clicked.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use workers::Outcome;
use workers::llm::gemini::Gemini;
use workers::llm::gemini::fake::{FAKE_API_KEY, FakeGemini, FakeResponse};
use workers::llm::offline::Offline;

use super::support;
use crate::bot_support::{
    backoff_elapsed, inbound, pipeline, start_offline_worker, wait_until_inbound_acked,
};
use crate::helpers::{Shop, TestApp, spawn_app};
use crate::web_support::{WebUser, location};

const CUSTOMER: &str = "2250700000077";

/// A customer's message the model failed on at every delivery: dead-lettered, as in production. Returns its
/// WhatsApp message id and the dead letter's id.
async fn dead_lettered(app: &TestApp, shop: &Shop, text: &str) -> (String, String) {
    let fake = FakeGemini::start(|_| FakeResponse::error(503, "UNAVAILABLE", "overloaded"))
        .await
        .expect("fake");
    let failing = pipeline(
        app,
        Arc::new(Gemini::new(FAKE_API_KEY.into(), &fake.config()).expect("provider")),
    );
    let (subject, message) = inbound(app, shop, CUSTOMER, text);
    let payload = serde_json::to_vec(&message).expect("json");
    for delivery in 1..=i64::from(workers::MAX_FAILED_TURNS) {
        backoff_elapsed(app).await;
        let outcome = failing.process_delivery(&subject, &payload, delivery).await;
        let expected_ack = delivery == i64::from(workers::MAX_FAILED_TURNS);
        assert_eq!(
            outcome == Outcome::Ack,
            expected_ack,
            "{delivery}: {outcome:?}"
        );
    }
    let id: uuid::Uuid =
        sqlx::query_scalar("select dead_letter_id from dead_letter where wa_message_id = $1")
            .bind(&message.wa_message_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("dead letter");
    (message.wa_message_id, id.to_string())
}

/// The message's replies once everything that could answer it again has run: every delivery on the inbound
/// stream acked, then one more sweep (the sweeper re-answers stranded chats).
async fn replies_once_settled(app: &TestApp, wa_message_id: &str) -> i64 {
    testkit::eventually(Duration::from_secs(10), "the message answered", || async {
        support::replies_to(app, wa_message_id).await > 0
    })
    .await;
    wait_until_inbound_acked(app).await;
    pipeline(app, Arc::new(Offline::new())).sweep_once().await;
    support::replies_to(app, wa_message_id).await
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_dead_letter_replayed_twice_by_the_operator_is_answered_exactly_once(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let admin = support::create_admin(&app).await;
    let shop = app.signup("Friperie Abobo").await;
    let (wa_message_id, dead_id) =
        dead_lettered(&app, &shop, "bonjour, vous avez des pagnes ?").await;
    let _worker = start_offline_worker(&app);
    let path = format!("/api/v1/admin/dead-letters/{dead_id}/replay");

    // Act
    let no_reason = app.post(&path, &admin.token, json!({"reason": ""})).await;
    let (first, second) = tokio::join!(
        app.post(
            &path,
            &admin.token,
            json!({"reason": "Gemini rétabli, on rejoue"})
        ),
        app.post(
            &path,
            &admin.token,
            json!({"reason": "Gemini rétabli, on rejoue"})
        ),
    );
    let first: Value = first.json().await.expect("json");
    let second: Value = second.json().await.expect("json");
    let replies = replies_once_settled(&app, &wa_message_id).await;
    let third = app
        .post(&path, &admin.token, json!({"reason": "Encore une fois"}))
        .await;
    let third: Value = third.json().await.expect("json");
    let discard = app
        .admin_discard_dead_letter(&admin.token, dead_id, json!({"reason": "Trop tard"}))
        .await;

    // Assert
    assert_eq!(no_reason.status(), 422, "a reason is required");
    let changed = [&first, &second]
        .iter()
        .filter(|r| r["changed"] == true)
        .count();
    assert_eq!(
        changed, 1,
        "one of two simultaneous clicks replays: {first} {second}"
    );
    assert_eq!(first["status"], "replayed");
    assert_eq!(replies, 1, "answered exactly once");
    assert_eq!(third["changed"], false, "a later click changes nothing");
    assert_eq!(replies_once_settled(&app, &wa_message_id).await, 1);
    assert_eq!(
        discard.status(),
        StatusCode::CONFLICT,
        "a replayed message cannot be discarded"
    );
    let (status, detail): (String, String) =
        sqlx::query_as("select status, status_detail from message where wa_message_id = $1")
            .bind(&wa_message_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("message");
    assert_eq!((status.as_str(), detail.as_str()), ("answered", ""));
    let open: Vec<Value> = app
        .admin_dead_letters(&admin.token, &[])
        .await
        .json()
        .await
        .expect("json");
    assert!(open.is_empty(), "no longer open");
    let replayed: Vec<Value> = app
        .admin_dead_letters(&admin.token, &[("status", "replayed")])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(replayed[0]["resolution_note"], "Gemini rétabli, on rejoue");
    assert_eq!(replayed[0]["resolved_by"], admin.user_id.to_string());
    let audit = support::audit_detail(&app, shop.tenant_id, "dead_letter.replayed").await;
    assert_eq!(audit["reason"], "Gemini rétabli, on rejoue");
    let republished: i64 = sqlx::query_scalar(
        "select count(*) from outbox where tenant_id = $1 and msg_id like '%:replay:%'",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("outbox");
    assert_eq!(republished, 1, "put back into the pipeline once");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_shops_owner_replays_or_discards_its_own_dead_letters_from_its_pages(pool: PgPool) {
    // Arrange: two dead letters of the shop, one of another shop
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let other = app.signup("Autre boutique").await;
    let (replayed_wa, replay_id) = dead_lettered(&app, &shop, "c'est combien le pagne ?").await;
    let (_, discard_id) = dead_lettered(&app, &shop, "allô ?").await;
    let (_, foreign_id) = dead_lettered(&app, &other, "bonjour").await;
    let _worker = start_offline_worker(&app);
    let mut web = WebUser::signed_in(&app, &shop).await;
    let (staff_email, staff_token) = support::staff_of(&app, &shop).await;

    // Act
    let home = web.page("/app").await;
    let replayed = web
        .submit(
            "/app",
            &format!("/app/dead-letters/{replay_id}/replay"),
            &[("back", "home")],
        )
        .await;
    let again = web
        .submit(
            "/app",
            &format!("/app/dead-letters/{replay_id}/replay"),
            &[("back", "home")],
        )
        .await;
    let discarded = web
        .submit(
            "/app/conversations",
            &format!("/app/dead-letters/{discard_id}/discard"),
            &[("back", "conversations")],
        )
        .await;
    let foreign = app
        .replay_dead_letter(&shop.token, &foreign_id, json!({}))
        .await;
    let foreign_page = web
        .submit(
            "/app",
            &format!("/app/dead-letters/{foreign_id}/discard"),
            &[("back", "home")],
        )
        .await;
    let by_staff = app
        .discard_dead_letter(&staff_token, discard_id, json!({}))
        .await;
    let replies = replies_once_settled(&app, &replayed_wa).await;

    // Assert
    assert!(
        home.contains(&format!("/app/dead-letters/{replay_id}/replay"))
            && home.contains("c&#39;est combien le pagne ?"),
        "the home page lists them with their buttons: {home}"
    );
    assert_eq!(location(&replayed), "/app?dead=replayed");
    assert_eq!(
        location(&again),
        "/app?dead=unchanged",
        "a second click changes nothing"
    );
    assert_eq!(location(&discarded), "/app/conversations?dead=discarded");
    assert_eq!(
        foreign.status(),
        StatusCode::NOT_FOUND,
        "another shop's dead letter does not exist here"
    );
    assert_eq!(
        foreign_page.status(),
        StatusCode::NOT_FOUND,
        "nor on the pages"
    );
    assert_eq!(
        by_staff.status(),
        StatusCode::FORBIDDEN,
        "owner only ({staff_email})"
    );
    assert_eq!(replies, 1, "answered exactly once");
    let after = web.page("/app").await;
    assert!(
        !after.contains("dead-letters/"),
        "none left to handle: {after}"
    );
    let statuses: Vec<(String, String)> = sqlx::query_as(
        "select wa_message_id, status from dead_letter where tenant_id = $1 order by created_at",
    )
    .bind(shop.tenant_id)
    .fetch_all(&app.admin_db)
    .await
    .expect("dead letters");
    assert_eq!(
        statuses.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["replayed", "discarded"]
    );
    let foreign_status: String =
        sqlx::query_scalar("select status from dead_letter where dead_letter_id = $1::uuid")
            .bind(&foreign_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("foreign");
    assert_eq!(foreign_status, "open", "untouched");
    let actions = app.audit_actions(shop.tenant_id).await;
    assert!(
        actions.contains(&"dead_letter.replayed".to_owned())
            && actions.contains(&"dead_letter.discarded".to_owned()),
        "{actions:?}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_unreadable_dead_letter_can_be_discarded_but_not_replayed(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let admin = support::create_admin(&app).await;
    let shop = app.signup("Friperie Abobo").await;
    let outcome = pipeline(&app, Arc::new(workers::llm::offline::Offline::new()))
        .process_delivery(
            &app.subjects.inbound(shop.tenant_id, "sim_1"),
            b"{not json",
            1,
        )
        .await;
    assert!(matches!(outcome, Outcome::DeadLetter(_)));
    let dead: Vec<Value> = app
        .admin_dead_letters(&admin.token, &[])
        .await
        .json()
        .await
        .expect("json");
    let id = dead[0]["dead_letter_id"].as_str().expect("id").to_owned();

    // Act
    let replay = app
        .admin_replay_dead_letter(&admin.token, &id, json!({"reason": "On essaie"}))
        .await;
    let replay_status = replay.status();
    let replay_body: Value = replay.json().await.expect("json");
    let mut web = support::admin_web(&app, &admin).await;
    let discard = web
        .submit(
            "/admin/dead-letters",
            &format!("/admin/dead-letters/{id}/discard"),
            &[("reason", "Message illisible")],
        )
        .await;

    // Assert
    assert_eq!(replay_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(replay_body["error"]["code"], "dead_letter_unreadable");
    assert_eq!(location(&discard), "/admin/dead-letters?done=discarded");
    let discarded = web.page("/admin/dead-letters?status=discarded").await;
    assert!(
        discarded.contains("Message illisible") && discarded.contains("Friperie Abobo"),
        "{discarded}"
    );
}
