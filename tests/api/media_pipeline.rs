//! Voice notes and photos through the pipeline: a customer message carrying media (stored sealed in the shop's
//! media store, referenced by the message, as the ingress and the simulator do) is answered by Gemini (the fake,
//! over the real `inline_data` wire format) from what was said or shown, honestly by the offline assistant, and
//! politely without any model when the file cannot be read. Product photos go out with their name and price.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use schemas::{Attachment, Channel, InboundMessage, MediaKind, MediaRefusal};
use serde_json::{Value, json};
use sqlx::PgPool;
use store::TenantCtx;
use workers::llm::LlmProvider;
use workers::llm::gemini::Gemini;
use workers::llm::gemini::fake::{
    FAKE_API_KEY, FakeGemini, FakeRequest, FakeResponse, inline_media, is_transcription,
};

use crate::bot_support::{
    chat_messages, conversation, outbound_replies, pipeline, start_offline_worker, start_worker,
};
use crate::helpers::{Shop, TestApp, spawn_app};
use crate::ingress_support::{activate_subscription, eventually};

const CUSTOMER: &str = "2250701020304@s.whatsapp.net";

/// An Ogg voice note saying "c'est combien le pagne wax ?" (the fake hears it by its bytes).
pub(crate) const PAGNE_VOICE_NOTE: &[u8] = b"OggS\0\x02\0\0voice:c-est-combien-le-pagne-wax";
/// A JPEG photo of the shop's bazin dress (the fake sees it by its bytes).
pub(crate) const BAZIN_PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0photo:robe-bazin-bleue";

/// What the fake model understands in a media: what it hears (for a voice note) and what it searches for.
struct Understood {
    bytes: &'static [u8],
    heard: &'static str,
    query: &'static str,
}

const UNDERSTOOD: &[Understood] = &[
    Understood {
        bytes: PAGNE_VOICE_NOTE,
        heard: "C'est combien le pagne wax ?",
        query: "pagne wax",
    },
    Understood {
        bytes: BAZIN_PHOTO,
        heard: "",
        query: "robe bazin bleue",
    },
];

/// A small sales model: transcribes the voice notes it knows, searches the catalogue for what a voice note
/// says or a photo shows, then quotes the first product found (and sends its photo when asked to show it).
pub(crate) fn sales_model(request: &FakeRequest) -> FakeResponse {
    let body = &request.body;
    let media = inline_media(body);
    let understood = |bytes: &[u8]| UNDERSTOOD.iter().find(|u| u.bytes == bytes);
    if is_transcription(body) {
        let heard = media
            .first()
            .and_then(|(_, bytes)| understood(bytes))
            .map_or("[inaudible]", |u| u.heard);
        return FakeResponse::text(heard).with_usage(90, 8, 0);
    }
    let contents = body["contents"].as_array().cloned().unwrap_or_default();
    let last = contents.last().cloned().unwrap_or(Value::Null);
    if let Some(result) = last["parts"][0]["functionResponse"]["response"].as_object() {
        if let Some(product) = result.get("products").and_then(|p| p[0].as_object()) {
            return FakeResponse::text(&format!(
                "Le {} est à {} FCFA.",
                product["name"].as_str().unwrap_or_default(),
                product["price_xof"]
            ));
        }
        return FakeResponse::text("Je vous envoie la photo.");
    }
    let query = media
        .iter()
        .find_map(|(_, bytes)| understood(bytes))
        .map_or("", |u| u.query);
    FakeResponse::function_call(
        Some("call-1"),
        workers::llm::tools::SEARCH_PRODUCTS,
        json!({ "query": query }),
        Some("sig-1"),
    )
}

pub(crate) fn gemini(fake: &FakeGemini) -> Arc<dyn LlmProvider> {
    Arc::new(Gemini::new(FAKE_API_KEY.into(), &fake.config()).expect("provider"))
}

pub(crate) async fn shop_selling_pagnes(app: &TestApp) -> Shop {
    let shop = app.signup("Boutique Awa").await;
    for (name, price) in [
        ("Pagne wax", 7_500),
        ("Robe bazin bleue", 25_000),
        ("Sac en cuir", 12_000),
    ] {
        app.create_product_ok(&shop, json!({"name": name, "price_xof": price}))
            .await;
    }
    activate_subscription(app, shop.tenant_id).await;
    shop
}

/// Stores `bytes` in the shop's media store as the ingress does, and returns the message's attachment.
pub(crate) async fn stored(
    app: &TestApp,
    shop: &Shop,
    wa_id: &str,
    kind: MediaKind,
    mime: &str,
    bytes: &[u8],
) -> Attachment {
    let media_id = store::media::inbound_media_id(shop.tenant_id, wa_id);
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    let key = app.master_key.data_key(&mut tx).await.expect("data key");
    store::media::put(
        &mut tx,
        &key,
        &store::media::NewMedia {
            media_id,
            kind,
            mime,
            bytes,
            expires_at: Some(Utc::now() + chrono::Duration::days(30)),
            product: None,
        },
    )
    .await
    .expect("stored");
    tx.commit().await.expect("commit");
    Attachment {
        kind,
        media_id: Some(media_id),
        mime: mime.to_owned(),
        size_bytes: bytes.len() as u64,
        voice: kind == MediaKind::Audio,
        seconds: Some(3),
        file_name: None,
        refused: None,
    }
}

/// A WhatsApp customer's message with `attachment`, published as the ingress does.
pub(crate) async fn customer_sends(
    app: &TestApp,
    shop: &Shop,
    wa_id: &str,
    text: &str,
    attachment: Attachment,
) {
    let message = InboundMessage {
        tenant_id: shop.tenant_id,
        channel: Channel::Whatsapp,
        customer_jid: CUSTOMER.to_owned(),
        customer_name: "Koffi".to_owned(),
        wa_message_id: wa_id.to_owned(),
        text: text.to_owned(),
        attachment: Some(attachment),
        location: None,
        timestamp: Utc::now(),
        from_owner: false,
    };
    testkit::publish::publish_inbound(&app.nats, &app.subjects, &message).await;
}

/// The bot's replies to the customer, once there are `count` of them.
async fn replies(app: &TestApp, shop: &Shop, count: usize) -> Vec<Value> {
    eventually(
        Duration::from_secs(10),
        &format!("{count} replies"),
        || async { bot_messages(app, shop).await.len() >= count },
    )
    .await;
    bot_messages(app, shop).await
}

async fn bot_messages(app: &TestApp, shop: &Shop) -> Vec<Value> {
    chat_messages(app, shop, CUSTOMER)
        .await
        .into_iter()
        .filter(|m| m["author"] == "bot")
        .collect()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_voice_note_asking_a_price_gets_the_price_and_its_transcript_is_shown_to_the_shop(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = shop_selling_pagnes(&app).await;
    let fake = FakeGemini::start(sales_model).await.expect("fake");
    let _worker = start_worker(&app, gemini(&fake));
    let voice = stored(
        &app,
        &shop,
        "WA-VOICE-1",
        MediaKind::Audio,
        "audio/ogg",
        PAGNE_VOICE_NOTE,
    )
    .await;

    customer_sends(&app, &shop, "WA-VOICE-1", "", voice).await;

    let answer = replies(&app, &shop, 1).await;
    assert_eq!(answer[0]["body"], "Le Pagne wax est à 7500 FCFA.");
    let messages = chat_messages(&app, &shop, CUSTOMER).await;
    let note = messages
        .iter()
        .find(|m| m["author"] == "customer")
        .expect("the voice note");
    assert_eq!(note["transcript"], "C'est combien le pagne wax ?");
    assert_eq!(note["attachment"]["kind"], "audio");
    let requests = fake.requests();
    assert!(is_transcription(&requests[0]), "transcribed first");
    assert_eq!(
        inline_media(&requests[1]),
        vec![("audio/ogg".to_owned(), PAGNE_VOICE_NOTE.to_vec())],
        "the turn hears the audio itself"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_photo_of_a_product_gets_that_product_and_its_price(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = shop_selling_pagnes(&app).await;
    let fake = FakeGemini::start(sales_model).await.expect("fake");
    let _worker = start_worker(&app, gemini(&fake));
    let photo = stored(
        &app,
        &shop,
        "WA-PHOTO-1",
        MediaKind::Image,
        "image/jpeg",
        BAZIN_PHOTO,
    )
    .await;

    customer_sends(
        &app,
        &shop,
        "WA-PHOTO-1",
        "vous avez ça ? c'est combien ?",
        photo,
    )
    .await;

    let answer = replies(&app, &shop, 1).await;
    assert_eq!(answer[0]["body"], "Le Robe bazin bleue est à 25000 FCFA.");
    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        2,
        "no transcription for a photo: a search, then the answer"
    );
    assert!(
        requests[0]
            .to_string()
            .contains("vous avez ça ? c'est combien ?")
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_file_too_large_gets_a_polite_refusal_without_asking_the_model(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = shop_selling_pagnes(&app).await;
    let fake = FakeGemini::start(sales_model).await.expect("fake");
    let _worker = start_worker(&app, gemini(&fake));
    let too_large = Attachment {
        kind: MediaKind::Audio,
        media_id: None,
        mime: "audio/ogg".into(),
        size_bytes: 24 * 1024 * 1024,
        voice: true,
        seconds: Some(900),
        file_name: None,
        refused: Some(MediaRefusal::TooLarge),
    };

    customer_sends(&app, &shop, "WA-BIG-1", "", too_large).await;

    let answer = replies(&app, &shop, 1).await;
    let text = answer[0]["body"].as_str().expect("text");
    assert!(text.contains("trop lourd"), "{text}");
    assert!(text.contains("24,0 Mo"), "{text}");
    assert!(text.contains("écrire votre demande"), "{text}");
    assert!(
        fake.requests().is_empty(),
        "no model call for a file it cannot read"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn without_a_model_key_the_bot_asks_to_write_and_the_shop_is_alerted(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = shop_selling_pagnes(&app).await;
    let _worker = start_offline_worker(&app);
    let voice = stored(
        &app,
        &shop,
        "WA-VOICE-2",
        MediaKind::Audio,
        "audio/ogg",
        PAGNE_VOICE_NOTE,
    )
    .await;

    customer_sends(&app, &shop, "WA-VOICE-2", "", voice).await;

    let answer = replies(&app, &shop, 1).await;
    let text = answer[0]["body"].as_str().expect("text");
    assert!(
        text.contains("je ne peux pas écouter les messages vocaux"),
        "{text}"
    );
    assert!(text.contains("écrire votre demande"), "{text}");
    assert!(!text.contains("FCFA"), "never a guess at the price: {text}");
    let chat = conversation(&app, &shop, CUSTOMER).await.expect("chat");
    assert!(
        chat["attention_reason"]
            .as_str()
            .is_some_and(|r| r.contains("message vocal")),
        "the shop is alerted: {chat}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_video_is_not_watched_and_the_shop_is_alerted_a_sticker_is_left_unanswered(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = shop_selling_pagnes(&app).await;
    let _worker = start_offline_worker(&app);
    let unsupported = |kind| Attachment {
        kind,
        media_id: None,
        mime: "video/mp4".into(),
        size_bytes: 2_000_000,
        voice: false,
        seconds: Some(12),
        file_name: None,
        refused: Some(MediaRefusal::Unsupported),
    };

    customer_sends(
        &app,
        &shop,
        "WA-STICKER-1",
        "",
        unsupported(MediaKind::Sticker),
    )
    .await;
    eventually(Duration::from_secs(10), "sticker settled", || async {
        chat_messages(&app, &shop, CUSTOMER)
            .await
            .iter()
            .any(|m| m["status"] == "skipped")
    })
    .await;
    customer_sends(&app, &shop, "WA-VIDEO-1", "", unsupported(MediaKind::Video)).await;

    let answer = replies(&app, &shop, 1).await;
    assert_eq!(answer.len(), 1, "the sticker got no reply");
    assert!(
        answer[0]["body"]
            .as_str()
            .is_some_and(|t| t.contains("Je ne peux pas regarder les vidéos")),
        "{answer:?}"
    );
    let chat = conversation(&app, &shop, CUSTOMER).await.expect("chat");
    assert!(
        chat["attention_reason"]
            .as_str()
            .is_some_and(|r| r.contains("vidéo"))
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn one_shop_can_never_read_another_shops_media(pool: PgPool) {
    let app = spawn_app(pool).await;
    let awa = app.signup("Boutique Awa").await;
    let koffi = app.signup("Boutique Koffi").await;
    let voice = stored(
        &app,
        &awa,
        "WA-PRIVATE",
        MediaKind::Audio,
        "audio/ogg",
        PAGNE_VOICE_NOTE,
    )
    .await;
    let media_id = voice.media_id.expect("id");

    // Row-level security: Koffi's scope does not see Awa's row.
    let mut tx = app
        .db
        .tenant(TenantCtx::new(koffi.tenant_id))
        .await
        .expect("tx");
    let koffi_key = app.master_key.data_key(&mut tx).await.expect("key");
    let seen = store::media::get(&mut tx, &koffi_key, media_id).await;
    assert!(matches!(seen, Err(store::Error::NotFound)), "{seen:?}");
    drop(tx);

    // Per-shop keys: even the raw sealed bytes do not open with Koffi's key, and are not the plaintext.
    let sealed: Vec<u8> = sqlx::query_scalar("select sealed from media where media_id = $1")
        .bind(media_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("row");
    assert!(
        !sealed
            .windows(PAGNE_VOICE_NOTE.len())
            .any(|w| w == PAGNE_VOICE_NOTE)
    );
    assert!(
        koffi_key
            .open(&format!("media/{media_id}"), &sealed)
            .is_err()
    );
    let mut tx = app
        .db
        .tenant(TenantCtx::new(awa.tenant_id))
        .await
        .expect("tx");
    let awa_key = app.master_key.data_key(&mut tx).await.expect("key");
    let own = store::media::get(&mut tx, &awa_key, media_id)
        .await
        .expect("own media");
    assert_eq!(own.bytes.as_deref(), Some(PAGNE_VOICE_NOTE));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn media_bytes_expire_after_the_retention_period_and_the_transcript_stays(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let fresh = stored(
        &app,
        &shop,
        "WA-FRESH",
        MediaKind::Audio,
        "audio/ogg",
        PAGNE_VOICE_NOTE,
    )
    .await;
    let old = stored(
        &app,
        &shop,
        "WA-OLD",
        MediaKind::Image,
        "image/jpeg",
        BAZIN_PHOTO,
    )
    .await;
    sqlx::query("update media set expires_at = now() - interval '1 minute' where media_id = $1")
        .bind(old.media_id)
        .execute(&app.admin_db)
        .await
        .expect("aged");

    pipeline(&app, Arc::new(workers::llm::offline::Offline::new()))
        .sweep_once()
        .await;

    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    let key = app.master_key.data_key(&mut tx).await.expect("key");
    let old = store::media::get(&mut tx, &key, old.media_id.expect("id"))
        .await
        .expect("row kept");
    assert_eq!(old.bytes, None, "expired bytes are gone");
    let fresh = store::media::get(&mut tx, &key, fresh.media_id.expect("id"))
        .await
        .expect("row");
    assert!(fresh.bytes.is_some(), "media within retention are kept");
}

/// Serves one JPEG at `/robe.jpg`, counting the fetches.
pub(crate) async fn photo_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/robe.jpg",
        axum::routing::get(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                (
                    [(axum::http::header::CONTENT_TYPE, "image/jpeg")],
                    BAZIN_PHOTO,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/robe.jpg"), hits)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn asked_to_see_an_item_the_bot_sends_its_photo_with_name_and_price_fetched_once(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let (url, hits) = photo_server().await;
    let product: Value = app
        .create_product_ok(
            &shop,
            json!({"name": "Robe bazin bleue", "price_xof": 25000, "image_url": url}),
        )
        .await;
    let product_id = product["product_id"].as_str().expect("id").to_owned();
    activate_subscription(&app, shop.tenant_id).await;
    let fake = FakeGemini::start(move |request| {
        let contents = request.body["contents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if contents
            .last()
            .is_some_and(|c| c["parts"][0].get("functionResponse").is_some())
        {
            return FakeResponse::text("Voici la robe bazin bleue !");
        }
        FakeResponse::function_call(
            Some("call-photo"),
            workers::llm::tools::SEND_PRODUCT_PHOTO,
            json!({ "product_id": product_id }),
            Some("sig-photo"),
        )
    })
    .await
    .expect("fake");
    let _worker = start_worker(&app, gemini(&fake));

    for (turn, text) in ["montrez-moi la robe bazin", "encore une fois la photo svp"]
        .into_iter()
        .enumerate()
    {
        let (_, message) = crate::bot_support::inbound(&app, &shop, CUSTOMER, text);
        let message = InboundMessage {
            channel: Channel::Whatsapp,
            ..message
        };
        testkit::publish::publish_inbound(&app.nats, &app.subjects, &message).await;
        let count = 2 * (turn + 1);
        eventually(
            Duration::from_secs(10),
            "photo and text published",
            || async { outbound_replies(&app, &shop).await.len() >= count },
        )
        .await;
        let sent = outbound_replies(&app, &shop).await;
        let (photo, text) = (&sent[count - 2], &sent[count - 1]);
        let image = photo.image.as_ref().expect("the photo comes first");
        assert_eq!(photo.text, "Robe bazin bleue — 25 000 FCFA");
        assert_eq!(image.mime, "image/jpeg");
        assert_eq!(text.text, "Voici la robe bazin bleue !");
        assert!(text.image.is_none());
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "fetched once, then sent from the cache"
    );
    let photos: Vec<Value> = bot_messages(&app, &shop)
        .await
        .into_iter()
        .filter(|m| m["attachment"]["kind"] == "image")
        .collect();
    assert_eq!(photos.len(), 2, "the shop sees the photos the bot sent");
}
