//! Working as a team: invitations by e-mail (read from the development outbox), joining, the plan's seats,
//! roles enforced on every owner-only endpoint and page, role changes and removals that end sign-ins, and
//! isolation between shops.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::bot_support::*;
use crate::helpers::{Shop, TestApp, error_code, spawn_app, spawn_app_with};
use crate::web_support::{WebUser, location};

/// The password every test member chooses (the one `WebUser::signed_in` types).
pub const PASSWORD: &str = "motdepasse-solide";

/// The first link of the newest message to `to` in the development outbox that starts with `{base}{path}`,
/// waiting a little for messages sent in the background.
pub async fn mail_link(app: &TestApp, to: &str, path: &str) -> String {
    let prefix = format!("{}{path}", app.address);
    let marker = format!("data-to=\"{to}\"");
    let found = testkit::poll::within(Duration::from_secs(10), || async {
        let outbox = outbox_html(app).await;
        outbox.split(&marker).skip(1).find_map(|mail| {
            let mail = mail.split("<article").next().unwrap_or_default();
            mail.split("href=\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .find(|href| href.starts_with(&prefix))
                .map(str::to_owned)
        })
    })
    .await;
    match found {
        Some(link) => link,
        None => panic!(
            "no e-mail to {to} with a {path} link in the outbox:\n{}",
            outbox_html(app).await
        ),
    }
}

/// The development outbox page.
pub async fn outbox_html(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/app/dev/outbox", app.address))
        .send()
        .await
        .expect("outbox");
    assert_eq!(response.status(), StatusCode::OK, "the dev outbox page");
    response.text().await.expect("body")
}

/// How many messages to `to` the outbox holds.
pub async fn mails_to(app: &TestApp, to: &str) -> usize {
    outbox_html(app)
        .await
        .matches(&format!("data-to=\"{to}\""))
        .count()
}

/// The token at the end of an invitation or reset link.
pub fn token_of(link: &str) -> String {
    link.rsplit('/').next().expect("token").to_owned()
}

pub fn new_email(who: &str) -> String {
    format!("{who}-{}@example.ci", Uuid::new_v4().simple())
}

/// The owner invites `email` as `role` over REST; returns the answer.
pub async fn invite(app: &TestApp, owner: &Shop, email: &str, role: &str) -> reqwest::Response {
    app.invite(&owner.token, json!({ "email": email, "role": role }))
        .await
}

/// Invites `email` as `role`, opens the e-mailed link and accepts with [`PASSWORD`]; the member as a `Shop`
/// (their token, their shop, their e-mail), so the usual helpers work for them.
pub async fn join(app: &TestApp, owner: &Shop, email: &str, role: &str) -> (Shop, Uuid) {
    let invited = invite(app, owner, email, role).await;
    assert_eq!(
        invited.status(),
        StatusCode::CREATED,
        "invitation of {email}"
    );
    let link = mail_link(app, email, "/invitation/").await;
    let accepted = app
        .accept_invitation(json!({ "token": token_of(&link), "password": PASSWORD }))
        .await;
    assert_eq!(accepted.status(), StatusCode::CREATED, "{email} joins");
    let body: Value = accepted.json().await.expect("json");
    let member = Shop {
        token: body["token"].as_str().expect("token").to_owned(),
        tenant_id: owner.tenant_id,
        email: email.to_owned(),
    };
    let user_id = body["user_id"]
        .as_str()
        .expect("user id")
        .parse()
        .expect("uuid");
    (member, user_id)
}

/// The user id of a shop's owner.
pub async fn owner_id(app: &TestApp, owner: &Shop) -> Uuid {
    let me: Value = app.me(&owner.token).await.json().await.expect("json");
    me["user"]["user_id"]
        .as_str()
        .expect("user id")
        .parse()
        .expect("uuid")
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.login(email, password).await
}

/// A test app whose login rate limit does not get in the way of a long scenario.
pub async fn roomy_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |c| c.auth_rate_per_minute = 1000).await
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_invited_member_joins_with_the_emailed_link_once_and_signs_in_as_staff(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let email = new_email("kofi");

    // Act
    let invited = invite(&app, &owner, &email, "staff").await;
    assert_eq!(invited.status(), StatusCode::CREATED);
    let invited: Value = invited.json().await.expect("json");
    let link = mail_link(&app, &email, "/invitation/").await;
    let outbox = outbox_html(&app).await;
    let page = reqwest::get(&link).await.expect("invitation page");
    let page_status = page.status();
    let page = page.text().await.expect("body");
    let too_short = app
        .accept_invitation(json!({ "token": token_of(&link), "password": "court" }))
        .await;
    let too_short_status = too_short.status();
    let too_short: Value = too_short.json().await.expect("json");
    let accept = json!({ "token": token_of(&link), "password": PASSWORD });
    let first = app.accept_invitation(accept.clone()).await;
    let first_status = first.status();
    let joined: Value = first.json().await.expect("json");
    let second = app.accept_invitation(accept).await;

    // Assert
    assert_eq!(invited["email_sent"], true);
    assert_eq!(invited["invitation"]["role"], "staff");
    assert!(
        invited.to_string().find("token").is_none(),
        "no secret in the answer: {invited}"
    );
    assert!(
        outbox.contains("Friperie Abobo vous invite sur Tdjaasa")
            && outbox.contains("valable 7 jours"),
        "a French e-mail naming the shop:\n{outbox}"
    );
    assert_eq!(page_status, StatusCode::OK);
    assert!(page.contains("Friperie Abobo"), "the page names the shop");
    assert!(
        page.contains(&email),
        "and the address the member signs in with"
    );
    assert_eq!(too_short_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_short["error"]["fields"][0]["field"], "password");
    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(joined["role"], "staff");
    assert_eq!(joined["tenant_id"], owner.tenant_id.to_string());
    assert_eq!(second.status(), StatusCode::NOT_FOUND, "a link works once");
    let second: Value = second.json().await.expect("json");
    assert!(
        second["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("n'est plus valable")),
        "{second}"
    );
    let signed_in = login(&app, &email, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let signed_in: Value = signed_in.json().await.expect("json");
    assert_eq!(signed_in["role"], "staff");
    let team: Value = app.team(&owner.token).await.json().await.expect("json");
    let members: Vec<(&str, &str)> = team["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap_or_default(),
                m["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [(owner.email.as_str(), "owner"), (email.as_str(), "staff")]
    );
    assert_eq!(
        team["invitations"],
        json!([]),
        "the accepted invitation is gone"
    );
    assert_eq!(
        app.audit_actions(owner.tenant_id)
            .await
            .iter()
            .filter(|a| a.starts_with("team."))
            .count(),
        2
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_invitation_speaks_english_when_the_owner_does(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let owner = app.signup("Maquis Chez Tantie").await;
    sqlx::query("update app_user set language = 'en' where tenant_id = $1")
        .bind(owner.tenant_id)
        .execute(&app.admin_db)
        .await
        .expect("owner speaks English");
    let email = new_email("ama");

    // Act
    let invited = invite(&app, &owner, &email, "owner").await;
    let link = mail_link(&app, &email, "/invitation/").await;
    let page = reqwest::get(&link)
        .await
        .expect("page")
        .text()
        .await
        .expect("body");

    // Assert
    assert_eq!(invited.status(), StatusCode::CREATED);
    let outbox = outbox_html(&app).await;
    assert!(
        outbox.contains("Maquis Chez Tantie invites you to Tdjaasa")
            && outbox.contains("valid 7 days"),
        "{outbox}"
    );
    assert!(
        page.contains("Join the team"),
        "the page speaks the inviter's language"
    );
}

/// A posted form's fields.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// A shop with an order, a product and a conversation, one staff member, and a pending invitation.
struct Scene {
    owner: Shop,
    owner_id: Uuid,
    staff: Shop,
    order_id: String,
    product_id: String,
    chat_id: String,
    invitation_id: String,
    payment_id: String,
}

async fn scene(app: &TestApp) -> Scene {
    let owner = app.signup_on("Friperie Abobo", "business").await;
    let product = app
        .create_product_ok(
            &owner,
            json!({"name": "Pagne", "price_xof": 7500, "stock": 10}),
        )
        .await;
    let _worker = start_offline_worker(app);
    ask(app, &owner, "2250700000003", "je prends 2 pagnes").await;
    ask(app, &owner, "2250700000003", "oui").await;
    let order = orders_of(app, &owner).await[0].clone();
    let (staff, _) = join(app, &owner, &new_email("staff"), "staff").await;
    let pending: Value = invite(app, &owner, &new_email("pending"), "staff")
        .await
        .json()
        .await
        .expect("json");
    let payment = app.checkout_ok(&owner, "business", "sandbox").await;
    Scene {
        owner_id: owner_id(app, &owner).await,
        owner,
        staff,
        order_id: order["order_id"].as_str().expect("order").to_owned(),
        product_id: product["product_id"].as_str().expect("product").to_owned(),
        chat_id: order["chat_id"].as_str().expect("chat").to_owned(),
        invitation_id: pending["invitation"]["invitation_id"]
            .as_str()
            .expect("invitation")
            .to_owned(),
        payment_id: payment["payment_id"].as_str().expect("payment").to_owned(),
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn staff_do_the_daily_work_and_get_403_on_every_owner_only_endpoint_and_page(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let s = scene(&app).await;
    let fill = |path: &str| {
        path.replace("{order}", &s.order_id)
            .replace("{product}", &s.product_id)
            .replace("{chat}", &s.chat_id)
            .replace("{invitation}", &s.invitation_id)
            .replace("{owner}", &s.owner_id.to_string())
            .replace("{payment}", &s.payment_id)
    };
    let bot = json!({"bot_name": "Awa", "tone": "friendly", "language": "fr", "instructions": "",
                     "business_hours": [], "out_of_hours_message": ""});
    let rest: Vec<(Method, &str, Option<Value>, u16)> = vec![
        // The daily work: products, orders, conversations, test chat.
        (Method::GET, "/api/v1/me", None, 200),
        (Method::GET, "/api/v1/products", None, 200),
        (
            Method::POST,
            "/api/v1/products",
            Some(json!({"name": "Boubou", "price_xof": 12000})),
            201,
        ),
        (Method::GET, "/api/v1/products/{product}", None, 200),
        (
            Method::PATCH,
            "/api/v1/products/{product}",
            Some(json!({"price_xof": 8000})),
            200,
        ),
        (Method::GET, "/api/v1/products/export.csv", None, 200),
        (Method::GET, "/api/v1/orders", None, 200),
        (Method::GET, "/api/v1/orders/{order}", None, 200),
        (
            Method::PATCH,
            "/api/v1/orders/{order}",
            Some(json!({"status": "confirmed"})),
            200,
        ),
        (Method::GET, "/api/v1/conversations", None, 200),
        (
            Method::GET,
            "/api/v1/conversations/{chat}/messages",
            None,
            200,
        ),
        (
            Method::PUT,
            "/api/v1/conversations/{chat}/bot",
            Some(json!({"paused_until": null})),
            200,
        ),
        (
            Method::POST,
            "/api/v1/simulator/messages",
            Some(json!({"from": "2250700000004", "text": "Bonjour"})),
            202,
        ),
        (Method::GET, "/api/v1/dead-letters", None, 200),
        (Method::GET, "/api/v1/whatsapp", None, 200),
        // Owner only: bot identity, billing, WhatsApp link and sandbox, team; the platform's admin.
        (Method::GET, "/api/v1/bot", None, 403),
        (Method::PUT, "/api/v1/bot", Some(bot.clone()), 403),
        (Method::GET, "/api/v1/bot/knowledge", None, 403),
        (Method::GET, "/api/v1/bot/order-messages", None, 403),
        (Method::GET, "/api/v1/bot/alert-phone", None, 403),
        (
            Method::PUT,
            "/api/v1/bot/alert-phone",
            Some(json!({"phone": "0707070707"})),
            403,
        ),
        (
            Method::PUT,
            "/api/v1/bot/order-messages",
            Some(json!({"confirmed": "", "shipped": "", "delivered": "", "cancelled": ""})),
            403,
        ),
        (
            Method::PUT,
            "/api/v1/bot/knowledge",
            Some(json!({"faq": [], "delivery_zones": []})),
            403,
        ),
        (
            Method::PATCH,
            "/api/v1/bot",
            Some(json!({"bot_name": "Volé"})),
            403,
        ),
        (Method::GET, "/api/v1/billing", None, 403),
        (
            Method::POST,
            "/api/v1/billing/checkout",
            Some(json!({"plan": "pro", "provider": "sandbox"})),
            403,
        ),
        (Method::GET, "/api/v1/billing/payments/{payment}", None, 403),
        (
            Method::POST,
            "/api/v1/whatsapp/connect",
            Some(json!({})),
            403,
        ),
        (Method::POST, "/api/v1/whatsapp/logout", None, 403),
        (Method::GET, "/api/v1/whatsapp/events", None, 403),
        (Method::POST, "/api/v1/whatsapp/sandbox/scan", None, 403),
        (
            Method::POST,
            "/api/v1/whatsapp/sandbox/messages",
            Some(json!({"from": "2250701020304", "name": "Awa", "text": "Bonjour"})),
            403,
        ),
        (Method::GET, "/api/v1/team", None, 403),
        (
            Method::POST,
            "/api/v1/team/invitations",
            Some(json!({"email": "ami@example.ci"})),
            403,
        ),
        (
            Method::POST,
            "/api/v1/team/invitations/{invitation}/resend",
            None,
            403,
        ),
        (
            Method::DELETE,
            "/api/v1/team/invitations/{invitation}",
            None,
            403,
        ),
        (
            Method::PATCH,
            "/api/v1/team/members/{owner}",
            Some(json!({"role": "staff"})),
            403,
        ),
        (Method::DELETE, "/api/v1/team/members/{owner}", None, 403),
        (Method::GET, "/api/v1/admin/tenants", None, 403),
    ];
    let pages: Vec<(&str, u16)> = vec![
        ("/app", 200),
        ("/app/more", 200),
        ("/app/orders", 200),
        ("/app/orders/{order}", 200),
        ("/app/conversations", 200),
        ("/app/conversations/{chat}", 200),
        ("/app/products", 200),
        ("/app/products/new", 200),
        ("/app/products/{product}", 200),
        ("/app/test", 200),
        ("/app/settings", 200),
        ("/app/account/password", 200),
        ("/app/billing", 403),
        ("/app/billing/payments/{payment}", 403),
        ("/app/billing/return?payment={payment}", 403),
        ("/app/whatsapp", 403),
        ("/app/whatsapp/events", 403),
        ("/app/team", 403),
        ("/app/onboarding", 403),
        ("/app/onboarding/plan", 403),
        ("/app/onboarding/bot", 403),
    ];
    let posts: Vec<(&str, Form, u16)> = vec![
        (
            "/app/orders/{order}/status",
            vec![("status", "delivered")],
            303,
        ),
        (
            "/app/products/new",
            vec![("name", "Sac"), ("price_xof", "9000")],
            303,
        ),
        (
            "/app/settings/bot",
            vec![
                ("bot_name", "Volé"),
                ("tone", "friendly"),
                ("language", "fr"),
            ],
            403,
        ),
        (
            "/app/settings/business",
            vec![("business_name", "Volé")],
            403,
        ),
        (
            "/app/settings/knowledge",
            vec![("faq_question_0", "Volé ?"), ("faq_answer_0", "Volé")],
            403,
        ),
        (
            "/app/settings/order-messages",
            vec![("confirmed", "Volé")],
            403,
        ),
        (
            "/app/settings/alert-phone",
            vec![("phone", "0707070707")],
            403,
        ),
        (
            "/app/billing/checkout",
            vec![("plan", "pro"), ("provider", "sandbox")],
            403,
        ),
        ("/app/whatsapp/connect", vec![("mode", "qr")], 403),
        ("/app/whatsapp/logout", vec![], 403),
        ("/app/whatsapp/sandbox/scan", vec![], 403),
        (
            "/app/whatsapp/sandbox/message",
            vec![("phone", "0701020304"), ("text", "Bonjour")],
            403,
        ),
        ("/app/onboarding/plan", vec![("plan", "pro")], 403),
        ("/app/onboarding/pay/next", vec![], 403),
        (
            "/app/team/invitations",
            vec![("email", "ami@example.ci"), ("role", "staff")],
            403,
        ),
        ("/app/team/invitations/{invitation}/resend", vec![], 403),
        ("/app/team/invitations/{invitation}/cancel", vec![], 403),
        (
            "/app/team/members/{owner}/role",
            vec![("role", "staff")],
            403,
        ),
        ("/app/team/members/{owner}/remove", vec![], 403),
    ];
    let mut browser = WebUser::signed_in(&app, &s.staff).await;

    // Act
    let mut got = Vec::new();
    for (method, path, body, expected) in &rest {
        let response = app
            .request(
                method.clone(),
                &fill(path),
                Some(&s.staff.token),
                body.clone(),
            )
            .await;
        got.push((
            format!("{method} {path}"),
            response.status().as_u16(),
            *expected,
        ));
    }
    for (path, expected) in &pages {
        let response = browser.get(&fill(path)).await;
        got.push((
            format!("page {path}"),
            response.status().as_u16(),
            *expected,
        ));
    }
    for (action, fields, expected) in &posts {
        let response = browser.submit("/app", &fill(action), fields).await;
        got.push((
            format!("POST {action}"),
            response.status().as_u16(),
            *expected,
        ));
    }
    let home = browser.page("/app").await;
    let more = browser.page("/app/more").await;
    let settings = browser.page("/app/settings").await;
    let mut owner_browser = WebUser::signed_in(&app, &s.owner).await;
    let owner_more = owner_browser.page("/app/more").await;

    // Assert
    let wrong: Vec<_> = got
        .iter()
        .filter(|(_, status, expected)| status != expected)
        .collect();
    assert!(wrong.is_empty(), "(what, got, expected): {wrong:#?}");
    for page in [&home, &more] {
        for owner_only in [
            "href=\"/app/billing\"",
            "href=\"/app/team\"",
            "href=\"/app/whatsapp\"",
        ] {
            assert!(
                !page.contains(owner_only),
                "staff's navigation hides {owner_only}"
            );
        }
    }
    assert!(
        !settings.contains("/app/settings/bot"),
        "no bot identity form for staff"
    );
    assert!(
        !settings.contains("/app/settings/knowledge"),
        "no knowledge form for staff"
    );
    for entry in [
        "href=\"/app/billing\"",
        "href=\"/app/team\"",
        "href=\"/app/whatsapp\"",
    ] {
        assert!(owner_more.contains(entry), "the owner's menu has {entry}");
    }
    let bot: Value = app
        .get("/api/v1/bot", &s.owner.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(bot["bot_name"], "Awa", "the bot's identity is untouched");
    let team: Value = app.team(&s.owner.token).await.json().await.expect("json");
    assert_eq!(
        team["members"].as_array().map(Vec::len),
        Some(2),
        "nobody removed"
    );
    assert_eq!(
        team["invitations"].as_array().map(Vec::len),
        Some(1),
        "nothing cancelled"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_plan_limit_refuses_one_member_too_many_in_french_with_a_link_to_change_plan(
    pool: PgPool,
) {
    // Arrange: Starter is the owner alone; Pro is 3 people, owner included
    let app = roomy_app(pool).await;
    let starter = app.signup_on("Petite Boutique", "starter").await;
    let pro = app.signup_on("Friperie Abobo", "pro").await;
    join(&app, &pro, &new_email("kofi"), "staff").await;
    let pending = invite(&app, &pro, &new_email("ama"), "staff").await;
    assert_eq!(
        pending.status(),
        StatusCode::CREATED,
        "third seat: a pending invitation"
    );

    // Act
    let on_starter = invite(&app, &starter, &new_email("awa"), "staff").await;
    let one_too_many = invite(&app, &pro, &new_email("yao"), "staff").await;
    let mut browser = WebUser::signed_in(&app, &pro).await;
    let form = browser
        .submit(
            "/app/team",
            "/app/team/invitations",
            &[("email", "yao@example.ci"), ("role", "staff")],
        )
        .await;
    let form_status = form.status();
    let form = form.text().await.expect("body");

    // Assert
    assert_eq!(on_starter.status(), StatusCode::PAYMENT_REQUIRED);
    let on_starter: Value = on_starter.json().await.expect("json");
    assert_eq!(on_starter["error"]["code"], "plan_limit_reached");
    let message = on_starter["error"]["message"].as_str().expect("message");
    assert!(
        message
            .contains("Votre forfait Starter permet 1 utilisateur au total, propriétaire compris")
            && message.contains("/app/billing"),
        "{message}"
    );
    assert_eq!(one_too_many.status(), StatusCode::PAYMENT_REQUIRED);
    let message = one_too_many.json::<Value>().await.expect("json")["error"]["message"].to_string();
    assert!(message.contains("Pro permet 3 utilisateurs"), "{message}");
    assert!(
        message.contains("1 invitation en attente"),
        "pending invitations count: {message}"
    );
    assert_eq!(form_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(form.contains("id=\"team-limit\""), "the form says why");
    assert!(
        form.contains("<a href=\"/app/billing\">Changer de forfait</a>"),
        "and links to the plans"
    );
    assert!(
        form.contains("value=\"yao@example.ci\""),
        "keeping what was typed"
    );
    assert_eq!(app.count("invitation", starter.tenant_id).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn accepting_is_refused_when_the_plan_lost_its_seats_meanwhile(pool: PgPool) {
    // Arrange: two invitations on Pro, then the shop moves to Starter
    let app = roomy_app(pool).await;
    let owner = app.signup_on("Friperie Abobo", "pro").await;
    let email = new_email("kofi");
    invite(&app, &owner, &email, "staff").await;
    let link = mail_link(&app, &email, "/invitation/").await;
    sqlx::query("update tenant set plan_code = 'starter' where tenant_id = $1")
        .bind(owner.tenant_id)
        .execute(&app.admin_db)
        .await
        .expect("downgrade");

    // Act
    let accepted = app
        .accept_invitation(json!({ "token": token_of(&link), "password": PASSWORD }))
        .await;

    // Assert
    assert_eq!(accepted.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = accepted.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Demandez au propriétaire de changer de forfait")),
        "{body}"
    );
    assert_eq!(
        app.count("app_user", owner.tenant_id).await,
        1,
        "nobody joined"
    );
    let page = reqwest::get(&link).await.expect("page");
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the link still works once the plan allows it"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_expired_used_or_unknown_invitation_link_gets_one_and_the_same_page(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let (used_email, expired_email) = (new_email("kofi"), new_email("ama"));
    join(&app, &owner, &used_email, "staff").await;
    let used = mail_link(&app, &used_email, "/invitation/").await;
    invite(&app, &owner, &expired_email, "staff").await;
    let expired = mail_link(&app, &expired_email, "/invitation/").await;
    sqlx::query("update invitation set expires_at = now() - interval '1 second' where email = $1")
        .bind(&expired_email)
        .execute(&app.admin_db)
        .await
        .expect("expire the invitation");
    let unknown = format!("{}/invitation/{}", app.address, "A".repeat(43));
    let garbage = format!("{}/invitation/pas-un-jeton", app.address);

    // Act
    let mut pages = Vec::new();
    for link in [&used, &expired, &unknown, &garbage] {
        let response = reqwest::get(link.as_str()).await.expect("page");
        pages.push((response.status(), response.text().await.expect("body")));
    }
    let accept_expired = app
        .accept_invitation(json!({ "token": token_of(&expired), "password": PASSWORD }))
        .await;

    // Assert
    for (status, body) in &pages {
        assert_eq!(*status, StatusCode::NOT_FOUND);
        assert_eq!(
            body, &pages[0].1,
            "the same page for used, expired and unknown links"
        );
    }
    assert!(
        pages[0]
            .1
            .contains("plus valable (déjà utilisé, expiré ou inconnu)")
    );
    assert_eq!(accept_expired.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("app_user", owner.tenant_id).await,
        2,
        "the expired link made nobody"
    );
    let team: Value = app.team(&owner.token).await.json().await.expect("json");
    assert_eq!(
        team["invitations"][0]["expired"], true,
        "the owner sees it expired and may resend it"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn resending_replaces_the_link_and_cancelling_kills_it(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let (kept, dropped) = (new_email("kofi"), new_email("ama"));
    let kept_id = invite(&app, &owner, &kept, "staff")
        .await
        .json::<Value>()
        .await
        .expect("json")["invitation"]["invitation_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let old_link = mail_link(&app, &kept, "/invitation/").await;
    let dropped_id = invite(&app, &owner, &dropped, "staff")
        .await
        .json::<Value>()
        .await
        .expect("json")["invitation"]["invitation_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let dropped_link = mail_link(&app, &dropped, "/invitation/").await;

    // Act
    let twice = invite(&app, &owner, &kept, "staff").await;
    let resent = app.resend_invitation(&owner.token, &kept_id).await;
    let new_link = mail_link(&app, &kept, "/invitation/").await;
    let cancelled = app.cancel_invitation(&owner.token, &dropped_id).await;

    // Assert
    assert_eq!(
        twice.status(),
        StatusCode::CONFLICT,
        "one open invitation per address"
    );
    assert_eq!(error_code(twice).await, "already_invited");
    assert_eq!(resent.status(), StatusCode::OK);
    assert_ne!(new_link, old_link);
    assert_eq!(
        reqwest::get(&old_link).await.expect("old").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        reqwest::get(&new_link).await.expect("new").status(),
        StatusCode::OK
    );
    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        reqwest::get(&dropped_link).await.expect("dropped").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(mails_to(&app, &kept).await, 2);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_email_that_already_has_an_account_cannot_be_invited(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let elsewhere = app.signup("Autre Boutique").await;

    // Act
    let other_shops_owner = invite(&app, &owner, &elsewhere.email.to_uppercase(), "staff").await;
    let myself = invite(&app, &owner, &owner.email, "staff").await;
    let bad = invite(&app, &owner, "pas-un-email", "patron").await;

    // Assert
    assert_eq!(other_shops_owner.status(), StatusCode::CONFLICT);
    let body: Value = other_shops_owner.json().await.expect("json");
    assert_eq!(body["error"]["code"], "email_taken");
    assert_eq!(
        body["error"]["message"],
        "Cette adresse e-mail a déjà un compte Tdjaasa : elle ne peut pas être invitée."
    );
    assert_eq!(myself.status(), StatusCode::CONFLICT);
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = bad.json::<Value>().await.expect("json")["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(fields, ["email", "role"]);
    assert_eq!(mails_to(&app, &elsewhere.email).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_removed_member_is_signed_out_everywhere_at_once(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let (staff, staff_id) = join(&app, &owner, &new_email("kofi"), "staff").await;
    let mut staff_browser = WebUser::signed_in(&app, &staff).await;
    assert_eq!(
        app.get("/api/v1/orders", &staff.token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        staff_browser.get("/app/orders").await.status(),
        StatusCode::OK
    );
    let mut owner_browser = WebUser::signed_in(&app, &owner).await;

    // Act
    let removed = owner_browser
        .submit(
            "/app/team",
            &format!("/app/team/members/{staff_id}/remove"),
            &[],
        )
        .await;

    // Assert
    assert_eq!(location(&removed), "/app/team?done=removed");
    assert!(
        owner_browser
            .page("/app/team?done=removed")
            .await
            .contains("Membre retiré")
    );
    assert_eq!(
        app.get("/api/v1/orders", &staff.token).await.status(),
        StatusCode::UNAUTHORIZED,
        "the API token stopped working"
    );
    let page = staff_browser.get("/app/orders").await;
    assert_eq!(location(&page), "/login", "the browser session ended");
    assert_eq!(
        login(&app, &staff.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.count("web_session", owner.tenant_id).await,
        1,
        "only the owner's session is left"
    );
    assert!(
        app.audit_actions(owner.tenant_id)
            .await
            .contains(&"team.member_removed".to_owned())
    );
    let again = invite(&app, &owner, &staff.email, "staff").await;
    assert_eq!(
        again.status(),
        StatusCode::CREATED,
        "the address may be invited again"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_role_change_ends_the_members_sign_ins_and_the_shop_keeps_an_owner(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let me = owner_id(&app, &owner).await;
    let (staff, staff_id) = join(&app, &owner, &new_email("kofi"), "staff").await;

    // Act
    let demote_last_owner = app
        .change_role(&owner.token, &me, json!({"role": "staff"}))
        .await;
    let remove_last_owner = app.remove_member(&owner.token, &me).await;
    let promoted = app
        .change_role(&owner.token, &staff_id, json!({"role": "owner"}))
        .await;
    let old_staff_token = app.get("/api/v1/orders", &staff.token).await;
    let as_owner: Value = login(&app, &staff.email, PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let unknown_role = app
        .change_role(&owner.token, &staff_id, json!({"role": "platform_admin"}))
        .await;
    let step_down = app
        .change_role(&owner.token, &me, json!({"role": "staff"}))
        .await;

    // Assert
    assert_eq!(demote_last_owner.status(), StatusCode::CONFLICT);
    let body: Value = demote_last_owner.json().await.expect("json");
    assert_eq!(body["error"]["code"], "last_owner");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("au moins un propriétaire"))
    );
    assert_eq!(remove_last_owner.status(), StatusCode::CONFLICT);
    assert_eq!(promoted.status(), StatusCode::OK);
    assert_eq!(
        promoted.json::<Value>().await.expect("json")["role"],
        "owner"
    );
    assert_eq!(
        old_staff_token.status(),
        StatusCode::UNAUTHORIZED,
        "the old token carried the old role"
    );
    assert_eq!(as_owner["role"], "owner");
    let new_token = as_owner["token"].as_str().expect("token");
    assert_eq!(
        app.billing_overview(new_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(unknown_role.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        step_down.status(),
        StatusCode::OK,
        "with another owner, the first may step down"
    );
    assert_eq!(
        app.team(&owner.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_staff_member_never_sees_another_shops_team_and_its_ids_answer_404(pool: PgPool) {
    // Arrange: shop A with a member and a pending invitation; shop B with its own staff
    let app = roomy_app(pool).await;
    let shop_a = app.signup("Boutique A").await;
    let (_, member_a) = join(&app, &shop_a, &new_email("membre-a"), "staff").await;
    let invitation_a = invite(&app, &shop_a, &new_email("invite-a"), "staff")
        .await
        .json::<Value>()
        .await
        .expect("json")["invitation"]["invitation_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let shop_b = app.signup("Boutique B").await;
    let (staff_b, _) = join(&app, &shop_b, &new_email("staff-b"), "staff").await;
    let unknown = Uuid::new_v4();

    // Act / Assert: B's staff cannot even read B's team
    assert_eq!(
        app.team(&staff_b.token).await.status(),
        StatusCode::FORBIDDEN
    );
    let team_b: Value = app.team(&shop_b.token).await.json().await.expect("json");
    assert!(
        !team_b.to_string().contains("membre-a"),
        "B's team never lists A's people"
    );
    assert!(!team_b.to_string().contains("invite-a"));
    // B's owner, with A's ids, gets exactly what an unknown id gets
    for (method, path, body) in [
        (
            Method::PATCH,
            "/api/v1/team/members/{}",
            Some(json!({"role": "owner"})),
        ),
        (Method::DELETE, "/api/v1/team/members/{}", None),
        (
            Method::POST,
            "/api/v1/team/invitations/{}/resend",
            Some(json!({})),
        ),
        (Method::DELETE, "/api/v1/team/invitations/{}", None),
    ] {
        let theirs = if path.contains("members") {
            member_a.to_string()
        } else {
            invitation_a.clone()
        };
        let foreign = app
            .request(
                method.clone(),
                &path.replace("{}", &theirs),
                Some(&shop_b.token),
                body.clone(),
            )
            .await;
        let missing = app
            .request(
                method.clone(),
                &path.replace("{}", &unknown.to_string()),
                Some(&shop_b.token),
                body,
            )
            .await;
        assert_eq!(foreign.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(
            foreign.text().await.expect("body"),
            missing.text().await.expect("body"),
            "{method} {path}: another shop's id looks like an unknown one"
        );
    }
    let mut browser_b = WebUser::signed_in(&app, &shop_b).await;
    for action in [
        format!("/app/team/members/{member_a}/remove"),
        format!("/app/team/members/{member_a}/role"),
        format!("/app/team/invitations/{invitation_a}/cancel"),
    ] {
        let response = browser_b
            .submit("/app/team", &action, &[("role", "owner")])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {action}");
    }
    let team_a: Value = app.team(&shop_a.token).await.json().await.expect("json");
    assert_eq!(
        team_a["members"].as_array().map(Vec::len),
        Some(2),
        "A's member is still there"
    );
    assert_eq!(team_a["members"][1]["role"], "staff");
    assert_eq!(
        team_a["invitations"].as_array().map(Vec::len),
        Some(1),
        "A's invitation too"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_owner_invites_from_the_team_page_and_sees_members_and_invitations(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let (staff, _) = join(&app, &owner, &new_email("kofi"), "staff").await;
    let mut browser = WebUser::signed_in(&app, &owner).await;
    let email = new_email("ama");

    // Act
    let blank = browser
        .submit(
            "/app/team",
            "/app/team/invitations",
            &[("email", ""), ("role", "staff")],
        )
        .await;
    let blank_status = blank.status();
    let blank = blank.text().await.expect("body");
    let sent = browser
        .submit(
            "/app/team",
            "/app/team/invitations",
            &[("email", &email), ("role", "owner")],
        )
        .await;
    let page = browser.page(&location(&sent)).await;

    // Assert
    assert_eq!(blank_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        blank.contains("Adresse e-mail invalide."),
        "the error sits next to the field"
    );
    assert_eq!(location(&sent), "/app/team?done=invited");
    assert!(page.contains("Invitation envoyée."));
    assert!(
        page.contains(&staff.email) && page.contains("Employé"),
        "the member and their role"
    );
    assert!(
        page.contains(&email) && page.contains("expire le"),
        "the pending invitation"
    );
    assert!(
        page.contains("3 place(s) occupée(s) sur 3"),
        "seats: owner, member, invitation"
    );
    assert!(
        page.contains("Changer de forfait"),
        "a full plan offers to change it"
    );
    assert!(
        mail_link(&app, &email, "/invitation/")
            .await
            .contains("/invitation/")
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_team_and_account_endpoints_are_in_the_openapi_document(pool: PgPool) {
    let app = spawn_app(pool).await;
    let doc: Value = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json()
        .await
        .expect("json");
    for path in [
        "/api/v1/team",
        "/api/v1/team/invitations",
        "/api/v1/team/invitations/{id}",
        "/api/v1/team/invitations/{id}/resend",
        "/api/v1/team/members/{id}",
        "/api/v1/invitations/accept",
        "/api/v1/me/password",
        "/api/v1/auth/password/forgot",
        "/api/v1/auth/password/reset",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
}

/// A mailer whose SMTP server is down and which keeps no outbox, like production's when it fails.
struct DownMailer;

#[async_trait::async_trait]
impl api::mail::Mailer for DownMailer {
    async fn send(&self, _mail: api::mail::Mail) -> anyhow::Result<()> {
        anyhow::bail!("connection refused")
    }
}

/// The API with `mailer` instead of the development one; stops when the sender is dropped.
async fn spawn_with_mailer(
    pool: &PgPool,
    mailer: std::sync::Arc<dyn api::mail::Mailer>,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let db = testkit::db::app_db(pool).await;
    let subjects = testkit::nats::fresh_subjects();
    let nats = testkit::nats::connect().await;
    let tokens = api::auth::TokenKeys::from_secret(b"a test signing key, 32 bytes long", 60);
    let state = api::AppState::new(db, nats, subjects, api::ApiConfig::for_tests(), tokens)
        .with_mailer(mailer);
    let app = api::Application::build(state).await.expect("bind");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (address, stop)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn without_a_dev_outbox_the_page_is_not_found_and_a_failed_email_is_reported(pool: PgPool) {
    // Arrange: a mailer that keeps no outbox (production) and cannot reach its server
    let (address, _stop) = spawn_with_mailer(&pool, std::sync::Arc::new(DownMailer)).await;
    let client = reqwest::Client::new();
    let signup: Value = client
        .post(format!("{address}/api/v1/auth/signup"))
        .json(
            &json!({"business_name": "Friperie Abobo", "email": "awa@example.ci",
                      "password": PASSWORD, "plan": "pro"}),
        )
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("json");
    let token = signup["token"].as_str().expect("token");

    // Act
    let outbox = client
        .get(format!("{address}/app/dev/outbox"))
        .send()
        .await
        .expect("outbox");
    let invited = client
        .post(format!("{address}/api/v1/team/invitations"))
        .bearer_auth(token)
        .json(&json!({"email": "kofi@example.ci"}))
        .send()
        .await
        .expect("invite");
    let invited_status = invited.status();
    let invited: Value = invited.json().await.expect("json");
    let forgot = client
        .post(format!("{address}/api/v1/auth/password/forgot"))
        .json(&json!({"email": "awa@example.ci"}))
        .send()
        .await
        .expect("forgot");

    // Assert
    assert_eq!(
        outbox.status(),
        StatusCode::NOT_FOUND,
        "no outbox page in production"
    );
    assert_eq!(invited_status, StatusCode::CREATED, "the invitation exists");
    assert_eq!(
        invited["email_sent"], false,
        "and the owner is told the e-mail did not leave"
    );
    assert_eq!(
        forgot.status(),
        StatusCode::ACCEPTED,
        "the same answer, whatever happens next"
    );
}
