//! Orders of catalogue products: prices copied at ordering time, free lines only for those
//! allowed to send them, and lines refused by the product they name.

use serde_json::{Value, json};

use crate::helpers::{TestApp, item, spawn_app_with};

/// The shop's default: free lines from admins only.
async fn shop() -> TestApp {
    spawn_app_with(&[("ORDER_FREE_LINES", "admin")]).await
}

fn by_product(product: &Value, quantity: i64) -> Value {
    json!({"product_id": product["id"], "quantity": quantity})
}

#[tokio::test]
async fn a_line_by_product_copies_its_name_sku_and_price_for_good() {
    let app = shop().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let coffee = app
        .create_product(&admin.token, "COF-1KG", 1_890, None)
        .await;
    let order = app
        .create_order(&ada.token, json!([by_product(&coffee, 2)]))
        .await;
    assert_eq!(
        order["items"],
        json!([{
            "product_id": coffee["id"],
            "sku": "COF-1KG",
            "product": "Product COF-1KG",
            "quantity": 2,
            "unit_price_cents": 1_890,
            "line_total_cents": 3_780,
        }])
    );
    assert_eq!(order["total_cents"], 3_780);

    // A new price, name and sku change the catalogue, not the order.
    app.patch(
        &format!("/api/products/{}", coffee["id"]),
        Some(&admin.token),
        json!({"price_cents": 2_500, "name": "Coffee", "sku": "COF-2"}),
    )
    .await
    .assert_status(200);
    let id = order["id"].as_i64().unwrap();
    assert_eq!(app.order(&ada.token, id).await, order);
    // A new order pays the new price.
    let later = app
        .create_order(&ada.token, json!([by_product(&coffee, 1)]))
        .await;
    assert_eq!(later["items"][0]["unit_price_cents"], 2_500);
    assert_eq!(later["items"][0]["sku"], "COF-2");
}

#[tokio::test]
async fn free_lines_are_for_admins_unless_the_shop_opens_them_to_anyone() {
    let app = shop().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let tea = app.create_product(&admin.token, "TEA", 500, None).await;
    let lines = json!([
        by_product(&tea, 1),
        item("Cheap coffee", 1, 1),
        item("Gift", 1, 0)
    ]);
    let reply = app
        .post("/api/orders", Some(&ada.token), json!({"items": lines}))
        .await;
    reply.assert_invalid(&["items.1", "items.2"]);
    let reply = app
        .put(
            &format!(
                "/api/orders/{}",
                app.create_order(&ada.token, json!([by_product(&tea, 1)]))
                    .await["id"]
            ),
            Some(&ada.token),
            json!({"items": [item("Cheap coffee", 1, 1)]}),
        )
        .await;
    reply.assert_invalid(&["items.0"]);

    let order = app.create_order(&admin.token, lines.clone()).await;
    assert_eq!(order["total_cents"], 501);
    assert_eq!(order["items"][1]["product_id"], Value::Null);
    assert_eq!(order["items"][1]["sku"], Value::Null);

    let open = app.sibling_with(&[("ORDER_FREE_LINES", "anyone")]).await;
    let order = open.create_order(&ada.token, lines).await;
    assert_eq!(order["total_cents"], 501);
}

#[tokio::test]
async fn a_line_naming_both_neither_or_a_product_not_on_sale_is_a_422_naming_it() {
    let app = shop().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let tea = app.create_product(&admin.token, "TEA", 500, None).await;
    let francs = app
        .post(
            "/api/products",
            Some(&admin.token),
            json!({"sku": "CHOC", "name": "Chocolat", "price_cents": 300, "currency": "CHF"}),
        )
        .await
        .body;
    let withdrawn = app.create_product(&admin.token, "OLD", 100, None).await;
    app.patch(
        &format!("/api/products/{}", withdrawn["id"]),
        Some(&admin.token),
        json!({"active": false}),
    )
    .await
    .assert_status(200);

    for token in [&ada.token, &admin.token] {
        let reply = app
            .post(
                "/api/orders",
                Some(token),
                json!({"items": [
                    by_product(&tea, 1),
                    {"product_id": tea["id"], "product": "Tea", "unit_price_cents": 1, "quantity": 1},
                    {"quantity": 1},
                    by_product(&francs, 1),
                    by_product(&withdrawn, 1),
                    {"product_id": 999_999, "quantity": 1},
                ]}),
            )
            .await;
        // The shape of each line first; the catalogue is looked up once every line is whole.
        reply.assert_invalid(&["items.1", "items.2"]);
        let reply = app
            .post(
                "/api/orders",
                Some(token),
                json!({"items": [
                    by_product(&tea, 1),
                    by_product(&francs, 1),
                    by_product(&withdrawn, 1),
                    {"product_id": 999_999, "quantity": 1},
                ]}),
            )
            .await;
        reply.assert_invalid(&[
            "items.1.product_id",
            "items.2.product_id",
            "items.3.product_id",
        ]);
    }
    // In francs, the chocolate fits and the tea does not.
    let reply = app
        .post(
            "/api/orders",
            Some(&ada.token),
            json!({"currency": "CHF", "items": [by_product(&francs, 2), by_product(&tea, 1)]}),
        )
        .await;
    reply.assert_invalid(&["items.1.product_id"]);
    let order = app
        .create_order_with(
            &ada.token,
            json!({"currency": "CHF", "items": [by_product(&francs, 2)]}),
        )
        .await;
    assert_eq!(order["total_cents"], 600);
    // Nor can the order's currency leave its catalogue lines' behind.
    let reply = app
        .patch(
            &format!("/api/orders/{}", order["id"]),
            Some(&ada.token),
            json!({"currency": "EUR"}),
        )
        .await;
    reply.assert_invalid(&["currency"]);
}

#[tokio::test]
async fn a_product_in_an_order_cannot_be_deleted_only_deactivated() {
    let app = shop().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let tea = app.create_product(&admin.token, "TEA", 500, None).await;
    let path = format!("/api/products/{}", tea["id"]);
    let order = app
        .create_order(&ada.token, json!([by_product(&tea, 1)]))
        .await;
    app.delete(&path, Some(&admin.token))
        .await
        .assert_error(409, "product_in_orders");
    app.patch(&path, Some(&admin.token), json!({"active": false}))
        .await
        .assert_status(200);
    // The order keeps its line; the product can no longer be ordered.
    let id = order["id"].as_i64().unwrap();
    assert_eq!(app.order(&ada.token, id).await["items"], order["items"]);
    let reply = app
        .post(
            "/api/orders",
            Some(&ada.token),
            json!({"items": [by_product(&tea, 1)]}),
        )
        .await;
    reply.assert_invalid(&["items.0.product_id"]);
    // Once its orders are gone, so can it be.
    app.delete(&format!("/api/orders/{id}"), Some(&admin.token))
        .await
        .assert_status(204);
    app.delete(&path, Some(&admin.token))
        .await
        .assert_status(204);
}
