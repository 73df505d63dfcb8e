//! Passwords: changing one (asks the current one, ends the other sessions and every API token), "forgot
//! password" (the same answer whether or not the account exists, rate-limited), and the e-mailed reset link
//! (read from the development outbox): it works once, expires, and ends every sign-in of the account.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Shop, TestApp, spawn_app, spawn_app_with};
use crate::team::{PASSWORD, mail_link, mails_to, new_email, token_of};
use crate::web_support::{WebUser, csrf_of, location};

const NEW_PASSWORD: &str = "nouveau-mot-de-passe";

/// Asks for a reset link through the "forgot password" page and returns the e-mailed link.
async fn reset_link_by_the_forgot_page(app: &TestApp, email: &str) -> String {
    let mut visitor = WebUser::new(app);
    let page = visitor.page("/password/forgot").await;
    let sent = visitor
        .post(
            "/password/forgot",
            &[("_csrf", csrf_of(&page).as_str()), ("email", email)],
        )
        .await;
    assert_eq!(location(&sent), "/password/forgot?done=sent");
    mail_link(app, email, "/password/reset/").await
}

async fn roomy_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |c| c.auth_rate_per_minute = 1000).await
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn changing_the_password_keeps_this_browser_and_ends_other_sessions_and_every_token(
    pool: PgPool,
) {
    // Arrange: the owner is signed in on two phones and has an API token
    let app = roomy_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let mut this_phone = WebUser::signed_in(&app, &shop).await;
    let mut other_phone = WebUser::signed_in(&app, &shop).await;

    // Act
    let wrong = this_phone
        .submit(
            "/app/account/password",
            "/app/account/password",
            &[
                ("current_password", "pas-le-bon"),
                ("new_password", "court"),
            ],
        )
        .await;
    let wrong_status = wrong.status();
    let wrong = wrong.text().await.expect("body");
    let changed = this_phone
        .submit(
            "/app/account/password",
            "/app/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;

    // Assert
    assert_eq!(wrong_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.contains("Mot de passe actuel incorrect."));
    assert!(wrong.contains("Le mot de passe doit contenir au moins 8 caractères."));
    assert_eq!(location(&changed), "/app/account/password?done=changed");
    let after = this_phone.page("/app/account/password?done=changed").await;
    assert!(
        after.contains("Mot de passe changé."),
        "this browser stays signed in"
    );
    assert_eq!(
        location(&other_phone.get("/app").await),
        "/login",
        "the other phone is signed out"
    );
    assert_eq!(
        app.me(&shop.token).await.status(),
        StatusCode::UNAUTHORIZED,
        "the old API token stopped working"
    );
    assert_eq!(
        app.login(&shop.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&shop.email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert!(
        app.audit_actions(shop.tenant_id)
            .await
            .contains(&"user.password_changed".to_owned())
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn changing_the_password_over_rest_answers_a_fresh_token_and_revokes_the_old_one(
    pool: PgPool,
) {
    // Arrange
    let app = roomy_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;

    // Act
    let wrong = app
        .change_password(
            &shop.token,
            json!({"current_password": "pas-le-bon", "new_password": NEW_PASSWORD}),
        )
        .await;
    let too_long = app
        .change_password(
            &shop.token,
            json!({"current_password": PASSWORD, "new_password": "x".repeat(129)}),
        )
        .await;
    let changed = app
        .change_password(
            &shop.token,
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    let changed_status = changed.status();
    let fresh: Value = changed.json().await.expect("json");

    // Assert
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        wrong.json::<Value>().await.expect("json")["error"]["fields"][0],
        json!({"field": "current_password", "message": "Mot de passe actuel incorrect."})
    );
    assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(changed_status, StatusCode::OK);
    assert_eq!(app.me(&shop.token).await.status(), StatusCode::UNAUTHORIZED);
    let token = fresh["token"].as_str().expect("fresh token");
    assert_eq!(app.me(token).await.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn forgot_password_answers_the_same_whether_or_not_the_account_exists(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let nobody = new_email("personne");

    // Act
    let known = app.forgot_password(&shop.email).await;
    let unknown = app.forgot_password(&nobody).await;
    let (known_status, unknown_status) = (known.status(), unknown.status());
    let (known, unknown) = (
        known.text().await.expect("body"),
        unknown.text().await.expect("body"),
    );
    let link = mail_link(&app, &shop.email, "/password/reset/").await;
    let mut visitor = WebUser::new(&app);
    let page = visitor.page("/password/forgot").await;
    let mut answers = Vec::new();
    for email in [shop.email.as_str(), nobody.as_str()] {
        let response = visitor
            .post(
                "/password/forgot",
                &[("_csrf", csrf_of(&page).as_str()), ("email", email)],
            )
            .await;
        answers.push((response.status(), location(&response)));
    }

    // Assert
    assert_eq!(known_status, StatusCode::ACCEPTED);
    assert_eq!(
        (unknown_status, &unknown),
        (known_status, &known),
        "no account enumeration"
    );
    assert!(
        known.contains("Si un compte existe pour cette adresse"),
        "{known}"
    );
    assert!(link.contains("/password/reset/"));
    assert_eq!(answers[0], answers[1], "the page answers the same too");
    assert_eq!(answers[0].1, "/password/forgot?done=sent");
    assert_eq!(
        mails_to(&app, &nobody).await,
        0,
        "nothing sent to an unknown address"
    );
    let sent = visitor.page("/password/forgot?done=sent").await;
    assert!(sent.contains("Le lien est valable 1 heure."));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn forgot_password_is_rate_limited_per_client_address(pool: PgPool) {
    // Arrange: 3 attempts a minute
    let app = spawn_app_with(pool, |c| c.auth_rate_per_minute = 3).await;

    // Act
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.forgot_password("quelqu-un@example.ci").await.status());
    }

    // Assert
    assert_eq!(
        statuses,
        [
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

/// A shop owner signed in on a phone, with an API token, then a reset link from the forgot page.
async fn owner_with_sessions_and_a_reset_link(app: &TestApp) -> (Shop, WebUser<'_>, String) {
    let shop = app.signup("Friperie Abobo").await;
    let phone = WebUser::signed_in(app, &shop).await;
    assert_eq!(app.me(&shop.token).await.status(), StatusCode::OK);
    let link = reset_link_by_the_forgot_page(app, &shop.email).await;
    (shop, phone, link)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_reset_link_works_once_then_the_old_password_sessions_and_tokens_are_refused(
    pool: PgPool,
) {
    // Arrange
    let app = roomy_app(pool).await;
    let (shop, mut phone, link) = owner_with_sessions_and_a_reset_link(&app).await;
    let path = link.trim_start_matches(&app.address).to_owned();
    let mut visitor = WebUser::new(&app);

    // Act
    let page = visitor.get(&path).await;
    let referrer = page
        .headers()
        .get("referrer-policy")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let page = page.text().await.expect("body");
    let token = csrf_of(&page);
    let short = visitor
        .post(&path, &[("_csrf", token.as_str()), ("password", "court")])
        .await;
    let short_status = short.status();
    let reset = visitor
        .post(
            &path,
            &[("_csrf", token.as_str()), ("password", NEW_PASSWORD)],
        )
        .await;
    let again = visitor.get(&path).await;
    let again_status = again.status();
    let again = again.text().await.expect("body");
    let replay = app
        .reset_password(json!({"token": token_of(&link), "password": "encore-un-autre"}))
        .await;

    // Assert
    assert_eq!(
        referrer.as_deref(),
        Some("no-referrer"),
        "the link never leaks in a Referer"
    );
    assert_eq!(
        short_status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a short password keeps the link usable"
    );
    assert_eq!(location(&reset), "/login?next=reset");
    assert_eq!(
        app.login(&shop.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED,
        "old password"
    );
    assert_eq!(
        app.login(&shop.email, NEW_PASSWORD).await.status(),
        StatusCode::OK,
        "new password"
    );
    assert_eq!(
        location(&phone.get("/app").await),
        "/login",
        "old browser session refused"
    );
    assert_eq!(
        app.me(&shop.token).await.status(),
        StatusCode::UNAUTHORIZED,
        "old API token refused"
    );
    assert_eq!(again_status, StatusCode::NOT_FOUND, "the link works once");
    assert!(again.contains("plus valable (déjà utilisé, expiré ou inconnu)"));
    assert_eq!(replay.status(), StatusCode::NOT_FOUND);
    assert!(
        app.audit_actions(shop.tenant_id)
            .await
            .contains(&"user.password_reset".to_owned())
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_expired_reset_link_is_refused_exactly_like_an_unknown_one(pool: PgPool) {
    // Arrange: the link's hour is over (set as the superuser)
    let app = roomy_app(pool).await;
    let (shop, _, link) = owner_with_sessions_and_a_reset_link(&app).await;
    sqlx::query(
        "update password_reset set expires_at = now() - interval '1 second' where tenant_id = $1",
    )
    .bind(shop.tenant_id)
    .execute(&app.admin_db)
    .await
    .expect("expire the link");
    let unknown = format!("{}/password/reset/{}", app.address, "A".repeat(43));

    // Act
    let expired = reqwest::get(&link).await.expect("page");
    let (expired_status, expired) = (expired.status(), expired.text().await.expect("body"));
    let missing = reqwest::get(&unknown).await.expect("page");
    let (missing_status, missing) = (missing.status(), missing.text().await.expect("body"));
    let used_over_rest = app
        .reset_password(json!({"token": token_of(&link), "password": NEW_PASSWORD}))
        .await;

    // Assert
    assert_eq!(expired_status, StatusCode::NOT_FOUND);
    assert_eq!(
        (missing_status, &missing),
        (expired_status, &expired),
        "one answer for both"
    );
    assert_eq!(used_over_rest.status(), StatusCode::NOT_FOUND);
    let message = used_over_rest.json::<Value>().await.expect("json")["error"]["message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("n'est plus valable")),
        "{message}"
    );
    assert_eq!(
        app.login(&shop.email, PASSWORD).await.status(),
        StatusCode::OK,
        "nothing changed"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_member_resets_over_rest_and_a_newer_link_spends_the_older_one(pool: PgPool) {
    // Arrange
    let app = roomy_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    app.forgot_password(&shop.email).await;
    let first = mail_link(&app, &shop.email, "/password/reset/").await;
    app.forgot_password(&shop.email).await;
    testkit::eventually(
        std::time::Duration::from_secs(10),
        "second reset e-mail",
        || async { mails_to(&app, &shop.email).await >= 2 },
    )
    .await;
    let second = mail_link(&app, &shop.email, "/password/reset/").await;

    // Act
    let reset = app
        .reset_password(json!({"token": token_of(&second), "password": NEW_PASSWORD}))
        .await;
    let older = reqwest::get(&first).await.expect("page");

    // Assert
    assert_ne!(first, second);
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        older.status(),
        StatusCode::NOT_FOUND,
        "the older link is spent too"
    );
    assert_eq!(
        app.login(&shop.email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_login_page_offers_a_forgotten_password_link(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut visitor = WebUser::new(&app);
    let login = visitor.page("/login").await;
    assert!(login.contains("href=\"/password/forgot\""));
    assert!(login.contains("Mot de passe oublié ?"));
}
