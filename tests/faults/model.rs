//! The suite's language model: a fake Gemini (real wire format) whose behaviour the cases switch at run time.
//!
//! Normally it answers a turn with `re: #c1-4 #c1-5`, the markers of every customer message since its last
//! answer, so each reply says which messages it answers; a message asking to order ("commande") first gets a
//! `create_order` call with the marker as the order's note, so each order says which request it took.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use workers::llm::gemini::fake::{
    FakeGemini, FakeRequest, FakeResponse, function_call_part, model_response,
};

/// The one product every shop sells: the same id in each shop (ids are per shop), unlimited stock.
pub const PRODUCT_ID: &str = "01920000-0000-7000-8000-00000000f001";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Normal,
    /// 429 with a 2-second RetryInfo.
    RateLimited,
    /// 500 on every call.
    ServerError,
    /// Answers after the client's timeout.
    Hang,
    /// Takes the order, then fails the call that follows it (a model failing mid-turn).
    FailAfterOrder,
}

pub struct Model {
    fake: FakeGemini,
    mode: Arc<AtomicU8>,
}

impl Model {
    pub async fn start() -> Self {
        let mode = Arc::new(AtomicU8::new(Mode::Normal as u8));
        let current = mode.clone();
        let fake = FakeGemini::start(move |request| {
            let mode = match current.load(Ordering::SeqCst) {
                1 => Mode::RateLimited,
                2 => Mode::ServerError,
                3 => Mode::Hang,
                4 => Mode::FailAfterOrder,
                _ => Mode::Normal,
            };
            answer(request, mode)
        })
        .await
        .expect("fake gemini");
        Self { fake, mode }
    }

    pub fn base_url(&self) -> String {
        self.fake.base_url()
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }
}

/// Markers (`#c1-4`) in a text.
pub fn markers(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|word| word.starts_with("#c"))
        .map(str::to_owned)
        .collect()
}

fn texts(content: &Value) -> impl Iterator<Item = &str> {
    content["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|part| part["text"].as_str())
}

fn order_notes(content: &Value) -> impl Iterator<Item = &str> {
    content["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|part| part["functionCall"]["name"] == "create_order")
        .filter_map(|part| part["functionCall"]["args"]["note"].as_str())
}

fn answer(request: &FakeRequest, mode: Mode) -> FakeResponse {
    // A little latency, so that kills land in the middle of turns.
    let think = Duration::from_millis(150);
    match mode {
        Mode::RateLimited => return FakeResponse::rate_limited("2s"),
        Mode::ServerError => return FakeResponse::error(500, "INTERNAL", "fault suite"),
        Mode::Hang => return FakeResponse::text("trop tard").delayed(Duration::from_secs(10)),
        Mode::Normal | Mode::FailAfterOrder => {}
    }
    let empty = Vec::new();
    let contents = request.body["contents"].as_array().unwrap_or(&empty);
    // This turn starts after the model's last text answer.
    let start = contents
        .iter()
        .rposition(|c| c["role"] == "model" && texts(c).next().is_some())
        .map_or(0, |i| i + 1);
    let turn = &contents[start..];
    let mut asked = Vec::new();
    let mut orders = Vec::new();
    for content in turn.iter().filter(|c| c["role"] == "user") {
        for text in texts(content) {
            let found = markers(text);
            if text.contains("commande") {
                orders.extend(found.iter().cloned());
            }
            asked.extend(found);
        }
    }
    let placed: Vec<&str> = turn
        .iter()
        .filter(|c| c["role"] == "model")
        .flat_map(order_notes)
        .collect();
    // Every order still to take, in one round (parallel function calls), as the real model does.
    let missing: Vec<Value> = orders
        .iter()
        .filter(|o| !placed.contains(&o.as_str()))
        .map(|note| {
            function_call_part(
                None,
                "create_order",
                json!({"items": [{"product_id": PRODUCT_ID, "quantity": 1}], "customer_name": "Client", "note": note}),
                None,
            )
        })
        .collect();
    if !missing.is_empty() {
        if mode == Mode::FailAfterOrder && !placed.is_empty() {
            return FakeResponse::error(500, "INTERNAL", "failed after an order call");
        }
        return FakeResponse::ok(model_response(missing)).delayed(think);
    }
    if mode == Mode::FailAfterOrder && !placed.is_empty() {
        return FakeResponse::error(500, "INTERNAL", "failed after an order call");
    }
    FakeResponse::text(&format!("re: {}", asked.join(" "))).delayed(think)
}
