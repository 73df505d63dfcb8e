//! Product fields as clients send them (raw numbers and text, so a wrong value gets its French message
//! rather than a JSON error), and their validation into `store::products::ProductFields`.

use schemas::commerce::{Sku, Stock, Xof};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use store::products::ProductFields;

use crate::validate::{self, Check};
use crate::{Error, Result};

const MAX_ATTRIBUTES_BYTES: usize = 4096;

/// `POST /api/v1/products`; also the raw form of every product change (a patched product, a CSV row, the
/// dashboard's form) before [`NewProduct::validate`].
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub sku: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    /// Integer XOF, ≥ 0.
    pub price_xof: i64,
    /// Omit or null for unlimited stock.
    pub stock: Option<i64>,
    pub image_url: Option<String>,
    #[schema(value_type = Object)]
    #[serde(default = "empty_object")]
    pub attributes: Value,
    #[serde(default = "yes")]
    pub active: bool,
}

impl Default for NewProduct {
    /// An empty, active product with unlimited stock: the dashboard fills in what the form posted.
    fn default() -> Self {
        NewProduct {
            sku: None,
            name: String::new(),
            description: String::new(),
            category: String::new(),
            price_xof: 0,
            stock: None,
            image_url: None,
            attributes: empty_object(),
            active: true,
        }
    }
}

/// `PATCH /api/v1/products/{id}`: only the fields present change; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub sku: Option<Option<String>>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub price_xof: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub stock: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub image_url: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Value>,
    pub active: Option<bool>,
}

/// Distinguishes `"field": null` (Some(None)) from an absent field (None).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn yes() -> bool {
    true
}

impl NewProduct {
    /// The existing product with the patch applied.
    pub fn patched(current: ProductFields, patch: ProductPatch) -> Self {
        NewProduct {
            sku: patch.sku.unwrap_or(current.sku.map(String::from)),
            name: patch.name.unwrap_or(current.name),
            description: patch.description.unwrap_or(current.description),
            category: patch.category.unwrap_or(current.category),
            price_xof: patch.price_xof.unwrap_or(current.price_xof.get()),
            stock: patch.stock.unwrap_or(current.stock.map(i64::from)),
            image_url: patch.image_url.unwrap_or(current.image_url),
            attributes: patch.attributes.unwrap_or(current.attributes),
            active: patch.active.unwrap_or(current.active),
        }
    }

    /// Validates every field; a refusal lists all problems (`Error::Validation`).
    pub fn validate(self) -> Result<ProductFields> {
        let mut check = Check::default();
        let sku = check.value("sku", Sku::optional(self.sku.as_deref()));
        let name = check.text("name", &self.name, 1, 200);
        let description = check.text("description", &self.description, 0, 2000);
        let category = check.text("category", &self.category, 0, 100);
        let price_xof = check.value("price_xof", Xof::price(self.price_xof));
        let stock = match self.stock {
            Some(units) => check.value("stock", Stock::new(units)).map(Some),
            None => Some(None),
        };
        let image_url = check.optional_text("image_url", self.image_url.as_deref(), 2048);
        if let Some(url) = &image_url {
            validate::url(&mut check, "image_url", url);
        }
        if !self.attributes.is_object() {
            check.fail(
                "attributes",
                "Les attributs doivent être un objet JSON (par ex. {\"taille\": \"M\"}).",
            );
        } else if self.attributes.to_string().len() > MAX_ATTRIBUTES_BYTES {
            check.fail(
                "attributes",
                "Les attributs sont trop volumineux (4 Ko maximum).",
            );
        }
        check.finish()?;
        let (Some(sku), Some(price_xof), Some(stock)) = (sku, price_xof, stock) else {
            // `Check::value` records every refusal, so `finish` has returned it above.
            return Err(Error::Internal(anyhow::anyhow!(
                "a product field was refused without a message"
            )));
        };
        Ok(ProductFields {
            sku,
            name,
            description,
            category,
            price_xof,
            stock,
            image_url,
            attributes: self.attributes,
            active: self.active,
        })
    }
}
