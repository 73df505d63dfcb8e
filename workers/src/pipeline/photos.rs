//! Product photos the bot sends (`send_product_photo`): a product's `image_url` is fetched once, checked
//! (JPEG or PNG by its bytes, within `PRODUCT_PHOTO_MAX_BYTES`, from a public address unless
//! `PRODUCT_PHOTO_ALLOW_PRIVATE_HOSTS`), sealed in the shop's media store, and reused from there on every
//! later send. A photo that cannot be used is left out; the reply's text still goes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::commerce::{Author, MessageStatus};
use schemas::{Attachment, Channel, MediaKind, OutboundImage, OutboundReply};
use store::{TenantCtx, TenantTx, messages};
use uuid::Uuid;

use super::{Failure, Pipeline};
use crate::llm::CatalogItem;
use crate::llm::offline::money;

/// Whole-fetch timeout of one photo.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed, each to an address checked again.
const MAX_REDIRECTS: usize = 3;

/// A product photo to send, with its caption.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Photo {
    pub media_id: Uuid,
    pub mime: String,
    pub size_bytes: u64,
    pub caption: String,
}

/// Why a product's photo cannot be sent (logged for the operator; the customer just gets the text).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PhotoError {
    #[error("the image address is not a valid http(s) URL")]
    BadUrl,
    #[error("the image address resolves to a private or local network address")]
    PrivateAddress,
    #[error("fetching the image failed: {0}")]
    Fetch(String),
    #[error("the image server answered {0}")]
    Status(u16),
    #[error("the image is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the image is not a JPEG or PNG photo")]
    NotAPhoto,
}

/// Where a product photo goes: the chat, before the reply to its message `answered`, `index`-th of the turn.
pub(super) struct SentPhoto<'a> {
    pub chat: &'a store::chats::Chat,
    pub channel: Channel,
    pub answered: Uuid,
    pub index: usize,
    pub at: DateTime<Utc>,
}

impl Pipeline {
    /// Stores a product photo sent before the turn's reply and, the first time only, queues it for the
    /// ingress; its id derives from the turn's, so a retried turn sends it once.
    pub(super) async fn store_photo(
        &self,
        tx: &mut TenantTx<'_>,
        ctx: TenantCtx,
        photo: &Photo,
        sent: SentPhoto<'_>,
    ) -> Result<(), Failure> {
        let chat = sent.chat;
        let outbound_id = format!("out-{}-photo{}", sent.answered.simple(), sent.index);
        let attachment = Attachment {
            kind: MediaKind::Image,
            media_id: Some(photo.media_id),
            mime: photo.mime.clone(),
            size_bytes: photo.size_bytes,
            voice: false,
            seconds: None,
            file_name: None,
            refused: None,
        };
        let status = if sent.channel == Channel::Simulator {
            MessageStatus::Sent
        } else {
            MessageStatus::Queued
        };
        let (_, inserted) = messages::insert_outbound(
            tx,
            &messages::NewOutbound {
                chat_id: chat.chat_id,
                outbound_id: &outbound_id,
                body: &photo.caption,
                author: Author::Bot,
                status,
                in_reply_to: Some(sent.answered),
                sent_at: sent.at,
                turn: None,
                attachment: Some(&attachment),
            },
        )
        .await?;
        metrics::counter!("pipeline_photos_sent_total", "outcome" => "sent").increment(1);
        if inserted && sent.channel == Channel::Whatsapp {
            let reply = OutboundReply {
                tenant_id: ctx.tenant_id,
                chat_id: chat.chat_id,
                customer_jid: chat.customer_jid.clone(),
                text: photo.caption.clone(),
                outbound_id,
                in_reply_to: Vec::new(),
                created_at: sent.at,
                received_at: None,
                image: Some(OutboundImage {
                    media_id: photo.media_id,
                    mime: photo.mime.clone(),
                }),
            };
            self.queue_reply(tx, &reply).await?;
        }
        Ok(())
    }

    /// The photos of `requested` products (in the order asked, each once), from the cache or fetched now.
    /// Runs between the model's answer and the commit, with no transaction held during a fetch.
    pub(super) async fn product_photos(
        &self,
        ctx: TenantCtx,
        catalog: &[CatalogItem],
        requested: &[Uuid],
    ) -> Vec<Photo> {
        let mut photos = Vec::new();
        for product_id in requested {
            let Some(item) = catalog.iter().find(|p| p.product_id == *product_id) else {
                continue;
            };
            let Some(url) = item
                .fields
                .image_url
                .as_deref()
                .filter(|u| !u.trim().is_empty())
            else {
                continue;
            };
            match self.product_photo(ctx, item, url.trim()).await {
                Ok(photo) => photos.push(photo),
                Err(e) => {
                    metrics::counter!("pipeline_photos_sent_total", "outcome" => "refused")
                        .increment(1);
                    tracing::warn!(tenant_id = %ctx.tenant_id, product_id = %item.product_id, reason = %e,
                        "product photo not sent");
                }
            }
        }
        photos
    }

    async fn product_photo(
        &self,
        ctx: TenantCtx,
        item: &CatalogItem,
        url: &str,
    ) -> Result<Photo, PhotoFailure> {
        let caption = format!(
            "{} — {}",
            item.fields.name.trim(),
            money(item.fields.price_xof.get())
        );
        let master = &self.inner.master;
        let mut tx = self.inner.db.tenant(ctx).await?;
        let key = master.data_key(&mut tx).await?;
        let cached = store::media::product_photo(&mut tx, &key, item.product_id, url).await?;
        tx.commit().await?;
        if let Some(media) = cached.filter(|m| m.bytes.is_some()) {
            return Ok(Photo {
                media_id: media.media_id,
                mime: media.mime,
                size_bytes: u64::try_from(media.size_bytes).unwrap_or(0),
                caption,
            });
        }
        let config = &self.inner.config;
        let (bytes, mime) = fetch(
            url,
            config.product_photo_max_bytes,
            config.product_photo_allow_private_hosts,
        )
        .await?;
        let media_id = store::media::product_photo_id(ctx.tenant_id, item.product_id, url);
        let mut tx = self.inner.db.tenant(ctx).await?;
        store::media::put(
            &mut tx,
            &key,
            &store::media::NewMedia {
                media_id,
                kind: MediaKind::Image,
                mime,
                bytes: &bytes,
                expires_at: None,
                product: Some((item.product_id, url)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Photo {
            media_id,
            mime: mime.to_owned(),
            size_bytes: bytes.len() as u64,
            caption,
        })
    }
}

/// A photo not sent: the image itself, or the database (which is the turn's problem, not the photo's).
#[derive(Debug, thiserror::Error)]
enum PhotoFailure {
    #[error(transparent)]
    Photo(#[from] PhotoError),
    #[error("database: {0}")]
    Store(#[from] store::Error),
}

/// Fetches a photo from `url`: JPEG or PNG by its bytes, at most `max_bytes`, never from a private address
/// unless `allow_private` (each redirect is checked again, and the connection goes to the checked address).
pub(crate) async fn fetch(
    url: &str,
    max_bytes: u64,
    allow_private: bool,
) -> Result<(Vec<u8>, &'static str), PhotoError> {
    let mut url = reqwest::Url::parse(url).map_err(|_| PhotoError::BadUrl)?;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PhotoError::BadUrl);
        }
        let host = url.host_str().ok_or(PhotoError::BadUrl)?.to_owned();
        let port = url.port_or_known_default().ok_or(PhotoError::BadUrl)?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| PhotoError::Fetch(format!("cannot resolve {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(PhotoError::Fetch(format!("{host} has no address")));
        }
        if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(PhotoError::PrivateAddress);
        }
        let client = reqwest::Client::builder()
            .resolve_to_addrs(&host, &addrs)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| PhotoError::Fetch(e.to_string()))?;
        let mut response = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "image/jpeg, image/png")
            .send()
            .await
            .map_err(|e| PhotoError::Fetch(e.to_string()))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or(PhotoError::Status(status.as_u16()))?;
            url = url.join(location).map_err(|_| PhotoError::BadUrl)?;
            continue;
        }
        if !status.is_success() {
            return Err(PhotoError::Status(status.as_u16()));
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(PhotoError::TooLarge(max_bytes));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| PhotoError::Fetch(e.to_string()))?
        {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(PhotoError::TooLarge(max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        // WhatsApp shows JPEG and PNG as photos; the declared type is not trusted.
        return match store::media::sniff(&bytes) {
            Some((MediaKind::Image, mime @ ("image/jpeg" | "image/png"))) => Ok((bytes, mime)),
            _ => Err(PhotoError::NotAPhoto),
        };
    }
    Err(PhotoError::Fetch("too many redirects".to_owned()))
}

/// Whether `ip` is on the public internet: not loopback, private, link-local, shared (CGNAT), multicast,
/// documentation or unspecified.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_fetched() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().expect("ip")), "{private}");
        }
        for public in ["41.202.207.1", "8.8.8.8", "2001:4860:4860::8888"] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
    }

    #[tokio::test]
    async fn a_loopback_image_address_is_refused_in_production() {
        let refused = fetch("http://127.0.0.1:9/photo.jpg", 1024, false).await;
        assert!(
            matches!(refused, Err(PhotoError::PrivateAddress)),
            "{refused:?}"
        );
        let refused = fetch("file:///etc/passwd", 1024, false).await;
        assert!(matches!(refused, Err(PhotoError::BadUrl)), "{refused:?}");
    }
}
