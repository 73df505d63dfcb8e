//! Two shops side by side: neither can read, change or even detect the other's data.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn products_are_isolated_between_tenants(pool: PgPool) {
    let app = spawn_app(pool).await;
    let abobo = app.signup("Friperie Abobo").await;
    let marcory = app.signup("Boutique Marcory").await;
    let robe = app
        .create_product_ok(
            &abobo,
            json!({"sku": "RW-1", "name": "Robe wax", "price_xof": 15000, "stock": 3}),
        )
        .await;
    let id = robe["product_id"].as_str().expect("id");
    let unknown = uuid::Uuid::new_v4().to_string();

    // Another tenant's id answers exactly like an id that does not exist.
    let foreign_read = app.read_product(&marcory, id).await;
    let unknown_read = app.read_product(&marcory, &unknown).await;
    assert_eq!(foreign_read.status(), 404);
    assert_eq!(
        foreign_read.text().await.expect("body"),
        unknown_read.text().await.expect("body")
    );

    let patch = app
        .update_product(&marcory, id, json!({"price_xof": 1}))
        .await;
    assert_eq!(patch.status(), 404, "no write through another tenant's id");
    let delete = app.delete_product(&marcory, id).await;
    assert_eq!(delete.status(), 404);

    let list: Value = app
        .list_products_with(&marcory, &[("q", "robe")])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["total"], 0,
        "the other shop's catalogue is invisible, even in counts"
    );

    // The same SKU in the other shop is its own product, not an update of the first shop's.
    let report: Value = app
        .import_products(&marcory, "sku,nom,prix\nRW-1,Robe copiée,1\n", &[])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(report["created"], 1);

    let untouched: Value = app
        .read_product(&abobo, id)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(untouched, robe, "the owner's product is unchanged");
    assert_eq!(app.count("product", abobo.tenant_id).await, 1);
    assert_eq!(app.count("product", marcory.tenant_id).await, 1);
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn bot_settings_are_isolated_between_tenants(pool: PgPool) {
    let app = spawn_app(pool).await;
    let abobo = app.signup("Friperie Abobo").await;
    let marcory = app.signup("Boutique Marcory").await;

    let body = json!({"bot_name": "Koffi", "tone": "casual", "language": "fr", "instructions": "Secret d'Abobo",
                      "business_hours": [], "out_of_hours_message": ""});
    assert_eq!(app.replace_bot(&abobo, body).await.status(), 200);

    let other: Value = app.read_bot(&marcory).await.json().await.expect("json");
    assert_eq!(other["bot_name"], "Awa");
    assert_eq!(other["instructions"], "");
    let me: Value = app.me(&marcory).await.json().await.expect("json");
    assert_eq!(me["tenant"]["name"], "Boutique Marcory");
}
