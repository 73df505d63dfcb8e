//! Customer media through a sandbox node (issue 17): a voice note or a photo is sealed into the shop's media
//! store before its message is published, and the message names it; what the policy refuses (too large, the
//! plan's allowance used up, a kind or format the bot does not read) is published with the reason and never
//! stored; the owner's own media and a shared location are published without any download; a reply's photo
//! reaches the customer, or its text alone once the photo is gone.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use ingress::names;
use ingress::sandbox::{SandboxAccepted, SandboxInbound, SandboxSent, SandboxSentImage};
use ingress::{IngressConfig, IngressNode, SandboxGateway};
use schemas::whatsapp::SandboxMedia;
use schemas::{
    InboundMessage, Location, MediaKind, MediaRefusal, OutboundImage, OutboundReply, Subjects,
};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use store::TenantCtx;
use store::crypto::MasterKey;
use store::media::{MediaConfig, NewMedia};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CUSTOMER: &str = "2250701020304@s.whatsapp.net";
const MAX_BYTES: u64 = 1024 * 1024;

/// A voice note as phones record it: an Ogg container.
fn voice_note() -> Vec<u8> {
    let mut bytes = b"OggS\0\x02".to_vec();
    bytes.resize(4096, 0);
    bytes
}

fn jpeg() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
    bytes.resize(2048, 7);
    bytes
}

fn media(kind: MediaKind, mime: &str, bytes: &[u8]) -> SandboxMedia {
    SandboxMedia {
        kind,
        mime: mime.into(),
        data_base64: BASE64.encode(bytes),
        voice: false,
        seconds: None,
        file_name: None,
        declared_size: None,
    }
}

fn from_customer(id: &str, media: Option<SandboxMedia>) -> SandboxInbound {
    SandboxInbound {
        id: Some(id.into()),
        from: CUSTOMER.into(),
        name: "Awa".into(),
        media,
        ..SandboxInbound::default()
    }
}

/// A sandbox node running a linked shop, with a 1 MiB media limit.
struct MediaNode {
    pool: PgPool,
    db: store::Db,
    master: MasterKey,
    nats: async_nats::Client,
    subjects: Subjects,
    tenant_id: Uuid,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _namespace: testkit::nats::Namespace,
}

impl MediaNode {
    async fn start(pool: &PgPool) -> Self {
        let tenant_id = testkit::db::create_tenant(pool).await;
        sqlx::query("insert into whatsapp_session (tenant_id, status, phone_number) values ($1, 'connected', '2250700000000')")
            .bind(tenant_id)
            .execute(pool)
            .await
            .expect("session");
        let namespace = testkit::nats::Namespace::new().await;
        let (nats, subjects) = (namespace.client.clone(), namespace.subjects.clone());
        let db = testkit::db::app_db(pool).await;
        let config = IngressConfig::for_tests();
        let gateway = SandboxGateway::new(
            db.clone(),
            nats.clone(),
            subjects.clone(),
            config.sandbox_qr_interval,
            config.sandbox_qr_count,
        );
        let master = MasterKey::generate();
        let limits = MediaConfig {
            media_max_bytes: MAX_BYTES,
            ..MediaConfig::default()
        };
        let node = IngressNode::new(
            db.clone(),
            nats.clone(),
            subjects.clone(),
            Arc::new(gateway),
            config,
            master.clone(),
            limits,
        )
        .await
        .expect("ingress node");
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            node.run(stopped).await.expect("ingress node runs");
        });
        let running = Self {
            pool: pool.clone(),
            db,
            master,
            nats,
            subjects,
            tenant_id,
            stop,
            task,
            _namespace: namespace,
        };
        // Linked once a message is accepted (a group message: accepted without touching JetStream).
        testkit::eventually(Duration::from_secs(10), "the shop is linked", || async {
            let ready = SandboxInbound {
                kind: "group".into(),
                text: Some("ready".into()),
                ..from_customer("ready", None)
            };
            running
                .request(&ready, Duration::from_millis(300))
                .await
                .is_some()
        })
        .await;
        running
    }

    /// Sends `inbound` once as a request; the acceptance, if one comes within `wait`.
    async fn request(&self, inbound: &SandboxInbound, wait: Duration) -> Option<SandboxAccepted> {
        let payload = serde_json::to_vec(inbound).expect("json");
        let subject = names::sandbox_inbound(&self.subjects, self.tenant_id);
        let inbox = self.nats.new_inbox();
        let mut replies = self.nats.subscribe(inbox.clone()).await.expect("subscribe");
        self.nats
            .publish_with_reply(subject, inbox, payload.into())
            .await
            .expect("publish");
        let reply = tokio::time::timeout(wait, replies.next()).await.ok()??;
        if reply.payload.is_empty() {
            return None;
        }
        Some(serde_json::from_slice(&reply.payload).expect("an acceptance"))
    }

    /// Sends `inbound` until the ingress accepts it, then reads what it published.
    async fn deliver(&self, inbound: &SandboxInbound) -> InboundMessage {
        let accepted = self
            .request(inbound, Duration::from_secs(10))
            .await
            .expect("accepted");
        assert!(accepted.accepted);
        self.published(&accepted.id)
            .await
            .expect("published on the inbound stream")
    }

    /// The message the inbound stream holds under WhatsApp id `id`.
    async fn published(&self, id: &str) -> Option<InboundMessage> {
        let stream = jetstream::new(self.nats.clone())
            .get_stream(self.subjects.inbound_stream())
            .await
            .expect("inbound stream");
        let consumer = stream
            .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
            .await
            .expect("ordered consumer");
        let mut messages = consumer.messages().await.expect("messages");
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_millis(300), messages.next()).await
        {
            let inbound: InboundMessage =
                serde_json::from_slice(&message.payload).expect("an inbound message");
            if inbound.wa_message_id == id {
                return Some(inbound);
            }
        }
        None
    }

    /// The stored (sealed) bytes of `media_id`, read past row-level security.
    async fn sealed(&self, media_id: Uuid) -> Option<Vec<u8>> {
        sqlx::query_scalar("select sealed from media where tenant_id = $1 and media_id = $2")
            .bind(self.tenant_id)
            .bind(media_id)
            .fetch_optional(&self.pool)
            .await
            .expect("read media")
            .flatten()
    }

    async fn media_rows(&self) -> i64 {
        sqlx::query_scalar("select count(*) from media where tenant_id = $1")
            .bind(self.tenant_id)
            .fetch_one(&self.pool)
            .await
            .expect("count media")
    }

    /// The media as the shop's services read it: through the app role, opened with the shop's key.
    async fn opened(&self, media_id: Uuid) -> store::media::Media {
        let mut tx = self
            .db
            .tenant(TenantCtx::new(self.tenant_id))
            .await
            .expect("tenant tx");
        let key = self.master.data_key(&mut tx).await.expect("data key");
        let media = store::media::get(&mut tx, &key, media_id)
            .await
            .expect("stored media");
        tx.commit().await.expect("commit");
        media
    }

    /// Stores a product photo as the workers do, under a fresh id.
    async fn product_photo(&self, bytes: &[u8]) -> Uuid {
        let media_id = Uuid::new_v4();
        let mut tx = self
            .db
            .tenant(TenantCtx::new(self.tenant_id))
            .await
            .expect("tenant tx");
        let key = self.master.data_key(&mut tx).await.expect("data key");
        store::media::put(
            &mut tx,
            &key,
            &NewMedia {
                media_id,
                kind: MediaKind::Image,
                mime: "image/jpeg",
                bytes,
                expires_at: None,
                product: Some((Uuid::new_v4(), "https://example.com/pagne.jpg")),
            },
        )
        .await
        .expect("put");
        tx.commit().await.expect("commit");
        media_id
    }

    /// Publishes a reply as the workers do; the node sends it once connected.
    async fn reply(&self, text: &str, image: Option<OutboundImage>) {
        let reply = OutboundReply {
            tenant_id: self.tenant_id,
            chat_id: Uuid::new_v4(),
            customer_jid: CUSTOMER.into(),
            text: text.into(),
            outbound_id: format!("out-{}", Uuid::new_v4().simple()),
            in_reply_to: Vec::new(),
            created_at: chrono::Utc::now(),
            received_at: None,
            image,
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", reply.outbound_id.as_str());
        jetstream::new(self.nats.clone())
            .publish_with_headers(
                self.subjects.outbound(self.tenant_id),
                headers,
                serde_json::to_vec(&reply).expect("json").into(),
            )
            .await
            .expect("publish")
            .await
            .expect("stored");
    }

    async fn sent(&self) -> async_nats::Subscriber {
        self.nats
            .subscribe(names::sandbox_sent(&self.subjects, self.tenant_id))
            .await
            .expect("subscribe")
    }

    async fn stop(mut self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
    }
}

async fn next_sent(sent: &mut async_nats::Subscriber) -> SandboxSent {
    let message = tokio::time::timeout(Duration::from_secs(10), sent.next())
        .await
        .expect("sent within 10 s")
        .expect("subscription open");
    serde_json::from_slice(&message.payload).expect("a sent message")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_voice_note_is_stored_sealed_before_its_message_names_it(pool: PgPool) {
    // Arrange
    let node = MediaNode::start(&pool).await;
    let bytes = voice_note();
    let note = SandboxMedia {
        voice: true,
        seconds: Some(4),
        ..media(MediaKind::Audio, "audio/ogg; codecs=opus", &bytes)
    };

    // Act
    let published = node.deliver(&from_customer("3EB0VOICE", Some(note))).await;

    // Assert
    assert_eq!(published.text, "", "a voice note needs no text");
    let attachment = published.attachment.expect("an attachment");
    assert_eq!(attachment.refused, None);
    assert_eq!(
        (
            attachment.kind,
            attachment.mime.as_str(),
            attachment.size_bytes
        ),
        (MediaKind::Audio, "audio/ogg", bytes.len() as u64),
        "the type the bytes show, not the one declared"
    );
    assert!(attachment.voice);
    assert_eq!(attachment.seconds, Some(4));
    let media_id = attachment.media_id.expect("a stored media");
    assert_eq!(
        media_id,
        store::media::inbound_media_id(node.tenant_id, "3EB0VOICE")
    );
    let sealed = node.sealed(media_id).await.expect("a sealed row");
    assert_ne!(sealed, bytes, "never stored in clear");
    assert!(
        !sealed.windows(64).any(|w| w == &bytes[..64]),
        "no plaintext inside the sealed blob"
    );
    let opened = node.opened(media_id).await;
    assert_eq!(opened.bytes.as_deref(), Some(bytes.as_slice()));
    assert!(opened.expires_at.is_some(), "customer media expire");
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_redelivered_photo_is_stored_once(pool: PgPool) {
    // Arrange
    let node = MediaNode::start(&pool).await;
    let photo = from_customer(
        "3EB0TWICE",
        Some(media(MediaKind::Image, "image/jpeg", &jpeg())),
    );

    // Act: WhatsApp delivers it again (say the receipt was lost).
    let first = node.deliver(&photo).await;
    let again = node.request(&photo, Duration::from_secs(10)).await;

    // Assert
    assert!(again.is_some_and(|a| a.accepted));
    assert_eq!(node.media_rows().await, 1);
    assert_eq!(
        first.attachment.and_then(|a| a.media_id),
        Some(store::media::inbound_media_id(node.tenant_id, "3EB0TWICE"))
    );
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_photo_announced_larger_than_the_limit_is_refused_without_download(pool: PgPool) {
    // Arrange: WhatsApp announces 20 MB. The bytes the sandbox would hand over are a small valid photo: had
    // the ingress downloaded them, it would have stored them.
    let node = MediaNode::start(&pool).await;
    let large = SandboxMedia {
        declared_size: Some(20 * 1024 * 1024),
        ..media(MediaKind::Image, "image/jpeg", &jpeg())
    };
    let mut photo = from_customer("3EB0LARGE", Some(large));
    photo.text = Some("Et celui-ci ?".into());

    // Act
    let published = node.deliver(&photo).await;

    // Assert
    assert_eq!(published.text, "Et celui-ci ?", "the caption is the text");
    let attachment = published.attachment.expect("an attachment");
    assert_eq!(attachment.refused, Some(MediaRefusal::TooLarge));
    assert_eq!(attachment.media_id, None);
    assert_eq!(
        attachment.size_bytes,
        20 * 1024 * 1024,
        "the announced size"
    );
    assert_eq!(
        node.media_rows().await,
        0,
        "nothing downloaded, nothing kept"
    );
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn videos_documents_and_stickers_are_published_as_unsupported_and_never_stored(pool: PgPool) {
    // Arrange
    let node = MediaNode::start(&pool).await;
    let document = SandboxMedia {
        file_name: Some("bon-de-commande.pdf".into()),
        ..media(MediaKind::Document, "application/pdf", b"%PDF-1.7\n")
    };
    let cases = [
        (
            "3EB0STICKER",
            media(MediaKind::Sticker, "image/webp", b"RIFF\0\0\0\0WEBPVP8 "),
            None,
        ),
        (
            "3EB0VIDEO",
            media(MediaKind::Video, "video/mp4", b"\0\0\0\x18ftypmp42"),
            None,
        ),
        ("3EB0DOC", document, Some("bon-de-commande.pdf")),
    ];

    for (id, sent, file_name) in cases {
        // Act
        let kind = sent.kind;
        let published = node.deliver(&from_customer(id, Some(sent))).await;

        // Assert
        let attachment = published.attachment.expect(id);
        assert_eq!(attachment.kind, kind, "{id}");
        assert_eq!(attachment.refused, Some(MediaRefusal::Unsupported), "{id}");
        assert_eq!(attachment.file_name.as_deref(), file_name, "{id}");
    }
    assert_eq!(node.media_rows().await, 0);
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn media_are_judged_by_their_bytes_not_by_the_declared_type(pool: PgPool) {
    // Arrange
    let node = MediaNode::start(&pool).await;
    let photo_as_audio = media(MediaKind::Audio, "audio/ogg", &jpeg());
    let pdf_as_photo = media(MediaKind::Image, "image/jpeg", b"%PDF-1.7\n%binary");

    // Act
    let photo = node
        .deliver(&from_customer("3EB0PHOTO", Some(photo_as_audio)))
        .await;
    let pdf = node
        .deliver(&from_customer("3EB0PDF", Some(pdf_as_photo)))
        .await;

    // Assert
    let photo = photo.attachment.expect("an attachment");
    assert_eq!(
        (photo.kind, photo.mime.as_str(), photo.refused),
        (MediaKind::Image, "image/jpeg", None),
        "a photo, whatever the phone said"
    );
    assert_eq!(
        pdf.attachment.and_then(|a| a.refused),
        Some(MediaRefusal::Unsupported),
        "not a format the bot reads"
    );
    assert_eq!(node.media_rows().await, 1);
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn once_the_plans_monthly_media_are_used_up_a_photo_is_refused(pool: PgPool) {
    // Arrange: the shop's plan allows no media at all.
    let node = MediaNode::start(&pool).await;
    sqlx::query("update plan set max_media_per_month = 0 where plan_code = (select plan_code from tenant where tenant_id = $1)")
        .bind(node.tenant_id)
        .execute(&pool)
        .await
        .expect("plan");

    // Act
    let published = node
        .deliver(&from_customer(
            "3EB0QUOTA",
            Some(media(MediaKind::Image, "image/jpeg", &jpeg())),
        ))
        .await;

    // Assert
    assert_eq!(
        published.attachment.and_then(|a| a.refused),
        Some(MediaRefusal::QuotaReached)
    );
    assert_eq!(node.media_rows().await, 0);
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_owners_photo_from_the_phone_shows_as_a_marker_and_is_not_downloaded(pool: PgPool) {
    // Arrange
    let node = MediaNode::start(&pool).await;
    let photo = SandboxInbound {
        from_me: true,
        ..from_customer(
            "3EB0OWNER",
            Some(media(MediaKind::Image, "image/jpeg", &jpeg())),
        )
    };

    // Act
    let published = node.deliver(&photo).await;

    // Assert
    assert!(published.from_owner);
    assert_eq!(published.text, "📷 Photo");
    assert_eq!(published.attachment, None);
    assert_eq!(node.media_rows().await, 0);
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shared_location_is_published_without_text_and_an_impossible_one_is_ignored(
    pool: PgPool,
) {
    // Arrange
    let node = MediaNode::start(&pool).await;
    let here = Location {
        latitude: 5.3599,
        longitude: -4.0083,
        name: Some("Marché de Cocody".into()),
        address: None,
    };
    let shared = SandboxInbound {
        location: Some(here.clone()),
        ..from_customer("3EB0HERE", None)
    };
    let nowhere = SandboxInbound {
        location: Some(Location {
            latitude: 123.0,
            ..here.clone()
        }),
        ..from_customer("3EB0NOWHERE", None)
    };

    // Act
    let published = node.deliver(&shared).await;
    let ignored = node.request(&nowhere, Duration::from_secs(10)).await;

    // Assert
    assert_eq!(published.text, "");
    assert_eq!(published.location, Some(here));
    assert!(
        ignored.is_some_and(|a| a.accepted),
        "acknowledged, not redelivered forever"
    );
    assert_eq!(node.published("3EB0NOWHERE").await, None);
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_reply_with_a_photo_sends_the_photo_with_its_text_as_caption(pool: PgPool) {
    // Arrange
    let node = MediaNode::start(&pool).await;
    let bytes = jpeg();
    let media_id = node.product_photo(&bytes).await;
    let mut sent = node.sent().await;

    // Act
    node.reply(
        "Pagne wax bleu — 12 000 FCFA",
        Some(OutboundImage {
            media_id,
            mime: "image/jpeg".into(),
        }),
    )
    .await;

    // Assert
    let sent = next_sent(&mut sent).await;
    assert_eq!(sent.to, CUSTOMER);
    assert_eq!(sent.text, "Pagne wax bleu — 12 000 FCFA");
    assert_eq!(
        sent.image,
        Some(SandboxSentImage {
            mime: "image/jpeg".into(),
            size_bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        })
    );
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_reply_whose_photo_is_gone_is_sent_as_text_alone(pool: PgPool) {
    // Arrange
    let node = MediaNode::start(&pool).await;
    let mut sent = node.sent().await;

    // Act
    node.reply(
        "Voici le pagne.",
        Some(OutboundImage {
            media_id: Uuid::new_v4(),
            mime: "image/jpeg".into(),
        }),
    )
    .await;

    // Assert
    let sent = next_sent(&mut sent).await;
    assert_eq!(sent.text, "Voici le pagne.");
    assert_eq!(sent.image, None);
    node.stop().await;
}
