//! Browser tests: Debian's headless `chromium`, driven through `chromedriver` (WebDriver) by fantoccini, against
//! the real API on a random port with a fresh database (`spawn_app`).
//!
//! `Browser` owns one chromedriver and its Chromium (killed on drop, even when a test panics) and offers the
//! few verbs the page tests need: `goto`, `fill`, `select`, `check`, `upload`, `click`, `submit`, `text`,
//! `wait_for_text`, … Every helper panics with the viewport, the current URL and the page's visible text, so a
//! failing test says what the user would have seen. Tests may run in parallel: each browser has its own
//! chromedriver (on a port it picks itself) and its own fresh profile.
//!
//! Needs `/usr/bin/chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`, installed by
//! `.ci/run`). Run only these tests with `cargo test --all-features --test api browser::`.

mod admin;
mod dashboard;
mod driver;
mod harness;
mod media;
mod pages;
mod payments;
mod sandbox_payment;
mod team;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::cookies::Cookie;
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use driver::Driver;

/// Debian's Chromium (a launcher script that runs `/usr/lib/chromium/chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

/// The flags of every browser (plus a fresh `--user-data-dir`).
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// How long one attempt at opening a WebDriver session (that is, launching Chromium) may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(90);
/// Chromium very rarely fails to launch on a loaded machine; a fresh chromedriver and profile then gets a new try.
const SESSION_ATTEMPTS: u32 = 3;
/// How long element look-ups wait for the element to appear, and a good default for `wait_for_text`.
pub const WAIT: Duration = Duration::from_secs(20);
/// How long `goto` and `submit` wait for the page to load.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times a click looks an element up again after a live refresh replaced it.
const STALE_RETRIES: u32 = 3;
/// Full-page screenshots stop at this height (CSS pixels).
const MAX_SCREENSHOT_HEIGHT: f64 = 8000.0;

/// The screen the page is shown on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// A small Android phone: 360 × 780 CSS px, device pixel ratio 2, touch events, mobile viewport rules
    /// (chromedriver's `mobileEmulation`, so `<meta name="viewport">` is honoured as on a real phone; the user
    /// agent stays Chromium's own).
    Phone,
    /// A laptop browser window: 1280 × 800 CSS px.
    Desktop,
}

impl Viewport {
    /// `phone` or `desktop`: the prefix of screenshot file names.
    pub fn name(self) -> &'static str {
        match self {
            Viewport::Phone => "phone",
            Viewport::Desktop => "desktop",
        }
    }
}

/// A headless Chromium at one viewport, with its own chromedriver and fresh profile.
pub struct Browser {
    client: Client,
    viewport: Viewport,
    /// What `goto` paths are relative to (the app's `http://127.0.0.1:port`).
    base_url: Option<String>,
    /// Dropped last: kills chromedriver and Chromium, then deletes the profile.
    driver: Driver,
}

impl TestApp {
    /// A headless Chromium whose `goto` paths are relative to this app.
    pub async fn browser(&self, viewport: Viewport) -> Browser {
        Browser::start(viewport).await.with_base_url(&self.address)
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a Chromium session at `viewport`.
    ///
    /// Panics if Chromium or chromedriver is missing (`.ci/run` installs them) or does not start.
    pub async fn start(viewport: Viewport) -> Browser {
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} not found: the browser tests need Debian's `chromium` and `chromium-driver` packages, \
             which `.ci/run` installs (or: apt-get install chromium chromium-driver)"
        );
        let mut failures = Vec::new();
        for attempt in 1..=SESSION_ATTEMPTS {
            let driver = Driver::start().await;
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(capabilities(viewport, &driver.profile_dir()));
            match tokio::time::timeout(SESSION_TIMEOUT, builder.connect(&driver.url)).await {
                Ok(Ok(client)) => {
                    return Browser {
                        client,
                        viewport,
                        base_url: None,
                        driver,
                    };
                }
                Ok(Err(e)) => {
                    failures.push(format!("attempt {attempt}: {e}\n{}", driver.log_tail()))
                }
                Err(_) => failures.push(format!(
                    "attempt {attempt}: no session after {SESSION_TIMEOUT:?}\n{}",
                    driver.log_tail()
                )),
            }
        }
        panic!(
            "headless Chromium did not start through chromedriver ({} attempts):\n{}",
            SESSION_ATTEMPTS,
            failures.join("\n")
        );
    }

    /// Makes `goto` paths relative to `base_url` (e.g. `http://127.0.0.1:4321`).
    pub fn with_base_url(mut self, base_url: &str) -> Browser {
        self.base_url = Some(base_url.trim_end_matches('/').to_owned());
        self
    }

    /// Ends the WebDriver session (Chromium quits), then stops chromedriver. Dropping a `Browser` kills both
    /// instead, which is what happens when a test panics.
    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        if let Err(e) = client.close().await {
            panic!("closing the browser session: {e}\n{}", driver.log_tail());
        }
        drop(driver);
    }

    /// Opens `path` (`/billing/return`), relative to the base URL, and waits for the page to load. Absolute
    /// `http(s):` and `data:` URLs are opened as they are.
    pub async fn goto(&self, path: &str) {
        let url = self.url_for(path);
        let opened = tokio::time::timeout(PAGE_LOAD_TIMEOUT, self.client.goto(&url)).await;
        match opened {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{}", self.failure(&format!("cannot open {url}: {e}")).await),
            Err(_) => {
                panic!(
                    "{}",
                    self.failure(&format!("{url} did not load within {PAGE_LOAD_TIMEOUT:?}"))
                        .await
                )
            }
        }
    }

    /// Types `value` into the form field named `field_name` (an `input` or `textarea`), replacing its content.
    pub async fn fill(&self, field_name: &str, value: &str) {
        let field = self.find(&by_name("", field_name)).await;
        if let Err(e) = field.clear().await {
            panic!(
                "{}",
                self.failure(&format!("cannot clear field `{field_name}`: {e}"))
                    .await
            )
        }
        if let Err(e) = field.send_keys(value).await {
            panic!(
                "{}",
                self.failure(&format!("cannot type into field `{field_name}`: {e}"))
                    .await
            )
        }
    }

    /// Chooses the option whose `value` is `value` in the `<select name=…>`.
    pub async fn select(&self, name: &str, value: &str) {
        let select = self.find(&by_name("select", name)).await;
        if let Err(e) = select.select_by_value(value).await {
            panic!(
                "{}",
                self.failure(&format!("select `{name}` has no option {value:?}: {e}"))
                    .await
            )
        }
    }

    /// Ticks the checkbox (or radio button) named `name`, unless it already is.
    pub async fn check(&self, name: &str) {
        let input = self.find(&by_name("input", name)).await;
        let checked = input.is_selected().await.unwrap_or(false);
        if !checked && let Err(e) = input.click().await {
            panic!(
                "{}",
                self.failure(&format!("cannot tick `{name}`: {e}")).await
            )
        }
    }

    /// Chooses the local file `path` in the `<input type="file" name=…>`.
    pub async fn upload(&self, name: &str, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let absolute = path
            .canonicalize()
            .unwrap_or_else(|e| panic!("file to upload {}: {e}", path.display()));
        let input = self.find(&by_name("input[type=\"file\"]", name)).await;
        if let Err(e) = input.send_keys(&absolute.to_string_lossy()).await {
            panic!(
                "{}",
                self.failure(&format!(
                    "cannot choose {} in `{name}`: {e}",
                    absolute.display()
                ))
                .await
            )
        }
    }

    /// Clicks the element matching `css` (waiting for it to appear, then scrolling it to the middle of the
    /// screen). Does not wait for what follows: use
    /// `submit` for a click that loads a new page, `wait_for_text` for one that changes this page.
    pub async fn click(&self, css: &str) {
        if let Err(e) = self.press(css).await {
            panic!(
                "{}",
                self.failure(&format!("cannot click `{css}`: {e}")).await
            )
        }
    }

    /// Submits a form and waits for the page that answers it (a redirect, or the form re-rendered with its
    /// errors). `css` selects either the submit button to press or the `<form>` itself.
    pub async fn submit(&self, css: &str) {
        let element = self.find(css).await;
        // A marker on the current document: it is gone once the browser has loaded the next one.
        if let Err(e) = self
            .client
            .execute("window.__tdjaasaOldPage = true;", vec![])
            .await
        {
            panic!(
                "{}",
                self.failure(&format!("cannot mark the page before submitting: {e}"))
                    .await
            )
        }
        let is_form = element
            .tag_name()
            .await
            .is_ok_and(|tag| tag.eq_ignore_ascii_case("form"));
        let submitted = if is_form {
            let form = serde_json::to_value(&element).unwrap_or(Value::Null);
            self.client
                .execute("arguments[0].requestSubmit();", vec![form])
                .await
                .map(drop)
        } else {
            self.press(css).await
        };
        if let Err(e) = submitted {
            panic!(
                "{}",
                self.failure(&format!("cannot submit with `{css}`: {e}"))
                    .await
            )
        }
        let deadline = Instant::now() + PAGE_LOAD_TIMEOUT;
        loop {
            // While the next page loads, scripts may fail ("no such execution context"): not loaded yet.
            let loaded = self
                .client
                .execute(
                    "return window.__tdjaasaOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}",
                    self.failure(&format!(
                        "submitting with `{css}` loaded no new page within {PAGE_LOAD_TIMEOUT:?} (an empty \
                     `required` field or an invalid value stops the browser from sending the form)"
                    ))
                    .await
                )
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the first element matching `css` (waiting for it to appear).
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        match element.text().await {
            Ok(text) => text,
            Err(e) => panic!(
                "{}",
                self.failure(&format!("cannot read the text of `{css}`: {e}"))
                    .await
            ),
        }
    }

    /// Waits until an element matching `css` shows `needle` in its visible text. Polls; panics after
    /// `timeout` (`WAIT` is a good default) with the URL and what the page shows.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            seen.clear();
            if let Ok(elements) = self.client.find_all(Locator::Css(css)).await {
                for element in elements {
                    // An element replaced meanwhile is stale: skip it, the next round finds its successor.
                    if let Ok(text) = element.text().await {
                        if text.contains(needle) {
                            return;
                        }
                        seen.push(text);
                    }
                }
            }
            if Instant::now() > deadline {
                panic!("{}", self.failure(&format!(
                    "waited {timeout:?} for `{css}` to show {needle:?}; matching elements show {seen:?}"
                )).await)
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The current URL's path (`/billing/sandbox/…/approve`), without query string.
    pub async fn current_path(&self) -> String {
        self.current_url().await.path().to_owned()
    }

    /// The current URL.
    pub async fn current_url(&self) -> url::Url {
        match self.client.current_url().await {
            Ok(url) => url,
            Err(e) => panic!(
                "[{}] cannot read the current URL: {e}",
                self.viewport.name()
            ),
        }
    }

    /// Whether the page is wider than the screen, i.e. the user has to scroll sideways:
    /// `document.documentElement.scrollWidth > document.documentElement.clientWidth`. (Not `window.innerWidth`:
    /// on a phone the browser widens the layout viewport to the content, so `innerWidth` grows with the page
    /// and the comparison never fires; `clientWidth` stays the screen's 360 px.)
    pub async fn has_horizontal_scroll(&self) -> bool {
        let wider = self
            .script(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
            )
            .await;
        wider
            .as_bool()
            .unwrap_or_else(|| panic!("not a boolean: {wider}"))
    }

    /// What the current page weighs, in bytes: the sum of `encodedBodySize` over the Performance API's
    /// navigation and resource entries, that is the bodies of the document and of every stylesheet, script,
    /// image, font and fetch it loaded so far, as sent on the wire (after any `Content-Encoding`, without
    /// headers). Unlike `transferSize` it does not drop to 0 for a resource served from the browser's cache, so
    /// the figure is what a first visit downloads, whatever was visited before. `data:` URLs and inline content
    /// count as part of the document that holds them.
    pub async fn page_weight_bytes(&self) -> u64 {
        let bytes = self
            .script(
                "return performance.getEntriesByType('navigation')
                     .concat(performance.getEntriesByType('resource'))
                     .reduce((sum, entry) => sum + (entry.encodedBodySize || 0), 0);",
            )
            .await;
        bytes
            .as_u64()
            .or_else(|| bytes.as_f64().map(|b| b as u64))
            .unwrap_or_else(|| panic!("not a byte count: {bytes}"))
    }

    /// Runs JavaScript in the page (`return …` gives the value back).
    pub async fn script(&self, js: &str) -> Value {
        match self.client.execute(js, vec![]).await {
            Ok(value) => value,
            Err(e) => panic!(
                "{}",
                self.failure(&format!("script failed: {e}\n{js}")).await
            ),
        }
    }

    /// The cookie `name` as the browser holds it for the current page (value, flags), if any.
    pub async fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        match self.client.get_all_cookies().await {
            Ok(cookies) => cookies.into_iter().find(|c| c.name() == name),
            Err(e) => panic!("[{}] cannot read cookies: {e}", self.viewport.name()),
        }
    }

    /// Sets the cookie `name=value` (path `/`, `SameSite=Lax`) for the current page's host.
    pub async fn set_cookie(&self, name: &str, value: &str) {
        // Chromedriver wants the domain spelled out, and fantoccini would send `SameSite=None` (refused
        // without `Secure`) if none were set.
        let host = self
            .current_url()
            .await
            .host_str()
            .unwrap_or_default()
            .to_owned();
        let cookie = Cookie::parse(format!(
            "{name}={value}; Path=/; SameSite=Lax; Domain={host}"
        ))
        .unwrap_or_else(|e| panic!("cookie {name}={value}: {e}"));
        if let Err(e) = self.client.add_cookie(cookie).await {
            panic!(
                "{}",
                self.failure(&format!("cannot set cookie {name}: {e}"))
                    .await
            )
        }
    }

    /// Forgets every cookie of the current page's site (a logged-out visitor).
    pub async fn delete_all_cookies(&self) {
        if let Err(e) = self.client.delete_all_cookies().await {
            panic!(
                "{}",
                self.failure(&format!("cannot delete cookies: {e}")).await
            )
        }
    }

    /// Saves a PNG of the whole page (not only the part on screen) as `<viewport>-<name>.png` in this test
    /// run's screenshot folder (see `screenshot_dir`), and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = match self.full_page_png().await {
            Ok(png) => png,
            // The visible part only, through plain WebDriver.
            Err(_) => match self.client.screenshot().await {
                Ok(png) => png,
                Err(e) => panic!(
                    "{}",
                    self.failure(&format!("cannot take screenshot {name}: {e}"))
                        .await
                ),
            },
        };
        let file_name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let path = screenshot_dir().join(format!("{}-{file_name}.png", self.viewport.name()));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write screenshot {}: {e}", path.display()));
        path
    }

    /// A full-page screenshot through the DevTools protocol (chromedriver's `goog/cdp/execute`).
    async fn full_page_png(&self) -> Result<Vec<u8>, String> {
        let metrics = self
            .client
            .issue_cmd(Cdp::new("Page.getLayoutMetrics", json!({})))
            .await
            .map_err(|e| e.to_string())?;
        let size = &metrics["cssContentSize"];
        let (Some(width), Some(height)) = (size["width"].as_f64(), size["height"].as_f64()) else {
            return Err(format!("no content size in {metrics}"));
        };
        let shot = self
            .client
            .issue_cmd(Cdp::new(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height.min(MAX_SCREENSHOT_HEIGHT), "scale": 1 },
                }),
            ))
            .await
            .map_err(|e| e.to_string())?;
        let data = shot["data"].as_str().ok_or("no screenshot data")?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| e.to_string())
    }

    fn url_for(&self, path: &str) -> String {
        if ["http://", "https://", "data:"]
            .iter()
            .any(|scheme| path.starts_with(scheme))
        {
            return path.to_owned();
        }
        let base = self.base_url.as_deref().unwrap_or_else(|| {
            panic!("goto({path:?}) needs a base URL: use app.browser(…) or Browser::with_base_url")
        });
        format!("{base}{path}")
    }

    /// Finds the element matching `css`, scrolls it to the middle of the screen and clicks it, as a user
    /// scrolls before tapping: WebDriver's own click only scrolls the element just into view, which leaves a
    /// button at the bottom of a phone screen under the fixed tab bar (the tab bar gets the click). A live page
    /// may replace the element between the look-up and the click (a `[data-region]` refreshed after a server
    /// event): the fresh one is then looked up again.
    async fn press(&self, css: &str) -> Result<(), fantoccini::error::CmdError> {
        let mut stale = 0;
        loop {
            let element = self.find(css).await;
            let argument = serde_json::to_value(&element).unwrap_or(Value::Null);
            let pressed = match self
                .client
                .execute(
                    "arguments[0].scrollIntoView({ block: 'center', inline: 'center' });",
                    vec![argument],
                )
                .await
            {
                Ok(_) => element.click().await,
                Err(e) => Err(e),
            };
            match pressed {
                Err(e) if e.is_stale_element_reference() && stale < STALE_RETRIES => stale += 1,
                other => return other,
            }
        }
    }

    /// The first element matching `css`, waiting up to `WAIT` for it to appear.
    async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                panic!(
                    "{}",
                    self.failure(&format!("no element matches `{css}` after {WAIT:?} ({e})"))
                        .await
                )
            }
        }
    }

    /// `what` went wrong, with the viewport, the URL and the page's visible text: a panic message.
    async fn failure(&self, what: &str) -> String {
        let url = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("<unknown URL: {e}>"),
        };
        let text = match self
            .client
            .execute(
                "return document.body ? document.body.innerText : '<no body>';",
                vec![],
            )
            .await
        {
            Ok(Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(e) => format!("<unreadable: {e}>"),
        };
        let shown: String = text.chars().take(3000).collect();
        format!(
            "[{} browser] {what}\n  URL: {url}\n  the page shows:\n{shown}",
            self.viewport.name()
        )
    }
}

/// The session's capabilities: Debian's Chromium, headless, fresh profile, French, at `viewport`.
fn capabilities(viewport: Viewport, profile: &Path) -> Capabilities {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    // The shops' owners browse in French.
    args.push("--lang=fr-FR".into());
    let mut chrome = json!({
        "binary": CHROMIUM,
        "prefs": { "intl.accept_languages": "fr-FR,fr" },
    });
    match viewport {
        Viewport::Phone => {
            chrome["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": 360, "height": 780, "pixelRatio": 2.0 } });
        }
        // A window of 1280 × 800 would leave a smaller viewport (the window's frame counts): emulate the
        // screen's metrics instead, as a desktop (no touch, no mobile viewport rules).
        Viewport::Desktop => {
            chrome["mobileEmulation"] = json!({ "deviceMetrics": {
                "width": 1280, "height": 800, "pixelRatio": 1.0, "mobile": false, "touch": false,
            } });
        }
    }
    chrome["args"] = json!(args);
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": chrome,
        "pageLoadStrategy": "normal",
        "timeouts": { "pageLoad": PAGE_LOAD_TIMEOUT.as_millis() as u64, "script": 30_000, "implicit": 0 },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// `tag[name="…"]`, quoting the name for CSS.
fn by_name(tag: &str, name: &str) -> String {
    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{tag}[name=\"{quoted}\"]")
}

/// This test run's screenshot folder, created and announced on first use: `$TDJ_SCREENSHOT_DIR` if set, else
/// `<temp dir>/tdjaasa-screenshots/<YYYYmmdd-HHMMSS>-<pid>`. Never inside the repository.
pub fn screenshot_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = match std::env::var_os("TDJ_SCREENSHOT_DIR") {
            Some(dir) if !dir.is_empty() => std::path::absolute(PathBuf::from(dir))
                .expect("TDJ_SCREENSHOT_DIR as an absolute path"),
            _ => std::env::temp_dir()
                .join("tdjaasa-screenshots")
                .join(format!(
                    "{}-{}",
                    chrono::Local::now().format("%Y%m%d-%H%M%S"),
                    std::process::id()
                )),
        };
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let repo_real = repo.canonicalize().unwrap_or_else(|_| repo.to_owned());
        assert!(
            !dir.starts_with(repo) && !dir.starts_with(&repo_real),
            "screenshots go outside the repository: TDJ_SCREENSHOT_DIR={} is inside {}",
            dir.display(),
            repo.display()
        );
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        // Written to the real stderr, past the test harness's output capture, so that the folder shows in a
        // plain `cargo test` and in CI's log as well as with --nocapture; once per run.
        let _ = writeln!(
            std::io::stderr(),
            "browser screenshots of this run: {}",
            dir.display()
        );
        dir
    })
}

/// A DevTools protocol command, through chromedriver's `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl Cdp {
    fn new(cmd: &'static str, params: Value) -> Cdp {
        Cdp { cmd, params }
    }
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}
