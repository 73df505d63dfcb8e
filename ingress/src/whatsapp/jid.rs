//! JIDs at the edge of the gateway: which kind of chat a JID names, and how a recipient string becomes a JID.
//! Pure functions, so the classification is tested without a client.

use whatsapp_rust::{Jid, Server};

use crate::gateway::ChatKind;

/// What kind of chat `jid` names, from its server part; `None` for chats the sales bot has no business
/// with (Meta AI bots, Messenger interop, call signalling) and for strings that are not JIDs.
pub fn classify_chat(jid: &str) -> Option<ChatKind> {
    let (user, server) = jid.rsplit_once('@')?;
    match server {
        // Phone-number and LID addressing of the same people; `c.us` is the legacy spelling.
        "s.whatsapp.net" | "c.us" | "lid" | "hosted" | "hosted.lid" => Some(ChatKind::Direct),
        "g.us" => Some(ChatKind::Group),
        "broadcast" if user == "status" => Some(ChatKind::Status),
        "broadcast" => Some(ChatKind::Broadcast),
        "newsletter" => Some(ChatKind::Newsletter),
        _ => None,
    }
}

/// [`classify_chat`] for a parsed JID, without formatting it.
pub fn classify_jid(jid: &Jid) -> Option<ChatKind> {
    match jid.server {
        Server::Pn | Server::Legacy | Server::Lid | Server::Hosted | Server::HostedLid => {
            Some(ChatKind::Direct)
        }
        Server::Group => Some(ChatKind::Group),
        Server::Broadcast if jid.user == "status" => Some(ChatKind::Status),
        Server::Broadcast => Some(ChatKind::Broadcast),
        Server::Newsletter => Some(ChatKind::Newsletter),
        Server::Messenger | Server::Interop | Server::Bot | Server::Call => None,
    }
}

/// The recipient of a send: a full JID as received (`…@s.whatsapp.net`, `…@lid`, `…@g.us`), or a bare
/// international phone number (`+225 07 00 00 00 01`), which becomes a phone-number JID.
pub fn parse_recipient(to: &str) -> Result<Jid, String> {
    let to = to.trim();
    if to.contains('@') {
        return to
            .parse::<Jid>()
            .map_err(|e| format!("invalid recipient JID: {e}"));
    }
    let digits: String = to
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'))
        .collect();
    if digits.len() < 6 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("recipient is neither a JID nor an international phone number".into());
    }
    Ok(Jid::new(digits, Server::Pn))
}

/// The phone number (digits, no `+`) of our own phone-number JID, as shown to the shop.
pub fn phone_number(own_pn: &Jid) -> String {
    own_pn.user.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_jids_are_classified_by_server() {
        let cases = [
            (
                "2250700000001@s.whatsapp.net",
                Some(ChatKind::Direct),
                "phone number",
            ),
            (
                "2250700000001:3@s.whatsapp.net",
                Some(ChatKind::Direct),
                "phone number with device",
            ),
            (
                "2250700000001@c.us",
                Some(ChatKind::Direct),
                "legacy phone number",
            ),
            ("123456789012345@lid", Some(ChatKind::Direct), "LID"),
            (
                "123456789012345@hosted.lid",
                Some(ChatKind::Direct),
                "hosted LID",
            ),
            ("120363021033254949@g.us", Some(ChatKind::Group), "group"),
            ("status@broadcast", Some(ChatKind::Status), "status updates"),
            (
                "1234567890@broadcast",
                Some(ChatKind::Broadcast),
                "broadcast list",
            ),
            (
                "120363144038483540@newsletter",
                Some(ChatKind::Newsletter),
                "channel",
            ),
            ("867051314767696@bot", None, "Meta AI bot"),
            ("not a jid", None, "no server part"),
        ];
        for (jid, expected, case) in cases {
            assert_eq!(classify_chat(jid), expected, "string form: {case}");
            if let Ok(parsed) = jid.parse::<Jid>() {
                assert_eq!(classify_jid(&parsed), expected, "parsed form: {case}");
            }
        }
    }

    #[test]
    fn recipients_accept_jids_and_international_numbers() {
        let cases = [
            (
                "2250700000001@s.whatsapp.net",
                "2250700000001@s.whatsapp.net",
            ),
            ("123456789012345@lid", "123456789012345@lid"),
            ("+225 07 00 00 00 01", "2250700000001@s.whatsapp.net"),
            ("2250700000001", "2250700000001@s.whatsapp.net"),
        ];
        for (input, expected) in cases {
            let jid = parse_recipient(input).expect("a valid recipient");
            assert_eq!(jid.to_string(), expected, "recipient {input:?}");
        }
        for bad in ["", "hello", "12", "+225 07 ab"] {
            assert!(parse_recipient(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
