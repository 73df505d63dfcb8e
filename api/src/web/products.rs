//! Catalogue screens: list with search and category filter, create / edit / deactivate, stock, photo with a
//! thumbnail, CSV import with the per-row report, CSV export. Every change goes through the same functions as
//! `/api/v1/products*` (validation, plan limit, audit).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use schemas::commerce::Sku;
use serde::Deserialize;
use serde_json::Value;
use store::products::Product;

use super::error::{WebError, WebResult};
use super::form::{Posted, verify};
use super::i18n::{Lang, group_thousands};
use super::session::Session;
use super::view::{Chrome, FieldErrors, Flash, field_errors, render};
use crate::AppState;
use crate::error::FieldError;
use crate::products::import::{ImportReport, MAX_CSV_BYTES};
use crate::products::input::{NewProduct, ProductPatch};
use crate::products::{ListQuery, parse_id};

/// Products per page of the list.
const PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/products", get(list))
        .route("/app/products/new", get(new_page).post(create))
        .route("/app/products/export.csv", get(export))
        .route(
            "/app/products/import",
            get(import_page)
                .post(import)
                .layer(DefaultBodyLimit::max(MAX_CSV_BYTES + 64 * 1024)),
        )
        .route("/app/products/{id}", get(edit_page).post(update))
        .route("/app/products/{id}/active", post(set_active))
}

/// A product line of the list.
struct Row {
    id: String,
    name: String,
    category: String,
    price: String,
    stock: String,
    low_stock: bool,
    image_url: String,
    active: bool,
    duplicate: bool,
}

fn row(lang: Lang, p: &Product, duplicate: bool) -> Row {
    let fields = &p.fields;
    Row {
        id: p.product_id.to_string(),
        name: fields.name.clone(),
        category: fields.category.clone(),
        price: lang.money(fields.price_xof.get()),
        stock: match fields.stock {
            Some(n) => lang.tf("products.in_stock", &[("n", &group_thousands(n.into()))]),
            None => lang.t("products.unlimited").into_owned(),
        },
        low_stock: fields.stock.is_some_and(|n| n.get() <= 2),
        image_url: fields.image_url.clone().unwrap_or_default(),
        active: fields.active,
        duplicate,
    }
}

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    page: Option<i64>,
}

#[derive(askama::Template)]
#[template(path = "products.html")]
struct ListTemplate {
    chrome: Chrome,
    rows: Vec<Row>,
    q: String,
    category: String,
    categories: Vec<String>,
    matching: i64,
    shop_total: i64,
    page: i64,
    pages: i64,
    query_base: String,
}

/// The catalogue: search, filter by category, page through.
#[utoipa::path(get, path = "/app/products", operation_id = "productsPage", tag = "pages",
    params(("q" = Option<String>, Query, description = "Part of the name, SKU or category (accents and case ignored)"),
           ("category" = Option<String>, Query, description = "Only this category"),
           ("page" = Option<i64>, Query, description = "Page number, from 1")),
    responses(crate::openapi::pages::SignedInPage))]
async fn list(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
    Query(params): Query<ListParams>,
) -> WebResult<Response> {
    let chrome = Chrome::load(&state, &session, "products", "products.title", flash).await?;
    let lang = chrome.lang;
    let page = params.page.unwrap_or(1).max(1);
    let listed = crate::products::list_products(
        &state,
        &session.user,
        ListQuery {
            q: Some(params.q.clone()).filter(|q| !q.trim().is_empty()),
            category: Some(params.category.clone()).filter(|c| !c.is_empty()),
            active: None,
            limit: Some(PAGE),
            offset: Some((page - 1) * PAGE),
        },
    )
    .await?;
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let categories = store::products::categories(&mut tx).await?;
    tx.commit().await?;
    let matching = listed.matching;
    let query_base =
        serde_urlencoded::to_string([("q", &params.q), ("category", &params.category)])
            .unwrap_or_default();
    render(&ListTemplate {
        rows: listed.items.iter().map(|p| row(lang, p, false)).collect(),
        q: params.q,
        category: params.category,
        categories,
        matching,
        shop_total: listed.total,
        page,
        pages: (matching + PAGE - 1) / PAGE,
        query_base,
        chrome,
    })
}

/// The product form's text values.
#[derive(Deserialize, Default, Clone)]
pub struct ProductForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    price_xof: String,
    #[serde(default)]
    stock: String,
    #[serde(default)]
    image_url: String,
    /// A checkbox: present when checked.
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    from: String,
}

impl ProductForm {
    fn of(p: &Product) -> Self {
        let fields = &p.fields;
        ProductForm {
            name: fields.name.clone(),
            sku: fields.sku.as_ref().map(Sku::to_string).unwrap_or_default(),
            description: fields.description.clone(),
            category: fields.category.clone(),
            price_xof: fields.price_xof.to_string(),
            stock: fields.stock.map(|s| s.to_string()).unwrap_or_default(),
            image_url: fields.image_url.clone().unwrap_or_default(),
            active: fields.active.then(|| "on".into()),
            from: String::new(),
        }
    }

    /// Parses the numbers as shops type them ("5 000", "5000 F"); the rest is validated by the shared
    /// product validation.
    fn parse(&self) -> Result<Parsed, FieldErrors> {
        let mut errors = Vec::new();
        let price = parse_amount(&self.price_xof);
        if price.is_none() {
            errors.push(FieldError {
                field: "price_xof".into(),
                message: "Prix invalide : un nombre entier de francs CFA, par exemple 5000.".into(),
            });
        }
        let stock = if self.stock.trim().is_empty() {
            Some(None)
        } else {
            parse_amount(&self.stock).map(Some)
        };
        if stock.is_none() {
            errors.push(FieldError {
                field: "stock".into(),
                message: "Stock invalide : un nombre entier, ou vide pour un stock illimité."
                    .into(),
            });
        }
        match (price, stock) {
            (Some(price), Some(stock)) if errors.is_empty() => Ok(Parsed { price, stock }),
            _ => Err(FieldErrors(errors)),
        }
    }

    fn optional(text: &str) -> Option<String> {
        Some(text.trim().to_owned()).filter(|t| !t.is_empty())
    }

    fn new_product(&self, parsed: &Parsed) -> NewProduct {
        NewProduct {
            sku: Self::optional(&self.sku),
            name: self.name.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            price_xof: parsed.price,
            stock: parsed.stock,
            image_url: Self::optional(&self.image_url),
            attributes: Value::Object(Default::default()),
            active: self.active.is_some(),
        }
    }

    fn patch(&self, parsed: &Parsed) -> ProductPatch {
        ProductPatch {
            sku: Some(Self::optional(&self.sku)),
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            category: Some(self.category.clone()),
            price_xof: Some(parsed.price),
            stock: Some(parsed.stock),
            image_url: Some(Self::optional(&self.image_url)),
            attributes: None,
            active: Some(self.active.is_some()),
        }
    }
}

struct Parsed {
    price: i64,
    stock: Option<i64>,
}

/// "5 000", "5.000", "5000 F", "5 000 FCFA" → 5000; anything else → None.
fn parse_amount(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text
        .strip_suffix("FCFA")
        .or_else(|| text.strip_suffix("CFA"))
        .or_else(|| text.strip_suffix('F'))
        .unwrap_or(text);
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.' && *c != '\u{202f}')
        .collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[derive(askama::Template)]
#[template(path = "product_form.html")]
struct FormTemplate {
    chrome: Chrome,
    form: ProductForm,
    errors: FieldErrors,
    /// None for a new product.
    id: Option<String>,
    active: bool,
}

/// The form for a new product.
#[utoipa::path(
    get,
    path = "/app/products/new",
    operation_id = "newProductPage",
    tag = "pages",
    responses(crate::openapi::pages::SignedInPage)
)]
async fn new_page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
    Query(from): Query<FromQuery>,
) -> WebResult<Response> {
    let chrome = Chrome::load(&state, &session, "products", "products.new", flash).await?;
    render(&FormTemplate {
        chrome,
        form: ProductForm {
            active: Some("on".into()),
            from: from.from.unwrap_or_default(),
            ..ProductForm::default()
        },
        errors: FieldErrors::default(),
        id: None,
        active: true,
    })
}

#[derive(Deserialize, Default)]
struct FromQuery {
    from: Option<String>,
}

async fn form_again(
    state: &AppState,
    session: &Session,
    form: ProductForm,
    errors: FieldErrors,
    id: Option<String>,
) -> WebResult<Response> {
    let title = if id.is_some() {
        "products.edit"
    } else {
        "products.new"
    };
    let chrome = Chrome::load(state, session, "products", title, Flash::default()).await?;
    let active = form.active.is_some();
    let page = render(&FormTemplate {
        chrome,
        form,
        errors,
        id,
        active,
    })?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// A failed save: field errors go next to the fields, a plan limit or a taken SKU above the form.
fn save_errors(error: crate::Error) -> WebResult<FieldErrors> {
    match error {
        crate::Error::Conflict { message, .. } => Ok(FieldErrors(vec![FieldError {
            field: "sku".into(),
            message,
        }])),
        crate::Error::PlanLimit(message) => Ok(FieldErrors(vec![FieldError {
            field: "form".into(),
            message,
        }])),
        other => field_errors(other),
    }
}

async fn create(State(state): State<AppState>, posted: Posted<ProductForm>) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let parsed = match form.parse() {
        Ok(parsed) => parsed,
        Err(errors) => return form_again(&state, &session, form, errors, None).await,
    };
    match crate::products::create_product(&state, &session.user, form.new_product(&parsed)).await {
        Ok(_) if form.from == "onboarding" => {
            Ok(Redirect::to("/app/onboarding/products?done=created").into_response())
        }
        Ok(_) => Ok(Redirect::to("/app/products?done=created").into_response()),
        Err(e) => {
            let errors = save_errors(e)?;
            form_again(&state, &session, form, errors, None).await
        }
    }
}

/// A product's edit form.
#[utoipa::path(get, path = "/app/products/{id}", operation_id = "productPage", tag = "pages",
    params(("id" = Uuid, Path, description = "The product")),
    responses(crate::openapi::pages::SignedInPage,
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown product, or another shop's")))]
async fn edit_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    flash: Flash,
) -> WebResult<Response> {
    let id = parse_id(&id)?;
    let product = crate::products::get_product(&state, &session.user, id).await?;
    let chrome = Chrome::load(&state, &session, "products", "products.edit", flash).await?;
    render(&FormTemplate {
        chrome,
        form: ProductForm::of(&product),
        errors: FieldErrors::default(),
        id: Some(product.product_id.to_string()),
        active: product.fields.active,
    })
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ProductForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let id = parse_id(&id)?;
    let parsed = match form.parse() {
        Ok(parsed) => parsed,
        Err(errors) => {
            return form_again(&state, &session, form, errors, Some(id.to_string())).await;
        }
    };
    match crate::products::update_product(&state, &session.user, id, form.patch(&parsed)).await {
        Ok(_) => Ok(Redirect::to("/app/products?done=saved").into_response()),
        Err(crate::Error::NotFound(m)) => Err(crate::Error::NotFound(m).into()),
        Err(e) => {
            let errors = save_errors(e)?;
            form_again(&state, &session, form, errors, Some(id.to_string())).await
        }
    }
}

#[derive(Deserialize)]
struct ActiveForm {
    active: String,
}

/// Deactivates (the bot stops offering it; orders keep it) or reactivates a product.
async fn set_active(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ActiveForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let id = parse_id(&id)?;
    let active = form.active == "1";
    let patch = ProductPatch {
        active: Some(active),
        ..ProductPatch::default()
    };
    crate::products::update_product(&state, &session.user, id, patch).await?;
    let done = if active { "activated" } else { "deactivated" };
    Ok(Redirect::to(&format!("/app/products?done={done}")).into_response())
}

/// The catalogue as CSV, the same file as `GET /api/v1/products/export.csv`.
#[utoipa::path(get, path = "/app/products/export.csv", operation_id = "exportProductsCsv", tag = "pages",
    responses((status = 200, content_type = "text/csv", description = "The catalogue, one product per row"),
              (status = 303, description = "No live session: to `/login`")))]
async fn export(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    let csv = crate::products::export::export_csv(&state, &session.user).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"produits.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// One rejected row of an import.
struct BadRow {
    line: String,
    field: String,
    message: String,
}

#[derive(askama::Template)]
#[template(path = "import.html")]
struct ImportTemplate {
    chrome: Chrome,
    from: String,
    report: Option<ImportReport>,
    error: String,
    bad_rows: Vec<BadRow>,
}

/// The CSV import form.
#[utoipa::path(
    get,
    path = "/app/products/import",
    operation_id = "importProductsPage",
    tag = "pages",
    responses(crate::openapi::pages::SignedInPage)
)]
async fn import_page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
    Query(from): Query<FromQuery>,
) -> WebResult<Response> {
    let chrome = Chrome::load(&state, &session, "products", "import.title", flash).await?;
    render(&ImportTemplate {
        chrome,
        from: from.from.unwrap_or_default(),
        report: None,
        error: String::new(),
        bad_rows: Vec::new(),
    })
}

/// Imports an uploaded CSV file: all rows or none, with a report either way.
async fn import(
    State(state): State<AppState>,
    session: Session,
    mut multipart: Multipart,
) -> WebResult<Response> {
    let mut token = String::new();
    let mut from = String::new();
    let mut dry_run = false;
    let mut file: Option<Vec<u8>> = None;
    let unreadable = || WebError::Api(crate::Error::BadRequest("Formulaire illisible.".into()));
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        match field.name().unwrap_or_default() {
            "_csrf" => token = field.text().await.map_err(|_| unreadable())?,
            "from" => from = field.text().await.map_err(|_| unreadable())?,
            "dry_run" => dry_run = true,
            "file" => {
                // The token comes first in the form: refuse before reading a forged upload.
                verify(&session, &token)?;
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| WebError::Api(crate::Error::PayloadTooLarge))?;
                file = Some(bytes.to_vec());
            }
            _ => {}
        }
    }
    verify(&session, &token)?;
    let chrome = Chrome::load(
        &state,
        &session,
        "products",
        "import.title",
        Flash::default(),
    )
    .await?;
    let lang = chrome.lang;
    let bytes = file.filter(|b| !b.is_empty());
    let Some(bytes) = bytes else {
        let page = render(&ImportTemplate {
            chrome,
            from,
            report: None,
            error: lang.t("import.no_file").into_owned(),
            bad_rows: Vec::new(),
        })?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    match crate::products::import::import_csv(&state, &session.user, &bytes, dry_run).await {
        Ok(report) => render(&ImportTemplate {
            chrome,
            from,
            report: Some(report),
            error: String::new(),
            bad_rows: Vec::new(),
        }),
        Err(crate::Error::Rejected {
            message, details, ..
        }) => {
            let bad_rows = details["rows"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .map(|r| BadRow {
                            line: r["line"].to_string(),
                            field: r["field"].as_str().unwrap_or_default().to_owned(),
                            message: r["message"].as_str().unwrap_or_default().to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let page = render(&ImportTemplate {
                chrome,
                from,
                report: None,
                error: message,
                bad_rows,
            })?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(
            e @ (crate::Error::BadRequest(_)
            | crate::Error::PlanLimit(_)
            | crate::Error::PayloadTooLarge
            | crate::Error::Validation(_)),
        ) => {
            let error = match &e {
                crate::Error::Validation(fields) => fields
                    .iter()
                    .map(|f| f.message.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.user_message(),
            };
            let page = render(&ImportTemplate {
                chrome,
                from,
                report: None,
                error,
                bad_rows: Vec::new(),
            })?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn prices_are_read_the_way_shops_type_them() {
        assert_eq!(parse_amount("5000"), Some(5000));
        assert_eq!(parse_amount(" 5 000 "), Some(5000));
        assert_eq!(parse_amount("5.000"), Some(5000));
        assert_eq!(parse_amount("15 000 F"), Some(15000));
        assert_eq!(parse_amount("2 500 FCFA"), Some(2500));
        assert_eq!(parse_amount("cinq mille"), None);
        assert_eq!(parse_amount("12,5"), None);
        assert_eq!(parse_amount("-3"), None);
        assert_eq!(parse_amount(""), None);
    }
}
