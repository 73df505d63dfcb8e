//! What a customer message asks: greeting, price, availability, catalogue, order, order status, a bare
//! yes/no, thanks or goodbye, plus the leftover words that name products and quantities. Everyday Ivorian
//! French and SMS spellings are part of the vocabulary ("cc", "slt", "c dispo", "dac", "ma sœur", "dèh").

use super::listing::{self, Listing};
use super::quantity;
use crate::catalogue::is_stopword;
use crate::catalogue::text::{self, Token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    None,
    Price,
    Availability,
    Catalogue,
    Order,
    OrderStatus,
    /// Product words with no question around them ("la robe wax ?"): answered like a price question.
    Mention,
    /// "annule ma commande (CMD-…)": cancel an order the shop has not confirmed yet.
    CancelOrder,
    /// Delivery, payment, opening hours, returns: the shop's own rules, answered from what the shop told
    /// its bot (FAQ, delivery zones, instructions, hours), else handed over to its team.
    ShopInfo,
}

/// The way to pay a message names, as an answer to the bot's "Pour payer, répondez « Wave »…": "wave",
/// "par Orange Money", "OM", "à la livraison", "cash", "le lien". Only read right after that offer: elsewhere
/// "vous prenez Wave ?" is a question about the shop.
pub fn pay_choice(message: &str) -> Option<PayChoice> {
    let folded = store::text::fold(message);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    if words.len() > 8 {
        return None;
    }
    if has("wave") {
        Some(PayChoice::Wave)
    } else if has("om") || has("orange") {
        Some(PayChoice::OrangeMoney)
    } else if has("livraison") || has("cash") || has("especes") || has("delivery") {
        Some(PayChoice::Cash)
    } else if has("lien") || has("link") || has("payer") || has("pay") {
        Some(PayChoice::Link)
    } else {
        None
    }
}

/// "J'ai payé", "c'est payé", "paiement effectué": the customer says they paid.
pub fn says_paid(message: &str) -> bool {
    let folded = store::text::fold(message);
    let text: String = folded
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let text = format!(
        " {} ",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    [
        " j ai paye ",
        " jai paye ",
        " j ai deja paye ",
        " c est paye ",
        " cest paye ",
        " deja paye ",
        " paiement effectue ",
        " paiement fait ",
        " j ai fait le paiement ",
        " j ai envoye l argent ",
        " i paid ",
        " i have paid ",
        " payment done ",
    ]
    .iter()
    .any(|phrase| text.contains(phrase))
}

/// A way to pay an order the customer names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayChoice {
    Wave,
    OrangeMoney,
    Cash,
    /// "le lien de paiement", "je veux payer": whichever link the shop offers.
    Link,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting {
    Day,
    Evening,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YesNo {
    Yes,
    No,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub greeting: Option<Greeting>,
    pub thanks: bool,
    pub goodbye: bool,
    /// A bare yes or no, with no product words: the answer to a question such as the order recap.
    pub answer: Option<YesNo>,
    pub ask: Ask,
    /// "ajoute", "aussi", "en plus": the order extends the one being confirmed.
    pub adds: bool,
    /// "enlève", "retire", "sans": the named products leave the order being confirmed.
    pub removes: bool,
    /// A yes word anywhere ("ok donnez 2 alors"), even when the message says more than yes.
    pub says_yes: bool,
    /// An order reference quoted by the customer ("CMD-1A2B3C4D").
    pub order_ref: Option<String>,
    /// Words and numbers naming products and quantities, with [`Token::Break`] between items.
    pub content: Vec<Token>,
    /// Price bounds and a page number ("moins de 10 000", "page 2").
    pub listing: Listing,
    /// "le moins cher", "le plus cher": the catalogue sorted by price.
    pub sort: Option<PriceSort>,
    /// "la suite", "d'autres": the next page of the last listing.
    pub more: bool,
    /// "montrez-moi", "une photo": the customer wants to see the product.
    pub wants_photo: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSort {
    Cheapest,
    Dearest,
}

impl Analysis {
    /// The content split into items: "2 pagnes et 1 sac" → ["2 pagnes", "1 sac"].
    pub fn segments(&self) -> Vec<&[Token]> {
        self.content
            .split(|t| *t == Token::Break)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Whether the content has words other than numbers and units, i.e. something that may name a product.
    pub fn has_words(&self) -> bool {
        self.content
            .iter()
            .filter_map(Token::word)
            .any(|w| quantity::number(w).is_none() && !quantity::is_unit(w))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Hello,
    Evening,
    Thanks,
    Bye,
    Yes,
    No,
    Price,
    Availability,
    Catalogue,
    /// A verb that means ordering whatever follows ("je prends", "mets-moi").
    OrderVerb,
    /// A wish that is an order only when nothing more specific was asked ("je veux").
    Wish,
    /// "commande" alone: an order with products, a status question without.
    OrderNoun,
    Status,
    ShopInfo,
    Cheapest,
    Dearest,
    More,
    Removes,
    /// "finalement", "plutôt": what follows replaces what was said.
    Instead,
    Adds,
    /// "photo", "image": the customer wants to see the product.
    Photo,
    /// "montrez-moi": the catalogue (a photo only when asked for: "montrez-moi la photo").
    Show,
    Filler,
    Separator,
}

/// Phrases, folded and tokenised like messages. Longer phrases win over shorter ones at the same place.
const VOCABULARY: &[(&str, Flag)] = &[
    // Greetings ("on dit quoi" is the Abidjan "what's up").
    ("bonjour", Flag::Hello),
    ("bjr", Flag::Hello),
    ("bonjours", Flag::Hello),
    ("bonjou", Flag::Hello),
    ("salut", Flag::Hello),
    ("slt", Flag::Hello),
    ("cc", Flag::Hello),
    ("coucou", Flag::Hello),
    ("hello", Flag::Hello),
    ("hi", Flag::Hello),
    ("hey", Flag::Hello),
    ("allo", Flag::Hello),
    ("on dit quoi", Flag::Hello),
    ("bonne arrivee", Flag::Hello),
    ("salam", Flag::Hello),
    ("good morning", Flag::Hello),
    ("good afternoon", Flag::Hello),
    ("bonsoir", Flag::Evening),
    ("bsr", Flag::Evening),
    ("good evening", Flag::Evening),
    // Thanks and goodbye.
    ("merci", Flag::Thanks),
    ("mrc", Flag::Thanks),
    ("mci", Flag::Thanks),
    ("remercie", Flag::Thanks),
    ("thanks", Flag::Thanks),
    ("thank you", Flag::Thanks),
    ("thx", Flag::Thanks),
    ("au revoir", Flag::Bye),
    ("aurevoir", Flag::Bye),
    ("bye", Flag::Bye),
    ("ciao", Flag::Bye),
    ("tchao", Flag::Bye),
    ("a plus", Flag::Bye),
    ("a plus tard", Flag::Bye),
    ("a bientot", Flag::Bye),
    ("bonne journee", Flag::Bye),
    ("bonne soiree", Flag::Bye),
    ("bonne nuit", Flag::Bye),
    ("goodbye", Flag::Bye),
    ("see you", Flag::Bye),
    // Yes.
    ("oui", Flag::Yes),
    ("ouais", Flag::Yes),
    ("ouai", Flag::Yes),
    ("wi", Flag::Yes),
    ("ok", Flag::Yes),
    ("okay", Flag::Yes),
    ("oki", Flag::Yes),
    ("okey", Flag::Yes),
    ("d accord", Flag::Yes),
    ("daccord", Flag::Yes),
    ("dac", Flag::Yes),
    ("dacc", Flag::Yes),
    ("c est bon", Flag::Yes),
    ("c bon", Flag::Yes),
    ("c est ok", Flag::Yes),
    ("je confirme", Flag::Yes),
    ("confirme", Flag::Yes),
    ("confirmer", Flag::Yes),
    ("confirmez", Flag::Yes),
    ("valide", Flag::Yes),
    ("valider", Flag::Yes),
    ("validez", Flag::Yes),
    ("ca marche", Flag::Yes),
    ("vas y", Flag::Yes),
    ("allez y", Flag::Yes),
    ("on y va", Flag::Yes),
    ("parfait", Flag::Yes),
    ("nickel", Flag::Yes),
    ("yes", Flag::Yes),
    ("yep", Flag::Yes),
    ("yeah", Flag::Yes),
    ("sure", Flag::Yes),
    // No.
    ("non", Flag::No),
    ("nan", Flag::No),
    ("no", Flag::No),
    ("nope", Flag::No),
    ("annule", Flag::No),
    ("annuler", Flag::No),
    ("annulez", Flag::No),
    ("laisse tomber", Flag::No),
    ("laissez tomber", Flag::No),
    ("pas la peine", Flag::No),
    ("plus besoin", Flag::No),
    ("je ne veux plus", Flag::No),
    ("cancel", Flag::No),
    // Price.
    ("combien", Flag::Price),
    ("cb", Flag::Price),
    ("cbn", Flag::Price),
    ("cmb", Flag::Price),
    ("cbien", Flag::Price),
    ("prix", Flag::Price),
    ("tarif", Flag::Price),
    ("tarifs", Flag::Price),
    ("cout", Flag::Price),
    ("coute", Flag::Price),
    ("coutent", Flag::Price),
    ("ca fait", Flag::Price),
    ("c est a", Flag::Price),
    ("how much", Flag::Price),
    ("price", Flag::Price),
    ("prices", Flag::Price),
    ("cost", Flag::Price),
    ("costs", Flag::Price),
    // Availability.
    ("dispo", Flag::Availability),
    ("dispos", Flag::Availability),
    ("disponible", Flag::Availability),
    ("disponibles", Flag::Availability),
    ("disponibilite", Flag::Availability),
    ("vous avez", Flag::Availability),
    ("vs avez", Flag::Availability),
    ("avez vous", Flag::Availability),
    ("avez", Flag::Availability),
    ("y a", Flag::Availability),
    ("ya", Flag::Availability),
    ("y en a", Flag::Availability),
    ("il y a", Flag::Availability),
    ("reste", Flag::Availability),
    ("restent", Flag::Availability),
    ("en stock", Flag::Availability),
    ("stock", Flag::Availability),
    ("available", Flag::Availability),
    ("in stock", Flag::Availability),
    ("do you have", Flag::Availability),
    ("have", Flag::Availability),
    ("still", Flag::Availability),
    // Catalogue.
    ("catalogue", Flag::Catalogue),
    ("catalog", Flag::Catalogue),
    ("vendez", Flag::Catalogue),
    ("vends", Flag::Catalogue),
    ("vend", Flag::Catalogue),
    ("produits", Flag::Catalogue),
    ("articles", Flag::Catalogue),
    ("ce que vous avez", Flag::Catalogue),
    ("qu est ce que vous avez", Flag::Catalogue),
    ("vous avez quoi", Flag::Catalogue),
    ("montrez moi", Flag::Show),
    ("montre moi", Flag::Show),
    ("montrez", Flag::Show),
    ("montre", Flag::Show),
    ("fais voir", Flag::Show),
    ("faites voir", Flag::Show),
    ("show me", Flag::Show),
    ("voir", Flag::Catalogue),
    ("menu", Flag::Catalogue),
    ("liste", Flag::Catalogue),
    ("sell", Flag::Catalogue),
    ("products", Flag::Catalogue),
    ("what do you have", Flag::Catalogue),
    // Changing the order being confirmed.
    ("enleve", Flag::Removes),
    ("enlever", Flag::Removes),
    ("enlevez", Flag::Removes),
    ("retire", Flag::Removes),
    ("retirer", Flag::Removes),
    ("retirez", Flag::Removes),
    ("supprime", Flag::Removes),
    ("supprimer", Flag::Removes),
    ("supprimez", Flag::Removes),
    ("sans", Flag::Removes),
    ("remove", Flag::Removes),
    ("without", Flag::Removes),
    ("finalement", Flag::Instead),
    ("plutot", Flag::Instead),
    ("en fait", Flag::Instead),
    ("seulement", Flag::Instead),
    ("instead", Flag::Instead),
    ("donnez", Flag::OrderVerb),
    ("donne", Flag::OrderVerb),
    ("mettez", Flag::OrderVerb),
    // Browsing by price and page.
    ("moins cher", Flag::Cheapest),
    ("moins chere", Flag::Cheapest),
    ("moins chers", Flag::Cheapest),
    ("moins cheres", Flag::Cheapest),
    ("pas cher", Flag::Cheapest),
    ("pas chere", Flag::Cheapest),
    ("pas chers", Flag::Cheapest),
    ("bon marche", Flag::Cheapest),
    ("petit prix", Flag::Cheapest),
    ("petits prix", Flag::Cheapest),
    ("cheapest", Flag::Cheapest),
    ("cheap", Flag::Cheapest),
    ("plus cher", Flag::Dearest),
    ("plus chere", Flag::Dearest),
    ("plus chers", Flag::Dearest),
    ("most expensive", Flag::Dearest),
    ("la suite", Flag::More),
    ("suite", Flag::More),
    ("suivant", Flag::More),
    ("page suivante", Flag::More),
    ("d autres", Flag::More),
    ("autres articles", Flag::More),
    ("autres produits", Flag::More),
    ("next", Flag::More),
    ("more", Flag::More),
    // Ordering.
    ("je prends", Flag::OrderVerb),
    ("je prend", Flag::OrderVerb),
    ("prends", Flag::OrderVerb),
    ("prend", Flag::OrderVerb),
    ("prendre", Flag::OrderVerb),
    ("mets moi", Flag::OrderVerb),
    ("met moi", Flag::OrderVerb),
    ("mets", Flag::OrderVerb),
    ("met", Flag::OrderVerb),
    ("je commande", Flag::OrderVerb),
    ("commander", Flag::OrderVerb),
    ("commandez", Flag::OrderVerb),
    ("donne moi", Flag::OrderVerb),
    ("donnez moi", Flag::OrderVerb),
    ("envoie moi", Flag::OrderVerb),
    ("envoyez moi", Flag::OrderVerb),
    ("garde moi", Flag::OrderVerb),
    ("gardez moi", Flag::OrderVerb),
    ("je pars avec", Flag::OrderVerb),
    ("il me faut", Flag::OrderVerb),
    ("achete", Flag::OrderVerb),
    ("acheter", Flag::OrderVerb),
    ("reserve", Flag::OrderVerb),
    ("reserver", Flag::OrderVerb),
    ("i ll take", Flag::OrderVerb),
    ("i will take", Flag::OrderVerb),
    ("take", Flag::OrderVerb),
    ("order", Flag::OrderVerb),
    ("buy", Flag::OrderVerb),
    ("veux", Flag::Wish),
    ("veut", Flag::Wish),
    ("voudrais", Flag::Wish),
    ("voulais", Flag::Wish),
    ("aimerais", Flag::Wish),
    ("souhaite", Flag::Wish),
    ("besoin", Flag::Wish),
    ("want", Flag::Wish),
    ("would like", Flag::Wish),
    ("commande", Flag::OrderNoun),
    ("commandes", Flag::OrderNoun),
    ("cmd", Flag::OrderNoun),
    ("ajoute", Flag::Adds),
    ("ajouter", Flag::Adds),
    ("ajoutez", Flag::Adds),
    ("rajoute", Flag::Adds),
    ("aussi", Flag::Adds),
    ("en plus", Flag::Adds),
    ("also", Flag::Adds),
    ("add", Flag::Adds),
    // Order status.
    ("ma commande", Flag::Status),
    ("mes commandes", Flag::Status),
    ("ma cmd", Flag::Status),
    ("ou en est", Flag::Status),
    ("ou est", Flag::Status),
    ("statut", Flag::Status),
    ("suivi", Flag::Status),
    ("livre", Flag::Status),
    ("livree", Flag::Status),
    ("livrees", Flag::Status),
    ("livres", Flag::Status),
    ("arrive", Flag::Status),
    ("arrivee", Flag::Status),
    ("recu", Flag::Status),
    ("my order", Flag::Status),
    ("order status", Flag::Status),
    ("delivered", Flag::Status),
    // Questions about the shop's own rules.
    ("livraison", Flag::ShopInfo),
    ("livrer", Flag::ShopInfo),
    ("livrez", Flag::ShopInfo),
    ("livreur", Flag::ShopInfo),
    ("paiement", Flag::ShopInfo),
    ("payer", Flag::ShopInfo),
    ("wave", Flag::ShopInfo),
    ("orange money", Flag::ShopInfo),
    ("mobile money", Flag::ShopInfo),
    ("momo", Flag::ShopInfo),
    ("adresse", Flag::ShopInfo),
    ("horaires", Flag::ShopInfo),
    ("ouvert", Flag::ShopInfo),
    ("ouverte", Flag::ShopInfo),
    ("ou etes vous", Flag::ShopInfo),
    ("vous etes ou", Flag::ShopInfo),
    ("situe", Flag::ShopInfo),
    ("situes", Flag::ShopInfo),
    ("remboursement", Flag::ShopInfo),
    ("ouvrez", Flag::ShopInfo),
    ("ouverts", Flag::ShopInfo),
    ("ouvertes", Flag::ShopInfo),
    ("fermez", Flag::ShopInfo),
    ("ferme", Flag::ShopInfo),
    ("fermee", Flag::ShopInfo),
    ("a quelle heure", Flag::ShopInfo),
    ("heure d ouverture", Flag::ShopInfo),
    ("frais de livraison", Flag::ShopInfo),
    ("retour", Flag::ShopInfo),
    ("retourner", Flag::ShopInfo),
    ("especes", Flag::ShopInfo),
    ("cash", Flag::ShopInfo),
    ("acompte", Flag::ShopInfo),
    ("promo", Flag::ShopInfo),
    ("promotion", Flag::ShopInfo),
    ("opening hours", Flag::ShopInfo),
    ("open", Flag::ShopInfo),
    ("refund", Flag::ShopInfo),
    ("deliver", Flag::ShopInfo),
    ("pay", Flag::ShopInfo),
    ("rembourser", Flag::ShopInfo),
    ("echange", Flag::ShopInfo),
    ("echanger", Flag::ShopInfo),
    ("garantie", Flag::ShopInfo),
    ("reduction", Flag::ShopInfo),
    ("bon prix", Flag::ShopInfo),
    ("faire un prix", Flag::ShopInfo),
    ("faire un bon prix", Flag::ShopInfo),
    ("diminuer", Flag::ShopInfo),
    ("diminue", Flag::ShopInfo),
    ("remise", Flag::ShopInfo),
    ("delivery", Flag::ShopInfo),
    ("payment", Flag::ShopInfo),
    // Fillers: politeness, forms of address, small talk.
    ("photo", Flag::Photo),
    ("photos", Flag::Photo),
    ("foto", Flag::Photo),
    ("image", Flag::Photo),
    ("images", Flag::Photo),
    ("picture", Flag::Photo),
    ("pictures", Flag::Photo),
    ("svp", Flag::Filler),
    ("stp", Flag::Filler),
    ("svpl", Flag::Filler),
    ("s il vous plait", Flag::Filler),
    ("s il te plait", Flag::Filler),
    ("sil vous plait", Flag::Filler),
    ("plait", Flag::Filler),
    ("please", Flag::Filler),
    ("pls", Flag::Filler),
    ("plz", Flag::Filler),
    ("eh", Flag::Filler),
    ("deh", Flag::Filler),
    ("hein", Flag::Filler),
    ("oh", Flag::Filler),
    ("ah", Flag::Filler),
    ("han", Flag::Filler),
    ("hm", Flag::Filler),
    ("ma soeur", Flag::Filler),
    ("mon frere", Flag::Filler),
    ("ma cherie", Flag::Filler),
    ("mon cheri", Flag::Filler),
    ("mon ami", Flag::Filler),
    ("mon amie", Flag::Filler),
    ("tantie", Flag::Filler),
    ("tanti", Flag::Filler),
    ("tonton", Flag::Filler),
    ("patron", Flag::Filler),
    ("patronne", Flag::Filler),
    ("boss", Flag::Filler),
    ("bro", Flag::Filler),
    ("maman", Flag::Filler),
    ("ca va", Flag::Filler),
    ("comment ca va", Flag::Filler),
    ("comment allez vous", Flag::Filler),
    ("vous allez bien", Flag::Filler),
    ("cv", Flag::Filler),
    ("bon", Flag::Filler),
    ("voila", Flag::Filler),
    ("bref", Flag::Filler),
    ("beaucoup", Flag::Filler),
    ("savoir", Flag::Filler),
    ("et", Flag::Separator),
    ("puis", Flag::Separator),
    ("and", Flag::Separator),
];

/// Keywords also recognised with one typo ("combient", "disponibe", "catalog"): long and distinctive enough
/// not to be mistaken for a product word.
const FUZZY: &[(&str, Flag)] = &[
    ("combien", Flag::Price),
    ("disponible", Flag::Availability),
    ("catalogue", Flag::Catalogue),
    ("commande", Flag::OrderNoun),
];

pub fn analyze(message: &str) -> Analysis {
    let (order_ref, rest) = extract_order_ref(message);
    let (listing, tokens) = listing::extract(&text::tokenize(&rest));
    let mut flags = Vec::new();
    let mut content = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Some((len, flag)) = phrase_at(&tokens[i..]) {
            flags.push(flag);
            if flag == Flag::Separator {
                push_break(&mut content);
            }
            i += len;
            continue;
        }
        match &tokens[i] {
            Token::Break => push_break(&mut content),
            Token::Word(w) if is_stopword(w) => {}
            Token::Word(w) => content.push(Token::Word(w.clone())),
        }
        i += 1;
    }
    if content.last() == Some(&Token::Break) {
        content.pop();
    }
    let has = |f: Flag| flags.contains(&f);
    let mut analysis = Analysis {
        greeting: if has(Flag::Evening) {
            Some(Greeting::Evening)
        } else if has(Flag::Hello) {
            Some(Greeting::Day)
        } else {
            None
        },
        thanks: has(Flag::Thanks),
        goodbye: has(Flag::Bye),
        answer: None,
        ask: Ask::None,
        adds: has(Flag::Adds),
        removes: has(Flag::Removes),
        says_yes: has(Flag::Yes),
        order_ref,
        content,
        listing,
        sort: if has(Flag::Cheapest) {
            Some(PriceSort::Cheapest)
        } else if has(Flag::Dearest) {
            Some(PriceSort::Dearest)
        } else {
            None
        },
        more: has(Flag::More),
        wants_photo: false,
    };
    let words = analysis.has_words();
    let any_content = !analysis.content.is_empty();
    analysis.wants_photo = words && has(Flag::Photo);
    let browsing = analysis.listing.bounds.any()
        || analysis.listing.page.is_some()
        || analysis.sort.is_some()
        || (has(Flag::More) && !words);
    let cancels = tokens
        .iter()
        .filter_map(Token::word)
        .any(|w| matches!(w, "annule" | "annuler" | "annulez" | "cancel"));
    analysis.ask = if cancels
        && (analysis.order_ref.is_some() || has(Flag::OrderNoun) || has(Flag::Status))
    {
        Ask::CancelOrder
    } else if analysis.order_ref.is_some() {
        Ask::OrderStatus
    } else if (has(Flag::Catalogue) || has(Flag::Show) || browsing)
        && !has(Flag::OrderVerb)
        && !has(Flag::ShopInfo)
    {
        Ask::Catalogue
    } else if has(Flag::ShopInfo) && !has(Flag::OrderVerb) {
        Ask::ShopInfo
    } else if has(Flag::Price) {
        Ask::Price
    } else if has(Flag::Photo) && words {
        // "envoie-moi une photo de la robe" asks to see it, not to order it.
        Ask::Mention
    } else if has(Flag::OrderVerb) {
        Ask::Order
    } else if has(Flag::Status) {
        Ask::OrderStatus
    } else if has(Flag::Availability) {
        Ask::Availability
    } else if has(Flag::Wish)
        || ((has(Flag::Adds) || has(Flag::OrderNoun) || has(Flag::Instead) || has(Flag::Removes))
            && any_content)
    {
        Ask::Order
    } else if has(Flag::OrderNoun) && !has(Flag::Yes) {
        Ask::OrderStatus
    } else if words {
        Ask::Mention
    } else if any_content && !has(Flag::Yes) && !has(Flag::No) {
        // A bare "2" answers "how many?" about the product being discussed.
        Ask::Order
    } else {
        Ask::None
    };
    let specific = matches!(
        analysis.ask,
        Ask::Price | Ask::Availability | Ask::Catalogue | Ask::Mention
    ) || (analysis.ask == Ask::Order && has(Flag::OrderVerb));
    if !words && !specific {
        analysis.answer = match (has(Flag::Yes), has(Flag::No)) {
            (true, false) => Some(YesNo::Yes),
            (false, true) => Some(YesNo::No),
            _ => None,
        };
    }
    analysis
}

/// The longest vocabulary phrase starting at the head of `tokens`, as (token count, flag).
fn phrase_at(tokens: &[Token]) -> Option<(usize, Flag)> {
    let mut best: Option<(usize, Flag)> = None;
    for &(phrase, flag) in VOCABULARY {
        let len = phrase.split(' ').count();
        if best.is_some_and(|(l, _)| l >= len) || tokens.len() < len {
            continue;
        }
        let same = phrase
            .split(' ')
            .zip(tokens)
            .all(|(p, t)| t.word() == Some(p));
        if same {
            best = Some((len, flag));
        }
    }
    if best.is_some() {
        return best;
    }
    let word = tokens.first()?.word()?;
    FUZZY
        .iter()
        .find(|(k, _)| word.len() >= 6 && strsim::osa_distance(word, k) == 1)
        .map(|&(_, flag)| (1, flag))
}

fn push_break(content: &mut Vec<Token>) {
    if matches!(content.last(), Some(Token::Word(_))) {
        content.push(Token::Break);
    }
}

/// Finds "CMD-1A2B3C4D" (any case, dash or space) and returns it upper-cased, with the message minus it.
fn extract_order_ref(message: &str) -> (Option<String>, String) {
    let lower = message.to_ascii_lowercase();
    let Some(start) = lower.find("cmd") else {
        return (None, message.to_owned());
    };
    let after = &lower[start + 3..];
    let sep = usize::from(after.starts_with(['-', ' ', '_']));
    let code: String = after[sep..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    if code.len() < 4 || !code.bytes().any(|b| b.is_ascii_digit()) {
        return (None, message.to_owned());
    }
    let end = start + 3 + sep + code.len();
    let rest = format!("{} {}", &message[..start], &message[end..]);
    (Some(format!("CMD-{}", code.to_ascii_uppercase())), rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_phrase_gets_its_intent() {
        let cases = [
            (
                "c'est combien la robe wax ?",
                Ask::Price,
                "price with product",
            ),
            ("prix du pagne", Ask::Price, "prix"),
            ("combien pour les baskets", Ask::Price, "combien pour"),
            ("ça fait combien", Ask::Price, "ça fait combien"),
            ("combient la robe", Ask::Price, "misspelt combien"),
            ("vous avez des baskets 42 ?", Ask::Availability, "vous avez"),
            ("y a encore la robe ?", Ask::Availability, "y a encore"),
            ("c dispo ?", Ask::Availability, "c dispo"),
            ("qu'est-ce que vous vendez", Ask::Catalogue, "vendez"),
            ("vos produits", Ask::Catalogue, "produits"),
            ("catalogue", Ask::Catalogue, "catalogue"),
            (
                "montrez-moi ce que vous avez",
                Ask::Catalogue,
                "montrez-moi",
            ),
            ("vous avez quoi ?", Ask::Catalogue, "vous avez quoi"),
            ("je prends 2 pagnes", Ask::Order, "je prends"),
            ("je veux deux robes wax", Ask::Order, "je veux"),
            ("mets-moi 3 sacs", Ask::Order, "mets-moi"),
            ("je commande 1 basket 42", Ask::Order, "je commande"),
            ("2", Ask::Order, "bare quantity"),
            ("ma commande ?", Ask::OrderStatus, "ma commande"),
            ("où en est ma commande", Ask::OrderStatus, "où en est"),
            ("c'est livré ?", Ask::OrderStatus, "livré"),
            ("et la cmd-1a2b3c4d ?", Ask::OrderStatus, "order reference"),
            ("la robe wax stp", Ask::Mention, "product only"),
            (
                "c'est combien la livraison à Cocody ?",
                Ask::ShopInfo,
                "delivery price",
            ),
            ("vous livrez à Yop ?", Ask::ShopInfo, "delivery zone"),
            ("je peux payer par Wave ?", Ask::ShopInfo, "payment"),
            ("bonjour", Ask::None, "greeting only"),
            ("", Ask::None, "empty"),
            ("🙏🏾😍", Ask::None, "emoji"),
        ];
        for (message, expected, why) in cases {
            assert_eq!(analyze(message).ask, expected, "{why}: {message:?}");
        }
    }

    #[test]
    fn bare_yes_and_no_are_answers() {
        let yes = [
            "oui",
            "ok",
            "d'accord",
            "c'est bon",
            "je confirme",
            "ouais",
            "dac",
            "yes",
            "Ouiii merci",
        ];
        for message in yes {
            assert_eq!(analyze(message).answer, Some(YesNo::Yes), "{message:?}");
        }
        for message in ["non", "annule", "non merci", "laisse tomber"] {
            assert_eq!(analyze(message).answer, Some(YesNo::No), "{message:?}");
        }
        for message in ["oui c'est combien la robe", "bonjour", "je prends 2 pagnes"] {
            assert_eq!(analyze(message).answer, None, "{message:?}");
        }
    }

    #[test]
    fn greetings_thanks_and_goodbyes_are_flagged() {
        for message in ["bonjour", "salut", "cc", "slt", "Bjr ma sœur"] {
            assert_eq!(
                analyze(message).greeting,
                Some(Greeting::Day),
                "{message:?}"
            );
        }
        assert_eq!(analyze("bonsoir").greeting, Some(Greeting::Evening));
        assert!(analyze("merci beaucoup").thanks);
        assert!(analyze("au revoir").goodbye);
        assert!(analyze("bonne journée").goodbye);
    }

    #[test]
    fn fillers_and_separators_leave_product_words_and_items() {
        let a = analyze("Eh mon frère je prends 2 pagnes et 1 sac svp dèh");
        let segments: Vec<Vec<&str>> = a
            .segments()
            .iter()
            .map(|s| s.iter().filter_map(Token::word).collect())
            .collect();
        assert_eq!(segments, vec![vec!["2", "pagnes"], vec!["1", "sac"]]);
    }

    #[test]
    fn order_references_are_read_and_removed() {
        let (found, rest) = extract_order_ref("où est CMD-1a2b3c4d ?");
        assert_eq!(found.as_deref(), Some("CMD-1A2B3C4D"));
        assert!(!rest.to_lowercase().contains("cmd"));
        assert_eq!(extract_order_ref("ma cmd").0, None, "no code after cmd");
        assert_eq!(
            extract_order_ref("émoji 😍 cmd 12345678 ok").0.as_deref(),
            Some("CMD-12345678")
        );
    }
}
