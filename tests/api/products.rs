//! Products: public reads, admin writes, skus unique in any case, and the list's paging,
//! sorting and filters.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_sorted, assert_utc_timestamp, ids_of, sorted_ids, spawn_app};

const PRODUCT_KEYS: [&str; 10] = [
    "active",
    "created_at",
    "currency",
    "description",
    "id",
    "name",
    "price_cents",
    "sku",
    "stock",
    "updated_at",
];

#[track_caller]
fn assert_product_shape(product: &Value) {
    let mut keys: Vec<&str> = product
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, PRODUCT_KEYS, "{product}");
    assert_utc_timestamp(&product["created_at"]);
    assert_utc_timestamp(&product["updated_at"]);
}

#[tokio::test]
async fn an_admin_creates_a_product_that_anyone_can_read() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let reply = app
        .post(
            "/api/products",
            Some(&admin.token),
            json!({"sku": "COF-1KG", "name": "  Café en grains  ", "price_cents": 1890}),
        )
        .await;
    reply.assert_status(201);
    let product = reply.body.clone();
    assert_product_shape(&product);
    let id = product["id"].as_i64().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(&*format!("/api/products/{id}"))
    );
    assert_eq!(product["name"], "Café en grains");
    assert_eq!(product["currency"], "EUR");
    assert_eq!(product["stock"], Value::Null);
    assert_eq!(product["description"], Value::Null);
    assert_eq!(product["active"], true);

    let anonymous = app.get(&format!("/api/products/{id}"), None).await;
    anonymous.assert_status(200);
    assert_eq!(anonymous.body, product);
    let customer = app.ordinary_user("Ada").await;
    let listed = app.get("/api/products", Some(&customer.token)).await;
    listed.assert_status(200);
    assert_eq!(listed.data(), [product]);
    listed.assert_meta(1, 20, 1, 1);
}

#[tokio::test]
async fn only_admins_write_products() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.ordinary_user("Ada").await;
    let id = app.create_product(&admin.token, "TEA", 500, Some(3)).await["id"]
        .as_i64()
        .unwrap();
    let one = format!("/api/products/{id}");
    let whole = json!({"sku": "TEA", "name": "Tea", "price_cents": 1});
    let routes = [
        (Method::POST, "/api/products", Some(whole.clone())),
        (Method::PUT, one.as_str(), Some(whole.clone())),
        (Method::PATCH, one.as_str(), Some(json!({"price_cents": 1}))),
        (Method::DELETE, one.as_str(), None),
    ];
    for (method, path, body) in routes.clone() {
        let reply = app
            .call(method.clone(), path, Some(&customer.token), body.clone())
            .await;
        reply.assert_error(403, "forbidden");
        let reply = app.call(method.clone(), path, None, body).await;
        reply.assert_error(401, "unauthenticated");
    }
    // A bad token is refused even where none is needed.
    let reply = app.get("/api/products", Some("not-a-token")).await;
    assert_eq!(reply.status, 401);
    let product = app.get(&one, None).await;
    assert_eq!(product.body["price_cents"], 500);
}

#[tokio::test]
async fn put_replaces_patch_changes_and_delete_removes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let created = app.create_product(&admin.token, "TEA", 500, Some(3)).await;
    let one = format!("/api/products/{}", created["id"]);

    let reply = app
        .patch(
            &one,
            Some(&admin.token),
            json!({"description": "Darjeeling", "stock": 10, "price_cents": 650}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["description"], "Darjeeling");
    assert_eq!(reply.body["stock"], 10);
    assert_eq!(reply.body["price_cents"], 650);
    assert_eq!(reply.body["sku"], "TEA");

    // Null stops tracking the stock; null clears the description.
    let reply = app
        .patch(
            &one,
            Some(&admin.token),
            json!({"stock": null, "description": null}),
        )
        .await;
    assert_eq!(reply.body["stock"], Value::Null);
    assert_eq!(reply.body["description"], Value::Null);

    // PUT sets everything: what is absent takes its default.
    app.patch(
        &one,
        Some(&admin.token),
        json!({"active": false, "stock": 4}),
    )
    .await
    .assert_status(200);
    let reply = app
        .put(
            &one,
            Some(&admin.token),
            json!({"sku": "tea-2", "name": "Green tea", "price_cents": 700, "currency": "CHF"}),
        )
        .await;
    reply.assert_status(200);
    assert_product_shape(&reply.body);
    assert_eq!(reply.body["sku"], "tea-2");
    assert_eq!(reply.body["currency"], "CHF");
    assert_eq!(reply.body["active"], true);
    assert_eq!(reply.body["stock"], Value::Null);
    assert_eq!(reply.body["created_at"], created["created_at"]);

    app.delete(&one, Some(&admin.token))
        .await
        .assert_status(204);
    app.get(&one, Some(&admin.token))
        .await
        .assert_error(404, "not_found");
    for (method, body) in [
        (Method::PATCH, Some(json!({"price_cents": 1}))),
        (
            Method::PUT,
            Some(json!({"sku": "X", "name": "X", "price_cents": 1})),
        ),
        (Method::DELETE, None),
    ] {
        app.call(method, &one, Some(&admin.token), body)
            .await
            .assert_error(404, "not_found");
    }
}

#[tokio::test]
async fn skus_are_unique_whatever_their_case() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.create_product(&admin.token, "Cof-1kg", 100, None).await;
    let other = app.create_product(&admin.token, "TEA", 100, None).await;
    for sku in ["Cof-1kg", "COF-1KG", "cof-1kg"] {
        let reply = app
            .post(
                "/api/products",
                Some(&admin.token),
                json!({"sku": sku, "name": "Copy", "price_cents": 1}),
            )
            .await;
        reply.assert_invalid(&["sku"]);
        let reply = app
            .patch(
                &format!("/api/products/{}", other["id"]),
                Some(&admin.token),
                json!({"sku": sku}),
            )
            .await;
        reply.assert_invalid(&["sku"]);
    }
    // A product keeps its own sku under another case.
    let reply = app
        .patch(
            &format!("/api/products/{}", other["id"]),
            Some(&admin.token),
            json!({"sku": "tea"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["sku"], "tea");
}

#[tokio::test]
async fn bad_product_fields_are_a_422_naming_each() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (body, fields) in [
        (
            json!({"sku": "", "name": " ", "price_cents": -1}),
            vec!["name", "price_cents", "sku"],
        ),
        (
            json!({"sku": "a b", "name": "x", "price_cents": 100_000_001, "stock": -1}),
            vec!["price_cents", "sku", "stock"],
        ),
        (
            json!({"sku": "A", "name": "x", "price_cents": 1, "stock": 1_000_000_001, "currency": "eur"}),
            vec!["currency", "stock"],
        ),
        (
            json!({"sku": "A", "name": "x\u{202E}", "price_cents": 1, "description": "d".repeat(2001)}),
            vec!["description", "name"],
        ),
        (json!({"name": "x", "price_cents": 1}), vec!["sku"]),
    ] {
        let reply = app
            .post("/api/products", Some(&admin.token), body.clone())
            .await;
        reply.assert_invalid(&fields);
    }
    // The limits themselves are accepted.
    let reply = app
        .post(
            "/api/products",
            Some(&admin.token),
            json!({"sku": "A".repeat(64), "name": "n".repeat(200), "price_cents": 100_000_000,
                   "stock": 1_000_000_000, "description": "d".repeat(2000)}),
        )
        .await;
    reply.assert_status(201);
}

#[tokio::test]
async fn inactive_products_are_hidden_from_all_but_admins() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.ordinary_user("Ada").await;
    let shown = app.create_product(&admin.token, "SHOWN", 100, None).await;
    let hidden = app.create_product(&admin.token, "HIDDEN", 100, None).await;
    let hidden_path = format!("/api/products/{}", hidden["id"]);
    app.patch(&hidden_path, Some(&admin.token), json!({"active": false}))
        .await
        .assert_status(200);

    for token in [None, Some(customer.token.as_str())] {
        app.get(&hidden_path, token)
            .await
            .assert_error(404, "not_found");
        let reply = app.get("/api/products", token).await;
        assert_eq!(reply.ids(), [shown["id"].as_i64().unwrap()]);
        let reply = app.get("/api/products?active=false", token).await;
        reply.assert_status(200);
        assert!(reply.data().is_empty());
        reply.assert_meta(1, 20, 0, 1);
    }
    let reply = app.get(&hidden_path, Some(&admin.token)).await;
    reply.assert_status(200);
    assert_eq!(reply.body["active"], false);
    let ids = |reply: &crate::helpers::Reply| reply.ids();
    let all = app.get("/api/products", Some(&admin.token)).await;
    assert_eq!(ids(&all).len(), 2);
    let inactive = app
        .get("/api/products?active=false", Some(&admin.token))
        .await;
    assert_eq!(ids(&inactive), [hidden["id"].as_i64().unwrap()]);
    let active = app
        .get("/api/products?active=true", Some(&admin.token))
        .await;
    assert_eq!(ids(&active), [shown["id"].as_i64().unwrap()]);
}

#[tokio::test]
async fn product_pages_cover_every_product_once_under_every_sort() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut expected = Vec::new();
    for i in 0..17 {
        // Names and prices tie in groups; neither follows the ids.
        let body = json!({
            "sku": format!("s{:02}", (i * 7) % 17),
            "name": format!("n{}", (i * 3) % 5),
            "price_cents": (i * 5) % 4 * 100,
        });
        let reply = app.post("/api/products", Some(&admin.token), body).await;
        reply.assert_status(201);
        expected.push(reply.body["id"].as_i64().unwrap());
    }
    for sort in [
        "id",
        "-id",
        "created_at",
        "-created_at",
        "name",
        "-name",
        "price_cents",
        "-price_cents",
    ] {
        let rows = app
            .all_pages(&admin.token, &format!("/api/products?sort={sort}"), 5, 17)
            .await;
        assert_sorted(&rows, sort);
        assert_eq!(sorted_ids(&rows), expected, "sort={sort}");
    }
    let rows = app.all_pages(&admin.token, "/api/products", 5, 17).await;
    assert_eq!(ids_of(&rows), expected);
}

#[tokio::test]
async fn the_product_list_filters_by_q_on_name_or_sku_ignoring_case() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let coffee = app.create_product(&admin.token, "COF-1KG", 100, None).await;
    let tea = app
        .create_product(&admin.token, "tea-50_g", 100, None)
        .await;
    let id = |product: &Value| product["id"].as_i64().unwrap();
    for (q, expected) in [
        ("cof", vec![id(&coffee)]),
        ("TEA", vec![id(&tea)]),
        // Both names are "Product <sku>".
        ("product", vec![id(&coffee), id(&tea)]),
        // Taken literally, not as a LIKE pattern.
        ("_", vec![id(&tea)]),
        ("%25", vec![]),
    ] {
        let reply = app.get(&format!("/api/products?q={q}"), None).await;
        reply.assert_status(200);
        assert_eq!(reply.ids(), expected, "q={q}");
    }
}

#[tokio::test]
async fn bad_product_list_parameters_are_a_422_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, field) in [
        ("page=0", "page"),
        ("per_page=101", "per_page"),
        ("sort=email", "sort"),
        ("sort=-stock", "sort"),
        ("active=yes", "active"),
        ("active=1", "active"),
        ("role=admin", "role"),
    ] {
        let reply = app.get(&format!("/api/products?{query}"), None).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{query}: {}", reply.body);
    }
}
