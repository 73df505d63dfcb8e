//! Quantities in an order segment: digits or French (and English) number words, "une paire", "x2", and
//! telling a quantity ("2 pagnes") from a number that describes the product ("baskets 42").

use crate::catalogue::text::Token;

/// Larger numbers are sizes, years or phone fragments, not quantities.
pub const MAX_QUANTITY: u32 = 999;

/// The value of a number token: "3", "trois", "three".
pub fn number(word: &str) -> Option<u32> {
    if !word.is_empty() && word.len() <= 6 && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok();
    }
    let n = match word {
        "un" | "une" | "one" => 1,
        "deux" | "two" => 2,
        "trois" | "three" => 3,
        "quatre" | "four" => 4,
        "cinq" | "five" => 5,
        "six" => 6,
        "sept" | "seven" => 7,
        "huit" | "eight" => 8,
        "neuf" | "nine" => 9,
        "dix" | "ten" => 10,
        "onze" => 11,
        "douze" | "douzaine" => 12,
        "quinze" => 15,
        "vingt" => 20,
        _ => return None,
    };
    Some(n)
}

/// Words that make the number next to them a count: "une paire", "3 pièces", "x2".
pub fn is_unit(word: &str) -> bool {
    matches!(
        word,
        "paire"
            | "paires"
            | "pair"
            | "pairs"
            | "piece"
            | "pieces"
            | "pcs"
            | "pc"
            | "x"
            | "fois"
            | "unite"
            | "unites"
            | "exemplaire"
            | "exemplaires"
            | "lot"
            | "lots"
    )
}

/// One order segment split into a quantity and the words that name the product.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    pub quantity: Option<u32>,
    pub words: Vec<String>,
}

/// Splits a segment: a number before the first product word, or next to a unit, is the quantity; a number
/// after it is the quantity only when no product knows it as an attribute (`is_attribute("42")` for size 42).
pub fn split(segment: &[Token], is_attribute: impl Fn(&str) -> bool) -> Split {
    let words: Vec<&str> = segment.iter().filter_map(Token::word).collect();
    let is_name_word = |w: &str| number(w).is_none() && !is_unit(w);
    let first_name = words.iter().position(|w| is_name_word(w));
    let mut out = Split::default();
    for (i, &word) in words.iter().enumerate() {
        if is_unit(word) {
            continue;
        }
        let Some(n) = number(word) else {
            out.words.push(word.to_owned());
            continue;
        };
        let near_unit =
            words.get(i + 1).is_some_and(|w| is_unit(w)) || (i > 0 && words[i - 1] == "x");
        let before_name = first_name.is_none_or(|f| i < f);
        let digits = word.bytes().all(|b| b.is_ascii_digit());
        let countable = (1..=MAX_QUANTITY).contains(&n);
        let attribute = digits && !near_unit && !before_name && is_attribute(word);
        if out.quantity.is_none() && countable && !attribute {
            out.quantity = Some(n);
        } else if digits {
            out.words.push(word.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::text::tokenize;

    fn split_text(text: &str) -> Split {
        split(&tokenize(text), |w| w == "42")
    }

    fn s(quantity: Option<u32>, words: &[&str]) -> Split {
        Split {
            quantity,
            words: words.iter().map(|w| (*w).to_owned()).collect(),
        }
    }

    #[test]
    fn quantities_are_read_from_digits_words_and_units() {
        let cases = [
            (
                "2 pagnes",
                s(Some(2), &["pagnes"]),
                "digits before the product",
            ),
            (
                "deux robes wax",
                s(Some(2), &["robes", "wax"]),
                "French number word",
            ),
            (
                "une paire de baskets",
                s(Some(1), &["de", "baskets"]),
                "une paire",
            ),
            (
                "deux paires",
                s(Some(2), &[]),
                "count of pairs, product from context",
            ),
            (
                "1 basket 42",
                s(Some(1), &["basket", "42"]),
                "size after the product",
            ),
            (
                "basket 42",
                s(None, &["basket", "42"]),
                "a known size is not a quantity",
            ),
            (
                "pagne 3",
                s(Some(3), &["pagne"]),
                "an unknown number after the product",
            ),
            ("sac x2", s(Some(2), &["sac"]), "x2"),
            ("3", s(Some(3), &[]), "a bare number"),
            ("robe", s(None, &["robe"]), "no quantity"),
            ("0 robe", s(None, &["0", "robe"]), "zero is not a quantity"),
            (
                "5000 robes",
                s(None, &["5000", "robes"]),
                "too large to be a quantity",
            ),
        ];
        for (text, expected, message) in cases {
            assert_eq!(split_text(text), expected, "{message}: {text:?}");
        }
    }

    #[test]
    fn huge_digit_runs_are_not_numbers() {
        assert_eq!(number("99999999999999999999"), None);
        assert_eq!(number("trois"), Some(3));
        assert_eq!(number("robe"), None);
    }
}
