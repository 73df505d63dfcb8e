//! CSV catalogue import: all or nothing, with a per-row report.

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_good_file_is_imported_and_a_reimport_updates_by_sku(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let csv = "Référence;Nom;Catégorie;Prix (FCFA);Quantité;Couleur\n\
               RW-1;Robe wax;Robes;15 000 F;3;Rouge\n\
               PG-1;Pagne;Tissus;7500;;\n\
               ;Sac à main;Accessoires;12.000;2;\n";

    let response = app.import_products(&shop, csv, &[]).await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.expect("json");
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64()),
        (Some(3), Some(0))
    );

    let list: Value = app
        .list_products_with(&shop, &[("q", "robe")])
        .await
        .json()
        .await
        .expect("json");
    let robe = &list["items"][0];
    assert_eq!(robe["price_xof"], 15000);
    assert_eq!(robe["stock"], 3);
    assert_eq!(robe["category"], "Robes");
    assert_eq!(robe["attributes"]["Couleur"], "Rouge");

    let update = "sku,name,price\nRW-1,Robe wax premium,16000\nNEW-1,Chemise,9000\n";
    let report: Value = app
        .import_products(&shop, update, &[])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        app.count("product", shop.tenant_id).await,
        4,
        "the SKU matched: no duplicate"
    );
    let price: i64 = sqlx::query_scalar("select price_xof from product where sku = 'RW-1'")
        .fetch_one(&app.admin_db)
        .await
        .expect("price");
    assert_eq!(price, 16000);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_file_with_bad_rows_is_rejected_whole_with_a_report(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let csv =
        "nom,prix,stock\nRobe,15000,2\n,5000,1\nPagne,douze,1\nSac,12000,-1\nChemise,9000,4\n";

    let response = app.import_products(&shop, csv, &[]).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "import_rejected");
    let rows = body["error"]["details"]["rows"].as_array().expect("rows");
    let reported: Vec<(u64, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(reported, [(3, "name"), (4, "price_xof"), (5, "stock")]);
    assert!(
        rows.iter()
            .all(|r| r["message"].as_str().is_some_and(|m| !m.is_empty()))
    );
    assert_eq!(
        app.count("product", shop.tenant_id).await,
        0,
        "nothing half-imported"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_dry_run_reports_without_writing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let report: Value = app
        .import_products(&shop, "nom,prix\nRobe,100\n", &[("dry_run", "true")])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(report["created"], 1);
    assert_eq!(report["dry_run"], true);
    assert_eq!(app.count("product", shop.tenant_id).await, 0);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn only_csv_bodies_are_accepted(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let response = app
        .client
        .post(format!("{}/api/v1/products/import", app.address))
        .bearer_auth(&shop.token)
        .json(&serde_json::json!({"nom": "Robe"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 415);
    let missing_columns = app
        .import_products(&shop, "sku,description\nA,b\n", &[])
        .await;
    assert_eq!(missing_columns.status(), 422);
    let empty = app.import_products(&shop, "nom,prix\n", &[]).await;
    assert_eq!(empty.status(), 400);
}

/// A product's fields as the catalogue shows them, without ids and dates.
fn fields(product: &Value) -> Value {
    let mut product = product.clone();
    for key in ["product_id", "created_at", "updated_at"] {
        product.as_object_mut().expect("object").remove(key);
    }
    product
}

async fn catalogue(app: &crate::helpers::TestApp, shop: &crate::helpers::Shop) -> Vec<Value> {
    let list: Value = app
        .list_products_with(shop, &[("limit", "200")])
        .await
        .json()
        .await
        .expect("json");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(fields)
        .collect()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn an_exported_catalogue_imports_back_unchanged(pool: PgPool) {
    // Arrange: a catalogue with accents, separators and quotes in the text, attributes, an inactive product
    let app = spawn_app(pool).await;
    let abobo = app.signup("Friperie Abobo").await;
    let marcory = app.signup("Boutique Marcory").await;
    for product in [
        serde_json::json!({"sku": "SD-38", "name": "Sandales dorées", "category": "Chaussures",
            "description": "Cuir; semelle \"confort\"\nTaille normale", "price_xof": 12500, "stock": 4,
            "attributes": {"taille": "38", "couleur": "Or"}}),
        serde_json::json!({"sku": "PG-1", "name": "Pagne wax", "price_xof": 7500,
            "image_url": "https://exemple.ci/pagne.jpg", "active": false}),
        serde_json::json!({"sku": "CH-1", "name": "Chemise lin", "price_xof": 9000, "stock": 0,
            "attributes": {"taille": "L"}}),
    ] {
        app.create_product_ok(&abobo, product).await;
    }

    // Act: export from one shop, import into another
    let response = app.export_products(&abobo).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = response.bytes().await.expect("body");
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
    assert!(
        text.starts_with("\u{FEFF}Référence;Nom;"),
        "BOM and semicolons for French spreadsheets: {text}"
    );
    let imported = app.import_products(&marcory, &text, &[]).await;
    assert_eq!(imported.status(), 200, "{:?}", imported.text().await);

    // Assert
    assert_eq!(
        catalogue(&app, &marcory).await,
        catalogue(&app, &abobo).await
    );
    let foreign: Value = app
        .export_products(&marcory)
        .await
        .text()
        .await
        .map(Value::from)
        .expect("text");
    assert_eq!(
        foreign.as_str().map(|t| t.matches("\r\n").count()),
        Some(4),
        "each shop exports its own products only: a header and 3 records"
    );
}
