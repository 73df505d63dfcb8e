//! The order recap: written when a customer orders, and read back on the next turn to learn what "oui"
//! confirms. The provider keeps no state between turns, so the recap message in the chat history *is* the
//! pending order: its lines ("• 2 × Pagne wax — …") name each product and quantity, and the product is
//! found again in the turn's catalogue by exact (folded) name, the unit price settling duplicate names.

use uuid::Uuid;

use store::knowledge::DeliveryZone;

use super::calls::Product;
use super::quantity::MAX_QUANTITY;
use super::replies::{Lang, money};
use crate::llm::tools::OrderLine;
use crate::llm::{CatalogItem, Role, Turn};

const HEADER_FR: &str = "Récapitulatif de votre commande :";
const HEADER_EN: &str = "Your order summary:";
const BULLET: &str = "• ";
const TIMES: &str = " × ";
const DASH: &str = " — ";
const DELIVERY_FR: &str = "Livraison à ";
const DELIVERY_EN: &str = "Delivery to ";

/// The order awaiting the customer's yes or no.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub lines: Vec<OrderLine>,
    /// False when a recap line no longer matches a catalogue product (renamed or withdrawn since).
    pub complete: bool,
    /// The shop's delivery zone the recap delivers to, if it named one.
    pub zone: Option<String>,
}

/// The recap of `lines`, delivered to `zone` (its fee added to the total) or, when the shop has zones and
/// none is known yet, asking for one.
pub fn render(
    lang: Lang,
    lines: &[(Product, u32)],
    zone: Option<&DeliveryZone>,
    zones: &[DeliveryZone],
) -> String {
    let mut out = String::from(match lang {
        Lang::Fr => HEADER_FR,
        Lang::En => HEADER_EN,
    });
    let mut total = 0i64;
    for (p, quantity) in lines {
        let line_total = p.price_xof.saturating_mul(i64::from(*quantity));
        total = total.saturating_add(line_total);
        let each = match lang {
            Lang::Fr => "l'unité",
            Lang::En => "each",
        };
        out.push_str(&format!(
            "\n{BULLET}{quantity}{TIMES}{}{DASH}{} {each} = {}",
            p.name,
            money(p.price_xof),
            money(line_total)
        ));
    }
    match zone {
        Some(zone) => {
            let fee = zone.fee_xof.get();
            total = total.saturating_add(fee);
            let fee = match (lang, fee) {
                (Lang::Fr, 0) => "gratuite".to_owned(),
                (Lang::En, 0) => "free".to_owned(),
                (_, fee) => money(fee),
            };
            out.push_str(&match lang {
                Lang::Fr => format!("\n{DELIVERY_FR}{} : {fee}", zone.name),
                Lang::En => format!("\n{DELIVERY_EN}{}: {fee}", zone.name),
            });
        }
        None if !zones.is_empty() => {
            let names: Vec<&str> = zones.iter().take(4).map(|z| z.name.as_str()).collect();
            out.push_str(&match lang {
                Lang::Fr => format!(
                    "\nLivraison : dites-moi votre quartier ({}…) pour ajouter ses frais.",
                    names.join(", ")
                ),
                Lang::En => format!(
                    "\nDelivery: tell me your area ({}…) to add its fee.",
                    names.join(", ")
                ),
            });
        }
        None => {}
    }
    let end = match lang {
        Lang::Fr => format!(
            "\nTotal : {}\nVous confirmez la commande ? Répondez « oui » pour valider ou « non » pour annuler.",
            money(total)
        ),
        Lang::En => format!(
            "\nTotal: {}\nShall I confirm the order? Reply \"yes\" to confirm or \"no\" to cancel.",
            money(total)
        ),
    };
    out.push_str(&end);
    out
}

/// The pending order, when the shop's last message in the history is a recap.
pub fn pending(turn: &Turn) -> Option<Pending> {
    let last = turn.history.iter().rev().find(|m| m.role == Role::Shop)?;
    let mut lines = last
        .text
        .lines()
        .skip_while(|l| !matches!(l.trim(), HEADER_FR | HEADER_EN))
        .skip(1)
        .map_while(|l| l.trim().strip_prefix(BULLET))
        .peekable();
    lines.peek()?;
    let zone = last.text.lines().find_map(|l| {
        let l = l.trim();
        let rest = l
            .strip_prefix(DELIVERY_FR)
            .or_else(|| l.strip_prefix(DELIVERY_EN))?;
        let (name, _) = rest.rsplit_once(':')?;
        let name = name.trim();
        turn.shop
            .delivery_zones
            .iter()
            .find(|z| z.name == name)
            .map(|z| z.name.clone())
    });
    let mut pending = Pending {
        lines: Vec::new(),
        complete: true,
        zone,
    };
    for line in lines {
        match parse_line(line, &turn.catalog) {
            Some(l) => pending.lines.push(l),
            None => pending.complete = false,
        }
    }
    Some(pending)
}

fn parse_line(line: &str, catalog: &[CatalogItem]) -> Option<OrderLine> {
    let (quantity, rest) = line.split_once(TIMES)?;
    let quantity: u32 = quantity.trim().parse().ok()?;
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return None;
    }
    let (name, price) = rest.rsplit_once(DASH)?;
    let unit_price: Option<i64> = price
        .split("FCFA")
        .next()
        .map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>())
        .and_then(|digits| digits.parse().ok());
    let wanted = store::text::fold(name.trim());
    let same_name: Vec<&CatalogItem> = catalog
        .iter()
        .filter(|c| store::text::fold(c.fields.name.trim()) == wanted)
        .collect();
    let product_id: Uuid = same_name
        .iter()
        .find(|c| Some(c.fields.price_xof.get()) == unit_price)
        .or(same_name.first())?
        .product_id;
    Some(OrderLine {
        product_id,
        quantity,
    })
}

#[cfg(test)]
mod tests {
    use schemas::commerce::Xof;
    use store::products::ProductFields;

    use super::*;
    use crate::llm::{ChatMessage, ShopProfile};

    fn item(name: &str, price_xof: i64) -> CatalogItem {
        CatalogItem {
            product_id: Uuid::new_v4(),
            fields: ProductFields::new(name, Xof::price(price_xof).expect("price")),
        }
    }

    fn product(c: &CatalogItem) -> Product {
        Product {
            product_id: c.product_id,
            sku: None,
            name: c.fields.name.clone(),
            category: None,
            price_xof: c.fields.price_xof.get(),
            stock: None,
            in_stock: Some(true),
        }
    }

    fn turn(catalog: Vec<CatalogItem>, last_shop: &str) -> Turn {
        Turn {
            tenant_id: uuid::Uuid::nil(),
            shop: ShopProfile {
                shop_name: "Chez Awa".into(),
                bot_name: "Awa".into(),
                tone: "friendly".into(),
                language: "fr".into(),
                instructions: String::new(),
                ..Default::default()
            },
            catalog,
            customer_name: String::new(),
            history: vec![
                ChatMessage {
                    role: Role::Customer,
                    text: "je prends 2 pagnes".into(),
                },
                ChatMessage {
                    role: Role::Shop,
                    text: last_shop.into(),
                },
            ],
            incoming: vec!["oui".into()],
            media: vec![],
            now: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_rendered_recap_reads_back_as_the_same_order() {
        let catalog = vec![item("Pagne wax", 5_000), item("Sac — cuir", 12_000)];
        for lang in [Lang::Fr, Lang::En] {
            let text = render(
                lang,
                &[(product(&catalog[0]), 2), (product(&catalog[1]), 1)],
                None,
                &[],
            );
            let found = pending(&turn(catalog.clone(), &format!("Bonjour !\n\n{text}")));
            let expected = vec![
                OrderLine {
                    product_id: catalog[0].product_id,
                    quantity: 2,
                },
                OrderLine {
                    product_id: catalog[1].product_id,
                    quantity: 1,
                },
            ];
            assert_eq!(
                found,
                Some(Pending {
                    lines: expected,
                    complete: true,
                    zone: None,
                }),
                "{lang:?}"
            );
        }
    }

    #[test]
    fn duplicate_names_are_told_apart_by_unit_price() {
        let catalog = vec![item("Pagne", 3_000), item("Pagne", 5_000)];
        let text = render(Lang::Fr, &[(product(&catalog[1]), 1)], None, &[]);
        let found = pending(&turn(catalog.clone(), &text)).map(|p| p.lines);
        assert_eq!(found.map(|l| l[0].product_id), Some(catalog[1].product_id));
    }

    #[test]
    fn there_is_no_pending_order_without_a_recap_as_last_shop_message() {
        let catalog = vec![item("Pagne", 3_000)];
        assert_eq!(
            pending(&turn(catalog.clone(), "Pagne : 3 000 FCFA (disponible).")),
            None
        );
        let text = render(Lang::Fr, &[(product(&catalog[0]), 1)], None, &[]);
        let gone = pending(&turn(vec![item("Autre", 1)], &text));
        assert_eq!(
            gone.map(|p| p.complete),
            Some(false),
            "a withdrawn product makes it incomplete"
        );
    }
}
