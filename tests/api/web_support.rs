//! A browser-like client for the dashboard's HTTP tests: it keeps cookies, does not follow redirects (so
//! tests see them), and reads the CSRF token out of the page like a browser submits it.

use std::collections::BTreeMap;

use reqwest::{Response, StatusCode, header};

use crate::helpers::{Shop, TestApp};

pub struct WebUser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl<'a> WebUser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        WebUser {
            app,
            client,
            cookies: BTreeMap::new(),
        }
    }

    /// Signs in through the login page with the password `TestApp::signup` uses.
    pub async fn signed_in(app: &'a TestApp, shop: &Shop) -> Self {
        let mut user = WebUser::new(app);
        let page = user.get("/login?lang=fr").await;
        let token = csrf_of(&page.text().await.expect("body"));
        let response = user
            .post(
                "/login",
                &[
                    ("_csrf", token.as_str()),
                    ("email", shop.email.as_str()),
                    ("password", "motdepasse-solide"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login redirects");
        assert!(
            user.cookies.contains_key("tdj_session"),
            "session cookie set"
        );
        user
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, response: &Response) {
        for value in response.headers().get_all(header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.to_ascii_lowercase().contains("max-age=0") {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let response = self
            .client
            .get(format!("{}{path}", self.app.address))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("request sent");
        self.remember(&response);
        response
    }

    /// The page's HTML, asserting a 200.
    pub async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.expect("body")
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .client
            .post(format!("{}{path}", self.app.address))
            .header(header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("request sent");
        self.remember(&response);
        response
    }

    /// Posts a form the way the page would: with the CSRF token the page at `page` carries.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let html = self.page(page).await;
        let token = csrf_of(&html);
        let mut form = vec![("_csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }
}

/// The first `_csrf` hidden field of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    html[start..].split('"').next().expect("token").to_owned()
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
