//! Turns a customer message into folded word tokens: accents and case folded, punctuation dropped except the
//! list separators that split "2 pagnes, 1 sac", SMS stretching ("ouiiii") squeezed, digits split from letters
//! ("2pagnes"). Input is clipped so a pasted novel costs no more than a normal message.

/// Characters of one message looked at; the rest is ignored.
const MAX_CHARS: usize = 1_000;
/// Tokens of one message kept; fuzzy matching is per token, so this bounds its cost.
const MAX_TOKENS: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A folded ASCII word or a run of digits.
    Word(String),
    /// A list separator (`,` `;` `+` `&` `/` or a line break).
    Break,
}

impl Token {
    pub fn word(&self) -> Option<&str> {
        match self {
            Token::Word(w) => Some(w),
            Token::Break => None,
        }
    }
}

pub fn tokenize(text: &str) -> Vec<Token> {
    let clipped: String = text.chars().take(MAX_CHARS).collect();
    let folded = store::text::fold(&clipped);
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in folded.chars() {
        // A switch between digits and letters starts a new word: "2pagnes", "x2".
        let switches = word
            .chars()
            .last()
            .is_some_and(|last| last.is_ascii_digit() != c.is_ascii_digit());
        if c.is_ascii_alphanumeric() && !switches {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut tokens);
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else if matches!(c, ',' | ';' | '+' | '&' | '/' | '\n')
            && matches!(tokens.last(), Some(Token::Word(_)))
        {
            tokens.push(Token::Break);
        }
    }
    flush(&mut word, &mut tokens);
    if tokens.last() == Some(&Token::Break) {
        tokens.pop();
    }
    tokens.truncate(MAX_TOKENS);
    tokens
}

/// Whether two folded words name the same thing: equal, or one letter apart when both have five letters or
/// more ("yopougon" / "yopougnon"), for names a customer types from memory.
pub fn nearly_same(a: &str, b: &str) -> bool {
    a == b || (a.len() >= 5 && b.len() >= 5 && strsim::osa_distance(a, b) <= 1)
}

/// Plain folded words of a product field (no separators), for the matching index.
pub fn words(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w),
            Token::Break => None,
        })
        .collect()
}

fn flush(word: &mut String, tokens: &mut Vec<Token>) {
    if !word.is_empty() {
        tokens.push(Token::Word(squeeze(word)));
        word.clear();
    }
}

/// "ouiiii" → "oui", "okkk" → "ok": three or more equal letters become one. Digits are kept ("1000").
fn squeeze(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        let keep = if run >= 3 && c.is_ascii_alphabetic() {
            1
        } else {
            run
        };
        out.extend(std::iter::repeat_n(c, keep));
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Token {
        Token::Word(s.to_owned())
    }

    #[test]
    fn accents_case_and_apostrophes_are_folded_into_words() {
        assert_eq!(
            tokenize("C'est combien la Robe WAX, dèh ?"),
            vec![
                w("c"),
                w("est"),
                w("combien"),
                w("la"),
                w("robe"),
                w("wax"),
                Token::Break,
                w("deh")
            ]
        );
    }

    #[test]
    fn digits_are_split_from_letters_and_stretching_is_squeezed() {
        assert_eq!(
            tokenize("2pagnes x3"),
            vec![w("2"), w("pagnes"), w("x"), w("3")]
        );
        assert_eq!(tokenize("ouiiiii 1000"), vec![w("oui"), w("1000")]);
        assert_eq!(
            tokenize("cc"),
            vec![w("cc")],
            "a doubled letter is a word, not stretching"
        );
    }

    #[test]
    fn odd_inputs_give_few_or_no_tokens() {
        assert!(tokenize("").is_empty(), "empty");
        assert!(tokenize("😍🙏🏾 !!").is_empty(), "emoji only");
        assert!(tokenize(", , +").is_empty(), "separators only");
        assert!(
            tokenize(&"robe ".repeat(5_000)).len() <= MAX_TOKENS,
            "very long"
        );
    }
}
