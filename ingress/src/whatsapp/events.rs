//! Translation of whatsapp-rust's events into our [`GatewayEvent`]s. Pure functions of the crate's event (and
//! our own phone-number JID), so every mapping is tested without a live client; the session supervisor in
//! [`super::client`] only acts on the result.

use whatsapp_rust::Jid;
use whatsapp_rust::chrono::Utc;
use whatsapp_rust::prelude::MessageExt;
use whatsapp_rust::types::events::{ConnectFailureReason, Event, InboundMessage};

use super::jid::{classify_jid, phone_number};
use crate::gateway::{GatewayEvent, IncomingMessage};

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

/// One inbound message as the ingress sees it; `None` for chats the sales bot has no business with.
pub fn incoming_message(inbound: &InboundMessage) -> Option<IncomingMessage> {
    let info = &inbound.info;
    let kind = classify_jid(&info.source.chat)?;
    // `text_content` and `get_caption` both look through the ephemeral / view-once / device-sent wrappers.
    let text = inbound
        .message
        .text_content()
        .or_else(|| inbound.message.get_caption())
        .map(str::to_owned);
    Some(IncomingMessage {
        id: info.id.to_string(),
        chat_jid: info.source.chat.to_string(),
        kind,
        push_name: info.push_name.clone(),
        text,
        from_me: info.source.is_from_me,
        timestamp: info.timestamp,
    })
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
    use whatsapp_rust::transport::DisconnectReason;
    use whatsapp_rust::types::events::{
        ClientOutdated, ConnectFailure, Connected, Disconnected, LoggedOut, PairingCode,
        PairingQrCode, PairingQrCodesExhausted, StreamReplaced, TempBanReason, TemporaryBan,
    };
    use whatsapp_rust::types::message::MessageInfo;
    use whatsapp_rust::waproto::whatsapp as wa;

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
        let messages: Vec<IncomingMessage> = batch.iter().filter_map(incoming_message).collect();
        assert_eq!(messages.len(), 2, "the bot chat is dropped");
        assert_eq!(
            messages[0],
            IncomingMessage {
                id: "3EB0C0FFEE".into(),
                chat_jid: "2250700000001@s.whatsapp.net".into(),
                kind: ChatKind::Direct,
                push_name: "Awa".into(),
                text: Some("Bonjour".into()),
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
            let m = incoming_message(&inbound("2250700000001@s.whatsapp.net", false, message))
                .expect("a direct chat");
            assert_eq!(m.text.as_deref(), expected, "{case}");
        }
        let status = incoming_message(&inbound("status@broadcast", false, text("story")))
            .expect("status is classified");
        assert_eq!(status.kind, ChatKind::Status);
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
