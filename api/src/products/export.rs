//! `GET /api/v1/products/export.csv`: the whole catalogue as a CSV file that the import reads back.
//!
//! Written for the spreadsheets shop owners open it with: semicolon-separated (the list separator of French
//! Excel and LibreOffice, so columns split on a double click), UTF-8 with a byte-order mark (without it, Excel
//! on Windows reads the file as Windows-1252 and garbles "é"; LibreOffice and the import skip the mark),
//! CRLF line ends, French headers that [`super::import`] maps back to the same fields, prices as plain
//! integers, an empty stock for unlimited, `oui`/`non` for active. Each attribute key becomes a column, as
//! the import turns unknown columns into attributes. Values are written as they are (no `'` in front of a
//! leading `=`/`+`/`-`/`@`): the file holds only the shop's own data, and must import back unchanged.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use schemas::commerce::Sku;
use serde_json::Value;
use store::products::{self, Product};

use super::import::Column;
use crate::auth::AuthUser;
use crate::{AppState, Result};

/// The fixed columns, in order; each header is one the import recognises for that field.
const HEADERS: [&str; 8] = [
    "Référence",
    "Nom",
    "Description",
    "Catégorie",
    "Prix (FCFA)",
    "Stock",
    "Image",
    "Actif",
];

const BOM: &str = "\u{FEFF}";

/// Downloads the catalogue as CSV (`;`-separated, UTF-8 with BOM), in the format the import reads.
#[utoipa::path(get, path = "/api/v1/products/export.csv", operation_id = "exportProducts",
    tag = "products", security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv",
        description = "Header row then one product per row: Référence;Nom;Description;Catégorie;Prix (FCFA);\
                       Stock;Image;Actif, then one column per attribute key. Imports back unchanged.")))]
pub async fn export(State(state): State<AppState>, user: AuthUser) -> Result<impl IntoResponse> {
    let csv = export_csv(&state, &user).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"produits.csv\"",
            ),
        ],
        csv,
    ))
}

/// The shop's whole catalogue as CSV bytes, alphabetically.
pub(crate) async fn export_csv(state: &AppState, user: &AuthUser) -> Result<Vec<u8>> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    let catalogue = products::all(&mut tx).await?;
    tx.commit().await?;
    write(&catalogue)
}

/// Attribute keys that can be columns: not empty, and not read back as a product field by the import
/// (an attribute named "prix" would be taken for the price; such keys are left out).
fn attribute_columns(catalogue: &[Product]) -> Vec<String> {
    let keys: BTreeSet<&String> = catalogue
        .iter()
        .filter_map(|p| p.fields.attributes.as_object())
        .flat_map(|attributes| attributes.keys())
        .collect();
    keys.into_iter()
        .filter(|k| !k.trim().is_empty() && Column::from_header(k).is_none())
        .cloned()
        .collect()
}

fn write(catalogue: &[Product]) -> Result<Vec<u8>> {
    let attributes = attribute_columns(catalogue);
    let mut out = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.as_bytes().to_vec());
    let header = HEADERS
        .iter()
        .map(|h| (*h).to_owned())
        .chain(attributes.iter().map(|k| k.trim().to_owned()));
    out.write_record(header).map_err(anyhow::Error::from)?;
    for product in catalogue {
        let fields = &product.fields;
        let attribute = |key: &String| match fields.attributes.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let record = [
            fields.sku.as_ref().map(Sku::to_string).unwrap_or_default(),
            fields.name.clone(),
            fields.description.clone(),
            fields.category.clone(),
            fields.price_xof.to_string(),
            fields.stock.map(|s| s.to_string()).unwrap_or_default(),
            fields.image_url.clone().unwrap_or_default(),
            if fields.active { "oui" } else { "non" }.to_owned(),
        ]
        .into_iter()
        .chain(attributes.iter().map(attribute));
        out.write_record(record).map_err(anyhow::Error::from)?;
    }
    out.into_inner()
        .map_err(|e| anyhow::anyhow!("cannot finish the CSV export: {e}").into())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use schemas::commerce::Xof;
    use serde_json::json;
    use store::products::ProductFields;
    use uuid::Uuid;

    use super::*;

    fn product(name: &str, sku: Option<&str>, attributes: Value) -> Product {
        Product {
            product_id: Uuid::new_v4(),
            fields: ProductFields {
                sku: sku.map(|s| Sku::new(s).expect("valid SKU")),
                name: name.into(),
                description: "Coton; motif \"fleurs\"\nlavable".into(),
                category: "Robes".into(),
                price_xof: Xof::price(15_000).expect("valid price"),
                stock: None,
                image_url: Some("https://exemple.ci/robe.jpg".into()),
                attributes,
                active: false,
            },
            created_at: Utc::now(),
            updated_at: Utc::now(),
            duplicate_name: false,
        }
    }

    #[test]
    fn an_export_starts_with_a_bom_and_french_semicolon_headers() {
        let csv = write(&[]).expect("csv");
        let text = String::from_utf8(csv).expect("utf-8");
        assert!(text.starts_with("\u{FEFF}Référence;Nom;"), "{text}");
        assert!(text.ends_with("Actif\r\n"), "{text:?}");
    }

    #[test]
    fn an_export_reads_back_as_the_same_products() {
        let catalogue = [
            product(
                "Sandales dorées",
                Some("SD-1"),
                json!({"taille": "38", "couleur": "or", "poids": 2, "prix": "ignoré"}),
            ),
            product("Pagne", None, json!({})),
        ];

        let csv = write(&catalogue).expect("csv");
        let rows = super::super::import::parse(&super::super::import::decode(&csv))
            .expect("the import reads the export");

        assert_eq!(rows.len(), 2);
        let (_, sandales) = &rows[0];
        assert_eq!(sandales.sku.as_ref().map(Sku::as_str), Some("SD-1"));
        assert_eq!(sandales.name, "Sandales dorées");
        assert_eq!(sandales.description, catalogue[0].fields.description);
        assert_eq!(sandales.price_xof.get(), 15_000);
        assert_eq!(sandales.stock, None, "unlimited stays unlimited");
        assert!(!sandales.active);
        assert_eq!(
            sandales.attributes,
            json!({"taille": "38", "couleur": "or", "poids": "2"}),
            "text attributes round-trip; others come back as their text; product-field names are left out"
        );
        assert_eq!(rows[1].1.sku, None);
        assert_eq!(rows[1].1.attributes, json!({}));
    }
}
