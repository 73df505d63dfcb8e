//! The language the bot speaks to a shop's customers.

use crate::catalogue::text;

/// French (the default) or English, as the shop chose in its bot settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

/// Words that mark a message as English or as French (folded).
const ENGLISH: &[&str] = &[
    "the",
    "is",
    "are",
    "do",
    "does",
    "you",
    "have",
    "how",
    "much",
    "price",
    "please",
    "want",
    "i",
    "my",
    "what",
    "can",
    "hello",
    "hi",
    "thanks",
    "thank",
    "available",
    "buy",
    "need",
    "where",
    "deliver",
    "delivery",
    "cheapest",
    "any",
    "for",
    "of",
    "with",
    "cost",
    "costs",
    "would",
    "like",
    "order",
    "yes",
    "no",
    "it",
    "this",
    "these",
    "your",
    "who",
    "when",
    "morning",
    "evening",
];
const FRENCH: &[&str] = &[
    "le", "la", "les", "est", "vous", "je", "combien", "prix", "bonjour", "merci", "des", "du",
    "un", "une", "pour", "avec", "c", "svp", "stp", "dispo", "quoi", "veux", "commande", "oui",
    "non", "et", "de", "mon", "ma", "cb", "bjr", "slt", "bonsoir", "ya", "vs", "j", "l", "d", "qu",
    "moi",
];

impl Lang {
    /// The bot setting's code (`fr`, `en`); anything else (`auto` too) is French.
    pub fn of(code: &str) -> Self {
        if code.trim().eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Fr
        }
    }

    /// The language to answer in: the shop's, or with `auto` the customer's — English when their latest
    /// messages (newest first) read as English, French otherwise.
    pub fn for_customer<'a>(code: &str, latest_first: impl IntoIterator<Item = &'a str>) -> Self {
        if !code.trim().eq_ignore_ascii_case("auto") {
            return Lang::of(code);
        }
        for message in latest_first {
            let words = text::words(message);
            let english = words
                .iter()
                .filter(|w| ENGLISH.contains(&w.as_str()))
                .count();
            let french = words
                .iter()
                .filter(|w| FRENCH.contains(&w.as_str()))
                .count();
            if english != french {
                return if english > french { Lang::En } else { Lang::Fr };
            }
        }
        Lang::Fr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auto_shop_answers_in_the_customer_s_language_and_french_when_unsure() {
        assert_eq!(
            Lang::for_customer("auto", ["how much is the wax dress?"]),
            Lang::En
        );
        assert_eq!(
            Lang::for_customer("auto", ["c'est combien la robe ?"]),
            Lang::Fr
        );
        assert_eq!(
            Lang::for_customer("auto", ["ok", "do you have shoes?"]),
            Lang::En,
            "an undecided message looks further back"
        );
        assert_eq!(Lang::for_customer("auto", ["👍"]), Lang::Fr);
        assert_eq!(
            Lang::for_customer("fr", ["how much is it?"]),
            Lang::Fr,
            "the shop's choice"
        );
        assert_eq!(Lang::for_customer("en", ["bonjour"]), Lang::En);
    }
}
