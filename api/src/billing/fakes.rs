//! Local fake Wave, Orange Money and Stripe servers for tests (feature `test-support`). Each speaks the
//! documented wire format (reference/external-apis.md §1, §2, §4), checks the auth it is given, and
//! records every request so tests can assert what was sent.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The form-encoded body as (name, value) pairs, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }

    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wave,
    OrangeMoney,
    Stripe,
}

#[derive(Debug, Clone)]
struct OmOrder {
    amount: i64,
    pay_token: String,
    notif_token: String,
    status: String,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    delay: Mutex<Duration>,
    counter: AtomicU64,
    tokens_issued: AtomicU64,
    wave_sessions: Mutex<HashMap<String, Value>>,
    om_orders: Mutex<HashMap<String, OmOrder>>,
    /// Set by [`FakeProvider::accept_only`]: the one credential answered without a 401.
    accepted: Mutex<Option<String>>,
    /// Wave: refund transactions made per session (idempotent: at most one each).
    wave_refunds: Mutex<HashMap<String, u32>>,
    /// Wave: set by [`FakeProvider::fail_refunds`], what refunds answer instead.
    refund_failure: Mutex<Option<(StatusCode, String)>>,
}

/// A fake provider listening on 127.0.0.1; stopped when dropped.
pub struct FakeProvider {
    pub base_url: String,
    kind: Kind,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProvider {
    /// Wave Checkout: `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/:id`.
    pub async fn wave() -> Self {
        Self::start(Kind::Wave).await
    }

    /// Orange Money: `POST /oauth/v3/token`, `POST …/webpayment`, `POST …/transactionstatus`.
    pub async fn orange_money() -> Self {
        Self::start(Kind::OrangeMoney).await
    }

    /// Stripe: `POST /v1/checkout/sessions` (form-encoded).
    pub async fn stripe() -> Self {
        Self::start(Kind::Stripe).await
    }

    async fn start(kind: Kind) -> Self {
        let shared = Arc::new(Shared::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = shared.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { handle(kind, state, method, uri, headers, body).await }
            },
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url,
            kind,
            shared,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests whose path ends with `suffix`.
    pub fn requests_to(&self, suffix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .collect()
    }

    /// Makes every answer wait (to trigger client timeouts).
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Refuses every credential but `credential` with a 401, as the real providers do with a wrong key:
    /// Wave's bearer API key, or Orange Money's `client_id:client_secret` at the token endpoint. By default
    /// any well-formed credential is accepted.
    pub fn accept_only(&self, credential: &str) {
        *self.shared.accepted.lock().unwrap() = Some(credential.to_owned());
    }

    /// Wave: the payer paid this session (an expired session cannot be paid).
    pub fn complete_wave_session(&self, session_id: &str, transaction_id: &str) {
        assert!(self.kind == Kind::Wave);
        if let Some(session) = self
            .shared
            .wave_sessions
            .lock()
            .unwrap()
            .get_mut(session_id)
            .filter(|s| s["checkout_status"] != "expired")
        {
            session["checkout_status"] = json!("complete");
            session["payment_status"] = json!("succeeded");
            session["transaction_id"] = json!(transaction_id);
            session["when_completed"] = json!(chrono::Utc::now().to_rfc3339());
        }
    }

    /// Wave: a session for `amount` with `client_reference`, already paid (as if opened with the merchant's
    /// key and paid by the customer); its id.
    pub fn paid_wave_session(&self, amount: &str, client_reference: &str) -> String {
        assert!(self.kind == Kind::Wave);
        let n = self.shared.counter.fetch_add(1, Ordering::SeqCst);
        let id = format!("cos-{n}{}", &Uuid::new_v4().simple().to_string()[..10]);
        let now = chrono::Utc::now();
        let session = json!({
            "id": id,
            "amount": amount,
            "currency": "XOF",
            "checkout_status": "complete",
            "payment_status": "succeeded",
            "client_reference": client_reference,
            "business_name": "Boutique",
            "transaction_id": format!("TCN-{n}"),
            "wave_launch_url": format!("https://pay.wave.com/c/{id}"),
            "when_created": now.to_rfc3339(),
            "when_expires": (now + chrono::Duration::minutes(30)).to_rfc3339(),
            "when_completed": now.to_rfc3339(),
            "last_payment_error": null,
        });
        self.shared
            .wave_sessions
            .lock()
            .unwrap()
            .insert(id.clone(), session);
        id
    }

    /// Wave: the stored session, as `GET /v1/checkout/sessions/:id` returns it.
    pub fn wave_session(&self, session_id: &str) -> Option<Value> {
        self.shared
            .wave_sessions
            .lock()
            .unwrap()
            .get(session_id)
            .cloned()
    }

    /// Wave: how many refund transactions were made for the session (refunding twice makes no second one).
    pub fn wave_refunds(&self, session_id: &str) -> u32 {
        self.shared
            .wave_refunds
            .lock()
            .unwrap()
            .get(session_id)
            .copied()
            .unwrap_or(0)
    }

    /// Wave: refunds answer HTTP `status` with error `code` (e.g. 503, or 400 `insufficient-funds`), until
    /// called with `None`.
    pub fn fail_refunds(&self, failure: Option<(u16, &str)>) {
        *self.shared.refund_failure.lock().unwrap() =
            failure.map(|(status, code)| (StatusCode::from_u16(status).unwrap(), code.to_owned()));
    }

    /// Orange Money: the order ids of the web payments opened, oldest first is not guaranteed.
    pub fn om_order_ids(&self) -> Vec<String> {
        self.shared
            .om_orders
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// Orange Money: what the transaction-status API will say for `order_id` (`SUCCESS`, `FAILED`, …).
    pub fn set_om_status(&self, order_id: &str, status: &str) {
        if let Some(order) = self.shared.om_orders.lock().unwrap().get_mut(order_id) {
            order.status = status.to_owned();
        }
    }

    /// Orange Money: the notif_token returned for `order_id` (what its notification will carry).
    pub fn om_notif_token(&self, order_id: &str) -> Option<String> {
        self.shared
            .om_orders
            .lock()
            .unwrap()
            .get(order_id)
            .map(|o| o.notif_token.clone())
    }

    /// Orange Money: how many OAuth tokens were issued.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }
}

fn error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

async fn handle(
    kind: Kind,
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers.clone(),
        body: body.clone(),
    });
    let delay = *shared.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let n = shared.counter.fetch_add(1, Ordering::SeqCst);
    match kind {
        Kind::Wave => wave(&shared, &method, &uri, &headers, &body, n),
        Kind::OrangeMoney => orange(&shared, uri.path(), &headers, &body, n),
        Kind::Stripe => stripe(&headers, &body, uri.path(), n),
    }
}

fn wave(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    n: u64,
) -> Response {
    let path = uri.path();
    let Some(key) = bearer(headers) else {
        return error(
            StatusCode::UNAUTHORIZED,
            json!({"code": "missing-auth-header", "message": "Missing Authorization header"}),
        );
    };
    if shared
        .accepted
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|accepted| *accepted != key)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            json!({"code": "no-matching-api-key", "message": "Invalid API key"}),
        );
    }
    if method == Method::GET && path == "/v1/checkout/sessions/search" {
        let query: HashMap<String, String> =
            serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
        let reference = query.get("client_reference").cloned().unwrap_or_default();
        let found: Vec<Value> = shared
            .wave_sessions
            .lock()
            .unwrap()
            .values()
            .filter(|s| s["client_reference"] == reference.as_str())
            .cloned()
            .collect();
        return axum::Json(json!({ "result": found })).into_response();
    }
    if method == Method::POST && path == "/v1/checkout/sessions" {
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return error(
                StatusCode::BAD_REQUEST,
                json!({"code": "request-validation-error"}),
            );
        };
        let amount_ok = req["amount"]
            .as_str()
            .is_some_and(|a| a.bytes().all(|b| b.is_ascii_digit()));
        if !amount_ok
            || req["currency"] != "XOF"
            || !req["success_url"].is_string()
            || !req["error_url"].is_string()
        {
            return error(
                StatusCode::BAD_REQUEST,
                json!({"code": "request-validation-error"}),
            );
        }
        let id = format!("cos-{n}{}", &Uuid::new_v4().simple().to_string()[..10]);
        let now = chrono::Utc::now();
        let session = json!({
            "id": id,
            "amount": req["amount"],
            "currency": "XOF",
            "checkout_status": "open",
            "payment_status": "processing",
            "client_reference": req["client_reference"],
            "business_name": "Tdjaasa",
            "success_url": req["success_url"],
            "error_url": req["error_url"],
            "wave_launch_url": format!("https://pay.wave.com/c/{id}?a={}&c=XOF&m=Tdjaasa", req["amount"].as_str().unwrap_or("")),
            "when_created": now.to_rfc3339(),
            "when_expires": (now + chrono::Duration::minutes(30)).to_rfc3339(),
            "last_payment_error": null,
        });
        shared
            .wave_sessions
            .lock()
            .unwrap()
            .insert(id, session.clone());
        return axum::Json(session).into_response();
    }
    if method == Method::POST
        && let Some(id) = path
            .strip_prefix("/v1/checkout/sessions/")
            .and_then(|rest| rest.strip_suffix("/expire"))
    {
        let mut sessions = shared.wave_sessions.lock().unwrap();
        let Some(session) = sessions.get_mut(id) else {
            return error(
                StatusCode::NOT_FOUND,
                json!({"code": "checkout-session-not-found"}),
            );
        };
        if session["checkout_status"] != "open" {
            return error(
                StatusCode::CONFLICT,
                json!({"code": "checkout-session-not-open", "message": "session not open"}),
            );
        }
        session["checkout_status"] = json!("expired");
        session["when_completed"] = json!(chrono::Utc::now().to_rfc3339());
        return axum::Json(session.clone()).into_response();
    }
    if method == Method::POST
        && let Some(id) = path
            .strip_prefix("/v1/checkout/sessions/")
            .and_then(|rest| rest.strip_suffix("/refund"))
    {
        if let Some((status, code)) = shared.refund_failure.lock().unwrap().clone() {
            return error(status, json!({"code": code, "message": "refund failed"}));
        }
        let sessions = shared.wave_sessions.lock().unwrap();
        let Some(session) = sessions.get(id) else {
            return error(
                StatusCode::NOT_FOUND,
                json!({"code": "checkout-session-not-found"}),
            );
        };
        if session["payment_status"] != "succeeded" {
            return error(
                StatusCode::BAD_REQUEST,
                json!({"code": "checkout-refund-failed", "message": "session not paid"}),
            );
        }
        let mut refunds = shared.wave_refunds.lock().unwrap();
        let made = refunds.entry(id.to_owned()).or_insert(0);
        *made = (*made).max(1);
        return axum::Json(json!({})).into_response();
    }
    if method == Method::GET
        && let Some(id) = path.strip_prefix("/v1/checkout/sessions/")
    {
        return match shared.wave_sessions.lock().unwrap().get(id) {
            Some(session) => axum::Json(session.clone()).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                json!({"code": "checkout-session-not-found"}),
            ),
        };
    }
    error(StatusCode::NOT_FOUND, json!({"code": "not-found"}))
}

fn orange(shared: &Shared, path: &str, headers: &HeaderMap, body: &[u8], n: u64) -> Response {
    if path == "/oauth/v3/token" {
        let basic = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Basic "));
        let accepted = shared.accepted.lock().unwrap().clone();
        let allowed = accepted.is_none_or(|credential| {
            headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(format!("Basic {}", BASE64.encode(credential)).as_str())
        });
        if !basic || !allowed || body != b"grant_type=client_credentials" {
            return error(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}));
        }
        shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
        return axum::Json(json!({
            "token_type": "Bearer",
            "access_token": format!("om-access-{n}"),
            "expires_in": "7776000",
        }))
        .into_response();
    }
    if !bearer(headers).is_some_and(|t| t.starts_with("om-access-")) {
        return error(
            StatusCode::UNAUTHORIZED,
            json!({"code": 42, "message": "Expired credentials"}),
        );
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, json!({"message": "bad json"}));
    };
    let order_id = req["order_id"].as_str().unwrap_or_default().to_owned();
    if path.ends_with("/webpayment") {
        let valid = !order_id.is_empty()
            && order_id.len() <= 30
            && req["amount"].is_i64()
            && req["merchant_key"].is_string()
            && req["notif_url"].as_str().is_some_and(|u| u.len() <= 120);
        if !valid {
            return error(
                StatusCode::BAD_REQUEST,
                json!({"message": "invalid request"}),
            );
        }
        let mut orders = shared.om_orders.lock().unwrap();
        if orders.contains_key(&order_id) {
            return error(
                StatusCode::FORBIDDEN,
                json!({"message": "order_id already used"}),
            );
        }
        let pay_token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let notif_token = Uuid::new_v4().simple().to_string();
        orders.insert(
            order_id,
            OmOrder {
                amount: req["amount"].as_i64().unwrap_or_default(),
                pay_token: pay_token.clone(),
                notif_token: notif_token.clone(),
                status: "INITIATED".into(),
            },
        );
        return (
            StatusCode::CREATED,
            axum::Json(json!({
                "status": 201,
                "message": "OK",
                "pay_token": pay_token,
                "payment_url": format!("https://webpayment-qualif.orange-money.com/payment/pay_token/{pay_token}"),
                "notif_token": notif_token,
            })),
        )
            .into_response();
    }
    if path.ends_with("/transactionstatus") {
        let orders = shared.om_orders.lock().unwrap();
        let Some(order) = orders.get(&order_id) else {
            return error(StatusCode::NOT_FOUND, json!({"message": "unknown order"}));
        };
        if req["amount"].as_i64() != Some(order.amount)
            || req["pay_token"].as_str() != Some(&order.pay_token)
        {
            return error(
                StatusCode::BAD_REQUEST,
                json!({"message": "amount or pay_token mismatch"}),
            );
        }
        let mut answer = json!({ "status": order.status, "order_id": order_id });
        if order.status == "SUCCESS" || order.status == "FAILED" {
            // One transaction per web payment: the same id however often it is asked.
            answer["txnid"] = json!(format!(
                "MP{}.{}",
                order_id.get(..6).unwrap_or("000000"),
                order.pay_token.get(..8).unwrap_or("00000000")
            ));
        }
        return (StatusCode::CREATED, axum::Json(answer)).into_response();
    }
    error(StatusCode::NOT_FOUND, json!({"message": "not found"}))
}

fn stripe(headers: &HeaderMap, body: &[u8], path: &str, n: u64) -> Response {
    if !bearer(headers).is_some_and(|k| k.starts_with("sk_")) {
        return error(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
        );
    }
    if path != "/v1/checkout/sessions" {
        return error(
            StatusCode::NOT_FOUND,
            json!({"error": {"type": "invalid_request_error"}}),
        );
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let unit: i64 = form
        .get("line_items[0][price_data][unit_amount]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let quantity: i64 = form
        .get("line_items[0][quantity]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if form.get("mode").map(String::as_str) != Some("payment") || unit <= 0 || quantity <= 0 {
        return error(
            StatusCode::BAD_REQUEST,
            json!({"error": {"type": "invalid_request_error", "message": "Missing required param"}}),
        );
    }
    let id = format!("cs_test_{n}{}", &Uuid::new_v4().simple().to_string()[..12]);
    axum::Json(json!({
        "id": id,
        "object": "checkout.session",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": unit * quantity,
        "currency": form.get("line_items[0][price_data][currency]"),
        "client_reference_id": form.get("client_reference_id"),
        "metadata": { "payment_id": form.get("metadata[payment_id]") },
        "livemode": false,
    }))
    .into_response()
}
