//! The sales bot end to end: simulator → NATS → worker → reply, order and stock.

use crate::metrics_catalogue::series_value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::PgPool;
use workers::llm::gemini::Gemini;
use workers::llm::gemini::fake::{FakeGemini, FakeResponse};
use workers::llm::{LlmError, LlmProvider, Reply, ToolExecutor, Turn};

use crate::bot_support::*;
use crate::helpers::{Shop, TestApp, spawn_app};

const CUSTOMER: &str = "2250700000001";

async fn friperie(app: &TestApp) -> (Shop, Value, Value) {
    let shop = app.signup("Friperie Abobo").await;
    let robe = app
        .create_product_ok(
            &shop,
            json!({"name": "Robe wax", "price_xof": 15000, "stock": 3}),
        )
        .await;
    let pagne = app
        .create_product_ok(
            &shop,
            json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
        )
        .await;
    (shop, robe, pagne)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_asks_prices_and_stock_then_orders_with_the_offline_assistant(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (shop, _robe, pagne) = friperie(&app).await;
    let _worker = start_offline_worker(&app);
    let counted = [
        r#"pipeline_inbound_total{channel="simulator"}"#,
        r#"pipeline_replies_total{channel="simulator"}"#,
        r#"pipeline_reply_latency_seconds_count{channel="simulator"}"#,
        "orders_created_total",
        "orders_value_xof_total",
    ];
    let before = counted.map(series_value);

    let price = ask(
        &app,
        &shop,
        CUSTOMER,
        "Bonjour, c'est combien la robe wax ?",
    )
    .await;
    assert!(price.contains("15 000 FCFA"), "{price}");
    let stock = ask(&app, &shop, CUSTOMER, "vous avez encore des pagnes ?").await;
    assert!(stock.contains("Pagne"), "{stock}");
    let recap = ask(&app, &shop, CUSTOMER, "je prends 2 pagnes").await;
    assert!(
        recap.contains("15 000 FCFA"),
        "2 × 7 500 in the recap: {recap}"
    );
    let confirmation = ask(&app, &shop, CUSTOMER, "oui").await;
    assert!(confirmation.contains("CMD-"), "{confirmation}");

    let orders = orders_of(&app, &shop).await;
    assert_eq!(orders.len(), 1, "exactly one order");
    assert_eq!(orders[0]["total_xof"], 15000);
    assert_eq!(orders[0]["items"][0]["quantity"], 2);
    assert_eq!(orders[0]["customer_phone"], format!("+{CUSTOMER}"));
    assert_eq!(
        stock_of(&app, pagne["product_id"].as_str().expect("id")).await,
        Some(8),
        "stock decremented"
    );
    // The operator sees the same conversation in the metrics (other tests may add to the shared counters).
    let added: Vec<f64> = counted
        .iter()
        .zip(before)
        .map(|(series, before)| series_value(series) - before)
        .collect();
    assert!(
        added[0] >= 4.0 && added[1] >= 4.0 && added[2] >= 4.0,
        "{counted:?}: {added:?}"
    );
    assert!(
        added[3] >= 1.0 && added[4] >= 15_000.0,
        "{counted:?}: {added:?}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn gemini_function_calls_take_an_order_priced_from_the_database(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (shop, robe, _) = friperie(&app).await;
    let robe_id = robe["product_id"].as_str().expect("id");
    let fake =
        FakeGemini::scripted(vec![
        FakeResponse::function_call(
            Some("c1"),
            "search_products",
            json!({"query": "robe wax"}),
            Some("sig-1"),
        ).with_usage(100, 10, 0),
        FakeResponse::text("La robe wax est à 15 000 FCFA, il en reste 3.").with_usage(100, 10, 0),
        FakeResponse::function_call(
            Some("c2"),
            "create_order",
            json!({"items": [{"product_id": robe_id, "quantity": 2}], "customer_name": "Kouassi",
                   "delivery_address": "Abobo, près de la gare"}),
            Some("sig-2"),
        ).with_usage(100, 10, 0),
        FakeResponse::text("C'est noté ! Votre commande est enregistrée.").with_usage(100, 10, 0),
    ])
        .await
        .expect("fake gemini");
    let gemini = Gemini::new(
        workers::llm::gemini::fake::FAKE_API_KEY.into(),
        &fake.config(),
    )
    .expect("provider");
    let _worker = start_worker(&app, Arc::new(gemini));

    let answer = ask(&app, &shop, CUSTOMER, "c'est combien la robe wax ?").await;
    assert_eq!(answer, "La robe wax est à 15 000 FCFA, il en reste 3.");
    let search_result = &fake.requests()[1]["contents"];
    assert!(
        search_result.to_string().contains("15000"),
        "the tool answered with the database price"
    );
    ask(&app, &shop, CUSTOMER, "Je prends 2, livraison à Abobo").await;

    let orders = orders_of(&app, &shop).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0]["total_xof"], 30000,
        "2 × 15 000 from the catalogue"
    );
    assert_eq!(orders[0]["delivery_address"], "Abobo, près de la gare");
    assert_eq!(stock_of(&app, robe_id).await, Some(1));
    let tokens: (i64, i32) = sqlx::query_as(
        "select llm_prompt_tokens + llm_output_tokens, bot_replies from tenant_usage_now",
    )
    .fetch_one(&app.admin_db)
    .await
    .expect("usage");
    assert_eq!(
        tokens.1, 0,
        "simulator previews do not use the plan's replies"
    );
    assert_eq!(
        tokens.0, 440,
        "4 model calls × (100 prompt + 10 output) tokens recorded for the month"
    );
    let system = fake.requests()[0]["systemInstruction"].to_string();
    assert!(
        system.contains("Friperie Abobo") && system.contains("Robe wax"),
        "the prompt holds the shop's data"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_same_inbound_delivered_twice_gets_one_reply(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (shop, ..) = friperie(&app).await;
    let pipeline = pipeline(&app, Arc::new(workers::llm::offline::Offline::new()));
    let (subject, message) = inbound(&app, &shop, CUSTOMER, "c'est combien le pagne ?");
    let payload = serde_json::to_vec(&message).expect("json");

    for delivery in 1..=3 {
        assert_eq!(
            pipeline
                .process_delivery(&subject, &payload, delivery)
                .await,
            workers::Outcome::Ack,
            "delivery {delivery}"
        );
    }

    assert_eq!(bot_replies(&app, &shop, CUSTOMER).await.len(), 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_same_message_id_published_twice_is_deduplicated_by_jetstream(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (shop, ..) = friperie(&app).await;
    let js = async_nats::jetstream::new(app.nats.clone());
    let (_, message) = inbound(&app, &shop, CUSTOMER, "bonjour");
    for _ in 0..2 {
        testkit::publish::publish_inbound(&app.nats, &app.subjects, &message).await;
    }
    let _worker = start_offline_worker(&app);

    wait_for_replies(&app, &shop, CUSTOMER, 1).await;
    wait_until_inbound_acked(&app).await;
    assert_eq!(bot_replies(&app, &shop, CUSTOMER).await.len(), 1);
    let mut stream = js
        .get_stream(app.subjects.inbound_stream())
        .await
        .expect("stream");
    assert_eq!(
        stream.info().await.expect("info").state.messages,
        1,
        "the duplicate never entered the stream"
    );
}

/// Answers like the offline assistant, then never returns: a worker killed after the model answered.
struct DiesAfterAnswering {
    answered: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl LlmProvider for DiesAfterAnswering {
    fn name(&self) -> &'static str {
        "dies"
    }

    async fn respond(&self, turn: &Turn, tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError> {
        let reply = workers::llm::offline::Offline::new()
            .respond(turn, tools)
            .await;
        self.answered.notify_one();
        std::future::pending::<()>().await;
        reply
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_worker_killed_between_the_answer_and_the_ack_leads_to_one_reply_and_one_order(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let (shop, _, pagne) = friperie(&app).await;
    let mut config = workers::WorkerConfig::for_tests();
    config.claim_ttl_secs = 1;
    let survivor = pipeline_with(
        &app,
        Arc::new(workers::llm::offline::Offline::new()),
        config.clone(),
    );
    let (subject, order) = inbound(&app, &shop, CUSTOMER, "je prends 2 pagnes");
    survivor
        .process_delivery(&subject, &serde_json::to_vec(&order).expect("json"), 1)
        .await;
    assert_eq!(
        bot_replies(&app, &shop, CUSTOMER).await.len(),
        1,
        "the recap"
    );

    // Worker A answers "oui" (placing the order in its turn) and dies before committing or acking.
    let answered = Arc::new(tokio::sync::Notify::new());
    let doomed = pipeline_with(
        &app,
        Arc::new(DiesAfterAnswering {
            answered: answered.clone(),
        }),
        config,
    );
    let (subject, yes) = inbound(&app, &shop, CUSTOMER, "oui");
    let payload = serde_json::to_vec(&yes).expect("json");
    let killed = {
        let (subject, payload) = (subject.clone(), payload.clone());
        tokio::spawn(async move { doomed.process_delivery(&subject, &payload, 1).await })
    };
    answered.notified().await;
    killed.abort();

    // JetStream redelivers to the surviving worker; the dead worker's claim expires; the sweeper finishes.
    assert_eq!(
        survivor.process_delivery(&subject, &payload, 2).await,
        workers::Outcome::Ack
    );
    sweep_until_replies(&survivor, &app, &shop, CUSTOMER, 2).await;
    assert_eq!(
        survivor.process_delivery(&subject, &payload, 3).await,
        workers::Outcome::Ack,
        "a late redelivery is a no-op"
    );
    survivor.sweep_once().await;

    let replies = bot_replies(&app, &shop, CUSTOMER).await;
    assert_eq!(replies.len(), 2, "recap and one confirmation: {replies:?}");
    assert_eq!(orders_of(&app, &shop).await.len(), 1, "exactly one order");
    assert_eq!(
        stock_of(&app, pagne["product_id"].as_str().expect("id")).await,
        Some(8)
    );
}

/// Records each turn and flags two turns of one chat at the same time.
#[derive(Default)]
struct Recorder {
    in_flight: Mutex<HashSet<String>>,
    overlaps: AtomicUsize,
    seen: Mutex<HashMap<String, Vec<String>>>,
}

#[async_trait]
impl LlmProvider for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn respond(&self, turn: &Turn, _tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError> {
        let chat = turn.customer_name.clone();
        if !self.in_flight.lock().expect("lock").insert(chat.clone()) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
        self.seen
            .lock()
            .expect("lock")
            .entry(chat.clone())
            .or_default()
            .extend(turn.incoming.iter().cloned());
        self.in_flight.lock().expect("lock").remove(&chat);
        Ok(Reply {
            text: format!("reçu {}", turn.incoming.len()),
            ..Reply::default()
        })
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn two_workers_answer_bursts_in_order_without_sharing_a_chat(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Maquis Marcory").await;
    let recorder = Arc::new(Recorder::default());
    let _a = start_worker(&app, recorder.clone());
    let _b = start_worker(&app, recorder.clone());
    let js = async_nats::jetstream::new(app.nats.clone());
    let customers: Vec<String> = (0..5).map(|i| format!("22501000000{i}")).collect();

    for n in 0..10 {
        for customer in &customers {
            let (subject, mut message) = inbound(&app, &shop, customer, &format!("m{n}"));
            message.customer_name = customer.clone();
            let payload = serde_json::to_vec(&message).expect("json");
            js.publish(subject, payload.into())
                .await
                .expect("publish")
                .await
                .expect("ack");
        }
    }

    let expected: Vec<String> = (0..10).map(|n| format!("m{n}")).collect();
    testkit::poll::within(Duration::from_secs(15), || async {
        recorder
            .seen
            .lock()
            .expect("lock")
            .values()
            .map(Vec::len)
            .sum::<usize>()
            == 50
    })
    .await;
    assert_eq!(
        recorder.overlaps.load(Ordering::SeqCst),
        0,
        "no chat was in two turns at once"
    );
    let seen = recorder.seen.lock().expect("lock").clone();
    for customer in &customers {
        assert_eq!(
            seen.get(customer),
            Some(&expected),
            "{customer}'s messages answered once each, in order"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn three_shops_in_parallel_only_ever_use_their_own_inventory(pool: PgPool) {
    let app = spawn_app(pool).await;
    let fake = FakeGemini::start(|_| FakeResponse::text("Bienvenue !"))
        .await
        .expect("fake");
    let gemini = Gemini::new(
        workers::llm::gemini::fake::FAKE_API_KEY.into(),
        &fake.config(),
    )
    .expect("provider");
    let _offline_worker = start_offline_worker(&app);
    let shops = [
        ("Boutique Adjamé", 10000),
        ("Boutique Cocody", 15000),
        ("Boutique Yopougon", 20000),
    ];
    let mut tenants = Vec::new();
    for (name, price) in shops {
        let shop = app.signup(name).await;
        app.create_product_ok(
            &shop,
            json!({"name": "Robe wax", "price_xof": price, "stock": 5}),
        )
        .await;
        app.create_product_ok(
            &shop,
            json!({"name": format!("Robe wax {name}"), "price_xof": price + 1, "stock": 5}),
        )
        .await;
        tenants.push((shop, price));
    }

    let asks = tenants
        .iter()
        .map(|(shop, _)| ask(&app, shop, CUSTOMER, "c'est combien la robe wax ?"));
    let answers = futures::future::join_all(asks).await;
    for ((shop, price), answer) in tenants.iter().zip(&answers) {
        let own = format!("{} {:03} FCFA", price / 1000, price % 1000);
        assert!(
            answer.contains(&own),
            "{shop:?} answered with its own price {own}: {answer}"
        );
        for (_, other) in tenants.iter().filter(|(_, p)| p != price) {
            assert!(
                !answer.contains(&format!("{} {:03}", other / 1000, other % 1000)),
                "{answer}"
            );
        }
    }
    let app = &app;
    let orders = futures::future::join_all(tenants.iter().map(|(shop, _)| async move {
        ask(app, shop, "2250700000009", "je prends 1 robe wax").await;
        ask(app, shop, "2250700000009", "oui").await;
        orders_of(app, shop).await
    }))
    .await;
    for ((_, price), orders) in tenants.iter().zip(orders) {
        assert_eq!(orders.len(), 1);
        assert_eq!(
            orders[0]["total_xof"], *price,
            "priced from the shop's own catalogue"
        );
    }

    // With Gemini too: each prompt carries one shop's data only.
    let gemini_pipeline = pipeline(app, Arc::new(gemini));
    for (shop, _) in &tenants {
        let (subject, message) = inbound(app, shop, "2250700000077", "bonjour");
        gemini_pipeline
            .process_delivery(&subject, &serde_json::to_vec(&message).expect("json"), 1)
            .await;
    }
    let prompts: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r["systemInstruction"].to_string())
        .collect();
    assert_eq!(prompts.len(), 3);
    for (prompt, (name, _)) in prompts.iter().zip(shops) {
        assert!(prompt.contains(name), "{name}'s prompt");
        for (other, _) in shops.iter().filter(|(n, _)| *n != name) {
            assert!(!prompt.contains(other), "{name}'s prompt mentions {other}");
        }
    }
}
