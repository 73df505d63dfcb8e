//! The dashboard in a real browser, end to end, on the platform as it runs in sandbox mode: the API, a worker
//! with the offline assistant and an ingress node on the sandbox WhatsApp gateway, all in the test process.
//!
//! 1. A new shop signs up, goes through the whole onboarding (plan, sandbox payment, WhatsApp linked by a
//!    simulated scan, one product by hand and one by CSV, the bot's name), talks to its bot in the test chat,
//!    orders, and confirms the order — at phone and desktop size, with a screenshot of every main screen and
//!    no screen scrolling sideways.
//! 2. The owner takes a WhatsApp conversation over and answers by hand: the customer gets the owner's reply
//!    and the bot stays silent in that chat.

use std::time::{Duration, Instant};

use ingress::sandbox::SandboxSent;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::pages::{
    Album, ConversationPage, LoginPage, Onboarding, OrdersPage, SandboxPayment, SignupPage,
    plain_spaces,
};
use super::{Viewport, WAIT};
use crate::bot_support::{orders_of, start_offline_worker};
use crate::helpers::{Shop, TestApp, spawn_app_with};
use crate::ingress_support::{customer_writes, eventually, sent_box, start_node};

/// The password `TestApp::signup` gives its shops, used for every shop here.
const PASSWORD: &str = "motdepasse-solide";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_new_shop_goes_from_sign_up_to_a_confirmed_order_from_a_phone(pool: PgPool) {
    sign_up_to_confirmed_order(pool, Viewport::Phone).await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_new_shop_goes_from_sign_up_to_a_confirmed_order_from_a_desktop_browser(pool: PgPool) {
    sign_up_to_confirmed_order(pool, Viewport::Desktop).await;
}

/// The whole journey of a new shop at `viewport`; each step checks what the owner sees before the next.
async fn sign_up_to_confirmed_order(pool: PgPool, viewport: Viewport) {
    // Arrange: the platform in sandbox mode, a browser, and the owner's CSV file.
    let started = Instant::now();
    let app = spawn_app_with(pool, |c| c.whatsapp_sandbox = true).await;
    let _worker = start_offline_worker(&app);
    let _node = start_node(&app).await;
    let browser = app.browser(viewport).await;
    let mut album = Album::new(&browser);
    let email = format!("awa-{}@example.ci", Uuid::new_v4().simple());
    let files = tempfile::tempdir().expect("temp dir");
    let csv = files.path().join("produits.csv");
    std::fs::write(&csv, "nom;prix;stock\nPagne;7500;10\n").expect("csv file");
    let onboarding = Onboarding(&browser);

    // Sign up.
    let signup = SignupPage(&browser);
    signup.open().await;
    album.shoot("signup").await;
    signup
        .sign_up("Boutique Awa", &email, PASSWORD, "starter")
        .await;

    // 1. Plan.
    onboarding.at_step("1. Choisissez votre forfait").await;
    album.shoot("onboarding-1-plan").await;
    onboarding.choose_plan("pro").await;

    // 2. Pay, in the sandbox; the way back resumes the onboarding.
    onboarding.at_step("2. Payez votre abonnement").await;
    album.shoot("onboarding-2-pay").await;
    onboarding.pay_with_sandbox().await;
    album.shoot("sandbox-checkout").await;
    SandboxPayment(&browser).approve_and_return().await;
    onboarding.at_step("3. Reliez votre WhatsApp").await;
    browser.wait_for_text(".flash", "Paiement reçu", WAIT).await;
    let shop = api_login(&app, &email).await;
    let billing = json_of(&app, "/api/v1/billing", &shop).await;
    assert_eq!(
        billing["subscription"]["status"], "active",
        "paid through the sandbox: {billing}"
    );
    assert_eq!(
        billing["plan"]["plan_code"], "pro",
        "the plan chosen in step 1"
    );

    // 3. WhatsApp, linked by a simulated scan of the QR code.
    album.shoot("onboarding-3-whatsapp").await;
    onboarding.connect_whatsapp().await;
    album.shoot("onboarding-3-whatsapp-qr").await;
    onboarding.simulate_scan().await;
    album.shoot("onboarding-3-whatsapp-linked").await;
    let whatsapp = json_of(&app, "/api/v1/whatsapp", &shop).await;
    assert_eq!(whatsapp["status"], "connected", "{whatsapp}");
    onboarding.next().await;

    // 4. Products: one typed in the form, one imported from the CSV file (checked first, then imported).
    onboarding.at_step("4. Ajoutez vos produits").await;
    album.shoot("onboarding-4-products").await;
    let form = onboarding.open_product_form().await;
    form.fill("Robe wax", "15000", "3").await;
    album.shoot("product-form").await;
    form.save().await;
    onboarding.at_step("4. Ajoutez vos produits").await;
    assert_eq!(onboarding.product_count().await, "1", "the typed product");
    let import = onboarding.open_import().await;
    album.shoot("import").await;
    let report = import.check_only(&csv).await;
    album.shoot("import-report").await;
    assert!(
        report.contains("Fichier valide") && report.contains("À créer : 1"),
        "the check counts one product to create: {report}"
    );
    import.import(&csv).await;
    browser
        .wait_for_text("#import-report", "Import terminé", WAIT)
        .await;
    assert!(
        plain_spaces(&browser.text("#import-report").await).contains("Créés : 1"),
        "the import reports what it created"
    );
    browser.click("#import-continue").await;
    onboarding.at_step("4. Ajoutez vos produits").await;
    assert_eq!(
        onboarding.product_count().await,
        "2",
        "the imported product too"
    );
    onboarding.next().await;

    // 5. The bot's name, then "your bot is live".
    onboarding.at_step("5. Présentez votre bot").await;
    album.shoot("onboarding-5-bot").await;
    onboarding.name_bot("Fatou").await;
    onboarding.at_step("Votre bot est en ligne").await;
    album.shoot("onboarding-6-done").await;

    // The test chat: a price, then an order, answered live by the offline assistant.
    let chat = onboarding.open_test_chat().await;
    album.shoot("test-chat-empty").await;
    let price = chat.ask("Bonjour, c'est combien le pagne ?").await;
    assert!(
        price.contains("7 500 FCFA"),
        "the imported product's price: {price}"
    );
    assert!(
        price.contains("Fatou"),
        "the bot introduces itself by its new name: {price}"
    );
    let recap = chat.ask("je prends 3 pagnes").await;
    assert!(
        recap.contains("22 500 FCFA"),
        "3 × 7 500 in the recap: {recap}"
    );
    let placed = chat.ask("oui").await;
    let reference = order_reference(&placed);
    album.shoot("test-chat").await;

    // Orders: the new order, opened and confirmed.
    let orders = OrdersPage(&browser);
    orders.open().await;
    let row = orders.row_of(&reference).await;
    album.shoot("orders").await;
    assert!(
        row.contains("22 500 F") && row.contains("Nouvelle"),
        "the list shows the total and the status: {row}"
    );
    orders.open_order(&reference).await;
    album.shoot("order-detail").await;
    orders.confirm().await;
    browser
        .wait_for_text("#order-status", "Confirmée", WAIT)
        .await;
    album.shoot("order-confirmed").await;
    assert_eq!(orders.status().await, "Confirmée");

    // The other main screens.
    for (path, title, screen) in [
        ("/app", "Tableau de bord", "home"),
        ("/app/products", "Produits", "products"),
        ("/app/conversations", "Messages", "conversations"),
        ("/app/billing", "Abonnement", "billing"),
        ("/app/settings", "Réglages", "settings"),
        ("/app/whatsapp", "WhatsApp", "whatsapp"),
        ("/app/more", "Plus", "more"),
    ] {
        browser.goto(path).await;
        browser.wait_for_text("main h1", title, WAIT).await;
        album.shoot(screen).await;
    }

    // Assert: what the shop holds now, through the REST API.
    let orders = orders_of(&app, &shop).await;
    assert_eq!(orders.len(), 1, "exactly one order: {orders:?}");
    assert_eq!(orders[0]["order_ref"], reference.as_str());
    assert_eq!(orders[0]["status"], "confirmed");
    assert_eq!(orders[0]["total_xof"], 22500);
    assert_eq!(orders[0]["items"][0]["quantity"], 3);
    let products = json_of(&app, "/api/v1/products", &shop).await;
    let mut names: Vec<&str> = products["items"]
        .as_array()
        .expect("product list")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Pagne", "Robe wax"], "typed and imported");
    let bot = json_of(&app, "/api/v1/bot", &shop).await;
    assert_eq!(bot["bot_name"], "Fatou", "{bot}");
    album.assert_no_screen_scrolls_sideways();
    eprintln!(
        "[{}] sign-up to confirmed order: {:?}, {} screenshots",
        viewport.name(),
        started.elapsed(),
        album.taken().len()
    );
    browser.close().await;
}

const CUSTOMER: &str = "2250705060708@s.whatsapp.net";
const OWNER_REPLY: &str = "Bonjour Awa, c'est la patronne : je vous fais 7 000 F pour le pagne.";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_conversation_taken_over_and_answered_by_hand_shows_the_owners_reply_and_the_bot_stays_silent_there(
    pool: PgPool,
) {
    // Arrange: a paying shop whose number is linked in the sandbox, a WhatsApp customer the bot answered, and
    // the owner on that conversation's page.
    let started = Instant::now();
    let app = spawn_app_with(pool, |c| c.whatsapp_sandbox = true).await;
    let shop = app.signup("Boutique Awa").await;
    app.create_product_ok(
        &shop,
        json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
    )
    .await;
    app.pay_with_sandbox(&shop, "pro").await;
    let _worker = start_offline_worker(&app);
    let _node = start_node(&app).await;
    link_in_sandbox(&app, &shop).await;
    let mut sent = sent_box(&app, shop.tenant_id).await;
    customer_writes(
        &app,
        shop.tenant_id,
        CUSTOMER,
        "WA-1",
        "c'est combien le pagne ?",
    )
    .await;
    let answer = next_sent(&mut sent, "the bot's answer").await;
    assert!(answer.text.contains("7 500 FCFA"), "{}", answer.text);
    let browser = app.browser(Viewport::Phone).await;
    let mut album = Album::new(&browser);
    LoginPage(&browser).log_in(&shop.email, PASSWORD).await;
    let conversation = ConversationPage(&browser);
    conversation.open_from_list("Awa").await;
    album.shoot("conversation").await;

    // Act: the owner takes over and answers; the customer writes again.
    conversation.take_over().await;
    conversation.reply(OWNER_REPLY).await;
    album.shoot("conversation-taken-over").await;
    let delivered = next_sent(&mut sent, "the owner's reply on WhatsApp").await;
    customer_writes(
        &app,
        shop.tenant_id,
        CUSTOMER,
        "WA-2",
        "d'accord, vous livrez à Yopougon ?",
    )
    .await;
    let second = processed_customer_message(&app, &shop, "vous livrez à Yopougon").await;

    // Assert: the customer got the owner's words, and nothing from the bot after the takeover.
    assert_eq!(delivered.to, CUSTOMER);
    assert_eq!(delivered.text, OWNER_REPLY);
    assert_eq!(
        second["status"], "skipped",
        "the bot stayed silent: {second}"
    );
    let bot_messages: Vec<String> = chat_messages(&app, &shop)
        .await
        .iter()
        .filter(|m| m["author"] == "bot")
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        bot_messages.len(),
        1,
        "only the first answer: {bot_messages:?}"
    );
    let late = sent_within(&mut sent, Duration::from_millis(500)).await;
    assert!(
        late.is_empty(),
        "nothing more sent to the customer: {late:?}"
    );

    // Assert: the owner's page shows it all.
    browser.goto(&browser.current_path().await).await;
    browser
        .wait_for_text("#transcript .msg-owner", OWNER_REPLY, WAIT)
        .await;
    let customer = conversation.messages_of("customer").await;
    let bot = conversation.messages_of("bot").await;
    album.shoot("conversation-customer-again").await;
    assert!(
        customer
            .last()
            .is_some_and(|m| m.contains("vous livrez à Yopougon") && m.contains("Bot en pause")),
        "the second message, marked as not answered because the bot is paused: {customer:?}"
    );
    assert_eq!(bot.len(), 1, "one bot bubble: {bot:?}");
    browser
        .wait_for_text("#paused-badge", "bot en pause", WAIT)
        .await;
    album.assert_no_screen_scrolls_sideways();
    eprintln!(
        "[phone] take over and reply by hand: {:?}",
        started.elapsed()
    );
    browser.close().await;
}

/// Logs in through `POST /api/v1/auth/login`, as the shop's owner.
async fn api_login(app: &TestApp, email: &str) -> Shop {
    let response = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": email, "password": PASSWORD })),
        )
        .await;
    assert_eq!(response.status(), 200, "login of {email}");
    let body: Value = response.json().await.expect("json");
    Shop {
        token: body["token"].as_str().expect("token").to_owned(),
        tenant_id: body["tenant_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("tenant id"),
        email: email.to_owned(),
    }
}

/// `GET path` as the shop, asserting a 200.
async fn json_of(app: &TestApp, path: &str, shop: &Shop) -> Value {
    let response = app.get(path, &shop.token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("json")
}

/// "*CMD-…*" in the bot's confirmation → "CMD-…".
fn order_reference(confirmation: &str) -> String {
    let start = confirmation
        .find("CMD-")
        .unwrap_or_else(|| panic!("an order reference in {confirmation:?}"));
    confirmation[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// Links the shop's number through the REST API: connect, then the sandbox's scan.
async fn link_in_sandbox(app: &TestApp, shop: &Shop) {
    let connect = app.connect_whatsapp(shop).await;
    assert_eq!(connect.status(), 202, "connect");
    eventually(Duration::from_secs(10), "a QR code to scan", || async {
        json_of(app, "/api/v1/whatsapp", shop).await["status"] == "waiting_for_scan"
    })
    .await;
    let scan = app.sandbox_scan(shop).await;
    assert_eq!(scan.status(), 202, "sandbox scan");
    eventually(Duration::from_secs(10), "linked", || async {
        json_of(app, "/api/v1/whatsapp", shop).await["status"] == "connected"
    })
    .await;
}

/// The next message the sandbox sends to a customer (`WAIT` at most).
async fn next_sent(sent: &mut async_nats::Subscriber, what: &str) -> SandboxSent {
    use futures::StreamExt;
    let message = tokio::time::timeout(WAIT, sent.next())
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing sent within {WAIT:?}"))
        .expect("sent subscription open");
    serde_json::from_slice(&message.payload).expect("sent json")
}

/// Whatever the sandbox sends within `wait`.
async fn sent_within(sent: &mut async_nats::Subscriber, wait: Duration) -> Vec<SandboxSent> {
    crate::ingress_support::sent_within(sent, wait).await
}

/// The messages of the shop's only conversation, oldest first.
async fn chat_messages(app: &TestApp, shop: &Shop) -> Vec<Value> {
    let chats = json_of(app, "/api/v1/conversations", shop).await;
    let chats = chats.as_array().expect("chat list");
    assert_eq!(chats.len(), 1, "one conversation: {chats:?}");
    let chat_id = chats[0]["chat_id"].as_str().expect("chat id");
    let messages = json_of(
        app,
        &format!("/api/v1/conversations/{chat_id}/messages?limit=200"),
        shop,
    )
    .await;
    messages.as_array().cloned().expect("message list")
}

/// The customer message containing `text`, once a worker has dealt with it (answered or skipped).
async fn processed_customer_message(app: &TestApp, shop: &Shop, text: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let messages = chat_messages(app, shop).await;
        let found = messages
            .iter()
            .find(|m| {
                m["author"] == "customer" && m["body"].as_str().is_some_and(|b| b.contains(text))
            })
            .cloned();
        if let Some(message) = found.filter(|m| m["status"] != "pending") {
            return message;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} not processed within {WAIT:?}: {messages:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
