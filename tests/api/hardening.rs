//! The review's findings on abuse and security, one test each: what an attacker tried, and that it no longer
//! works.

use serde_json::Value;
use sqlx::PgPool;

use store::billing::AnswerPermission;
use store::users::Role;

use crate::helpers::spawn_app;
use crate::team::mail_link;
use crate::web_support::WebUser;

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

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn easily_guessed_passwords_are_refused_with_a_french_reason(pool: PgPool) {
    let app = spawn_app(pool).await;
    for weak in ["12345678", "azerty123", "Marcory2024"] {
        let response = app
            .signup_with(
                serde_json::json!({"business_name": "Boutique Marcory", "email": "awa@marcory.ci",
                                            "password": weak, "plan": "starter"}),
            )
            .await;
        assert_eq!(response.status(), 422, "{weak}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["fields"][0]["field"], "password", "{weak}");
        let message = body["error"]["fields"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains("trop facile à deviner"),
            "{weak}: {message}"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn guessing_one_account_s_password_from_many_addresses_is_stopped(pool: PgPool) {
    let app = crate::helpers::spawn_app_with(pool, |c| {
        c.trust_forwarded_for = true;
        c.auth_rate_per_minute = 1000;
        c.auth_account_attempts_per_hour = 5;
    })
    .await;
    let shop = app.signup("Friperie Abobo").await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let response = app
            .client
            .post(format!("{}/api/v1/auth/login", app.address))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&serde_json::json!({ "email": shop.email, "password": format!("essai-{i}") }))
            .send()
            .await
            .expect("login");
        statuses.push(response.status().as_u16());
    }
    // The sign-up was one attempt on the account too (probing an address costs the same everywhere).
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429, 429, 429]);
    // An unknown address is limited the same way: the limit tells nothing about who has an account.
    let mut unknown = Vec::new();
    for i in 0..6 {
        let response = app
            .login("personne@example.ci", &format!("essai-{i}"))
            .await;
        unknown.push(response.status().as_u16());
    }
    assert_eq!(unknown, [401, 401, 401, 401, 401, 429]);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_whole_ipv6_64_is_one_client_for_the_sign_in_limit(pool: PgPool) {
    let app = crate::helpers::spawn_app_with(pool, |c| {
        c.trust_forwarded_for = true;
        c.auth_rate_per_minute = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for host in 1..=5 {
        let response = app
            .client
            .post(format!("{}/api/v1/auth/login", app.address))
            .header("x-forwarded-for", format!("2001:db8:42:7::{host:x}"))
            .json(
                &serde_json::json!({ "email": format!("a{host}@example.ci"), "password": "essai" }),
            )
            .send()
            .await
            .expect("login");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_spread_out_sign_in_flood_hashes_at_most_one_password_per_core(pool: PgPool) {
    let app = crate::helpers::spawn_app_with(pool, |c| {
        c.trust_forwarded_for = true;
        c.auth_rate_per_minute = 1000;
    })
    .await;
    let flood = (0..40).map(|i| {
        app.client
            .post(format!("{}/api/v1/auth/login", app.address))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&serde_json::json!({ "email": format!("u{i}@example.ci"), "password": "essai-de-mot" }))
            .send()
    });
    for response in futures::future::join_all(flood).await {
        let status = response.expect("answered").status().as_u16();
        assert!(status == 401 || status == 429, "{status}");
    }
    assert!(api::auth::peak_concurrent_hashes() >= 1);
    assert!(api::auth::peak_concurrent_hashes() <= api::auth::hashing_slots());
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_token_whose_shop_or_role_no_longer_matches_the_account_is_refused(pool: PgPool) {
    let app = crate::team::roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let other = app.signup("Boutique Marcory").await;
    let email = crate::team::new_email("kofi");
    let (member, member_id) = crate::team::join(&app, &owner, &email, "staff").await;
    let keys = api::auth::TokenKeys::from_master_key(&app.master_key, 60);
    let version = keys.verify(&member.token).expect("valid").ver;

    assert_eq!(app.me(&member.token).await.status(), 200);
    let as_owner = keys
        .issue(member_id, owner.tenant_id, Role::Owner, version)
        .expect("token");
    let in_other_shop = keys
        .issue(member_id, other.tenant_id, Role::Staff, version)
        .expect("token");
    for (what, token) in [("owner role", as_owner), ("other shop", in_other_shop)] {
        assert_eq!(app.me(&token).await.status(), 401, "{what}");
        let billing = app.billing_overview(&token).await;
        assert_eq!(billing.status(), 401, "{what}");
    }
}

/// Reads `response`'s body until it ends; `false` if it is still open after `limit`.
async fn ends_within(mut response: reqwest::Response, limit: std::time::Duration) -> bool {
    tokio::time::timeout(limit, async {
        while let Ok(Some(_)) = response.chunk().await {}
    })
    .await
    .is_ok()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_open_event_stream_ends_once_its_token_is_revoked(pool: PgPool) {
    let app = crate::helpers::spawn_app_with(pool, |c| c.live_recheck_secs = 1).await;
    let owner = app.signup("Friperie Abobo").await;
    let mut stream = app.whatsapp_events(&owner.token).await;
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.expect("first event").is_some());

    let changed = app
        .change_password(
            &owner.token,
            serde_json::json!({"current_password": "motdepasse-solide", "new_password": "garba-piment-lagune"}),
        )
        .await;
    assert!(changed.status().is_success(), "{}", changed.status());

    assert!(
        ends_within(stream, std::time::Duration::from_secs(5)).await,
        "the QR code stream closes after the password change"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_open_dashboard_stream_ends_once_its_session_is_signed_out(pool: PgPool) {
    let app = crate::helpers::spawn_app_with(pool, |c| c.live_recheck_secs = 1).await;
    let owner = app.signup("Friperie Abobo").await;
    let mut phone = WebUser::signed_in(&app, &owner).await;
    let mut laptop = WebUser::signed_in(&app, &owner).await;
    let live = laptop.get("/app/events").await;
    assert_eq!(live.status(), 200);
    let qr = laptop.get("/app/whatsapp/events").await;
    assert_eq!(qr.status(), 200);

    // Signing out everywhere (a password change from the phone) ends the laptop's sessions.
    let page = phone.page("/app/account/password").await;
    let csrf = crate::web_support::csrf_of(&page);
    let _ = phone
        .post(
            "/app/account/password",
            &[
                ("_csrf", csrf.as_str()),
                ("current_password", "motdepasse-solide"),
                ("new_password", "garba-piment-lagune"),
            ],
        )
        .await;

    let limit = std::time::Duration::from_secs(5);
    assert!(ends_within(live, limit).await, "live updates stop");
    assert!(ends_within(qr, limit).await, "QR codes stop");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_cannot_open_streams_without_limit(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let mut open = Vec::new();
    for _ in 0..api::live::STREAMS_PER_SHOP {
        let stream = app.whatsapp_events(&owner.token).await;
        assert_eq!(stream.status(), 200);
        open.push(stream);
    }
    assert_eq!(app.whatsapp_events(&owner.token).await.status(), 429);
    let other = app.signup("Boutique Marcory").await;
    assert_eq!(app.whatsapp_events(&other.token).await.status(), 200);
    drop(open);
    let again = testkit::poll::within(std::time::Duration::from_secs(5), || async {
        (app.whatsapp_events(&owner.token).await.status() == 200).then_some(())
    })
    .await;
    assert!(again.is_some(), "closed streams give their places back");
}

async fn permission_of(app: &crate::helpers::TestApp, tenant_id: uuid::Uuid) -> AnswerPermission {
    let mut tx = app
        .db
        .tenant(store::TenantCtx::new(tenant_id))
        .await
        .expect("tx");
    let permission = store::billing::answer_permission(&mut tx, chrono::Utc::now())
        .await
        .expect("permission");
    tx.commit().await.expect("commit");
    permission
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_never_paid_shop_is_answered_during_its_trial_only(pool: PgPool) {
    let app = crate::helpers::spawn_app_with(pool, |c| c.trial_days = 7).await;
    let shop = app.signup("Friperie Abobo").await;

    let until = match permission_of(&app, shop.tenant_id).await {
        AnswerPermission::Trial { until } => until,
        other => panic!("a new shop is on trial, got {other:?}"),
    };
    let expected = chrono::Utc::now() + chrono::Duration::days(7);
    assert!((until - expected).num_seconds().abs() < 60, "{until}");
    let home = WebUser::signed_in(&app, &shop).await.page("/app").await;
    assert!(home.contains("Essai gratuit"), "the home page says so");

    sqlx::query(
        "update subscription set trial_ends_at = now() - interval '1 minute' where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("trial over");
    assert_eq!(
        permission_of(&app, shop.tenant_id).await,
        AnswerPermission::NotPaid
    );

    app.pay_with_sandbox(&shop, "starter").await;
    assert_eq!(
        permission_of(&app, shop.tenant_id).await,
        AnswerPermission::Allowed
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_test_chat_is_rate_limited_per_shop_and_takes_no_novels(pool: PgPool) {
    let app = crate::helpers::spawn_app_with(pool, |c| c.simulator_rate_per_minute = 3).await;
    let shop = app.signup("Friperie Abobo").await;
    let other = app.signup("Boutique Marcory").await;
    async fn send(
        app: &crate::helpers::TestApp,
        who: &crate::helpers::Shop,
        text: String,
    ) -> reqwest::Response {
        app.simulate_message(
            who,
            serde_json::json!({ "from": "0700000000", "text": text }),
        )
        .await
    }
    let novel = send(
        &app,
        &shop,
        "é".repeat(schemas::MAX_CUSTOMER_TEXT_CHARS + 1),
    )
    .await;
    assert_eq!(
        novel.status(),
        422,
        "a text longer than a customer's is refused"
    );
    let mut statuses = Vec::new();
    for i in 0..3 {
        statuses.push(
            send(&app, &shop, format!("bonjour {i}"))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [202, 202, 429], "the refused novel counted too");
    assert_eq!(
        send(&app, &other, "bonjour".into()).await.status(),
        202,
        "other shops are not limited"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_model_answers_the_test_chat_within_the_plan_s_allowance_then_the_offline_assistant_does(
    pool: PgPool,
) {
    use workers::llm::gemini::fake::{FakeGemini, FakeResponse};

    let app = spawn_app(pool).await;
    let fake = FakeGemini::start(|_| FakeResponse::text("Réponse de l'IA").with_usage(100, 20, 0))
        .await
        .expect("fake");
    let gemini = workers::llm::gemini::Gemini::new(
        workers::llm::gemini::fake::FAKE_API_KEY.into(),
        &fake.config(),
    )
    .expect("provider");
    let _worker = crate::bot_support::start_worker(&app, std::sync::Arc::new(gemini));
    let shop = app.signup_on("Friperie Abobo", "starter").await;
    // Two model turns left this month.
    let month = store::billing::month_start(chrono::Utc::now());
    sqlx::query(
        "insert into tenant_usage (tenant_id, month, test_model_turns) values ($1, $2, 98)",
    )
    .bind(shop.tenant_id)
    .bind(month)
    .execute(&app.admin_db)
    .await
    .expect("usage");

    let mut answers = Vec::new();
    for question in ["bonjour", "vous avez des robes ?", "et des pagnes ?"] {
        answers.push(crate::bot_support::ask(&app, &shop, "2250700000007", question).await);
    }

    assert_eq!(answers[0], "Réponse de l'IA");
    assert_eq!(answers[1], "Réponse de l'IA");
    assert!(
        !answers[2].starts_with("Réponse de l'IA")
            && answers[2].contains("allocation mensuelle de tests"),
        "the third is the offline assistant, and says so: {}",
        answers[2]
    );
    let used: i32 =
        sqlx::query_scalar("select test_model_turns from tenant_usage_now where tenant_id = $1")
            .bind(shop.tenant_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("usage");
    assert_eq!(used, 100);
}

/// A WhatsApp customer's message (the channel the per-customer limits apply to) and its subject.
fn whatsapp_message(
    app: &crate::helpers::TestApp,
    shop: &crate::helpers::Shop,
    text: &str,
) -> (String, Vec<u8>) {
    crate::bot_support::whatsapp_inbound(app, shop, "2250700000099@s.whatsapp.net", text)
}

async fn message_states(
    app: &crate::helpers::TestApp,
    shop: &crate::helpers::Shop,
) -> Vec<(String, String)> {
    sqlx::query_as(
        "select status, status_detail from message
         where tenant_id = $1 and direction = 'inbound' order by sent_at, created_at",
    )
    .bind(shop.tenant_id)
    .fetch_all(&app.admin_db)
    .await
    .expect("messages")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn one_number_gets_bursts_then_a_steady_pace_then_nothing_past_the_daily_cap(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&shop, "starter").await;
    let mut config = workers::WorkerConfig::for_tests();
    config.customer_reply_burst = 2;
    config.customer_replies_per_minute = 1;
    config.customer_replies_per_day = 3;
    let pipeline = crate::bot_support::pipeline_with(
        &app,
        std::sync::Arc::new(workers::llm::offline::Offline::new()),
        config,
    );
    let replies = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from message where tenant_id = $1 and direction = 'outbound'",
        )
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("count")
    };

    for text in ["bonjour", "vous avez des robes ?"] {
        let (subject, payload) = whatsapp_message(&app, &shop, text);
        assert_eq!(
            pipeline.process_delivery(&subject, &payload, 1).await,
            workers::Outcome::Ack
        );
    }
    assert_eq!(replies().await, 2, "the burst is answered at once");

    let (subject, payload) = whatsapp_message(&app, &shop, "et des pagnes ?");
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        workers::Outcome::Ack
    );
    assert_eq!(replies().await, 2, "the third waits for the refill");
    let waiting: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select retry_at from chat where tenant_id = $1")
            .bind(shop.tenant_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("chat");
    let wait = waiting.expect("the chat waits") - chrono::Utc::now();
    assert!(
        wait.num_seconds() > 30 && wait.num_seconds() <= 60,
        "{wait}"
    );

    // A minute later the sweeper answers it.
    sqlx::query(
        "update chat set retry_at = now() - interval '1 second', credit_at = credit_at - interval '1 minute'
         where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("a minute passes");
    let answered = testkit::poll::within(std::time::Duration::from_secs(10), || async {
        pipeline.sweep_once().await;
        (replies().await == 3).then_some(())
    })
    .await;
    assert!(
        answered.is_some(),
        "the waiting message is answered once the bucket refilled"
    );

    // The daily cap (3) is reached: the next message is kept for the shop, unanswered.
    sqlx::query(
        "update chat set credit_at = credit_at - interval '10 minutes' where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("the bucket refills");
    let (subject, payload) = whatsapp_message(&app, &shop, "encore moi");
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        workers::Outcome::Ack
    );
    assert_eq!(replies().await, 3);
    let states = message_states(&app, &shop).await;
    let (status, detail) = states.last().expect("message");
    assert_eq!(status, "skipped");
    assert!(detail.contains("limite par client"), "{detail}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn bot_orders_nobody_confirms_in_time_are_cancelled_and_their_stock_comes_back(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let other = app.signup("Boutique Marcory").await;
    let robe = app
        .create_product_ok(
            &shop,
            serde_json::json!({"name": "Robe wax", "price_xof": 15000, "stock": 1}),
        )
        .await;
    let robe_id: uuid::Uuid = robe["product_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    // Two held orders of 2 robes each (4 units taken), one past its hold; one of the other shop, past too but
    // already confirmed.
    for (tenant, hold, status, key) in [
        (shop.tenant_id, "-1 hour", "new", "a"),
        (shop.tenant_id, "+1 hour", "new", "b"),
        (other.tenant_id, "-1 hour", "confirmed", "c"),
    ] {
        let order_id = uuid::Uuid::new_v4();
        sqlx::query(
            "insert into customer_order (tenant_id, order_id, order_ref, status, total_xof, idempotency_key,
                                         hold_until)
             values ($1, $2, $3, $4, 30000, $5, now() + $6::interval)",
        )
        .bind(tenant)
        .bind(order_id)
        .bind(format!("CMD-{key}"))
        .bind(status)
        .bind(key)
        .bind(hold)
        .execute(&app.admin_db)
        .await
        .expect("order");
        if tenant == shop.tenant_id {
            sqlx::query(
                "insert into order_item (tenant_id, order_id, line_no, product_id, product_name, unit_price_xof,
                                         quantity) values ($1, $2, 1, $3, 'Robe wax', 15000, 2)",
            )
            .bind(tenant)
            .bind(order_id)
            .bind(robe_id)
            .execute(&app.admin_db)
            .await
            .expect("line");
        }
    }

    api::housekeeping::run(&app.db, &app.nats, &app.subjects).await;

    let statuses: Vec<(String, String)> =
        sqlx::query_as("select order_ref, status from customer_order order by order_ref")
            .fetch_all(&app.admin_db)
            .await
            .expect("orders");
    assert_eq!(
        statuses,
        [
            ("CMD-a".to_owned(), "cancelled".to_owned()),
            ("CMD-b".to_owned(), "new".to_owned()),
            ("CMD-c".to_owned(), "confirmed".to_owned()),
        ]
    );
    assert_eq!(
        crate::bot_support::stock_of(&app, &robe_id.to_string()).await,
        Some(3)
    );
}

/// Answers with the messages of the turn, so a test sees which turn answered what.
struct Echo;

#[async_trait::async_trait]
impl workers::llm::LlmProvider for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    async fn respond(
        &self,
        turn: &workers::llm::Turn,
        _tools: &mut dyn workers::llm::ToolExecutor,
    ) -> Result<workers::llm::Reply, workers::llm::LlmError> {
        Ok(workers::llm::Reply {
            text: format!("vu : {}", turn.incoming.join(" | ")),
            ..workers::llm::Reply::default()
        })
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_backlog_is_answered_oldest_first_ten_messages_a_turn_and_none_is_dropped(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    app.pay_with_sandbox(&shop, "starter").await;
    let pipeline = crate::bot_support::pipeline(&app, std::sync::Arc::new(Echo));
    let (subject, payload) = whatsapp_message(&app, &shop, "bonjour");
    assert_eq!(
        pipeline.process_delivery(&subject, &payload, 1).await,
        workers::Outcome::Ack
    );
    // Another worker holds the chat (or the database was down) while twelve more messages arrive.
    let hold = |seconds: f64| {
        sqlx::query(
            "update chat set claimed_by = 'ailleurs', claim_expires_at = now() + make_interval(secs => $2)
             where tenant_id = $1",
        )
        .bind(shop.tenant_id)
        .bind(seconds)
        .execute(&app.admin_db)
    };
    hold(60.0).await.expect("held");
    for i in 0..12 {
        let (subject, payload) = whatsapp_message(&app, &shop, &format!("message {i}"));
        assert_eq!(
            pipeline.process_delivery(&subject, &payload, 1).await,
            workers::Outcome::Ack
        );
    }
    hold(-1.0).await.expect("released");

    let settled = testkit::poll::within(std::time::Duration::from_secs(10), || async {
        pipeline.sweep_once().await;
        let states = message_states(&app, &shop).await;
        states
            .iter()
            .all(|(status, _)| status != "pending")
            .then_some(states)
    })
    .await
    .expect("every message settled");
    assert!(settled.iter().all(|(s, _)| s == "answered"), "{settled:?}");
    assert_eq!(settled.len(), 13);

    let first_ten: Vec<String> = (0..10).map(|i| format!("message {i}")).collect();
    assert_eq!(
        crate::bot_support::bot_replies(&app, &shop, "2250700000099@s.whatsapp.net").await,
        [
            "vu : bonjour".to_owned(),
            format!("vu : {}", first_ten.join(" | ")),
            "vu : message 10 | message 11".to_owned(),
        ]
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_public_api_port_does_not_serve_metrics(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app
        .request(reqwest::Method::GET, "/metrics", None, None)
        .await;
    assert_eq!(response.status(), 404);
}

/// The next message event (received and sent) of the subscription, as JSON text: the two of one exchange.
async fn next_message_events(events: &mut async_nats::Subscriber) -> Vec<String> {
    use futures::StreamExt;
    let mut found = Vec::new();
    while found.len() < 2 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .expect("an event")
            .expect("open");
        let text = String::from_utf8_lossy(&message.payload).into_owned();
        if text.contains("message.received") || text.contains("message.sent") {
            found.push(text);
        }
    }
    found
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn domain_events_carry_message_texts_only_for_shops_that_opt_in(pool: PgPool) {
    let app = spawn_app(pool).await;
    let _worker = crate::bot_support::start_offline_worker(&app);
    let shop = app.signup("Friperie Abobo").await;
    let mut events = app
        .nats
        .subscribe(app.subjects.event(shop.tenant_id, ">"))
        .await
        .expect("subscribe");
    crate::bot_support::ask(&app, &shop, "2250700000031", "mot-secret-du-client").await;
    let quiet = next_message_events(&mut events).await;
    assert!(
        quiet
            .iter()
            .all(|e| !e.contains("mot-secret-du-client") && !e.contains("\"text\"")),
        "{quiet:?}"
    );

    let other = app.signup("Boutique Marcory").await;
    let body = serde_json::json!({ "include_text": true });
    assert_eq!(
        app.put("/api/v1/bot/events", &other.token, body.clone())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.put("/api/v1/bot/events", &shop.token, body)
            .await
            .status(),
        200
    );
    crate::bot_support::ask(&app, &shop, "2250700000031", "deuxième-mot-du-client").await;
    let loud = next_message_events(&mut events).await;
    assert!(
        loud.iter().any(|e| e.contains("deuxième-mot-du-client")),
        "{loud:?}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_cannot_take_the_platform_s_name_and_block_the_operator(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Tdjaasa Platform").await;
    let slug: String = sqlx::query_scalar("select slug from tenant where tenant_id = $1")
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("slug");
    assert_eq!(slug, "boutique-tdjaasa-platform");
    // The operator's account (in the platform tenant) can still be created.
    let admin = app.platform_admin_token().await;
    assert_eq!(app.admin_stats(&admin).await.status(), 200);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn checkouts_are_rate_limited_per_shop(pool: PgPool) {
    let app = crate::helpers::spawn_app_with(pool, |c| c.checkout_rate_per_minute = 2).await;
    let shop = app.signup("Friperie Abobo").await;
    let mut statuses = Vec::new();
    for key in ["k1", "k2", "k3"] {
        statuses.push(
            app.checkout(&shop, "pro", "sandbox", Some(key))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [201, 201, 429]);
    let other = app.signup("Boutique Marcory").await;
    assert_eq!(
        app.checkout(&other, "pro", "sandbox", Some("k1"))
            .await
            .status(),
        201
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_orange_money_payment_reported_for_another_amount_is_flagged_not_granted(pool: PgPool) {
    let (app, fakes) = crate::helpers::spawn_app_with_fake_providers(pool).await;
    let shop = app.signup("Maquis Marcory").await;
    let checkout = app.checkout_ok(&shop, "starter", "orange_money").await;
    let payment_id = checkout["payment_id"].as_str().expect("id");
    let order_id: String = payment_id.replace('-', "").chars().take(30).collect();
    let notif_token = fakes.orange_money.om_notif_token(&order_id).expect("token");
    fakes.orange_money.set_om_status(&order_id, "SUCCESS");
    let notification = serde_json::to_vec(&serde_json::json!({
        "status": "SUCCESS", "notif_token": notif_token, "txnid": "MP1.2.A3", "amount": "100"
    }))
    .expect("json");

    let answered = app
        .post_raw("/api/v1/webhooks/orange-money", &[], &notification)
        .await;

    assert!(answered.status().is_success(), "{}", answered.status());
    assert_eq!(app.payment_status(payment_id).await, "flagged");
    assert_ne!(app.subscription_state(shop.tenant_id).await.0, "active");
}
