//! What a browsing request asks besides product words: price bounds ("moins de 10 000", "max 5000 F",
//! "entre 5 000 et 10 000", "under 10k") and a page number ("page 2"). They are taken out of the message's
//! tokens, so their numbers are never read as quantities or product sizes.

use super::quantity;
use crate::catalogue::text::Token;

/// Price bounds in FCFA, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PriceBounds {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl PriceBounds {
    pub fn any(&self) -> bool {
        self.min.is_some() || self.max.is_some()
    }

    pub fn admits(&self, price: i64) -> bool {
        self.min.is_none_or(|min| price >= min) && self.max.is_none_or(|max| price <= max)
    }
}

/// The listing words found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Listing {
    pub bounds: PriceBounds,
    pub page: Option<u32>,
}

const MAX_PHRASES: &[&[&str]] = &[
    &["a", "moins", "de"],
    &["moins", "de"],
    &["pas", "plus", "de"],
    &["maximum"],
    &["max"],
    &["jusqu", "a"],
    &["budget", "de"],
    &["budget"],
    &["inferieur", "a"],
    &["en", "dessous", "de"],
    &["under"],
    &["below"],
    &["less", "than"],
    &["up", "to"],
];
const MIN_PHRASES: &[&[&str]] = &[
    &["a", "partir", "de"],
    &["plus", "de"],
    &["au", "moins"],
    &["minimum"],
    &["superieur", "a"],
    &["au", "dessus", "de"],
    &["above"],
    &["over"],
    &["more", "than"],
    &["from"],
];
const BETWEEN: &[&str] = &["entre", "between"];
const AND: &[&str] = &["et", "a", "and", "to"];
const CURRENCY: &[&str] = &["f", "fr", "frs", "franc", "francs", "cfa", "fcfa", "xof"];

/// Smallest number read as a price: "moins de 3 pagnes" is not a budget.
const MIN_AMOUNT: i64 = 100;

/// Takes the price bounds and page number out of `tokens`.
pub fn extract(tokens: &[Token]) -> (Listing, Vec<Token>) {
    let mut listing = Listing::default();
    let mut rest = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let at = &tokens[i..];
        if let Some(n) = starts_with_any(at, BETWEEN)
            && let Some((low, a)) = amount(&at[n..])
            && let Some(m) = starts_with_any(&at[n + a..], AND)
            && let Some((high, b)) = amount(&at[n + a + m..])
        {
            listing.bounds.min = Some(low.min(high));
            listing.bounds.max = Some(low.max(high));
            i += n + a + m + b;
            continue;
        }
        if let Some(n) = phrase(at, MAX_PHRASES)
            && let Some((max, a)) = amount(&at[n..])
        {
            listing.bounds.max = Some(max);
            i += n + a;
            continue;
        }
        if let Some(n) = phrase(at, MIN_PHRASES)
            && let Some((min, a)) = amount(&at[n..])
        {
            listing.bounds.min = Some(min);
            i += n + a;
            continue;
        }
        if at[0].word() == Some("page")
            && let Some(n) = at.get(1).and_then(Token::word).and_then(quantity::number)
        {
            listing.page = Some(n.max(1));
            i += 2;
            continue;
        }
        rest.push(at[0].clone());
        i += 1;
    }
    (listing, rest)
}

/// An amount at the head of `tokens` and how many tokens it takes: "10 000", "10000 F", "10k", "dix mille",
/// "7.500" (split as "7", "500" by the tokenizer).
fn amount(tokens: &[Token]) -> Option<(i64, usize)> {
    let first = tokens.first()?.word()?;
    let mut value = i64::from(quantity::number(first).or_else(|| {
        (first.len() <= 7 && first.bytes().all(|b| b.is_ascii_digit()))
            .then(|| first.parse().ok())
            .flatten()
    })?);
    let mut used = 1;
    let is_group = |t: Option<&Token>| {
        t.and_then(Token::word)
            .filter(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|g| g.parse::<i64>().ok())
    };
    for _ in 0..2 {
        // "25 000", and "25,000" (the comma is a list separator to the tokenizer).
        let comma = usize::from(tokens.get(used) == Some(&Token::Break));
        let Some(group) = is_group(tokens.get(used + comma)) else {
            break;
        };
        value = value * 1000 + group;
        used += comma + 1;
    }
    if let Some(multiplier) = tokens.get(used).and_then(Token::word)
        && matches!(multiplier, "k" | "mille")
    {
        value *= 1000;
        used += 1;
    }
    if tokens
        .get(used)
        .and_then(Token::word)
        .is_some_and(|w| CURRENCY.contains(&w))
    {
        used += 1;
    }
    (value >= MIN_AMOUNT).then_some((value, used))
}

fn phrase(tokens: &[Token], phrases: &[&[&str]]) -> Option<usize> {
    phrases
        .iter()
        .find(|p| {
            p.len() <= tokens.len() && p.iter().zip(tokens).all(|(w, t)| t.word() == Some(*w))
        })
        .map(|p| p.len())
}

fn starts_with_any(tokens: &[Token], words: &[&str]) -> Option<usize> {
    tokens
        .first()
        .and_then(Token::word)
        .is_some_and(|w| words.contains(&w))
        .then_some(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::text::{tokenize, words};

    fn listing(text: &str) -> (Listing, Vec<String>) {
        let (listing, rest) = extract(&tokenize(text));
        let rest = rest
            .iter()
            .filter_map(Token::word)
            .map(str::to_owned)
            .collect();
        (listing, rest)
    }

    fn bounds(min: Option<i64>, max: Option<i64>) -> PriceBounds {
        PriceBounds { min, max }
    }

    #[test]
    fn budgets_in_every_spelling_become_bounds_and_leave_the_product_words() {
        let cases = [
            (
                "des robes à moins de 10 000",
                bounds(None, Some(10_000)),
                "des robes",
            ),
            ("robes moins de 10000f", bounds(None, Some(10_000)), "robes"),
            ("max 7.500 fcfa", bounds(None, Some(7_500)), ""),
            (
                "un sac pas plus de dix mille",
                bounds(None, Some(10_000)),
                "un sac",
            ),
            (
                "entre 5 000 et 15 000 F",
                bounds(Some(5_000), Some(15_000)),
                "",
            ),
            ("entre 15000 et 5000", bounds(Some(5_000), Some(15_000)), ""),
            ("à partir de 20k", bounds(Some(20_000), None), ""),
            ("shoes under 25,000", bounds(None, Some(25_000)), "shoes"),
        ];
        for (text, expected, rest) in cases {
            let (found, left) = listing(text);
            assert_eq!(found.bounds, expected, "{text:?}");
            assert_eq!(left, words(rest), "{text:?}");
        }
    }

    #[test]
    fn small_numbers_stay_quantities_and_pages_are_read() {
        let (found, left) = listing("moins de 3 pagnes");
        assert!(!found.bounds.any());
        assert_eq!(left, words("moins de 3 pagnes"));
        assert_eq!(listing("page 2").0.page, Some(2));
        assert_eq!(listing("la page deux").0.page, Some(2));
    }
}
