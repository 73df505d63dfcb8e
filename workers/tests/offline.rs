//! The offline sales assistant, end to end over a fake tool executor: what customers write, what it answers,
//! and which tools it calls with which arguments.

use async_trait::async_trait;
use schemas::commerce::{Stock, Xof};
use serde_json::{Value, json};
use store::products::ProductFields;
use uuid::Uuid;
use workers::llm::offline::Offline;
use workers::llm::{CatalogItem, ChatMessage, LlmProvider, Role, ShopProfile, ToolExecutor, Turn};

const HANDOVER: &str =
    "Je transmets votre message à l'équipe de Chez Fatou, quelqu'un vous répond très vite.";

#[derive(Debug, Clone)]
struct Stocked {
    item: CatalogItem,
    /// Price the tools report; equal to the catalogue's unless a test says otherwise.
    tool_price: i64,
    stock: Option<i64>,
}

/// A shop's tools over a small in-memory catalogue, recording every call.
struct FakeTools {
    products: Vec<Stocked>,
    orders: Value,
    calls: Vec<(String, Value)>,
    placed: u32,
    /// What the provider says when the customer says they paid.
    payment_status: Value,
}

impl FakeTools {
    fn new() -> Self {
        Self::over(catalogue())
    }

    fn over(catalogue: Vec<CatalogItem>) -> Self {
        let products = catalogue
            .into_iter()
            .map(|item| Stocked {
                tool_price: item.fields.price_xof.get(),
                stock: item.fields.stock.map(i64::from),
                item,
            })
            .collect();
        FakeTools {
            products,
            orders: json!({"orders": []}),
            calls: Vec::new(),
            placed: 0,
            payment_status: json!({"status": "unknown"}),
        }
    }

    fn product_json(p: &Stocked) -> Value {
        json!({
            "product_id": p.item.product_id,
            "sku": p.item.fields.sku,
            "name": p.item.fields.name,
            "category": p.item.fields.category,
            "price_xof": p.tool_price,
            "stock": p.stock,
            "in_stock": p.stock.is_none_or(|s| s > 0),
        })
    }

    fn by_id(&self, id: &Value) -> Option<&Stocked> {
        let id: Uuid = serde_json::from_value(id.clone()).ok()?;
        self.products.iter().find(|p| p.item.product_id == id)
    }

    fn called(&self, name: &str) -> Vec<&Value> {
        self.calls
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, a)| a)
            .collect()
    }

    /// Like a plain SQL search: every query word must appear in the name or category.
    fn search(&self, args: &Value) -> Value {
        let query = store::text::fold(args["query"].as_str().unwrap_or_default());
        let max = args["max_results"].as_u64().unwrap_or(5) as usize;
        let found: Vec<Value> = self
            .products
            .iter()
            .filter(|p| {
                let hay = store::text::fold(&format!(
                    "{} {}",
                    p.item.fields.name, p.item.fields.category
                ));
                query.split_whitespace().all(|w| hay.contains(w))
            })
            .take(max)
            .map(Self::product_json)
            .collect();
        json!({ "products": found })
    }

    fn create_order(&mut self, args: &Value) -> Value {
        let mut items = Vec::new();
        let mut total = 0;
        for line in args["items"].as_array().cloned().unwrap_or_default() {
            let Some(p) = self.by_id(&line["product_id"]) else {
                return json!({"error": "unknown_product"});
            };
            let quantity = line["quantity"].as_i64().unwrap_or(0);
            if p.stock.is_some_and(|s| s < quantity) {
                return json!({"error": "insufficient_stock", "product": p.item.fields.name, "available": p.stock});
            }
            let line_total = p.tool_price * quantity;
            total += line_total;
            items.push(json!({"name": p.item.fields.name, "quantity": quantity, "unit_price_xof": p.tool_price, "line_total_xof": line_total}));
        }
        self.placed += 1;
        json!({"order_ref": format!("CMD-0000000{}", self.placed), "total_xof": total, "items": items})
    }
}

#[async_trait]
impl ToolExecutor for FakeTools {
    async fn call(&mut self, name: &str, args: Value) -> Value {
        self.calls.push((name.to_owned(), args.clone()));
        match name {
            "search_products" => self.search(&args),
            "get_product" => match self.by_id(&args["product_id"]) {
                Some(p) => {
                    let mut v = Self::product_json(p);
                    v["description"] = json!(p.item.fields.description);
                    v["attributes"] = p.item.fields.attributes.clone();
                    v
                }
                None => json!({"error": "unknown_product"}),
            },
            "create_order" => self.create_order(&args),
            "order_status" => self.orders.clone(),
            "payment_link" => json!({"ok": true, "order_ref": "CMD-00000001"}),
            "payment_status" => self.payment_status.clone(),
            // Only the robe wax has a photo in this shop.
            "send_product_photo" => match self.by_id(&args["product_id"]) {
                Some(p) if p.item.fields.name == "Robe wax" => json!({"ok": true}),
                Some(_) => json!({"error": "Ce produit n'a pas de photo."}),
                None => json!({"error": "unknown_product"}),
            },
            _ => json!({"error": "unknown_tool"}),
        }
    }

    fn discard_attempt(&mut self) {}
}

fn item(
    name: &str,
    category: &str,
    price_xof: i64,
    stock: Option<i64>,
    attributes: Value,
) -> CatalogItem {
    CatalogItem {
        product_id: Uuid::new_v4(),
        fields: ProductFields {
            description: format!("{name}, qualité garantie"),
            category: category.into(),
            stock: stock.map(|s| Stock::new(s).expect("stock")),
            attributes,
            ..ProductFields::new(name, Xof::price(price_xof).expect("price"))
        },
    }
}

fn catalogue() -> Vec<CatalogItem> {
    vec![
        item(
            "Robe wax",
            "Vêtements",
            15_000,
            Some(4),
            json!({"tailles": ["M", "L"]}),
        ),
        item("Robe bazin", "Vêtements", 25_000, Some(0), json!({})),
        item("Chemise lin", "Vêtements", 12_000, None, json!({})),
        item("Pagne", "Tissus", 5_000, Some(10), json!({})),
        item("Pagne hollandais", "Tissus", 9_000, Some(3), json!({})),
        item(
            "Baskets 42",
            "Chaussures",
            20_000,
            Some(2),
            json!({"pointure": 42}),
        ),
        item(
            "Baskets 40",
            "Chaussures",
            20_000,
            Some(0),
            json!({"pointure": 40}),
        ),
        item("Sac à main", "Accessoires", 8_000, None, json!({})),
        item("Sandales", "Chaussures", 7_000, Some(5), json!({})),
    ]
}

fn shop(language: &str, tone: &str) -> ShopProfile {
    ShopProfile {
        shop_name: "Chez Fatou".into(),
        bot_name: "Awa".into(),
        tone: tone.into(),
        language: language.into(),
        instructions: "Livraison à Abidjan".into(),
        ..Default::default()
    }
}

/// A conversation with one shop: keeps the history as the pipeline would.
struct Chat {
    tools: FakeTools,
    /// The shop's delivery zones.
    zones: Vec<store::knowledge::DeliveryZone>,
    language: &'static str,
    tone: &'static str,
    history: Vec<ChatMessage>,
    payments: workers::llm::PaymentOptions,
}

impl Chat {
    fn new() -> Self {
        Chat {
            tools: FakeTools::new(),
            zones: Vec::new(),
            language: "fr",
            tone: "friendly",
            history: Vec::new(),
            payments: workers::llm::PaymentOptions::default(),
        }
    }

    /// An ongoing chat with a shop selling `catalogue`.
    fn selling(catalogue: Vec<CatalogItem>) -> Self {
        Chat {
            tools: FakeTools::over(catalogue),
            ..Chat::ongoing()
        }
    }

    fn english() -> Self {
        Chat {
            language: "en",
            ..Chat::new()
        }
    }

    /// A chat that already exchanged a message, so replies carry no first-contact greeting.
    fn ongoing() -> Self {
        let mut chat = Chat::new();
        chat.history = vec![
            ChatMessage {
                role: Role::Customer,
                text: "Bonjour".into(),
            },
            ChatMessage {
                role: Role::Shop,
                text: "Bonjour ! Bienvenue chez Chez Fatou, je suis Awa.".into(),
            },
        ];
        chat
    }

    fn turn(&self, incoming: &[&str]) -> Turn {
        let catalog = self.tools.products.iter().map(|p| p.item.clone()).collect();
        Turn {
            tenant_id: uuid::Uuid::nil(),
            shop: ShopProfile {
                delivery_zones: self.zones.clone(),
                payments: self.payments.clone(),
                ..shop(self.language, self.tone)
            },
            catalog,
            customer_name: "Koffi Yao".into(),
            history: self.history.clone(),
            incoming: incoming.iter().map(|s| (*s).to_owned()).collect(),
            media: vec![],
            now: chrono::Utc::now(),
        }
    }

    /// Sends the messages as one turn and returns the reply, appending both to the history.
    async fn say_all(&mut self, incoming: &[&str]) -> String {
        let turn = self.turn(incoming);
        let reply = Offline::new().respond(&turn, &mut self.tools).await;
        let text = match reply {
            Ok(r) => {
                assert_eq!(
                    (r.usage.prompt_tokens, r.usage.output_tokens),
                    (0, 0),
                    "offline usage stays zero"
                );
                r.text
            }
            Err(e) => panic!("offline provider failed: {e}"),
        };
        for message in incoming {
            self.history.push(ChatMessage {
                role: Role::Customer,
                text: (*message).to_owned(),
            });
        }
        self.history.push(ChatMessage {
            role: Role::Shop,
            text: text.clone(),
        });
        text
    }

    async fn say(&mut self, message: &str) -> String {
        self.say_all(&[message]).await
    }

    fn id(&self, name: &str) -> Uuid {
        self.tools
            .products
            .iter()
            .find(|p| p.item.fields.name == name)
            .map(|p| p.item.product_id)
            .unwrap_or_else(|| panic!("no product {name}"))
    }

    fn set_stock(&mut self, name: &str, stock: Option<i64>) {
        for p in self
            .tools
            .products
            .iter_mut()
            .filter(|p| p.item.fields.name == name)
        {
            p.stock = stock;
        }
    }
}

fn order_items(args: &Value) -> Vec<(Uuid, u64)> {
    args["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|l| {
            let id = serde_json::from_value(l["product_id"].clone()).unwrap_or_default();
            (id, l["quantity"].as_u64().unwrap_or(0))
        })
        .collect()
}

#[tokio::test]
async fn greets_with_the_bot_and_shop_names_on_a_first_message_and_on_greeting_words() {
    let cases = [
        (Chat::new(), "bonjour", "Bonjour", "first message, bonjour"),
        (Chat::ongoing(), "bonsoir", "Bonsoir", "bonsoir is mirrored"),
        (Chat::ongoing(), "salut", "Bonjour", "salut"),
        (Chat::ongoing(), "cc", "Bonjour", "SMS cc"),
        (
            Chat::ongoing(),
            "slt ma sœur",
            "Bonjour",
            "SMS slt with a filler",
        ),
        (Chat::new(), "On dit quoi ?", "Bonjour", "Abidjan greeting"),
    ];
    for (mut chat, message, hello, why) in cases {
        let reply = chat.say(message).await;
        assert!(reply.starts_with(hello), "{why}: {reply}");
        assert!(
            reply.contains("Awa") && reply.contains("Chez Fatou"),
            "{why}: {reply}"
        );
        assert!(
            reply.contains("Koffi"),
            "{why}: greets the customer by first name: {reply}"
        );
    }
}

#[tokio::test]
async fn a_first_message_that_asks_something_is_greeted_and_answered() {
    let mut chat = Chat::new();

    let reply = chat.say("c'est combien le pagne hollandais ?").await;

    assert!(
        reply.contains("Bienvenue chez Chez Fatou, je suis Awa"),
        "{reply}"
    );
    assert!(reply.contains("Pagne hollandais : 9 000 FCFA"), "{reply}");
}

#[tokio::test]
async fn price_questions_quote_the_price_given_by_the_tools() {
    let cases = [
        (
            "c'est combien la robe wax ?",
            "Robe wax : 15 000 FCFA",
            "c'est combien",
        ),
        ("prix du pagne", "5 000 FCFA", "prix du"),
        (
            "combien pour les baskets",
            "Baskets 42 — 20 000 FCFA",
            "combien pour, several sizes",
        ),
        (
            "Ça fait combien la chemise ?",
            "Chemise lin : 12 000 FCFA",
            "ça fait combien",
        ),
    ];
    for (message, expected, why) in cases {
        let mut chat = Chat::ongoing();
        let reply = chat.say(message).await;
        assert!(reply.contains(expected), "{why}: {message:?} → {reply}");
        assert!(
            !chat.tools.called("search_products").is_empty(),
            "{why}: searched"
        );
    }
}

#[tokio::test]
async fn a_price_question_without_a_product_uses_the_one_being_discussed() {
    let mut chat = Chat::ongoing();
    chat.say("vous avez la chemise lin ?").await;

    let reply = chat.say("ça fait combien ?").await;

    assert!(reply.contains("Chemise lin : 12 000 FCFA"), "{reply}");
}

#[tokio::test]
async fn prices_and_stock_come_from_the_tools_not_from_the_catalogue_snapshot() {
    let mut chat = Chat::ongoing();
    chat.tools.products[0].tool_price = 16_000;
    chat.set_stock("Robe wax", Some(1));

    let reply = chat.say("c'est combien la robe wax ?").await;

    assert!(
        reply.contains("16 000 FCFA") && !reply.contains("15 000"),
        "{reply}"
    );
    assert!(reply.contains("plus que 1 en stock"), "{reply}");
}

#[tokio::test]
async fn availability_answers_say_in_stock_how_many_are_left_or_sold_out_with_alternatives() {
    let cases = [
        (
            "vous avez des baskets 42 ?",
            "Oui, Baskets 42 est disponible : il en reste 2",
            "quantity left",
        ),
        (
            "vous avez la chemise lin ?",
            "Oui, Chemise lin est disponible, à 12 000 FCFA",
            "unlimited stock",
        ),
        (
            "y a encore la robe bazin ?",
            "Désolé, Robe bazin est en rupture de stock",
            "sold out",
        ),
        (
            "y a encore la robe ?",
            "Robe wax — 15 000 FCFA",
            "two robes are listed",
        ),
        ("PAGNES dispo dèh ?", "Pagne", "SMS style availability"),
    ];
    for (message, expected, why) in cases {
        let mut chat = Chat::ongoing();
        let reply = chat.say(message).await;
        assert!(reply.contains(expected), "{why}: {message:?} → {reply}");
    }

    let mut chat = Chat::ongoing();
    let reply = chat.say("y a encore la robe bazin ?").await;
    assert!(
        reply.contains("Je peux vous proposer")
            && reply.contains("Robe wax")
            && !reply.contains("Robe bazin —"),
        "sold out offers in-stock products of the same category: {reply}"
    );
}

#[tokio::test]
async fn c_dispo_asks_about_the_product_named_earlier() {
    let mut chat = Chat::ongoing();
    chat.say("c'est combien la robe wax ?").await;

    let reply = chat.say("c dispo ?").await;

    assert!(
        reply.contains("Oui, Robe wax est disponible : il en reste 4"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_small_catalogue_is_listed_whole_grouped_by_category_in_a_stable_order() {
    let phrases = [
        "qu'est-ce que vous vendez",
        "vos produits",
        "catalogue",
        "montrez-moi ce que vous avez",
        "Vous avez quoi ?",
    ];
    let mut replies = Vec::new();
    for message in phrases {
        let mut chat = Chat::ongoing();
        let reply = chat.say(message).await;
        assert!(
            reply.contains("Voici nos articles chez Chez Fatou"),
            "{message:?} → {reply}"
        );
        let listed = reply.lines().filter(|l| l.starts_with("• ")).count();
        assert_eq!(listed, 9, "all nine products: {reply}");
        assert!(!reply.contains("Page "), "one page: {reply}");
        replies.push(reply);
    }
    assert!(
        replies.iter().all(|r| *r == replies[0]),
        "the same listing every time"
    );
    let reply = &replies[0];
    let order: Vec<&str> = reply
        .lines()
        .filter(|l| l.starts_with('*') || l.starts_with("• "))
        .collect();
    assert_eq!(
        order,
        [
            "*Accessoires*",
            "• Sac à main — 8 000 FCFA",
            "*Chaussures*",
            "• Baskets 40 — 20 000 FCFA (en rupture de stock)",
            "• Baskets 42 — 20 000 FCFA",
            "• Sandales — 7 000 FCFA",
            "*Tissus*",
            "• Pagne — 5 000 FCFA",
            "• Pagne hollandais — 9 000 FCFA",
            "*Vêtements*",
            "• Chemise lin — 12 000 FCFA",
            "• Robe bazin — 25 000 FCFA (en rupture de stock)",
            "• Robe wax — 15 000 FCFA",
        ]
    );
    assert!(
        reply.contains("Nos rayons : Accessoires (1), Chaussures (3), Tissus (2), Vêtements (3)."),
        "{reply}"
    );
}

/// A restaurant's menu of `n` dishes named "Plat 0" … "Plat n-1".
fn menu(n: usize) -> Vec<CatalogItem> {
    (0..n)
        .map(|i| {
            item(
                &format!("Plat {i}"),
                "Plats",
                1_000 + 100 * i as i64,
                None,
                json!({}),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_fifty_dish_menu_is_browsed_page_by_page_with_numbers_in_order_and_nothing_skipped() {
    let mut chat = Chat::selling(menu(50));
    let mut seen: Vec<String> = Vec::new();
    let first = chat.say("le menu svp").await;
    assert!(
        first.contains("Page 1/5 — écrivez « suite » pour voir la suite."),
        "{first}"
    );
    let dishes = |reply: &str| -> Vec<String> {
        reply
            .lines()
            .filter_map(|l| l.strip_prefix("• "))
            .filter_map(|l| l.split(" — ").next())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        dishes(&first)[..4],
        ["Plat 0", "Plat 1", "Plat 2", "Plat 3"],
        "numbers in numeric order: {first}"
    );
    seen.extend(dishes(&first));
    for (page, ask) in [
        (2, "la suite"),
        (3, "suite"),
        (4, "d'autres ?"),
        (5, "suivant"),
    ] {
        let reply = chat.say(ask).await;
        assert!(
            reply.contains(&format!("Page {page}/5")),
            "{ask:?} → {reply}"
        );
        seen.extend(dishes(&reply));
    }
    let expected: Vec<String> = (0..50).map(|i| format!("Plat {i}")).collect();
    assert_eq!(seen, expected, "every dish once, in order");
    let again = chat.say("page 2").await;
    assert_eq!(dishes(&again)[0], "Plat 10", "{again}");
}

#[tokio::test]
async fn a_category_a_price_range_and_the_cheapest_are_listed_from_the_catalogue() {
    let mut chat = Chat::ongoing();

    let tissus = chat.say("montrez moi vos tissus").await;
    assert!(tissus.starts_with("Rayon « Tissus » :"), "{tissus}");
    assert!(
        tissus.contains("• Pagne — 5 000 FCFA") && tissus.contains("• Pagne hollandais"),
        "{tissus}"
    );
    assert!(!tissus.contains("Robe"), "{tissus}");

    let budget = chat.say("vous avez quoi à moins de 8 000 F ?").await;
    let listed: Vec<&str> = budget.lines().filter(|l| l.starts_with("• ")).collect();
    assert_eq!(
        listed,
        [
            "• Sac à main — 8 000 FCFA",
            "• Sandales — 7 000 FCFA",
            "• Pagne — 5 000 FCFA"
        ],
        "{budget}"
    );
    assert!(budget.contains("à 8 000 FCFA maximum"), "{budget}");

    let range = chat.say("des vêtements entre 10 000 et 20 000").await;
    let listed: Vec<&str> = range.lines().filter(|l| l.starts_with("• ")).collect();
    assert_eq!(
        listed,
        ["• Chemise lin — 12 000 FCFA", "• Robe wax — 15 000 FCFA"],
        "{range}"
    );

    let cheapest = chat.say("c'est quoi le moins cher ?").await;
    let first = cheapest.lines().find(|l| l.starts_with("• "));
    assert_eq!(first, Some("• Pagne — 5 000 FCFA"), "{cheapest}");
    assert!(
        !cheapest.contains("je ne trouve pas"),
        "not read as a product name: {cheapest}"
    );

    let none = chat.say("un article à moins de 1000 F").await;
    assert!(
        none.contains("Désolé, je n'ai aucun article à 1 000 FCFA maximum."),
        "{none}"
    );
    assert!(
        none.contains("Le moins cher :\n• Pagne — 5 000 FCFA"),
        "{none}"
    );
}

#[tokio::test]
async fn an_unknown_product_is_echoed_as_the_customer_wrote_it() {
    let mut chat = Chat::ongoing();
    let reply = chat.say("vous avez des écharpes brodées ?").await;
    assert!(reply.contains("« écharpes brodées »"), "{reply}");
}

#[tokio::test]
async fn the_full_flow_from_price_to_yes_creates_exactly_one_order() {
    let mut chat = Chat::new();

    let price = chat.say("bonjour, c'est combien le pagne ?").await;
    let stock = chat.say("y a encore ?").await;
    let recap = chat.say("je prends 2 pagnes").await;
    let done = chat.say("oui").await;

    assert!(price.contains("Pagne : 5 000 FCFA"), "{price}");
    assert!(stock.contains("il en reste 10"), "{stock}");
    assert!(recap.contains("Récapitulatif de votre commande"), "{recap}");
    assert!(
        recap.contains("• 2 × Pagne — 5 000 FCFA l'unité = 10 000 FCFA"),
        "{recap}"
    );
    assert!(
        recap.contains("Total : 10 000 FCFA") && recap.contains("Vous confirmez"),
        "{recap}"
    );
    let orders = chat.tools.called("create_order");
    assert_eq!(orders.len(), 1, "exactly one order");
    assert_eq!(order_items(orders[0]), vec![(chat.id("Pagne"), 2)]);
    assert_eq!(orders[0]["customer_name"], "Koffi Yao");
    assert!(
        done.contains("CMD-00000001") && done.contains("Total : 10 000 FCFA"),
        "{done}"
    );
}

#[tokio::test]
async fn orders_read_quantities_in_digits_and_french_words() {
    let cases = [
        ("je prends 2 pagnes", "Pagne", 2, "digits"),
        (
            "je veux deux robes wax",
            "Robe wax",
            2,
            "French number word",
        ),
        ("mets-moi 3 sacs", "Sac à main", 3, "mets-moi"),
        (
            "je commande 1 basket 42",
            "Baskets 42",
            1,
            "size after the product",
        ),
        (
            "je prends une paire de sandales",
            "Sandales",
            1,
            "une paire",
        ),
        (
            "je veux la chemise",
            "Chemise lin",
            1,
            "no quantity means one",
        ),
        (
            "donne moi cinq pagnes stp mon frère",
            "Pagne",
            5,
            "filler words",
        ),
        ("je prends la robe", "Robe wax", 1, "the only robe in stock"),
    ];
    for (message, product, quantity, why) in cases {
        let mut chat = Chat::ongoing();
        let recap = chat.say(message).await;
        assert!(
            recap.contains(&format!("• {quantity} × {product} — ")),
            "{why}: {message:?} → {recap}"
        );
        chat.say("oui").await;
        let orders = chat.tools.called("create_order");
        assert_eq!(orders.len(), 1, "{why}");
        assert_eq!(
            order_items(orders[0]),
            vec![(chat.id(product), quantity)],
            "{why}"
        );
    }
}

#[tokio::test]
async fn several_items_in_one_message_make_one_order() {
    let mut chat = Chat::ongoing();

    let recap = chat.say("je prends 2 pagnes et 1 sac à main").await;
    chat.say("c'est bon").await;

    assert!(recap.contains("Total : 18 000 FCFA"), "{recap}");
    let orders = chat.tools.called("create_order");
    assert_eq!(
        order_items(orders[0]),
        vec![(chat.id("Pagne"), 2), (chat.id("Sac à main"), 1)]
    );
}

#[tokio::test]
async fn every_way_of_saying_yes_confirms_the_pending_order() {
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
        let mut chat = Chat::ongoing();
        chat.say("je prends 2 pagnes").await;

        let reply = chat.say(message).await;

        assert_eq!(chat.tools.called("create_order").len(), 1, "{message:?}");
        assert!(
            reply.contains("Votre commande *CMD-00000001* est enregistrée"),
            "{message:?} → {reply}"
        );
    }
}

#[tokio::test]
async fn saying_no_drops_the_order_politely_and_creates_nothing() {
    for message in ["non", "annule", "Non merci"] {
        let mut chat = Chat::ongoing();
        chat.say("je prends 2 pagnes").await;

        let reply = chat.say(message).await;

        assert!(chat.tools.called("create_order").is_empty(), "{message:?}");
        assert!(
            reply.contains("j'annule cette commande"),
            "{message:?} → {reply}"
        );
        let later = chat.say("oui").await;
        assert!(
            chat.tools.called("create_order").is_empty(),
            "a later yes confirms nothing: {later}"
        );
    }
}

#[tokio::test]
async fn yes_without_a_recap_creates_nothing() {
    let mut chat = Chat::ongoing();
    chat.say("c'est combien le pagne ?").await;

    let reply = chat.say("ok").await;

    assert!(chat.tools.called("create_order").is_empty());
    assert!(reply.contains("Dites-moi quel article"), "{reply}");
}

#[tokio::test]
async fn an_order_above_the_stock_is_offered_what_is_left_and_a_yes_with_that_quantity_places_it() {
    let mut chat = Chat::ongoing();

    let reply = chat.say("je prends 5 robes wax").await;
    assert!(
        reply.contains(
            "Il ne reste que 4 × Robe wax (vous en demandiez 5) : je vous propose les 4."
        ),
        "{reply}"
    );
    assert!(
        reply.contains("• 4 × Robe wax — 15 000 FCFA l'unité = 60 000 FCFA"),
        "{reply}"
    );

    let done = chat.say("ok donnez 4 alors").await;
    assert!(done.contains("CMD-00000001"), "{done}");
    assert_eq!(chat.tools.placed, 1);
}

#[tokio::test]
async fn the_pending_order_changes_quantity_or_loses_a_line_before_it_is_confirmed() {
    let mut chat = Chat::ongoing();
    let recap = chat.say("je prends 2 pagnes et 1 sac à main").await;
    assert!(
        recap.contains("• 2 × Pagne") && recap.contains("• 1 × Sac à main"),
        "{recap}"
    );

    let changed = chat.say("finalement 3 pagnes").await;
    assert!(changed.contains("• 3 × Pagne —"), "{changed}");
    assert!(
        changed.contains("• 1 × Sac à main"),
        "the other line stays: {changed}"
    );
    assert!(changed.contains("Total : 23 000 FCFA"), "{changed}");

    let fewer = chat.say("enlève le sac").await;
    assert!(!fewer.contains("Sac à main"), "{fewer}");
    assert!(
        fewer.contains("• 3 × Pagne —") && fewer.contains("Total : 15 000 FCFA"),
        "{fewer}"
    );

    let done = chat.say("oui").await;
    assert!(done.contains("CMD-00000001"), "{done}");
    assert_eq!(chat.tools.placed, 1, "one order, after the changes");
}

#[tokio::test]
async fn a_price_for_several_gives_the_total() {
    let mut chat = Chat::ongoing();
    let reply = chat.say("Combien pour 3 pagnes ?").await;
    assert!(reply.contains("3 × Pagne = 15 000 FCFA"), "{reply}");
    assert!(reply.contains("5 000 FCFA l'unité"), "{reply}");
}

#[tokio::test]
async fn a_sold_out_order_offers_alternatives() {
    let mut chat = Chat::ongoing();

    let reply = chat.say("je veux 1 robe bazin").await;

    assert!(
        reply.contains("Robe bazin est en rupture de stock"),
        "{reply}"
    );
    assert!(reply.contains("• Robe wax — 15 000 FCFA"), "{reply}");
}

#[tokio::test]
async fn stock_that_runs_out_before_the_yes_is_explained() {
    let mut chat = Chat::ongoing();
    chat.say("je prends 3 pagnes hollandais").await;
    chat.set_stock("Pagne hollandais", Some(1));

    let reply = chat.say("oui").await;

    assert!(
        reply.contains("il ne reste que 1 × Pagne hollandais"),
        "{reply}"
    );
    assert!(reply.contains("pas enregistrée"), "{reply}");
}

#[tokio::test]
async fn an_unknown_product_is_searched_then_answered_with_what_the_shop_has() {
    let mut chat = Chat::ongoing();

    let reply = chat.say("vous avez des chaussettes ?").await;

    let searches = chat.tools.called("search_products");
    assert!(
        searches.iter().any(|a| a["query"] == "chaussettes"),
        "{searches:?}"
    );
    assert!(
        reply.contains("je ne trouve pas « chaussettes »"),
        "{reply}"
    );
    assert!(
        reply.contains("Vêtements, Tissus, Chaussures, Accessoires"),
        "{reply}"
    );
}

#[tokio::test]
async fn misspellings_and_sms_style_still_find_the_product() {
    let cases = [
        (
            "c combien la rob wax stp",
            "Robe wax : 15 000 FCFA",
            "rob wax",
        ),
        (
            "prix des baskette 42 ma sœur",
            "Baskets 42 : 20 000 FCFA",
            "baskette",
        ),
        (
            "Combient la CHEMISE ?",
            "Chemise lin : 12 000 FCFA",
            "combient, capitals",
        ),
        (
            "cb le sac a main svp",
            "Sac à main : 8 000 FCFA",
            "cb, missing accent",
        ),
        (
            "eh tantie, les sandals c'est a combien dèh",
            "Sandales : 7 000 FCFA",
            "sandals, fillers",
        ),
        (
            "pagne holandais prix",
            "Pagne hollandais : 9 000 FCFA",
            "one letter missing",
        ),
    ];
    for (message, expected, why) in cases {
        let mut chat = Chat::ongoing();
        let reply = chat.say(message).await;
        assert!(reply.contains(expected), "{why}: {message:?} → {reply}");
    }
}

#[tokio::test]
async fn order_status_questions_are_answered_from_the_tool() {
    let cases = [
        (
            "ma commande ?",
            "Votre commande CMD-1A2B3C4D (10 000 FCFA) : livrée.",
            "ma commande",
        ),
        (
            "où en est ma commande",
            "Votre commande CMD-1A2B3C4D",
            "où en est",
        ),
        ("c'est livré ?", "livrée", "c'est livré"),
    ];
    for (message, expected, why) in cases {
        let mut chat = Chat::ongoing();
        chat.tools.orders = json!({"orders": [{"order_ref": "CMD-1A2B3C4D", "status": "delivered", "total_xof": 10000, "created_at": "2025-03-12T10:00:00Z"}]});
        let reply = chat.say(message).await;
        assert_eq!(chat.tools.called("order_status").len(), 1, "{why}");
        assert!(reply.contains(expected), "{why}: {message:?} → {reply}");
    }

    let mut chat = Chat::ongoing();
    let reply = chat.say("et ma commande CMD-9f8e7d6c ?").await;
    assert_eq!(
        chat.tools.called("order_status")[0]["order_ref"],
        "CMD-9F8E7D6C"
    );
    assert!(
        reply.contains("Je ne trouve pas la commande CMD-9F8E7D6C"),
        "{reply}"
    );
}

#[tokio::test]
async fn thanks_goodbye_and_messages_not_understood_get_a_polite_answer() {
    let cases = [
        ("merci", "Avec plaisir", "thanks"),
        (
            "au revoir",
            "Au revoir Koffi, et à bientôt chez Chez Fatou !",
            "goodbye",
        ),
        ("bonne journée", "Au revoir", "bonne journée"),
        ("je suis à Yopougon", HANDOVER, "not understood"),
        (
            "vous livrez à Cocody ?",
            "Livraison à Abidjan.",
            "delivery, answered from the shop's instructions",
        ),
        (
            "vous faites les retouches ?",
            HANDOVER,
            "a question the shop said nothing about",
        ),
    ];
    for (message, expected, why) in cases {
        let mut chat = Chat::ongoing();
        let reply = chat.say(message).await;
        assert!(reply.contains(expected), "{why}: {message:?} → {reply}");
    }
}

#[tokio::test]
async fn an_english_shop_answers_in_english() {
    let mut chat = Chat::english();

    let hello = chat.say("hello").await;
    let price = chat.say("how much is the robe wax?").await;
    let recap = chat.say("I want 2 pagnes").await;
    let done = chat.say("yes").await;

    assert!(hello.contains("Welcome to Chez Fatou, I'm Awa"), "{hello}");
    assert!(
        price.contains("Robe wax: 15 000 FCFA") && price.contains("How many"),
        "{price}"
    );
    assert!(
        recap.contains("Your order summary:") && recap.contains("2 × Pagne"),
        "{recap}"
    );
    assert!(
        done.contains("Your order *CMD-00000001* is registered"),
        "{done}"
    );
    assert_eq!(chat.tools.called("create_order").len(), 1);
}

#[tokio::test]
async fn several_messages_in_one_turn_are_answered_together() {
    let mut chat = Chat::ongoing();
    let reply = chat
        .say_all(&["bonjour", "c'est combien le pagne hollandais"])
        .await;
    assert!(reply.starts_with("Bonjour Koffi"), "{reply}");
    assert!(reply.contains("Pagne hollandais : 9 000 FCFA"), "{reply}");

    let mut chat = Chat::ongoing();
    let reply = chat
        .say_all(&["c'est combien la chemise", "et la robe wax ?"])
        .await;
    assert!(
        reply.contains("Chemise lin : 12 000") && reply.contains("Robe wax : 15 000"),
        "{reply}"
    );

    let mut chat = Chat::ongoing();
    let reply = chat.say_all(&["la robe wax", "c'est combien ?"]).await;
    assert_eq!(
        reply.matches("Robe wax : 15 000 FCFA").count(),
        1,
        "one answer, not two: {reply}"
    );
}

#[tokio::test]
async fn adding_to_a_pending_order_and_asking_its_total_keep_one_recap() {
    let mut chat = Chat::ongoing();
    chat.say("je prends 2 pagnes").await;

    let added = chat.say("ajoute aussi 1 sac").await;
    let total = chat.say("ça fait combien ?").await;
    chat.say("oui").await;

    assert!(
        added.contains("• 2 × Pagne") && added.contains("• 1 × Sac à main"),
        "{added}"
    );
    assert!(total.contains("Total : 18 000 FCFA"), "{total}");
    let orders = chat.tools.called("create_order");
    assert_eq!(orders.len(), 1);
    assert_eq!(
        order_items(orders[0]),
        vec![(chat.id("Pagne"), 2), (chat.id("Sac à main"), 1)]
    );
}

#[tokio::test]
async fn the_same_turn_gives_the_same_reply_and_tool_calls() {
    let mut first = Chat::ongoing();
    let mut second = Chat::ongoing();
    second.tools.products = first.tools.products.clone();

    let a = first.say("c combien les robes et les baskets ?").await;
    let b = second.say("c combien les robes et les baskets ?").await;

    assert_eq!(a, b);
    assert_eq!(first.tools.calls, second.tools.calls);
}

#[tokio::test]
async fn odd_inputs_never_panic_and_always_get_an_answer() {
    let long = "robe wax combien ".repeat(300);
    let noise: String = (0..5_000)
        .map(|i| char::from_u32(0x20 + (i * 7919) % 0x2fff).unwrap_or('?'))
        .collect();
    let noisy_question = format!("combien {}", "zorglub blip ".repeat(400));
    let cases: [(&str, &str); 9] = [
        ("", "empty"),
        ("😍🙏🏾🔥", "emoji only"),
        (&long, "5 000 characters of a real question"),
        (&noise, "5 000 characters of noise"),
        ("\u{0}\u{200b}\n\n,,,", "control and zero-width characters"),
        ("cmd-", "an order reference without a code"),
        ("je prends 99999999999999999999 pagnes", "a huge quantity"),
        ("0", "zero"),
        (&noisy_question, "a price question drowned in unknown words"),
    ];
    for (message, why) in cases {
        let mut chat = Chat::ongoing();
        let reply = chat.say(message).await;
        assert!(!reply.trim().is_empty(), "{why}");
        assert!(
            reply.chars().count() < 1_000,
            "{why}: the reply stays short"
        );
        let mut first = Chat::new();
        assert!(
            !first.say(message).await.is_empty(),
            "{why} as a first message"
        );
    }
}

#[tokio::test]
async fn the_shop_tone_changes_greetings_and_closings_slightly() {
    let cases = [
        (
            "professional",
            "Bonjour Koffi, bienvenue chez Chez Fatou. Je suis Awa.",
            "Je vous en prie.",
        ),
        (
            "casual",
            "Salut Koffi ! Bienvenue chez Chez Fatou, moi c'est Awa.",
            "De rien !",
        ),
        (
            "enthusiastic",
            "Bonjour Koffi ! 🎉 Bienvenue chez Chez Fatou",
            "Avec grand plaisir !",
        ),
        (
            "unknown tone",
            "Bonjour Koffi ! 😊 Bienvenue chez Chez Fatou",
            "Avec plaisir",
        ),
    ];
    for (tone, hello, thanks) in cases {
        let mut chat = Chat {
            tone,
            ..Chat::new()
        };
        let greeting = chat.say("bonjour").await;
        let closing = chat.say("merci").await;
        assert!(greeting.starts_with(hello), "{tone}: {greeting}");
        assert!(closing.starts_with(thanks), "{tone}: {closing}");
    }
}

#[tokio::test]
async fn a_shop_that_allows_english_answers_each_customer_in_their_language() {
    let mut chat = Chat {
        language: "auto",
        ..Chat::ongoing()
    };
    let english = chat.say("how much is the wax dress?").await;
    assert!(english.contains("Robe wax: 15 000 FCFA"), "{english}");
    assert!(english.contains("How many would you like?"), "{english}");
    let unknown = chat.say("do you have scarves?").await;
    assert!(unknown.contains("Sorry, I can't find"), "{unknown}");

    let mut french = Chat {
        language: "auto",
        ..Chat::ongoing()
    };
    let reply = french.say("c'est combien le pagne ?").await;
    assert!(reply.contains("Pagne : 5 000 FCFA"), "{reply}");
}

#[tokio::test]
async fn the_recap_asks_for_the_delivery_zone_and_adds_its_fee_to_the_total() {
    let zone = |name: &str, fee: i64| store::knowledge::DeliveryZone {
        name: name.into(),
        fee_xof: Xof::new(fee).expect("fee"),
    };
    let mut chat = Chat {
        zones: vec![zone("Cocody", 1000), zone("Yopougon", 1500)],
        ..Chat::ongoing()
    };
    let recap = chat.say("je prends 2 pagnes").await;
    assert!(
        recap.contains("Livraison : dites-moi votre quartier (Cocody, Yopougon…)"),
        "{recap}"
    );
    let with_zone = chat.say("à yopougon").await;
    assert!(
        with_zone.contains("Livraison à Yopougon : 1 500 FCFA"),
        "{with_zone}"
    );
    assert!(with_zone.contains("Total : 11 500 FCFA"), "{with_zone}");
    let done = chat.say("oui").await;
    assert!(done.contains("CMD-00000001"), "{done}");
    let (_, args) = chat
        .tools
        .calls
        .iter()
        .find(|(name, _)| name == "create_order")
        .expect("create_order called");
    assert_eq!(args["delivery_zone"], "Yopougon", "{args}");
}

#[tokio::test]
async fn several_products_in_one_message_are_all_understood_however_they_are_joined() {
    for message in [
        "je veux 2 pagnes 1 sac à main",
        "donne moi 2 pagnes, 1 sac à main",
        "je prends 2 pagnes avec un sac à main",
        "je prends deux pagnes plus un sac à main",
    ] {
        let mut chat = Chat::ongoing();
        let recap = chat.say(message).await;
        assert!(
            recap.contains("• 2 × Pagne —") && recap.contains("• 1 × Sac à main —"),
            "{message:?} → {recap}"
        );
    }
    let mut chat = Chat::ongoing();
    let sized = chat.say("je prends 1 baskets 42").await;
    assert!(
        sized.contains("• 1 × Baskets 42"),
        "a size is not a quantity: {sized}"
    );
}

#[tokio::test]
async fn everyday_request_words_are_never_taken_for_product_names() {
    let cases = [
        (
            "tu peux me faire un bon prix ?",
            "Je transmets votre message",
        ),
        (
            "quels sont les modèles dispo",
            "Voici nos articles chez Chez Fatou",
        ),
        ("je voudrais voir les chaussures", "Rayon « Chaussures »"),
        ("envoie la photo du sac", "Sac à main : 8 000 FCFA"),
        ("on dit quoi, pagne la c combien ?", "Pagne : 5 000 FCFA"),
        ("ya pagne ?", "Oui, Pagne est disponible"),
    ];
    for (message, expected) in cases {
        let mut chat = Chat::ongoing();
        let reply = chat.say(message).await;
        assert!(reply.contains(expected), "{message:?} → {reply}");
        assert!(!reply.contains("je ne trouve pas"), "{message:?} → {reply}");
    }
}

fn voice_note(message: usize) -> workers::llm::TurnMedia {
    workers::llm::TurnMedia {
        message,
        kind: schemas::MediaKind::Audio,
        mime: "audio/ogg".into(),
        bytes: b"OggS\0voice".to_vec(),
    }
}

#[tokio::test]
async fn a_voice_note_gets_an_honest_answer_asking_to_write_and_the_shop_is_alerted() {
    let mut chat = Chat::ongoing();
    let mut turn = chat.turn(&[""]);
    turn.media = vec![voice_note(0)];

    let reply = Offline::new()
        .respond(&turn, &mut chat.tools)
        .await
        .expect("offline answers");

    assert!(
        reply
            .text
            .contains("je ne peux pas écouter les messages vocaux"),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("écrire votre demande"),
        "{}",
        reply.text
    );
    assert!(reply.transcripts.is_empty());
    let handed_over: Vec<&Value> = chat
        .tools
        .calls
        .iter()
        .filter(|(name, _)| name == workers::llm::tools::HAND_OVER)
        .map(|(_, args)| args)
        .collect();
    assert_eq!(handed_over.len(), 1, "the shop is alerted once");
    assert!(
        handed_over[0]["reason"]
            .as_str()
            .expect("present")
            .contains("message vocal")
    );
    assert!(
        !chat
            .tools
            .calls
            .iter()
            .any(|(name, _)| name == "create_order"),
        "no guess at what was said"
    );
}

#[tokio::test]
async fn a_photo_with_a_caption_is_not_guessed_at_but_a_typed_question_beside_it_is_answered() {
    let mut chat = Chat::ongoing();
    let mut turn = chat.turn(&["c'est combien ça ?", "vous livrez à Cocody ?"]);
    turn.media = vec![workers::llm::TurnMedia {
        message: 0,
        kind: schemas::MediaKind::Image,
        mime: "image/jpeg".into(),
        bytes: b"\xFF\xD8\xFFphoto".to_vec(),
    }];

    let reply = Offline::new()
        .respond(&turn, &mut chat.tools)
        .await
        .expect("offline answers");

    assert!(
        reply
            .text
            .starts_with("Désolé, je ne peux pas voir les photos."),
        "{}",
        reply.text
    );
    assert!(
        !reply.text.contains("FCFA"),
        "no price quoted for a photo it cannot see: {}",
        reply.text
    );
}

#[tokio::test]
async fn english_shops_get_the_honest_answer_in_english() {
    let mut chat = Chat::english();
    let mut turn = chat.turn(&[""]);
    turn.media = vec![voice_note(0)];

    let reply = Offline::new()
        .respond(&turn, &mut chat.tools)
        .await
        .expect("offline answers");

    assert!(
        reply
            .text
            .starts_with("Sorry, I cannot listen to voice notes."),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn asked_to_see_a_product_the_offline_assistant_sends_its_photo_or_says_it_has_none() {
    let mut chat = Chat::ongoing();

    let reply = chat
        .say_all(&["montrez-moi la photo de la robe wax svp"])
        .await;

    let asked = chat.tools.called("send_product_photo");
    assert_eq!(asked.len(), 1, "{reply}");
    let robe = chat
        .tools
        .products
        .iter()
        .find(|p| p.item.fields.name == "Robe wax")
        .map(|p| p.item.product_id)
        .expect("present");
    assert_eq!(asked[0]["product_id"], json!(robe));
    assert!(reply.contains("15 000 FCFA"), "{reply}");

    let reply = chat.say_all(&["une photo de la chemise lin ?"]).await;
    assert!(reply.contains("pas encore de photo"), "{reply}");
}

#[tokio::test]
async fn a_shared_location_is_acknowledged_for_the_delivery_not_handed_over() {
    let mut chat = Chat::ongoing();
    let location = format!(
        "{} (adresse de livraison possible) : Carrefour Riviera 2 — 5.359900, -4.008300 (https://www.google.com/maps/search/?api=1&query=5.359900,-4.008300)",
        workers::llm::LOCATION_PREFIX
    );

    let reply = chat.say_all(&[location.as_str()]).await;

    assert!(
        reply.starts_with(
            "Merci, j'ai bien noté votre position (Carrefour Riviera 2 — 5.359900, -4.008300)"
        ),
        "{reply}"
    );
    assert!(chat.tools.called("hand_over").is_empty(), "{reply}");

    let reply = chat
        .say_all(&[&format!("c'est combien le pagne ?\n{location}")])
        .await;
    assert!(
        reply.contains("5 000 FCFA"),
        "the question beside it is answered: {reply}"
    );
}

#[tokio::test]
async fn after_an_order_the_customer_is_offered_the_shops_payment_methods_and_gets_a_link() {
    let mut chat = Chat::ongoing();
    chat.payments = workers::llm::PaymentOptions {
        links: vec![schemas::billing::Provider::Wave],
        cash_on_delivery: true,
    };
    chat.say_all(&["je prends 2 pagnes"]).await;

    let placed = chat.say_all(&["oui"]).await;
    assert!(
        placed.ends_with("Pour payer, répondez « Wave » ou « à la livraison »."),
        "{placed}"
    );

    let link = chat.say_all(&["wave"]).await;
    assert!(link.starts_with("Voici votre lien de paiement"), "{link}");
    let asked = chat.tools.called("payment_link");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["method"], "wave");

    let mut other = Chat::ongoing();
    other.payments = chat.payments.clone();
    other.say_all(&["je prends 2 pagnes"]).await;
    other.say_all(&["oui"]).await;
    let cash = other.say_all(&["à la livraison svp"]).await;
    assert!(cash.contains("vous paierez à la livraison"), "{cash}");
}

#[tokio::test]
async fn a_shop_without_payment_methods_offers_none() {
    let mut chat = Chat::ongoing();
    chat.say_all(&["je prends 2 pagnes"]).await;
    let placed = chat.say_all(&["oui"]).await;
    assert!(!placed.contains("Pour payer"), "{placed}");
}

#[tokio::test]
async fn i_paid_is_answered_from_the_provider_never_from_the_customers_word() {
    let mut chat = Chat::ongoing();
    chat.tools.payment_status = json!({"status": "pending", "order_ref": "CMD-00000001"});
    let pending = chat.say_all(&["j'ai payé"]).await;
    assert!(
        pending.starts_with("Je ne vois pas encore votre paiement pour la commande *CMD-00000001*"),
        "{pending}"
    );

    chat.tools.payment_status = json!({"status": "paid", "order_ref": "CMD-00000001"});
    let paid = chat.say_all(&["c'est payé !"]).await;
    assert!(paid.contains("*CMD-00000001* est payée"), "{paid}");

    chat.tools.payment_status = json!({"status": "unknown"});
    let unknown = chat.say_all(&["J'ai déjà payé par Wave"]).await;
    assert!(
        unknown.contains("l'équipe de la boutique va vérifier"),
        "{unknown}"
    );
    assert_eq!(chat.tools.called("payment_status").len(), 3);
    assert_eq!(
        chat.tools.called("hand_over").len(),
        1,
        "the shop checks what the provider could not"
    );
}
