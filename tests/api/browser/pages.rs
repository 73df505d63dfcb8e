//! Page objects for the dashboard journeys: each screen's element ids and field names live here, so the tests
//! in `dashboard.rs` read as what the shop's owner does ("sign up", "pay with the sandbox", "ask the bot").
//! `Album` takes the screenshot of every screen visited and remembers which ones scroll sideways.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Browser, WAIT};

/// Waits until the JavaScript expression `js` (a `return …` statement) gives a truthy value, and returns that
/// value. Panics after `WAIT` with `what`, the last value and the page's visible text.
pub async fn wait_until(browser: &Browser, what: &str, js: &str) -> Value {
    let found = testkit::poll::within(WAIT, || async {
        let value = browser.script(js).await;
        let truthy = match &value {
            Value::Null | Value::Bool(false) => false,
            Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        truthy.then_some(value)
    })
    .await;
    if let Some(value) = found {
        return value;
    }
    let value = browser.script(js).await;
    let shown = browser
        .script("return document.body ? document.body.innerText : '';")
        .await;
    panic!(
        "waited {WAIT:?} for {what} at {}; last value {value}; the page shows:\n{}",
        browser.current_url().await,
        shown.as_str().unwrap_or_default()
    );
}

/// Spaces as a reader sees them: no-break and narrow no-break spaces become plain spaces.
pub fn plain_spaces(text: &str) -> String {
    text.replace(['\u{a0}', '\u{202f}'], " ")
}

/// `text` as a JavaScript string literal.
fn js_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// Screenshots of the screens a journey visits, and the screens wider than the browser.
pub struct Album<'a> {
    browser: &'a Browser,
    taken: Vec<PathBuf>,
    too_wide: Vec<PathBuf>,
}

impl<'a> Album<'a> {
    pub fn new(browser: &'a Browser) -> Self {
        Album {
            browser,
            taken: Vec::new(),
            too_wide: Vec::new(),
        }
    }

    /// Saves the current screen as `<viewport>-<screen>.png` and checks it does not scroll sideways.
    pub async fn shoot(&mut self, screen: &str) -> PathBuf {
        let path = self.browser.screenshot(screen).await;
        if self.browser.has_horizontal_scroll().await {
            self.too_wide.push(path.clone());
        }
        self.taken.push(path.clone());
        path
    }

    /// The screenshots taken so far, in order.
    pub fn taken(&self) -> &[PathBuf] {
        &self.taken
    }

    /// Panics with every screen that made the user scroll sideways.
    pub fn assert_no_screen_scrolls_sideways(&self) {
        assert!(
            self.too_wide.is_empty(),
            "these screens are wider than the browser (sideways scrolling): {:#?}",
            self.too_wide
        );
    }
}

/// `/signup`: business name, e-mail, password and plan.
pub struct SignupPage<'a>(pub &'a Browser);

impl SignupPage<'_> {
    pub async fn open(&self) {
        self.0.goto("/signup").await;
        self.0.wait_for_text("h1", "Créer ma boutique", WAIT).await;
    }

    /// Fills the form and sends it; a new shop lands in its onboarding.
    pub async fn sign_up(&self, business_name: &str, email: &str, password: &str, plan: &str) {
        self.0.fill("business_name", business_name).await;
        self.0.fill("email", email).await;
        self.0.fill("password", password).await;
        self.0
            .click(&format!("input[name=\"plan\"][value=\"{plan}\"]"))
            .await;
        self.0.submit("#signup-submit").await;
    }
}

/// `/login`.
pub struct LoginPage<'a>(pub &'a Browser);

impl LoginPage<'_> {
    pub async fn log_in(&self, email: &str, password: &str) {
        self.0.goto("/login").await;
        self.0.fill("email", email).await;
        self.0.fill("password", password).await;
        self.0.submit("#login-submit").await;
    }
}

/// `/app/onboarding/*`: plan → pay → WhatsApp → products → bot → "your bot is live".
pub struct Onboarding<'a>(pub &'a Browser);

impl Onboarding<'_> {
    /// Waits for the step whose title contains `title` ("1. Choisissez votre forfait").
    pub async fn at_step(&self, title: &str) {
        self.0.wait_for_text("main h1", title, WAIT).await;
    }

    pub async fn choose_plan(&self, plan: &str) {
        self.0
            .click(&format!(".plans input[name=\"plan\"][value=\"{plan}\"]"))
            .await;
        self.0.submit("#plan-submit").await;
    }

    /// "Pay with the sandbox": leaves the dashboard for the sandbox's payment page.
    pub async fn pay_with_sandbox(&self) {
        self.0.submit("#pay-sandbox").await;
        self.0.wait_for_text("h1", "Paiement test", WAIT).await;
    }

    /// "Link my WhatsApp": waits until the QR code is painted.
    pub async fn connect_whatsapp(&self) {
        self.0.submit("#wa-connect").await;
        wait_until(
            self.0,
            "the QR code",
            "const qr = document.getElementById('wa-qr'); return !!qr && !qr.hidden && !!qr.querySelector('svg');",
        )
        .await;
    }

    /// Sandbox only: the phone "scans" the QR code; waits until the status says linked.
    pub async fn simulate_scan(&self) {
        self.0.submit("#wa-simulate-scan").await;
        self.0.wait_for_text("#wa-status", "Relié", WAIT).await;
    }

    /// The number of products the products step counts.
    pub async fn product_count(&self) -> String {
        self.0.text("#product-count b").await
    }

    /// "Add a product": opens the product form from the products step.
    pub async fn open_product_form(&self) -> ProductForm<'_> {
        self.0.submit("#add-product").await;
        self.0
            .wait_for_text("main h1", "Nouveau produit", WAIT)
            .await;
        ProductForm(self.0)
    }

    /// "Import a CSV file": opens the import page from the products step.
    pub async fn open_import(&self) -> ImportPage<'_> {
        self.0.submit("#import-products").await;
        self.0
            .wait_for_text("main h1", "Importer des produits", WAIT)
            .await;
        ImportPage(self.0)
    }

    /// Names the bot and saves the bot step.
    pub async fn name_bot(&self, name: &str) {
        self.0.fill("bot_name", name).await;
        self.0.submit("#bot-submit").await;
    }

    /// "Continue" / "Skip" under the current step.
    pub async fn next(&self) {
        self.0.submit("#onboarding-next").await;
    }

    /// "Test my bot", on the last step.
    pub async fn open_test_chat(&self) -> TestChat<'_> {
        self.0.submit("#test-bot-link").await;
        self.0
            .wait_for_text("main h1", "Tester mon bot", WAIT)
            .await;
        TestChat(self.0)
    }
}

/// The sandbox's payment page (`/billing/sandbox/{id}`), outside the dashboard.
pub struct SandboxPayment<'a>(pub &'a Browser);

impl SandboxPayment<'_> {
    /// "Approve the payment", then "Back to the dashboard".
    pub async fn approve_and_return(&self) {
        self.0.submit("button.ok").await;
        self.0.wait_for_text("h1", "Paiement accepté", WAIT).await;
        self.0.submit("#back-to-dashboard").await;
    }
}

/// `/app/products/new`.
pub struct ProductForm<'a>(pub &'a Browser);

impl ProductForm<'_> {
    pub async fn fill(&self, name: &str, price_xof: &str, stock: &str) {
        self.0.fill("name", name).await;
        self.0.fill("price_xof", price_xof).await;
        self.0.fill("stock", stock).await;
    }

    pub async fn save(&self) {
        self.0.submit("#product-submit").await;
    }
}

/// `/app/products/import`.
pub struct ImportPage<'a>(pub &'a Browser);

impl ImportPage<'_> {
    /// Checks `csv` without importing ("check only") and returns the report's text.
    pub async fn check_only(&self, csv: &Path) -> String {
        self.0.upload("file", csv).await;
        self.0.check("dry_run").await;
        self.0.submit("#csv-submit").await;
        plain_spaces(&self.0.text("#import-report").await)
    }

    /// Imports `csv`.
    pub async fn import(&self, csv: &Path) {
        self.0.upload("file", csv).await;
        self.0.submit("#csv-submit").await;
    }
}

/// `/app/test`: the owner writes as a customer; the bot's answer arrives live.
pub struct TestChat<'a>(pub &'a Browser);

impl TestChat<'_> {
    /// The bot's messages shown, oldest first (bubble text without its author and time line).
    pub async fn bot_messages(&self) -> Vec<String> {
        let shown = self
            .0
            .script(
                "return Array.from(document.querySelectorAll('#test-transcript .msg-bot')).map(m =>
                     m.querySelector('.body').textContent.trim());",
            )
            .await;
        shown
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(plain_spaces)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends `text` and returns the bot's next answer, as shown in the transcript.
    pub async fn ask(&self, text: &str) -> String {
        let before = self.bot_messages().await.len();
        self.0.fill("text", text).await;
        self.0.click("#test-send").await;
        wait_until(
            self.0,
            &format!("the bot's answer to {text:?}"),
            &format!(
                "return document.querySelectorAll('#test-transcript .msg-bot').length > {before};"
            ),
        )
        .await;
        self.bot_messages()
            .await
            .pop()
            .expect("the bot answered in the transcript")
    }
}

/// `/app/orders` and `/app/orders/{id}`.
pub struct OrdersPage<'a>(pub &'a Browser);

impl OrdersPage<'_> {
    pub async fn open(&self) {
        self.0.goto("/app/orders").await;
        self.0.wait_for_text("main h1", "Commandes", WAIT).await;
    }

    /// Waits for the order `reference` in the list and returns the row's text.
    pub async fn row_of(&self, reference: &str) -> String {
        self.0
            .wait_for_text("#order-list .order-row", reference, WAIT)
            .await;
        let row = self
            .0
            .script(&format!(
                "return Array.from(document.querySelectorAll('#order-list .order-row'))
                     .map(r => r.innerText).find(t => t.includes({})) || '';",
                js_string(reference)
            ))
            .await;
        plain_spaces(row.as_str().unwrap_or_default())
    }

    /// Opens the order `reference` from the list.
    pub async fn open_order(&self, reference: &str) {
        let href = self
            .0
            .script(&format!(
                "const row = Array.from(document.querySelectorAll('#order-list .order-row a'))
                     .find(a => a.innerText.includes({}));
                 return row ? row.getAttribute('href') : '';",
                js_string(reference)
            ))
            .await;
        let href = href.as_str().unwrap_or_default();
        assert!(
            !href.is_empty(),
            "order {reference} is linked from the list"
        );
        self.0
            .submit(&format!("#order-list a[href=\"{href}\"]"))
            .await;
        self.0.wait_for_text("main h1", reference, WAIT).await;
    }

    /// "Confirm", on an order's page.
    pub async fn confirm(&self) {
        self.0.submit("#order-confirmed").await;
    }

    pub async fn status(&self) -> String {
        self.0.text("#order-status").await
    }
}

/// `/app/conversations` and one conversation's page.
pub struct ConversationPage<'a>(pub &'a Browser);

impl ConversationPage<'_> {
    /// Opens the conversations list, then the chat whose row shows `customer`.
    pub async fn open_from_list(&self, customer: &str) {
        self.0.goto("/app/conversations").await;
        self.0
            .wait_for_text("#chat-list .chat-row", customer, WAIT)
            .await;
        let href = self
            .0
            .script(&format!(
                "const row = Array.from(document.querySelectorAll('#chat-list .chat-row a'))
                     .find(a => a.innerText.includes({}));
                 return row ? row.getAttribute('href') : '';",
                js_string(customer)
            ))
            .await;
        let href = href.as_str().unwrap_or_default().to_owned();
        assert!(!href.is_empty(), "{customer}'s chat is in the list");
        self.0
            .submit(&format!("#chat-list a[href=\"{href}\"]"))
            .await;
        self.0.wait_for_text("main h1", customer, WAIT).await;
    }

    /// "Take over": the bot stays silent in this chat.
    pub async fn take_over(&self) {
        self.0.submit("#takeover").await;
        self.0
            .wait_for_text("#paused-badge", "bot en pause", WAIT)
            .await;
    }

    /// Types `text` in "Reply yourself" and sends it; waits until it shows in the transcript as the owner's.
    pub async fn reply(&self, text: &str) {
        self.0.fill("text", text).await;
        self.0.click("#reply-submit").await;
        self.0
            .wait_for_text("#transcript .msg-owner", text, WAIT)
            .await;
    }

    /// The transcript's bubbles of `author` (`customer`, `bot`, `owner`), with their author and time line.
    pub async fn messages_of(&self, author: &str) -> Vec<String> {
        let shown = self
            .0
            .script(&format!(
                "return Array.from(document.querySelectorAll('#transcript .msg-' + {})).map(m => m.innerText);",
                js_string(author)
            ))
            .await;
        shown
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(plain_spaces)
                    .collect()
            })
            .unwrap_or_default()
    }
}
