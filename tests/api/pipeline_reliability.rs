//! The pipeline's delivery promise through failures: an outage is waited out (never dead-lettered), a failed
//! model attempt leaves no order behind, a turn has a deadline, one shop cannot take every turn, the sweeper
//! is fair and honours backoff, a worker pulls only what it can work on, and the outbox is bounded and
//! published in order.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use workers::llm::gemini::fake::{FAKE_API_KEY, FakeGemini, FakeResponse};
use workers::llm::gemini::{Gemini, GeminiConfig};
use workers::llm::offline::Offline;
use workers::llm::{LlmError, LlmProvider, Reply, ToolExecutor, Turn};
use workers::{Outcome, Pipeline, WorkerConfig};

use crate::bot_support::*;
use crate::helpers::{Shop, TestApp, spawn_app};

const CUSTOMER: &str = "2250700000031";
const WHATSAPP_CUSTOMER: &str = "2250700000031@s.whatsapp.net";

fn gemini(config: &GeminiConfig) -> Arc<Gemini> {
    Arc::new(Gemini::new(FAKE_API_KEY.into(), config).expect("provider"))
}

async fn payload_of(app: &TestApp, shop: &Shop, from: &str, text: &str) -> (String, Vec<u8>) {
    let (subject, message) = inbound(app, shop, from, text);
    (subject, serde_json::to_vec(&message).expect("json"))
}

async fn pending_count(app: &TestApp, shop: &Shop) -> i64 {
    sqlx::query_scalar("select count(*) from message where tenant_id = $1 and status = 'pending'")
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_database_outage_is_retried_however_long_and_never_dead_lettered(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    // Every connection is refused, like PostgreSQL during a long outage.
    let down = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy_with(PgConnectOptions::new().host("127.0.0.1").port(1));
    let pipeline = Pipeline::new(
        store::Db::from_pools(down.clone(), down),
        app.nats.clone(),
        app.subjects.clone(),
        Arc::new(Offline::new()),
        WorkerConfig::for_tests(),
        app.master_key.clone(),
    );
    let (subject, payload) = payload_of(&app, &shop, CUSTOMER, "bonjour").await;

    for delivery in [1, 8, 50] {
        let outcome = pipeline
            .process_delivery(&subject, &payload, delivery)
            .await;
        assert!(
            matches!(outcome, Outcome::Retry(_)),
            "delivery {delivery}: {outcome:?} (an ack here loses the message)"
        );
    }
    let unreadable = pipeline.process_delivery(&subject, b"{oops", 1).await;
    assert!(
        matches!(unreadable, Outcome::Retry(_)),
        "even a poison message is not acked before its dead letter is stored: {unreadable:?}"
    );

    // Once the database is back, the same delivery is answered.
    let healthy = pipeline_with(&app, Arc::new(Offline::new()), WorkerConfig::for_tests());
    assert_eq!(
        healthy.process_delivery(&subject, &payload, 51).await,
        Outcome::Ack
    );
    assert_eq!(bot_replies(&app, &shop, CUSTOMER).await.len(), 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_order_gemini_was_taking_when_it_failed_is_not_placed_by_the_fallback(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let robe = app
        .create_product_ok(
            &shop,
            json!({"name": "Robe wax", "price_xof": 15000, "stock": 3}),
        )
        .await;
    let robe_id = robe["product_id"].as_str().expect("id");
    let fake = FakeGemini::scripted(vec![
        FakeResponse::function_call(
            Some("c1"),
            "create_order",
            json!({"items": [{"product_id": robe_id, "quantity": 1}], "customer_name": "Kouassi"}),
            Some("sig-1"),
        ),
        FakeResponse::error(500, "INTERNAL", "boom"),
    ])
    .await
    .expect("fake");
    let provider = Arc::new(workers::llm::fallback::Fallback::new(
        Box::new(Gemini::new(FAKE_API_KEY.into(), &fake.config()).expect("provider")),
        Box::new(Offline::new()),
        1,
        Duration::from_secs(60),
    ));
    let (subject, payload) = payload_of(&app, &shop, CUSTOMER, "bonjour").await;

    let outcome = pipeline(&app, provider)
        .process_delivery(&subject, &payload, 1)
        .await;

    assert_eq!(outcome, Outcome::Ack, "answered by the offline assistant");
    assert_eq!(fake.requests().len(), 2, "Gemini failed mid-turn");
    assert_eq!(
        orders_of(&app, &shop).await,
        Vec::<Value>::new(),
        "the customer never saw Gemini's order: it is not placed"
    );
    assert_eq!(stock_of(&app, robe_id).await, Some(3));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_turn_over_its_deadline_is_abandoned_and_retried_later(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    // Two model rounds of 0.7 s each: every call is within the HTTP timeout, the turn is not.
    let slow = Duration::from_millis(700);
    let fake = FakeGemini::scripted(vec![
        FakeResponse::function_call(
            Some("c1"),
            "search_products",
            json!({"query": "robe"}),
            None,
        )
        .delayed(slow),
        FakeResponse::text("trop tard").delayed(slow),
        FakeResponse::text("Bonjour !"),
    ])
    .await
    .expect("fake");
    let config = WorkerConfig {
        turn_deadline_secs: 1,
        gemini: GeminiConfig {
            timeout_secs: 1,
            ..fake.config()
        },
        ..WorkerConfig::for_tests()
    };
    let pipeline = pipeline_with(&app, gemini(&config.gemini), config);
    let (subject, payload) = payload_of(&app, &shop, CUSTOMER, "bonjour").await;

    let first = pipeline.process_delivery(&subject, &payload, 1).await;
    assert!(matches!(first, Outcome::Retry(_)), "{first:?}");
    assert!(bot_replies(&app, &shop, CUSTOMER).await.is_empty());
    assert_eq!(backoff_of(&app, &shop).await, [(1, true)]);

    backoff_elapsed(&app).await;
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 2).await,
        Outcome::Ack
    );
    assert_eq!(bot_replies(&app, &shop, CUSTOMER).await, ["Bonjour !"]);
}

#[test]
fn the_deadlines_must_nest() {
    let config = WorkerConfig::for_tests();
    assert_eq!(config.check(), Ok(()));
    let late_claim = WorkerConfig {
        turn_deadline_secs: 60,
        claim_ttl_secs: 60,
        ..WorkerConfig::for_tests()
    };
    assert!(late_claim.check().is_err(), "a claim must outlive the turn");
    let slow_call = WorkerConfig {
        turn_deadline_secs: 10,
        gemini: GeminiConfig {
            timeout_secs: 30,
            ..GeminiConfig::default()
        },
        ..WorkerConfig::for_tests()
    };
    assert!(
        slow_call.check().is_err(),
        "one model call must fit in a turn"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_at_its_turn_cap_waits_while_another_shop_is_answered(pool: PgPool) {
    let app = spawn_app(pool).await;
    let busy = app.signup("Boutique pleine").await;
    let other = app.signup("Autre boutique").await;
    let config = WorkerConfig {
        tenant_concurrent_turns: 1,
        stranded_after_secs: 0,
        ..WorkerConfig::for_tests()
    };
    let pipeline = pipeline_with(&app, Arc::new(Offline::new()), config);
    // The busy shop has one turn running (a chat claimed by another worker).
    let (subject, payload) = payload_of(&app, &busy, "2250700000041", "bonjour").await;
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        Outcome::Ack
    );
    sqlx::query(
        "update chat set claimed_by = 'worker-elsewhere', claim_expires_at = now() + interval '1 minute'
         where tenant_id = $1",
    )
    .bind(busy.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("claim");

    let (subject, payload) = payload_of(&app, &busy, "2250700000042", "bonjour").await;
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        Outcome::Ack
    );
    let (other_subject, other_payload) = payload_of(&app, &other, "2250700000043", "bonjour").await;
    assert_eq!(
        pipeline
            .process_delivery(&other_subject, &other_payload, 1)
            .await,
        Outcome::Ack
    );

    assert_eq!(
        pending_count(&app, &busy).await,
        1,
        "stored, waiting for its turn"
    );
    assert!(bot_replies(&app, &busy, "2250700000042").await.is_empty());
    assert_eq!(
        bot_replies(&app, &other, "2250700000043").await.len(),
        1,
        "the other shop is answered meanwhile"
    );

    // The running turn ends: its worker takes the shop's waiting chat next (here: the sweeper).
    sqlx::query("update chat set claimed_by = null, claim_expires_at = null")
        .execute(&app.admin_db)
        .await
        .expect("release");
    pipeline.sweep_once().await;
    assert_eq!(bot_replies(&app, &busy, "2250700000042").await.len(), 1);
    assert_eq!(pending_count(&app, &busy).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_sweeper_takes_every_shops_oldest_chat_first_and_leaves_backing_off_chats(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let crowded = app.signup("Boutique pleine").await;
    let quiet = app.signup("Petite boutique").await;
    let held_back = app.signup("Boutique en attente").await;
    for (shop, customers) in [(&crowded, 5), (&quiet, 1), (&held_back, 1)] {
        for n in 0..customers {
            let (_, message) = inbound(&app, shop, &format!("22507000005{n:02}"), "bonjour");
            sqlx::query(
                "with c as (insert into chat (tenant_id, channel, customer_jid) values ($1, 'simulator', $2)
                            returning chat_id)
                 insert into message (tenant_id, chat_id, direction, wa_message_id, body, created_at)
                 select $1, chat_id, 'inbound', $3, 'bonjour', now() - make_interval(mins => $4) from c",
            )
            .bind(shop.tenant_id)
            .bind(&message.customer_jid)
            .bind(&message.wa_message_id)
            // The crowded shop's chats are the oldest of all.
            .bind(if shop.tenant_id == crowded.tenant_id { 30 - n } else { 5 })
            .execute(&app.admin_db)
            .await
            .expect("stranded chat");
        }
    }
    sqlx::query("update chat set retry_at = now() + interval '1 minute' where tenant_id = $1")
        .bind(held_back.tenant_id)
        .execute(&app.admin_db)
        .await
        .expect("backoff");

    let db = testkit::db::app_db_sized(&app.admin_db, 2).await;
    let mut tx = db.platform().await.expect("tx");
    let picked = store::chats::stranded(&mut tx, Duration::from_secs(1), 2)
        .await
        .expect("stranded");
    tx.commit().await.expect("commit");

    let tenants: Vec<_> = picked.iter().map(|(tenant, _)| *tenant).collect();
    assert_eq!(
        tenants,
        [crowded.tenant_id, quiet.tenant_id],
        "one chat per shop before any shop's second"
    );
    let mut tx = db.platform().await.expect("tx");
    let all = store::chats::stranded(&mut tx, Duration::from_secs(1), 100)
        .await
        .expect("stranded");
    assert_eq!(all.len(), 6, "the chat backing off is left alone");
    assert!(all.iter().all(|(tenant, _)| *tenant != held_back.tenant_id));
}

/// A model that takes its time, so messages pile up behind the one being answered.
struct Slow;

#[async_trait]
impl LlmProvider for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }

    async fn respond(
        &self,
        _turn: &Turn,
        _tools: &mut dyn ToolExecutor,
    ) -> Result<Reply, LlmError> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(Reply {
            text: "Bonjour".into(),
            ..Reply::default()
        })
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_worker_pulls_no_more_messages_than_it_has_free_slots(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let config = WorkerConfig {
        concurrency: 2,
        ..WorkerConfig::for_tests()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(pipeline_with(&app, Arc::new(Slow), config).run(stop.clone()));
    let js = async_nats::jetstream::new(app.nats.clone());
    for n in 0..6 {
        let (_, message) = inbound(&app, &shop, &format!("22507000006{n:02}"), "bonjour");
        tdj_nats::publish_inbound(&js, &app.subjects, &message)
            .await
            .expect("publish");
    }
    let stream = js
        .get_stream(app.subjects.inbound_stream())
        .await
        .expect("stream");

    let mut most_in_flight = 0;
    let mut answered = 0;
    for _ in 0..40 {
        let info = stream
            .consumer_info(&app.subjects.workers_consumer())
            .await
            .expect("consumer");
        most_in_flight = most_in_flight.max(info.num_ack_pending);
        answered = info.ack_floor.stream_sequence;
        if answered >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.cancel();

    assert!(answered >= 6, "all answered ({answered})");
    assert!(
        most_in_flight <= 2,
        "{most_in_flight} messages held by a worker with 2 slots: the rest would age in its buffer"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn published_outbox_entries_are_pruned_and_unpublished_ones_kept(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    // Published two days ago, an hour ago, and not yet.
    for (msg_id, published_hours_ago) in [
        ("old", Some(48.0)),
        ("recent", Some(1.0)),
        ("unpublished", None),
    ] {
        sqlx::query(
            "insert into outbox (tenant_id, subject, msg_id, payload, published_at)
             values ($1, 'x', $2, '{}', now() - make_interval(hours => $3::float8::int))",
        )
        .bind(shop.tenant_id)
        .bind(msg_id)
        .bind(published_hours_ago)
        .execute(&app.admin_db)
        .await
        .expect("outbox");
    }
    // Keep the sweeper from publishing the unpublished one to a subject nobody has.
    sqlx::query("update outbox set created_at = now() where msg_id = 'unpublished'")
        .execute(&app.admin_db)
        .await
        .expect("fresh");

    pipeline(&app, Arc::new(Offline::new())).sweep_once().await;

    let left: Vec<String> = sqlx::query_scalar("select msg_id from outbox order by outbox_id")
        .fetch_all(&app.admin_db)
        .await
        .expect("outbox");
    assert_eq!(left, ["recent", "unpublished"]);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn one_publisher_per_shop_at_a_time_so_replies_leave_in_order(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    for msg_id in ["reply-1", "reply-2"] {
        sqlx::query(
            "insert into outbox (tenant_id, subject, msg_id, payload) values ($1, 'x', $2, '{}')",
        )
        .bind(shop.tenant_id)
        .bind(msg_id)
        .execute(&app.admin_db)
        .await
        .expect("outbox");
    }
    let ctx = store::TenantCtx::new(shop.tenant_id);
    let mut first = app.db.tenant(ctx).await.expect("tx");
    let taken = store::outbox::claim_unpublished(&mut first, 1)
        .await
        .expect("claim");
    assert_eq!(taken[0].msg_id, "reply-1");

    let db = app.db.clone();
    let second = tokio::spawn(async move {
        let mut tx = db.tenant(ctx).await.expect("tx");
        let taken = store::outbox::claim_unpublished(&mut tx, 10)
            .await
            .expect("claim");
        taken.into_iter().map(|e| e.msg_id).collect::<Vec<_>>()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "a second publisher waits instead of sending reply 2 while reply 1 is in flight"
    );
    store::outbox::mark_published(&mut first, &[taken[0].outbox_id])
        .await
        .expect("mark");
    first.commit().await.expect("commit");
    assert_eq!(second.await.expect("join"), ["reply-2"]);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_message_with_a_nul_byte_is_answered_not_retried_forever(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let (subject, payload) = payload_of(&app, &shop, CUSTOMER, "bon\0jour").await;

    let outcome = pipeline(&app, Arc::new(Offline::new()))
        .process_delivery(&subject, &payload, 1)
        .await;

    assert_eq!(outcome, Outcome::Ack);
    let messages = chat_messages(&app, &shop, CUSTOMER).await;
    assert_eq!(messages[0]["body"], "bonjour");
    assert_eq!(bot_replies(&app, &shop, CUSTOMER).await.len(), 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn work_the_database_keeps_refusing_is_dead_lettered_at_the_poison_limit(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    // A customer id the database refuses (a constraint added for the test): every attempt to store it fails.
    let (subject, message) = inbound(&app, &shop, CUSTOMER, "bonjour");
    let mut payload = serde_json::to_value(&message).expect("json");
    payload["customer_jid"] = json!("x".repeat(100_000));
    sqlx::query("alter table chat add constraint short_jid check (length(customer_jid) < 1000)")
        .execute(&app.admin_db)
        .await
        .expect("constraint");
    let payload = serde_json::to_vec(&payload).expect("json");
    let pipeline = pipeline(&app, Arc::new(Offline::new()));

    let early = pipeline.process_delivery(&subject, &payload, 1).await;
    let last = pipeline
        .process_delivery(&subject, &payload, i64::from(workers::MAX_FAILED_TURNS))
        .await;

    assert!(matches!(early, Outcome::Retry(_)), "{early:?}");
    assert!(matches!(last, Outcome::DeadLetter(_)), "{last:?}");
    let dead: Value = dead_letters_of(&app, &shop).await;
    assert_eq!(
        dead.as_array().map(Vec::len),
        Some(1),
        "stored before the ack"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_reply_a_dead_worker_left_unpublished_leaves_before_the_chats_next_one(pool: PgPool) {
    // Arrange: a chat answered once; then a reply committed by a worker that died before publishing it.
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    crate::ingress_support::activate_subscription(&app, shop.tenant_id).await;
    let pipeline = pipeline(&app, Arc::new(Offline::new()));
    let (subject, payload) = whatsapp_inbound(&app, &shop, WHATSAPP_CUSTOMER, "bonjour");
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        Outcome::Ack
    );
    let first = stored_replies(&app).await.pop().expect("the first reply");
    let stranded = schemas::OutboundReply {
        outbound_id: "stranded-reply".into(),
        text: "Réponse restée en attente".into(),
        ..first.clone()
    };
    sqlx::query(
        "insert into outbox (tenant_id, chat_id, subject, msg_id, payload) values ($1, $2, $3, $4, $5)",
    )
    .bind(shop.tenant_id)
    .bind(first.chat_id)
    .bind(app.subjects.outbound(shop.tenant_id))
    .bind(&stranded.outbound_id)
    .bind(serde_json::to_value(&stranded).expect("json"))
    .execute(&app.admin_db)
    .await
    .expect("stranded entry");

    // Act: the customer writes again.
    let (subject, payload) =
        whatsapp_inbound(&app, &shop, WHATSAPP_CUSTOMER, "vous êtes ouverts ?");
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        Outcome::Ack
    );

    // Assert: in the stream the ingress sends from, the stranded reply comes first, then the new one, each
    // once; every entry is marked published soon after, without a transaction per publish.
    let replies = stored_replies(&app).await;
    let ids: Vec<&str> = replies.iter().map(|r| r.outbound_id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], first.outbound_id);
    assert_eq!(ids[1], "stranded-reply");
    assert_eq!(replies[2].chat_id, first.chat_id);
    testkit::poll::eventually(
        Duration::from_secs(3),
        "every published entry marked",
        || async {
            let unpublished: i64 = sqlx::query_scalar(
                "select count(*) from outbox where tenant_id = $1 and published_at is null",
            )
            .bind(shop.tenant_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("count");
            unpublished == 0
        },
    )
    .await;
}

/// The replies in the outbound stream, in stream order (JetStream's dedup applied).
async fn stored_replies(app: &TestApp) -> Vec<schemas::OutboundReply> {
    let js = async_nats::jetstream::new(app.nats.clone());
    let mut stream = js
        .get_stream(app.subjects.outbound_stream())
        .await
        .expect("outbound stream");
    let last = stream.info().await.expect("info").state.last_sequence;
    let mut replies = Vec::new();
    for seq in 1..=last {
        if let Ok(message) = stream.get_raw_message(seq).await {
            replies.push(serde_json::from_slice(&message.payload).expect("reply"));
        }
    }
    replies
}
