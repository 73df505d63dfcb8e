//! `Offline`: a deterministic French (or English) sales assistant, the provider used when no Gemini key is
//! set and when Gemini is down. It understands everyday Ivorian French and SMS spellings well enough for
//! prices, availability, the catalogue, orders and order status, and hands anything else to the shop's team.
//! Like Gemini it only learns prices and stock through the sales tools, and it keeps no state between turns:
//! a pending order is read back from its own recap message in the history (see [`recap`]).

mod calls;
mod dialogue;
mod intent;
mod listing;
mod quantity;
mod recap;
mod replies;

use async_trait::async_trait;
use schemas::MediaKind;

pub use replies::money;

use super::{LlmError, LlmProvider, Reply, ToolExecutor, Turn, Usage};

/// The offline provider. Stateless and deterministic: the same turn and tool results give the same reply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl Offline {
    pub fn new() -> Self {
        Offline
    }
}

#[async_trait]
impl LlmProvider for Offline {
    fn name(&self) -> &'static str {
        "offline"
    }

    /// Voice notes and photos are beyond it: it says so, asks the customer to write, and alerts the shop —
    /// never a guess at what was said or shown. Messages of the turn without media are answered as usual.
    async fn respond(&self, turn: &Turn, tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError> {
        let (noted, turn) = take_locations(turn);
        let asks = turn.incoming.iter().any(|t| !t.trim().is_empty());
        let answer = if !turn.media.is_empty() {
            Some(answer_around_media(&turn, tools).await)
        } else if asks || noted.is_none() {
            Some(dialogue::answer(&turn, tools).await)
        } else {
            None
        };
        let text = match (noted, answer) {
            (Some(noted), Some(answer)) => format!("{noted}\n\n{answer}"),
            (Some(noted), None) => noted,
            (None, answer) => answer.unwrap_or_default(),
        };
        Ok(Reply {
            text,
            usage: Usage::default(),
            engine: "offline",
            transcripts: Vec::new(),
        })
    }
}

/// A shared location is acknowledged (it is the delivery address the shop will see), not read as a question:
/// the acknowledgement, and the turn without the location lines.
fn take_locations(turn: &Turn) -> (Option<String>, Turn) {
    let mut places = Vec::new();
    let incoming = turn
        .incoming
        .iter()
        .map(|text| {
            let (located, rest): (Vec<&str>, Vec<&str>) = text
                .lines()
                .partition(|line| line.starts_with(crate::llm::LOCATION_PREFIX));
            for line in located {
                // "<prefix> (…) : <place> (<map link>)"
                let place = line.split_once(" : ").map_or("", |(_, p)| p);
                let place = place.rsplit_once(" (").map_or(place, |(p, _)| p);
                places.push(place.trim().to_owned());
            }
            rest.join("\n")
        })
        .collect();
    let turn = Turn {
        incoming,
        ..turn.clone()
    };
    if places.is_empty() {
        return (None, turn);
    }
    let noted = if turn.shop.language == "en" {
        format!(
            "Thank you, I have noted your location ({}) for the delivery; the shop will see it.",
            places.join("; ")
        )
    } else {
        format!(
            "Merci, j'ai bien noté votre position ({}) pour la livraison ; la boutique la verra.",
            places.join(" ; ")
        )
    };
    (Some(noted), turn)
}

async fn answer_around_media(turn: &Turn, tools: &mut dyn ToolExecutor) -> String {
    let heard = |kind| turn.media.iter().any(|m| m.kind == kind);
    let (audio, image) = (heard(MediaKind::Audio), heard(MediaKind::Image));
    let english = turn.shop.language == "en";
    let what = match (audio, image, english) {
        (true, true, false) => "un message vocal et une photo",
        (true, false, false) => "un message vocal",
        (_, _, false) => "une photo",
        (true, true, true) => "a voice note and a photo",
        (true, false, true) => "a voice note",
        (_, _, true) => "a photo",
    };
    let reason = format!(
        "Le client a envoyé {what} : sans IA, le bot ne peut ni écouter ni regarder. Consultez la conversation \
         et répondez-lui."
    );
    tools
        .call(
            crate::llm::tools::HAND_OVER,
            serde_json::json!({ "reason": reason }),
        )
        .await;
    let notice = match (audio, image, english) {
        (true, true, false) => {
            "Désolé, je ne peux pas écouter les messages vocaux ni regarder les photos."
        }
        (true, false, false) => "Désolé, je ne peux pas écouter les messages vocaux.",
        (_, _, false) => "Désolé, je ne peux pas voir les photos.",
        (true, true, true) => "Sorry, I cannot listen to voice notes or look at photos.",
        (true, false, true) => "Sorry, I cannot listen to voice notes.",
        (_, _, true) => "Sorry, I cannot see photos.",
    };
    let ask = if english {
        "Could you write your request, for example the name of the product you want? I have also told the \
         shop's team, who will answer you."
    } else {
        "Pouvez-vous m'écrire votre demande, par exemple le nom du produit qui vous intéresse ? J'ai aussi \
         prévenu l'équipe de la boutique, qui va vous répondre."
    };
    // A photo's caption ("c'est combien ça ?") means nothing without the photo: only messages that came
    // without media are answered.
    let with_media: std::collections::HashSet<usize> =
        turn.media.iter().map(|m| m.message).collect();
    let rest: Vec<String> = turn
        .incoming
        .iter()
        .enumerate()
        .filter(|(i, text)| !with_media.contains(i) && !text.trim().is_empty())
        .map(|(_, text)| text.clone())
        .collect();
    if rest.is_empty() {
        return format!("{notice} {ask}");
    }
    let text_turn = Turn {
        incoming: rest,
        media: Vec::new(),
        ..turn.clone()
    };
    let answer = dialogue::answer(&text_turn, tools).await;
    format!("{notice} {ask}\n\n{answer}")
}
