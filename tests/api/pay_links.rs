//! The bot offers the shop's payment methods once an order is taken, and sends a payment link for exactly the
//! order's total when the customer picks one: the sandbox where the shop has no merchant account (development),
//! payment on delivery when the shop takes it.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::*;
use crate::helpers::spawn_app;

const CUSTOMER: &str = "2250700000077";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn after_an_order_the_customer_picks_a_method_and_gets_a_link_for_the_exact_total(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    app.create_product_ok(
        &shop,
        json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
    )
    .await;
    let _worker = start_offline_worker(&app);

    ask(&app, &shop, CUSTOMER, "je prends 2 pagnes").await;
    let placed = ask(&app, &shop, CUSTOMER, "oui").await;
    assert!(
        placed.contains("Pour payer, répondez « lien de paiement » ou « à la livraison »."),
        "{placed}"
    );
    let link = ask(&app, &shop, CUSTOMER, "le lien de paiement").await;

    assert!(link.starts_with("Voici votre lien de paiement"), "{link}");
    let line = link
        .lines()
        .find(|l| l.starts_with("Payer 15 000 FCFA avec un paiement test"))
        .unwrap_or_else(|| panic!("a link line for the exact total: {link}"));
    let url = line.rsplit(' ').next().expect("url");
    assert!(url.starts_with("http://127.0.0.1:8080/pay/"), "{url}");
    let token = url.rsplit('/').next().expect("token");
    let stored: (String, i64, String) = sqlx::query_as(
        "select provider, amount_xof, status from order_payment where token = $1 and tenant_id = $2",
    )
    .bind(token)
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("the link is stored");
    assert_eq!(stored, ("sandbox".to_owned(), 15_000, "pending".to_owned()));

    // Asking again gives the same link: one per order and method.
    let again = ask(&app, &shop, CUSTOMER, "le lien de paiement").await;
    assert!(
        again.contains(url) || !again.contains("/pay/"),
        "the same link, never a second one: {again}"
    );
    let links: i64 = sqlx::query_scalar("select count(*) from order_payment where tenant_id = $1")
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("count");
    assert_eq!(links, 1);
    let orders: Value = orders_of(&app, &shop).await.into();
    assert_eq!(
        orders[0]["paid_at"],
        Value::Null,
        "nothing is paid until the provider says so"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_who_pays_on_delivery_gets_no_link(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    app.create_product_ok(
        &shop,
        json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
    )
    .await;
    let _worker = start_offline_worker(&app);

    ask(&app, &shop, CUSTOMER, "je prends 1 pagne").await;
    ask(&app, &shop, CUSTOMER, "oui").await;
    let cash = ask(&app, &shop, CUSTOMER, "à la livraison").await;

    assert!(cash.contains("vous paierez à la livraison"), "{cash}");
    assert!(!cash.contains("/pay/"), "{cash}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_with_wave_and_orange_money_offers_both_and_the_customer_gets_the_one_picked(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    crate::pay_in_chat::wave_account(&app, &shop, "wave_ci_prod_key_1111", "wave_ci_WHS_secret")
        .await;
    crate::pay_orange_money::orange_account(&app, &shop, "om-client", "mk-1234").await;
    app.create_product_ok(
        &shop,
        json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
    )
    .await;
    let _worker = start_offline_worker(&app);

    ask(&app, &shop, CUSTOMER, "je prends 2 pagnes").await;
    let placed = ask(&app, &shop, CUSTOMER, "oui").await;
    let link = ask(&app, &shop, CUSTOMER, "par orange money").await;

    assert!(
        placed.contains("Pour payer, répondez « Wave », « Orange Money » ou « à la livraison »."),
        "{placed}"
    );
    assert!(
        link.lines()
            .any(|l| l
                .starts_with("Payer 15 000 FCFA avec Orange Money : http://127.0.0.1:8080/pay/")),
        "{link}"
    );
    let stored: Vec<String> =
        sqlx::query_scalar("select provider from order_payment where tenant_id = $1")
            .bind(shop.tenant_id)
            .fetch_all(&app.admin_db)
            .await
            .expect("links");
    assert_eq!(
        stored,
        ["orange_money"],
        "no sandbox link for a shop with its own accounts"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_unpaid_link_expires_and_the_customer_gets_a_new_one(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    app.create_product_ok(
        &shop,
        json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
    )
    .await;
    let _worker = start_offline_worker(&app);
    ask(&app, &shop, CUSTOMER, "je prends 2 pagnes").await;
    ask(&app, &shop, CUSTOMER, "oui").await;
    let first = ask(&app, &shop, CUSTOMER, "le lien de paiement").await;
    sqlx::query(
        "update order_payment set expires_at = now() - interval '1 minute' where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("aged");

    api::order_pay::expiry::run(&app.state).await;

    let status: String =
        sqlx::query_scalar("select status from order_payment where tenant_id = $1")
            .bind(shop.tenant_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("status");
    assert_eq!(status, "expired");
    let second = ask(&app, &shop, CUSTOMER, "le lien de paiement").await;
    let url = |text: &str| {
        text.lines()
            .find(|l| l.contains("/pay/"))
            .map(str::to_owned)
    };
    assert!(url(&second).is_some(), "{second}");
    assert_ne!(url(&first), url(&second), "a new secret for the new link");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn with_gemini_the_model_asks_for_the_link_and_the_pipeline_adds_it(pool: PgPool) {
    use workers::llm::gemini::fake::{FakeGemini, FakeResponse};
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let pagne = app
        .create_product_ok(
            &shop,
            json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
        )
        .await;
    let product_id = pagne["product_id"].as_str().expect("id").to_owned();
    let fake = FakeGemini::start(move |request| {
        let contents = request.body["contents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let last = contents.last().cloned().unwrap_or(Value::Null);
        if let Some(answer) = last["parts"][0].get("functionResponse") {
            return match answer["name"].as_str() {
                Some("create_order") => {
                    FakeResponse::text("C'est noté ! Vous payez par lien ou à la livraison ?")
                }
                _ => FakeResponse::text("Voici votre lien de paiement."),
            };
        }
        let said = last.to_string();
        if said.contains("je prends") {
            FakeResponse::function_call(
                Some("c1"),
                "create_order",
                json!({"items": [{"product_id": product_id, "quantity": 2}]}),
                Some("s1"),
            )
        } else {
            FakeResponse::function_call(
                Some("c2"),
                "payment_link",
                json!({"method": "sandbox"}),
                Some("s2"),
            )
        }
    })
    .await
    .expect("fake");
    let provider = std::sync::Arc::new(
        workers::llm::gemini::Gemini::new(
            workers::llm::gemini::fake::FAKE_API_KEY.into(),
            &fake.config(),
        )
        .expect("provider"),
    );
    let _worker = start_worker(&app, provider);

    ask(&app, &shop, CUSTOMER, "je prends 2 pagnes").await;
    let reply = ask(&app, &shop, CUSTOMER, "par lien svp").await;

    assert!(
        reply.starts_with("Voici votre lien de paiement."),
        "{reply}"
    );
    assert!(
        reply.contains("Payer 15 000 FCFA avec un paiement test (aucun argent réel) : http://127.0.0.1:8080/pay/"),
        "{reply}"
    );
    let prompt = fake.requests()[0]["systemInstruction"].to_string();
    assert!(
        prompt.contains("payment_link"),
        "the model is told how customers pay"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_that_wants_it_gets_an_unpaid_orders_stock_back_when_its_link_expires(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let pagne = app
        .create_product_ok(
            &shop,
            json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
        )
        .await;
    let pagne_id = pagne["product_id"].as_str().expect("id").to_owned();
    let _worker = start_offline_worker(&app);
    let switched = app
        .client
        .put(format!(
            "{}/api/v1/payment-settings/release-on-link-expiry",
            app.address
        ))
        .bearer_auth(&shop.token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .expect("request");
    assert_eq!(switched.status(), 200);
    ask(&app, &shop, CUSTOMER, "je prends 2 pagnes").await;
    ask(&app, &shop, CUSTOMER, "oui").await;
    ask(&app, &shop, CUSTOMER, "le lien de paiement").await;
    let stock = || async {
        sqlx::query_scalar::<_, i32>("select stock from product where product_id = $1::uuid")
            .bind(&pagne_id)
            .fetch_one(&app.admin_db)
            .await
            .expect("stock")
    };
    assert_eq!(stock().await, 8, "the order holds 2");
    sqlx::query(
        "update order_payment set expires_at = now() - interval '1 minute' where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("aged");

    api::order_pay::expiry::run(&app.state).await;

    assert_eq!(stock().await, 10, "the stock is on sale again");
    let orders = orders_of(&app, &shop).await;
    assert_eq!(orders[0]["status"], "cancelled");
}
