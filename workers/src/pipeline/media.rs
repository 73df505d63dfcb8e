//! Customer media in a turn: the voice notes and photos a provider gets (opened from the shop's media store),
//! and what the bot says — without a model — about media it cannot read (too large, over the plan's quota, a
//! video or a document, gone), alerting the shop when a person should look.

use std::collections::HashMap;

use schemas::{Attachment, MediaKind, MediaRefusal};
use store::crypto::DataKey;
use store::{TenantTx, messages};
use uuid::Uuid;

use crate::llm::TurnMedia;

/// What the pending messages' media ask of a turn.
#[derive(Debug, Default)]
pub(super) struct MediaPlan {
    /// Voice notes and photos for the provider, by index into the turn's messages.
    pub media: Vec<TurnMedia>,
    /// What the bot says about media it cannot read, before its answer (each sentence once).
    pub notices: Vec<String>,
    /// Why the shop is alerted, when a person should look at what the customer sent.
    pub alert: Option<String>,
    /// Messages whose only content was unreadable media: they are answered by the notices alone.
    pub unreadable: Vec<usize>,
    /// Every pending message is a sticker: nothing to answer.
    pub stickers_only: bool,
    /// (kind, readable) of each attachment, for the metrics.
    pub kinds: Vec<(MediaKind, bool)>,
}

impl MediaPlan {
    /// Whether a provider has anything left to answer.
    pub fn leaves_something_to_answer(&self, messages: usize) -> bool {
        self.unreadable.len() < messages
    }
}

/// Reads the attachments of `pending` (oldest first): opens the readable ones with the shop's key and words
/// the notices for the others.
pub(super) async fn plan(
    tx: &mut TenantTx<'_>,
    key: Option<&DataKey>,
    pending: &[messages::Message],
    english: bool,
) -> Result<MediaPlan, store::Error> {
    let mut plan = MediaPlan {
        stickers_only: !pending.is_empty(),
        ..MediaPlan::default()
    };
    let mut alerts: Vec<String> = Vec::new();
    for (index, message) in pending.iter().enumerate() {
        let attachment = message.attachment.as_ref().map(|a| &a.0);
        let is_sticker = attachment.is_some_and(|a| a.kind == MediaKind::Sticker);
        if !is_sticker {
            plan.stickers_only = false;
        }
        let Some(attachment) = attachment else {
            continue;
        };
        if is_sticker {
            plan.unreadable.push(index);
            plan.kinds.push((MediaKind::Sticker, false));
            continue;
        }
        let opened = match (attachment.refused, attachment.media_id, key) {
            (None, Some(media_id), Some(key)) if attachment.kind.is_understood() => {
                open(tx, key, media_id).await?
            }
            _ => None,
        };
        match opened {
            Some((mime, bytes)) => {
                plan.kinds.push((attachment.kind, true));
                plan.media.push(TurnMedia {
                    message: index,
                    kind: attachment.kind,
                    mime,
                    bytes,
                });
            }
            None => {
                plan.kinds.push((attachment.kind, false));
                plan.unreadable.push(index);
                let (notice, alert) = refusal(attachment, english);
                if !plan.notices.contains(&notice) {
                    plan.notices.push(notice);
                }
                alerts.extend(alert);
            }
        }
    }
    if !alerts.is_empty() {
        alerts.dedup();
        plan.alert = Some(alerts.join(" "));
    }
    Ok(plan)
}

/// The media's type and bytes, or `None` when they expired (or were never stored).
async fn open(
    tx: &mut TenantTx<'_>,
    key: &DataKey,
    media_id: Uuid,
) -> Result<Option<(String, Vec<u8>)>, store::Error> {
    match store::media::get(tx, key, media_id).await {
        Ok(media) => Ok(media.bytes.map(|bytes| (media.mime, bytes))),
        Err(store::Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the bot tells the customer about media it cannot read, and why the shop is alerted (if it is).
fn refusal(attachment: &Attachment, english: bool) -> (String, Option<String>) {
    let size = megabytes(attachment.size_bytes, english);
    let voice = attachment.kind == MediaKind::Audio;
    let (fr, en, alert): (String, String, Option<String>) = match attachment.refused {
        Some(MediaRefusal::TooLarge) if voice => (
            format!("Votre message vocal est trop lourd pour moi ({size}). Pouvez-vous en envoyer un plus court, ou écrire votre demande ?"),
            format!("Your voice note is too large for me ({size}). Could you send a shorter one, or write your request?"),
            None,
        ),
        Some(MediaRefusal::TooLarge) => (
            format!("Votre fichier est trop lourd pour moi ({size}). Pouvez-vous envoyer une photo plus légère, ou écrire le nom du produit ?"),
            format!("Your file is too large for me ({size}). Could you send a lighter photo, or write the product's name?"),
            None,
        ),
        Some(MediaRefusal::QuotaReached) => (
            "Je ne peux pas lire de nouveaux messages vocaux ni de photos pour le moment. Pouvez-vous écrire votre demande ? J'ai prévenu l'équipe de la boutique.".to_owned(),
            "I cannot read new voice notes or photos at the moment. Could you write your request? I have told the shop's team.".to_owned(),
            Some("Le quota mensuel de médias de votre forfait est atteint : le bot n'a pas pu lire un message vocal ou une photo de ce client.".to_owned()),
        ),
        Some(MediaRefusal::Unsupported) | None if attachment.kind == MediaKind::Video => (
            "Je ne peux pas regarder les vidéos. Pouvez-vous écrire votre demande ? J'ai prévenu l'équipe de la boutique.".to_owned(),
            "I cannot watch videos. Could you write your request? I have told the shop's team.".to_owned(),
            Some("Le client a envoyé une vidéo, que le bot ne regarde pas.".to_owned()),
        ),
        Some(MediaRefusal::Unsupported) | None if attachment.kind == MediaKind::Document => {
            let name = attachment
                .file_name
                .as_deref()
                .map(|n| format!(" « {} »", n.chars().take(80).collect::<String>()))
                .unwrap_or_default();
            (
                "Je ne peux pas ouvrir les documents. Pouvez-vous écrire votre demande ? J'ai prévenu l'équipe de la boutique.".to_owned(),
                "I cannot open documents. Could you write your request? I have told the shop's team.".to_owned(),
                Some(format!("Le client a envoyé un document{name}, que le bot n'ouvre pas.")),
            )
        }
        Some(MediaRefusal::Unsupported) => (
            "Je ne peux pas lire ce fichier (format non pris en charge). Pouvez-vous écrire votre demande ?".to_owned(),
            "I cannot read this file (unsupported format). Could you write your request?".to_owned(),
            None,
        ),
        Some(MediaRefusal::Unavailable) | None => (
            "Je n'ai pas pu recevoir votre fichier. Pouvez-vous le renvoyer, ou écrire votre demande ?".to_owned(),
            "I could not receive your file. Could you send it again, or write your request?".to_owned(),
            None,
        ),
    };
    (if english { en } else { fr }, alert)
}

/// "12,4 Mo" (or "12.4 MB").
fn megabytes(bytes: u64, english: bool) -> String {
    let tenths = (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0;
    if english {
        format!("{tenths:.1} MB")
    } else {
        format!("{tenths:.1} Mo").replace('.', ",")
    }
}

/// The text a message contributes to the turn: its own, and a shared location as a delivery address
/// candidate. Messages answered by notices only contribute nothing.
pub(super) fn incoming_text(message: &messages::Message, unreadable: bool) -> String {
    if unreadable {
        return String::new();
    }
    let mut text = message.body.trim().to_owned();
    if let Some(location) = message.location.as_ref().map(|l| &l.0) {
        let line = format!(
            "{} (adresse de livraison possible) : {} ({})",
            crate::llm::LOCATION_PREFIX,
            location.describe(),
            location.map_url()
        );
        text = if text.is_empty() {
            line
        } else {
            format!("{text}\n{line}")
        };
    }
    text
}

/// How an earlier customer message reads in the conversation's memory: its text, what a voice note said, that a
/// photo was sent, and a shared location.
pub(super) fn history_text(message: &messages::Message) -> String {
    let mut text = incoming_text(message, false);
    let kind = message.attachment.as_ref().map(|a| a.0.kind);
    let said = match (&message.transcript, kind) {
        (Some(heard), _) => Some(format!("(Message vocal : « {heard} »)")),
        (None, Some(MediaKind::Audio)) => Some("(Message vocal)".to_owned()),
        (None, Some(MediaKind::Image)) => Some("(Photo)".to_owned()),
        (None, Some(MediaKind::Video)) => Some("(Vidéo)".to_owned()),
        (None, Some(MediaKind::Document)) => Some("(Document)".to_owned()),
        (None, Some(MediaKind::Sticker)) => Some("(Autocollant)".to_owned()),
        (None, None) => None,
    };
    if let Some(said) = said {
        text = if text.is_empty() {
            said
        } else {
            format!("{said} {text}")
        };
    }
    text
}

/// Counts how each attachment of a committed turn was answered.
pub(super) fn count(kinds: &[(MediaKind, bool)], engine: &str) {
    let mut counts: HashMap<(&'static str, &'static str), u64> = HashMap::new();
    for (kind, readable) in kinds {
        let how = match (readable, engine) {
            (false, _) => "refused",
            (true, "offline") => "offline",
            (true, _) => "model",
        };
        *counts.entry((kind.as_str(), how)).or_default() += 1;
    }
    for ((kind, how), n) in counts {
        metrics::counter!("pipeline_media_answers_total", "kind" => kind, "how" => how)
            .increment(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(kind: MediaKind, refused: Option<MediaRefusal>, size: u64) -> Attachment {
        Attachment {
            kind,
            media_id: None,
            mime: String::new(),
            size_bytes: size,
            voice: kind == MediaKind::Audio,
            seconds: None,
            file_name: Some("facture.pdf".into()),
            refused,
        }
    }

    #[test]
    fn a_too_large_voice_note_is_refused_politely_with_its_size() {
        let (notice, alert) = refusal(
            &attachment(
                MediaKind::Audio,
                Some(MediaRefusal::TooLarge),
                25 * 1024 * 1024 + 400_000,
            ),
            false,
        );
        assert!(notice.contains("trop lourd"), "{notice}");
        assert!(notice.contains("25,4 Mo"), "{notice}");
        assert_eq!(alert, None);
    }

    #[test]
    fn videos_documents_and_an_exhausted_quota_alert_the_shop() {
        for kind in [MediaKind::Video, MediaKind::Document] {
            let (_, alert) = refusal(
                &attachment(kind, Some(MediaRefusal::Unsupported), 10),
                false,
            );
            assert!(alert.is_some(), "{kind:?}");
        }
        let (_, alert) = refusal(
            &attachment(MediaKind::Image, Some(MediaRefusal::QuotaReached), 10),
            false,
        );
        assert!(alert.is_some_and(|a| a.contains("quota")));
        let (notice, alert) = refusal(
            &attachment(MediaKind::Document, Some(MediaRefusal::Unsupported), 10),
            true,
        );
        assert!(notice.starts_with("I cannot open documents"), "{notice}");
        assert!(alert.is_some_and(|a| a.contains("« facture.pdf »")));
    }
}
