//! The harness itself, against a tiny local site whose answers are known to the byte: form helpers reach the
//! server, viewports have the promised size, sideways scrolling is caught and page weight adds up.

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use super::{Browser, Viewport, WAIT};

const HEAD: &str = r#"<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Essai</title>"#;

fn form_page() -> String {
    format!(
        r#"{HEAD}</head><body><h1>Nouveau produit</h1>
<form method="post" action="/form">
<input name="shop" value="ancien nom"> <textarea name="note"></textarea>
<select name="city"><option value="abidjan">Abidjan</option><option value="bouake">Bouaké</option></select>
<label><input type="checkbox" name="delivery" value="oui"> Livraison</label>
<input type="file" name="photo"> <button type="submit">Enregistrer</button>
</form>
<button id="show-help" type="button" onclick="document.getElementById('help').textContent='Le nom de votre boutique'">Aide</button>
<p id="help"></p></body></html>"#
    )
}

/// A page 600 px wide: too wide for a phone.
fn wide_page() -> String {
    format!(r#"{HEAD}</head><body><div style="width:600px">Tableau trop large</div></body></html>"#)
}

/// A page that loads one stylesheet of `STYLESHEET_BYTES`.
fn styled_page() -> String {
    format!(
        r#"{HEAD}<link rel="stylesheet" href="/style.css"></head><body><p>Bonjour</p></body></html>"#
    )
}

const STYLESHEET_BYTES: usize = 20_000;

fn stylesheet() -> String {
    let rule = "p{color:#123456}\n";
    let mut css = rule.repeat(STYLESHEET_BYTES / rule.len());
    css.push_str(&" ".repeat(STYLESHEET_BYTES - css.len()));
    css
}

/// Echoes the posted fields and the `Cookie` header, one `name=value` a line.
async fn echo(
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Html<String> {
    let mut lines: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default();
    lines.push(format!("cookie={cookies}"));
    let escaped = lines.join("\n").replace('&', "&amp;").replace('<', "&lt;");
    Html(format!(
        r#"{HEAD}</head><body><h1>Reçu</h1><pre id="echo">{escaped}</pre></body></html>"#
    ))
}

/// The site on a random loopback port; returns its base URL.
async fn serve_test_site() -> String {
    let router = Router::new()
        .route(
            "/form",
            get(|| async {
                (
                    [(
                        header::SET_COOKIE,
                        "visit=1; Path=/; HttpOnly; SameSite=Lax",
                    )],
                    Html(form_page()),
                )
                    .into_response()
            })
            .post(echo),
        )
        .route("/wide", get(|| async { Html(wide_page()) }))
        .route("/styled", get(|| async { Html(styled_page()) }))
        .route(
            "/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], stylesheet()) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

#[tokio::test]
async fn a_form_filled_in_a_phone_browser_reaches_the_server_with_every_field() {
    // Arrange
    let site = serve_test_site().await;
    let files = tempfile::tempdir().expect("temp dir");
    let photo = files.path().join("boubou.jpg");
    std::fs::write(&photo, b"not really a jpeg").expect("photo");
    let browser = Browser::start(Viewport::Phone).await.with_base_url(&site);
    browser.goto("/form").await;

    // Act
    browser.fill("shop", "Friperie Abobo").await;
    browser.fill("note", "Livraison à Cocody").await;
    browser.select("city", "bouake").await;
    browser.check("delivery").await;
    browser.upload("photo", &photo).await;
    browser.set_cookie("theme", "sombre").await;
    browser.click("#show-help").await;
    browser
        .wait_for_text("#help", "Le nom de votre boutique", WAIT)
        .await;
    browser.submit("form button[type=submit]").await;

    // Assert
    browser.wait_for_text("h1", "Reçu", WAIT).await;
    let echo = browser.text("#echo").await;
    for expected in [
        "shop=Friperie Abobo",
        "note=Livraison à Cocody",
        "city=bouake",
        "delivery=oui",
        "photo=boubou.jpg",
    ] {
        assert!(
            echo.lines().any(|l| l == expected),
            "{expected:?} posted, got:\n{echo}"
        );
    }
    let cookie_line = echo
        .lines()
        .find(|l| l.starts_with("cookie="))
        .unwrap_or_default();
    assert!(
        cookie_line.contains("visit=1") && cookie_line.contains("theme=sombre"),
        "the server's and the test's cookies are sent back: {cookie_line}"
    );
    assert_eq!(browser.current_path().await, "/form");
    let visit = browser.cookie("visit").await.expect("the visit cookie");
    assert_eq!((visit.value(), visit.http_only()), ("1", Some(true)));
    browser.delete_all_cookies().await;
    assert!(browser.cookie("visit").await.is_none(), "cookies deleted");
    browser.close().await;
}

#[tokio::test]
async fn a_phone_browser_is_360_css_pixels_wide_and_catches_sideways_scrolling() {
    // Arrange
    let site = serve_test_site().await;
    let browser = Browser::start(Viewport::Phone).await.with_base_url(&site);

    // Act
    browser.goto("/form").await;
    let width = browser.script("return window.innerWidth;").await;
    let form_scrolls = browser.has_horizontal_scroll().await;
    browser.goto("/wide").await;
    let wide_scrolls = browser.has_horizontal_scroll().await;
    browser.screenshot("harness-wide-page").await;

    // Assert
    assert_eq!(width, 360, "CSS pixels");
    assert!(!form_scrolls, "the form fits the phone");
    assert!(wide_scrolls, "a 600 px block makes a phone scroll sideways");
    browser.close().await;
}

#[tokio::test]
async fn a_desktop_browser_is_1280_by_800_and_weighs_the_page_with_its_stylesheet() {
    // Arrange
    let site = serve_test_site().await;
    let browser = Browser::start(Viewport::Desktop).await.with_base_url(&site);

    // Act
    browser.goto("/styled").await;
    let size = browser
        .script("return [window.innerWidth, window.innerHeight];")
        .await;
    let weight = browser.page_weight_bytes().await;
    browser.goto("/styled").await;
    let weight_again = browser.page_weight_bytes().await;

    // Assert
    assert_eq!(size, serde_json::json!([1280, 800]), "CSS pixels");
    assert_eq!(
        weight,
        (styled_page().len() + STYLESHEET_BYTES) as u64,
        "the document and its stylesheet"
    );
    assert_eq!(
        weight_again, weight,
        "the same on a second visit (stylesheet cached)"
    );
    browser.close().await;
}
