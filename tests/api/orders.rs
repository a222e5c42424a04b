//! Orders: money computed by the server, limits, the status machine, editing rules, lists, and
//! who may see or touch which order.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    STATUSES, TestApp, assert_sorted, assert_utc_timestamp, ids_of, item, sorted_ids, spawn_app,
    table_allows,
};

const ORDER_KEYS: [&str; 9] = [
    "created_at",
    "currency",
    "id",
    "items",
    "notes",
    "status",
    "total_cents",
    "updated_at",
    "user_id",
];

#[track_caller]
fn assert_order_shape(order: &Value) {
    let mut keys: Vec<&str> = order
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ORDER_KEYS, "{order}");
    for line in order["items"].as_array().unwrap() {
        let mut keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "line_total_cents",
                "product",
                "product_id",
                "quantity",
                "sku",
                "unit_price_cents"
            ],
            "{line}"
        );
    }
    assert_utc_timestamp(&order["created_at"]);
    assert_utc_timestamp(&order["updated_at"]);
}

fn order_path(id: i64) -> String {
    format!("/api/orders/{id}")
}

/// An item as the server shows it.
fn line(product: &str, quantity: i64, unit_price_cents: i64) -> Value {
    // A free line: no product of the catalogue.
    json!({
        "product": product,
        "product_id": null,
        "sku": null,
        "quantity": quantity,
        "unit_price_cents": unit_price_cents,
        "line_total_cents": quantity * unit_price_cents,
    })
}

/// How many orders `token` sees in its list.
async fn listed_total(app: &TestApp, token: &str) -> i64 {
    let reply = app.get("/api/orders", Some(token)).await;
    reply.assert_status(200);
    reply.body["meta"]["total"].as_i64().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_orders_route_needs_a_valid_token() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let id = app.simple_order(&ada.token).await;
    let before = app.order(&ada.token, id).await;
    let one = order_path(id);
    let body = json!({"items": [item("Tea", 1, 450)], "status": "cancelled"});
    let routes = [
        (Method::GET, "/api/orders", None),
        (Method::POST, "/api/orders", Some(body.clone())),
        (Method::GET, one.as_str(), None),
        (Method::PUT, one.as_str(), Some(body.clone())),
        (
            Method::PATCH,
            one.as_str(),
            Some(json!({"status": "cancelled"})),
        ),
        (Method::DELETE, one.as_str(), None),
    ];
    for (method, path, body) in routes {
        for token in [None, Some("not-a-jwt")] {
            let reply = app.call(method.clone(), path, token, body.clone()).await;
            reply.assert_error(401, "unauthenticated");
            let challenge = reply.header("www-authenticate").unwrap();
            match token {
                None => assert_eq!(challenge, "Bearer"),
                Some(_) => assert!(challenge.starts_with("Bearer error=\"invalid_token\"")),
            }
        }
    }
    assert_eq!(app.order(&ada.token, id).await, before);
    assert_eq!(listed_total(&app, &ada.token).await, 1);
}

// ---------------------------------------------------------------------------------------------
// Creating, and money
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_an_order_computes_line_totals_and_the_total() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let reply = app
        .post(
            "/api/orders",
            Some(&ada.token),
            json!({"items": [item("Tea", 3, 450), item("Cake", 1, 1299), item("Sample", 5, 0)]}),
        )
        .await;
    reply.assert_status(201);
    let order = &reply.body;
    assert_order_shape(order);
    let id = order["id"].as_i64().unwrap();
    assert!(id > 0);
    assert_eq!(
        reply.header("location"),
        Some(order_path(id).as_str()),
        "Location"
    );
    assert_eq!(order["user_id"], ada.id);
    assert_eq!(order["status"], "pending");
    assert_eq!(order["currency"], "EUR");
    assert_eq!(order["notes"], Value::Null);
    assert_eq!(
        order["items"],
        json!([
            line("Tea", 3, 450),
            line("Cake", 1, 1299),
            line("Sample", 5, 0)
        ])
    );
    assert_eq!(order["items"][0]["line_total_cents"], 1350);
    assert_eq!(order["total_cents"], 1350 + 1299);

    assert_eq!(&app.order(&ada.token, id).await, order);
}

#[tokio::test]
async fn an_order_keeps_the_currency_and_notes_it_was_given() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app
        .create_order_with(
            &ada.token,
            json!({"currency": "USD", "notes": "Ring twice", "items": [item("Tea", 2, 450)]}),
        )
        .await;
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["notes"], "Ring twice");
    assert_eq!(order["total_cents"], 900);
    let again = app.order(&ada.token, order["id"].as_i64().unwrap()).await;
    assert_eq!(again, order);
}

#[tokio::test]
async fn a_hundred_lines_are_totalled_exactly_and_kept_in_order() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let mut items = Vec::new();
    let mut expected = Vec::new();
    let mut total = 0;
    for i in 1..=100_i64 {
        let (quantity, price) = (i * 37 % 101 + 1, i * 9_973 % 100_000 + 1);
        items.push(item(&format!("Item {i}"), quantity, price));
        expected.push(line(&format!("Item {i}"), quantity, price));
        total += quantity * price;
    }
    let order = app.create_order(&ada.token, json!(items)).await;
    assert_eq!(order["items"], json!(expected));
    assert_eq!(order["total_cents"].as_i64(), Some(total));
    let again = app.order(&ada.token, order["id"].as_i64().unwrap()).await;
    assert_eq!(again["items"], json!(expected));
    assert_eq!(again["total_cents"].as_i64(), Some(total));
}

#[tokio::test]
async fn the_largest_allowed_order_is_totalled_exactly() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let items = vec![item("Gold bar", 10_000, 100_000_000); 100];
    let order = app.create_order(&ada.token, json!(items)).await;
    for line in order["items"].as_array().unwrap() {
        assert_eq!(line["line_total_cents"].as_i64(), Some(1_000_000_000_000));
    }
    assert_eq!(order["items"].as_array().unwrap().len(), 100);
    assert_eq!(order["total_cents"].as_i64(), Some(100_000_000_000_000));
    let again = app.order(&ada.token, order["id"].as_i64().unwrap()).await;
    assert_eq!(again["total_cents"].as_i64(), Some(100_000_000_000_000));
    assert_eq!(again, order);
}

#[tokio::test]
async fn values_at_the_limits_are_accepted() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    // 200 characters (400 bytes): the limit counts characters.
    let product = "é".repeat(200);
    let notes = "n".repeat(2000);
    let order = app
        .create_order_with(
            &ada.token,
            json!({
                "currency": "JPY",
                "notes": notes,
                "items": [item(&product, 1, 0), item("x", 10_000, 100_000_000)],
            }),
        )
        .await;
    assert_eq!(order["currency"], "JPY");
    assert_eq!(order["notes"], notes.as_str());
    assert_eq!(order["items"][0]["product"], product.as_str());
    assert_eq!(order["items"][0]["line_total_cents"], 0);
    assert_eq!(order["total_cents"].as_i64(), Some(10_000 * 100_000_000));
}

#[tokio::test]
async fn out_of_range_values_are_a_422_on_the_dotted_field_path() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let ok = item("Tea", 1, 450);
    let cases = [
        (json!({}), "items"),
        (json!({"items": []}), "items"),
        (json!({"items": vec![ok.clone(); 101]}), "items"),
        (json!({"items": "tea"}), "items"),
        (json!({"items": null}), "items"),
        (json!({"items": [item("Tea", 0, 450)]}), "items.0.quantity"),
        (json!({"items": [item("Tea", -1, 450)]}), "items.0.quantity"),
        (
            json!({"items": [ok, item("Tea", 10_001, 450)]}),
            "items.1.quantity",
        ),
        (
            json!({"items": [{"product": "Tea", "quantity": 1.5, "unit_price_cents": 450}]}),
            "items.0.quantity",
        ),
        (
            json!({"items": [item("Tea", 1, -1)]}),
            "items.0.unit_price_cents",
        ),
        (
            json!({"items": [ok, ok, item("Tea", 1, 100_000_001)]}),
            "items.2.unit_price_cents",
        ),
        (json!({"items": [item("", 1, 450)]}), "items.0.product"),
        (
            json!({"items": [item(&"p".repeat(201), 1, 450)]}),
            "items.0.product",
        ),
        (
            json!({"items": [{"quantity": 1, "unit_price_cents": 450}]}),
            "items.0.product",
        ),
        (json!({"items": [ok], "notes": "n".repeat(2001)}), "notes"),
        (json!({"items": [ok], "currency": "eur"}), "currency"),
        (json!({"items": [ok], "currency": "EURO"}), "currency"),
        (json!({"items": [ok], "currency": "E1R"}), "currency"),
        (json!({"items": [ok], "currency": ""}), "currency"),
        // Orders are born pending: a status is not something a client sends on creation.
        (json!({"items": [ok], "status": "paid"}), "status"),
        (json!({"items": [ok], "discount": 5}), "discount"),
    ];
    for (body, field) in cases {
        let reply = app
            .post("/api/orders", Some(&ada.token), body.clone())
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}: {}", reply.body);
    }
    assert_eq!(listed_total(&app, &ada.token).await, 0);
}

#[tokio::test]
async fn a_client_cannot_send_totals() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let reply = app
        .post(
            "/api/orders",
            Some(&ada.token),
            json!({"items": [item("Tea", 1, 450)], "total_cents": 1}),
        )
        .await;
    reply.assert_invalid(&["total_cents"]);
    let reply = app
        .post(
            "/api/orders",
            Some(&ada.token),
            json!({"items": [{"product": "Tea", "quantity": 2, "unit_price_cents": 450, "line_total_cents": 1}]}),
        )
        .await;
    reply.assert_invalid(&["items.0.line_total_cents"]);
    assert_eq!(listed_total(&app, &ada.token).await, 0);

    // Nor on PUT or PATCH.
    let id = app.simple_order(&ada.token).await;
    let before = app.order(&ada.token, id).await;
    app.patch(&order_path(id), Some(&ada.token), json!({"total_cents": 1}))
        .await
        .assert_invalid(&["total_cents"]);
    app.put(
        &order_path(id),
        Some(&ada.token),
        json!({"items": [item("Tea", 1, 450)], "total_cents": 1}),
    )
    .await
    .assert_invalid(&["total_cents"]);
    assert_eq!(app.order(&ada.token, id).await, before);
}

#[tokio::test]
async fn every_bad_line_is_reported_at_once() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let reply = app
        .post(
            "/api/orders",
            Some(&ada.token),
            json!({
                "currency": "eur",
                "items": [item("", 0, -1), item("Tea", 1, 450), item("Cake", 10_001, 100_000_001)],
            }),
        )
        .await;
    reply.assert_invalid(&[
        "currency",
        "items.0.product",
        "items.0.quantity",
        "items.0.unit_price_cents",
        "items.2.quantity",
        "items.2.unit_price_cents",
    ]);
}

#[tokio::test]
async fn an_admin_creates_an_order_for_another_user() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app
        .create_order_with(
            &admin.token,
            json!({"user_id": ada.id, "items": [item("Tea", 2, 450)]}),
        )
        .await;
    assert_eq!(order["user_id"], ada.id);
    assert_eq!(order["status"], "pending");
    let id = order["id"].as_i64().unwrap();
    assert_eq!(app.order(&ada.token, id).await, order);
    let mine = app.get("/api/orders", Some(&ada.token)).await;
    assert_eq!(mine.ids(), [id]);

    // Without user_id, the admin's own.
    let own = app
        .create_order(&admin.token, json!([item("Tea", 1, 450)]))
        .await;
    assert_eq!(own["user_id"], admin.id);
}

#[tokio::test]
async fn only_an_admin_may_choose_an_orders_owner() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    for user_id in [bob.id, ada.id] {
        let reply = app
            .post(
                "/api/orders",
                Some(&ada.token),
                json!({"user_id": user_id, "items": [item("Tea", 1, 450)]}),
            )
            .await;
        reply.assert_invalid(&["user_id"]);
    }
    assert_eq!(listed_total(&app, &ada.token).await, 0);
    assert_eq!(listed_total(&app, &bob.token).await, 0);
}

#[tokio::test]
async fn an_admin_naming_an_unknown_user_gets_a_422() {
    let app = spawn_app().await;
    let (_, admin_token) = app.admin_token().await;
    let reply = app
        .post(
            "/api/orders",
            Some(&admin_token),
            json!({"user_id": 999_999, "items": [item("Tea", 1, 450)]}),
        )
        .await;
    reply.assert_invalid(&["user_id"]);
    assert_eq!(listed_total(&app, &admin_token).await, 0);
}

// ---------------------------------------------------------------------------------------------
// Reading, and other people's orders
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_order_is_read_by_its_owner_and_by_an_admin_only() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let id = app.simple_order(&ada.token).await;

    let mine = app.order(&ada.token, id).await;
    assert_order_shape(&mine);
    assert_eq!(app.order(&admin.token, id).await, mine);
    app.get(&order_path(id), Some(&bob.token))
        .await
        .assert_error(404, "not_found");
    for token in [&ada.token, &admin.token] {
        app.get("/api/orders/999999", Some(token))
            .await
            .assert_error(404, "not_found");
        app.get("/api/orders/abc", Some(token))
            .await
            .assert_error(400, "invalid_path_parameter");
    }
}

#[tokio::test]
async fn another_user_gets_404_on_every_order_operation_and_nothing_changes() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let order = app
        .create_order_with(
            &ada.token,
            json!({"notes": "Ring twice", "items": [item("Tea", 3, 450)]}),
        )
        .await;
    let id = order["id"].as_i64().unwrap();
    let path = order_path(id);
    // Bodies that would succeed if Bob were the owner.
    let stolen = json!([item("Stolen", 1, 1)]);

    app.get(&path, Some(&bob.token))
        .await
        .assert_error(404, "not_found");
    app.put(&path, Some(&bob.token), json!({"items": stolen}))
        .await
        .assert_error(404, "not_found");
    app.put(
        &path,
        Some(&bob.token),
        json!({"items": [item("Tea", 3, 450)], "status": "cancelled"}),
    )
    .await
    .assert_error(404, "not_found");
    app.patch(&path, Some(&bob.token), json!({"status": "cancelled"}))
        .await
        .assert_error(404, "not_found");
    app.patch(
        &path,
        Some(&bob.token),
        json!({"items": stolen, "currency": "USD", "notes": null}),
    )
    .await
    .assert_error(404, "not_found");
    app.delete(&path, Some(&bob.token))
        .await
        .assert_error(404, "not_found");

    assert_eq!(app.order(&ada.token, id).await, order);
    assert_eq!(listed_total(&app, &bob.token).await, 0);
}

// ---------------------------------------------------------------------------------------------
// The status machine
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_status_change_by_an_admin_follows_the_table() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    for from in STATUSES {
        for to in STATUSES {
            let id = app.simple_order(&ada.token).await;
            app.bring_order_to(&admin.token, id, from).await;
            let reply = app
                .patch(&order_path(id), Some(&admin.token), json!({"status": to}))
                .await;
            let allowed = from == to || table_allows(from, to);
            if allowed {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{from} → {to}: {}",
                    reply.body
                );
                assert_eq!(reply.body["status"], to, "{from} → {to}");
            } else {
                reply.assert_error(409, "invalid_status_transition");
                let message = reply.body["message"].as_str().unwrap();
                assert!(
                    message.contains(from) && message.contains(to),
                    "{from} → {to}: the message should name both: {message}"
                );
            }
            let now = app.order(&ada.token, id).await;
            assert_eq!(
                now["status"],
                if allowed { to } else { from },
                "{from} → {to}"
            );
        }
    }
}

#[tokio::test]
async fn every_status_change_by_an_owner_follows_the_table_and_owners_only_cancel() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    for from in STATUSES {
        for to in STATUSES {
            let id = app.simple_order(&ada.token).await;
            app.bring_order_to(&admin.token, id, from).await;
            let reply = app
                .patch(&order_path(id), Some(&ada.token), json!({"status": to}))
                .await;
            let applied = if from == to {
                reply.assert_status(200);
                true
            } else if !table_allows(from, to) {
                reply.assert_error(409, "invalid_status_transition");
                false
            } else if to == "cancelled" {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{from} → {to}: {}",
                    reply.body
                );
                assert_eq!(reply.body["status"], "cancelled");
                true
            } else {
                reply.assert_error(403, "forbidden");
                false
            };
            let now = app.order(&ada.token, id).await;
            assert_eq!(
                now["status"],
                if applied { to } else { from },
                "{from} → {to}"
            );
        }
    }
}

#[tokio::test]
async fn an_owner_cancels_from_pending_and_from_paid_but_never_pays() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;

    let pending = app.simple_order(&ada.token).await;
    app.set_status(&ada.token, pending, "cancelled").await;

    let paid = app.simple_order(&ada.token).await;
    app.bring_order_to(&admin.token, paid, "paid").await;
    app.set_status(&ada.token, paid, "cancelled").await;

    for (from, to) in [
        ("pending", "paid"),
        ("paid", "shipped"),
        ("shipped", "delivered"),
    ] {
        let id = app.simple_order(&ada.token).await;
        app.bring_order_to(&admin.token, id, from).await;
        app.patch(&order_path(id), Some(&ada.token), json!({"status": to}))
            .await
            .assert_error(403, "forbidden");
        assert_eq!(app.order(&ada.token, id).await["status"], from);
    }
}

#[tokio::test]
async fn a_status_change_can_come_with_a_put() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app
        .create_order(&ada.token, json!([item("Tea", 3, 450)]))
        .await;
    let id = order["id"].as_i64().unwrap();
    let same_items = json!([item("Tea", 3, 450)]);

    app.put(
        &order_path(id),
        Some(&ada.token),
        json!({"items": same_items, "status": "paid"}),
    )
    .await
    .assert_error(403, "forbidden");
    app.put(
        &order_path(id),
        Some(&ada.token),
        json!({"items": same_items, "status": "delivered"}),
    )
    .await
    .assert_error(409, "invalid_status_transition");
    assert_eq!(app.order(&ada.token, id).await, order);

    let reply = app
        .put(
            &order_path(id),
            Some(&admin.token),
            json!({"items": same_items, "status": "paid"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["status"], "paid");
    let reply = app
        .put(
            &order_path(id),
            Some(&ada.token),
            json!({"items": same_items, "status": "cancelled"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["status"], "cancelled");
    assert_eq!(reply.body["items"], order["items"]);
    assert_eq!(reply.body["total_cents"], 1350);
}

// ---------------------------------------------------------------------------------------------
// PUT and PATCH
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn put_replaces_the_order_with_defaults_for_what_is_absent() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app
        .create_order_with(
            &ada.token,
            json!({"currency": "USD", "notes": "Ring twice", "items": [item("Tea", 3, 450)]}),
        )
        .await;
    let id = order["id"].as_i64().unwrap();
    let path = order_path(id);

    app.put(&path, Some(&ada.token), json!({}))
        .await
        .assert_invalid(&["items"]);
    app.put(
        &path,
        Some(&ada.token),
        json!({"currency": "GBP", "notes": "x"}),
    )
    .await
    .assert_invalid(&["items"]);
    app.put(&path, Some(&ada.token), json!({"items": []}))
        .await
        .assert_invalid(&["items"]);
    assert_eq!(app.order(&ada.token, id).await, order);

    let reply = app
        .put(
            &path,
            Some(&ada.token),
            json!({"items": [item("Coffee", 2, 300), item("Cake", 1, 1299)]}),
        )
        .await;
    reply.assert_status(200);
    assert_order_shape(&reply.body);
    assert_eq!(
        reply.body["items"],
        json!([line("Coffee", 2, 300), line("Cake", 1, 1299)])
    );
    assert_eq!(reply.body["total_cents"], 600 + 1299);
    assert_eq!(reply.body["currency"], "EUR", "an absent currency is EUR");
    assert_eq!(reply.body["notes"], Value::Null, "absent notes are null");
    for field in ["id", "user_id", "status", "created_at"] {
        assert_eq!(reply.body[field], order[field], "{field}");
    }
    assert_eq!(app.order(&ada.token, id).await, reply.body);

    let reply = app
        .put(
            &path,
            Some(&ada.token),
            json!({"currency": "GBP", "notes": "Back door", "items": [item("Tea", 1, 450)]}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["currency"], "GBP");
    assert_eq!(reply.body["notes"], "Back door");
    assert_eq!(reply.body["items"], json!([line("Tea", 1, 450)]));
    assert_eq!(reply.body["total_cents"], 450);
}

#[tokio::test]
async fn patch_changes_only_the_fields_sent() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app
        .create_order_with(
            &ada.token,
            json!({"currency": "USD", "notes": "Ring twice", "items": [item("Tea", 3, 450)]}),
        )
        .await;
    let id = order["id"].as_i64().unwrap();
    let path = order_path(id);

    let reply = app
        .patch(&path, Some(&ada.token), json!({"notes": "Back door"}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["notes"], "Back door");
    for field in [
        "id",
        "user_id",
        "status",
        "currency",
        "items",
        "total_cents",
        "created_at",
    ] {
        assert_eq!(reply.body[field], order[field], "{field}");
    }

    let reply = app
        .patch(&path, Some(&ada.token), json!({"currency": "GBP"}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["currency"], "GBP");
    assert_eq!(reply.body["notes"], "Back door");
    assert_eq!(reply.body["items"], order["items"]);

    let reply = app
        .patch(
            &path,
            Some(&ada.token),
            json!({"items": [item("Cake", 2, 500)]}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["items"], json!([line("Cake", 2, 500)]));
    assert_eq!(reply.body["total_cents"], 1000);
    assert_eq!(reply.body["currency"], "GBP");
    assert_eq!(reply.body["notes"], "Back door");
    assert_eq!(reply.body["status"], "pending");
    assert_eq!(app.order(&ada.token, id).await, reply.body);
}

#[tokio::test]
async fn patch_with_null_notes_clears_them_and_null_elsewhere_is_a_422() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let admin = app.admin().await;
    let order = app
        .create_order_with(
            &ada.token,
            json!({"currency": "USD", "notes": "Ring twice", "items": [item("Tea", 3, 450)]}),
        )
        .await;
    let id = order["id"].as_i64().unwrap();
    let path = order_path(id);

    for field in ["items", "currency", "status"] {
        for token in [&ada.token, &admin.token] {
            let reply = app.patch(&path, Some(token), json!({ field: null })).await;
            reply.assert_error(422, "validation_failed");
            assert_eq!(reply.error_fields(), [field], "{}", reply.body);
        }
    }
    for (body, field) in [
        (json!({"items": []}), "items"),
        (json!({"items": [item("Tea", 0, 450)]}), "items.0.quantity"),
        (json!({"currency": "usd"}), "currency"),
        (json!({"status": "lost"}), "status"),
        (json!({"notes": "n".repeat(2001)}), "notes"),
        (json!({"user_id": ada.id}), "user_id"),
    ] {
        let reply = app.patch(&path, Some(&ada.token), body.clone()).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}: {}", reply.body);
    }
    assert_eq!(app.order(&ada.token, id).await, order);

    let reply = app
        .patch(&path, Some(&ada.token), json!({"notes": null}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["notes"], Value::Null);
    for field in ["currency", "items", "total_cents", "status"] {
        assert_eq!(reply.body[field], order[field], "{field}");
    }
    assert_eq!(app.order(&ada.token, id).await["notes"], Value::Null);
}

#[tokio::test]
async fn an_empty_patch_changes_nothing_and_returns_the_order() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let admin = app.admin().await;
    let order = app
        .create_order_with(
            &ada.token,
            json!({"notes": "Ring twice", "items": [item("Tea", 3, 450)]}),
        )
        .await;
    let id = order["id"].as_i64().unwrap();
    for token in [&ada.token, &admin.token] {
        let reply = app.patch(&order_path(id), Some(token), json!({})).await;
        reply.assert_status(200);
        assert_eq!(reply.body, order);
    }
    // Also once it is no longer pending, for the owner too.
    app.bring_order_to(&admin.token, id, "shipped").await;
    let shipped = app.order(&ada.token, id).await;
    let reply = app
        .patch(&order_path(id), Some(&ada.token), json!({}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body, shipped);
}

#[tokio::test]
async fn items_and_currency_are_frozen_once_an_order_leaves_pending() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app
        .create_order(&ada.token, json!([item("Tea", 3, 450)]))
        .await;
    let id = order["id"].as_i64().unwrap();
    let path = order_path(id);
    app.bring_order_to(&admin.token, id, "paid").await;
    let paid = app.order(&ada.token, id).await;

    for token in [&ada.token, &admin.token] {
        app.patch(&path, Some(token), json!({"items": [item("Tea", 4, 450)]}))
            .await
            .assert_error(409, "order_not_editable");
        app.put(&path, Some(token), json!({"items": [item("Cake", 1, 1)]}))
            .await
            .assert_error(409, "order_not_editable");
    }
    app.patch(&path, Some(&admin.token), json!({"currency": "USD"}))
        .await
        .assert_error(409, "order_not_editable");
    app.put(
        &path,
        Some(&admin.token),
        json!({"items": [item("Tea", 3, 450)], "currency": "USD"}),
    )
    .await
    .assert_error(409, "order_not_editable");
    assert_eq!(app.order(&ada.token, id).await, paid);

    // Sending the very same items is not a change.
    let reply = app
        .patch(
            &path,
            Some(&ada.token),
            json!({"items": [item("Tea", 3, 450)]}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["items"], order["items"]);
    let reply = app
        .put(
            &path,
            Some(&admin.token),
            json!({"items": [item("Tea", 3, 450)], "notes": "Packed"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["notes"], "Packed");
    assert_eq!(reply.body["items"], order["items"]);
    assert_eq!(reply.body["total_cents"], 1350);
    assert_eq!(reply.body["status"], "paid");
}

#[tokio::test]
async fn an_owner_edits_notes_only_while_pending_an_admin_at_any_time() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let id = app.simple_order(&ada.token).await;
    let path = order_path(id);

    let reply = app
        .patch(&path, Some(&ada.token), json!({"notes": "Ring twice"}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["notes"], "Ring twice");

    for status in ["paid", "shipped", "delivered"] {
        app.set_status(&admin.token, id, status).await;
        let before = app.order(&ada.token, id).await;
        let reply = app
            .patch(&path, Some(&ada.token), json!({"notes": "Back door"}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CONFLICT,
            "{status}: {}",
            reply.body
        );
        assert!(reply.body["code"].as_str().is_some_and(|c| !c.is_empty()));
        let reply = app
            .patch(&path, Some(&ada.token), json!({"notes": null}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CONFLICT,
            "{status}: {}",
            reply.body
        );
        assert_eq!(app.order(&ada.token, id).await, before);

        let note = format!("Admin note while {status}");
        let reply = app
            .patch(&path, Some(&admin.token), json!({"notes": note}))
            .await;
        reply.assert_status(200);
        assert_eq!(reply.body["notes"], note.as_str());
    }
    let reply = app
        .patch(&path, Some(&admin.token), json!({"notes": null}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["notes"], Value::Null);

    let cancelled = app.simple_order(&ada.token).await;
    app.set_status(&ada.token, cancelled, "cancelled").await;
    let reply = app
        .patch(
            &order_path(cancelled),
            Some(&admin.token),
            json!({"notes": "Refunded"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["notes"], "Refunded");
}

// ---------------------------------------------------------------------------------------------
// Deleting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_owner_deletes_a_pending_or_cancelled_order() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let pending = app.simple_order(&ada.token).await;
    let cancelled = app.simple_order(&ada.token).await;
    app.set_status(&ada.token, cancelled, "cancelled").await;

    for id in [pending, cancelled] {
        let reply = app.delete(&order_path(id), Some(&ada.token)).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        assert_eq!(reply.body, Value::Null, "a 204 has an empty body");
        for token in [&ada.token, &admin.token] {
            app.get(&order_path(id), Some(token))
                .await
                .assert_error(404, "not_found");
        }
        app.delete(&order_path(id), Some(&ada.token))
            .await
            .assert_error(404, "not_found");
    }
    assert_eq!(listed_total(&app, &ada.token).await, 0);
}

#[tokio::test]
async fn an_owner_cannot_delete_an_order_once_paid() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    for status in ["paid", "shipped", "delivered"] {
        let id = app.simple_order(&ada.token).await;
        app.bring_order_to(&admin.token, id, status).await;
        let before = app.order(&ada.token, id).await;
        app.delete(&order_path(id), Some(&ada.token))
            .await
            .assert_error(409, "order_not_deletable");
        assert_eq!(app.order(&ada.token, id).await, before);
    }
    assert_eq!(listed_total(&app, &ada.token).await, 3);
}

#[tokio::test]
async fn an_admin_deletes_any_order_in_any_status() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    for status in STATUSES {
        let id = app.simple_order(&ada.token).await;
        app.bring_order_to(&admin.token, id, status).await;
        let reply = app.delete(&order_path(id), Some(&admin.token)).await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "{status}: {}",
            reply.body
        );
        assert_eq!(reply.body, Value::Null);
        app.get(&order_path(id), Some(&ada.token))
            .await
            .assert_error(404, "not_found");
    }
    assert_eq!(listed_total(&app, &ada.token).await, 0);
    app.delete("/api/orders/999999", Some(&admin.token))
        .await
        .assert_error(404, "not_found");
    app.delete("/api/orders/abc", Some(&admin.token))
        .await
        .assert_error(400, "invalid_path_parameter");
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn owners_list_only_their_own_orders_and_an_admin_lists_all() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let mut adas = Vec::new();
    for _ in 0..3 {
        adas.push(app.simple_order(&ada.token).await);
    }
    let bobs = vec![
        app.simple_order(&bob.token).await,
        app.simple_order(&bob.token).await,
    ];

    let reply = app.get("/api/orders?sort=id", Some(&ada.token)).await;
    reply.assert_status(200);
    assert_eq!(reply.ids(), adas);
    reply.assert_meta(1, 20, 3, 1);
    for order in reply.data() {
        assert_order_shape(&order);
        assert_eq!(order["user_id"], ada.id);
    }
    let reply = app.get("/api/orders?sort=id", Some(&bob.token)).await;
    assert_eq!(reply.ids(), bobs);

    let reply = app.get("/api/orders?sort=id", Some(&admin.token)).await;
    let mut all = adas.clone();
    all.extend(&bobs);
    assert_eq!(reply.ids(), all);
    reply.assert_meta(1, 20, 5, 1);
}

#[tokio::test]
async fn the_order_list_filters_by_user_and_status() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let ada_pending = app.simple_order(&ada.token).await;
    let ada_paid = app.simple_order(&ada.token).await;
    app.bring_order_to(&admin.token, ada_paid, "paid").await;
    let ada_cancelled = app.simple_order(&ada.token).await;
    app.set_status(&ada.token, ada_cancelled, "cancelled").await;
    let bob_paid = app.simple_order(&bob.token).await;
    app.bring_order_to(&admin.token, bob_paid, "paid").await;
    let bob_pending = app.simple_order(&bob.token).await;

    for (query, expected) in [
        (
            format!("user_id={}", ada.id),
            vec![ada_pending, ada_paid, ada_cancelled],
        ),
        (format!("user_id={}", bob.id), vec![bob_paid, bob_pending]),
        ("status=paid".to_owned(), vec![ada_paid, bob_paid]),
        ("status=pending".to_owned(), vec![ada_pending, bob_pending]),
        ("status=delivered".to_owned(), vec![]),
        (format!("status=paid&user_id={}", bob.id), vec![bob_paid]),
    ] {
        let reply = app
            .get(&format!("/api/orders?sort=id&{query}"), Some(&admin.token))
            .await;
        reply.assert_status(200);
        assert_eq!(reply.ids(), expected, "{query}");
        reply.assert_meta(1, 20, u64::try_from(expected.len()).unwrap(), 1);
    }

    // An owner filters within their own orders, and may name themself.
    for (query, expected) in [
        ("status=cancelled".to_owned(), vec![ada_cancelled]),
        ("status=paid".to_owned(), vec![ada_paid]),
        (
            format!("user_id={}", ada.id),
            vec![ada_pending, ada_paid, ada_cancelled],
        ),
        (
            format!("user_id={}&status=pending", ada.id),
            vec![ada_pending],
        ),
    ] {
        let reply = app
            .get(&format!("/api/orders?sort=id&{query}"), Some(&ada.token))
            .await;
        reply.assert_status(200);
        assert_eq!(reply.ids(), expected, "{query}");
    }
}

#[tokio::test]
async fn a_non_admin_naming_someone_elses_user_id_is_a_403() {
    let app = spawn_app().await;
    let (_, ada_token) = app.user_token("Ada").await;
    let (bob_id, bob_token) = app.user_token("Bob").await;
    app.simple_order(&bob_token).await;
    for query in [
        format!("user_id={bob_id}"),
        format!("user_id={bob_id}&status=pending"),
        "user_id=999999".to_owned(),
    ] {
        app.get(&format!("/api/orders?{query}"), Some(&ada_token))
            .await
            .assert_error(403, "forbidden");
    }
}

#[tokio::test]
async fn order_pages_cover_every_order_exactly_once_under_every_sort() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let mut all = Vec::new();
    let mut adas = Vec::new();
    for i in 0..25_i64 {
        let owner = if i % 2 == 0 { &ada } else { &bob };
        // Totals tie in groups and do not follow the ids.
        let quantity = (i * 7) % 5 + 1;
        let order = app
            .create_order_with(
                &admin.token,
                json!({"user_id": owner.id, "items": [item("Thing", quantity, 100)]}),
            )
            .await;
        let id = order["id"].as_i64().unwrap();
        all.push(id);
        if owner.id == ada.id {
            adas.push(id);
        }
    }
    all.sort_unstable();

    let sorts = [
        "id",
        "-id",
        "created_at",
        "-created_at",
        "total_cents",
        "-total_cents",
    ];
    for sort in sorts {
        let rows = app
            .all_pages(&admin.token, &format!("/api/orders?sort={sort}"), 7, 25)
            .await;
        assert_sorted(&rows, sort);
        assert_eq!(sorted_ids(&rows), all, "sort={sort}");
        // An owner's pages hold exactly their own orders.
        let rows = app
            .all_pages(&ada.token, &format!("/api/orders?sort={sort}"), 7, 13)
            .await;
        assert_sorted(&rows, sort);
        assert_eq!(sorted_ids(&rows), adas, "sort={sort}");
    }
    let by_id = app
        .all_pages(&admin.token, "/api/orders?sort=id", 7, 25)
        .await;
    assert_eq!(ids_of(&by_id), all);

    // The default order is newest first, exactly as sort=-created_at.
    let default = app.all_pages(&admin.token, "/api/orders", 7, 25).await;
    let newest_first = app
        .all_pages(&admin.token, "/api/orders?sort=-created_at", 7, 25)
        .await;
    assert_eq!(ids_of(&default), ids_of(&newest_first));

    let reply = app.get("/api/orders", Some(&admin.token)).await;
    reply.assert_meta(1, 20, 25, 2);
    assert_eq!(reply.data().len(), 20);
    let reply = app.get("/api/orders?page=3", Some(&admin.token)).await;
    reply.assert_status(200);
    reply.assert_meta(3, 20, 25, 2);
    assert!(reply.data().is_empty());
    let reply = app
        .get("/api/orders?per_page=100", Some(&admin.token))
        .await;
    reply.assert_meta(1, 100, 25, 1);
    assert_eq!(reply.data().len(), 25);
}

#[tokio::test]
async fn bad_order_list_parameters_are_a_422_naming_the_parameter() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    for (query, field) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=abc", "per_page"),
        ("sort=foo", "sort"),
        ("sort=name", "sort"),
        ("sort=email", "sort"),
        ("status=lost", "status"),
        ("user_id=abc", "user_id"),
    ] {
        for token in [&admin.token, &ada.token] {
            let reply = app.get(&format!("/api/orders?{query}"), Some(token)).await;
            reply.assert_error(422, "validation_failed");
            assert_eq!(reply.error_fields(), [field], "{query}: {}", reply.body);
        }
    }
}
