//! Fuzzy product matching: which products a customer's words name, tolerant of plurals, missing accents and
//! one or two typos depending on word length ("baskette" → "basket", "rob wax" → "robe wax"). Used to pick
//! products and to spell the `search_products` query; prices and stock always come from the tools.

use serde_json::Value;

use super::text;

/// How much a word counts depending on where it is found in the product.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Name,
    Sku,
    Category,
    Attribute,
}

impl Field {
    fn weight(self) -> f32 {
        match self {
            Field::Name | Field::Sku => 3.0,
            Field::Category => 1.5,
            Field::Attribute => 1.0,
        }
    }
}

#[derive(Debug, Clone)]
struct Term {
    text: String,
    stem: String,
    field: Field,
}

/// The text of one product, as far as matching is concerned.
pub struct ProductText<'a> {
    pub name: &'a str,
    pub category: &'a str,
    pub sku: Option<&'a str>,
    pub attributes: Option<&'a Value>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Position of the product in the list the index was built from.
    pub index: usize,
    pub score: f32,
    /// Share of the product's name words the customer used: "pagne" covers "Pagne" fully, "Pagne wax" half.
    pub coverage: f32,
}

pub struct Index {
    products: Vec<Vec<Term>>,
}

/// Attribute values looked at per product; attributes are free JSON, so bound them.
const MAX_ATTRIBUTE_VALUES: usize = 40;
const TIE: f32 = 1e-3;

impl Index {
    pub fn new<'a>(products: impl IntoIterator<Item = ProductText<'a>>) -> Self {
        let products = products
            .into_iter()
            .map(|p| {
                let mut terms = Vec::new();
                push_terms(&mut terms, p.name, Field::Name);
                push_terms(&mut terms, p.category, Field::Category);
                if let Some(sku) = p.sku {
                    push_terms(&mut terms, sku, Field::Sku);
                }
                let mut values = Vec::new();
                if let Some(attributes) = p.attributes {
                    attribute_values(attributes, &mut values);
                }
                for value in values {
                    push_terms(&mut terms, &value, Field::Attribute);
                }
                terms
            })
            .collect();
        Index { products }
    }

    /// Products named by `query`, best first (score, then coverage, then catalogue order). A product needs
    /// at least one word matched in its name, SKU or category: an attribute alone ("rouge", "42") is too vague.
    pub fn rank(&self, query: &[String]) -> Vec<Candidate> {
        let query: Vec<(&str, String)> = query
            .iter()
            .filter(|w| !w.is_empty())
            .map(|w| (w.as_str(), stem(w)))
            .collect();
        let mut out = Vec::new();
        for (index, terms) in self.products.iter().enumerate() {
            let mut score = 0.0;
            let mut identifying = false;
            let mut covered = vec![false; terms.len()];
            for (word, word_stem) in &query {
                let best = terms
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (i, similarity(word, word_stem, t) * t.field.weight()))
                    .filter(|(_, s)| *s > 0.0)
                    .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
                if let Some((i, s)) = best {
                    score += s;
                    covered[i] = true;
                    identifying |= terms[i].field != Field::Attribute;
                }
            }
            if !identifying {
                continue;
            }
            let names = terms.iter().filter(|t| t.field == Field::Name).count();
            let named = terms
                .iter()
                .zip(&covered)
                .filter(|(t, c)| **c && t.field == Field::Name)
                .count();
            let coverage = if names == 0 {
                0.0
            } else {
                named as f32 / names as f32
            };
            out.push(Candidate {
                index,
                score,
                coverage,
            });
        }
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.coverage.total_cmp(&a.coverage))
                .then(a.index.cmp(&b.index))
        });
        out
    }

    /// The candidates tied at the best score, still ordered by coverage.
    pub fn best(&self, query: &[String]) -> Vec<Candidate> {
        let ranked = self.rank(query);
        let Some(top) = ranked.first().map(|c| c.score) else {
            return ranked;
        };
        ranked
            .into_iter()
            .take_while(|c| top - c.score < TIE)
            .collect()
    }

    /// The query spelled as the catalogue spells it ("rob wax" → "robe wax"), keeping only words that match
    /// one of `products`, so an exact-word search on the tool side finds them.
    pub fn correct(&self, query: &[String], products: &[usize]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for word in query {
            let word_stem = stem(word);
            let best = products
                .iter()
                .filter_map(|&p| self.products.get(p))
                .flatten()
                .map(|t| (t, similarity(word, &word_stem, t)))
                .filter(|(_, s)| *s > 0.0)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((term, _)) = best
                && !out.contains(&term.text)
            {
                out.push(term.text.clone());
            }
        }
        out
    }

    /// Whether some product carries this number in its name, SKU or attributes (a size, a volume…).
    pub fn knows_number(&self, digits: &str) -> bool {
        self.products.iter().flatten().any(|t| t.text == digits)
    }
}

/// Words that never name a product: articles, pronouns, prepositions.
const STOPWORDS: &[&str] = &[
    "le",
    "la",
    "les",
    "l",
    "des",
    "du",
    "de",
    "d",
    "a",
    "au",
    "aux",
    "en",
    "pour",
    "par",
    "sur",
    "dans",
    "ce",
    "cet",
    "cette",
    "ces",
    "ca",
    "c",
    "est",
    "sont",
    "je",
    "j",
    "tu",
    "il",
    "elle",
    "on",
    "nous",
    "vous",
    "vs",
    "ils",
    "me",
    "m",
    "moi",
    "te",
    "t",
    "toi",
    "mon",
    "ma",
    "mes",
    "ton",
    "ta",
    "tes",
    "votre",
    "vos",
    "notre",
    "nos",
    "son",
    "sa",
    "ses",
    "leur",
    "qui",
    "que",
    "qu",
    "quoi",
    "quel",
    "quelle",
    "quels",
    "quelles",
    "y",
    "encore",
    "bien",
    "tres",
    "plus",
    "ne",
    "n",
    "pas",
    "si",
    "s",
    "ou",
    "avec",
    "comme",
    "juste",
    "tout",
    "tous",
    "toute",
    "toutes",
    "alors",
    "donc",
    "mais",
    "aujourd",
    "hui",
    "ici",
    "the",
    "an",
    "of",
    "for",
    "do",
    "you",
    "is",
    "it",
    "i",
    "my",
    "some",
    "any",
    "to",
    "can",
    "your",
    "are",
    "what",
    "how",
    "with",
    "this",
    "that",
    "these",
    "those",
    // Everyday verbs and nouns of a request, never a product's name.
    "peux",
    "peut",
    "pouvez",
    "faire",
    "fais",
    "fait",
    "voir",
    "vois",
    "cherche",
    "cherchais",
    "recherche",
    "interesse",
    "interessee",
    "modele",
    "modeles",
    "genre",
    "type",
    "svp",
    "stp",
];

/// Whether `word` (folded) is one that never names a product.
pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// How well a customer word matches a product word, from 0 (no match) to 1 (same word up to plural).
/// Numbers must match exactly; otherwise the typo budget grows with length: none up to 3 letters, one up
/// to 5, two beyond. A customer word of 4+ letters may also be a prefix ("bask" → "baskets").
fn similarity(word: &str, word_stem: &str, term: &Term) -> f32 {
    if word == term.text || word_stem == term.stem {
        return 1.0;
    }
    let numeric = |s: &str| s.bytes().any(|b| b.is_ascii_digit());
    if numeric(word) || numeric(&term.text) || word.len() < 3 {
        return 0.0;
    }
    let budget = match word.len().max(term.text.len()) {
        0..=3 => 0,
        4..=5 => 1,
        _ => 2,
    };
    let typo = match (budget, strsim::osa_distance(word_stem, &term.stem)) {
        (1.., 1) => 0.8,
        (2.., 2) => 0.6,
        _ => 0.0,
    };
    let prefix = if word.len() >= 4 && term.text.starts_with(word) {
        0.7
    } else {
        0.0
    };
    f32::max(typo, prefix)
}

/// Plural and feminine endings folded away, so "pagnes", "robes", "baskets" meet their singular.
/// "robes" → "robe", "bijoux" → "bijou": the plural `s`/`x` of a word of four letters or more.
pub fn stem(word: &str) -> String {
    let mut s = word;
    if s.len() > 3
        && let Some(rest) = s.strip_suffix('s').or_else(|| s.strip_suffix('x'))
    {
        s = rest;
    }
    s.to_owned()
}

fn push_terms(terms: &mut Vec<Term>, text: &str, field: Field) {
    for word in text::words(text) {
        let digits = word.bytes().all(|b| b.is_ascii_digit());
        if (word.len() < 2 && !digits) || is_stopword(&word) {
            continue;
        }
        terms.push(Term {
            stem: stem(&word),
            text: word,
            field,
        });
    }
}

/// Values (never keys: "taille" would match every product that has sizes) of free-form attributes.
fn attribute_values(value: &Value, out: &mut Vec<String>) {
    if out.len() >= MAX_ATTRIBUTE_VALUES {
        return;
    }
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| attribute_values(v, out)),
        Value::Object(map) => map.values().for_each(|v| attribute_values(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn index() -> Index {
        let attrs = [
            json!({}),
            json!({"pointure": "42"}),
            json!({}),
            json!({"couleur": "rouge"}),
        ];
        let products = [
            ("Robe wax", "Vêtements"),
            ("Baskets Nike", "Chaussures"),
            ("Pagne", "Tissus"),
            ("Robe bazin", "Vêtements"),
        ];
        Index::new(
            products
                .iter()
                .zip(&attrs)
                .map(|((name, category), a)| ProductText {
                    name,
                    category,
                    sku: None,
                    attributes: Some(a),
                }),
        )
    }

    fn best_names(query: &str) -> Vec<usize> {
        index()
            .best(&words(query))
            .iter()
            .map(|c| c.index)
            .collect()
    }

    #[test]
    fn customer_words_find_products_despite_typos_and_plurals() {
        let cases = [
            ("robe wax", vec![0], "exact name"),
            ("rob wax", vec![0], "missing letter on a short word"),
            ("robes", vec![0, 3], "plural names both robes"),
            ("baskette", vec![1], "two typos on a long word"),
            ("baskets 42", vec![1], "name and size"),
            ("basket", vec![1], "singular"),
            ("pagnes", vec![2], "plural"),
            ("chaussures", vec![1], "category"),
            ("bask", vec![1], "prefix"),
            ("chaussettes", vec![], "unknown product"),
            ("rouge", vec![], "an attribute alone names nothing"),
            ("42", vec![], "a size alone names nothing"),
        ];
        for (query, expected, message) in cases {
            assert_eq!(best_names(query), expected, "{message}: {query:?}");
        }
    }

    #[test]
    fn short_words_get_no_typo_budget() {
        let term = Term {
            text: "sac".into(),
            stem: "sac".into(),
            field: Field::Name,
        };
        assert_eq!(similarity("sel", "sel", &term), 0.0);
        assert_eq!(similarity("sacs", "sac", &term), 1.0);
    }

    #[test]
    fn queries_are_respelled_as_the_catalogue_spells_them() {
        let idx = index();
        assert_eq!(idx.correct(&words("rob wax svp"), &[0]), words("robe wax"));
        assert!(idx.knows_number("42"));
        assert!(!idx.knows_number("2"));
    }
}
