//! The shop's knowledge: questions and answers and delivery zones, kept per shop through the API and the
//! dashboard, and used by the bot to answer delivery, payment and hours questions without inventing.

use chrono::{Datelike, Timelike, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::bot_support::*;
use crate::helpers::{Shop, TestApp, spawn_app};
use crate::web_support::{WebUser, location};

const CUSTOMER: &str = "2250700000031";

fn knowledge() -> Value {
    json!({
        "faq": [
            {"question": "Comment payer ?", "answer": "Wave ou Orange Money, ou en espèces à la livraison."},
            {"question": "Vous faites les retouches ?", "answer": "Oui, les retouches sont offertes sous 3 jours."}
        ],
        "delivery_zones": [
            {"name": "Cocody", "fee_xof": 1000},
            {"name": "Yopougon", "fee_xof": 1500},
            {"name": "Plateau", "fee_xof": 0}
        ]
    })
}

async fn put_knowledge(app: &TestApp, shop: &Shop, body: Value) -> reqwest::Response {
    app.put("/api/v1/bot/knowledge", &shop.token, body).await
}

async fn get_knowledge(app: &TestApp, shop: &Shop) -> Value {
    let response = app.get("/api/v1/bot/knowledge", &shop.token).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_shop_s_answers_and_zones_are_kept_in_its_order_and_checked_with_french_messages(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    assert_eq!(
        get_knowledge(&app, &shop).await,
        json!({"faq": [], "delivery_zones": []})
    );

    let response = put_knowledge(&app, &shop, knowledge()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(get_knowledge(&app, &shop).await, knowledge());

    let refused = put_knowledge(
        &app,
        &shop,
        json!({
            "faq": [{"question": "?", "answer": ""}],
            "delivery_zones": [
                {"name": "Cocody", "fee_xof": 1000},
                {"name": "  cocody ", "fee_xof": -5},
            ]
        }),
    )
    .await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.expect("json");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "faq[0].question",
            "faq[0].answer",
            "delivery_zones[1].name",
            "delivery_zones[1].fee_xof"
        ]
    );
    let messages = body["error"]["fields"].to_string();
    assert!(messages.contains("figure déjà"), "{messages}");
    assert_eq!(
        get_knowledge(&app, &shop).await,
        knowledge(),
        "a refused list changes nothing"
    );

    let too_many: Vec<Value> = (0..51)
        .map(|i| json!({"name": format!("Zone {i}"), "fee_xof": 500}))
        .collect();
    let response = put_knowledge(&app, &shop, json!({"faq": [], "delivery_zones": too_many})).await;
    assert_eq!(response.status(), 422);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_reads_and_replaces_only_its_own_knowledge(pool: PgPool) {
    let app = spawn_app(pool).await;
    let victim = app.signup("Couture Adjamé").await;
    let other = app.signup("Maquis Marcory").await;
    assert_eq!(
        put_knowledge(&app, &victim, knowledge()).await.status(),
        200
    );

    assert_eq!(
        get_knowledge(&app, &other).await,
        json!({"faq": [], "delivery_zones": []})
    );
    let mine = json!({"faq": [{"question": "Ouvert le dimanche ?", "answer": "Non."}], "delivery_zones": []});
    assert_eq!(
        put_knowledge(&app, &other, mine.clone()).await.status(),
        200
    );
    assert_eq!(get_knowledge(&app, &victim).await, knowledge());
    assert_eq!(get_knowledge(&app, &other).await, mine);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_offline_bot_answers_delivery_and_payment_from_what_the_shop_said_and_never_invents(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);
    assert_eq!(put_knowledge(&app, &shop, knowledge()).await.status(), 200);

    let delivery = ask(&app, &shop, CUSTOMER, "Bonjour vs livrez a yopougon ?").await;
    assert!(
        delivery.contains("Yopougon") && delivery.contains("1 500 FCFA"),
        "{delivery}"
    );

    let zones = ask(&app, &shop, CUSTOMER, "la livraison c combien ?").await;
    for expected in [
        "Cocody : 1 000 FCFA",
        "Yopougon : 1 500 FCFA",
        "Plateau : gratuit",
    ] {
        assert!(zones.contains(expected), "{expected} in {zones}");
    }

    let payment = ask(&app, &shop, CUSTOMER, "je peux payer par wave ?").await;
    assert!(
        payment.contains("Wave ou Orange Money, ou en espèces à la livraison."),
        "the shop's own answer, word for word: {payment}"
    );

    let asked_plainly = ask(&app, &shop, CUSTOMER, "vous faites les retouches aussi ?").await;
    assert!(
        asked_plainly.contains("retouches sont offertes"),
        "{asked_plainly}"
    );

    let unknown = ask(
        &app,
        &shop,
        CUSTOMER,
        "vous acceptez le paiement en 3 fois par carte ?",
    )
    .await;
    assert!(
        unknown.contains("Wave ou Orange Money"),
        "a payment question gets the payment answer: {unknown}"
    );
    let nothing = ask(
        &app,
        &shop,
        CUSTOMER,
        "quelle est votre politique de garantie ?",
    )
    .await;
    assert!(
        nothing.contains("Je n'ai pas cette information") && nothing.contains("Je transmets"),
        "no guess when the shop said nothing: {nothing}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_that_is_closed_now_says_so_once_and_tells_its_hours(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);
    // Open only on a day three days from today: closed now, whatever the day the test runs.
    let open_day = (Utc::now().weekday().num_days_from_monday() + 3) % 7;
    let response = app
        .request(
            reqwest::Method::PATCH,
            "/api/v1/bot",
            Some(&shop.token),
            Some(json!({
                "business_hours": [{"day": open_day, "open": "08:00", "close": "09:00"}],
                "out_of_hours_message": "Nous sommes fermés, on vous répond à l'ouverture."
            })),
        )
        .await;
    assert_eq!(response.status(), 200);
    app.create_product_ok(&shop, json!({"name": "Pagne wax", "price_xof": 7500}))
        .await;

    let first = ask(&app, &shop, CUSTOMER, "c'est combien le pagne wax ?").await;
    assert!(
        first.starts_with("Nous sommes fermés, on vous répond à l'ouverture."),
        "{first}"
    );
    assert!(
        first.contains("7 500 FCFA"),
        "the bot still answers: {first}"
    );

    let second = ask(&app, &shop, CUSTOMER, "vous êtes ouverts quand ?").await;
    assert!(
        !second.contains("Nous sommes fermés, on vous répond"),
        "the out-of-hours message is not repeated: {second}"
    );
    assert!(
        second.contains("08:00–09:00") && second.contains("fermés en ce moment"),
        "{second}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_owner_edits_questions_and_zones_from_the_settings_page(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let mut owner = WebUser::signed_in(&app, &shop).await;

    let page = owner.page("/app/settings").await;
    assert!(
        page.contains("id=\"knowledge-form\""),
        "the form is on the page"
    );
    let response = owner
        .submit(
            "/app/settings",
            "/app/settings/knowledge",
            &[
                ("faq_question_0", "Comment payer ?"),
                ("faq_answer_0", "Wave uniquement."),
                ("faq_question_1", ""),
                ("faq_answer_1", ""),
                ("zone_name_0", "Cocody"),
                ("zone_fee_0", "1 000 F"),
                ("zone_name_1", "Bingerville"),
                ("zone_fee_1", "2500"),
                ("zone_name_2", ""),
                ("zone_fee_2", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/app/settings?done=saved"));
    assert_eq!(
        get_knowledge(&app, &shop).await,
        json!({
            "faq": [{"question": "Comment payer ?", "answer": "Wave uniquement."}],
            "delivery_zones": [{"name": "Cocody", "fee_xof": 1000}, {"name": "Bingerville", "fee_xof": 2500}]
        })
    );
    let page = owner.page("/app/settings").await;
    assert!(
        page.contains("value=\"Bingerville\""),
        "saved rows are shown"
    );

    let response = owner
        .submit(
            "/app/settings",
            "/app/settings/knowledge",
            &[
                ("faq_question_0", "Comment payer ?"),
                ("faq_answer_0", ""),
                ("zone_name_0", "Cocody"),
                ("zone_fee_0", "mille"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.expect("page");
    assert!(page.contains("Frais invalides"), "{page}");
    assert!(page.contains("value=\"Cocody\""), "the typed rows are kept");
    assert_eq!(
        get_knowledge(&app, &shop).await["delivery_zones"][1]["name"],
        "Bingerville",
        "nothing saved"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn gemini_learns_this_shop_s_facts_only_and_shop_info_says_when_the_shop_said_nothing(
    pool: PgPool,
) {
    use std::sync::Arc;

    use workers::llm::gemini::Gemini;
    use workers::llm::gemini::fake::{FAKE_API_KEY, FakeGemini, FakeResponse};

    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let other = app.signup("Maquis Marcory").await;
    assert_eq!(put_knowledge(&app, &shop, knowledge()).await.status(), 200);
    let others = json!({
        "faq": [{"question": "Vous avez des tables ?", "answer": "Terrasse de 40 places."}],
        "delivery_zones": [{"name": "Marcory", "fee_xof": 700}]
    });
    assert_eq!(put_knowledge(&app, &other, others).await.status(), 200);
    let fake = FakeGemini::scripted(vec![
        FakeResponse::function_call(
            Some("c1"),
            "shop_info",
            json!({"question": "vous livrez à Yopougon ?"}),
            Some("sig-1"),
        ),
        FakeResponse::text("Oui, la livraison à Yopougon coûte 1 500 FCFA."),
        FakeResponse::function_call(
            Some("c2"),
            "shop_info",
            json!({"question": "vous avez une garantie ?"}),
            Some("sig-2"),
        ),
        FakeResponse::text(
            "Je n'ai pas cette information, je transmets votre question à la boutique.",
        ),
    ])
    .await
    .expect("fake gemini");
    let gemini = Gemini::new(FAKE_API_KEY.into(), &fake.config()).expect("provider");
    let _worker = start_worker(&app, Arc::new(gemini));

    let answer = ask(&app, &shop, CUSTOMER, "vous livrez à Yopougon ?").await;
    assert_eq!(answer, "Oui, la livraison à Yopougon coûte 1 500 FCFA.");
    let requests = fake.requests();
    let system = requests[0]["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .expect("system instruction");
    assert!(
        system.contains("Q : Comment payer ? → R : Wave ou Orange Money"),
        "{system}"
    );
    assert!(
        system.contains("- Yopougon : 1\u{202f}500 FCFA"),
        "{system}"
    );
    assert!(
        !system.contains("Marcory") && !system.contains("Terrasse"),
        "another shop's facts never reach the prompt: {system}"
    );
    let result = &requests[1]["contents"]
        .as_array()
        .expect("contents")
        .last()
        .expect("tool result")["parts"][0]["functionResponse"]["response"];
    assert_eq!(
        result["delivery_zone"],
        json!({"name": "Yopougon", "fee_xof": 1500})
    );
    assert_eq!(result["found"], true);
    let messages = chat_messages(&app, &shop, CUSTOMER).await;
    let reply = messages
        .iter()
        .rev()
        .find(|m| m["author"] == "bot")
        .expect("a reply");
    assert_eq!(reply["turn"]["engine"], "gemini", "{reply}");
    assert_eq!(reply["turn"]["tools"], json!(["shop_info"]), "{reply}");
    let mut owner = WebUser::signed_in(&app, &shop).await;
    let chat_id = reply["chat_id"].as_str().expect("chat");
    let transcript = owner.page(&format!("/app/conversations/{chat_id}")).await;
    assert!(
        transcript.contains("IA Gemini · shop_info"),
        "the shop sees what the bot did"
    );

    let answer = ask(&app, &shop, CUSTOMER, "vous avez une garantie ?").await;
    assert!(
        answer.starts_with("Je n'ai pas cette information"),
        "{answer}"
    );
    let requests = fake.requests();
    let result = &requests[3]["contents"]
        .as_array()
        .expect("contents")
        .last()
        .expect("tool result")["parts"][0]["functionResponse"]["response"];
    assert_eq!(result["found"], false, "{result}");
    assert!(
        result["note"]
            .as_str()
            .is_some_and(|n| n.contains("ne l'invente pas")),
        "{result}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_may_let_its_bot_answer_english_speaking_customers_in_english(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);
    app.create_product_ok(&shop, json!({"name": "Pagne wax", "price_xof": 7500}))
        .await;
    let refused = app
        .patch("/api/v1/bot", &shop.token, json!({"language": "de"}))
        .await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.expect("json");
    assert!(body.to_string().contains("fr, en ou auto"), "{body}");
    let allowed = app
        .patch("/api/v1/bot", &shop.token, json!({"language": "auto"}))
        .await;
    assert_eq!(allowed.status(), 200);

    let english = ask(
        &app,
        &shop,
        "2250700000032",
        "hello, how much is the wax pagne?",
    )
    .await;
    assert!(english.contains("Pagne wax: 7 500 FCFA"), "{english}");
    let french = ask(
        &app,
        &shop,
        "2250700000033",
        "bonjour c'est combien le pagne wax",
    )
    .await;
    assert!(french.contains("Pagne wax : 7 500 FCFA"), "{french}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_order_to_a_delivery_zone_carries_the_zone_and_its_fee_in_its_total(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    let _worker = start_offline_worker(&app);
    assert_eq!(put_knowledge(&app, &shop, knowledge()).await.status(), 200);
    app.create_product_ok(
        &shop,
        json!({"name": "Pagne wax", "price_xof": 7500, "stock": 5}),
    )
    .await;

    let recap = ask(
        &app,
        &shop,
        CUSTOMER,
        "je prends 2 pagnes wax, livraison à Cocody",
    )
    .await;
    assert!(recap.contains("Livraison à Cocody : 1 000 FCFA"), "{recap}");
    assert!(recap.contains("Total : 16 000 FCFA"), "{recap}");
    let done = ask(&app, &shop, CUSTOMER, "oui").await;
    assert!(done.contains("CMD-"), "{done}");

    let orders = orders_of(&app, &shop).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["delivery_zone"], "Cocody");
    assert_eq!(orders[0]["delivery_fee_xof"], 1000);
    assert_eq!(orders[0]["total_xof"], 16000, "items and delivery");

    let mut owner = WebUser::signed_in(&app, &shop).await;
    let order_id = orders[0]["order_id"].as_str().expect("id");
    let page = owner.page(&format!("/app/orders/{order_id}")).await;
    assert!(
        page.contains("id=\"order-delivery\""),
        "the order page shows the delivery"
    );
    assert!(page.contains("Cocody"), "{page}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn gemini_searches_by_price_cancels_an_unconfirmed_order_and_hands_over_through_the_tools(
    pool: PgPool,
) {
    use std::sync::Arc;

    use workers::llm::gemini::Gemini;
    use workers::llm::gemini::fake::{FAKE_API_KEY, FakeGemini, FakeResponse};

    let app = spawn_app(pool).await;
    let shop = app.signup("Couture Adjamé").await;
    for (name, price) in [("Pagne", 5000), ("Robe wax", 15000), ("Sac", 8000)] {
        app.create_product_ok(&shop, json!({"name": name, "price_xof": price, "stock": 5}))
            .await;
    }
    let pagne = orders_product_id(&app, &shop, "Pagne").await;
    let fake = FakeGemini::scripted(vec![
        FakeResponse::function_call(
            Some("c1"),
            "search_products",
            json!({"query": "", "max_price_xof": 10000, "sort": "price_asc"}),
            Some("s1"),
        ),
        FakeResponse::text("À moins de 10 000 FCFA : Pagne (5 000) et Sac (8 000)."),
        FakeResponse::function_call(
            Some("c2"),
            "create_order",
            json!({"items": [{"product_id": pagne, "quantity": 1}]}),
            Some("s2"),
        ),
        FakeResponse::text("Commande enregistrée."),
        FakeResponse::function_call(Some("c3"), "cancel_order", json!({}), Some("s3")),
        FakeResponse::text("Votre commande est annulée."),
        FakeResponse::function_call(
            Some("c4"),
            "hand_over",
            json!({"reason": "veut un prix de gros"}),
            Some("s4"),
        ),
        FakeResponse::text("Je transmets à l'équipe, quelqu'un vous répond vite."),
    ])
    .await
    .expect("fake gemini");
    let gemini = Gemini::new(FAKE_API_KEY.into(), &fake.config()).expect("provider");
    let _worker = start_worker(&app, Arc::new(gemini));

    ask(&app, &shop, CUSTOMER, "vous avez quoi à moins de 10 000 ?").await;
    let result = fake.requests()[1]["contents"]
        .as_array()
        .and_then(|c| c.last().cloned())
        .expect("tool result");
    let names: Vec<&str> = result["parts"][0]["functionResponse"]["response"]["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["Pagne", "Sac"], "{result}");

    ask(&app, &shop, CUSTOMER, "je prends un pagne, je confirme").await;
    assert_eq!(orders_of(&app, &shop).await[0]["status"], "new");
    ask(&app, &shop, CUSTOMER, "non finalement annulez").await;
    assert_eq!(
        orders_of(&app, &shop).await[0]["status"],
        "cancelled",
        "the customer's own unconfirmed order"
    );

    ask(&app, &shop, CUSTOMER, "je veux 200 pagnes à prix de gros").await;
    let chats: Value = app
        .list_conversations(&shop)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(chats[0]["attention_reason"], "veut un prix de gros");
}

async fn orders_product_id(app: &TestApp, shop: &Shop, name: &str) -> String {
    let products: Value = app
        .get("/api/v1/products", &shop.token)
        .await
        .json()
        .await
        .expect("json");
    products["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["name"] == name))
        .and_then(|p| p["product_id"].as_str())
        .expect("product")
        .to_owned()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn opening_hours_are_read_in_the_shop_s_time_zone(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Douala").await;
    let unknown = app
        .patch(
            "/api/v1/bot",
            &shop.token,
            json!({"time_zone": "Afrique/Douala"}),
        )
        .await;
    assert_eq!(unknown.status(), 422);
    let body: Value = unknown.json().await.expect("json");
    assert!(
        body.to_string().contains("Fuseau horaire inconnu"),
        "{body}"
    );

    // Open this very hour in Douala (an hour ahead of UTC): closed if read as Abidjan time.
    let douala = Utc::now().with_timezone(&chrono_tz::Africa::Douala);
    let (day, hour) = (douala.weekday().num_days_from_monday(), douala.hour());
    // From this hour for two hours (within the day): the turn a moment later still falls inside, and Abidjan's
    // time (an hour behind) does not.
    let (open, close) = (hour, (hour + 2).min(24));
    let slot =
        json!([{"day": day, "open": format!("{open:02}:00"), "close": format!("{close:02}:00")}]);
    let response = app
        .patch(
            "/api/v1/bot",
            &shop.token,
            json!({"time_zone": "Africa/Douala", "business_hours": slot, "out_of_hours_message": "Fermé."}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["time_zone"], "Africa/Douala");
    // A PUT without the zone keeps it.
    let mut settings = body.clone();
    for key in ["updated_at", "time_zone"] {
        settings.as_object_mut().expect("object").remove(key);
    }
    let put = app.put("/api/v1/bot", &shop.token, settings).await;
    assert_eq!(put.status(), 200);
    let kept: Value = put.json().await.expect("json");
    assert_eq!(kept["time_zone"], "Africa/Douala");

    let _worker = start_offline_worker(&app);
    let reply = ask(&app, &shop, CUSTOMER, "bonjour").await;
    assert!(
        !reply.contains("Fermé."),
        "open in Douala right now: {reply}"
    );
}
