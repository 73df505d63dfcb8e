//! Every sentence the offline assistant sends, in French and English, with the shop's tone, and the FCFA
//! amount format ("15 000 FCFA"). Names, prices and stock passed in come from tool results.

use store::knowledge::DeliveryZone;

use super::calls::{OrderInfo, PlacedItem, Product};
use super::intent::PriceSort;
use super::listing::PriceBounds;
use crate::knowledge::{Found, Opening, OpeningHours};
use crate::llm::{Role, Turn};

pub use crate::lang::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Friendly,
    Professional,
    Casual,
    Enthusiastic,
}

/// Delivery zones listed in one answer; beyond, the customer is asked for theirs.
const MAX_ZONES_LISTED: usize = 8;

/// Stock at or under this is shown as a count ("plus que 3"), so customers know to hurry.
const LOW_STOCK: i64 = 5;

/// One page of a listing, as [`Voice::listing`] says it.
pub struct Listed<'a> {
    /// The category listed, when the customer named one.
    pub category: Option<&'a str>,
    /// The products some words named (not a category).
    pub matching: bool,
    pub bounds: PriceBounds,
    pub sort: Option<PriceSort>,
    /// (category, products) in order; the category is empty when the listing is not grouped.
    pub groups: &'a [(String, Vec<Product>)],
    pub page: usize,
    pub pages: usize,
    /// Every category with its count, offered on the first page of the whole catalogue.
    pub categories: Vec<(String, usize)>,
}

/// How the shop speaks: language, tone, names.
pub struct Voice {
    pub lang: Lang,
    tone: Tone,
    shop: String,
    bot: String,
    /// The customer's first name, or empty when the WhatsApp name is missing or not a name.
    customer: String,
    /// When the shop opens again, while it is closed ("lundi à 08:00").
    reopens: Option<String>,
}

/// "15000" → "15 000 FCFA".
pub fn money(xof: i64) -> String {
    let digits = xof.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    let sign = if xof < 0 { "-" } else { "" };
    format!("{sign}{grouped} FCFA")
}

impl Voice {
    pub fn new(turn: &Turn) -> Self {
        let customer_said = turn.incoming.iter().rev().map(String::as_str).chain(
            turn.history
                .iter()
                .rev()
                .filter(|m| m.role == Role::Customer)
                .map(|m| m.text.as_str()),
        );
        let lang = Lang::for_customer(&turn.shop.language, customer_said);
        let tone = match turn.shop.tone.trim().to_ascii_lowercase().as_str() {
            "professional" => Tone::Professional,
            "casual" => Tone::Casual,
            "enthusiastic" => Tone::Enthusiastic,
            _ => Tone::Friendly,
        };
        let customer = turn
            .customer_name
            .split_whitespace()
            .next()
            .filter(|w| w.chars().any(char::is_alphabetic))
            .map(|w| w.chars().take(30).collect())
            .unwrap_or_default();
        let or = |s: &str, default: &str| {
            let s = s.trim();
            if s.is_empty() {
                default.to_owned()
            } else {
                s.to_owned()
            }
        };
        let reopens = match turn.shop.hours.at(turn.now) {
            Opening::Closed { reopens } => reopens.map(|r| r.describe(lang)),
            Opening::Always | Opening::Open => None,
        };
        Voice {
            lang,
            tone,
            shop: or(&turn.shop.shop_name, "la boutique"),
            bot: or(&turn.shop.bot_name, "l'assistant"),
            customer,
            reopens,
        }
    }

    fn fr(&self) -> bool {
        self.lang == Lang::Fr
    }

    fn pick(&self, fr: String, en: String) -> String {
        if self.fr() { fr } else { en }
    }

    /// " Awa" or "" to put after a greeting word.
    fn name(&self) -> String {
        if self.customer.is_empty() {
            String::new()
        } else {
            format!(" {}", self.customer)
        }
    }

    pub fn greeting(&self, evening: bool, full: bool) -> String {
        let (shop, bot, name) = (&self.shop, &self.bot, self.name());
        let hello = match (self.lang, evening, self.tone) {
            (Lang::Fr, true, _) => "Bonsoir",
            (Lang::Fr, false, Tone::Casual) => "Salut",
            (Lang::Fr, false, _) => "Bonjour",
            (Lang::En, true, _) => "Good evening",
            (Lang::En, false, Tone::Casual) => "Hi",
            (Lang::En, false, _) => "Hello",
        };
        let mark = match self.tone {
            Tone::Friendly => " 😊",
            Tone::Enthusiastic => " 🎉",
            Tone::Professional | Tone::Casual => "",
        };
        let intro = match (self.lang, self.tone) {
            (Lang::Fr, Tone::Casual) => {
                format!("{hello}{name} !{mark} Bienvenue chez {shop}, moi c'est {bot}.")
            }
            (Lang::Fr, Tone::Professional) => {
                format!("{hello}{name}, bienvenue chez {shop}. Je suis {bot}.")
            }
            (Lang::Fr, _) => format!("{hello}{name} !{mark} Bienvenue chez {shop}, je suis {bot}."),
            (Lang::En, Tone::Professional) => {
                format!("{hello}{name}, welcome to {shop}. I am {bot}.")
            }
            (Lang::En, _) => format!("{hello}{name}!{mark} Welcome to {shop}, I'm {bot}."),
        };
        if !full {
            return intro;
        }
        let offer = self.pick(
            "Je peux vous donner nos prix, vérifier si un article est disponible et prendre votre commande. \
             Que puis-je faire pour vous ?"
                .into(),
            "I can give you our prices, check if an item is available and take your order. \
             How can I help you?"
                .into(),
        );
        format!("{intro} {offer}")
    }

    pub fn thanks(&self) -> String {
        let shop = &self.shop;
        match (self.lang, self.tone) {
            (Lang::Fr, Tone::Professional) => {
                format!("Je vous en prie. {shop} reste à votre service.")
            }
            (Lang::Fr, Tone::Casual) => "De rien ! 👍".into(),
            (Lang::Fr, Tone::Enthusiastic) => {
                format!("Avec grand plaisir ! 🙌 À très vite chez {shop} !")
            }
            (Lang::Fr, Tone::Friendly) => format!("Avec plaisir 😊 À bientôt chez {shop} !"),
            (Lang::En, Tone::Professional) => {
                format!("You are welcome. {shop} remains at your service.")
            }
            (Lang::En, _) => format!("You're welcome! See you soon at {shop}!"),
        }
    }

    pub fn goodbye(&self) -> String {
        let (shop, name) = (&self.shop, self.name());
        self.pick(
            format!("Au revoir{name}, et à bientôt chez {shop} !"),
            format!("Goodbye{name}, see you soon at {shop}!"),
        )
    }

    pub fn handover(&self) -> String {
        let shop = &self.shop;
        match &self.reopens {
            Some(when) => self.pick(
                format!(
                    "Je transmets votre message à l'équipe de {shop} : la boutique est fermée pour le moment, \
                     quelqu'un vous répond dès la réouverture ({when})."
                ),
                format!(
                    "I'm passing your message on to the {shop} team: the shop is closed right now, someone \
                     will answer you when it opens again ({when})."
                ),
            ),
            None => self.pick(
                format!(
                    "Je transmets votre message à l'équipe de {shop}, quelqu'un vous répond très vite."
                ),
                format!(
                    "I'm passing your message on to the {shop} team, someone will answer you very soon."
                ),
            ),
        }
    }

    /// A question about the shop's rules it gave no answer to: say so, never guess, and hand it over.
    pub fn no_information(&self) -> String {
        let intro = self.pick(
            "Je n'ai pas cette information.".into(),
            "I don't have that information.".into(),
        );
        format!("{intro} {}", self.handover())
    }

    /// What the shop said about the question: its FAQ answers, the delivery fee of the zone named (or the
    /// zones), the matching sentences of its instructions, and its opening hours when asked.
    pub fn shop_info(&self, found: &Found, hours: Option<&OpeningHours>) -> String {
        let mut parts: Vec<String> = found
            .faq
            .iter()
            .map(|e| e.answer.trim().to_owned())
            .collect();
        if let Some(zone) = found.zone {
            parts.push(self.delivery_fee(zone));
        } else if !found.zones.is_empty() {
            parts.push(self.zones(&found.zones));
        }
        // The instructions only when no FAQ answer covers it: the shop's answer is the precise one.
        if found.faq.is_empty() {
            parts.extend(found.instructions.iter().map(|s| format!("{s}.")));
        }
        if let Some(hours) = hours {
            parts.push(self.hours(hours));
        }
        if parts.is_empty() {
            return self.no_information();
        }
        parts.join("\n")
    }

    pub fn delivery_fee(&self, zone: &DeliveryZone) -> String {
        let name = &zone.name;
        match (self.lang, zone.fee_xof.get()) {
            (Lang::Fr, 0) => format!("La livraison à {name} est gratuite."),
            (Lang::Fr, fee) => format!("La livraison à {name} coûte {}.", money(fee)),
            (Lang::En, 0) => format!("Delivery to {name} is free."),
            (Lang::En, fee) => format!("Delivery to {name} costs {}.", money(fee)),
        }
    }

    fn zones(&self, zones: &[&DeliveryZone]) -> String {
        let fee = |z: &DeliveryZone| match (self.lang, z.fee_xof.get()) {
            (Lang::Fr, 0) => "gratuit".to_owned(),
            (Lang::En, 0) => "free".to_owned(),
            (_, fee) => money(fee),
        };
        let lines: Vec<String> = zones
            .iter()
            .take(MAX_ZONES_LISTED)
            .map(|z| format!("• {} : {}", z.name, fee(z)))
            .collect();
        let more = zones.len().saturating_sub(MAX_ZONES_LISTED);
        let (head, tail) = if more > 0 {
            (
                self.pick("Nous livrons notamment :".into(), "We deliver to, among others:".into()),
                self.pick(
                    format!("… et {more} autres zones. Dites-moi votre quartier, je vous donne le tarif."),
                    format!("… and {more} other zones. Tell me your area and I'll give you the fee."),
                ),
            )
        } else {
            (
                self.pick(
                    "Nos frais de livraison :".into(),
                    "Our delivery fees:".into(),
                ),
                self.pick(
                    "Votre quartier n'y est pas ? Dites-le-moi, je demande à l'équipe.".into(),
                    "Your area is not listed? Tell me, I'll ask the team.".into(),
                ),
            )
        };
        format!("{head}\n{}\n{tail}", lines.join("\n"))
    }

    fn hours(&self, hours: &OpeningHours) -> String {
        let week = hours.describe(self.lang);
        let now = match &self.reopens {
            Some(when) => self.pick(
                format!(" Nous sommes fermés en ce moment ; réouverture {when}."),
                format!(" We are closed right now; we open again {when}."),
            ),
            None => self.pick(
                " Nous sommes ouverts en ce moment.".into(),
                " We are open right now.".into(),
            ),
        };
        self.pick(
            format!("Nos horaires : {week}.{now}"),
            format!("Our opening hours: {week}.{now}"),
        )
    }

    fn status(&self, p: &Product) -> String {
        match (p.available(), p.stock) {
            (false, _) => self.pick("en rupture de stock".into(), "out of stock".into()),
            (true, Some(n)) if n <= LOW_STOCK => {
                self.pick(format!("plus que {n} en stock"), format!("only {n} left"))
            }
            (true, Some(_)) => self.pick("en stock".into(), "in stock".into()),
            (true, None) => self.pick("disponible".into(), "available".into()),
        }
    }

    /// "• Robe wax — 15 000 FCFA (disponible)".
    pub fn product_line(&self, p: &Product) -> String {
        format!("• {} — {} ({})", p.name, money(p.price_xof), self.status(p))
    }

    fn how_many(&self) -> String {
        self.pick(
            "Je vous en mets combien ?".into(),
            "How many would you like?".into(),
        )
    }

    /// Several products for one question: list them and ask which one.
    pub fn several(&self, products: &[Product]) -> String {
        let lines: Vec<String> = products.iter().map(|p| self.product_line(p)).collect();
        self.pick(
            format!(
                "Voici ce que j'ai trouvé :\n{}\nLequel vous intéresse ?",
                lines.join("\n")
            ),
            format!(
                "Here is what I found:\n{}\nWhich one would you like?",
                lines.join("\n")
            ),
        )
    }

    /// The price of `p`, then `others` that the customer's words also named, as a short list.
    pub fn price(&self, p: &Product, others: &[Product]) -> String {
        let sep = if self.fr() { " :" } else { ":" };
        let line = format!(
            "{}{sep} {} ({}).",
            p.name,
            money(p.price_xof),
            self.status(p)
        );
        let mut out = format!("{line} {}", self.how_many());
        if !others.is_empty() {
            let lines: Vec<String> = others.iter().map(|o| self.product_line(o)).collect();
            let also = self.pick("Nous avons aussi :".into(), "We also have:".into());
            out.push_str(&format!("\n{also}\n{}", lines.join("\n")));
        }
        out
    }

    /// The price of `quantity` of `p`: "3 × Pagne = 15 000 FCFA (5 000 FCFA l'unité, en stock)", or what is
    /// left when the stock is short.
    pub fn total(&self, p: &Product, quantity: u32) -> String {
        let total = money(p.price_xof.saturating_mul(i64::from(quantity)));
        let unit = money(p.price_xof);
        let name = &p.name;
        let head = self.pick(
            format!(
                "{quantity} × {name} = {total} ({unit} l'unité, {}).",
                self.status(p)
            ),
            format!(
                "{quantity} × {name} = {total} ({unit} each, {}).",
                self.status(p)
            ),
        );
        match p.stock.filter(|&left| left < i64::from(quantity)) {
            Some(left) => format!(
                "{head} {}",
                self.pick(
                    format!("Il n'en reste que {left} : pour les commander, écrivez « je prends {left} »."),
                    format!("Only {left} left: to order them, write \"I'll take {left}\"."),
                )
            ),
            None => format!(
                "{head} {}",
                self.pick(
                    format!("Pour les commander, écrivez « je prends {quantity} »."),
                    format!("To order them, write \"I'll take {quantity}\"."),
                )
            ),
        }
    }

    pub fn availability(&self, p: &Product) -> String {
        let (name, price) = (&p.name, money(p.price_xof));
        let text = match p.stock {
            Some(n) => self.pick(
                format!("Oui, {name} est disponible : il en reste {n}, à {price} l'unité."),
                format!("Yes, {name} is available: {n} left, at {price} each."),
            ),
            None => self.pick(
                format!("Oui, {name} est disponible, à {price}."),
                format!("Yes, {name} is available, at {price}."),
            ),
        };
        format!("{text} {}", self.how_many())
    }

    pub fn sold_out(&self, p: &Product, alternatives: &[Product]) -> String {
        let (name, shop) = (&p.name, &self.shop);
        let head = self.pick(
            format!("Désolé, {name} est en rupture de stock pour le moment."),
            format!("Sorry, {name} is out of stock at the moment."),
        );
        if alternatives.is_empty() {
            let tail = self.pick(
                format!("L'équipe de {shop} vous dira quand il revient."),
                format!("The {shop} team will tell you when it is back."),
            );
            return format!("{head} {tail}");
        }
        let lines: Vec<String> = alternatives.iter().map(|a| self.product_line(a)).collect();
        self.pick(
            format!("{head} Je peux vous proposer :\n{}", lines.join("\n")),
            format!("{head} I can offer you:\n{}", lines.join("\n")),
        )
    }

    pub fn not_found(&self, query: &str, categories: &[String]) -> String {
        let shop = &self.shop;
        let head = self.pick(
            format!("Désolé, je ne trouve pas « {query} » chez {shop}."),
            format!("Sorry, I can't find \"{query}\" at {shop}."),
        );
        let hint = if categories.is_empty() {
            self.pick(
                "Écrivez « catalogue » pour voir nos articles et leurs prix.".into(),
                "Write \"catalogue\" to see our items and prices.".into(),
            )
        } else {
            let list = categories.join(", ");
            self.pick(
                format!("Nous avons : {list}. Écrivez « catalogue » pour voir nos articles et leurs prix."),
                format!("We have: {list}. Write \"catalogue\" to see our items and prices."),
            )
        };
        format!("{head} {hint}")
    }

    /// A page of a listing: a header saying what is listed, the products (under their category when the
    /// listing spans several), the page and how to see the next one, and the categories on page one.
    pub fn listing(&self, listed: &Listed) -> String {
        let shop = &self.shop;
        let mut head = match (listed.sort, listed.category, listed.matching) {
            (Some(PriceSort::Cheapest), _, _) => {
                self.pick("Nos prix les plus bas".into(), "Our lowest prices".into())
            }
            (Some(PriceSort::Dearest), _, _) => self.pick(
                "Nos articles les plus chers".into(),
                "Our most expensive items".into(),
            ),
            (None, Some(category), _) => self.pick(
                format!("Rayon « {category} »"),
                format!("\"{category}\" section"),
            ),
            (None, None, true) => self.pick(
                "Voici ce que j'ai trouvé".into(),
                "Here is what I found".into(),
            ),
            (None, None, false) => self.pick(
                format!("Voici nos articles chez {shop}"),
                format!("Here are our items at {shop}"),
            ),
        };
        if let Some(range) = self.range(listed.bounds) {
            head.push_str(&format!(" ({range})"));
        }
        head.push_str(if self.fr() { " :" } else { ":" });
        let mut out = head;
        for (category, products) in listed.groups {
            if !category.is_empty() {
                out.push_str(&format!("\n*{category}*"));
            }
            for p in products {
                out.push('\n');
                out.push_str(&self.catalogue_line(p));
            }
        }
        let (page, pages) = (listed.page, listed.pages);
        if pages > 1 {
            out.push('\n');
            out.push_str(&if page < pages {
                self.pick(
                    format!("Page {page}/{pages} — écrivez « suite » pour voir la suite."),
                    format!("Page {page}/{pages} — write \"more\" to see the next items."),
                )
            } else {
                format!("Page {page}/{pages}.")
            });
        }
        if !listed.categories.is_empty() {
            let list: Vec<String> = listed
                .categories
                .iter()
                .map(|(c, n)| format!("{c} ({n})"))
                .collect();
            out.push('\n');
            out.push_str(&self.pick(
                format!(
                    "Nos rayons : {}. Écrivez un rayon pour le voir.",
                    list.join(", ")
                ),
                format!(
                    "Our sections: {}. Write a section to see it.",
                    list.join(", ")
                ),
            ));
        }
        out.push('\n');
        out.push_str(&self.pick(
            "Lequel vous intéresse ?".into(),
            "Which one would you like?".into(),
        ));
        out
    }

    /// Nothing within the customer's price bounds: say so, with the closest product there is.
    pub fn nothing_in_range(&self, bounds: PriceBounds, closest: Option<&Product>) -> String {
        let range = self.range(bounds).unwrap_or_default();
        let head = self.pick(
            format!("Désolé, je n'ai aucun article {range}."),
            format!("Sorry, I have no item {range}."),
        );
        match closest {
            Some(p) => {
                let line = self.product_line(p);
                let tail = match bounds.max {
                    Some(_) => self.pick("Le moins cher :".into(), "The cheapest:".into()),
                    None => self.pick("Le plus cher :".into(), "The most expensive:".into()),
                };
                format!("{head} {tail}\n{line}")
            }
            None => head,
        }
    }

    /// "à moins de 10 000 FCFA", "entre 5 000 et 15 000 FCFA", "à partir de 20 000 FCFA".
    fn range(&self, bounds: PriceBounds) -> Option<String> {
        Some(match (bounds.min, bounds.max) {
            (Some(min), Some(max)) => self.pick(
                format!("entre {} et {}", money(min), money(max)),
                format!("between {} and {}", money(min), money(max)),
            ),
            (None, Some(max)) => self.pick(
                format!("à {} maximum", money(max)),
                format!("at {} or less", money(max)),
            ),
            (Some(min), None) => self.pick(
                format!("à partir de {}", money(min)),
                format!("from {}", money(min)),
            ),
            (None, None) => return None,
        })
    }

    fn catalogue_line(&self, p: &Product) -> String {
        let line = format!("• {} — {}", p.name, money(p.price_xof));
        if p.available() {
            line
        } else {
            format!("{line} ({})", self.status(p))
        }
    }

    pub fn empty_catalogue(&self) -> String {
        let shop = &self.shop;
        self.pick(
            format!(
                "Le catalogue de {shop} est en cours de mise à jour. {}",
                self.handover()
            ),
            format!("The {shop} catalogue is being updated. {}", self.handover()),
        )
    }

    /// After an order: how the customer may pay, or `None` when the shop offers no choice.
    pub fn pay_offer(&self, options: &crate::llm::PaymentOptions) -> Option<String> {
        if !options.any() {
            return None;
        }
        let choices = self.pay_choices(options);
        Some(format!("{} {choices}.", self.pay_prompt()))
    }

    /// How the payment offer starts: the next message is read as the customer's choice.
    pub fn pay_prompt(&self) -> String {
        self.pick("Pour payer, répondez".into(), "To pay, reply".into())
    }

    /// « Wave », « Orange Money » ou « à la livraison ».
    fn pay_choices(&self, options: &crate::llm::PaymentOptions) -> String {
        use schemas::billing::Provider;
        let mut choices: Vec<String> = options
            .links
            .iter()
            .map(|p| match p {
                Provider::Wave => "« Wave »".to_owned(),
                Provider::OrangeMoney => "« Orange Money »".to_owned(),
                _ => self.pick("« lien de paiement »".into(), "\"payment link\"".into()),
            })
            .collect();
        if options.cash_on_delivery {
            choices.push(self.pick("« à la livraison »".into(), "\"on delivery\"".into()));
        }
        match choices.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!(
                "{} {} {last}",
                rest.join(", "),
                self.pick("ou".into(), "or".into())
            ),
            None => String::new(),
        }
    }

    /// The customer named a method the shop does not offer, or several links are possible.
    pub fn pay_which(&self, options: &crate::llm::PaymentOptions) -> String {
        if !options.any() {
            return self.pick(
                "La boutique ne propose pas de paiement en ligne : elle vous contacte pour le règlement.".into(),
                "The shop does not take online payments: it will contact you about payment.".into(),
            );
        }
        let choices = self.pay_choices(options);
        format!("{} {choices}.", self.pay_prompt())
    }

    pub fn payment_confirmed(&self, order_ref: &str) -> String {
        self.pick(
            format!("C'est confirmé : votre commande *{order_ref}* est payée. Merci !"),
            format!("Confirmed: your order *{order_ref}* is paid. Thank you!"),
        )
    }

    pub fn payment_not_seen(&self, order_ref: &str) -> String {
        self.pick(
            format!(
                "Je ne vois pas encore votre paiement pour la commande *{order_ref}*. Si vous venez de payer, \
                 patientez une minute puis réécrivez-moi ; sinon, payez avec le lien envoyé plus haut."
            ),
            format!(
                "I don't see your payment for order *{order_ref}* yet. If you just paid, wait a minute and write \
                 again; otherwise, pay with the link sent above."
            ),
        )
    }

    pub fn no_payment_open(&self, options: &crate::llm::PaymentOptions) -> String {
        let offer = self.pay_offer(options).unwrap_or_default();
        self.pick(
            format!("Je ne trouve pas de paiement en cours pour votre commande. {offer}"),
            format!("I can't find a payment in progress for your order. {offer}"),
        )
        .trim()
        .to_owned()
    }

    pub fn payment_unverified(&self) -> String {
        self.pick(
            "Je n'arrive pas à vérifier votre paiement pour le moment : l'équipe de la boutique va vérifier et vous \
             répondre."
                .into(),
            "I can't check your payment right now: the shop's team will check and answer you.".into(),
        )
    }

    pub fn pay_link_follows(&self) -> String {
        self.pick(
            "Voici votre lien de paiement, pour le montant exact de votre commande :".into(),
            "Here is your payment link, for the exact amount of your order:".into(),
        )
    }

    pub fn pay_on_delivery(&self) -> String {
        self.pick(
            "C'est noté : vous paierez à la livraison.".into(),
            "Noted: you will pay on delivery.".into(),
        )
    }

    pub fn already_paid(&self) -> String {
        self.pick(
            "Votre commande est déjà payée, merci !".into(),
            "Your order is already paid, thank you!".into(),
        )
    }

    pub fn nothing_to_pay(&self) -> String {
        self.pick(
            "Vous n'avez pas de commande à payer pour le moment.".into(),
            "You have no order to pay at the moment.".into(),
        )
    }

    /// The customer asked to see a product that has no photo.
    pub fn no_photo(&self) -> String {
        self.pick(
            "Je n'ai pas encore de photo de cet article.".into(),
            "I don't have a photo of this item yet.".into(),
        )
    }

    pub fn order_what(&self) -> String {
        self.pick(
            "Quel article voulez-vous commander, et combien ? Par exemple : « je prends 2 … »."
                .into(),
            "Which item would you like to order, and how many? For example: \"I'll take 2 …\"."
                .into(),
        )
    }

    /// An order line names several products equally well.
    pub fn choose(&self, products: &[Product]) -> String {
        let lines: Vec<String> = products.iter().map(|p| self.product_line(p)).collect();
        self.pick(
            format!(
                "Lequel voulez-vous ?\n{}\nÉcrivez-moi le nom exact et la quantité.",
                lines.join("\n")
            ),
            format!(
                "Which one would you like?\n{}\nWrite me the exact name and the quantity.",
                lines.join("\n")
            ),
        )
    }

    /// More was asked than is left: the recap that follows holds what is left.
    pub fn only_left(&self, p: &Product, left: i64, wanted: u32) -> String {
        let name = &p.name;
        self.pick(
            format!("Il ne reste que {left} × {name} (vous en demandiez {wanted}) : je vous propose les {left}."),
            format!("Only {left} × {name} left (you asked for {wanted}): I can offer you those {left}."),
        )
    }

    pub fn placed(&self, order_ref: &str, total_xof: i64, items: &[PlacedItem]) -> String {
        let (shop, name, total) = (&self.shop, self.name(), money(total_xof));
        let lines: String = items
            .iter()
            .map(|i| {
                format!(
                    "\n• {} × {} = {}",
                    i.quantity,
                    i.name,
                    money(i.line_total_xof)
                )
            })
            .collect();
        self.pick(
            format!(
                "Merci{name} ! Votre commande *{order_ref}* est enregistrée.{lines}\nTotal : {total}\n\
                 L'équipe de {shop} vous contacte pour la livraison."
            ),
            format!(
                "Thank you{name}! Your order *{order_ref}* is registered.{lines}\nTotal: {total}\n\
                 The {shop} team will contact you for delivery."
            ),
        )
    }

    pub fn stock_changed(&self, product: &str, available: i64) -> String {
        let what = if product.is_empty() {
            self.pick("un article".into(), "an item".into())
        } else {
            product.to_owned()
        };
        self.pick(
            format!(
                "Désolé, le stock vient de changer : il ne reste que {available} × {what}. Votre commande n'est \
                 pas enregistrée. Dites-moi la quantité que vous voulez."
            ),
            format!(
                "Sorry, the stock just changed: only {available} × {what} left. Your order is not registered. \
                 Tell me the quantity you want."
            ),
        )
    }

    pub fn order_unknown_product(&self) -> String {
        self.pick(
            "Désolé, un article de votre commande n'est plus proposé. Votre commande n'est pas enregistrée : \
             redites-moi ce que vous voulez."
                .into(),
            "Sorry, an item of your order is no longer offered. Your order is not registered: tell me again \
             what you want."
                .into(),
        )
    }

    pub fn order_failed(&self) -> String {
        self.pick(
            format!(
                "Désolé, je n'ai pas pu enregistrer la commande. {}",
                self.handover()
            ),
            format!("Sorry, I could not register the order. {}", self.handover()),
        )
    }

    pub fn too_many_open_orders(&self) -> String {
        self.pick(
            format!(
                "Vous avez déjà des commandes en attente de confirmation par la boutique : attendons qu'elle \
                 les confirme avant d'en prendre une autre. {}",
                self.handover()
            ),
            format!(
                "You already have orders waiting for the shop's confirmation: let's wait until it confirms \
                 them before taking another one. {}",
                self.handover()
            ),
        )
    }

    pub fn order_cancelled(&self, reference: &str) -> String {
        self.pick(
            format!("C'est fait : votre commande {reference} est annulée."),
            format!("Done: your order {reference} is cancelled."),
        )
    }

    pub fn cancel_too_late(&self, reference: &str) -> String {
        let shop = &self.shop;
        self.pick(
            format!(
                "Votre commande {reference} est déjà confirmée par {shop} : je ne peux plus l'annuler moi-même. {}",
                self.handover()
            ),
            format!(
                "Your order {reference} is already confirmed by {shop}: I can't cancel it myself. {}",
                self.handover()
            ),
        )
    }

    pub fn no_order_to_cancel(&self) -> String {
        self.pick(
            "Je ne trouve pas de commande en attente à annuler. Vérifiez la référence (ex. CMD-1A2B3C4D)."
                .into(),
            "I can't find a pending order to cancel. Please check the reference (e.g. CMD-1A2B3C4D)."
                .into(),
        )
    }

    pub fn cancelled(&self) -> String {
        self.pick(
            "D'accord, j'annule cette commande. Je reste disponible si vous voulez autre chose."
                .into(),
            "All right, I've cancelled this order. I'm here if you need anything else.".into(),
        )
    }

    pub fn yes_without_order(&self) -> String {
        self.pick(
            "Très bien ! Dites-moi quel article vous voulez et combien.".into(),
            "Great! Tell me which item you want and how many.".into(),
        )
    }

    pub fn no_without_order(&self) -> String {
        self.pick(
            "D'accord, pas de souci. Je reste disponible si vous avez besoin de quelque chose."
                .into(),
            "All right, no problem. I'm here if you need anything.".into(),
        )
    }

    /// Order status answer; `asked` is the reference the customer quoted, if any.
    pub fn orders(&self, orders: &[OrderInfo], asked: Option<&str>) -> String {
        let shop = &self.shop;
        if orders.is_empty() {
            return match asked {
                Some(r) => self.pick(
                    format!("Je ne trouve pas la commande {r}. L'équipe de {shop} va vérifier pour vous."),
                    format!("I can't find order {r}. The {shop} team will check for you."),
                ),
                None => self.pick(
                    format!(
                        "Je ne trouve pas de commande récente à votre nom. Si vous venez de commander, l'équipe \
                         de {shop} va vérifier."
                    ),
                    format!(
                        "I can't find a recent order in your name. If you just ordered, the {shop} team will \
                         check."
                    ),
                ),
            };
        }
        if let [o] = orders {
            let (r, total, status) = (
                &o.order_ref,
                money(o.total_xof),
                self.order_status(&o.status),
            );
            return self.pick(
                format!("Votre commande {r} ({total}) : {status}."),
                format!("Your order {r} ({total}): {status}."),
            );
        }
        let lines: Vec<String> = orders
            .iter()
            .take(3)
            .map(|o| {
                let date = o
                    .created_at
                    .as_deref()
                    .and_then(short_date)
                    .unwrap_or_default();
                format!(
                    "• {}{} — {} : {}",
                    o.order_ref,
                    date,
                    money(o.total_xof),
                    self.order_status(&o.status)
                )
            })
            .collect();
        self.pick(
            format!("Voici vos dernières commandes :\n{}", lines.join("\n")),
            format!("Here are your latest orders:\n{}", lines.join("\n")),
        )
    }

    fn order_status(&self, status: &str) -> String {
        let (fr, en) = match status {
            "new" => (
                "reçue, en attente de confirmation",
                "received, awaiting confirmation",
            ),
            "confirmed" => ("confirmée, en préparation", "confirmed, being prepared"),
            "shipped" => ("en cours de livraison", "on its way"),
            "delivered" => ("livrée", "delivered"),
            "cancelled" => ("annulée", "cancelled"),
            other => (other, other),
        };
        self.pick(fr.into(), en.into())
    }
}

/// " (12/03)" from an RFC 3339 timestamp, or `None` when it does not look like one.
fn short_date(created_at: &str) -> Option<String> {
    let date = created_at.get(..10)?;
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => Some(format!(" ({d}/{m})")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_by_thousands_in_fcfa() {
        let cases = [
            (0, "0 FCFA"),
            (500, "500 FCFA"),
            (15_000, "15 000 FCFA"),
            (1_250_000, "1 250 000 FCFA"),
            (-2_500, "-2 500 FCFA"),
        ];
        for (xof, expected) in cases {
            assert_eq!(money(xof), expected, "{xof}");
        }
    }

    #[test]
    fn dates_are_shortened_only_when_they_look_like_dates() {
        assert_eq!(
            short_date("2025-03-12T10:00:00Z").as_deref(),
            Some(" (12/03)")
        );
        assert_eq!(short_date("hier"), None);
        assert_eq!(short_date("é"), None);
    }
}
