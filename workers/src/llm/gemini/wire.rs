//! The `generateContent` wire format (external-apis.md §5): building request bodies and reading responses
//! and error bodies. Model contents are kept as raw JSON so they can be echoed back verbatim, thought
//! signatures included.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use schemas::MediaKind;
use serde_json::{Map, Value, json};

use crate::llm::{ChatMessage, LlmError, Role, Turn, Usage, tools};

/// `toolConfig.functionCallingConfig.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallingMode {
    /// The model may call tools or answer.
    Auto,
    /// Tools stay declared but the model must answer with text (the last round).
    None,
}

impl CallingMode {
    fn as_str(self) -> &'static str {
        match self {
            CallingMode::Auto => "AUTO",
            CallingMode::None => "NONE",
        }
    }
}

/// The conversation sent on the first round: history then the incoming customer messages, with
/// consecutive messages of one side merged into one content so roles alternate. A voice note or photo goes
/// in as inline data beside its message's text, a voice note's transcript (`transcripts`, by message) as text.
pub(crate) fn initial_contents(
    turn: &Turn,
    transcripts: &[(usize, String)],
) -> Result<Vec<Value>, LlmError> {
    let mut contents: Vec<Value> = Vec::with_capacity(turn.history.len() + 1);
    let history = turn.history.iter().map(|m: &ChatMessage| {
        let role = match m.role {
            Role::Customer => "user",
            Role::Shop => "model",
        };
        (role, vec![json!({ "text": m.text })])
    });
    let mut incoming: Vec<Vec<Value>> = Vec::with_capacity(turn.incoming.len() + 1);
    for (index, text) in turn.incoming.iter().enumerate() {
        let mut parts: Vec<Value> = Vec::new();
        for media in turn.media.iter().filter(|m| m.message == index) {
            parts.push(inline_data(&media.mime, &media.bytes));
            let note = match media.kind {
                MediaKind::Audio => match transcripts.iter().find(|(i, _)| *i == index) {
                    Some((_, heard)) => {
                        format!("(Message vocal du client. Transcription : « {heard} »)")
                    }
                    None => "(Message vocal du client, inaudible.)".to_owned(),
                },
                _ if text.trim().is_empty() => {
                    "(Photo envoyée par le client, sans texte.)".to_owned()
                }
                _ => "(Photo envoyée par le client.)".to_owned(),
            };
            parts.push(json!({ "text": note }));
        }
        if !text.trim().is_empty() {
            parts.push(json!({ "text": text }));
        }
        if !parts.is_empty() {
            incoming.push(parts);
        }
    }
    if incoming.is_empty() {
        // An empty text part is a 400 from the API; nothing here is worth a model call.
        return Err(LlmError::Permanent(
            "the turn has no customer text to answer".to_owned(),
        ));
    }
    if let Some(note) = crate::llm::prompt::customer_name_note(turn) {
        incoming.insert(0, vec![json!({ "text": note })]);
    }
    for (role, parts) in history.chain(incoming.into_iter().map(|p| ("user", p))) {
        let parts: Vec<Value> = parts
            .into_iter()
            .filter(|p| {
                p.get("text")
                    .is_none_or(|t| !t.as_str().unwrap_or("").trim().is_empty())
            })
            .collect();
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(existing) = last["parts"].as_array_mut() {
                    existing.extend(parts);
                }
            }
            _ => contents.push(json!({ "role": role, "parts": parts })),
        }
    }
    Ok(contents)
}

/// A media part: the bytes inline, base64-encoded, as in Google's REST examples for audio and images.
pub(crate) fn inline_data(mime: &str, bytes: &[u8]) -> Value {
    json!({ "inline_data": { "mime_type": mime, "data": BASE64.encode(bytes) } })
}

/// What the transcription request asks: the words only, so they can be stored and shown as they are.
const TRANSCRIBE_INSTRUCTION: &str = "Tu transcris les messages vocaux que des clients envoient à une boutique \
    (souvent en Côte d'Ivoire : français, nouchi, anglais ou langues locales). Écris exactement ce qui est dit, \
    dans la langue parlée, sans traduire, sans commentaire et sans guillemets. Si l'audio est vide ou \
    inaudible, réponds exactement : [inaudible]";

/// The answer meaning "nothing could be heard".
pub(crate) const INAUDIBLE: &str = "[inaudible]";

/// The request that turns a voice note into text: no tools, deterministic sampling.
pub(crate) fn transcription_body(mime: &str, bytes: &[u8], max_output_tokens: u32) -> Value {
    json!({
        "systemInstruction": { "parts": [{ "text": TRANSCRIBE_INSTRUCTION }] },
        "contents": [{ "role": "user", "parts": [
            inline_data(mime, bytes),
            { "text": "Transcris ce message vocal." }
        ]}],
        "generationConfig": { "temperature": 0.0, "maxOutputTokens": max_output_tokens },
    })
}

/// The sampling parameters of every request (`generationConfig`), from the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Generation {
    pub temperature: f64,
    pub max_output_tokens: u32,
}

/// One `generateContent` request body.
pub(crate) fn request_body(
    system_instruction: &str,
    contents: &[Value],
    mode: CallingMode,
    generation: Generation,
) -> Value {
    json!({
        "systemInstruction": { "parts": [{ "text": system_instruction }] },
        "contents": contents,
        "tools": [{ "functionDeclarations": tools::declarations() }],
        "toolConfig": { "functionCallingConfig": { "mode": mode.as_str() } },
        "generationConfig": {
            "temperature": generation.temperature,
            "maxOutputTokens": generation.max_output_tokens,
        },
    })
}

/// A function call asked for by the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FunctionCall {
    /// Gemini 3 call id, echoed in the matching `functionResponse`.
    pub id: Option<String>,
    pub name: String,
    pub args: Value,
}

/// What one successful round produced.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The final text for the customer.
    Text(String),
    /// Tool calls; `content` is the candidate's content exactly as received, to append to the history.
    Calls {
        content: Value,
        calls: Vec<FunctionCall>,
    },
}

/// Finish reasons after which the candidate must not be used, whatever it contains.
const BLOCKING_FINISH_REASONS: &[&str] = &[
    "SAFETY",
    "RECITATION",
    "LANGUAGE",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "MALFORMED_FUNCTION_CALL",
    "UNEXPECTED_TOOL_CALL",
];

/// Of those, the content refusals: the same prompt is refused again, so they are never retried (the others
/// may come out differently on another try).
const REFUSING_FINISH_REASONS: &[&str] = &[
    "SAFETY",
    "LANGUAGE",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
];

/// Reads a 200 response body into an [`Answer`], adding its token counts to `usage`.
pub(crate) fn parse_response(body: &Value, usage: &mut Usage) -> Result<Answer, LlmError> {
    add_usage(body, usage);
    if let Some(reason) = body["promptFeedback"]["blockReason"].as_str() {
        return Err(LlmError::Refused(format!(
            "Gemini blocked the prompt ({reason})"
        )));
    }
    let Some(candidate) = body["candidates"].as_array().and_then(|c| c.first()) else {
        return Err(LlmError::Transient(
            "Gemini returned no candidates".to_owned(),
        ));
    };
    let finish_reason = candidate["finishReason"].as_str().unwrap_or("");
    if REFUSING_FINISH_REASONS.contains(&finish_reason) {
        return Err(LlmError::Refused(format!(
            "Gemini refused to answer (finishReason {finish_reason})"
        )));
    }
    if BLOCKING_FINISH_REASONS.contains(&finish_reason) {
        return Err(LlmError::Transient(format!(
            "Gemini stopped with finishReason {finish_reason}"
        )));
    }

    let content = &candidate["content"];
    let parts = content["parts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut calls = Vec::new();
    let mut text = String::new();
    for part in parts {
        if let Some(call) = part.get("functionCall") {
            calls.push(function_call(call)?);
        } else if let Some(t) = part["text"].as_str() {
            // Thought summaries are not for the customer.
            if part["thought"] != Value::Bool(true) {
                text.push_str(t);
            }
        }
    }

    if !calls.is_empty() {
        let mut content = content.clone();
        // Only the role may be filled in; the parts (and their thought signatures) stay untouched.
        if let Some(obj) = content.as_object_mut() {
            obj.entry("role").or_insert_with(|| json!("model"));
        }
        return Ok(Answer::Calls { content, calls });
    }
    let text = text.trim();
    if text.is_empty() {
        let reason = if finish_reason.is_empty() {
            "none"
        } else {
            finish_reason
        };
        return Err(LlmError::Transient(format!(
            "Gemini returned neither text nor a function call (finishReason {reason})"
        )));
    }
    if finish_reason != "STOP" {
        // MAX_TOKENS, OTHER or a reason newer than this code: the text is still the best answer we have.
        tracing::warn!(
            finish_reason,
            "using Gemini text despite an unusual finishReason"
        );
    }
    Ok(Answer::Text(text.to_owned()))
}

fn function_call(call: &Value) -> Result<FunctionCall, LlmError> {
    let malformed =
        |why: &str| LlmError::Transient(format!("Gemini sent a malformed function call: {why}"));
    let name = call["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| malformed("missing name"))?;
    let args = match call.get("args") {
        // A call without arguments may omit them.
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(args @ Value::Object(_)) => args.clone(),
        Some(_) => return Err(malformed("args is not an object")),
    };
    let id = match call.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(malformed("id is not a string")),
    };
    Ok(FunctionCall {
        id,
        name: name.to_owned(),
        args,
    })
}

/// The `user` content answering `calls`, in order. `response` must be an object, so other results are wrapped.
pub(crate) fn function_responses(calls: &[FunctionCall], results: Vec<Value>) -> Value {
    let parts: Vec<Value> = calls
        .iter()
        .zip(results)
        .map(|(call, result)| {
            let response = if result.is_object() {
                result
            } else {
                json!({ "result": result })
            };
            let mut fr = json!({ "name": call.name, "response": response });
            if let Some(id) = &call.id {
                fr["id"] = json!(id);
            }
            json!({ "functionResponse": fr })
        })
        .collect();
    json!({ "role": "user", "parts": parts })
}

/// Adds `usageMetadata`; thinking tokens are billed as output, so they count as output here too.
fn add_usage(body: &Value, usage: &mut Usage) {
    let meta = &body["usageMetadata"];
    let count = |field: &str| meta[field].as_u64().unwrap_or(0);
    usage.prompt_tokens += count("promptTokenCount");
    usage.output_tokens += count("candidatesTokenCount") + count("thoughtsTokenCount");
    usage.media_tokens += media_tokens(meta);
}

/// The prompt tokens of audio, images and video (`promptTokensDetails` by modality).
fn media_tokens(meta: &Value) -> u64 {
    meta["promptTokensDetails"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .filter(|d| matches!(d["modality"].as_str(), Some("AUDIO" | "IMAGE" | "VIDEO")))
                .filter_map(|d| d["tokenCount"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// The error's `status` and `message` (e.g. `INVALID_ARGUMENT: API key not valid`), or `None` when the body
/// is not Google's error JSON.
pub(crate) fn error_summary(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    let message = error["message"].as_str().unwrap_or("");
    match error["status"].as_str() {
        Some(status) if message.is_empty() => Some(status.to_owned()),
        Some(status) => Some(format!("{status}: {message}")),
        None if message.is_empty() => None,
        None => Some(message.to_owned()),
    }
}

/// `retryDelay` of the `google.rpc.RetryInfo` detail of an error body.
pub(crate) fn retry_delay(body: &Value) -> Option<Duration> {
    body["error"]["details"]
        .as_array()?
        .iter()
        .filter(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|d| d["retryDelay"].as_str().and_then(parse_proto_duration))
}

/// A protobuf JSON duration: decimal seconds with an `s` suffix ("12s", "1.5s", "0.000500s").
pub(crate) fn parse_proto_duration(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// A `Retry-After` header given in seconds (the HTTP-date form is not used by Google).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_durations_parse_whole_and_fractional_seconds() {
        let cases = [
            ("12s", Some(Duration::from_secs(12))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("0s", Some(Duration::ZERO)),
            ("28", None),
            ("-1s", None),
            ("abcs", None),
            ("NaNs", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_proto_duration(input), expected, "parsing {input:?}");
        }
    }

    #[test]
    fn retry_delay_is_found_among_other_details() {
        let body = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "28s"}
        ]}});

        assert_eq!(retry_delay(&body), Some(Duration::from_secs(28)));
    }

    #[test]
    fn thought_text_is_not_part_of_the_answer() {
        let body = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "je réfléchis", "thought": true},
            {"text": "Bonjour !", "thoughtSignature": "sig"}
        ]}, "finishReason": "STOP"}]});

        let answer = parse_response(&body, &mut Usage::default());

        assert!(matches!(answer, Ok(Answer::Text(t)) if t == "Bonjour !"));
    }

    #[test]
    fn consecutive_messages_of_one_side_share_a_content() {
        let turn = Turn {
            tenant_id: uuid::Uuid::nil(),
            shop: crate::llm::ShopProfile {
                shop_name: "S".into(),
                bot_name: "B".into(),
                tone: "friendly".into(),
                language: "fr".into(),
                instructions: String::new(),
                ..Default::default()
            },
            catalog: vec![],
            customer_name: String::new(),
            history: vec![
                ChatMessage {
                    role: Role::Shop,
                    text: "Bienvenue".into(),
                },
                ChatMessage {
                    role: Role::Customer,
                    text: "bonjour".into(),
                },
            ],
            incoming: vec!["la robe ?".into(), " ".into(), "taille M".into()],
            media: vec![],
            now: chrono::Utc::now(),
        };

        let contents = initial_contents(&turn, &[]).map_err(|e| e.to_string());

        assert_eq!(
            contents,
            Ok(vec![
                json!({"role": "model", "parts": [{"text": "Bienvenue"}]}),
                json!({"role": "user", "parts": [{"text": "bonjour"}, {"text": "la robe ?"}, {"text": "taille M"}]}),
            ])
        );
    }
}
