//! Working as a team in a real phone browser: the owner invites someone from the team page, the new member
//! opens the link from the development outbox, chooses a password and lands on the dashboard, without the
//! owner-only entries.

use sqlx::PgPool;

use super::{Browser, Viewport, WAIT};
use crate::helpers::spawn_app;

const MEMBER: &str = "kofi@example.ci";

async fn links_to(browser: &Browser, href: &str) -> u64 {
    browser
        .script(&format!(
            "return document.querySelectorAll('a[href=\"{href}\"]').length;"
        ))
        .await
        .as_u64()
        .unwrap_or(u64::MAX)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_owner_invites_a_member_who_joins_from_the_emailed_link_and_sees_no_billing(
    pool: PgPool,
) {
    // Arrange: the owner of a Pro shop signs in on a phone
    let app = spawn_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let (owner_phone, member_phone) =
        tokio::join!(app.browser(Viewport::Phone), app.browser(Viewport::Phone));
    owner_phone.goto("/login").await;
    owner_phone.fill("email", &owner.email).await;
    owner_phone.fill("password", "motdepasse-solide").await;
    owner_phone.submit("#login-submit").await;
    owner_phone.goto("/app/more").await;
    let owner_sees_team = links_to(&owner_phone, "/app/team").await;

    // Act: the owner invites Kofi as staff
    owner_phone.goto("/app/team").await;
    owner_phone.wait_for_text("h1", "Équipe", WAIT).await;
    owner_phone.fill("email", MEMBER).await;
    owner_phone.select("role", "staff").await;
    owner_phone
        .submit("form[action=\"/app/team/invitations\"]")
        .await;
    owner_phone
        .wait_for_text(".flash", "Invitation envoyée.", WAIT)
        .await;
    owner_phone
        .wait_for_text("#team-invitations", MEMBER, WAIT)
        .await;
    owner_phone.screenshot("team-invitation-sent").await;
    let team_scrolls = owner_phone.has_horizontal_scroll().await;
    let team_weight = owner_phone.page_weight_bytes().await;

    // Act: Kofi opens the link from the e-mail (the dev outbox), chooses a password and joins
    member_phone.goto("/app/dev/outbox").await;
    let link = member_phone
        .script(&format!(
            "return document.querySelector('article.mail[data-to=\"{MEMBER}\"] a.mail-link').href;"
        ))
        .await;
    let link = link
        .as_str()
        .expect("an invitation link in the outbox")
        .to_owned();
    member_phone.goto(&link).await;
    member_phone
        .wait_for_text("h1", "Rejoindre l'équipe", WAIT)
        .await;
    let shop_named = member_phone.text("#invitation-shop").await;
    member_phone.screenshot("invitation").await;
    let invitation_scrolls = member_phone.has_horizontal_scroll().await;
    let invitation_weight = member_phone.page_weight_bytes().await;
    member_phone.fill("password", "mon-mot-de-passe").await;
    member_phone.submit("form").await;
    member_phone
        .wait_for_text("h1", "Tableau de bord", WAIT)
        .await;
    let landed_on = member_phone.current_path().await;
    let billing_on_home = links_to(&member_phone, "/app/billing").await;
    member_phone.goto("/app/more").await;
    member_phone.screenshot("more-as-staff").await;
    let billing_in_menu = links_to(&member_phone, "/app/billing").await;
    let team_in_menu = links_to(&member_phone, "/app/team").await;
    member_phone.goto("/app/billing").await;
    let billing_page = member_phone.text("h1").await;

    // Assert
    assert!(owner_sees_team >= 1, "the owner's menu has the team");
    assert!(!team_scrolls, "the team page fits a 360 px screen");
    assert!(
        !invitation_scrolls,
        "the invitation page fits a 360 px screen"
    );
    for (page, bytes) in [("team", team_weight), ("invitation", invitation_weight)] {
        println!("{page} page with its assets: {bytes} bytes");
        assert!(
            bytes < 100_000,
            "the {page} page weighs {bytes} bytes with its assets"
        );
    }
    assert!(shop_named.contains("Friperie Abobo"), "{shop_named}");
    assert_eq!(landed_on, "/app", "signed in on the dashboard");
    assert_eq!(billing_on_home, 0, "no billing entry for staff");
    assert_eq!(billing_in_menu, 0, "nor in the menu");
    assert_eq!(team_in_menu, 0, "nor the team");
    assert_eq!(billing_page, "Accès refusé");
    owner_phone.goto("/app/team").await;
    owner_phone
        .wait_for_text("#team-members", MEMBER, WAIT)
        .await;
    owner_phone.screenshot("team-with-member").await;
    owner_phone.close().await;
    member_phone.close().await;
}
