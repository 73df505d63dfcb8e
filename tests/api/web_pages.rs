//! The dashboard over HTTP: sign-up and sessions, CSRF, isolation between shops, forms that show their
//! errors, and page weight. The whole journey in a real browser is in `browser_dashboard`.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::bot_support::*;
use crate::helpers::spawn_app;
use crate::web_support::{WebUser, csrf_of, location};

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_new_shop_signs_up_on_the_web_and_lands_in_onboarding(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut browser = WebUser::new(&app);

    let signup = browser.page("/signup?lang=fr").await;
    assert!(signup.contains("Créer ma boutique"), "French sign-up page");
    let token = csrf_of(&signup);
    let response = browser
        .post(
            "/signup",
            &[
                ("_csrf", token.as_str()),
                ("business_name", "Maquis Chez Tantie"),
                ("email", "tantie@example.ci"),
                ("password", "garba-et-alloco"),
                ("plan", "pro"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/app/onboarding");
    let onboarding = browser.get("/app/onboarding").await;
    assert_eq!(location(&onboarding), "/app/onboarding/plan");
    let plan = browser.page("/app/onboarding/plan").await;
    assert!(
        plan.contains("Maquis Chez Tantie"),
        "the layout names the shop"
    );
    assert!(
        plan.contains(r#"value="pro" checked"#),
        "the plan chosen at sign-up is preselected"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn sign_up_shows_every_mistake_next_to_its_field_and_keeps_what_was_typed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut browser = WebUser::new(&app);
    let token = csrf_of(&browser.page("/signup?lang=fr").await);

    let response = browser
        .post(
            "/signup",
            &[
                ("_csrf", token.as_str()),
                ("business_name", "B"),
                ("email", "pas-un-email"),
                ("password", "court"),
                ("plan", "platine"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    for expected in [
        "au moins 2 caractères",
        "au moins 8 caractères",
        "Forfait inconnu",
    ] {
        assert!(
            html.contains(expected),
            "error {expected:?} shown in {html}"
        );
    }
    assert!(
        html.contains(r#"value="pas-un-email""#),
        "typed e-mail kept"
    );
    assert!(
        !html.contains("court\""),
        "the password is never echoed back"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_login_form_refuses_a_wrong_password_without_saying_which_part_is_wrong(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let mut browser = WebUser::new(&app);
    let token = csrf_of(&browser.page("/login?lang=fr").await);

    let response = browser
        .post(
            "/login",
            &[
                ("_csrf", token.as_str()),
                ("email", shop.email.as_str()),
                ("password", "pas-le-bon"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("E-mail ou mot de passe incorrect.")
    );
    assert!(!browser.cookies.contains_key("tdj_session"));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_form_posted_without_a_valid_csrf_token_is_refused_and_changes_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let mut browser = WebUser::signed_in(&app, &shop).await;
    let product = [("name", "Pagne"), ("price_xof", "7500"), ("active", "on")];

    let missing = browser.post("/app/products/new", &product).await;
    let mut forged = vec![("_csrf", "a-token-from-another-site-aaaaaaaaaaaaaaaaaa")];
    forged.extend_from_slice(&product);
    let wrong = browser.post("/app/products/new", &forged).await;
    let login_without = browser
        .post(
            "/login",
            &[
                ("email", shop.email.as_str()),
                ("password", "motdepasse-solide"),
            ],
        )
        .await;

    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        wrong
            .text()
            .await
            .expect("body")
            .contains("Formulaire expiré")
    );
    assert_eq!(login_without.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("product", shop.tenant_id).await,
        0,
        "nothing was created"
    );

    let accepted = browser
        .submit("/app/products/new", "/app/products/new", &product)
        .await;
    assert_eq!(
        accepted.status(),
        StatusCode::SEE_OTHER,
        "the page's own token works"
    );
    assert_eq!(app.count("product", shop.tenant_id).await, 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_logged_out_session_cookie_no_longer_works(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let mut browser = WebUser::signed_in(&app, &shop).await;
    let stolen = browser.cookies.clone();
    assert_eq!(browser.get("/app").await.status(), StatusCode::OK);

    let logout = browser.submit("/app", "/logout", &[]).await;
    assert_eq!(location(&logout), "/login");
    let mut thief = WebUser::new(&app);
    thief.cookies = stolen;

    let replay = thief.get("/app").await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replay), "/login");
    assert_eq!(
        browser.get("/app/products").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn another_shops_pages_answer_exactly_like_unknown_ids(pool: PgPool) {
    let app = spawn_app(pool).await;
    let victim = app.signup("Boutique A").await;
    let product = app
        .create_product_ok(
            &victim,
            json!({"name": "Sac", "price_xof": 9000, "stock": 5}),
        )
        .await;
    let _worker = start_offline_worker(&app);
    ask(&app, &victim, "2250700000009", "je prends 1 sac").await;
    ask(&app, &victim, "2250700000009", "oui").await;
    let order = &orders_of(&app, &victim).await[0];
    let chat_id = order["chat_id"].as_str().expect("chat").to_owned();
    let order_id = order["order_id"].as_str().expect("order").to_owned();
    let product_id = product["product_id"].as_str().expect("product").to_owned();

    let intruder = app.signup("Boutique B").await;
    let mut browser = WebUser::signed_in(&app, &intruder).await;
    let unknown = Uuid::new_v4().to_string();
    for (theirs, path) in [
        (&product_id, "/app/products/{}"),
        (&order_id, "/app/orders/{}"),
        (&chat_id, "/app/conversations/{}"),
    ] {
        let foreign = browser.get(&path.replace("{}", theirs)).await;
        let missing = browser.get(&path.replace("{}", &unknown)).await;
        assert_eq!(foreign.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            foreign.text().await.expect("body"),
            missing.text().await.expect("body"),
            "{path}: another shop's id looks exactly like an unknown one"
        );
    }
    for (action, fields) in [
        (
            format!("/app/products/{product_id}"),
            vec![("name", "Volé"), ("price_xof", "1")],
        ),
        (
            format!("/app/products/{product_id}/active"),
            vec![("active", "0")],
        ),
        (
            format!("/app/orders/{order_id}/status"),
            vec![("status", "cancelled")],
        ),
        (
            format!("/app/conversations/{chat_id}/pause"),
            vec![("pause", "1")],
        ),
        (
            format!("/app/conversations/{chat_id}/reply"),
            vec![("text", "coucou")],
        ),
    ] {
        let response = browser.submit("/app", &action, &fields).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {action}");
    }
    let still = app.read_product(&victim, &product_id).await;
    let still: serde_json::Value = still.json().await.expect("json");
    assert_eq!(still["name"], "Sac");
    assert_eq!(still["active"], true);
    let orders = orders_of(&app, &victim).await;
    assert_eq!(orders[0]["status"], "new", "the order was not cancelled");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_product_form_keeps_its_values_and_explains_each_mistake(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let mut browser = WebUser::signed_in(&app, &shop).await;

    let response = browser
        .submit(
            "/app/products/new",
            "/app/products/new",
            &[
                ("name", ""),
                ("price_xof", "cinq mille"),
                ("stock", "-2"),
                ("category", "Tissus"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    assert!(html.contains("Prix invalide"), "{html}");
    assert!(html.contains("Stock invalide"), "{html}");
    assert!(html.contains(r#"value="Tissus""#), "typed category kept");
    let ok = browser
        .submit(
            "/app/products/new",
            "/app/products/new",
            &[
                ("name", "Pagne wax"),
                ("price_xof", "7 500"),
                ("stock", ""),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(location(&ok), "/app/products?done=created");
    let list = browser.page("/app/products?done=created").await;
    assert!(
        list.contains("Pagne wax") && list.contains("7\u{a0}500\u{a0}F"),
        "{list}"
    );
    assert!(list.contains("stock illimité"));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_main_page_is_light_enough_for_slow_mobile_data(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let mut browser = WebUser::signed_in(&app, &shop).await;
    let html = browser.page("/app").await;
    let css = html
        .split("href=\"/assets/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("stylesheet link");
    let js = html
        .split("src=\"/assets/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("script link");
    let assets = browser.page(&format!("/assets/{css}")).await.len()
        + browser.page(&format!("/assets/{js}")).await.len();

    for path in [
        "/app",
        "/app/onboarding/plan",
        "/app/products",
        "/app/products/new",
        "/app/products/import",
        "/app/orders",
        "/app/conversations",
        "/app/test",
        "/app/whatsapp",
        "/app/billing",
        "/app/settings",
        "/app/more",
    ] {
        let page = browser.page(path).await.len();
        assert!(
            page + assets < 100 * 1024,
            "{path}: {page} bytes of HTML + {assets} of assets on first load"
        );
    }
    let mut visitor = WebUser::new(&app);
    for path in ["/login", "/signup"] {
        let page = visitor.page(path).await.len();
        assert!(
            page + assets < 100 * 1024,
            "{path}: {page} bytes + {assets}"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_dashboard_speaks_english_when_the_user_switches(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let mut browser = WebUser::signed_in(&app, &shop).await;
    assert!(browser.page("/app").await.contains("Tableau de bord"));

    let switched = browser
        .submit("/app/settings", "/app/settings/language", &[("lang", "en")])
        .await;
    assert_eq!(switched.status(), StatusCode::SEE_OTHER);

    let home = browser.page("/app").await;
    assert!(
        home.contains("Dashboard") && !home.contains("Tableau de bord"),
        "{home}"
    );
    assert!(home.contains("lang=\"en\""));
}
