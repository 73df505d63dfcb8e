//! `FakeGemini`: a local `generateContent` server speaking the real wire format, for tests only (feature
//! `test-support`). Tests script its answers, with a queue ([`FakeGemini::scripted`]) or a function of the
//! request ([`FakeGemini::start`]), and read back every request it received ([`FakeGemini::requests`]).
//!
//! Like the real API it checks the path, the model and the `x-goog-api-key` header, and it rejects a
//! request whose history does not echo its function-call contents verbatim (thought signatures included)
//! or does not answer every call with a matching `functionResponse`, so a client that drops a signature
//! fails here as it would against Gemini 3.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::GeminiConfig;

/// The key the fake accepts.
pub const FAKE_API_KEY: &str = "fake-gemini-key";
/// The model the fake serves (the configuration default).
pub const FAKE_MODEL: &str = "gemini-3.5-flash";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    pub method: String,
    pub path: String,
    /// The query string, if any (the client must not send the key there).
    pub query: Option<String>,
    /// The `x-goog-api-key` header.
    pub api_key: Option<String>,
    /// The JSON body (`Null` when it was not JSON).
    pub body: Value,
}

/// What the fake answers: a status, a JSON body, extra headers, after an optional delay.
#[derive(Debug, Clone)]
pub struct FakeResponse {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    /// Waits this long before answering (longer than the client timeout to simulate a hang).
    pub delay: Duration,
}

impl FakeResponse {
    /// A 200 with `body` (a `GenerateContentResponse`).
    pub fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// A 200 whose candidate is the text `text`.
    pub fn text(text: &str) -> Self {
        Self::ok(text_response(text))
    }

    /// A 200 whose candidate is one function call, with an id and a thought signature when given.
    pub fn function_call(
        id: Option<&str>,
        name: &str,
        args: Value,
        thought_signature: Option<&str>,
    ) -> Self {
        Self::ok(function_call_response(id, name, args, thought_signature))
    }

    /// A 200 whose candidate stopped with `MALFORMED_FUNCTION_CALL`, as Gemini reports unparsable calls.
    pub fn malformed_function_call() -> Self {
        Self::ok(malformed_function_call_response())
    }

    /// A Google error: `code` is the HTTP status, `status` the RPC status (`INVALID_ARGUMENT`…).
    pub fn error(code: u16, status: &str, message: &str) -> Self {
        Self {
            status: code,
            ..Self::ok(error_body(code, status, message))
        }
    }

    /// A 429 `RESOURCE_EXHAUSTED` with `QuotaFailure` and `RetryInfo { retryDelay }` details.
    pub fn rate_limited(retry_delay: &str) -> Self {
        Self {
            status: 429,
            ..Self::ok(rate_limit_body(retry_delay))
        }
    }

    /// Adds `usageMetadata` to the body.
    pub fn with_usage(
        mut self,
        prompt_tokens: u64,
        candidates_tokens: u64,
        thoughts_tokens: u64,
    ) -> Self {
        self.body = with_usage(self.body, prompt_tokens, candidates_tokens, thoughts_tokens);
        self
    }

    /// Adds a response header (e.g. `Retry-After`).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers only after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A `GenerateContentResponse` with one text candidate.
pub fn text_response(text: &str) -> Value {
    model_response(vec![json!({ "text": text })])
}

/// A `functionCall` part; Gemini 3 puts the thought signature on the part, beside `functionCall`.
pub fn function_call_part(
    id: Option<&str>,
    name: &str,
    args: Value,
    thought_signature: Option<&str>,
) -> Value {
    let mut call = json!({ "name": name, "args": args });
    if let Some(id) = id {
        call["id"] = json!(id);
    }
    let mut part = json!({ "functionCall": call });
    if let Some(signature) = thought_signature {
        part["thoughtSignature"] = json!(signature);
    }
    part
}

/// A `GenerateContentResponse` with one function call.
pub fn function_call_response(
    id: Option<&str>,
    name: &str,
    args: Value,
    thought_signature: Option<&str>,
) -> Value {
    model_response(vec![function_call_part(id, name, args, thought_signature)])
}

/// A `GenerateContentResponse` whose candidate has these parts and `finishReason: STOP`.
pub fn model_response(parts: Vec<Value>) -> Value {
    json!({
        "candidates": [{
            "content": { "role": "model", "parts": parts },
            "finishReason": "STOP",
            "index": 0
        }],
        "modelVersion": FAKE_MODEL,
        "responseId": "fake-response"
    })
}

/// A candidate with no content and `finishReason: MALFORMED_FUNCTION_CALL`.
pub fn malformed_function_call_response() -> Value {
    json!({
        "candidates": [{
            "content": {},
            "finishReason": "MALFORMED_FUNCTION_CALL",
            "finishMessage": "Malformed function call: search_products(query=",
            "index": 0
        }],
        "modelVersion": FAKE_MODEL
    })
}

/// A blocked prompt: no candidates, `promptFeedback.blockReason` set.
pub fn blocked_prompt_response(reason: &str) -> Value {
    json!({ "promptFeedback": { "blockReason": reason }, "modelVersion": FAKE_MODEL })
}

/// `body` with `usageMetadata`.
pub fn with_usage(
    mut body: Value,
    prompt_tokens: u64,
    candidates_tokens: u64,
    thoughts_tokens: u64,
) -> Value {
    body["usageMetadata"] = json!({
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates_tokens,
        "thoughtsTokenCount": thoughts_tokens,
        "totalTokenCount": prompt_tokens + candidates_tokens + thoughts_tokens
    });
    body
}

/// A Google error body.
pub fn error_body(code: u16, status: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message, "status": status } })
}

/// The body of a 429 quota error, with `QuotaFailure` and `RetryInfo`.
pub fn rate_limit_body(retry_delay: &str) -> Value {
    json!({ "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
                }]
            },
            { "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay }
        ]
    }})
}

type Handler = Arc<dyn Fn(&FakeRequest) -> FakeResponse + Send + Sync>;

struct Shared {
    handler: Handler,
    requests: Mutex<Vec<FakeRequest>>,
    /// Model contents with function calls the fake has sent: the only ones a request may carry.
    issued: Mutex<Vec<Value>>,
}

/// A running fake Gemini on `127.0.0.1`, stopped when dropped.
pub struct FakeGemini {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FakeGemini {
    /// Starts a fake answering each valid request with `handler(request)`.
    pub async fn start(
        handler: impl Fn(&FakeRequest) -> FakeResponse + Send + Sync + 'static,
    ) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            handler: Arc::new(handler),
            requests: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error.message = %e, "FakeGemini stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// Starts a fake answering valid requests with `responses` in order, then with a 500 saying the
    /// script is exhausted. Requests the fake rejects itself (path, key, history) do not consume the script.
    pub async fn scripted(responses: Vec<FakeResponse>) -> io::Result<Self> {
        let queue = Mutex::new(VecDeque::from(responses));
        Self::start(move |_| {
            lock(&queue).pop_front().unwrap_or_else(|| {
                FakeResponse::error(
                    500,
                    "INTERNAL",
                    "FakeGemini: the scripted responses are exhausted",
                )
            })
        })
        .await
    }

    /// `http://127.0.0.1:<port>`, for `GEMINI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A configuration pointing at this fake with its key and model.
    pub fn config(&self) -> GeminiConfig {
        GeminiConfig {
            api_key: Some(SecretString::from(FAKE_API_KEY)),
            model: FAKE_MODEL.to_owned(),
            base_url: self.base_url(),
            ..GeminiConfig::default()
        }
    }

    /// The body of every request received so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.requests)
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// Every request received so far, with its path and headers.
    pub fn recorded(&self) -> Vec<FakeRequest> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for FakeGemini {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A poisoned lock only means another test thread panicked; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = FakeRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        api_key: headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    lock(&shared.requests).push(request.clone());

    let response = match check(&shared, &request) {
        Err(rejection) => rejection,
        Ok(()) => {
            let response = (shared.handler)(&request);
            if response.status == 200 {
                remember_calls(&shared, &response.body);
            }
            response
        }
    };
    if !response.delay.is_zero() {
        tokio::time::sleep(response.delay).await;
    }
    into_http(response)
}

fn into_http(response: FakeResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut http = (status, axum::Json(response.body)).into_response();
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            http.headers_mut().insert(name, value);
        }
    }
    http
}

fn remember_calls(shared: &Shared, body: &Value) {
    let Some(candidates) = body["candidates"].as_array() else {
        return;
    };
    let mut issued = lock(&shared.issued);
    for candidate in candidates {
        if has_function_call(&candidate["content"]) {
            issued.push(candidate["content"].clone());
        }
    }
}

fn has_function_call(content: &Value) -> bool {
    content["parts"]
        .as_array()
        .is_some_and(|parts| parts.iter().any(|p| p.get("functionCall").is_some()))
}

/// The checks Gemini itself makes, as Google-style errors.
fn check(shared: &Shared, request: &FakeRequest) -> Result<(), FakeResponse> {
    let expected_path = format!("/v1beta/models/{FAKE_MODEL}:generateContent");
    if request.method != "POST" || request.path != expected_path {
        return Err(FakeResponse::error(
            404,
            "NOT_FOUND",
            &format!(
                "{} {} is not found for API version v1beta",
                request.method, request.path
            ),
        ));
    }
    match request.api_key.as_deref() {
        None => {
            return Err(FakeResponse::error(
                401,
                "UNAUTHENTICATED",
                "Method doesn't allow unregistered callers. Please use API Key or other form of API consumer identity.",
            ));
        }
        Some(key) if key != FAKE_API_KEY => {
            return Err(FakeResponse::error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
            ));
        }
        Some(_) => {}
    }
    check_body(shared, &request.body)
        .map_err(|message| FakeResponse::error(400, "INVALID_ARGUMENT", &message))
}

fn check_body(shared: &Shared, body: &Value) -> Result<(), String> {
    if !body.is_object() {
        return Err("Invalid JSON payload received.".to_owned());
    }
    if let Some(system) = body.get("systemInstruction") {
        let text_only = system["parts"]
            .as_array()
            .is_some_and(|parts| parts.iter().all(|p| p["text"].is_string()));
        if !text_only {
            return Err("systemInstruction must hold text parts only".to_owned());
        }
    }
    let Some(contents) = body["contents"].as_array().filter(|c| !c.is_empty()) else {
        return Err("* GenerateContentRequest.contents: contents is not specified".to_owned());
    };
    let issued = lock(&shared.issued);
    for (i, content) in contents.iter().enumerate() {
        let role = content["role"].as_str().unwrap_or("");
        if role != "user" && role != "model" {
            return Err(format!(
                "contents[{i}].role must be user or model, got {:?}",
                content["role"]
            ));
        }
        let Some(parts) = content["parts"].as_array().filter(|p| !p.is_empty()) else {
            return Err(format!("contents[{i}].parts must not be empty"));
        };
        if parts.iter().any(|p| {
            p.get("text")
                .is_some_and(|t| t.as_str().is_none_or(str::is_empty))
        }) {
            return Err(format!("contents[{i}] has an empty text part"));
        }
        for part in parts {
            check_inline_data(i, part)?;
        }
        if !has_function_call(content) {
            continue;
        }
        if role != "model" {
            return Err(format!(
                "contents[{i}]: functionCall parts belong to the model role"
            ));
        }
        if !issued.contains(content) {
            let signed = parts
                .iter()
                .all(|p| p.get("functionCall").is_none() || p.get("thoughtSignature").is_some());
            return Err(if signed {
                format!(
                    "contents[{i}]: Invalid or corrupted thought signature (content not sent back verbatim)"
                )
            } else {
                format!(
                    "contents[{i}]: Function call is missing a thought_signature in functionCall parts"
                )
            });
        }
        check_responses(i, parts, contents.get(i + 1))?;
    }
    Ok(())
}

/// An `inline_data` (or `inlineData`) part needs a `mime_type` (or `mimeType`) of a kind the model reads and
/// base64 `data`, as Gemini checks them.
fn check_inline_data(i: usize, part: &Value) -> Result<(), String> {
    let Some(inline) = part.get("inline_data").or_else(|| part.get("inlineData")) else {
        return Ok(());
    };
    let mime = inline
        .get("mime_type")
        .or_else(|| inline.get("mimeType"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if !(mime.starts_with("audio/") || mime.starts_with("image/")) {
        return Err(format!("contents[{i}]: Unsupported MIME type: {mime:?}"));
    }
    let data = inline["data"].as_str().unwrap_or("");
    if data.is_empty() || BASE64.decode(data).is_err() {
        return Err(format!(
            "contents[{i}]: Invalid value at inline_data.data (TYPE_BYTES), Base64 decoding failed"
        ));
    }
    Ok(())
}

/// The media of a request, in order: (mime type, bytes) of every inline part. For handlers that "hear" or
/// "see" by recognising the bytes a test sent.
pub fn inline_media(body: &Value) -> Vec<(String, Vec<u8>)> {
    let parts = body["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["parts"].as_array())
        .flatten();
    parts
        .filter_map(|p| p.get("inline_data").or_else(|| p.get("inlineData")))
        .filter_map(|inline| {
            let mime = inline
                .get("mime_type")
                .or_else(|| inline.get("mimeType"))?
                .as_str()?;
            let bytes = BASE64.decode(inline["data"].as_str()?).ok()?;
            Some((mime.to_owned(), bytes))
        })
        .collect()
}

/// Whether a request asks for a transcription (no tools declared) rather than a sales turn.
pub fn is_transcription(body: &Value) -> bool {
    body.get("tools").is_none()
}

/// The content after a model content with calls must be `user` with one matching `functionResponse` per call.
fn check_responses(i: usize, model_parts: &[Value], next: Option<&Value>) -> Result<(), String> {
    let calls: Vec<&Value> = model_parts
        .iter()
        .filter_map(|p| p.get("functionCall"))
        .collect();
    let Some(next) = next else {
        return Err(format!(
            "contents[{i}] has function calls with no function responses after it"
        ));
    };
    if next["role"] != "user" {
        return Err(format!(
            "contents[{}]: function responses must have the user role",
            i + 1
        ));
    }
    let responses: Vec<&Value> = next["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("functionResponse"))
                .collect()
        })
        .unwrap_or_default();
    if responses.len() != calls.len() {
        return Err(
            "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn."
                .to_owned(),
        );
    }
    for (call, response) in calls.iter().zip(&responses) {
        if call["name"] != response["name"] || call.get("id") != response.get("id") {
            return Err(format!(
                "contents[{}]: functionResponse {} (id {}) does not match functionCall {} (id {})",
                i + 1,
                response["name"],
                response.get("id").unwrap_or(&Value::Null),
                call["name"],
                call.get("id").unwrap_or(&Value::Null),
            ));
        }
        if !response["response"].is_object() {
            return Err(format!(
                "contents[{}]: functionResponse.response must be an object",
                i + 1
            ));
        }
    }
    Ok(())
}
