//! Voice notes and photos end to end, as a customer on WhatsApp meets them: through the sandbox gateway
//! (which announces media as WhatsApp does — kind, type, size — and serves the bytes when the ingress
//! downloads them), the ingress (which stores them sealed and publishes a reference), the workers and the
//! fake Gemini (real `inline_data` wire format), and back out through the sandbox.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ingress::names;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use workers::llm::gemini::fake::{FakeGemini, inline_media, is_transcription};

use workers::llm::LlmProvider;

use crate::bot_support::{
    RunningWorker, chat_messages, conversation, start_offline_worker, start_worker,
};
use crate::helpers::{Shop, TestApp, spawn_app};
use crate::ingress_support::{
    RunningNode, eventually, sent_box, sent_within, set_linked, start_node_owning,
};
use crate::media_pipeline::{
    BAZIN_PHOTO, PAGNE_VOICE_NOTE, gemini, photo_server, sales_model, shop_selling_pagnes,
};

const CUSTOMER: &str = "2250707080910@s.whatsapp.net";

/// The customer sends `media` (and `caption`) to the shop's number, as WhatsApp delivers it.
async fn customer_sends(
    app: &TestApp,
    tenant_id: Uuid,
    id: &str,
    caption: Option<&str>,
    media: Value,
) {
    let message = json!({
        "id": id,
        "from": CUSTOMER,
        "name": "Koffi",
        "text": caption,
        "kind": "direct",
        "from_me": false,
        "media": media,
    });
    app.nats
        .publish(
            names::sandbox_inbound(&app.subjects, tenant_id),
            serde_json::to_vec(&message).expect("json").into(),
        )
        .await
        .expect("inject");
    app.nats.flush().await.expect("flush");
}

fn voice_note(bytes: &[u8]) -> Value {
    json!({ "kind": "audio", "mime": "audio/ogg; codecs=opus", "data_base64": BASE64.encode(bytes),
            "voice": true, "seconds": 3 })
}

fn photo(bytes: &[u8]) -> Value {
    json!({ "kind": "image", "mime": "image/jpeg", "data_base64": BASE64.encode(bytes) })
}

/// A shop selling pagnes with its number linked through the sandbox, a worker answering with `provider`, the
/// ingress node holding the shop, and what the sandbox sends from now on.
async fn linked_shop(
    app: &TestApp,
    provider: Arc<dyn LlmProvider>,
) -> (Shop, RunningWorker, RunningNode, async_nats::Subscriber) {
    let shop = shop_selling_pagnes(app).await;
    set_linked(app, shop.tenant_id).await;
    let worker = start_worker(app, provider);
    let node = start_node_owning(app, shop.tenant_id).await;
    let sent = sent_box(app, shop.tenant_id).await;
    (shop, worker, node, sent)
}

/// Texts (and photos) the sandbox sent to the customer within `wait`, once there are `count`.
async fn sent_to_customer(
    sent: &mut async_nats::Subscriber,
    count: usize,
) -> Vec<ingress::sandbox::SandboxSent> {
    let mut all = Vec::new();
    for _ in 0..20 {
        all.extend(sent_within(sent, Duration::from_millis(500)).await);
        if all.len() >= count {
            break;
        }
    }
    all.retain(|s| s.to == CUSTOMER);
    all
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_asks_a_price_by_voice_note_and_gets_it_with_the_transcript_shown_to_the_shop(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let fake = FakeGemini::start(sales_model).await.expect("fake");
    let (shop, _worker, _node, mut sent) = linked_shop(&app, gemini(&fake)).await;

    customer_sends(
        &app,
        shop.tenant_id,
        "WA-VOICE-E2E",
        None,
        voice_note(PAGNE_VOICE_NOTE),
    )
    .await;

    let replies = sent_to_customer(&mut sent, 1).await;
    assert_eq!(replies.len(), 1, "one answer: {replies:?}");
    assert_eq!(replies[0].text, "Le Pagne wax est à 7500 FCFA.");
    let messages = chat_messages(&app, &shop, CUSTOMER).await;
    let note = messages
        .iter()
        .find(|m| m["author"] == "customer")
        .expect("the voice note is in the conversation");
    assert_eq!(note["transcript"], "C'est combien le pagne wax ?");
    assert_eq!(note["attachment"]["kind"], "audio");
    assert_eq!(
        note["attachment"]["mime"], "audio/ogg",
        "the type is read from the bytes"
    );
    let requests = fake.requests();
    assert!(is_transcription(&requests[0]));
    assert_eq!(
        inline_media(&requests[0]),
        vec![("audio/ogg".to_owned(), PAGNE_VOICE_NOTE.to_vec())],
        "the model hears exactly what the customer sent"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_shows_a_photo_and_gets_the_matching_product_and_price(pool: PgPool) {
    let app = spawn_app(pool).await;
    let fake = FakeGemini::start(sales_model).await.expect("fake");
    let (shop, _worker, _node, mut sent) = linked_shop(&app, gemini(&fake)).await;

    customer_sends(
        &app,
        shop.tenant_id,
        "WA-PHOTO-E2E",
        Some("vous avez ça ?"),
        photo(BAZIN_PHOTO),
    )
    .await;

    let replies = sent_to_customer(&mut sent, 1).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].text, "Le Robe bazin bleue est à 25000 FCFA.");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_file_larger_than_the_limit_is_not_downloaded_and_gets_a_polite_refusal(pool: PgPool) {
    let app = spawn_app(pool).await;
    let fake = FakeGemini::start(sales_model).await.expect("fake");
    let (shop, _worker, _node, mut sent) = linked_shop(&app, gemini(&fake)).await;
    let mut huge = photo(BAZIN_PHOTO);
    huge["declared_size"] = json!(20 * 1024 * 1024);

    customer_sends(&app, shop.tenant_id, "WA-HUGE-E2E", None, huge).await;

    let replies = sent_to_customer(&mut sent, 1).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].text.contains("trop lourd"),
        "{}",
        replies[0].text
    );
    assert!(replies[0].text.contains("20,0 Mo"), "{}", replies[0].text);
    assert!(
        fake.requests().is_empty(),
        "the model is not asked about a file it cannot get"
    );
    let stored: i64 = sqlx::query_scalar("select count(*) from media where tenant_id = $1")
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("count");
    assert_eq!(stored, 0, "nothing stored");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn with_no_model_key_a_voice_note_gets_an_honest_answer_and_the_shop_is_alerted(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let (shop, _worker, _node, mut sent) =
        linked_shop(&app, Arc::new(workers::llm::offline::Offline::new())).await;

    customer_sends(
        &app,
        shop.tenant_id,
        "WA-VOICE-OFF",
        None,
        voice_note(PAGNE_VOICE_NOTE),
    )
    .await;

    let replies = sent_to_customer(&mut sent, 1).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let text = &replies[0].text;
    assert!(
        text.contains("je ne peux pas écouter les messages vocaux"),
        "{text}"
    );
    assert!(text.contains("écrire votre demande"), "{text}");
    assert!(!text.contains("FCFA"), "no guess: {text}");
    eventually(Duration::from_secs(5), "the shop is alerted", || async {
        conversation(&app, &shop, CUSTOMER).await.is_some_and(|c| {
            c["attention_reason"]
                .as_str()
                .is_some_and(|r| r.contains("message vocal"))
        })
    })
    .await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_bot_shows_a_product_by_sending_its_photo_with_name_and_price(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let (url, _) = photo_server().await;
    app.create_product_ok(
        &shop,
        json!({"name": "Robe bazin bleue", "price_xof": 25000, "image_url": url}),
    )
    .await;
    crate::ingress_support::activate_subscription(&app, shop.tenant_id).await;
    set_linked(&app, shop.tenant_id).await;
    let _worker = start_offline_worker(&app);
    let _node = start_node_owning(&app, shop.tenant_id).await;
    let mut sent = sent_box(&app, shop.tenant_id).await;

    crate::ingress_support::customer_writes(
        &app,
        shop.tenant_id,
        CUSTOMER,
        "WA-SHOW-1",
        "envoyez-moi une photo de la robe bazin svp",
    )
    .await;

    let replies = sent_to_customer(&mut sent, 2).await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    let image = replies[0].image.as_ref().expect("the photo goes first");
    assert_eq!(image.mime, "image/jpeg");
    assert_eq!(image.size_bytes, BAZIN_PHOTO.len() as u64);
    assert_eq!(replies[0].text, "Robe bazin bleue — 25 000 FCFA");
    assert!(replies[1].image.is_none());
    assert!(
        replies[1].text.contains("25 000 FCFA"),
        "{}",
        replies[1].text
    );
}
