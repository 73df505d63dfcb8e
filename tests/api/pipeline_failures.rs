//! When the model fails: nothing is lost, transient failures are retried with a delay, and a message that
//! keeps failing is dead-lettered with its reason and shown to the shop.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use workers::Outcome;
use workers::llm::gemini::fake::{FAKE_API_KEY, FakeGemini, FakeResponse};
use workers::llm::gemini::{Gemini, GeminiConfig};

use crate::bot_support::*;
use crate::helpers::spawn_app;

const CUSTOMER: &str = "2250700000002";

fn gemini(config: &GeminiConfig) -> Arc<Gemini> {
    Arc::new(Gemini::new(FAKE_API_KEY.into(), config).expect("provider"))
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn transient_model_failures_are_retried_with_a_delay_and_nothing_is_lost(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let fake = FakeGemini::scripted(vec![
        FakeResponse::rate_limited("12s"),
        FakeResponse::error(500, "INTERNAL", "boom"),
        FakeResponse::text("trop tard").delayed(Duration::from_millis(1500)),
        FakeResponse::malformed_function_call(),
        FakeResponse::text("Bonjour, bienvenue !"),
    ])
    .await
    .expect("fake");
    let config = GeminiConfig {
        timeout_secs: 1,
        ..fake.config()
    };
    let pipeline = pipeline(&app, gemini(&config));
    let (subject, message) = inbound(&app, &shop, CUSTOMER, "bonjour");
    let payload = serde_json::to_vec(&message).expect("json");

    let first = pipeline.process_delivery(&subject, &payload, 1).await;
    assert_eq!(
        first,
        Outcome::Retry(Duration::from_secs(12)),
        "RetryInfo's delay is honoured"
    );
    assert_eq!(
        backoff_of(&app, &shop).await,
        [(1, true)],
        "the chat is held back"
    );
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 2).await,
        Outcome::Ack,
        "a redelivery before the backoff ran out leaves the stored message to the sweeper"
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "the provider is not asked again before its delay"
    );

    let mut outcomes = Vec::new();
    for (delivery, case) in [(3, "500"), (4, "timeout"), (5, "malformed function call")] {
        backoff_elapsed(&app).await;
        outcomes.push((
            pipeline
                .process_delivery(&subject, &payload, delivery)
                .await,
            case,
        ));
    }
    assert_eq!(
        outcomes[0].0,
        Outcome::Retry(Duration::from_secs(2)),
        "exponential backoff on the second failure"
    );
    for (outcome, case) in &outcomes[1..] {
        assert!(
            matches!(outcome, Outcome::Retry(d) if *d >= Duration::from_secs(1)),
            "{case}: {outcome:?}"
        );
    }
    assert!(
        bot_replies(&app, &shop, CUSTOMER).await.is_empty(),
        "no reply while failing"
    );

    backoff_elapsed(&app).await;
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 6).await,
        Outcome::Ack
    );
    assert_eq!(
        bot_replies(&app, &shop, CUSTOMER).await,
        ["Bonjour, bienvenue !"],
        "answered once it recovered"
    );
    assert_eq!(
        backoff_of(&app, &shop).await,
        [(0, false)],
        "the failure count starts again"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_message_failing_on_every_delivery_is_dead_lettered_and_listed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let fake = FakeGemini::start(|_| FakeResponse::error(503, "UNAVAILABLE", "overloaded"))
        .await
        .expect("fake");
    let pipeline = pipeline(&app, gemini(&fake.config()));
    let (subject, message) = inbound(&app, &shop, CUSTOMER, "bonjour");
    let payload = serde_json::to_vec(&message).expect("json");

    let last_attempt = i64::from(workers::MAX_FAILED_TURNS);
    for delivery in 1..last_attempt {
        backoff_elapsed(&app).await;
        assert!(
            matches!(
                pipeline
                    .process_delivery(&subject, &payload, delivery)
                    .await,
                Outcome::Retry(_)
            ),
            "delivery {delivery}"
        );
    }
    backoff_elapsed(&app).await;
    let last = pipeline
        .process_delivery(&subject, &payload, last_attempt)
        .await;
    assert_eq!(last, Outcome::Ack, "acked once the dead letter is stored");

    let dead: Value = dead_letters_of(&app, &shop).await;
    assert_eq!(dead.as_array().map(Vec::len), Some(1));
    assert_eq!(dead[0]["wa_message_id"], message.wa_message_id);
    assert_eq!(dead[0]["deliveries"], workers::MAX_FAILED_TURNS);
    assert!(
        dead[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("tentatives")),
        "{}",
        dead[0]["reason"]
    );
    let status: String = sqlx::query_scalar("select status from message where wa_message_id = $1")
        .bind(&message.wa_message_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("message kept");
    assert_eq!(status, "skipped", "kept, marked as not answered");
    let other = app.signup("Autre boutique").await;
    let foreign: Value = dead_letters_of(&app, &other).await;
    assert_eq!(foreign, json!([]), "another shop sees none of it");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn bad_requests_to_the_model_are_not_retried(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let fake = FakeGemini::start(|_| FakeResponse::error(400, "INVALID_ARGUMENT", "bad"))
        .await
        .expect("fake");
    let pipeline = pipeline(&app, gemini(&fake.config()));
    let (subject, message) = inbound(&app, &shop, CUSTOMER, "bonjour");

    let outcome = pipeline
        .process_delivery(&subject, &serde_json::to_vec(&message).expect("json"), 1)
        .await;

    assert_eq!(outcome, Outcome::Ack, "acked: the dead letter is stored");
    assert_eq!(fake.requests().len(), 1, "asked once");
    let dead: Value = dead_letters_of(&app, &shop).await;
    assert_eq!(dead[0]["wa_message_id"], message.wa_message_id);
    assert_eq!(dead[0]["deliveries"], 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn with_the_fallback_on_customers_are_answered_offline_when_gemini_keeps_failing(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let fake = FakeGemini::start(|_| FakeResponse::error(500, "INTERNAL", "down"))
        .await
        .expect("fake");
    let pipeline = pipeline(&app, gemini_with_fallback(&fake, 2));
    let (subject, message) = inbound(&app, &shop, CUSTOMER, "bonjour");
    let payload = serde_json::to_vec(&message).expect("json");

    assert!(
        matches!(
            pipeline.process_delivery(&subject, &payload, 1).await,
            Outcome::Retry(_)
        ),
        "first failure is retried"
    );
    backoff_elapsed(&app).await;
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 2).await,
        Outcome::Ack,
        "second failure opens the breaker"
    );

    let replies = bot_replies(&app, &shop, CUSTOMER).await;
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].contains("Friperie"),
        "the offline assistant greeted: {}",
        replies[0]
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn unreadable_messages_are_dead_lettered_at_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let pipeline = pipeline(&app, Arc::new(workers::llm::offline::Offline::new()));
    let subject = app.subjects.inbound(shop.tenant_id, "sim_1");

    let outcome = pipeline.process_delivery(&subject, b"{not json", 1).await;

    assert!(matches!(outcome, Outcome::DeadLetter(_)), "{outcome:?}");
    let dead: Value = dead_letters_of(&app, &shop).await;
    assert_eq!(
        dead[0]["payload"], "{not json",
        "the raw payload is kept for diagnosis"
    );
}

/// Gemini that fails (500) for the prompts of the shop named `failing`, and answers the others.
async fn gemini_failing_for(failing: &'static str) -> FakeGemini {
    FakeGemini::start(move |request| {
        if request.body.to_string().contains(failing) {
            FakeResponse::error(500, "INTERNAL", "down")
        } else {
            FakeResponse::text("Réponse de l'IA")
        }
    })
    .await
    .expect("fake")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn one_shop_s_model_failures_never_switch_another_shop_to_the_offline_assistant(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let troubled = app.signup("Friperie Maudite").await;
    let healthy = app.signup("Boutique Heureuse").await;
    let fake = gemini_failing_for("Friperie Maudite").await;
    let pipeline = pipeline(&app, gemini_with_fallback(&fake, 2));

    let (subject, message) = inbound(&app, &troubled, CUSTOMER, "bonjour");
    let payload = serde_json::to_vec(&message).expect("json");
    assert!(matches!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        Outcome::Retry(_)
    ));
    backoff_elapsed(&app).await;
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 2).await,
        Outcome::Ack,
        "the troubled shop's breaker opens: answered offline"
    );

    let (subject, message) = inbound(&app, &healthy, CUSTOMER, "bonjour");
    let payload = serde_json::to_vec(&message).expect("json");
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        Outcome::Ack
    );
    assert_eq!(
        bot_replies(&app, &healthy, CUSTOMER).await,
        ["Réponse de l'IA"],
        "the other shop is still answered by the model"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_prompt_refused_on_content_grounds_is_answered_offline_at_once_and_asked_once(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let fake = FakeGemini::start(|_| {
        FakeResponse::ok(workers::llm::gemini::fake::blocked_prompt_response(
            "SAFETY",
        ))
    })
    .await
    .expect("fake");
    let pipeline = pipeline(&app, gemini_with_fallback(&fake, 3));
    let (subject, message) = inbound(&app, &shop, CUSTOMER, "bonjour");
    let payload = serde_json::to_vec(&message).expect("json");

    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        Outcome::Ack
    );

    assert_eq!(fake.requests().len(), 1, "never retried");
    let replies = bot_replies(&app, &shop, CUSTOMER).await;
    assert_eq!(replies.len(), 1, "answered by the offline assistant");
    assert!(replies[0].contains("Friperie"), "{}", replies[0]);
}

/// Gemini on `fake`, falling back to the offline assistant after `threshold` failures of one kind for a shop.
fn gemini_with_fallback(
    fake: &FakeGemini,
    threshold: u32,
) -> Arc<workers::llm::fallback::Fallback> {
    Arc::new(workers::llm::fallback::Fallback::new(
        Box::new(Gemini::new(FAKE_API_KEY.into(), &fake.config()).expect("provider")),
        Box::new(workers::llm::offline::Offline::new()),
        threshold,
        Duration::from_secs(60),
    ))
}
