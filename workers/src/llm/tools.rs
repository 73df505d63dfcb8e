//! The sales tools offered to every provider: their names, JSON argument shapes and declarations
//! (OpenAPI-subset schemas, as Gemini's `functionDeclarations` expect).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

pub const SEARCH_PRODUCTS: &str = "search_products";
pub const GET_PRODUCT: &str = "get_product";
pub const CREATE_ORDER: &str = "create_order";
pub const ORDER_STATUS: &str = "order_status";
pub const SHOP_INFO: &str = "shop_info";
pub const HAND_OVER: &str = "hand_over";
pub const CANCEL_ORDER: &str = "cancel_order";
pub const SEND_PRODUCT_PHOTO: &str = "send_product_photo";
pub const PAYMENT_LINK: &str = "payment_link";
pub const PAYMENT_STATUS: &str = "payment_status";

/// Arguments of `payment_status`: the order the customer says they paid (their latest one when absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PaymentStatus {
    #[serde(default)]
    pub order_ref: Option<String>,
}

/// Arguments of `payment_link`: how the customer pays one of their orders.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PaymentLink {
    /// `wave`, `orange_money`, `sandbox` or `cash_on_delivery`.
    pub method: String,
    /// The order (its latest unpaid one when absent).
    #[serde(default)]
    pub order_ref: Option<String>,
}

/// Arguments of `send_product_photo`: the product whose photo goes with the reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SendProductPhoto {
    pub product_id: Uuid,
}

/// Arguments of `cancel_order`: one of this customer's orders not yet confirmed by the shop (the latest
/// such order when no reference is given).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CancelOrder {
    #[serde(default)]
    pub order_ref: Option<String>,
}

/// Arguments of `hand_over`: why the bot cannot help, for the shop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HandOver {
    /// In a few words, what the customer needs that the bot cannot give ("prix de gros", "réclamation").
    pub reason: String,
}

/// Arguments of `shop_info`: the customer's question about the shop's rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShopInfo {
    /// The question in the customer's words ("vous livrez à Yopougon ?", "je peux payer par Wave ?").
    pub question: String,
}

/// Arguments of `search_products`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SearchProducts {
    /// Words from the customer: product name, category, attribute ("robe wax", "baskets 42"); empty: every
    /// product (within the filters).
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Only this category (as the catalogue names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price_xof: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price_xof: Option<i64>,
    /// `price_asc` (cheapest first) or `price_desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
}

/// Arguments of `get_product`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GetProduct {
    pub product_id: Uuid,
}

/// Arguments of `create_order`. Prices are never taken from the model: the executor prices from the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateOrder {
    pub items: Vec<OrderLine>,
    #[serde(default)]
    pub customer_name: Option<String>,
    #[serde(default)]
    pub delivery_address: Option<String>,
    /// One of the shop's delivery zones; its fee is added to the total (never a fee from the model).
    #[serde(default)]
    pub delivery_zone: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderLine {
    pub product_id: Uuid,
    pub quantity: u32,
}

/// Arguments of `order_status`: one order, or all of this customer's recent orders.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct OrderStatus {
    #[serde(default)]
    pub order_ref: Option<String>,
}

/// The function declarations, in Gemini's `functionDeclarations` shape.
pub fn declarations() -> Value {
    json!([
        {
            "name": SEARCH_PRODUCTS,
            "description": "Cherche des produits de la boutique par nom, catégorie ou caractéristique, avec une fourchette de prix ou un tri par prix. Renvoie prix (FCFA) et disponibilité.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": { "type": "string", "description": "Mots du client, ex. « robe wax », « baskets 42 » ; vide pour tout le catalogue (avec les filtres)." },
                    "max_results": { "type": "integer", "description": "Nombre maximal de résultats (défaut 5, 20 au plus)." },
                    "category": { "type": "string", "description": "Seulement cette catégorie du catalogue." },
                    "min_price_xof": { "type": "integer", "description": "Prix minimal en FCFA." },
                    "max_price_xof": { "type": "integer", "description": "Prix maximal en FCFA (ex. « moins de 10 000 » → 10000)." },
                    "sort": { "type": "string", "enum": ["price_asc", "price_desc"], "description": "Tri par prix : price_asc = le moins cher d'abord." }
                }
            }
        },
        {
            "name": GET_PRODUCT,
            "description": "Détails d'un produit (description, attributs, prix, stock) par son identifiant.",
            "parameters": {
                "type": "object",
                "properties": { "product_id": { "type": "string", "description": "Identifiant renvoyé par search_products." } },
                "required": ["product_id"]
            }
        },
        {
            "name": CREATE_ORDER,
            "description": "Enregistre la commande du client APRÈS qu'il a confirmé les articles et quantités. Les prix viennent du catalogue.",
            "parameters": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "product_id": { "type": "string" },
                                "quantity": { "type": "integer" }
                            },
                            "required": ["product_id", "quantity"]
                        }
                    },
                    "customer_name": { "type": "string" },
                    "delivery_address": { "type": "string", "description": "Adresse ou quartier de livraison." },
                    "delivery_zone": { "type": "string", "description": "Zone de livraison de la boutique (ex. « Cocody ») : ses frais s'ajoutent au total." },
                    "note": { "type": "string" }
                },
                "required": ["items"]
            }
        },
        {
            "name": SHOP_INFO,
            "description": "Ce que la boutique a dit sur sa livraison (zones et frais), ses paiements, son adresse, ses horaires, ses retours… : ses questions-réponses et consignes. Si rien n'est trouvé, la boutique n'a pas donné l'information.",
            "parameters": {
                "type": "object",
                "properties": { "question": { "type": "string", "description": "La question du client, ex. « vous livrez à Yopougon ? »." } },
                "required": ["question"]
            }
        },
        {
            "name": CANCEL_ORDER,
            "description": "Annule, à la demande du client, une de ses commandes que la boutique n'a pas encore confirmée (le stock est remis). Une commande confirmée ne s'annule pas ici : propose de transmettre à la boutique.",
            "parameters": {
                "type": "object",
                "properties": { "order_ref": { "type": "string", "description": "Référence, ex. CMD-1A2B3C4D ; sans référence : sa dernière commande en attente." } }
            }
        },
        {
            "name": HAND_OVER,
            "description": "Passe la conversation à l'équipe de la boutique quand tu ne peux pas aider (information que la boutique n'a pas donnée, réclamation, demande particulière). La boutique est alertée ; dis au client que quelqu'un va lui répondre.",
            "parameters": {
                "type": "object",
                "properties": { "reason": { "type": "string", "description": "Ce dont le client a besoin, en quelques mots." } },
                "required": ["reason"]
            }
        },
        {
            "name": PAYMENT_LINK,
            "description": "Quand le client a choisi comment payer une commande : avec `wave`, `orange_money` ou `sandbox`, le lien de paiement (montant exact de la commande) est ajouté à la fin de ta réponse ; avec `cash_on_delivery`, il paiera à la livraison. Propose seulement les moyens indiqués par shop_info ou tes consignes de paiement.",
            "parameters": {
                "type": "object",
                "properties": {
                    "method": { "type": "string", "enum": ["wave", "orange_money", "sandbox", "cash_on_delivery"] },
                    "order_ref": { "type": "string", "description": "Référence, ex. CMD-1A2B3C4D ; sans référence : sa dernière commande non payée." }
                },
                "required": ["method"]
            }
        },
        {
            "name": PAYMENT_STATUS,
            "description": "Quand le client dit avoir payé : demande au fournisseur de paiement où en est le paiement de sa commande (`paid`, `pending`, `none` ou `unknown`). Réponds uniquement d'après ce résultat : ne dis jamais qu'une commande est payée sans `paid`.",
            "parameters": {
                "type": "object",
                "properties": { "order_ref": { "type": "string", "description": "Référence, ex. CMD-1A2B3C4D ; sans référence : sa dernière commande." } }
            }
        },
        {
            "name": SEND_PRODUCT_PHOTO,
            "description": "Envoie au client la photo d'un produit, avec son nom et son prix en légende, juste avant ta réponse : quand il demande à voir un article, ou pour confirmer celui qu'il a montré en photo. Ne mets jamais de lien d'image dans ta réponse.",
            "parameters": {
                "type": "object",
                "properties": { "product_id": { "type": "string", "description": "L'identifiant du produit (product_id de search_products ou get_product)." } },
                "required": ["product_id"]
            }
        },
        {
            "name": ORDER_STATUS,
            "description": "Statut des commandes de ce client (toutes ses commandes récentes, ou une seule par sa référence).",
            "parameters": {
                "type": "object",
                "properties": { "order_ref": { "type": "string", "description": "Référence de commande, ex. CMD-1A2B3C4D." } }
            }
        }
    ])
}
