//! The catalogue as a shop owner uses it.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{error_code, spawn_app};

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_manages_its_catalogue(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let robe = app
        .create_product_ok(
            &shop,
            json!({"sku": "RW-1", "name": "Robe wax", "category": "Robes", "price_xof": 15000, "stock": 3,
                   "attributes": {"taille": "M"}}),
        )
        .await;
    assert_eq!(robe["price_xof"], 15000);
    assert_eq!(robe["active"], true, "active by default");
    let pagne = app
        .create_product_ok(&shop, json!({"name": "Pagne", "price_xof": 7500}))
        .await;
    assert_eq!(pagne["stock"], Value::Null, "no stock means unlimited");

    let list: Value = app.list_products(&shop).await.json().await.expect("json");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["Pagne", "Robe wax"], "alphabetical");
    assert_eq!(list["total"], 2);

    let search: Value = app
        .list_products_with(&shop, &[("q", "wax")])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(search["items"].as_array().map(Vec::len), Some(1));

    let id = robe["product_id"].as_str().expect("id");
    let patched = app
        .update_product(&shop, id, json!({"price_xof": 14000, "stock": null}))
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("json");
    assert_eq!(patched["price_xof"], 14000);
    assert_eq!(
        patched["stock"],
        Value::Null,
        "null clears the stock (unlimited)"
    );
    assert_eq!(patched["name"], "Robe wax", "absent fields are unchanged");

    let read: Value = app
        .read_product(&shop, id)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read, patched);

    assert_eq!(app.delete_product(&shop, id).await.status(), 204);
    assert_eq!(app.read_product(&shop, id).await.status(), 404);
    assert_eq!(app.delete_product(&shop, id).await.status(), 404);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_sku_is_unique_within_a_shop(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    app.create_product_ok(
        &shop,
        json!({"sku": "RW-1", "name": "Robe wax", "price_xof": 15000}),
    )
    .await;

    let response = app
        .create_product(
            &shop,
            json!({"sku": "RW-1", "name": "Autre", "price_xof": 1}),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "sku_taken");
    assert_eq!(app.count("product", shop.tenant_id).await, 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn invalid_products_are_refused_and_nothing_is_written(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let cases = [
        (
            json!({"name": "Robe", "price_xof": -1}),
            "price_xof",
            "negative price",
        ),
        (json!({"name": "", "price_xof": 100}), "name", "empty name"),
        (
            json!({"name": "x".repeat(201), "price_xof": 100}),
            "name",
            "name too long",
        ),
        (
            json!({"name": "Robe", "price_xof": 100, "stock": -3}),
            "stock",
            "negative stock",
        ),
        (
            json!({"name": "Robe", "price_xof": 100, "image_url": "javascript:alert(1)"}),
            "image_url",
            "not a web address",
        ),
        (
            json!({"name": "Robe", "price_xof": 100, "sku": "a b"}),
            "sku",
            "space in SKU",
        ),
        (
            json!({"name": "Robe", "price_xof": 100, "attributes": [1, 2]}),
            "attributes",
            "attributes not an object",
        ),
    ];
    for (body, field, case) in cases {
        let response = app.create_product(&shop, body).await;
        assert_eq!(response.status(), 422, "{case}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["fields"][0]["field"], field, "{case}");
    }
    let pagne = app
        .create_product_ok(&shop, json!({"name": "Pagne", "price_xof": 7500}))
        .await;
    let id = pagne["product_id"].as_str().expect("id");
    let bad_patch = app
        .update_product(&shop, id, json!({"price_xof": -5}))
        .await;
    assert_eq!(bad_patch.status(), 422);
    let price: i64 = sqlx::query_scalar("select price_xof from product")
        .fetch_one(&app.admin_db)
        .await
        .expect("price");
    assert_eq!(price, 7500, "a refused patch changes nothing");
    assert_eq!(app.count("product", shop.tenant_id).await, 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_plan_caps_the_catalogue_size(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Petite boutique", "starter").await;
    let csv: String = std::iter::once("nom,prix".to_owned())
        .chain((1..=50).map(|i| format!("Article {i},{i}00")))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        app.import_products(&shop, &csv, &[]).await.status(),
        200,
        "the Starter plan allows 50 products"
    );

    let response = app
        .create_product(&shop, json!({"name": "Un de trop", "price_xof": 100}))
        .await;
    assert_eq!(response.status(), 402);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "plan_limit_reached");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Starter") && m.contains("50"))
    );
    assert_eq!(app.count("product", shop.tenant_id).await, 50);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_bot_identity_is_read_and_replaced(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;

    let defaults: Value = app.read_bot(&shop).await.json().await.expect("json");
    assert_eq!(defaults["bot_name"], "Awa");
    assert_eq!(defaults["language"], "fr");

    let body = json!({
        "bot_name": "Koffi", "tone": "enthusiastic", "language": "fr",
        "instructions": "Livraison gratuite à Abobo.",
        "business_hours": [{"day": 0, "open": "08:00", "close": "20:00"}],
        "out_of_hours_message": "Nous sommes fermés, on vous répond demain."
    });
    let response = app.replace_bot(&shop, body).await;
    assert_eq!(response.status(), 200);
    let saved: Value = app.read_bot(&shop).await.json().await.expect("json");
    assert_eq!(saved["bot_name"], "Koffi");
    assert_eq!(saved["business_hours"][0]["close"], "20:00");

    let invalid = json!({"bot_name": "", "tone": "rude", "language": "de", "instructions": "",
                         "business_hours": [{"day": 9, "open": "20:00", "close": "08:00"}],
                         "out_of_hours_message": ""});
    let response = app.replace_bot(&shop, invalid).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["error"]["fields"].as_array().map(Vec::len),
        Some(5),
        "{body}"
    );
    let unchanged: Value = app.read_bot(&shop).await.json().await.expect("json");
    assert_eq!(unchanged["bot_name"], "Koffi");
}

/// A complete bot identity, as PUT requires.
fn koffi() -> Value {
    json!({
        "bot_name": "Koffi", "tone": "friendly", "language": "fr",
        "instructions": "Livraison gratuite à Abobo.",
        "business_hours": [{"day": 0, "open": "08:00", "close": "20:00"}],
        "out_of_hours_message": "Nous sommes fermés."
    })
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_put_of_the_bot_without_every_field_is_refused_and_erases_nothing(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    assert_eq!(app.replace_bot(&shop, koffi()).await.status(), 200);

    // Act: the instructions and the business hours are forgotten
    let response = app
        .replace_bot(
            &shop,
            json!({"bot_name": "Awa", "tone": "casual", "language": "fr", "out_of_hours_message": ""}),
        )
        .await;

    // Assert
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    let fields = &body["error"]["fields"];
    assert_eq!(
        fields,
        &json!([
            {"field": "instructions", "message": "Champ obligatoire manquant."},
            {"field": "business_hours", "message": "Champ obligatoire manquant."}
        ]),
        "{body}"
    );
    let saved: Value = app.read_bot(&shop).await.json().await.expect("json");
    assert_eq!(saved["bot_name"], "Koffi");
    assert_eq!(saved["instructions"], "Livraison gratuite à Abobo.");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_patch_of_the_bot_changes_only_the_fields_it_names(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    app.replace_bot(&shop, koffi()).await;

    // Act
    let response = app
        .update_bot(&shop, json!({"tone": "casual", "bot_name": "Koffi B."}))
        .await;

    // Assert
    assert_eq!(response.status(), 200);
    let patched: Value = response.json().await.expect("json");
    assert_eq!(patched["tone"], "casual");
    assert_eq!(patched["bot_name"], "Koffi B.");
    assert_eq!(
        patched["instructions"], "Livraison gratuite à Abobo.",
        "untouched"
    );
    assert_eq!(
        patched["business_hours"],
        koffi()["business_hours"],
        "untouched"
    );
    assert_eq!(
        patched["out_of_hours_message"], "Nous sommes fermés.",
        "untouched"
    );

    let refused = app
        .update_bot(&shop, json!({"language": "de", "business_hours": []}))
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_code(refused).await, "validation_failed");
    let saved: Value = app.read_bot(&shop).await.json().await.expect("json");
    assert_eq!(saved, patched, "a refused patch changes nothing");

    let doc = app.openapi_doc().await;
    for method in ["put", "patch"] {
        assert!(
            doc["paths"]["/api/v1/bot"][method]["requestBody"].is_object(),
            "{method} /api/v1/bot is documented"
        );
    }
}

/// The names of a product list response.
fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect()
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn product_search_ignores_accents_and_case_and_counts_the_matches(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    for (name, category) in [
        ("Sandales dorées", "Chaussures"),
        ("Sac à main", "Maroquinerie"),
        ("Robe wax", "Robes"),
    ] {
        app.create_product_ok(
            &shop,
            json!({"name": name, "category": category, "price_xof": 1000}),
        )
        .await;
    }

    for q in ["dorees", "DOREES", "dorées", "SANDALES DORÉES", "chaussure"] {
        // Act
        let list: Value = app
            .list_products_with(&shop, &[("q", q)])
            .await
            .json()
            .await
            .expect("json");

        // Assert
        assert_eq!(names(&list), ["Sandales dorées"], "q={q}");
        assert_eq!(list["matching"], 1, "q={q}: the filtered count");
        assert_eq!(list["total"], 3, "q={q}: the shop's count");
    }
    let page: Value = app
        .list_products_with(&shop, &[("limit", "1")])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(names(&page), ["Robe wax"]);
    assert_eq!(page["matching"], 3, "every page counts all the matches");
    let none: Value = app
        .list_products_with(&shop, &[("q", "100%")])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(none["matching"], 0, "% is a character, not a wildcard");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn two_active_products_with_the_same_name_are_flagged(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let first = app
        .create_product_ok(&shop, json!({"name": "Sandales dorées", "price_xof": 1000}))
        .await;
    let second = app
        .create_product_ok(
            &shop,
            json!({"name": " SANDALES  DOREES", "price_xof": 1200}),
        )
        .await;
    let other = app
        .create_product_ok(&shop, json!({"name": "Robe wax", "price_xof": 1000}))
        .await;
    let foreign = app.signup("Boutique Marcory").await;
    let elsewhere = app
        .create_product_ok(
            &foreign,
            json!({"name": "Sandales dorées", "price_xof": 1000}),
        )
        .await;

    // Assert: flagged on creation, in the list and on read
    assert_eq!(first["duplicate_name"], false, "alone when created");
    assert_eq!(second["duplicate_name"], true);
    assert_eq!(other["duplicate_name"], false);
    assert_eq!(
        elsewhere["duplicate_name"], false,
        "another shop's product is not a duplicate"
    );
    let list: Value = app.list_products(&shop).await.json().await.expect("json");
    let flags: Vec<(&str, bool)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default(),
                p["duplicate_name"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("Robe wax", false),
            ("SANDALES  DOREES", true),
            ("Sandales dorées", true)
        ],
        "alphabetical; names are stored trimmed"
    );

    // Act: deactivating one clears the flag of both
    let id = second["product_id"].as_str().expect("id");
    let patched: Value = app
        .update_product(&shop, id, json!({"active": false}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(patched["duplicate_name"], false);
    let read: Value = app
        .read_product(&shop, first["product_id"].as_str().expect("id"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read["duplicate_name"], false);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_database_folds_text_exactly_as_store_text_fold(pool: PgPool) {
    for sample in [
        "Sandales dorées",
        "CRÈME BRÛLÉE",
        "Cœur & Œuvre, Æther",
        "Ça coûte combien ? À 5 000 F",
        "Niño, Ÿ, ÿ, ý, Ý",
        "Déjà vu — «ÉTÉ»",
    ] {
        let folded: String = sqlx::query_scalar("select tdj_fold($1)")
            .bind(sample)
            .fetch_one(&pool)
            .await
            .expect("tdj_fold");
        assert_eq!(folded, store::text::fold(sample), "{sample}");
    }
}
