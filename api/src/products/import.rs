//! `POST /api/v1/products/import`: a CSV catalogue, all or nothing.
//!
//! Built for files shop owners actually have: exported from Excel or Google Sheets, comma-, semicolon- or
//! tab-separated, UTF-8 or Windows-1252, French or English headers, prices written "5 000 F". Every row is
//! validated first; if any row is wrong the report lists each problem with its line and nothing is written.
//! Rows whose SKU already exists update that product; the others are created. Columns that are not product
//! fields (taille, couleur…) become attributes.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::audit;
use store::products::{self, ProductFields};

use super::input::NewProduct;
use crate::auth::AuthUser;
use crate::{AppState, Error, Result};

pub const MAX_CSV_BYTES: usize = 2 * 1024 * 1024;
const MAX_ROWS: usize = 5000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Validate and report without writing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// One problem in the file.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub dry_run: bool,
}

/// Imports a CSV catalogue (`Content-Type: text/csv`): all rows or none.
#[utoipa::path(post, path = "/api/v1/products/import", operation_id = "importProducts",
    tag = "products", params(ImportQuery),
    request_body(content((FileBody = "text/csv"), (FileBody = "application/octet-stream")),
        description = "Header row then one product per row. Columns: sku|reference, name|nom, description, \
                       category|categorie, price_xof|prix, stock|quantite (empty = unlimited), image_url|image, \
                       active|actif; other columns become attributes."),
    security(("bearer" = [])),
    responses((status = 200, body = ImportReport),
              (status = 400, description = "Unreadable CSV, or no product in it"),
              (status = 422, description = "Rows with errors (error.details.rows lists them); nothing imported"),
              (status = 402, description = "The plan's product limit would be exceeded; nothing imported"),
              (status = 415, description = "Not a CSV upload (`text/csv`, `text/plain`, `application/csv`, \
                                            `application/octet-stream` or `application/vnd.ms-excel`)")))]
pub async fn import(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<ImportReport>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ![
        "text/csv",
        "text/plain",
        "application/csv",
        "application/octet-stream",
        "application/vnd.ms-excel",
    ]
    .iter()
    .any(|t| content_type.starts_with(t))
    {
        return Err(Error::UnsupportedMediaType("text/csv"));
    }
    Ok(Json(import_csv(&state, &user, &body, query.dry_run).await?))
}

/// Imports a CSV catalogue (bytes as uploaded, any encoding [`decode`] reads): every row is validated
/// first, then all are written or none. With `dry_run`, validates and reports without writing.
pub(crate) async fn import_csv(
    state: &AppState,
    user: &AuthUser,
    bytes: &[u8],
    dry_run: bool,
) -> Result<ImportReport> {
    let rows = parse(&decode(bytes))?;

    let mut tx = state.db.tenant(user.ctx()).await?;
    let mut plan = Vec::with_capacity(rows.len());
    for (line, fields) in rows {
        let existing = match &fields.sku {
            Some(sku) => products::find_by_sku(&mut tx, sku)
                .await?
                .map(|p| p.product_id),
            None => None,
        };
        plan.push((line, existing, fields));
    }
    let created = plan
        .iter()
        .filter(|(_, existing, _)| existing.is_none())
        .count();
    let updated = plan.len() - created;
    super::ensure_room_for(&mut tx, i64::try_from(created).unwrap_or(i64::MAX)).await?;
    if dry_run {
        return Ok(ImportReport {
            created,
            updated,
            dry_run: true,
        });
    }
    for (_, existing, fields) in &plan {
        match existing {
            Some(id) => products::update(&mut tx, *id, fields).await?,
            None => products::create(&mut tx, fields).await?,
        };
    }
    audit::record(
        &mut tx,
        Some(user.user_id),
        "product.imported",
        serde_json::json!({ "created": created, "updated": updated }),
    )
    .await?;
    tx.commit().await?;
    Ok(ImportReport {
        created,
        updated,
        dry_run: false,
    })
}

/// Text of the upload: UTF-8 (with or without BOM), else Windows-1252 as Excel writes it on Windows.
pub(super) fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
    }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Column {
    Sku,
    Name,
    Description,
    Category,
    Price,
    Stock,
    Image,
    Active,
}

impl Column {
    fn field(self) -> &'static str {
        match self {
            Column::Sku => "sku",
            Column::Name => "name",
            Column::Description => "description",
            Column::Category => "category",
            Column::Price => "price_xof",
            Column::Stock => "stock",
            Column::Image => "image_url",
            Column::Active => "active",
        }
    }

    pub(crate) fn from_header(header: &str) -> Option<Self> {
        let h = fold(header);
        let h = h.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        Some(match h {
            "sku" | "reference" | "ref" | "code" | "code_produit" => Column::Sku,
            "name" | "nom" | "produit" | "designation" | "article" | "libelle" => Column::Name,
            "description" | "details" => Column::Description,
            "category" | "categorie" | "rayon" | "type" => Column::Category,
            "price" | "price_xof" | "prix" | "prix_xof" | "prix_fcfa" | "prix_cfa" | "tarif"
            | "montant" => Column::Price,
            "stock" | "quantite" | "qte" | "qty" | "quantity" => Column::Stock,
            "image" | "image_url" | "photo" | "url_image" | "photo_url" => Column::Image,
            "active" | "actif" | "disponible" | "en_vente" => Column::Active,
            _ => return None,
        })
    }
}

/// Lower case, accents folded, words joined by `_`: "Prix (FCFA)" → "prix_fcfa".
fn fold(s: &str) -> String {
    store::text::words(s, '_')
}

fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|d| header.matches(char::from(*d)).count())
        .unwrap_or(b',')
}

/// Parses and validates every row; returns them with their line numbers, or every error found.
pub(super) fn parse(text: &str) -> Result<Vec<(u64, ProductFields)>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(text))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| Error::BadRequest("Fichier CSV illisible.".into()))?
        .clone();
    let mut columns: HashMap<Column, usize> = HashMap::new();
    let mut attribute_columns = Vec::new();
    let mut errors = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        match Column::from_header(header) {
            Some(column) if columns.contains_key(&column) => errors.push(RowError {
                line: 1,
                field: header.to_owned(),
                message: format!("Colonne en double : « {header} »."),
            }),
            Some(column) => {
                columns.insert(column, index);
            }
            None if header.trim().is_empty() => {}
            None => attribute_columns.push((index, header.trim().to_owned())),
        }
    }
    for required in [Column::Name, Column::Price] {
        if !columns.contains_key(&required) {
            errors.push(RowError {
                line: 1,
                field: required.field().into(),
                message: format!(
                    "Colonne obligatoire absente : « {} ».",
                    if required == Column::Name {
                        "nom"
                    } else {
                        "prix"
                    }
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Err(rejected(errors));
    }

    let mut rows = Vec::new();
    let mut seen_skus = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    field: "ligne".into(),
                    message: "Ligne illisible (guillemets ?).".into(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() >= MAX_ROWS {
            errors.push(RowError {
                line,
                field: "fichier".into(),
                message: format!("Le fichier dépasse {MAX_ROWS} produits : découpez-le."),
            });
            break;
        }
        let cell = |column: Column| {
            columns
                .get(&column)
                .and_then(|&i| record.get(i))
                .unwrap_or("")
        };
        let mut row_errors = Vec::new();
        let mut fail = |column: Column, message: &str| {
            row_errors.push(RowError {
                line,
                field: column.field().into(),
                message: message.into(),
            })
        };
        let price = parse_price(cell(Column::Price)).unwrap_or_else(|message| {
            fail(Column::Price, message);
            0
        });
        let stock = parse_stock(cell(Column::Stock)).unwrap_or_else(|message| {
            fail(Column::Stock, message);
            None
        });
        let active = parse_bool(cell(Column::Active)).unwrap_or_else(|message| {
            fail(Column::Active, message);
            true
        });
        let attributes: Map<String, Value> = attribute_columns
            .iter()
            .filter_map(|(i, name)| {
                record
                    .get(*i)
                    .filter(|v| !v.is_empty())
                    .map(|v| (name.clone(), Value::from(v)))
            })
            .collect();
        let draft = NewProduct {
            sku: Some(cell(Column::Sku).to_owned()),
            name: cell(Column::Name).to_owned(),
            description: cell(Column::Description).to_owned(),
            category: cell(Column::Category).to_owned(),
            price_xof: price,
            stock,
            image_url: Some(cell(Column::Image).to_owned()),
            attributes: Value::Object(attributes),
            active,
        };
        // Checked on the SKU as written, so a row refused for another field still claims its SKU.
        let sku = draft
            .sku
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let fields = match draft.validate() {
            Ok(fields) => Some(fields),
            Err(Error::Validation(refused)) => {
                row_errors.extend(refused.into_iter().map(|e| RowError {
                    line,
                    field: e.field,
                    message: e.message,
                }));
                None
            }
            Err(other) => return Err(other),
        };
        if let Some(sku) = sku
            && !seen_skus.insert(sku.clone())
        {
            row_errors.push(RowError {
                line,
                field: "sku".into(),
                message: format!("La référence « {sku} » apparaît plusieurs fois dans le fichier."),
            });
        }
        match fields {
            Some(fields) if row_errors.is_empty() => rows.push((line, fields)),
            _ => errors.extend(row_errors),
        }
    }
    if !errors.is_empty() {
        return Err(rejected(errors));
    }
    if rows.is_empty() {
        return Err(Error::BadRequest(
            "Le fichier ne contient aucun produit.".into(),
        ));
    }
    Ok(rows)
}

fn rejected(rows: Vec<RowError>) -> Error {
    let lines: HashSet<u64> = rows.iter().map(|r| r.line).collect();
    Error::Rejected {
        code: "import_rejected",
        message: format!(
            "{} ligne(s) contiennent des erreurs : rien n'a été importé. Corrigez-les puis réessayez.",
            lines.len()
        ),
        details: serde_json::json!({ "rows": rows }),
    }
}

/// Prices as shop owners write them: [`crate::validate::parse_xof`].
fn parse_price(raw: &str) -> Result<i64, &'static str> {
    crate::validate::parse_xof(raw)
}

fn parse_stock(raw: &str) -> Result<Option<i64>, &'static str> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty()
        || matches!(
            s.to_lowercase().as_str(),
            "illimite" | "illimité" | "unlimited"
        )
    {
        return Ok(None);
    }
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| "Stock invalide : un nombre entier, ou vide pour illimité.")
}

fn parse_bool(raw: &str) -> Result<bool, &'static str> {
    match fold(raw).as_str() {
        "" | "oui" | "yes" | "true" | "vrai" | "1" | "o" | "y" | "x" => Ok(true),
        "non" | "no" | "false" | "faux" | "0" | "n" => Ok(false),
        _ => Err("Valeur invalide : oui ou non."),
    }
}

/// A file sent as the raw request body (the CSV import): its bytes, whatever their encoding.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(
    dead_code,
    reason = "describes a request body in the OpenAPI document; handlers read bytes"
)]
pub(crate) struct FileBody(Vec<u8>);

#[cfg(test)]
mod tests {
    use schemas::commerce::{Sku, Stock};

    use super::*;

    #[test]
    fn prices_are_read_as_shop_owners_write_them() {
        for (raw, expected) in [
            ("5000", Ok(5000)),
            ("5 000", Ok(5000)),
            ("5\u{202F}000 F", Ok(5000)),
            ("5.000", Ok(5000)),
            ("1.250.000 FCFA", Ok(1_250_000)),
            ("5000,00", Ok(5000)),
            ("0", Ok(0)),
            ("12,50", Err(())),
            ("-100", Err(())),
            ("", Err(())),
            ("cinq mille", Err(())),
        ] {
            assert_eq!(parse_price(raw).map_err(|_| ()), expected, "price {raw:?}");
        }
    }

    #[test]
    fn semicolon_files_with_french_headers_parse() {
        let csv = "Référence;Nom;Prix (FCFA);Quantité;Taille\nRW-1;Robe wax;15 000 F;3;M\nPG-2;Pagne;7500;;\n";
        let rows = parse(csv).expect("valid file");
        assert_eq!(rows.len(), 2);
        let (line, robe) = &rows[0];
        assert_eq!(*line, 2);
        assert_eq!(robe.sku.as_ref().map(Sku::as_str), Some("RW-1"));
        assert_eq!(robe.price_xof.get(), 15_000);
        assert_eq!(robe.stock.map(Stock::get), Some(3));
        assert_eq!(robe.attributes, serde_json::json!({ "Taille": "M" }));
        assert_eq!(rows[1].1.stock, None, "empty stock is unlimited");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let csv = "name,price\nOk,100\n,200\nBad price,12.5\nOk,300\nNeg,-1\n";
        let Err(Error::Rejected { details, .. }) = parse(csv) else {
            panic!("must be rejected")
        };
        let lines: Vec<u64> = details["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["line"].as_u64().unwrap_or(0))
            .collect();
        assert_eq!(lines, vec![3, 4, 6]);
    }

    #[test]
    fn missing_required_columns_are_reported() {
        assert!(matches!(
            parse("sku,description\nA,b\n"),
            Err(Error::Rejected { .. })
        ));
    }

    #[test]
    fn windows_1252_is_decoded() {
        assert_eq!(decode(b"caf\xe9 \x80"), "café €");
        assert_eq!(decode("\u{FEFF}é".as_bytes()), "é");
    }
}
