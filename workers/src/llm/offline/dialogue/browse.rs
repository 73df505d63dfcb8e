//! Browsing the catalogue: all of it, one category ("vos robes"), the products some words name, within price
//! bounds ("moins de 10 000") or by price ("le moins cher"), a page at a time in a stable order (category,
//! then name with its numbers in numeric order: "Plat 2" before "Plat 10"). "La suite" shows the next page of
//! the last listing: like the order recap, the listing's footer and the request that produced it are read
//! back from the history, so no state is kept between turns.

use std::cmp::Reverse;

use super::super::calls::{self, Product};
use super::super::intent::{self, Analysis, PriceSort};
use super::super::listing::PriceBounds;
use super::super::quantity;
use super::super::replies::Listed;
use super::Dialogue;
use crate::catalogue::{stem, text};
use crate::llm::{Role, ToolExecutor};

/// Products per page: a WhatsApp message a customer reads without scrolling for long.
const PAGE_SIZE: usize = 10;
/// Products shown for "the cheapest" / "the dearest".
const SORTED_SHOWN: usize = 3;

/// Words that name no product in particular: "un article à moins de 5 000".
const GENERIC: &[&str] = &[
    "article", "articles", "produit", "produits", "chose", "choses", "truc", "trucs", "item",
    "items", "modele", "modeles", "thing", "things",
];

/// What the customer wants listed.
struct Request {
    words: Vec<String>,
    bounds: PriceBounds,
    sort: Option<PriceSort>,
}

impl Request {
    fn of(a: &Analysis) -> Self {
        Request {
            words: a
                .content
                .iter()
                .filter_map(text::Token::word)
                .filter(|w| {
                    quantity::number(w).is_none() && !quantity::is_unit(w) && !GENERIC.contains(w)
                })
                .map(str::to_owned)
                .collect(),
            bounds: a.listing.bounds,
            sort: a.sort,
        }
    }

    fn is_more_only(a: &Analysis) -> bool {
        a.more && !a.has_words() && !a.listing.bounds.any() && a.sort.is_none()
    }
}

impl Dialogue<'_> {
    /// The listing the message asks for, priced through the tools.
    pub(super) async fn browse(&self, a: &Analysis, tools: &mut dyn ToolExecutor) -> String {
        let (request, page) = if Request::is_more_only(a) {
            match self.last_listing() {
                Some((request, shown)) => (request, shown + 1),
                None => (Request::of(a), 1),
            }
        } else {
            (Request::of(a), a.listing.page.map_or(1, |p| p as usize))
        };
        self.list(&request, page, tools).await
    }

    /// Page 1 of the whole catalogue.
    pub(super) async fn catalogue(&self, tools: &mut dyn ToolExecutor) -> String {
        let all = Request {
            words: Vec::new(),
            bounds: PriceBounds::default(),
            sort: None,
        };
        self.list(&all, 1, tools).await
    }

    async fn list(&self, request: &Request, page: usize, tools: &mut dyn ToolExecutor) -> String {
        let catalog = &self.turn.catalog;
        if catalog.is_empty() {
            return self.voice.empty_catalogue();
        }
        let mut category = None;
        let mut picked: Vec<usize> = if request.words.is_empty() {
            (0..catalog.len()).collect()
        } else if let Some(name) = self.category_named(&request.words) {
            category = Some(name.to_owned());
            (0..catalog.len())
                .filter(|&i| catalog[i].fields.category.trim() == name)
                .collect()
        } else {
            let best = self.index.best(&request.words);
            if best.is_empty() {
                return self
                    .voice
                    .not_found(&self.spoken(&request.words), &self.categories());
            }
            best.iter().map(|c| c.index).collect()
        };
        let in_scope = picked.clone();
        let price = |i: usize| catalog[i].fields.price_xof.get();
        picked.retain(|&i| request.bounds.admits(price(i)));
        if picked.is_empty() {
            let closest = match request.bounds.max {
                Some(_) => in_scope.iter().copied().min_by_key(|&i| price(i)),
                None => in_scope.iter().copied().max_by_key(|&i| price(i)),
            };
            let closest = match closest {
                Some(i) => calls::get(tools, catalog[i].product_id).await,
                None => None,
            };
            return self
                .voice
                .nothing_in_range(request.bounds, closest.as_ref());
        }
        let shown_count = match request.sort {
            Some(PriceSort::Cheapest) => {
                picked.sort_by_cached_key(|&i| (price(i), self.stable_key(i)));
                SORTED_SHOWN
            }
            Some(PriceSort::Dearest) => {
                picked.sort_by_cached_key(|&i| (Reverse(price(i)), self.stable_key(i)));
                SORTED_SHOWN
            }
            // Words that name products keep their best-match order.
            None if request.words.is_empty() || category.is_some() => {
                picked.sort_by_cached_key(|&i| self.stable_key(i));
                PAGE_SIZE
            }
            None => PAGE_SIZE,
        };
        let pages = picked.len().div_ceil(shown_count);
        let page = if request.sort.is_some() {
            1
        } else {
            page.clamp(1, pages)
        };
        let mut products = Vec::new();
        for &i in picked
            .iter()
            .skip((page - 1) * shown_count)
            .take(shown_count)
        {
            if let Some(p) = calls::get(tools, catalog[i].product_id).await {
                products.push(p);
            }
        }
        if products.is_empty() {
            return self.voice.handover();
        }
        let by_category = request.words.is_empty() && self.categories().len() > 1;
        let groups = group(products, by_category);
        self.voice.listing(&Listed {
            category: category.as_deref(),
            matching: !request.words.is_empty() && category.is_none(),
            bounds: request.bounds,
            sort: request.sort,
            groups: &groups,
            page,
            pages: if request.sort.is_some() { 1 } else { pages },
            categories: if by_category && page == 1 {
                self.category_counts()
            } else {
                Vec::new()
            },
        })
    }

    /// Category, then name with numbers compared as numbers, then id: the same order on every page.
    fn stable_key(&self, i: usize) -> (Vec<String>, Vec<(u8, u64, String)>, uuid::Uuid) {
        let item = &self.turn.catalog[i];
        (
            text::words(&item.fields.category),
            natural_key(&item.fields.name),
            item.product_id,
        )
    }

    /// The category every word of whose name the customer wrote ("robes" → "Robes", "chaussure" →
    /// "Chaussures"), the longest name first.
    fn category_named(&self, words: &[String]) -> Option<&str> {
        let said: Vec<String> = words.iter().map(|w| stem(w)).collect();
        let mut best: Option<(&str, usize)> = None;
        for item in &self.turn.catalog {
            let name = item.fields.category.trim();
            let name_words: Vec<String> = text::words(name).iter().map(|w| stem(w)).collect();
            if name_words.is_empty()
                || !name_words
                    .iter()
                    .all(|n| said.iter().any(|s| text::nearly_same(s, n)))
            {
                continue;
            }
            if best.is_none_or(|(_, len)| name_words.len() > len) {
                best = Some((name, name_words.len()));
            }
        }
        best.map(|(name, _)| name)
    }

    /// Each category with its number of products, in the catalogue's stable order.
    fn category_counts(&self) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for item in &self.turn.catalog {
            let name = item.fields.category.trim();
            if name.is_empty() {
                continue;
            }
            match counts.iter_mut().find(|(c, _)| c == name) {
                Some((_, n)) => *n += 1,
                None => counts.push((name.to_owned(), 1)),
            }
        }
        counts.sort_by_key(|(c, _)| text::words(c));
        counts
    }

    /// The request behind the last listing the bot sent and the page it showed: read from its footer
    /// ("Page 2/5") and the customer message before it (going further back through earlier "la suite").
    fn last_listing(&self) -> Option<(Request, usize)> {
        let history = &self.turn.history;
        let last_shop = history.iter().rposition(|m| m.role == Role::Shop)?;
        let shown = page_of(&history[last_shop].text)?;
        let mut shop_at = last_shop;
        loop {
            let asked = history[..shop_at]
                .iter()
                .rposition(|m| m.role == Role::Customer)?;
            let analysis = intent::analyze(&history[asked].text);
            if !Request::is_more_only(&analysis) {
                return Some((Request::of(&analysis), shown));
            }
            shop_at = history[..asked]
                .iter()
                .rposition(|m| m.role == Role::Shop && page_of(&m.text).is_some())?;
        }
    }
}

/// Products grouped by category when the listing spans several, in the order given.
fn group(products: Vec<Product>, by_category: bool) -> Vec<(String, Vec<Product>)> {
    let mut groups: Vec<(String, Vec<Product>)> = Vec::new();
    for p in products {
        let category = if by_category {
            p.category().trim().to_owned()
        } else {
            String::new()
        };
        match groups.last_mut() {
            Some((c, list)) if *c == category => list.push(p),
            _ => groups.push((category, vec![p])),
        }
    }
    groups
}

/// "Plat 10" → [("plat"), (10)]: compared part by part, numbers as numbers.
fn natural_key(name: &str) -> Vec<(u8, u64, String)> {
    text::words(name)
        .into_iter()
        .map(|w| match w.parse::<u64>() {
            Ok(n) => (0, n, String::new()),
            Err(_) => (1, 0, w),
        })
        .collect()
}

/// The page number of a listing's footer ("Page 2/5"), if the message is a listing.
fn page_of(message: &str) -> Option<usize> {
    let at = message.rfind("Page ")?;
    let (page, _) = message[at + 5..].split_once('/')?;
    page.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_with_their_numbers_in_numeric_order() {
        let mut names = vec!["Plat 10", "Plat 2", "plat 1", "Attiéké"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["Attiéké", "plat 1", "Plat 2", "Plat 10"]);
    }

    #[test]
    fn the_page_is_read_back_from_a_listing_footer() {
        assert_eq!(
            page_of("• A — 1 000 FCFA\nPage 2/5 — écrivez « suite »"),
            Some(2)
        );
        assert_eq!(page_of("Récapitulatif de votre commande"), None);
    }
}
