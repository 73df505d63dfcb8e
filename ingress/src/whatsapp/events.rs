//! Translation of whatsapp-rust's events into our [`GatewayEvent`]s. Pure functions of the crate's event (and
//! our own phone-number JID), so every mapping is tested without a live client; the session supervisor in
//! [`super::client`] only acts on the result.

use std::sync::Weak;

use async_trait::async_trait;
use schemas::{Location, MediaKind};
use whatsapp_rust::chrono::Utc;
use whatsapp_rust::client::Client;
use whatsapp_rust::download::Downloadable;
use whatsapp_rust::prelude::MessageExt;
use whatsapp_rust::types::events::{ConnectFailureReason, Event, InboundMessage};
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{ErrorChainExt, Jid};

use super::jid::{classify_jid, phone_number};
use crate::gateway::{
    GatewayError, GatewayEvent, IncomingMedia, IncomingMessage, MediaDownload, MediaSource,
};

/// What the supervisor does with one translated event.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// Forward now; the client keeps running.
    Event(GatewayEvent),
    /// The client stops by itself after this. The supervisor lets it finish (so nothing writes the store any
    /// more), wipes the stored session when `wipe_session` is set, then emits `event` and closes the channel.
    /// Emitting only after the stop means a caller that starts again at once never runs two clients on one
    /// session.
    Terminal {
        event: GatewayEvent,
        wipe_session: bool,
    },
}

/// Translates one crate event. Most kinds (receipts, presence, app-state sync…) mean nothing to the
/// gateway and give an empty list.
pub fn map_event(event: &Event, own_pn: Option<&Jid>) -> Vec<Mapped> {
    let forward = |e| vec![Mapped::Event(e)];
    match event {
        Event::PairingQrCode(qr) => forward(GatewayEvent::Qr {
            code: qr.code.clone(),
            valid_for: qr.timeout,
        }),
        Event::PairingCode(code) => forward(GatewayEvent::PairingCode {
            code: code.code.clone(),
            valid_for: code.timeout,
        }),
        // With a pair-code flow still outstanding the client keeps the socket up, and the code on the
        // shop's screen stays valid: nothing has ended yet.
        Event::PairingQrCodesExhausted(exhausted) if exhausted.disconnected => {
            terminal(GatewayEvent::QrExhausted, false)
        }
        Event::PairingQrCodesExhausted(_) => Vec::new(),
        Event::Connected(_) => forward(GatewayEvent::Connected {
            phone_number: own_pn.map(phone_number).unwrap_or_default(),
        }),
        Event::Disconnected(disconnected) => forward(GatewayEvent::Disconnected {
            reason: disconnected.reason.to_string(),
        }),
        // The crate's logout leaves the keys in the store; they are useless once the phone unlinked us.
        Event::LoggedOut(logged_out) => terminal(
            GatewayEvent::LoggedOut {
                reason: logout_reason(logged_out.reason, logged_out.on_connect),
            },
            true,
        ),
        Event::StreamReplaced(_) => terminal(GatewayEvent::Replaced, false),
        Event::TemporaryBan(ban) => terminal(
            GatewayEvent::TemporaryBan {
                until: Utc::now().checked_add_signed(ban.expire),
                reason: ban.code.to_string(),
            },
            false,
        ),
        // The server refuses this client version and the client stops. Not `Disconnected`: that promises a
        // reconnect that never comes. Reported as a logout that needs attention, but the session is kept:
        // the keys are still valid, and a crate upgrade resumes the tenant without a new QR scan.
        Event::ClientOutdated(_) => terminal(
            GatewayEvent::LoggedOut {
                reason:
                    "client_outdated: WhatsApp refuses this client version; upgrade whatsapp-rust"
                        .into(),
            },
            false,
        ),
        // 500/503 failures reconnect by themselves; every other refusal stops the client (same reasoning
        // as `ClientOutdated`: terminal, session kept).
        Event::ConnectFailure(failure) if failure.reason.should_reconnect() => {
            forward(GatewayEvent::Disconnected {
                reason: format!("connect failure {:?}", failure.reason),
            })
        }
        Event::ConnectFailure(failure) => terminal(
            GatewayEvent::LoggedOut {
                reason: format!("connect_failure: {:?}", failure.reason),
            },
            false,
        ),
        // Messages arrive through the durability hook (`client::StoreBeforeReceipt`), not as events: the
        // receipt to WhatsApp waits until they are stored.
        _ => Vec::new(),
    }
}

/// One inbound message as the ingress sees it; `None` for chats the sales bot has no business with. Media
/// are only announced: their download handle fetches the bytes through `client` if the ingress keeps them.
pub fn incoming_message(
    inbound: &InboundMessage,
    client: &Weak<Client>,
) -> Option<IncomingMessage> {
    let info = &inbound.info;
    let kind = classify_jid(&info.source.chat)?;
    // The ephemeral / view-once / device-sent / document-with-caption wrappers hold the real message.
    let base = inbound.message.get_base_message();
    let live = base.live_location_message.as_option();
    let text = inbound
        .message
        .text_content()
        .or_else(|| inbound.message.get_caption())
        .or_else(|| live.and_then(|l| l.caption.as_deref()))
        .map(str::to_owned);
    Some(IncomingMessage {
        id: info.id.to_string(),
        chat_jid: info.source.chat.to_string(),
        kind,
        push_name: info.push_name.clone(),
        text,
        media: media_of(base, client),
        location: location_of(base),
        from_me: info.source.is_from_me,
        timestamp: info.timestamp,
    })
}

/// The message's media, if it carries one the ingress knows.
fn media_of(base: &wa::Message, client: &Weak<Client>) -> Option<IncomingMedia> {
    let announce =
        |kind, mime: &Option<String>, size: Option<u64>, media: Box<dyn Downloadable>| {
            IncomingMedia {
                kind,
                mime: mime.clone().unwrap_or_default(),
                declared_size: size.unwrap_or(0),
                voice: false,
                seconds: None,
                file_name: None,
                download: MediaDownload::new(FromWhatsApp {
                    client: client.clone(),
                    media,
                }),
            }
        };
    if let Some(audio) = base.audio_message.as_option() {
        return Some(IncomingMedia {
            voice: audio.ptt.unwrap_or(false),
            seconds: audio.seconds,
            ..announce(
                MediaKind::Audio,
                &audio.mimetype,
                audio.file_length,
                Box::new(audio.clone()),
            )
        });
    }
    if let Some(image) = base.image_message.as_option() {
        return Some(announce(
            MediaKind::Image,
            &image.mimetype,
            image.file_length,
            Box::new(image.clone()),
        ));
    }
    // A round video note (`ptv`) is a video too.
    if let Some(video) = base
        .video_message
        .as_option()
        .or_else(|| base.ptv_message.as_option())
    {
        return Some(IncomingMedia {
            seconds: video.seconds,
            ..announce(
                MediaKind::Video,
                &video.mimetype,
                video.file_length,
                Box::new(video.clone()),
            )
        });
    }
    if let Some(document) = base.document_message.as_option() {
        return Some(IncomingMedia {
            file_name: document.file_name.clone().filter(|n| !n.trim().is_empty()),
            ..announce(
                MediaKind::Document,
                &document.mimetype,
                document.file_length,
                Box::new(document.clone()),
            )
        });
    }
    if let Some(sticker) = base.sticker_message.as_option() {
        return Some(announce(
            MediaKind::Sticker,
            &sticker.mimetype,
            sticker.file_length,
            Box::new(sticker.clone()),
        ));
    }
    None
}

/// A shared location, or the latest point of a live one; `None` without both coordinates.
fn location_of(base: &wa::Message) -> Option<Location> {
    let named = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
    if let Some(pin) = base.location_message.as_option() {
        return Some(Location {
            latitude: pin.degrees_latitude?,
            longitude: pin.degrees_longitude?,
            name: named(&pin.name),
            address: named(&pin.address),
        });
    }
    let live = base.live_location_message.as_option()?;
    Some(Location {
        latitude: live.degrees_latitude?,
        longitude: live.degrees_longitude?,
        name: None,
        address: None,
    })
}

fn refused_status(error: &whatsapp_rust::anyhow::Error) -> Option<u16> {
    let chain: &(dyn std::error::Error + Send + Sync + 'static) = error.as_ref();
    chain.http_status()
}

/// Downloads one media through the client that received it. Weak: a handle kept after the connection
/// stopped must not keep the client alive, and then simply fails.
struct FromWhatsApp {
    client: Weak<Client>,
    /// The media's proto message: its direct path, keys and hashes.
    media: Box<dyn Downloadable>,
}

#[async_trait]
impl MediaSource for FromWhatsApp {
    async fn fetch(&self) -> Result<Vec<u8>, GatewayError> {
        let client = self
            .client
            .upgrade()
            .ok_or_else(|| GatewayError::NotConnected("the WhatsApp client has stopped".into()))?;
        // Only the status is kept: the crate's errors may quote media addresses and their auth tokens.
        client
            .download(self.media.as_ref())
            .await
            .map_err(|e| match refused_status(&e) {
                // The CDN refuses the reference itself (expired, deleted): another attempt gets the same.
                Some(status @ (401 | 403 | 404 | 410)) => {
                    GatewayError::Permanent(format!("media refused by WhatsApp (HTTP {status})"))
                }
                Some(status) => {
                    GatewayError::Transient(format!("media download failed (HTTP {status})"))
                }
                None => GatewayError::Transient("media download failed before any answer".into()),
            })
    }
}

fn terminal(event: GatewayEvent, wipe_session: bool) -> Vec<Mapped> {
    vec![Mapped::Terminal {
        event,
        wipe_session,
    }]
}

fn logout_reason(reason: ConnectFailureReason, on_connect: bool) -> String {
    let reason = match reason {
        ConnectFailureReason::LoggedOut => "logged_out".to_owned(),
        ConnectFailureReason::AccountLocked => "account_locked".to_owned(),
        other => format!("{other:?}"),
    };
    if on_connect {
        format!("{reason} (refused at login)")
    } else {
        reason
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use whatsapp_rust::chrono::{self, TimeZone};
    use whatsapp_rust::prelude::MessageField;
    use whatsapp_rust::transport::DisconnectReason;
    use whatsapp_rust::types::events::{
        ClientOutdated, ConnectFailure, Connected, Disconnected, LoggedOut, PairingCode,
        PairingQrCode, PairingQrCodesExhausted, StreamReplaced, TempBanReason, TemporaryBan,
    };
    use whatsapp_rust::types::message::MessageInfo;

    use super::*;
    use crate::gateway::ChatKind;

    fn own() -> Jid {
        "2250700000009@s.whatsapp.net".parse().expect("jid")
    }

    fn one(event: Event) -> Mapped {
        let mut mapped = map_event(&event, Some(&own()));
        assert_eq!(mapped.len(), 1, "{event:?} maps to one entry");
        mapped.remove(0)
    }

    pub(crate) fn inbound(chat: &str, from_me: bool, message: wa::Message) -> InboundMessage {
        let mut info = MessageInfo::default();
        info.source.chat = chat.parse().expect("chat jid");
        info.source.sender = info.source.chat.clone();
        info.source.is_from_me = from_me;
        info.id = "3EB0C0FFEE".into();
        info.push_name = "Awa".into();
        info.timestamp = chrono::Utc
            .timestamp_opt(1_760_000_000, 0)
            .single()
            .expect("timestamp");
        InboundMessage::builder()
            .message(Arc::new(message))
            .info(Arc::new(info))
            .build()
    }

    /// A message in a direct chat, as the ingress sees it (no client: nothing can be downloaded).
    fn direct(message: wa::Message) -> IncomingMessage {
        incoming_message(
            &inbound("2250700000001@s.whatsapp.net", false, message),
            &Weak::new(),
        )
        .expect("a direct chat")
    }

    pub(crate) fn text(body: &str) -> wa::Message {
        wa::Message {
            conversation: Some(body.into()),
            ..Default::default()
        }
    }

    #[test]
    fn pairing_events_carry_the_code_and_its_validity() {
        let qr = PairingQrCode::builder()
            .code("ref,noise,identity,adv,1".into())
            .timeout(Duration::from_secs(60))
            .build();
        assert_eq!(
            one(Event::PairingQrCode(qr)),
            Mapped::Event(GatewayEvent::Qr {
                code: "ref,noise,identity,adv,1".into(),
                valid_for: Duration::from_secs(60)
            })
        );
        let code = PairingCode::builder()
            .code("ABCD1234".into())
            .timeout(Duration::from_secs(180))
            .build();
        assert_eq!(
            one(Event::PairingCode(code)),
            Mapped::Event(GatewayEvent::PairingCode {
                code: "ABCD1234".into(),
                valid_for: Duration::from_secs(180)
            })
        );
    }

    #[test]
    fn qr_exhaustion_is_terminal_only_when_the_client_disconnected() {
        let stopped = PairingQrCodesExhausted::builder()
            .disconnected(true)
            .build();
        assert_eq!(
            one(Event::PairingQrCodesExhausted(stopped)),
            Mapped::Terminal {
                event: GatewayEvent::QrExhausted,
                wipe_session: false
            }
        );
        let code_pending = PairingQrCodesExhausted::builder()
            .disconnected(false)
            .build();
        assert!(
            map_event(&Event::PairingQrCodesExhausted(code_pending), None).is_empty(),
            "a pair-code flow still rides the connection"
        );
    }

    #[test]
    fn connected_reports_our_own_phone_number() {
        assert_eq!(
            one(Event::Connected(Connected::builder().build())),
            Mapped::Event(GatewayEvent::Connected {
                phone_number: "2250700000009".into()
            })
        );
    }

    #[test]
    fn transport_drops_are_transient() {
        let event = Event::Disconnected(
            Disconnected::builder()
                .reason(DisconnectReason::StreamEnded)
                .build(),
        );
        assert_eq!(
            one(event),
            Mapped::Event(GatewayEvent::Disconnected {
                reason: "stream ended (EOF)".into()
            })
        );
    }

    #[test]
    fn logout_is_terminal_and_wipes_the_session() {
        let event = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(false)
                .reason(ConnectFailureReason::LoggedOut)
                .build(),
        );
        assert_eq!(
            one(event),
            Mapped::Terminal {
                event: GatewayEvent::LoggedOut {
                    reason: "logged_out".into()
                },
                wipe_session: true
            }
        );
        let locked = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(true)
                .reason(ConnectFailureReason::AccountLocked)
                .build(),
        );
        assert_eq!(
            one(locked),
            Mapped::Terminal {
                event: GatewayEvent::LoggedOut {
                    reason: "account_locked (refused at login)".into()
                },
                wipe_session: true
            }
        );
    }

    #[test]
    fn replacement_ban_and_outdated_client_are_terminal_but_keep_the_session() {
        assert_eq!(
            one(Event::StreamReplaced(StreamReplaced::builder().build())),
            Mapped::Terminal {
                event: GatewayEvent::Replaced,
                wipe_session: false
            }
        );

        let ban = TemporaryBan::builder()
            .code(TempBanReason::BlockedByUsers)
            .expire(chrono::Duration::hours(2))
            .build();
        let Mapped::Terminal {
            event: GatewayEvent::TemporaryBan { until, reason },
            wipe_session: false,
        } = one(Event::TemporaryBan(ban))
        else {
            panic!("a temporary ban is terminal and keeps the session");
        };
        let until = until.expect("a deadline");
        let in_two_hours = Utc::now() + chrono::Duration::hours(2);
        assert!(
            (in_two_hours - until).num_seconds().abs() < 60,
            "the ban ends about two hours from now"
        );
        assert!(reason.contains("102"), "reason names the code: {reason}");

        let Mapped::Terminal {
            event: GatewayEvent::LoggedOut { reason },
            wipe_session: false,
        } = one(Event::ClientOutdated(ClientOutdated::builder().build()))
        else {
            panic!("an outdated client is terminal and keeps the session");
        };
        assert!(reason.starts_with("client_outdated"), "{reason}");
    }

    #[test]
    fn connect_failures_reconnect_only_on_server_errors() {
        let unavailable = ConnectFailure::builder()
            .reason(ConnectFailureReason::ServiceUnavailable)
            .build();
        assert!(matches!(
            one(Event::ConnectFailure(unavailable)),
            Mapped::Event(GatewayEvent::Disconnected { .. })
        ));
        let refused = ConnectFailure::builder()
            .reason(ConnectFailureReason::BadUserAgent)
            .build();
        assert!(matches!(
            one(Event::ConnectFailure(refused)),
            Mapped::Terminal {
                event: GatewayEvent::LoggedOut { .. },
                wipe_session: false
            }
        ));
    }

    #[test]
    fn messages_carry_text_kind_sender_name_and_time() {
        let batch = [
            inbound("2250700000001@s.whatsapp.net", false, text("Bonjour")),
            inbound("120363021033254949@g.us", true, text("Promo")),
            inbound("867051314767696@bot", false, text("ignored")),
        ];
        let messages: Vec<IncomingMessage> = batch
            .iter()
            .filter_map(|m| incoming_message(m, &Weak::new()))
            .collect();
        assert_eq!(messages.len(), 2, "the bot chat is dropped");
        assert_eq!(
            messages[0],
            IncomingMessage {
                id: "3EB0C0FFEE".into(),
                chat_jid: "2250700000001@s.whatsapp.net".into(),
                kind: ChatKind::Direct,
                push_name: "Awa".into(),
                text: Some("Bonjour".into()),
                media: None,
                location: None,
                from_me: false,
                timestamp: chrono::Utc
                    .timestamp_opt(1_760_000_000, 0)
                    .single()
                    .expect("timestamp"),
            }
        );
        assert_eq!(messages[1].kind, ChatKind::Group);
        assert!(messages[1].from_me, "sent from the shop's phone");
    }

    #[test]
    fn text_comes_from_extended_text_and_media_captions() {
        let extended = wa::Message {
            extended_text_message: whatsapp_rust::prelude::MessageField::some(
                wa::message::ExtendedTextMessage {
                    text: Some("Avec lien https://example.com".into()),
                    ..Default::default()
                },
            ),
            ..Default::default()
        };
        let image = wa::Message {
            image_message: whatsapp_rust::prelude::MessageField::some(wa::message::ImageMessage {
                caption: Some("Ce modèle en rouge ?".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let video = wa::Message {
            video_message: whatsapp_rust::prelude::MessageField::some(wa::message::VideoMessage {
                caption: Some("Vidéo".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let bare_image = wa::Message {
            image_message: whatsapp_rust::prelude::MessageField::some(
                wa::message::ImageMessage::default(),
            ),
            ..Default::default()
        };
        let cases = [
            (
                extended,
                Some("Avec lien https://example.com"),
                "extended text",
            ),
            (image, Some("Ce modèle en rouge ?"), "image caption"),
            (video, Some("Vidéo"), "video caption"),
            (bare_image, None, "image without caption"),
        ];
        for (message, expected, case) in cases {
            let m = direct(message);
            assert_eq!(m.text.as_deref(), expected, "{case}");
        }
        let status = incoming_message(
            &inbound("status@broadcast", false, text("story")),
            &Weak::new(),
        )
        .expect("status is classified");
        assert_eq!(status.kind, ChatKind::Status);
    }

    #[test]
    fn voice_notes_are_announced_with_their_type_size_and_length_without_download() {
        let voice = wa::Message {
            audio_message: MessageField::some(wa::message::AudioMessage {
                ptt: Some(true),
                seconds: Some(7),
                mimetype: Some("audio/ogg; codecs=opus".into()),
                file_length: Some(12_345),
                ..Default::default()
            }),
            ..Default::default()
        };
        let audio_file = wa::Message {
            audio_message: MessageField::some(wa::message::AudioMessage {
                mimetype: Some("audio/mpeg".into()),
                ..Default::default()
            }),
            ..Default::default()
        };

        let voice = direct(voice);
        let audio_file = direct(audio_file);

        assert_eq!(voice.text, None, "a voice note has no text");
        let media = voice.media.expect("announced");
        assert_eq!(
            (media.kind, media.mime.as_str(), media.declared_size),
            (MediaKind::Audio, "audio/ogg; codecs=opus", 12_345)
        );
        assert!(media.voice, "push-to-talk is a voice note");
        assert_eq!(media.seconds, Some(7));
        let file = audio_file.media.expect("announced");
        assert!(!file.voice, "an audio file is not a voice note");
        assert_eq!(file.declared_size, 0, "unknown size");
    }

    #[test]
    fn a_photo_carries_its_caption_as_text() {
        let photo = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                caption: Some("Vous l'avez en 42 ?".into()),
                mimetype: Some("image/jpeg".into()),
                file_length: Some(204_800),
                ..Default::default()
            }),
            ..Default::default()
        };

        let m = direct(photo);

        assert_eq!(m.text.as_deref(), Some("Vous l'avez en 42 ?"));
        let media = m.media.expect("announced");
        assert_eq!(
            (media.kind, media.mime.as_str(), media.declared_size),
            (MediaKind::Image, "image/jpeg", 204_800)
        );
        assert!(!media.voice);
    }

    #[test]
    fn videos_documents_and_stickers_are_announced_with_their_kind() {
        let video = wa::Message {
            video_message: MessageField::some(wa::message::VideoMessage {
                seconds: Some(12),
                mimetype: Some("video/mp4".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let video_note = wa::Message {
            ptv_message: MessageField::some(wa::message::VideoMessage::default()),
            ..Default::default()
        };
        let document = wa::Message {
            document_message: MessageField::some(wa::message::DocumentMessage {
                file_name: Some("bon-de-commande.pdf".into()),
                mimetype: Some("application/pdf".into()),
                file_length: Some(90_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        let sticker = wa::Message {
            sticker_message: MessageField::some(wa::message::StickerMessage {
                mimetype: Some("image/webp".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let cases = [
            (video, MediaKind::Video, Some(12), None, "video"),
            (video_note, MediaKind::Video, None, None, "round video note"),
            (
                document,
                MediaKind::Document,
                None,
                Some("bon-de-commande.pdf"),
                "document",
            ),
            (sticker, MediaKind::Sticker, None, None, "sticker"),
        ];
        for (message, kind, seconds, file_name, case) in cases {
            let media = direct(message).media.expect(case);
            assert_eq!(media.kind, kind, "{case}");
            assert_eq!(media.seconds, seconds, "{case}");
            assert_eq!(media.file_name.as_deref(), file_name, "{case}");
        }
    }

    #[test]
    fn media_inside_ephemeral_and_view_once_wrappers_are_found() {
        let voice = wa::message::AudioMessage {
            ptt: Some(true),
            ..Default::default()
        };
        let ephemeral = wa::Message {
            ephemeral_message: MessageField::some(wa::message::FutureProofMessage {
                message: MessageField::some(wa::Message {
                    audio_message: MessageField::some(voice),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let view_once = wa::Message {
            view_once_message: MessageField::some(wa::message::FutureProofMessage {
                message: MessageField::some(wa::Message {
                    image_message: MessageField::some(wa::message::ImageMessage::default()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };

        assert_eq!(
            direct(ephemeral).media.map(|m| (m.kind, m.voice)),
            Some((MediaKind::Audio, true)),
            "disappearing messages"
        );
        assert_eq!(
            direct(view_once).media.map(|m| m.kind),
            Some(MediaKind::Image),
            "view once"
        );
    }

    #[test]
    fn shared_and_live_locations_carry_their_coordinates() {
        let pin = wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(5.3599),
                degrees_longitude: Some(-4.0083),
                name: Some("Marché de Cocody".into()),
                address: Some("  ".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let live = wa::Message {
            live_location_message: MessageField::some(wa::message::LiveLocationMessage {
                degrees_latitude: Some(5.3),
                degrees_longitude: Some(-4.0),
                caption: Some("Je suis ici".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let without_coordinates = wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                name: Some("Quelque part".into()),
                ..Default::default()
            }),
            ..Default::default()
        };

        let pin = direct(pin);
        let live = direct(live);
        let nowhere = direct(without_coordinates);

        assert_eq!(
            pin.location,
            Some(Location {
                latitude: 5.3599,
                longitude: -4.0083,
                name: Some("Marché de Cocody".into()),
                address: None,
            }),
            "a blank address is no address"
        );
        assert_eq!((pin.text, pin.media), (None, None));
        assert_eq!(
            live.location.map(|l| (l.latitude, l.longitude)),
            Some((5.3, -4.0))
        );
        assert_eq!(
            live.text.as_deref(),
            Some("Je suis ici"),
            "the live location's caption"
        );
        assert_eq!(nowhere.location, None, "no coordinates, no location");
    }

    #[tokio::test]
    async fn a_download_handle_outliving_its_client_fails_as_not_connected() {
        let photo = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage::default()),
            ..Default::default()
        };
        let media = direct(photo).media.expect("announced");

        let fetched = media.download.fetch().await;

        assert!(
            matches!(fetched, Err(GatewayError::NotConnected(_))),
            "{fetched:?}"
        );
        assert_eq!(
            format!("{:?}", media.download),
            "MediaDownload(..)",
            "keys and addresses never reach a log"
        );
    }

    #[test]
    fn events_the_gateway_does_not_model_are_dropped() {
        let event = Event::PairSuccess(
            whatsapp_rust::types::events::PairSuccess::builder()
                .id(own())
                .lid("123456789012345@lid".parse().expect("lid"))
                .business_name(String::new())
                .platform("android".into())
                .build(),
        );
        assert!(map_event(&event, Some(&own())).is_empty());
    }
}
