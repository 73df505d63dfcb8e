//! Voice notes and photos the owner sends as a pretend customer: the test chat's upload and the simulator's
//! multipart body keep a file only when it is a photo or an audio format within the size limit and the plan's
//! monthly allowance, store it sealed with the shop's key, and publish the customer message referencing it,
//! as the ingress does. The sandbox's customer messages carry media and a location to the ingress.

use async_nats::jetstream;
use futures::StreamExt;
use reqwest::{StatusCode, header};
use schemas::whatsapp::{WaCommand, WaCommandReply};
use schemas::{Channel, InboundMessage, MediaKind};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{Shop, TestApp, spawn_app};
use crate::web_support::{WebUser, csrf_of, location};

/// The test chat's pretend customer.
const TEST_CUSTOMER: &str = "2250700000000";

/// An Ogg voice note: the format's signature, then words only this test's file carries.
fn voice_note(words: &str) -> Vec<u8> {
    [b"OggS\0\x02\0\0\0\0\0\0\0\0".as_slice(), words.as_bytes()].concat()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01";

/// A `multipart/form-data` body: the text fields, then the file (name, type, bytes).
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = format!("media{}", Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((file_name, kind, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
                 content-type: {kind}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the test chat's form as the signed-in `browser`, with the page's CSRF token first.
async fn post_test_chat(
    app: &TestApp,
    browser: &mut WebUser<'_>,
    text: &str,
    file: Option<(&str, &str, &[u8])>,
) -> reqwest::Response {
    let token = csrf_of(&browser.page("/app/test").await);
    let (kind, body) = multipart(&[("_csrf", token.as_str()), ("text", text)], file);
    let cookies = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/app/test", app.address))
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, kind)
        .body(body)
        .send()
        .await
        .expect("request sent")
}

/// Posts a multipart simulator message over REST.
async fn simulate_upload(
    app: &TestApp,
    shop: &Shop,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> reqwest::Response {
    let (kind, body) = multipart(fields, file);
    app.client
        .post(format!("{}/api/v1/simulator/messages", app.address))
        .bearer_auth(&shop.token)
        .header(header::CONTENT_TYPE, kind)
        .body(body)
        .send()
        .await
        .expect("request sent")
}

/// The last message published for the simulator's customer of `shop`, if any.
async fn last_published(app: &TestApp, shop: &Shop, customer: &str) -> Option<InboundMessage> {
    let js = jetstream::new(app.nats.clone());
    let subject = app
        .subjects
        .inbound(shop.tenant_id, Channel::Simulator.chat_key(customer));
    let message = js
        .get_stream(app.subjects.inbound_stream())
        .await
        .expect("inbound stream")
        .get_last_raw_message_by_subject(&subject)
        .await
        .ok()?;
    Some(serde_json::from_slice(&message.payload).expect("an inbound message"))
}

/// The stored row of a media, read as the superuser: `(kind, mime, size_bytes, sealed)`.
async fn media_row(
    app: &TestApp,
    tenant_id: Uuid,
    media_id: Uuid,
) -> (String, String, i32, Option<Vec<u8>>) {
    sqlx::query_as(
        "select kind, mime, size_bytes, sealed from media where tenant_id = $1 and media_id = $2",
    )
    .bind(tenant_id)
    .bind(media_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("the media row")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_voice_note_sent_in_the_test_chat_is_stored_sealed_and_reaches_the_bot(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let mut browser = WebUser::signed_in(&app, &shop).await;
    let words = "bonjour je voudrais deux pagnes wax rouges";
    let bytes = voice_note(words);

    // Act
    let response = post_test_chat(
        &app,
        &mut browser,
        "",
        Some(("note.ogg", "audio/ogg", &bytes)),
    )
    .await;

    // Assert: back to the chat, the message published with its attachment
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/app/test");
    let published = last_published(&app, &shop, TEST_CUSTOMER)
        .await
        .expect("the voice note is published");
    let attachment = published.attachment.expect("an attachment");
    let media_id = store::media::inbound_media_id(shop.tenant_id, &published.wa_message_id);
    assert_eq!(attachment.media_id, Some(media_id));
    assert_eq!(attachment.kind, MediaKind::Audio);
    assert_eq!(attachment.mime, "audio/ogg");
    assert_eq!(attachment.size_bytes, bytes.len() as u64);
    assert!(attachment.voice);
    assert_eq!(published.text, "");
    // Stored sealed: the row never holds the recording itself
    let (kind, mime, size, sealed) = media_row(&app, shop.tenant_id, media_id).await;
    assert_eq!(
        (kind.as_str(), mime.as_str(), size),
        (
            "audio",
            "audio/ogg",
            i32::try_from(bytes.len()).expect("size")
        )
    );
    let sealed = sealed.expect("the bytes are kept");
    assert_ne!(sealed, bytes);
    assert!(
        !sealed.windows(words.len()).any(|w| w == words.as_bytes()),
        "the stored bytes are encrypted"
    );
    // And the shop reads it back whole
    let read = app
        .get(&format!("/api/v1/media/{media_id}"), &shop.token)
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(
        read.bytes().await.expect("bytes").as_ref(),
        bytes.as_slice()
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_test_chat_file_over_the_size_limit_is_refused_and_nothing_is_kept(pool: PgPool) {
    // Arrange: a voice note of 10,4 Mo, over the 10 Mo limit
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let mut browser = WebUser::signed_in(&app, &shop).await;
    let mut bytes = voice_note("trop long");
    bytes.resize(10 * 1024 * 1024 + 400 * 1024, b'x');

    // Act
    let response = post_test_chat(
        &app,
        &mut browser,
        "écoutez ça",
        Some(("long.ogg", "audio/ogg", &bytes)),
    )
    .await;

    // Assert
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    assert!(
        html.contains("Fichier trop volumineux : 10,4 Mo, maximum 10 Mo."),
        "{html}"
    );
    assert!(html.contains("value=\"écoutez ça\""), "the caption is kept");
    assert_eq!(app.count("media", shop.tenant_id).await, 0);
    assert!(last_published(&app, &shop, TEST_CUSTOMER).await.is_none());
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_file_that_is_neither_a_photo_nor_a_voice_note_is_refused_whatever_its_declared_type(
    pool: PgPool,
) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let mut browser = WebUser::signed_in(&app, &shop).await;
    let pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";

    // Act: a PDF declared as a photo, in the test chat and over REST
    let page = post_test_chat(
        &app,
        &mut browser,
        "",
        Some(("photo.jpg", "image/jpeg", pdf)),
    )
    .await;
    let api = simulate_upload(
        &app,
        &shop,
        &[("from", "+225 07 01 02 03 04")],
        Some(("photo.jpg", "image/jpeg", pdf)),
    )
    .await;

    // Assert
    let expected = "Format non pris en charge : envoyez une photo (JPEG, PNG, WebP) ou un message vocal \
                    (OGG, MP3, M4A, WAV, WebM).";
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text().await.expect("body").contains(expected));
    assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = api.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "file");
    assert_eq!(body["error"]["fields"][0]["message"], expected);
    assert_eq!(app.count("media", shop.tenant_id).await, 0);
    assert!(last_published(&app, &shop, TEST_CUSTOMER).await.is_none());
    assert!(last_published(&app, &shop, "2250701020304").await.is_none());
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_test_chat_upload_needs_the_pages_csrf_token(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let browser = WebUser::signed_in(&app, &shop).await;
    let cookies = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let bytes = voice_note("forgé");
    let (kind, body) = multipart(
        &[("_csrf", "pas-le-bon"), ("text", "")],
        Some(("note.ogg", "audio/ogg", &bytes)),
    );

    // Act
    let response = app
        .client
        .post(format!("{}/app/test", app.address))
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, kind)
        .body(body)
        .send()
        .await
        .expect("request sent");

    // Assert
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("media", shop.tenant_id).await, 0);
    assert!(last_published(&app, &shop, TEST_CUSTOMER).await.is_none());
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_simulator_takes_a_photo_with_its_caption_as_multipart(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;

    // Act
    let response = simulate_upload(
        &app,
        &shop,
        &[
            ("from", "+225 07 01 02 03 04"),
            ("name", "Awa"),
            ("text", "Vous avez ce modèle ?"),
            ("client_message_id", "photo-1"),
        ],
        Some(("modele.png", "application/octet-stream", PNG)),
    )
    .await;

    // Assert
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Value = response.json().await.expect("json");
    assert_eq!(accepted["chat_key"], "sim_2250701020304");
    let published = last_published(&app, &shop, "2250701020304")
        .await
        .expect("published");
    assert_eq!(published.text, "Vous avez ce modèle ?");
    assert_eq!(published.customer_name, "Awa");
    let attachment = published.attachment.expect("attachment");
    assert_eq!(attachment.kind, MediaKind::Image);
    assert_eq!(attachment.mime, "image/png", "the type the bytes tell");
    let media_id = attachment.media_id.expect("stored");
    let read = app
        .get(&format!("/api/v1/media/{media_id}"), &shop.token)
        .await;
    assert_eq!(read.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(read.bytes().await.expect("bytes").as_ref(), PNG);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn media_beyond_the_plans_monthly_allowance_are_refused(pool: PgPool) {
    // Arrange: a plan allowing one customer media a month, used once
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    sqlx::query("update plan set max_media_per_month = 1 where plan_code = 'pro'")
        .execute(&app.admin_db)
        .await
        .expect("plan");
    let from = [("from", "+225 07 01 02 03 04")];
    let first = simulate_upload(&app, &shop, &from, Some(("a.png", "image/png", PNG))).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let mut browser = WebUser::signed_in(&app, &shop).await;

    // Act
    let api = simulate_upload(&app, &shop, &from, Some(("b.png", "image/png", PNG))).await;
    let page = post_test_chat(
        &app,
        &mut browser,
        "",
        Some(("c.ogg", "audio/ogg", &voice_note("encore"))),
    )
    .await;

    // Assert
    assert_eq!(api.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = api.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("Quota mensuel de médias atteint (1) : "),
        "{message}"
    );
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.text()
            .await
            .expect("body")
            .contains("Quota mensuel de médias atteint (1) : ")
    );
    assert_eq!(app.count("media", shop.tenant_id).await, 1);
    assert!(last_published(&app, &shop, TEST_CUSTOMER).await.is_none());
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_simulator_still_takes_plain_json_text(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;

    // Act
    let text_only = app
        .simulate_message(
            &shop,
            json!({"from": "+225 07 01 02 03 04", "text": "Bonjour"}),
        )
        .await;
    let empty = app
        .simulate_message(&shop, json!({"from": "+225 07 01 02 03 04", "text": ""}))
        .await;

    // Assert
    assert_eq!(text_only.status(), StatusCode::ACCEPTED);
    let published = last_published(&app, &shop, "2250701020304")
        .await
        .expect("published");
    assert_eq!(published.text, "Bonjour");
    assert_eq!(published.attachment, None);
    assert_eq!(
        empty.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a text message without a file still needs its text"
    );
}

/// Answers the shop's next WhatsApp command as an ingress node on the sandbox gateway would accept it, and
/// hands the command over.
async fn accept_next_command(app: &TestApp, shop: &Shop) -> tokio::task::JoinHandle<WaCommand> {
    let mut commands = app
        .nats
        .subscribe(app.subjects.wa_command(shop.tenant_id))
        .await
        .expect("subscribe");
    app.nats.flush().await.expect("flush");
    let nats = app.nats.clone();
    tokio::spawn(async move {
        let message = commands.next().await.expect("a command");
        let command: WaCommand = serde_json::from_slice(&message.payload).expect("a command");
        let reply = WaCommandReply::accepted("Message du client simulé.");
        let inbox = message.reply.expect("a request");
        nats.publish(inbox, serde_json::to_vec(&reply).expect("json").into())
            .await
            .expect("reply");
        command
    })
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_sandbox_customer_sends_a_voice_note_and_a_location_without_text(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    let ingress = accept_next_command(&app, &shop).await;
    let bytes = voice_note("livrez-moi ici");
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);

    // Act
    let response = app
        .sandbox_message(
            &shop,
            json!({
                "from": "2250701020304",
                "media": {"kind": "audio", "mime": "audio/ogg; codecs=opus", "data_base64": encoded,
                          "voice": true, "seconds": 4},
                "location": {"latitude": 5.3364, "longitude": -4.0267, "name": "Marché de Cocody"}
            }),
        )
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let WaCommand::SandboxMessage {
        text,
        media,
        location,
        ..
    } = ingress.await.expect("the command")
    else {
        panic!("not a sandbox message");
    };
    assert_eq!(text, "");
    let media = media.expect("media");
    assert_eq!(media.kind, MediaKind::Audio);
    assert_eq!(media.data_base64, encoded);
    assert!(media.voice);
    assert_eq!(media.seconds, Some(4));
    let location = location.expect("location");
    assert_eq!(location.name.as_deref(), Some("Marché de Cocody"));
    assert!((location.latitude - 5.3364).abs() < 1e-9);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_sandbox_message_with_unreadable_media_or_an_impossible_place_is_refused(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Abobo").await;
    use base64::Engine;
    let too_big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 700_001]);

    for (body, field, why) in [
        (
            json!({"from": "2250701020304", "media": {"kind": "image", "mime": "image/jpeg", "data_base64": "pas du base64 !"}}),
            "media.data_base64",
            "base64 that does not decode",
        ),
        (
            json!({"from": "2250701020304", "media": {"kind": "audio", "mime": "audio/ogg", "data_base64": too_big}}),
            "media.data_base64",
            "more than core NATS carries",
        ),
        (
            json!({"from": "2250701020304", "location": {"latitude": 123.0, "longitude": 4.0}}),
            "location",
            "a latitude off the Earth",
        ),
        (
            json!({"from": "2250701020304", "text": ""}),
            "text",
            "no text, no media, no location",
        ),
    ] {
        // Act
        let response = app.sandbox_message(&shop, body).await;

        // Assert
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        let error: Value = response.json().await.expect("json");
        let fields: Vec<&str> = error["error"]["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{why}: {fields:?}");
    }
}
