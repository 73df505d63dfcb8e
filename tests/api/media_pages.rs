//! A shop's voice notes and photos as its members read them: `GET /api/v1/media/{media_id}` and the
//! dashboard's `/app/media/{media_id}` serve them to the shop's owner and staff only (another shop's id
//! answers like an unknown one), say when they expired, and the conversation page plays, shows or explains
//! every attachment.

use chrono::{DateTime, Duration, Utc};
use reqwest::{StatusCode, header};
use schemas::commerce::{Author, MessageStatus};
use schemas::{Attachment, Channel, Location, MediaKind, MediaRefusal};
use serde_json::Value;
use sqlx::PgPool;
use store::TenantCtx;
use store::media::NewMedia;
use store::messages::{NewInbound, NewOutbound};
use uuid::Uuid;

use crate::helpers::{Shop, TestApp, spawn_app};
use crate::web_support::WebUser;

/// The start of an Ogg file, then words only this test's media carry.
fn voice_note(words: &str) -> Vec<u8> {
    [b"OggS\0\x02\0\0\0\0\0\0\0\0".as_slice(), words.as_bytes()].concat()
}

/// Stores `bytes` in `shop`'s media store as the ingress would, and returns its id.
async fn put_media(
    app: &TestApp,
    shop: &Shop,
    kind: MediaKind,
    mime: &str,
    bytes: &[u8],
    expires_at: Option<DateTime<Utc>>,
) -> Uuid {
    let media_id = Uuid::new_v4();
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tenant tx");
    let key = app.master_key.data_key(&mut tx).await.expect("data key");
    let stored = store::media::put(
        &mut tx,
        &key,
        &NewMedia {
            media_id,
            kind,
            mime,
            bytes,
            expires_at,
            product: None,
        },
    )
    .await
    .expect("media stored");
    assert!(stored);
    tx.commit().await.expect("commit");
    media_id
}

/// Drops the bytes of every media past its retention, as the sweeper does.
async fn sweep_expired(app: &TestApp) {
    let mut tx = app.db.platform().await.expect("platform tx");
    store::media::expire(&mut tx, Utc::now(), 100)
        .await
        .expect("expire");
    tx.commit().await.expect("commit");
}

async fn api_media(app: &TestApp, token: &str, media_id: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/media/{media_id}"), token).await
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_reads_its_voice_notes_and_another_shop_cannot_even_tell_they_exist(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let intruder = app.signup("Boutique Intruse").await;
    let bytes = voice_note("deux pagnes wax pour samedi");
    let media_id = put_media(&app, &shop, MediaKind::Audio, "audio/ogg", &bytes, None)
        .await
        .to_string();
    let unknown = Uuid::new_v4().to_string();

    // Act
    let own = api_media(&app, &shop.token, &media_id).await;
    let foreign = api_media(&app, &intruder.token, &media_id).await;
    let missing = api_media(&app, &intruder.token, &unknown).await;
    let malformed = api_media(&app, &intruder.token, "pas-un-id").await;

    // Assert
    assert_eq!(own.status(), StatusCode::OK);
    let headers = own.headers().clone();
    for (name, expected) in [
        (header::CONTENT_TYPE, "audio/ogg"),
        (header::CACHE_CONTROL, "private, max-age=3600"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ),
        (header::CONTENT_DISPOSITION, "inline"),
    ] {
        assert_eq!(headers[&name], expected, "{name}");
    }
    assert_eq!(own.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(malformed.status(), StatusCode::NOT_FOUND);
    let foreign = foreign.text().await.expect("body");
    assert_eq!(
        foreign,
        missing.text().await.expect("body"),
        "another shop's media answers exactly like an unknown one"
    );
    assert_eq!(foreign, malformed.text().await.expect("body"));
    assert!(!foreign.contains("pagnes"));
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_dashboard_serves_a_shops_media_to_its_own_sessions_only(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let intruder = app.signup("Boutique Intruse").await;
    let photo = [
        0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
    ];
    let media_id = put_media(&app, &shop, MediaKind::Image, "image/jpeg", &photo, None).await;
    let mut owner = WebUser::signed_in(&app, &shop).await;
    let mut stranger = WebUser::signed_in(&app, &intruder).await;
    let mut nobody = WebUser::new(&app);

    // Act
    let own = owner.get(&format!("/app/media/{media_id}")).await;
    let foreign = stranger.get(&format!("/app/media/{media_id}")).await;
    let missing = stranger
        .get(&format!("/app/media/{}", Uuid::new_v4()))
        .await;
    let signed_out = nobody.get(&format!("/app/media/{media_id}")).await;

    // Assert
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(own.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(own.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(own.bytes().await.expect("bytes").as_ref(), photo.as_slice());
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        foreign.text().await.expect("body"),
        missing.text().await.expect("body"),
        "another shop's media looks exactly like an unknown one"
    );
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_out.headers()[header::LOCATION], "/login");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_staff_member_reads_the_shops_media(pool: PgPool) {
    // Arrange
    let app = crate::team::roomy_app(pool).await;
    let owner = app.signup("Friperie Abobo").await;
    let (staff, _) =
        crate::team::join(&app, &owner, &crate::team::new_email("vendeuse"), "staff").await;
    let bytes = voice_note("une robe taille M");
    let media_id = put_media(&app, &owner, MediaKind::Audio, "audio/ogg", &bytes, None).await;

    // Act
    let api = api_media(&app, &staff.token, &media_id.to_string()).await;
    let mut browser = WebUser::signed_in(&app, &staff).await;
    let page = browser.get(&format!("/app/media/{media_id}")).await;

    // Assert
    assert_eq!(api.status(), StatusCode::OK);
    assert_eq!(api.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        page.bytes().await.expect("bytes").as_ref(),
        bytes.as_slice()
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn expired_media_answer_410_saying_how_long_media_are_kept(pool: PgPool) {
    // Arrange: a voice note past its retention, swept
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let media_id = put_media(
        &app,
        &shop,
        MediaKind::Audio,
        "audio/ogg",
        &voice_note("ancien message"),
        Some(Utc::now() - Duration::minutes(1)),
    )
    .await;
    sweep_expired(&app).await;
    let mut browser = WebUser::signed_in(&app, &shop).await;

    // Act
    let api = api_media(&app, &shop.token, &media_id.to_string()).await;
    let page = browser.get(&format!("/app/media/{media_id}")).await;

    // Assert
    let expected = "Ce média a expiré : les fichiers sont conservés 30 jours.";
    assert_eq!(api.status(), StatusCode::GONE);
    let body: Value = api.json().await.expect("json");
    assert_eq!(body["error"]["code"], "gone");
    assert_eq!(body["error"]["message"], expected);
    assert_eq!(page.status(), StatusCode::GONE);
    let html = page.text().await.expect("body");
    assert!(html.contains(&expected.replace('\'', "&#39;")), "{html}");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_audio_player_gets_the_byte_range_it_asks_for(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let bytes = voice_note("écoute par morceaux");
    let media_id = put_media(&app, &shop, MediaKind::Audio, "audio/ogg", &bytes, None).await;

    // Act
    let response = app
        .client
        .get(format!("{}/api/v1/media/{media_id}", app.address))
        .bearer_auth(&shop.token)
        .header(header::RANGE, "bytes=0-3")
        .send()
        .await
        .expect("request sent");

    // Assert
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        format!("bytes 0-3/{}", bytes.len()).as_str()
    );
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), b"OggS");
}

/// A customer message with `attachment` (and `location`), sent `ago` before now; returns its id.
async fn customer_message(
    app: &TestApp,
    shop: &Shop,
    chat_id: Uuid,
    body: &str,
    attachment: Option<&Attachment>,
    location: Option<&Location>,
    ago: Duration,
) -> Uuid {
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tenant tx");
    let message_id = store::messages::insert_inbound(
        &mut tx,
        &NewInbound {
            chat_id,
            wa_message_id: &format!("wa-{}", Uuid::new_v4().simple()),
            body,
            attachment,
            location,
            sent_at: Utc::now() - ago,
            stream_seq: None,
        },
    )
    .await
    .expect("inbound")
    .expect("new message");
    tx.commit().await.expect("commit");
    message_id
}

fn attachment(kind: MediaKind, media_id: Option<Uuid>, mime: &str) -> Attachment {
    Attachment {
        kind,
        media_id,
        mime: mime.into(),
        size_bytes: 2048,
        voice: kind == MediaKind::Audio,
        seconds: None,
        file_name: None,
        refused: None,
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_conversation_plays_voice_notes_shows_photos_and_explains_what_was_not_kept(
    pool: PgPool,
) {
    // Arrange: a WhatsApp customer who sent one of every kind of media, and a bot reply with a product photo
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tenant tx");
    let (chat_id, _) = store::chats::upsert_for_message(
        &mut tx,
        Channel::Whatsapp,
        "2250701020304",
        "Awa",
        Utc::now(),
    )
    .await
    .expect("chat");
    tx.commit().await.expect("commit");
    let voice_id = put_media(
        &app,
        &shop,
        MediaKind::Audio,
        "audio/ogg",
        &voice_note("deux pagnes"),
        None,
    )
    .await;
    let photo_id = put_media(
        &app,
        &shop,
        MediaKind::Image,
        "image/jpeg",
        b"\xFF\xD8\xFF",
        None,
    )
    .await;
    let product_photo_id =
        put_media(&app, &shop, MediaKind::Image, "image/png", b"\x89PNG", None).await;
    let recent = Duration::minutes(5);
    let voice = Attachment {
        seconds: Some(12),
        ..attachment(MediaKind::Audio, Some(voice_id), "audio/ogg; codecs=opus")
    };
    let voice_message =
        customer_message(&app, &shop, chat_id, "", Some(&voice), None, recent).await;
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tenant tx");
    store::messages::set_transcript(
        &mut tx,
        voice_message,
        "Je veux deux pagnes wax pour samedi",
    )
    .await
    .expect("transcript");
    tx.commit().await.expect("commit");
    let photo = attachment(MediaKind::Image, Some(photo_id), "image/jpeg");
    customer_message(
        &app,
        &shop,
        chat_id,
        "Celui-ci en rouge ?",
        Some(&photo),
        None,
        recent,
    )
    .await;
    let too_large = Attachment {
        size_bytes: 13_002_342,
        refused: Some(MediaRefusal::TooLarge),
        ..attachment(MediaKind::Audio, None, "audio/ogg")
    };
    customer_message(&app, &shop, chat_id, "", Some(&too_large), None, recent).await;
    let over_quota = Attachment {
        refused: Some(MediaRefusal::QuotaReached),
        ..attachment(MediaKind::Image, None, "image/jpeg")
    };
    customer_message(&app, &shop, chat_id, "", Some(&over_quota), None, recent).await;
    let video = Attachment {
        refused: Some(MediaRefusal::Unsupported),
        ..attachment(MediaKind::Video, None, "video/mp4")
    };
    customer_message(&app, &shop, chat_id, "", Some(&video), None, recent).await;
    let document = Attachment {
        file_name: Some("facture.pdf".into()),
        refused: Some(MediaRefusal::Unsupported),
        ..attachment(MediaKind::Document, None, "application/pdf")
    };
    customer_message(&app, &shop, chat_id, "", Some(&document), None, recent).await;
    let sticker = attachment(MediaKind::Sticker, None, "image/webp");
    customer_message(&app, &shop, chat_id, "", Some(&sticker), None, recent).await;
    let old_voice_id = Uuid::new_v4();
    let old_voice = attachment(MediaKind::Audio, Some(old_voice_id), "audio/ogg");
    customer_message(
        &app,
        &shop,
        chat_id,
        "",
        Some(&old_voice),
        None,
        Duration::days(40),
    )
    .await;
    let place = Location {
        latitude: 5.3364,
        longitude: -4.0267,
        name: Some("Marché de Cocody".into()),
        address: Some("Boulevard de France, Abidjan".into()),
    };
    customer_message(&app, &shop, chat_id, "", None, Some(&place), recent).await;
    let product_photo = attachment(MediaKind::Image, Some(product_photo_id), "image/png");
    let mut tx = app
        .db
        .tenant(TenantCtx::new(shop.tenant_id))
        .await
        .expect("tenant tx");
    store::messages::insert_outbound(
        &mut tx,
        &NewOutbound {
            chat_id,
            outbound_id: "out-photo-1",
            body: "Pagne wax rouge : 7 500 F",
            author: Author::Bot,
            status: MessageStatus::Sent,
            in_reply_to: None,
            sent_at: Utc::now(),
            turn: None,
            attachment: Some(&product_photo),
        },
    )
    .await
    .expect("bot reply");
    tx.commit().await.expect("commit");
    let mut browser = WebUser::signed_in(&app, &shop).await;

    // Act
    let html = browser.page(&format!("/app/conversations/{chat_id}")).await;
    let api: Value = app
        .conversation_messages(&shop, &chat_id.to_string())
        .await
        .json()
        .await
        .expect("json");

    // Assert
    for (expected, what) in [
        (
            format!(r#"<audio controls preload="none" src="/app/media/{voice_id}">"#),
            "a player for the voice note",
        ),
        ("Message vocal (0:12)".to_owned(), "its length"),
        (
            "Transcription : Je veux deux pagnes wax pour samedi".to_owned(),
            "what the model heard",
        ),
        (
            format!(
                r#"<img loading="lazy" src="/app/media/{photo_id}" alt="Photo envoyée par le client">"#
            ),
            "the customer's photo",
        ),
        (
            format!(r#"href="/app/media/{photo_id}" target="_blank""#),
            "the photo opens in full",
        ),
        ("Celui-ci en rouge ?".to_owned(), "the photo's caption"),
        (
            "Message vocal non conservé : fichier trop volumineux (12,4 Mo, maximum 10 Mo)"
                .to_owned(),
            "a voice note too large",
        ),
        (
            "Photo non conservée : quota mensuel de médias atteint".to_owned(),
            "a photo over the month's allowance",
        ),
        (
            "Vidéo : le bot ne lit pas les vidéos, répondez vous-même".to_owned(),
            "a video",
        ),
        (
            "Document « facture.pdf » : le bot ne lit pas les documents, répondez vous-même"
                .to_owned(),
            "a document",
        ),
        ("Autocollant".to_owned(), "a sticker"),
        ("Média expiré".to_owned(), "a voice note past its retention"),
        (
            format!(
                r#"📍 Adresse de livraison possible : <a href="{}" rel="noopener noreferrer" target="_blank">{}</a>"#,
                place.map_url().replace('&', "&#38;"),
                place.describe()
            ),
            "the shared location, with a map link",
        ),
        (
            format!(r#"src="/app/media/{product_photo_id}" alt="Photo envoyée par le bot""#),
            "the bot's product photo",
        ),
    ] {
        assert!(html.contains(&expected), "{what}: {expected}\n{html}");
    }
    assert!(
        !html.contains(&format!("/app/media/{old_voice_id}")),
        "no player for an expired voice note"
    );
    let messages = api.as_array().expect("messages");
    let voice_json = messages
        .iter()
        .find(|m| m["attachment"]["media_id"] == voice_id.to_string())
        .expect("the voice note in the API");
    assert_eq!(voice_json["attachment"]["kind"], "audio");
    assert_eq!(
        voice_json["transcript"],
        "Je veux deux pagnes wax pour samedi"
    );
    assert!(messages.iter().any(|m| m["location"]["latitude"] == 5.3364));
}
