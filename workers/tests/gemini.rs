//! The Gemini provider against `FakeGemini`: the wire format, the function-calling loop and error mapping
//! (`reference/external-apis.md` §5).
#![cfg(feature = "test-support")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use async_trait::async_trait;
use schemas::commerce::{Sku, Stock, Xof};
use serde_json::{Value, json};
use store::products::ProductFields;
use uuid::Uuid;
use workers::llm::gemini::fake::{
    FAKE_API_KEY, FakeGemini, FakeResponse, blocked_prompt_response, function_call_part,
    model_response, text_response,
};
use workers::llm::gemini::{Gemini, GeminiConfig};
use workers::llm::{
    CatalogItem, ChatMessage, LlmError, LlmProvider, Reply, Role, ShopProfile, ToolExecutor, Turn,
    Usage, tools,
};

/// Records every tool call and answers each with `answer`.
struct RecordingTools {
    calls: Vec<(String, Value)>,
    answer: Value,
}

impl RecordingTools {
    fn answering(answer: Value) -> Self {
        Self {
            calls: Vec::new(),
            answer,
        }
    }
}

#[async_trait]
impl ToolExecutor for RecordingTools {
    async fn call(&mut self, name: &str, args: Value) -> Value {
        self.calls.push((name.to_owned(), args));
        self.answer.clone()
    }

    fn discard_attempt(&mut self) {}
}

fn robe_id() -> Uuid {
    Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001)
}

fn awa_turn() -> Turn {
    Turn {
        tenant_id: uuid::Uuid::nil(),
        shop: ShopProfile {
            shop_name: "Awa Mode".to_owned(),
            bot_name: "Awa".to_owned(),
            tone: "friendly".to_owned(),
            language: "fr".to_owned(),
            instructions: "Livraison à Abobo : 1 000 F.".to_owned(),
            ..Default::default()
        },
        catalog: vec![CatalogItem {
            product_id: robe_id(),
            fields: ProductFields {
                sku: Some(Sku::new("ROBE-WAX-ROUGE").expect("sku")),
                description: "Robe en pagne wax".to_owned(),
                category: "Robes".to_owned(),
                stock: Some(Stock::new(3).expect("stock")),
                attributes: json!({"taille": ["S", "M", "L"]}),
                ..ProductFields::new("Robe wax rouge", Xof::price(15_000).expect("price"))
            },
        }],
        customer_name: "Koffi".to_owned(),
        history: vec![
            ChatMessage {
                role: Role::Customer,
                text: "Bonjour".to_owned(),
            },
            ChatMessage {
                role: Role::Shop,
                text: "Bonjour, bienvenue chez Awa Mode !".to_owned(),
            },
        ],
        incoming: vec!["Vous avez la robe wax rouge en taille M ?".to_owned()],
        media: vec![],
        now: chrono::Utc::now(),
    }
}

fn gemini(config: &GeminiConfig) -> Gemini {
    Gemini::from_config(config).unwrap().unwrap()
}

async fn respond(config: GeminiConfig) -> Result<Reply, LlmError> {
    gemini(&config)
        .respond(&awa_turn(), &mut RecordingTools::answering(json!({})))
        .await
}

fn check_stock_call(id: &str, signature: &str) -> FakeResponse {
    FakeResponse::function_call(
        Some(id),
        tools::SEARCH_PRODUCTS,
        json!({"query": "robe wax rouge M"}),
        Some(signature),
    )
}

#[tokio::test]
async fn a_text_answer_becomes_the_reply() {
    let fake = FakeGemini::scripted(vec![FakeResponse::text(
        "Oui ! Il nous en reste 3 en M, à 15 000 FCFA.",
    )])
    .await
    .unwrap();

    let reply = respond(fake.config()).await.unwrap();

    assert_eq!(reply.text, "Oui ! Il nous en reste 3 en M, à 15 000 FCFA.");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn the_request_carries_the_system_instruction_tools_and_the_conversation() {
    let fake = FakeGemini::scripted(vec![FakeResponse::text("Oui !")])
        .await
        .unwrap();

    respond(fake.config()).await.unwrap();

    let recorded = fake.recorded();
    assert_eq!(
        recorded[0].path,
        "/v1beta/models/gemini-3.5-flash:generateContent"
    );
    assert_eq!(recorded[0].api_key.as_deref(), Some(FAKE_API_KEY));
    assert_eq!(
        recorded[0].query, None,
        "the key must never travel in the query string"
    );
    let body = &recorded[0].body;
    let system = body["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(system.contains("Awa Mode"), "system instruction: {system}");
    assert!(
        system.contains(&robe_id().to_string()),
        "system instruction: {system}"
    );
    assert_eq!(
        body["tools"],
        json!([{ "functionDeclarations": tools::declarations() }])
    );
    assert_eq!(body["toolConfig"]["functionCallingConfig"]["mode"], "AUTO");
    assert_eq!(
        body["generationConfig"],
        json!({"temperature": 0.3, "maxOutputTokens": 1024}),
        "sampling parameters from the configuration"
    );
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Bonjour"}]},
            {"role": "model", "parts": [{"text": "Bonjour, bienvenue chez Awa Mode !"}]},
            // The customer's display name travels in the customer's own turn, not the instruction.
            {"role": "user", "parts": [
                {"text": "(Nom WhatsApp du client, choisi par lui : « Koffi »)"},
                {"text": "Vous avez la robe wax rouge en taille M ?"},
            ]},
        ])
    );
    assert!(!system.contains("Koffi"));
}

#[tokio::test]
async fn a_function_call_is_run_and_answered_after_the_model_content_echoed_verbatim() {
    // Arrange: a call with an id, a thought signature and an extra field the client does not know.
    let mut call = check_stock_call("fc_1", "c2lnbmF0dXJlLTE=");
    call.body["candidates"][0]["content"]["parts"][0]["futureField"] = json!({"keep": "me"});
    let model_content = call.body["candidates"][0]["content"].clone();
    let fake = FakeGemini::scripted(vec![
        call,
        FakeResponse::text("Oui ! Il nous en reste 3 en M, à 15 000 FCFA."),
    ])
    .await
    .unwrap();
    let stock = json!({"in_stock": true, "quantity": 3, "price_xof": 15000});
    let mut tools = RecordingTools::answering(stock.clone());

    // Act
    let reply = gemini(&fake.config())
        .respond(&awa_turn(), &mut tools)
        .await
        .unwrap();

    // Assert
    assert_eq!(reply.text, "Oui ! Il nous en reste 3 en M, à 15 000 FCFA.");
    assert_eq!(
        tools.calls,
        vec![(
            tools::SEARCH_PRODUCTS.to_owned(),
            json!({"query": "robe wax rouge M"})
        )]
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let contents = requests[1]["contents"].as_array().unwrap();
    assert_eq!(
        contents.len(),
        5,
        "history, question, model call, tool result"
    );
    assert_eq!(
        contents[..3],
        requests[0]["contents"].as_array().unwrap()[..]
    );
    assert_eq!(
        contents[3], model_content,
        "the model content must come back verbatim"
    );
    assert_eq!(
        contents[4],
        json!({"role": "user", "parts": [{"functionResponse": {
            "id": "fc_1", "name": tools::SEARCH_PRODUCTS, "response": stock
        }}]})
    );
}

#[tokio::test]
async fn parallel_calls_are_all_answered_in_order_and_scalar_results_are_wrapped() {
    let parts = vec![
        function_call_part(
            Some("a"),
            tools::SEARCH_PRODUCTS,
            json!({"query": "robe"}),
            Some("sig-a"),
        ),
        function_call_part(None, tools::ORDER_STATUS, json!({}), None),
    ];
    let fake = FakeGemini::scripted(vec![
        FakeResponse::ok(model_response(parts)),
        FakeResponse::text("Voilà."),
    ])
    .await
    .unwrap();
    let mut tools = RecordingTools::answering(json!(42));

    gemini(&fake.config())
        .respond(&awa_turn(), &mut tools)
        .await
        .unwrap();

    let names: Vec<&str> = tools.calls.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [tools::SEARCH_PRODUCTS, tools::ORDER_STATUS]);
    assert_eq!(
        fake.requests()[1]["contents"][4],
        json!({"role": "user", "parts": [
            {"functionResponse": {"id": "a", "name": tools::SEARCH_PRODUCTS, "response": {"result": 42}}},
            {"functionResponse": {"name": tools::ORDER_STATUS, "response": {"result": 42}}},
        ]})
    );
}

#[tokio::test]
async fn tool_rounds_are_capped_then_a_text_answer_is_forced() {
    // The model calls a tool whenever it may; with calling mode NONE it answers.
    let fake = FakeGemini::start(|request| {
        if request.body["toolConfig"]["functionCallingConfig"]["mode"] == "NONE" {
            FakeResponse::text("Je n'ai pas trouvé, voulez-vous autre chose ?")
        } else {
            let round = request.body["contents"].as_array().map_or(0, Vec::len);
            check_stock_call(&format!("fc_{round}"), &format!("sig-{round}"))
        }
    })
    .await
    .unwrap();
    let config = GeminiConfig {
        max_tool_rounds: 2,
        ..fake.config()
    };
    let mut tools = RecordingTools::answering(json!({"results": []}));

    let reply = gemini(&config)
        .respond(&awa_turn(), &mut tools)
        .await
        .unwrap();

    assert_eq!(reply.text, "Je n'ai pas trouvé, voulez-vous autre chose ?");
    assert_eq!(tools.calls.len(), 2, "one tool call per allowed round");
    let modes: Vec<Value> = fake
        .requests()
        .iter()
        .map(|r| r["toolConfig"]["functionCallingConfig"]["mode"].clone())
        .collect();
    assert_eq!(modes, [json!("AUTO"), json!("AUTO"), json!("NONE")]);
}

#[tokio::test]
async fn a_model_still_calling_tools_after_the_cap_is_transient() {
    let fake = FakeGemini::start(|request| {
        let round = request.body["contents"].as_array().map_or(0, Vec::len);
        check_stock_call(&format!("fc_{round}"), "sig")
    })
    .await
    .unwrap();
    let config = GeminiConfig {
        max_tool_rounds: 1,
        ..fake.config()
    };

    let result = respond(config).await;

    assert!(
        matches!(&result, Err(LlmError::Transient(m)) if m.contains("no text answer")),
        "{result:?}"
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn usage_is_summed_across_rounds() {
    let fake = FakeGemini::scripted(vec![
        check_stock_call("fc_1", "sig").with_usage(100, 10, 50),
        FakeResponse::text("Oui !").with_usage(180, 20, 5),
    ])
    .await
    .unwrap();

    let reply = respond(fake.config()).await.unwrap();

    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 280,
            output_tokens: 85,
            media_tokens: 0,
        },
        "output counts candidate and thinking tokens"
    );
}

#[tokio::test]
async fn a_rate_limit_carries_the_retry_delay_of_retry_info() {
    let cases = [
        ("12s", Duration::from_secs(12)),
        ("1.5s", Duration::from_millis(1500)),
    ];
    for (retry_delay, expected) in cases {
        let fake = FakeGemini::scripted(vec![FakeResponse::rate_limited(retry_delay)])
            .await
            .unwrap();

        let result = respond(fake.config()).await;

        assert!(
            matches!(result, Err(LlmError::RateLimited { retry_after: Some(d) }) if d == expected),
            "retryDelay {retry_delay}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_rate_limit_without_retry_info_uses_the_retry_after_header() {
    let fake = FakeGemini::scripted(vec![
        FakeResponse::error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted")
            .with_header("retry-after", "7"),
        FakeResponse::error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted"),
    ])
    .await
    .unwrap();

    let with_header = respond(fake.config()).await;
    let without = respond(fake.config()).await;

    assert!(
        matches!(with_header, Err(LlmError::RateLimited { retry_after: Some(d) }) if d == Duration::from_secs(7)),
        "{with_header:?}"
    );
    assert!(
        matches!(without, Err(LlmError::RateLimited { retry_after: None })),
        "{without:?}"
    );
}

#[tokio::test]
async fn server_errors_are_transient() {
    for (code, status) in [
        (500, "INTERNAL"),
        (502, "BAD_GATEWAY"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ] {
        let fake = FakeGemini::scripted(vec![FakeResponse::error(code, status, "try again")])
            .await
            .unwrap();

        let result = respond(fake.config()).await;

        assert!(
            matches!(&result, Err(LlmError::Transient(m)) if m.contains(status)),
            "HTTP {code}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_transient() {
    let fake = FakeGemini::scripted(vec![
        FakeResponse::text("trop tard").delayed(Duration::from_millis(1500)),
    ])
    .await
    .unwrap();
    let config = GeminiConfig {
        timeout_secs: 1,
        ..fake.config()
    };

    let result = respond(config).await;

    assert!(
        matches!(&result, Err(LlmError::Transient(m)) if m.contains("no answer within 1s")),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = GeminiConfig {
        api_key: Some(FAKE_API_KEY.into()),
        base_url: format!("http://127.0.0.1:{port}"),
        ..GeminiConfig::default()
    };

    let result = gemini(&config)
        .respond(&awa_turn(), &mut RecordingTools::answering(json!({})))
        .await;

    assert!(
        matches!(&result, Err(LlmError::Transient(m)) if m.contains("cannot connect")),
        "{result:?}"
    );
}

#[tokio::test]
async fn client_errors_are_permanent_and_never_show_the_key() {
    let cases = [
        // Some proxies echo the key back; it must not reach logs or dead letters.
        (
            400,
            "INVALID_ARGUMENT",
            format!("API key {FAKE_API_KEY} not valid. Please pass a valid API key."),
        ),
        (
            400,
            "FAILED_PRECONDITION",
            "User location is not supported for the API use without a billing account linked."
                .to_owned(),
        ),
        (403, "PERMISSION_DENIED", "Permission denied.".to_owned()),
        (
            404,
            "NOT_FOUND",
            "models/gemini-3.5-flash is not found".to_owned(),
        ),
    ];
    for (code, status, message) in cases {
        let fake = FakeGemini::scripted(vec![FakeResponse::error(code, status, &message)])
            .await
            .unwrap();

        let result = respond(fake.config()).await;

        match result {
            Err(LlmError::Permanent(m)) => {
                assert!(m.contains(status), "HTTP {code}: {m}");
                assert!(!m.contains(FAKE_API_KEY), "HTTP {code} leaks the key: {m}");
            }
            other => panic!("HTTP {code} {status}: expected Permanent, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_wrong_key_or_an_unknown_model_is_permanent() {
    let fake = FakeGemini::scripted(vec![]).await.unwrap();
    let wrong_key = GeminiConfig {
        api_key: Some("not-the-key".into()),
        ..fake.config()
    };
    let unknown_model = GeminiConfig {
        model: "gemini-0.1-retired".to_owned(),
        ..fake.config()
    };

    let key_result = respond(wrong_key).await;
    let model_result = respond(unknown_model).await;

    assert!(
        matches!(&key_result, Err(LlmError::Permanent(m)) if m.contains("API key not valid") && !m.contains("not-the-key")),
        "{key_result:?}"
    );
    assert!(
        matches!(&model_result, Err(LlmError::Permanent(m)) if m.contains("404")),
        "{model_result:?}"
    );
}

#[tokio::test]
async fn malformed_function_calls_are_transient() {
    let cases = [
        (
            FakeResponse::malformed_function_call(),
            "MALFORMED_FUNCTION_CALL",
        ),
        (
            FakeResponse::ok(model_response(vec![json!({"functionCall": {"args": {}}})])),
            "missing name",
        ),
        (
            FakeResponse::ok(model_response(vec![
                json!({"functionCall": {"name": "search_products", "args": "robe"}}),
            ])),
            "args is not an object",
        ),
    ];
    for (response, expected) in cases {
        let fake = FakeGemini::scripted(vec![response]).await.unwrap();
        let mut tools = RecordingTools::answering(json!({}));

        let result = gemini(&fake.config())
            .respond(&awa_turn(), &mut tools)
            .await;

        assert!(
            matches!(&result, Err(LlmError::Transient(m)) if m.contains(expected)),
            "{expected}: {result:?}"
        );
        assert!(tools.calls.is_empty(), "{expected}: no tool may run");
    }
}

#[tokio::test]
async fn empty_or_unusable_answers_are_transient() {
    let mut recitation = text_response("…");
    recitation["candidates"][0]["finishReason"] = json!("RECITATION");
    let cases = [
        (recitation, "finishReason RECITATION"),
        (json!({"candidates": []}), "no candidates"),
        (
            model_response(vec![json!({"text": "  "})]),
            "neither text nor a function call",
        ),
    ];
    for (body, expected) in cases {
        let fake = FakeGemini::scripted(vec![FakeResponse::ok(body)])
            .await
            .unwrap();

        let result = respond(fake.config()).await;

        assert!(
            matches!(&result, Err(LlmError::Transient(m)) if m.contains(expected)),
            "{expected}: {result:?}"
        );
    }
}

#[tokio::test]
async fn content_refusals_are_told_apart_so_they_are_never_retried() {
    let mut safety = text_response("…");
    safety["candidates"][0]["finishReason"] = json!("SAFETY");
    let cases = [
        (
            blocked_prompt_response("SAFETY"),
            "blocked the prompt (SAFETY)",
        ),
        (
            blocked_prompt_response("PROHIBITED_CONTENT"),
            "blocked the prompt (PROHIBITED_CONTENT)",
        ),
        (safety, "finishReason SAFETY"),
    ];
    for (body, expected) in cases {
        let fake = FakeGemini::scripted(vec![FakeResponse::ok(body)])
            .await
            .unwrap();

        let result = respond(fake.config()).await;

        assert!(
            matches!(&result, Err(LlmError::Refused(m)) if m.contains(expected)),
            "{expected}: {result:?}"
        );
    }
}

#[test]
fn no_api_key_means_no_gemini_provider() {
    for key in [None, Some(""), Some("   ")] {
        let config = GeminiConfig {
            api_key: key.map(Into::into),
            ..GeminiConfig::default()
        };

        let gemini = Gemini::from_config(&config);

        assert!(matches!(gemini, Ok(None)), "key {key:?}: {gemini:?}");
    }
}

#[test]
fn a_model_id_that_is_not_an_id_is_refused() {
    let config = GeminiConfig {
        api_key: Some(FAKE_API_KEY.into()),
        model: "../v1/evil?x=".to_owned(),
        ..GeminiConfig::default()
    };

    assert!(matches!(
        Gemini::from_config(&config),
        Err(LlmError::Permanent(_))
    ));
}

#[tokio::test]
async fn the_fake_rejects_a_history_that_drops_the_thought_signature() {
    // Guards the fake itself: a client that re-serializes the model content must fail as on Gemini 3.
    let fake = FakeGemini::scripted(vec![check_stock_call("fc_1", "sig-1")])
        .await
        .unwrap();
    let first = respond(fake.config()).await;
    assert!(first.is_err(), "the script holds only the call");
    let mut history = fake.requests()[1]["contents"].clone();
    history[3]["parts"][0]
        .as_object_mut()
        .unwrap()
        .remove("thoughtSignature");

    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1beta/models/gemini-3.5-flash:generateContent",
            fake.base_url()
        ))
        .header("x-goog-api-key", FAKE_API_KEY)
        .json(&json!({ "contents": history }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing a thought_signature"),
        "{body}"
    );
}

/// Bytes that start like an Ogg Opus voice note; the fake "hears" them by their content.
const VOICE_NOTE: &[u8] = b"OggS\0\x02voice-note:combien la robe wax rouge";
const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0photo-of-a-red-wax-dress";

fn with_media(kind: schemas::MediaKind, mime: &str, bytes: &[u8], text: &str) -> Turn {
    Turn {
        incoming: vec![text.to_owned()],
        media: vec![workers::llm::TurnMedia {
            message: 0,
            kind,
            mime: mime.to_owned(),
            bytes: bytes.to_vec(),
        }],
        ..awa_turn()
    }
}

#[tokio::test]
async fn a_voice_note_is_transcribed_then_answered_with_its_audio_and_words() {
    let fake = FakeGemini::start(|request| {
        let media = workers::llm::gemini::fake::inline_media(&request.body);
        if workers::llm::gemini::fake::is_transcription(&request.body) {
            assert_eq!(media, vec![("audio/ogg".to_owned(), VOICE_NOTE.to_vec())]);
            return FakeResponse::text("C'est combien la robe wax rouge ?").with_usage(120, 9, 0);
        }
        FakeResponse::text("La robe wax rouge est à 15 000 FCFA.")
    })
    .await
    .unwrap();
    let turn = with_media(schemas::MediaKind::Audio, "audio/ogg", VOICE_NOTE, "");

    let reply = gemini(&fake.config())
        .respond(&turn, &mut RecordingTools::answering(json!({})))
        .await
        .unwrap();

    assert_eq!(reply.text, "La robe wax rouge est à 15 000 FCFA.");
    assert_eq!(
        reply.transcripts,
        vec![(0, "C'est combien la robe wax rouge ?".to_owned())]
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "a transcription, then the turn");
    let turn_request = &requests[1];
    let last = turn_request["contents"].as_array().unwrap().last().unwrap();
    assert_eq!(last["role"], "user");
    let parts = last["parts"].as_array().unwrap();
    let audio = parts
        .iter()
        .position(|p| p["inline_data"]["mime_type"] == "audio/ogg")
        .expect("the voice note goes inline");
    let words = parts[audio + 1]["text"].as_str().unwrap();
    assert!(
        words.contains("« C'est combien la robe wax rouge ? »"),
        "{words}"
    );
    assert!(
        turn_request.get("tools").is_some(),
        "the same tools as a typed message"
    );
}

#[tokio::test]
async fn an_inaudible_voice_note_has_no_transcript_and_the_model_is_told() {
    let fake = FakeGemini::start(|request| {
        if workers::llm::gemini::fake::is_transcription(&request.body) {
            return FakeResponse::text("[inaudible]");
        }
        FakeResponse::text("Je n'ai pas bien entendu, pouvez-vous répéter ou écrire ?")
    })
    .await
    .unwrap();
    let turn = with_media(schemas::MediaKind::Audio, "audio/ogg", VOICE_NOTE, "");

    let reply = gemini(&fake.config())
        .respond(&turn, &mut RecordingTools::answering(json!({})))
        .await
        .unwrap();

    assert!(reply.transcripts.is_empty());
    let turn_request = &fake.requests()[1];
    assert!(turn_request.to_string().contains("inaudible"));
}

#[tokio::test]
async fn a_photo_goes_to_the_model_inline_with_its_caption_and_no_transcription() {
    let fake = FakeGemini::scripted(vec![FakeResponse::text("C'est notre robe wax rouge.")])
        .await
        .unwrap();
    let turn = with_media(
        schemas::MediaKind::Image,
        "image/jpeg",
        PHOTO,
        "c'est combien ça ?",
    );

    gemini(&fake.config())
        .respond(&turn, &mut RecordingTools::answering(json!({})))
        .await
        .unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        workers::llm::gemini::fake::inline_media(&requests[0]),
        vec![("image/jpeg".to_owned(), PHOTO.to_vec())]
    );
    assert!(requests[0].to_string().contains("c'est combien ça ?"));
}

#[tokio::test]
async fn media_tokens_are_counted_apart_from_the_prompt() {
    let mut body = text_response("Oui");
    body["usageMetadata"] = json!({
        "promptTokenCount": 900, "candidatesTokenCount": 10,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 640}, {"modality": "IMAGE", "tokenCount": 258}, {"modality": "AUDIO", "tokenCount": 2}]
    });
    let fake = FakeGemini::scripted(vec![FakeResponse::ok(body)])
        .await
        .unwrap();
    let turn = with_media(schemas::MediaKind::Image, "image/jpeg", PHOTO, "");

    let reply = gemini(&fake.config())
        .respond(&turn, &mut RecordingTools::answering(json!({})))
        .await
        .unwrap();

    assert_eq!(reply.usage.prompt_tokens, 900);
    assert_eq!(reply.usage.media_tokens, 260);
}
