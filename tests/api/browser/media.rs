//! Voice notes and photos on a phone: the conversation plays the customer's voice note with its transcript,
//! shows the photo, says what was not kept and offers the shared location as a delivery address; the test chat
//! offers a file field.

use std::time::Duration;

use base64::Engine;
use schemas::{Attachment, Channel, InboundMessage, Location, MediaKind, MediaRefusal};
use sqlx::PgPool;

use super::{Viewport, WAIT};
use crate::bot_support::{chat_messages, start_offline_worker};
use crate::helpers::spawn_app;
use crate::ingress_support::{activate_subscription, eventually};
use crate::media_pipeline::{PAGNE_VOICE_NOTE, customer_sends, stored};

const CUSTOMER: &str = "2250701020304@s.whatsapp.net";
/// A 1×1 PNG, a real image the browser decodes.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_shop_hears_the_voice_note_reads_its_transcript_and_sees_the_photo_on_a_phone(
    pool: PgPool,
) {
    // Arrange: a customer sent a voice note, a photo, a video and a location; the bot answered.
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    activate_subscription(&app, shop.tenant_id).await;
    let _worker = start_offline_worker(&app);
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .expect("png");
    let voice = stored(
        &app,
        &shop,
        "WA-B-VOICE",
        MediaKind::Audio,
        "audio/ogg",
        PAGNE_VOICE_NOTE,
    )
    .await;
    customer_sends(&app, &shop, "WA-B-VOICE", "", voice).await;
    let photo = stored(
        &app,
        &shop,
        "WA-B-PHOTO",
        MediaKind::Image,
        "image/png",
        &png,
    )
    .await;
    customer_sends(&app, &shop, "WA-B-PHOTO", "vous avez ce modèle ?", photo).await;
    let video = Attachment {
        kind: MediaKind::Video,
        media_id: None,
        mime: "video/mp4".into(),
        size_bytes: 3_000_000,
        voice: false,
        seconds: Some(14),
        file_name: None,
        refused: Some(MediaRefusal::Unsupported),
    };
    customer_sends(&app, &shop, "WA-B-VIDEO", "", video).await;
    let location = InboundMessage {
        tenant_id: shop.tenant_id,
        channel: Channel::Whatsapp,
        customer_jid: CUSTOMER.into(),
        customer_name: "Koffi".into(),
        wa_message_id: "WA-B-LOC".into(),
        text: String::new(),
        attachment: None,
        location: Some(Location {
            latitude: 5.3599,
            longitude: -4.0083,
            name: Some("Carrefour Riviera 2".into()),
            address: Some("Cocody, Abidjan".into()),
        }),
        timestamp: chrono::Utc::now(),
        from_owner: false,
    };
    testkit::publish::publish_inbound(&app.nats, &app.subjects, &location).await;
    eventually(
        Duration::from_secs(15),
        "every message answered",
        || async {
            let messages = chat_messages(&app, &shop, CUSTOMER).await;
            messages
                .iter()
                .filter(|m| m["author"] == "customer")
                .count()
                == 4
                && messages.iter().all(|m| m["status"] != "pending")
        },
    )
    .await;
    sqlx::query("update message set transcript = 'C''est combien le pagne wax ?' where wa_message_id = 'WA-B-VOICE'")
        .execute(&app.admin_db)
        .await
        .expect("transcript");

    // Act: the owner opens the conversation on a phone.
    let phone = app.browser(Viewport::Phone).await;
    phone.goto("/login").await;
    phone.fill("email", &shop.email).await;
    phone.fill("password", "motdepasse-solide").await;
    phone.submit("#login-submit").await;
    phone.goto("/app/conversations").await;
    let href = phone
        .script("return document.querySelector('#chat-list .chat-row a').getAttribute('href');")
        .await;
    phone.goto(href.as_str().expect("a chat")).await;
    phone
        .wait_for_text("main", "C'est combien le pagne wax ?", WAIT)
        .await;
    phone
        .script("document.getElementById('transcript').scrollTop = 0; return true;")
        .await;
    let shot = phone.screenshot("conversation-voice-photo").await;

    // Assert
    let players = phone
        .script("return document.querySelectorAll('audio[src^=\"/app/media/\"]').length;")
        .await;
    assert_eq!(players.as_u64(), Some(1), "one voice note player");
    let photo_loaded = phone
        .script(
            "const img = document.querySelector('img[src^=\"/app/media/\"]');
             return img ? img.complete && img.naturalWidth > 0 : false;",
        )
        .await;
    assert_eq!(
        photo_loaded.as_bool(),
        Some(true),
        "the photo loads for its shop"
    );
    let page = phone.text("main").await;
    assert!(page.contains("vous avez ce modèle ?"), "{page}");
    assert!(
        page.to_lowercase().contains("vidéo"),
        "the video is explained: {page}"
    );
    assert!(page.contains("Carrefour Riviera 2"), "{page}");
    assert!(!phone.has_horizontal_scroll().await, "fits a phone");
    eprintln!("screenshot: {}", shot.display());

    phone.goto("/app/test").await;
    let file_field = phone
        .script("const f = document.querySelector('input[type=file]'); return f ? f.accept : null;")
        .await;
    assert_eq!(file_field.as_str(), Some("audio/*,image/*"));
    phone.screenshot("test-chat-upload").await;
}
