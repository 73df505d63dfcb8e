//! The shop's media store: customer voice notes and photos, and the product photos the bot sends. Bytes are
//! sealed with the shop's data key under a purpose naming the media id, so a sealed blob copied to another
//! row or another shop does not open; row-level security keeps the rows apart as well.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use schemas::MediaKind;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::crypto::DataKey;
use crate::{Error, PlatformTx, Result, TenantTx};

/// Media the store keeps: what a model can read (voice notes and photos).
fn kind_str(kind: MediaKind) -> Result<&'static str> {
    match kind {
        MediaKind::Audio | MediaKind::Image => Ok(kind.as_str()),
        other => Err(Error::Internal(anyhow::anyhow!(
            "media of kind {} are not stored",
            other.as_str()
        ))),
    }
}

fn kind_from(stored: &str) -> MediaKind {
    if stored == "audio" {
        MediaKind::Audio
    } else {
        MediaKind::Image
    }
}

/// The id of a customer message's media: derived from the shop and the message, so storing a redelivered
/// message twice keeps one copy.
pub fn inbound_media_id(tenant_id: Uuid, wa_message_id: &str) -> Uuid {
    Uuid::new_v5(&tenant_id, format!("media:{wa_message_id}").as_bytes())
}

fn purpose(media_id: Uuid) -> String {
    format!("media/{media_id}")
}

/// Media to store.
pub struct NewMedia<'a> {
    pub media_id: Uuid,
    pub kind: MediaKind,
    pub mime: &'a str,
    pub bytes: &'a [u8],
    /// When the bytes are dropped (`None`: kept, for product photos).
    pub expires_at: Option<DateTime<Utc>>,
    /// A product photo: the product and the address it was fetched from.
    pub product: Option<(Uuid, &'a str)>,
}

/// Stored media, opened.
#[derive(Clone, PartialEq)]
pub struct Media {
    pub media_id: Uuid,
    pub kind: MediaKind,
    pub mime: String,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// `None` once expired.
    pub bytes: Option<Vec<u8>>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("media_id", &self.media_id)
            .field("kind", &self.kind)
            .field("mime", &self.mime)
            .field("size_bytes", &self.size_bytes)
            .field("expired", &self.bytes.is_none())
            .finish()
    }
}

/// Seals and stores `new` for the transaction's shop; storing the same id again is a no-op (`false`).
pub async fn put(tx: &mut TenantTx<'_>, key: &DataKey, new: &NewMedia<'_>) -> Result<bool> {
    if key.tenant_id() != tx.tenant_id() {
        return Err(Error::Crypto);
    }
    let sealed = key.seal(&purpose(new.media_id), new.bytes)?;
    let sha256 = Sha256::digest(new.bytes).to_vec();
    let size = i32::try_from(new.bytes.len())
        .map_err(|_| Error::Internal(anyhow::anyhow!("media larger than 2 GiB")))?;
    let (product_id, source_url) = match new.product {
        Some((product_id, url)) => (Some(product_id), Some(url)),
        None => (None, None),
    };
    let inserted = sqlx::query!(
        "insert into media (tenant_id, media_id, kind, mime, size_bytes, sha256, sealed, product_id, source_url,
                            expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict do nothing",
        tx.tenant_id(),
        new.media_id,
        kind_str(new.kind)?,
        new.mime,
        size,
        sha256,
        sealed,
        product_id,
        source_url,
        new.expires_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

struct Row {
    media_id: Uuid,
    kind: String,
    mime: String,
    size_bytes: i32,
    sealed: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
}

fn open(key: &DataKey, row: Row) -> Result<Media> {
    let bytes = match row.sealed {
        Some(sealed) => Some(key.open(&purpose(row.media_id), &sealed)?),
        None => None,
    };
    Ok(Media {
        media_id: row.media_id,
        kind: kind_from(&row.kind),
        mime: row.mime,
        size_bytes: i64::from(row.size_bytes),
        created_at: row.created_at,
        expires_at: row.expires_at,
        bytes,
    })
}

/// The shop's media `media_id`, opened with its key; `NotFound` for another shop's id.
pub async fn get(tx: &mut TenantTx<'_>, key: &DataKey, media_id: Uuid) -> Result<Media> {
    let row = sqlx::query_as!(
        Row,
        "select media_id, kind, mime, size_bytes, sealed, created_at, expires_at
         from media where tenant_id = $1 and media_id = $2",
        tx.tenant_id(),
        media_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(Error::NotFound)?;
    open(key, row)
}

/// The cached photo of `product_id` fetched from `url`, if it was fetched before.
pub async fn product_photo(
    tx: &mut TenantTx<'_>,
    key: &DataKey,
    product_id: Uuid,
    url: &str,
) -> Result<Option<Media>> {
    let row = sqlx::query_as!(
        Row,
        "select media_id, kind, mime, size_bytes, sealed, created_at, expires_at
         from media where tenant_id = $1 and product_id = $2 and source_url = $3",
        tx.tenant_id(),
        product_id,
        url,
    )
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| open(key, row)).transpose()
}

/// The id a product photo from `url` is stored under.
pub fn product_photo_id(tenant_id: Uuid, product_id: Uuid, url: &str) -> Uuid {
    Uuid::new_v5(&tenant_id, format!("product:{product_id}:{url}").as_bytes())
}

/// The first instant of `now`'s UTC month.
fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// This UTC month's customer media stored for the shop, and the plan's monthly allowance (`None`: unlimited).
pub async fn month_usage(tx: &mut TenantTx<'_>, now: DateTime<Utc>) -> Result<(i64, Option<i64>)> {
    let row = sqlx::query!(
        r#"select (select count(*) from media m
                   where m.tenant_id = t.tenant_id and m.product_id is null and m.created_at >= $2) as "used!",
                  p.max_media_per_month
           from tenant t join plan p on p.plan_code = t.plan_code
           where t.tenant_id = $1"#,
        tx.tenant_id(),
        month_start(now),
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(Error::NotFound)?;
    Ok((row.used, row.max_media_per_month.map(i64::from)))
}

/// Drops the bytes of up to `limit` media past their retention, across shops; returns how many.
pub async fn expire(tx: &mut PlatformTx, now: DateTime<Utc>, limit: i64) -> Result<u64> {
    let done = sqlx::query!(
        "update media set sealed = null
         where (tenant_id, media_id) in (
           select tenant_id, media_id from media
           where sealed is not null and expires_at is not null and expires_at <= $1
           limit $2)",
        now,
        limit,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Limits on customer media, shared by the ingress, the simulator and the API.
#[derive(Debug, Clone, clap::Args)]
pub struct MediaConfig {
    /// Largest voice note or photo kept, in bytes; larger ones get a polite refusal.
    #[arg(long, env = "MEDIA_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub media_max_bytes: u64,
    /// Days customer media are kept before their bytes are deleted (the transcript stays).
    #[arg(long, env = "MEDIA_RETENTION_DAYS", default_value_t = 30)]
    pub media_retention_days: u32,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            media_max_bytes: 10 * 1024 * 1024,
            media_retention_days: 30,
        }
    }
}

impl MediaConfig {
    /// When media stored at `now` expires.
    pub fn expires_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::days(i64::from(self.media_retention_days))
    }
}

/// What the bytes really are, by their signature (never by a declared type): the media kinds and formats
/// the bot accepts — voice notes and audio files a model can hear, photos it can see.
pub fn sniff(bytes: &[u8]) -> Option<(MediaKind, &'static str)> {
    let found = infer::get(bytes)?;
    let mime = found.mime_type();
    let kind = match mime {
        "image/jpeg" | "image/png" | "image/webp" => MediaKind::Image,
        "audio/ogg" | "audio/opus" | "audio/mpeg" | "audio/x-wav" | "audio/aac" | "audio/amr"
        | "audio/x-flac" | "audio/m4a" | "video/mp4" | "video/webm" => MediaKind::Audio,
        _ => return None,
    };
    // Voice notes recorded by browsers and phones come in MP4 or WebM containers; they are heard as audio.
    let mime = match mime {
        "video/mp4" | "audio/m4a" => "audio/mp4",
        "video/webm" => "audio/webm",
        "audio/x-wav" => "audio/wav",
        // WhatsApp's voice notes are Opus in an Ogg container: `audio/ogg` is what models accept.
        "audio/opus" => "audio/ogg",
        "audio/x-flac" => "audio/flac",
        other => other,
    };
    Some((kind, mime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(
            sniff(b"OggS\0\x02\0\0\0\0\0\0\0\0"),
            Some((MediaKind::Audio, "audio/ogg"))
        );
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F']),
            Some((MediaKind::Image, "image/jpeg"))
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some((MediaKind::Image, "image/png"))
        );
        let mut voice_note = b"OggS\0\x02".to_vec();
        voice_note.resize(28, 0);
        voice_note.extend_from_slice(b"OpusHead\x01\x01");
        assert_eq!(sniff(&voice_note), Some((MediaKind::Audio, "audio/ogg")));
        assert_eq!(sniff(b"%PDF-1.7\n"), None);
        assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
        assert_eq!(sniff(b"hello"), None);
    }

    #[test]
    fn a_redelivered_message_keeps_one_media_id() {
        let shop = Uuid::new_v4();
        assert_eq!(
            inbound_media_id(shop, "3EB0"),
            inbound_media_id(shop, "3EB0")
        );
        assert_ne!(
            inbound_media_id(shop, "3EB0"),
            inbound_media_id(Uuid::new_v4(), "3EB0")
        );
    }
}
