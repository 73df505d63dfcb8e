//! Finds what the shop said about a customer's question: the FAQ entries that answer it, the delivery zone it
//! names (or all zones for a delivery question) and the sentences of the shop's free instructions on the same
//! topic. Shared by the offline assistant (which quotes them) and the `shop_info` tool (which hands them to
//! a model), so both engines answer from exactly the same facts.

use store::knowledge::{DeliveryZone, FaqEntry};

use crate::catalogue::text;
use crate::catalogue::{is_stopword, stem};

/// What a question is about, as far as the shop's own rules go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Delivery,
    Payment,
    Location,
    Hours,
    Returns,
    Discount,
}

/// Folded keywords (phrases allowed) of each topic, French, Ivorian and English.
const TOPICS: &[(Topic, &[&str])] = &[
    (
        Topic::Delivery,
        &[
            "livraison",
            "livraisons",
            "livrer",
            "livrez",
            "livreur",
            "livrezvous",
            "expedition",
            "expedier",
            "expediez",
            "envoi",
            "delivery",
            "deliver",
            "shipping",
            "frais de transport",
            "transport",
            "zone",
            "zones",
            "commune",
            "quartier",
        ],
    ),
    (
        Topic::Payment,
        &[
            "paiement",
            "paiements",
            "payer",
            "payez",
            "paye",
            "payable",
            "regler",
            "reglement",
            "wave",
            "orange money",
            "om",
            "momo",
            "mobile money",
            "moov",
            "mtn",
            "cash",
            "especes",
            "espece",
            "carte",
            "visa",
            "acompte",
            "avance",
            "payment",
            "pay",
            "card",
        ],
    ),
    (
        Topic::Location,
        &[
            "adresse",
            "situe",
            "situes",
            "situee",
            "localisation",
            "localise",
            "ou etes vous",
            "vous etes ou",
            "ou se trouve",
            "ou est la boutique",
            "ou est votre boutique",
            "ou est le magasin",
            "ou est votre magasin",
            "ou se situe",
            "ou vous trouver",
            "passer",
            "venir",
            "magasin",
            "boutique physique",
            "address",
            "located",
            "where are you",
            "location",
        ],
    ),
    (
        Topic::Hours,
        &[
            "horaire",
            "horaires",
            "ouvert",
            "ouverte",
            "ouverts",
            "ouvertes",
            "ouvrez",
            "ouverture",
            "ferme",
            "fermez",
            "fermeture",
            "heure",
            "heures",
            "dimanche",
            "open",
            "opening",
            "close",
            "closed",
            "hours",
        ],
    ),
    (
        Topic::Returns,
        &[
            "retour",
            "retours",
            "retourner",
            "rembourse",
            "remboursement",
            "rembourser",
            "echange",
            "echanger",
            "garantie",
            "refund",
            "return",
            "exchange",
            "warranty",
        ],
    ),
    (
        Topic::Discount,
        &[
            "reduction",
            "reductions",
            "remise",
            "promo",
            "promotion",
            "promotions",
            "rabais",
            "bon prix",
            "diminuer",
            "solde",
            "soldes",
            "discount",
            "gros",
            "grossiste",
        ],
    ),
];

/// FAQ entries quoted for one question at most.
const MAX_FAQ: usize = 2;
/// Instruction sentences quoted for one question at most.
const MAX_SENTENCES: usize = 2;

/// What the shop's knowledge says about a question.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found<'a> {
    pub topics: Vec<Topic>,
    /// Entries answering the question, best first.
    pub faq: Vec<&'a FaqEntry>,
    /// The delivery zone the question names.
    pub zone: Option<&'a DeliveryZone>,
    /// Every zone, for a delivery question that names none.
    pub zones: Vec<&'a DeliveryZone>,
    /// Sentences of the free instructions on the question's topic.
    pub instructions: Vec<String>,
}

impl Found<'_> {
    /// Whether the shop said anything about it (opening hours aside, which the caller knows).
    pub fn is_empty(&self) -> bool {
        self.faq.is_empty()
            && self.zone.is_none()
            && self.zones.is_empty()
            && self.instructions.is_empty()
    }
}

/// The topics a text is about.
pub fn topics(message: &str) -> Vec<Topic> {
    let words = text::words(message);
    TOPICS
        .iter()
        .filter(|(_, keywords)| keywords.iter().any(|k| contains_phrase(&words, k)))
        .map(|(topic, _)| *topic)
        .collect()
}

/// The zone `message` names, if any: every word of the zone's name, in order (typos of one letter allowed in
/// names of five letters or more: "yopougon", "yopougnon").
pub fn zone_named<'a>(message: &str, zones: &'a [DeliveryZone]) -> Option<&'a DeliveryZone> {
    let words = text::words(message);
    zones
        .iter()
        .filter(|z| {
            let name = text::words(&z.name);
            !name.is_empty() && contains_fuzzy(&words, &name)
        })
        // "Cocody Angré" before "Cocody".
        .max_by_key(|z| z.name.len())
}

/// Looks `message` up in the shop's knowledge.
pub fn lookup<'a>(
    message: &str,
    faq: &'a [FaqEntry],
    zones: &'a [DeliveryZone],
    instructions: &str,
) -> Found<'a> {
    let topics = topics(message);
    let words = content_words(message);
    let mut scored: Vec<(u32, usize)> = faq
        .iter()
        .enumerate()
        .map(|(i, entry)| (score(&words, &topics, entry), i))
        .filter(|(score, _)| *score >= 3)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let best = scored.first().map_or(0, |(s, _)| *s);
    let faq_found: Vec<&FaqEntry> = scored
        .iter()
        // A second entry only when it is nearly as good: one answer, not a list of loosely related ones.
        .filter(|(s, _)| *s * 3 >= best * 2)
        .take(MAX_FAQ)
        .map(|(_, i)| &faq[*i])
        .collect();
    let zone = zone_named(message, zones);
    let zones = if zone.is_none() && topics.contains(&Topic::Delivery) {
        zones.iter().collect()
    } else {
        Vec::new()
    };
    Found {
        instructions: sentences_about(instructions, &topics, &words),
        topics,
        faq: faq_found,
        zone,
        zones,
    }
}

/// A FAQ entry's relevance: words shared with its question count double, with its answer once, and a
/// shared topic three times (a delivery question is answered by the delivery entry whatever its wording).
fn score(words: &[String], topics: &[Topic], entry: &FaqEntry) -> u32 {
    let question = content_words(&entry.question);
    let answer = content_words(&entry.answer);
    let shared = |side: &[String]| {
        u32::try_from(words.iter().filter(|w| side.contains(w)).count()).unwrap_or(u32::MAX)
    };
    let entry_topics = self::topics(&entry.question);
    let topic_bonus =
        3 * u32::try_from(topics.iter().filter(|t| entry_topics.contains(t)).count()).unwrap_or(0);
    2 * shared(&question) + shared(&answer) + topic_bonus
}

/// The instructions' sentences about the question: on one of its topics, or sharing two of its words.
fn sentences_about(instructions: &str, topics: &[Topic], words: &[String]) -> Vec<String> {
    instructions
        .split(['\n', '.', '!', '?', ';'])
        .map(str::trim)
        .filter(|s| s.chars().filter(|c| c.is_alphanumeric()).count() >= 4)
        .filter(|s| {
            let sentence_topics = self::topics(s);
            let sentence_words = content_words(s);
            topics.iter().any(|t| sentence_topics.contains(t))
                || words.iter().filter(|w| sentence_words.contains(w)).count() >= 2
        })
        .take(MAX_SENTENCES)
        .map(str::to_owned)
        .collect()
}

/// Folded, stemmed words that carry meaning (no stopwords, no one-letter words).
fn content_words(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text::words(s) {
        if word.len() < 2 || is_stopword(&word) || QUESTION_WORDS.contains(&word.as_str()) {
            continue;
        }
        let stem = stem(&word);
        if !out.contains(&stem) {
            out.push(stem);
        }
    }
    out
}

/// Words of any question that say nothing of its subject.
const QUESTION_WORDS: &[&str] = &[
    "est", "ce", "peux", "peut", "pouvez", "faire", "fait", "combien", "comment", "quand",
    "bonjour", "svp", "stp", "merci", "avez", "vous", "etes", "possible", "aussi",
];

fn contains_phrase(words: &[String], phrase: &str) -> bool {
    let phrase: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(phrase.len())
        .any(|w| w.iter().zip(&phrase).all(|(a, b)| a == b))
}

fn contains_fuzzy(words: &[String], name: &[String]) -> bool {
    words
        .windows(name.len())
        .any(|w| w.iter().zip(name).all(|(a, b)| text::nearly_same(a, b)))
}

#[cfg(test)]
mod tests {
    use schemas::commerce::Xof;

    use super::*;

    fn faq() -> Vec<FaqEntry> {
        [
            (
                "Vous livrez où ?",
                "Partout à Abidjan, en 24 h. Hors d'Abidjan par car, à vos frais.",
            ),
            (
                "Comment payer ?",
                "Wave, Orange Money ou en espèces à la livraison.",
            ),
            (
                "Je peux échanger un article ?",
                "Oui, sous 7 jours avec le ticket, s'il n'a pas été porté.",
            ),
            ("Où est la boutique ?", "Marché de Treichville, allée 4."),
        ]
        .into_iter()
        .map(|(q, a)| FaqEntry {
            question: q.into(),
            answer: a.into(),
        })
        .collect()
    }

    fn zones() -> Vec<DeliveryZone> {
        [("Cocody", 1000), ("Yopougon", 1500), ("Cocody Angré", 1200)]
            .into_iter()
            .map(|(n, fee)| DeliveryZone {
                name: n.into(),
                fee_xof: Xof::new(fee).expect("fee"),
            })
            .collect()
    }

    #[test]
    fn each_question_finds_the_entry_on_its_topic_whatever_its_wording() {
        let faq = faq();
        let cases = [
            ("je peux payer par wave ?", "Comment payer ?"),
            ("vous prenez orange money", "Comment payer ?"),
            ("c'est payable à la livraison ?", "Comment payer ?"),
            ("vs livrez a bassam?", "Vous livrez où ?"),
            (
                "on peut echanger si ça va pas ?",
                "Je peux échanger un article ?",
            ),
            ("votre boutique est situee ou", "Où est la boutique ?"),
        ];
        for (message, expected) in cases {
            let found = lookup(message, &faq, &[], "");
            assert_eq!(
                found.faq.first().map(|e| e.question.as_str()),
                Some(expected),
                "{message:?}: {found:?}"
            );
        }
    }

    #[test]
    fn a_question_the_shop_did_not_answer_finds_nothing() {
        let faq = faq();
        for message in [
            "vous faites du crédit ?",
            "c'est quoi votre numéro de compte",
            "bonjour",
        ] {
            let found = lookup(message, &faq, &[], "");
            assert!(found.faq.is_empty(), "{message:?}: {found:?}");
        }
    }

    #[test]
    fn a_named_zone_is_found_with_typos_and_the_most_precise_name_wins() {
        let zones = zones();
        assert_eq!(
            zone_named("livraison à yopougnon ?", &zones).map(|z| z.name.as_str()),
            Some("Yopougon")
        );
        assert_eq!(
            zone_named("je suis à Cocody Angré", &zones).map(|z| z.name.as_str()),
            Some("Cocody Angré")
        );
        assert_eq!(zone_named("je suis à Bouaké", &zones), None);
        let found = lookup("vous livrez ?", &[], &zones, "");
        assert_eq!(
            found.zones.len(),
            3,
            "a delivery question naming no zone lists them"
        );
    }

    #[test]
    fn instructions_are_quoted_by_topic() {
        let instructions =
            "Livraison gratuite dès 20 000 FCFA. Paiement Wave uniquement.\nPas de crédit.";
        let found = lookup("comment je paye ?", &[], &[], instructions);
        assert_eq!(found.instructions, ["Paiement Wave uniquement"]);
        let found = lookup("la livraison c'est combien", &[], &[], instructions);
        assert_eq!(found.instructions, ["Livraison gratuite dès 20 000 FCFA"]);
    }
}
