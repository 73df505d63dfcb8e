//! Catalogue search: which of a shop's products a customer's free text names, tolerant of plurals, missing
//! accents and typos. Shared by the offline assistant (to pick products) and the `search_products` tool (to
//! answer any model), so both find the same products; neither depends on the other.

mod matching;
pub mod text;

pub use matching::{Candidate, Index, ProductText, is_stopword, stem};

/// Indices of the `products` a free-text query names, best first, at most `max_results`.
pub fn search<'a>(
    products: impl IntoIterator<Item = ProductText<'a>>,
    query: &str,
    max_results: usize,
) -> Vec<usize> {
    let index = Index::new(products);
    let words: Vec<String> = text::words(query)
        .into_iter()
        .filter(|w| !is_stopword(w))
        .collect();
    index
        .rank(&words)
        .into_iter()
        .take(max_results)
        .map(|c| c.index)
        .collect()
}
