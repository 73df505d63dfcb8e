//! One turn of the conversation: reads every incoming message, settles a pending order (yes, no, add,
//! total), answers price, availability, catalogue, order and order-status questions through the tools, and
//! assembles one reply. Products the customer does not name again ("c dispo ?", "je prends 2") come from
//! the latest message of the turn or the history that named one.

mod browse;

use super::calls::{self, Placed, Product};
use super::intent::{self, Analysis, Ask, Greeting, PayChoice, YesNo};
use super::quantity;
use super::recap::{self, Pending};
use super::replies::Voice;
use crate::catalogue::text::Token;
use crate::catalogue::{Index, ProductText};
use crate::knowledge::{self, Opening, Topic};
use crate::llm::{Role, ToolExecutor, Turn};

/// Incoming messages answered per turn; older ones in a burst are assumed superseded.
const MAX_INCOMING: usize = 5;
/// Items per order message ("2 pagnes et 1 sac…").
const MAX_SEGMENTS: usize = 5;
/// Products shown for one question.
const SHOWN: usize = 3;
/// Earlier customer messages searched for the product being discussed.
const CONTEXT_MESSAGES: usize = 10;
/// Words kept per item: a product is named in a few words, and they are echoed in searches and replies.
const MAX_ITEM_WORDS: usize = 6;
/// Results asked from `search_products`.
const SEARCH_RESULTS: u32 = 10;

/// Answers the turn. Never fails: anything not understood is handed over to the shop's team.
pub async fn answer(turn: &Turn, tools: &mut dyn ToolExecutor) -> String {
    let dialogue = Dialogue::new(turn);
    let reply = dialogue.answer(tools).await;
    // The shop is alerted through the same tool a model would call.
    let handed_over = dialogue
        .handed_over
        .lock()
        .ok()
        .and_then(|mut reason| reason.take());
    if let Some(reason) = handed_over {
        let args = serde_json::json!({ "reason": reason });
        tools.call(crate::llm::tools::HAND_OVER, args).await;
    }
    reply
}

struct Dialogue<'a> {
    turn: &'a Turn,
    voice: Voice,
    index: Index,
    /// What the customer asked that the bot could not answer, when it handed the conversation over.
    handed_over: std::sync::Mutex<Option<String>>,
}

/// Products found for the words of one item.
enum Found {
    Products {
        list: Vec<Product>,
        /// The first product is the one meant, not one of several equally good matches.
        decisive: bool,
    },
    Nothing,
}

/// What an order message builds on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    /// A new order.
    Fresh,
    /// "ajoute 1 sac": lines added to the pending order, quantities summed.
    AddTo,
    /// "finalement 3 pagnes", "enlève le sac": the pending order's lines changed.
    Change,
}

/// What one segment of an order message asks for.
struct Item {
    quantity: Option<u32>,
    words: Vec<String>,
}

impl<'a> Dialogue<'a> {
    fn new(turn: &'a Turn) -> Self {
        let index = Index::new(turn.catalog.iter().map(ProductText::from));
        Dialogue {
            turn,
            voice: Voice::new(turn),
            index,
            handed_over: std::sync::Mutex::new(None),
        }
    }

    async fn answer(&self, tools: &mut dyn ToolExecutor) -> String {
        if let [message] = self.turn.incoming.as_slice()
            && intent::says_paid(message)
        {
            return self.paid(tools).await;
        }
        if let Some(choice) = self.pay_answer() {
            return self.pay(choice, tools).await;
        }
        let incoming = &self.turn.incoming;
        let start = incoming.len().saturating_sub(MAX_INCOMING);
        let messages: Vec<Analysis> = incoming[start..]
            .iter()
            .map(|m| intent::analyze(m))
            .collect();
        let first_contact = !self.turn.history.iter().any(|m| m.role == Role::Shop);
        let greeting = messages
            .iter()
            .find_map(|a| a.greeting)
            .or(first_contact.then_some(Greeting::Day));

        let mut parts: Vec<String> = Vec::new();
        let mut done = vec![false; messages.len()];
        if let Some(pending) = recap::pending(self.turn)
            && let Some(part) = self.settle(&pending, &messages, &mut done, tools).await
        {
            parts.push(part);
        }
        let mut not_understood = false;
        for (i, a) in messages.iter().enumerate() {
            if done[i] {
                continue;
            }
            let message = &incoming[start + i];
            let part = match a.ask {
                // "vous faites les retouches ?" names no product but is a question the shop answered.
                Ask::Price | Ask::Availability | Ask::Mention | Ask::Order
                    if !self.names_product(a) && self.faq_answers(message) =>
                {
                    Some(self.shop_info(message))
                }
                Ask::None => None,
                Ask::ShopInfo => Some(self.shop_info(message)),
                Ask::Price | Ask::Availability | Ask::Mention => {
                    self.about_products(&messages, i, tools).await
                }
                // "montrez-moi la photo de la robe wax" names a product: its photo and price, not a listing.
                Ask::Catalogue if a.wants_photo && self.names_product(a) => {
                    self.about_products(&messages, i, tools).await
                }
                Ask::Catalogue => Some(self.browse(a, tools).await),
                Ask::Order => Some(
                    self.order(&messages, i, Vec::new(), Basis::Fresh, tools)
                        .await,
                ),
                Ask::OrderStatus => Some(self.order_status(a, tools).await),
                Ask::CancelOrder => Some(
                    match calls::cancel_order(tools, a.order_ref.clone()).await {
                        calls::Cancelled::Done(reference) => self.voice.order_cancelled(&reference),
                        calls::Cancelled::TooLate(reference) => {
                            self.hand_over(message);
                            self.voice.cancel_too_late(&reference)
                        }
                        calls::Cancelled::NoSuchOrder => self.voice.no_order_to_cancel(),
                    },
                ),
            };
            match part {
                Some(p) if !parts.contains(&p) => parts.push(p),
                Some(_) => {}
                None => not_understood |= a.ask != Ask::None,
            }
        }

        if parts.is_empty() {
            let last_answer = messages.iter().rev().find_map(|a| a.answer);
            let social = if let Some(answer) = last_answer {
                Some(match answer {
                    YesNo::Yes => self.voice.yes_without_order(),
                    YesNo::No => self.voice.no_without_order(),
                })
            } else if messages.iter().any(|a| a.goodbye) {
                Some(self.voice.goodbye())
            } else if messages.iter().any(|a| a.thanks) {
                Some(self.voice.thanks())
            } else {
                None
            };
            match (social, greeting) {
                (Some(s), _) => parts.push(s),
                (None, Some(g)) if !not_understood && !self.has_unread_words(&messages) => {
                    return self.voice.greeting(g == Greeting::Evening, true);
                }
                (None, _) => parts.push(self.unanswered(&incoming[start..])),
            }
        }
        if let Some(g) = greeting {
            parts.insert(0, self.voice.greeting(g == Greeting::Evening, false));
        }
        parts.join("\n\n")
    }

    /// A question about the shop's own rules (delivery, payment, hours…), answered from what the shop told
    /// its bot, or honestly not answered.
    fn shop_info(&self, message: &str) -> String {
        let shop = &self.turn.shop;
        let found = knowledge::lookup(message, &shop.faq, &shop.delivery_zones, &shop.instructions);
        let hours = (found.topics.contains(&Topic::Hours)
            && shop.hours.at(self.turn.now) != Opening::Always)
            .then_some(&shop.hours);
        if found.is_empty() && hours.is_none() {
            self.hand_over(message);
            return self.voice.no_information();
        }
        self.voice.shop_info(&found, hours)
    }

    /// Records that the conversation goes to the shop's team, with the customer's words as the reason.
    fn hand_over(&self, message: &str) {
        let words: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
        let reason: String = words.chars().take(200).collect();
        if let Ok(mut slot) = self.handed_over.lock() {
            *slot = Some(format!("Question sans réponse : « {reason} »"));
        }
    }

    /// Whether some item of the message names a product of the catalogue.
    fn names_product(&self, a: &Analysis) -> bool {
        self.items(a)
            .iter()
            .any(|item| !item.words.is_empty() && !self.index.best(&item.words).is_empty())
    }

    /// Whether one of the shop's FAQ entries answers the message.
    fn faq_answers(&self, message: &str) -> bool {
        !knowledge::lookup(message, &self.turn.shop.faq, &[], "")
            .faq
            .is_empty()
    }

    /// Messages nothing else understood: one the shop's FAQ answers gets that answer (the shop's own words),
    /// otherwise the conversation is handed over.
    fn unanswered(&self, messages: &[String]) -> String {
        let shop = &self.turn.shop;
        let answers: Vec<String> = messages
            .iter()
            .filter_map(|m| {
                let found = knowledge::lookup(m, &shop.faq, &[], "");
                (!found.faq.is_empty()).then(|| self.voice.shop_info(&found, None))
            })
            .collect();
        if answers.is_empty() {
            if let Some(last) = messages.last() {
                self.hand_over(last);
            }
            self.voice.handover()
        } else {
            answers.join("\n\n")
        }
    }

    /// Whether some message had words we did nothing with ("je suis à Yopougon"): not a bare greeting.
    fn has_unread_words(&self, messages: &[Analysis]) -> bool {
        messages
            .iter()
            .any(|a| a.ask == Ask::None && a.answer.is_none() && !a.content.is_empty())
    }

    /// Handles the customer's answer to the recap in the last shop message: confirm, cancel, add to it or
    /// ask its total. Returns `None` (and marks nothing done) when the turn is about something else.
    async fn settle(
        &self,
        pending: &Pending,
        messages: &[Analysis],
        done: &mut [bool],
        tools: &mut dyn ToolExecutor,
    ) -> Option<String> {
        // The latest yes or no wins: "oui… non finalement" cancels.
        let answer = messages.iter().rev().find_map(|a| a.answer);
        if let Some(answer) = answer {
            for (i, a) in messages.iter().enumerate() {
                done[i] |= a.answer.is_some();
            }
            return Some(match answer {
                YesNo::No => self.voice.cancelled(),
                YesNo::Yes => self.place(pending, tools).await,
            });
        }
        if !pending.complete {
            return None;
        }
        if let Some(i) = messages.iter().position(|a| a.ask == Ask::Order && a.adds) {
            done[i] = true;
            let base = self.pending_products(pending, tools).await;
            return Some(self.order(messages, i, base, Basis::AddTo, tools).await);
        }
        // "finalement 3", "plutôt 2 pagnes", "enlève le sac": the pending order changed before it is confirmed.
        if let Some(i) = messages
            .iter()
            .position(|a| a.ask == Ask::Order || (a.removes && a.has_words()))
        {
            done[i] = true;
            let base = self.pending_products(pending, tools).await;
            if base.len() != pending.lines.len() {
                return Some(self.voice.order_unknown_product());
            }
            // "ok donnez 2 alors" after a recap of 2: a yes, with the same quantity said again.
            let a = &messages[i];
            if a.says_yes
                && !a.removes
                && !a.has_words()
                && let [(_, quantity)] = base.as_slice()
                && self.items(a).first().and_then(|item| item.quantity) == Some(*quantity)
            {
                return Some(self.place(pending, tools).await);
            }
            return Some(self.order(messages, i, base, Basis::Change, tools).await);
        }
        // "à Cocody" after a recap: the delivery zone, its fee added.
        let raw = &self.turn.incoming[self.turn.incoming.len().saturating_sub(messages.len())..];
        if let Some(i) = raw
            .iter()
            .position(|m| knowledge::zone_named(m, &self.turn.shop.delivery_zones).is_some())
        {
            done[i] = true;
            let lines = self.pending_products(pending, tools).await;
            if lines.len() == pending.lines.len() {
                return Some(self.recap(&lines));
            }
            return Some(self.voice.order_unknown_product());
        }
        // "ça fait combien ?" right after a recap asks for its total.
        if let Some(i) = messages
            .iter()
            .position(|a| a.ask == Ask::Price && !a.has_words())
        {
            done[i] = true;
            let lines = self.pending_products(pending, tools).await;
            if lines.len() == pending.lines.len() {
                return Some(self.recap(&lines));
            }
            return Some(self.voice.order_unknown_product());
        }
        None
    }

    /// "J'ai payé": the answer comes from the payment provider, never from the customer's word.
    async fn paid(&self, tools: &mut dyn ToolExecutor) -> String {
        match calls::payment_status(tools).await {
            calls::PayState::Paid(order_ref) => self.voice.payment_confirmed(&order_ref),
            calls::PayState::Pending(order_ref) => self.voice.payment_not_seen(&order_ref),
            calls::PayState::NoLink => self.voice.no_payment_open(&self.turn.shop.payments),
            calls::PayState::Unknown => {
                if let Ok(mut slot) = self.handed_over.lock() {
                    *slot = Some(
                        "Le client dit avoir payé ; le paiement n'a pas pu être vérifié auprès du fournisseur."
                            .to_owned(),
                    );
                }
                self.voice.payment_unverified()
            }
        }
    }

    /// The way to pay the customer names right after the bot offered them ("Pour payer, répondez …") or sent a
    /// payment link.
    fn pay_answer(&self) -> Option<PayChoice> {
        let offered = self
            .turn
            .history
            .iter()
            .rev()
            .find(|m| m.role == Role::Shop)
            .is_some_and(|m| m.text.contains(&self.voice.pay_prompt()) || m.text.contains("/pay/"));
        let [message] = self.turn.incoming.as_slice() else {
            return None;
        };
        offered.then(|| intent::pay_choice(message)).flatten()
    }

    /// "Wave", "Orange Money", "à la livraison": how the customer pays their latest order.
    async fn pay(&self, choice: PayChoice, tools: &mut dyn ToolExecutor) -> String {
        let method = match choice {
            PayChoice::Wave => "wave",
            PayChoice::OrangeMoney => "orange_money",
            PayChoice::Cash => "cash_on_delivery",
            // "le lien de paiement": the only link the shop offers, if there is one.
            PayChoice::Link => match self.turn.shop.payments.links.as_slice() {
                [only] => only.as_str(),
                _ => return self.voice.pay_which(&self.turn.shop.payments),
            },
        };
        match calls::payment_link(tools, method).await {
            calls::PayLink::Link => self.voice.pay_link_follows(),
            calls::PayLink::OnDelivery => self.voice.pay_on_delivery(),
            calls::PayLink::AlreadyPaid => self.voice.already_paid(),
            calls::PayLink::NoOrder => self.voice.nothing_to_pay(),
            calls::PayLink::NotOffered => self.voice.pay_which(&self.turn.shop.payments),
        }
    }

    async fn place(&self, pending: &Pending, tools: &mut dyn ToolExecutor) -> String {
        if !pending.complete || pending.lines.is_empty() {
            return self.voice.order_unknown_product();
        }
        let lines = pending.lines.clone();
        let zone = pending.zone.clone();
        match calls::create_order(tools, lines, &self.turn.customer_name, zone).await {
            Placed::Order {
                order_ref,
                total_xof,
                items,
            } => {
                let placed = self.voice.placed(&order_ref, total_xof, &items);
                match self.voice.pay_offer(&self.turn.shop.payments) {
                    Some(offer) => format!("{placed}\n\n{offer}"),
                    None => placed,
                }
            }
            Placed::InsufficientStock { product, available } => {
                self.voice.stock_changed(&product, available)
            }
            Placed::UnknownProduct => self.voice.order_unknown_product(),
            Placed::TooManyOpen => self.voice.too_many_open_orders(),
            Placed::Failed => self.voice.order_failed(),
        }
    }

    /// The recap of `lines`, delivered to the zone the customer named (in this turn, the last recap, or
    /// earlier), its fee in the total.
    fn recap(&self, lines: &[(Product, u32)]) -> String {
        let zones = &self.turn.shop.delivery_zones;
        let named = |m: &str| knowledge::zone_named(m, zones);
        let zone = self
            .turn
            .incoming
            .iter()
            .rev()
            .find_map(|m| named(m))
            .or_else(|| {
                recap::pending(self.turn)
                    .and_then(|p| p.zone)
                    .and_then(|z| zones.iter().find(|zone| zone.name == z))
            })
            .or_else(|| {
                self.turn
                    .history
                    .iter()
                    .rev()
                    .filter(|m| m.role == Role::Customer)
                    .find_map(|m| named(&m.text))
            });
        recap::render(self.voice.lang, lines, zone, zones)
    }

    /// The pending order's products as the tools see them now, for re-rendering the recap.
    async fn pending_products(
        &self,
        pending: &Pending,
        tools: &mut dyn ToolExecutor,
    ) -> Vec<(Product, u32)> {
        let mut out = Vec::new();
        for line in &pending.lines {
            if let Some(p) = calls::get(tools, line.product_id).await {
                out.push((p, line.quantity));
            }
        }
        out
    }

    /// Price, availability or a bare product mention. `None` when a bare mention names nothing we sell,
    /// so the turn falls back to a handover instead of a "not found".
    async fn about_products(
        &self,
        messages: &[Analysis],
        i: usize,
        tools: &mut dyn ToolExecutor,
    ) -> Option<String> {
        let a = &messages[i];
        let items = self.items(a);
        let mut queries: Vec<(Option<u32>, Vec<String>)> = items
            .iter()
            .filter(|item| !item.words.is_empty())
            .map(|item| (item.quantity, item.words.clone()))
            .collect();
        if queries.is_empty() {
            let quantity = items.first().and_then(|item| item.quantity);
            match self.context_words(messages, i) {
                Some(words) => queries.push((quantity, words)),
                // "c'est combien ?" with nothing discussed yet: the price list answers it.
                None if a.ask == Ask::Mention => return None,
                None => return Some(self.catalogue(tools).await),
            }
        }
        let mut parts = Vec::new();
        for (quantity, words) in queries.iter().take(MAX_SEGMENTS) {
            let found = self.lookup(words, tools).await;
            // "montrez-moi la robe": its photo goes before the answer, when the product is clear.
            let mut no_photo = false;
            if a.wants_photo
                && let Found::Products { list, decisive } = &found
                && let [p, ..] = list.as_slice()
                && (*decisive || list.len() == 1)
            {
                no_photo = !calls::send_photo(tools, p.product_id).await;
            }
            let part = match found {
                Found::Nothing if a.ask == Ask::Mention => continue,
                Found::Nothing => self
                    .voice
                    .not_found(&self.spoken(words), &self.categories()),
                // "le pagne" means "Pagne" rather than "Pagne hollandais", which is still worth a mention.
                Found::Products { list, decisive } => match list.as_slice() {
                    [p, ..] if (decisive || list.len() == 1) && !p.available() => {
                        let alternatives = self.alternatives(p, tools).await;
                        self.voice.sold_out(p, &alternatives)
                    }
                    [p, ..] if (decisive || list.len() == 1) && a.ask == Ask::Availability => {
                        self.voice.availability(p)
                    }
                    // "combien pour 3 pagnes ?": the total.
                    [p, ..] if (decisive || list.len() == 1) && quantity.is_some_and(|q| q > 1) => {
                        self.voice.total(p, quantity.unwrap_or(1))
                    }
                    [p, others @ ..] if decisive || others.is_empty() => {
                        self.voice.price(p, others)
                    }
                    several => self.voice.several(several),
                },
            };
            let part = if no_photo {
                format!("{}\n{part}", self.voice.no_photo())
            } else {
                part
            };
            parts.push(part);
        }
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    /// Builds the recap for an order message, after `base` (the pending order it adds to), or explains
    /// what stops it: unknown product, several candidates, sold out, not enough stock.
    async fn order(
        &self,
        messages: &[Analysis],
        i: usize,
        base: Vec<(Product, u32)>,
        basis: Basis,
        tools: &mut dyn ToolExecutor,
    ) -> String {
        let mut items = self.items(&messages[i]);
        if items.iter().all(|item| item.words.is_empty()) {
            let quantity = items.first().and_then(|item| item.quantity);
            match (basis, base.as_slice()) {
                // "finalement 3" about a one-line order: that line's quantity.
                (Basis::Change, [(only, _)]) => {
                    items = vec![Item {
                        quantity,
                        words: crate::catalogue::text::words(&only.name),
                    }];
                }
                _ => match self.context_words(messages, i) {
                    Some(words) => items = vec![Item { quantity, words }],
                    None => return self.voice.order_what(),
                },
            }
        }
        // "…, livraison à Cocody": a segment naming a delivery zone is the delivery, not a product.
        let zones = &self.turn.shop.delivery_zones;
        items.retain(|item| knowledge::zone_named(&item.words.join(" "), zones).is_none());
        let removes = messages[i].removes;
        let mut lines = base;
        let mut notes = Vec::new();
        let mut problems = Vec::new();
        for item in items
            .iter()
            .filter(|item| !item.words.is_empty())
            .take(MAX_SEGMENTS)
        {
            let (list, decisive) = match self.lookup(&item.words, tools).await {
                Found::Nothing => {
                    problems.push(
                        self.voice
                            .not_found(&self.spoken(&item.words), &self.categories()),
                    );
                    continue;
                }
                Found::Products { list, decisive } => (list, decisive),
            };
            // Among equally good matches, the only one in stock is the one that can be ordered.
            let in_stock: Vec<&Product> = list.iter().filter(|p| p.available()).collect();
            let p: &Product = match (decisive, list.as_slice(), in_stock.as_slice()) {
                (_, [], _) => continue,
                (true, [first, ..], _) | (false, [first], _) => first,
                (false, _, [only]) => only,
                (false, _, _) => {
                    problems.push(self.voice.choose(&list));
                    continue;
                }
            };
            let existing = lines.iter().position(|(q, _)| q.product_id == p.product_id);
            if removes {
                if let Some(e) = existing {
                    lines.remove(e);
                }
                continue;
            }
            // "sel et poivre" names one product twice: no second line without its own quantity.
            if existing.is_some() && item.quantity.is_none() {
                continue;
            }
            let wanted = item.quantity.unwrap_or(1);
            let total = match (basis, existing) {
                (Basis::Change, Some(_)) => wanted,
                (_, existing) => existing.map_or(0, |e| lines[e].1).saturating_add(wanted),
            };
            let left = p.stock.filter(|&s| s < i64::from(total));
            if !p.available() {
                let alternatives = self.alternatives(p, tools).await;
                problems.push(self.voice.sold_out(p, &alternatives));
                continue;
            }
            // More than the stock: offer what is left, in the recap, for the customer to confirm.
            let quantity = match left {
                Some(left) => {
                    notes.push(self.voice.only_left(p, left, total));
                    u32::try_from(left).unwrap_or(0)
                }
                None => total,
            };
            match existing {
                Some(e) => lines[e].1 = quantity,
                None => lines.push((p.clone(), quantity)),
            }
        }
        lines.retain(|(_, quantity)| *quantity > 0);
        if !problems.is_empty() {
            return problems.join("\n\n");
        }
        if lines.is_empty() {
            return if removes && basis == Basis::Change {
                self.voice.cancelled()
            } else {
                self.voice.order_what()
            };
        }
        let recap = self.recap(&lines);
        if notes.is_empty() {
            recap
        } else {
            format!("{}\n\n{recap}", notes.join("\n"))
        }
    }

    async fn order_status(&self, a: &Analysis, tools: &mut dyn ToolExecutor) -> String {
        match calls::order_status(tools, a.order_ref.clone()).await {
            Some(orders) => self.voice.orders(&orders, a.order_ref.as_deref()),
            None => self.voice.handover(),
        }
    }

    /// Finds the products named by `words`: the catalogue picks the candidates and spells the search, the
    /// tools give their price and stock. Words the catalogue does not know are searched as typed.
    async fn lookup(&self, words: &[String], tools: &mut dyn ToolExecutor) -> Found {
        if words.is_empty() {
            return Found::Nothing;
        }
        let best = self.index.best(words);
        if !best.is_empty() {
            let picked: Vec<usize> = best.iter().take(SHOWN).map(|c| c.index).collect();
            let query = self.index.correct(words, &picked).join(" ");
            let results = calls::search(tools, &query, SEARCH_RESULTS).await;
            let mut list = Vec::new();
            for &i in &picked {
                let Some(item) = self.turn.catalog.get(i) else {
                    continue;
                };
                if let Some(p) = results.iter().find(|p| p.product_id == item.product_id) {
                    list.push(p.clone());
                } else if let Some(p) = calls::get(tools, item.product_id).await {
                    list.push(p);
                }
            }
            let first_is_best = match (list.first(), best.first()) {
                (Some(p), Some(c)) => {
                    self.turn.catalog.get(c.index).map(|i| i.product_id) == Some(p.product_id)
                }
                _ => false,
            };
            let decisive = first_is_best
                && best
                    .get(1)
                    .is_none_or(|second| best[0].coverage > second.coverage);
            if !list.is_empty() {
                return Found::Products { list, decisive };
            }
        }
        let results = calls::search(tools, &words.join(" "), SEARCH_RESULTS).await;
        if results.is_empty() {
            return Found::Nothing;
        }
        // The tool found something the catalogue matcher did not: rank its results the same way.
        let index = Index::new(results.iter().map(|p| ProductText {
            name: &p.name,
            category: p.category(),
            sku: p.sku.as_deref(),
            attributes: None,
        }));
        let ranked = index.best(words);
        if ranked.is_empty() {
            let list: Vec<Product> = results.into_iter().take(SHOWN).collect();
            let decisive = list.len() == 1;
            return Found::Products { list, decisive };
        }
        let decisive = ranked
            .get(1)
            .is_none_or(|second| ranked[0].coverage > second.coverage);
        let list = ranked
            .iter()
            .take(SHOWN)
            .filter_map(|c| results.get(c.index).cloned())
            .collect();
        Found::Products { list, decisive }
    }

    /// In-stock products of the same category, to offer instead of a sold-out one.
    async fn alternatives(&self, sold_out: &Product, tools: &mut dyn ToolExecutor) -> Vec<Product> {
        let category = sold_out.category().trim();
        if category.is_empty() {
            return Vec::new();
        }
        calls::search(tools, category, SEARCH_RESULTS)
            .await
            .into_iter()
            .filter(|p| p.available() && p.product_id != sold_out.product_id)
            .take(SHOWN)
            .collect()
    }

    /// The message's items: a quantity and the words naming the product, per segment.
    fn items(&self, a: &Analysis) -> Vec<Item> {
        a.segments()
            .into_iter()
            .flat_map(|segment| self.split_items(segment))
            .map(|segment| {
                let mut split = quantity::split(segment, |digits| self.index.knows_number(digits));
                split.words.truncate(MAX_ITEM_WORDS);
                Item {
                    quantity: split.quantity,
                    words: split.words,
                }
            })
            .collect()
    }

    /// "2 pagnes 1 sac" → "2 pagnes", "1 sac": a new count after a product word starts a new item, unless a
    /// product carries that number (a size: "baskets 42").
    fn split_items<'t>(&self, segment: &'t [Token]) -> Vec<&'t [Token]> {
        let word = |t: &Token| t.word().map(str::to_owned);
        let is_name = |w: &str| quantity::number(w).is_none() && !quantity::is_unit(w);
        let mut items = Vec::new();
        let mut start = 0;
        for i in 1..segment.len() {
            let (Some(previous), Some(current)) = (word(&segment[i - 1]), word(&segment[i])) else {
                continue;
            };
            let next_is_name = segment
                .get(i + 1)
                .and_then(Token::word)
                .is_some_and(|w| is_name(w) || quantity::is_unit(w));
            let has_name_before = segment[start..i]
                .iter()
                .filter_map(Token::word)
                .any(is_name);
            if is_name(&previous)
                && has_name_before
                && next_is_name
                && quantity::number(&current)
                    .is_some_and(|n| (1..=quantity::MAX_QUANTITY).contains(&n))
                && !self.index.knows_number(&current)
            {
                items.push(&segment[start..i]);
                start = i;
            }
        }
        items.push(&segment[start..]);
        items
    }

    /// The words of the latest earlier message (this turn first, then the history) that named a product.
    fn context_words(&self, messages: &[Analysis], i: usize) -> Option<Vec<String>> {
        let names_product = |a: &Analysis| {
            self.items(a)
                .into_iter()
                .map(|item| item.words)
                .find(|words| !self.index.best(words).is_empty())
        };
        if let Some(words) = messages[..i].iter().rev().find_map(names_product) {
            return Some(words);
        }
        self.turn
            .history
            .iter()
            .rev()
            .filter(|m| m.role == Role::Customer)
            .take(CONTEXT_MESSAGES)
            .find_map(|m| names_product(&intent::analyze(&m.text)))
    }

    /// The customer's own spelling of folded words ("pagne brode" → "pagne brodé"), read back from the
    /// turn's messages, so a reply never echoes them with their accents stripped.
    fn spoken(&self, words: &[String]) -> String {
        let originals: Vec<&str> = self
            .turn
            .incoming
            .iter()
            .flat_map(|m| m.split(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
            .collect();
        words
            .iter()
            .map(|w| {
                originals
                    .iter()
                    .find(|o| store::text::fold(o) == *w)
                    .map_or(w.as_str(), |o| *o)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Category names to suggest when a product is not found.
    fn categories(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.turn.catalog {
            let name = c.fields.category.trim();
            if !name.is_empty() && !out.iter().any(|o| o == name) {
                out.push(name.to_owned());
            }
        }
        out.truncate(5);
        out
    }
}
