//! Stock: taken in the order's transaction and never oversold, given back exactly once by a
//! cancel, by deleting a pending order or by changing its items, however requests race.

use futures_util::future::join_all;
use serde_json::{Value, json};

use sea_orm::ConnectionTrait;

use crate::helpers::{TestApp, TestDatabase, spawn_app, spawn_app_with, unique_email};

fn by_product(product: &Value, quantity: i64) -> Value {
    json!({"product_id": product["id"], "quantity": quantity})
}

async fn stock_of(app: &TestApp, token: &str, product: &Value) -> Value {
    let reply = app
        .get(&format!("/api/products/{}", product["id"]), Some(token))
        .await;
    reply.assert_status(200);
    reply.body["stock"].clone()
}

async fn orders_of(app: &TestApp, token: &str) -> u64 {
    let reply = app.get("/api/orders", Some(token)).await;
    reply.assert_status(200);
    reply.body["meta"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn an_order_takes_its_units_and_a_short_one_is_a_409_that_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let tea = app.create_product(&admin.token, "TEA", 500, Some(10)).await;
    let coffee = app.create_product(&admin.token, "COF", 900, Some(5)).await;
    let salt = app.create_product(&admin.token, "SALT", 100, None).await;

    app.create_order(
        &ada.token,
        json!([
            by_product(&coffee, 2),
            by_product(&salt, 1_000),
            by_product(&coffee, 1)
        ]),
    )
    .await;
    assert_eq!(stock_of(&app, &ada.token, &coffee).await, 2);
    assert_eq!(stock_of(&app, &ada.token, &salt).await, Value::Null);

    let reply = app
        .post(
            "/api/orders",
            Some(&ada.token),
            json!({"items": [by_product(&tea, 4), by_product(&coffee, 2), by_product(&coffee, 1)]}),
        )
        .await;
    reply.assert_error(409, "out_of_stock");
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.contains("items.1 (COF)") && message.contains("items.2 (COF)"),
        "{message}"
    );
    assert!(!message.contains("items.0"), "{message}");
    // Nothing was written: not the order, not the tea's units.
    assert_eq!(orders_of(&app, &ada.token).await, 1);
    assert_eq!(stock_of(&app, &ada.token, &tea).await, 10);
    assert_eq!(stock_of(&app, &ada.token, &coffee).await, 2);

    // The last units can be ordered, and then none.
    app.create_order(&ada.token, json!([by_product(&coffee, 2)]))
        .await;
    assert_eq!(stock_of(&app, &ada.token, &coffee).await, 0);
    app.post(
        "/api/orders",
        Some(&ada.token),
        json!({"items": [by_product(&coffee, 1)]}),
    )
    .await
    .assert_error(409, "out_of_stock");
}

#[tokio::test]
async fn sixteen_buyers_on_two_instances_race_for_the_last_five_units() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let admin = a.admin().await;
    let last = a.create_product(&admin.token, "LAST", 1_000, Some(5)).await;
    let mut buyers = Vec::new();
    for i in 0..16 {
        buyers.push(a.ordinary_user(&format!("Buyer {i}")).await);
    }
    let attempts = buyers.iter().enumerate().map(|(i, buyer)| {
        let instance = if i % 2 == 0 { &a } else { &b };
        instance.post(
            "/api/orders",
            Some(&buyer.token),
            json!({"items": [by_product(&last, 1)]}),
        )
    });
    let replies = join_all(attempts).await;
    let created = replies.iter().filter(|reply| reply.status == 201).count();
    let refused: Vec<&Value> = replies
        .iter()
        .filter(|reply| reply.status == 409)
        .map(|reply| &reply.body)
        .collect();
    assert_eq!(
        created,
        5,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(refused.len(), 11);
    assert!(refused.iter().all(|body| body["code"] == "out_of_stock"));
    assert_eq!(stock_of(&a, &admin.token, &last).await, 0);
    assert_eq!(orders_of(&a, &admin.token).await, 5);
}

#[tokio::test]
async fn racing_cancels_and_deletes_give_the_units_back_exactly_once() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let admin = a.admin().await;
    let ada = a.ordinary_user("Ada").await;
    let tea = a.create_product(&admin.token, "TEA", 500, Some(10)).await;
    for round in 0..5 {
        let order = a
            .create_order(&ada.token, json!([by_product(&tea, 3)]))
            .await;
        assert_eq!(stock_of(&a, &ada.token, &tea).await, 7, "round {round}");
        let path = format!("/api/orders/{}", order["id"]);
        let cancel = json!({"status": "cancelled"});
        let (first, second) = tokio::join!(
            a.patch(&path, Some(&ada.token), cancel.clone()),
            b.patch(&path, Some(&admin.token), cancel.clone()),
        );
        let mut statuses = [first.status.as_u16(), second.status.as_u16()];
        statuses.sort_unstable();
        // The second either lost the race (409) or found the order already cancelled (200).
        assert!(
            statuses == [200, 409] || statuses == [200, 200],
            "round {round}: {} / {}",
            first.body,
            second.body
        );
        assert_eq!(stock_of(&a, &ada.token, &tea).await, 10, "round {round}");
        // A cancelled order gives nothing back twice when deleted.
        a.delete(&path, Some(&ada.token)).await.assert_status(204);
        assert_eq!(stock_of(&a, &ada.token, &tea).await, 10, "round {round}");

        let order = a
            .create_order(&ada.token, json!([by_product(&tea, 4)]))
            .await;
        let path = format!("/api/orders/{}", order["id"]);
        let (first, second) = tokio::join!(
            a.delete(&path, Some(&ada.token)),
            b.delete(&path, Some(&admin.token)),
        );
        let mut statuses = [first.status.as_u16(), second.status.as_u16()];
        statuses.sort_unstable();
        assert!(
            statuses == [204, 404] || statuses == [204, 409],
            "round {round}: {} / {}",
            first.body,
            second.body
        );
        assert_eq!(stock_of(&a, &ada.token, &tea).await, 10, "round {round}");
    }
}

#[tokio::test]
async fn item_edits_move_only_the_difference_even_when_they_race() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let admin = a.admin().await;
    let ada = a.ordinary_user("Ada").await;
    let tea = a.create_product(&admin.token, "TEA", 500, Some(10)).await;
    let cake = a.create_product(&admin.token, "CAKE", 300, Some(3)).await;
    let order = a
        .create_order(&ada.token, json!([by_product(&tea, 2)]))
        .await;
    let path = format!("/api/orders/{}", order["id"]);

    // Tea 2 → 5 and a cake: three more teas and one cake are taken.
    let reply = a
        .patch(
            &path,
            Some(&ada.token),
            json!({"items": [by_product(&tea, 5), by_product(&cake, 1)]}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(stock_of(&a, &ada.token, &tea).await, 5);
    assert_eq!(stock_of(&a, &ada.token, &cake).await, 2);
    // More cakes than there are: a 409, and the order and the stock stay as they were.
    a.patch(
        &path,
        Some(&ada.token),
        json!({"items": [by_product(&tea, 1), by_product(&cake, 4)]}),
    )
    .await
    .assert_error(409, "out_of_stock");
    assert_eq!(
        a.order(&ada.token, order["id"].as_i64().unwrap()).await["items"],
        reply.body["items"]
    );
    assert_eq!(stock_of(&a, &ada.token, &tea).await, 5);

    for round in 0..5 {
        let (first, second) = tokio::join!(
            a.patch(
                &path,
                Some(&ada.token),
                json!({"items": [by_product(&tea, 1)]})
            ),
            b.patch(
                &path,
                Some(&admin.token),
                json!({"items": [by_product(&tea, 6), by_product(&cake, 2)]})
            ),
        );
        assert!(
            first.status == 200 && second.status == 200,
            "{} / {}",
            first.body,
            second.body
        );
        // Whichever came last, the stock plus what the order holds is what there was.
        let held = a.order(&ada.token, order["id"].as_i64().unwrap()).await;
        let units = |sku: &str| -> i64 {
            held["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|line| line["sku"] == sku)
                .map(|line| line["quantity"].as_i64().unwrap())
                .sum()
        };
        let tea_left = stock_of(&a, &ada.token, &tea).await.as_i64().unwrap();
        let cake_left = stock_of(&a, &ada.token, &cake).await.as_i64().unwrap();
        assert_eq!(tea_left + units("TEA"), 10, "round {round}");
        assert_eq!(cake_left + units("CAKE"), 3, "round {round}");
    }
    // Cancelled, it holds nothing.
    a.patch(&path, Some(&ada.token), json!({"status": "cancelled"}))
        .await
        .assert_status(200);
    assert_eq!(stock_of(&a, &ada.token, &tea).await, 10);
    assert_eq!(stock_of(&a, &ada.token, &cake).await, 3);
}

#[tokio::test]
async fn units_never_taken_are_never_given_back_when_tracking_starts_later() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let jam = app.create_product(&admin.token, "JAM", 400, None).await;
    let path = format!("/api/products/{}", jam["id"]);
    // Ordered while the stock is not tracked: nothing is taken.
    let untracked = app
        .create_order(&ada.token, json!([by_product(&jam, 3)]))
        .await;
    let edited = app
        .create_order(&ada.token, json!([by_product(&jam, 1)]))
        .await;

    // The shop starts counting: 10 jars on the shelf.
    app.patch(&path, Some(&admin.token), json!({"stock": 10}))
        .await
        .assert_status(200);
    let tracked = app
        .create_order(&ada.token, json!([by_product(&jam, 2)]))
        .await;
    assert_eq!(stock_of(&app, &ada.token, &jam).await, 8);

    // Cancelling the order placed before gives back nothing; the one placed since, its own.
    let cancel = |order: &Value| {
        let path = format!("/api/orders/{}", order["id"]);
        let token = ada.token.clone();
        let app = &app;
        async move {
            app.patch(&path, Some(&token), json!({"status": "cancelled"}))
                .await
        }
    };
    cancel(&untracked).await.assert_status(200);
    assert_eq!(stock_of(&app, &ada.token, &jam).await, 8);
    cancel(&tracked).await.assert_status(200);
    assert_eq!(stock_of(&app, &ada.token, &jam).await, 10);

    // Editing the items of an order placed before takes what its lines now hold, all of it,
    // and deleting it then gives exactly that back.
    let edited_path = format!("/api/orders/{}", edited["id"]);
    app.patch(
        &edited_path,
        Some(&ada.token),
        json!({"items": [by_product(&jam, 4)]}),
    )
    .await
    .assert_status(200);
    assert_eq!(stock_of(&app, &ada.token, &jam).await, 6);
    app.delete(&edited_path, Some(&ada.token))
        .await
        .assert_status(204);
    assert_eq!(stock_of(&app, &ada.token, &jam).await, 10);

    // Tracking stopped: an edit takes nothing, and nothing comes back when tracking resumes.
    let later = app
        .create_order(&ada.token, json!([by_product(&jam, 1)]))
        .await;
    app.patch(&path, Some(&admin.token), json!({"stock": null}))
        .await
        .assert_status(200);
    let later_path = format!("/api/orders/{}", later["id"]);
    app.patch(
        &later_path,
        Some(&ada.token),
        json!({"items": [by_product(&jam, 2)]}),
    )
    .await
    .assert_status(200);
    app.patch(&path, Some(&admin.token), json!({"stock": 5}))
        .await
        .assert_status(200);
    cancel(&later).await.assert_status(200);
    assert_eq!(stock_of(&app, &ada.token, &jam).await, 5);
}

#[tokio::test]
async fn a_product_deleted_while_an_order_names_it_is_a_422_or_a_409_never_a_500() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let admin = a.admin().await;
    let ada = a.ordinary_user("Ada").await;
    for round in 0..10 {
        let product = a
            .create_product(&admin.token, &format!("GONE{round}"), 100, Some(5))
            .await;
        let product_path = format!("/api/products/{}", product["id"]);
        let (order, deletion) = tokio::join!(
            a.post(
                "/api/orders",
                Some(&ada.token),
                json!({"items": [by_product(&product, 1)]}),
            ),
            b.delete(&product_path, Some(&admin.token)),
        );
        match (order.status.as_u16(), deletion.status.as_u16()) {
            // The order came first: the product stays, with one unit fewer.
            (201, 409) => {
                assert_eq!(deletion.body["code"], "product_in_orders");
                assert_eq!(stock_of(&a, &admin.token, &product).await, 4);
            }
            // The deletion came first: the line names an unknown product.
            (422, 204) => assert_eq!(
                order.error_fields(),
                ["items.0.product_id"],
                "{}",
                order.body
            ),
            statuses => panic!(
                "round {round}: {statuses:?}: {} / {}",
                order.body, deletion.body
            ),
        }
    }
}

#[tokio::test]
async fn lines_written_before_the_upgrade_count_as_taken_only_where_their_product_tracks_stock() {
    // The schema as it was before `order_items.stock_taken`, with a pending order of a tracked
    // product, an untracked one and a free line.
    let (database, db) = TestDatabase::at_migration(14).await;
    let email = unique_email("before-stock");
    let at = "'2026-12-01 10:00:00'";
    for statement in [
        format!(
            "INSERT INTO users (name, email, password_hash, role, created_at, updated_at) \
             VALUES ('Before', '{email}', 'not a hash', 'user', {at}, {at})"
        ),
        format!(
            "INSERT INTO products (sku, name, price_cents, currency, stock, active, created_at, \
             updated_at) VALUES ('OLD-TRACKED', 'Tracked', 500, 'EUR', 5, TRUE, {at}, {at}), \
             ('OLD-UNTRACKED', 'Untracked', 300, 'EUR', NULL, TRUE, {at}, {at})"
        ),
        format!(
            "INSERT INTO orders (user_id, status, currency, total_cents, created_at, updated_at) \
             SELECT id, 'pending', 'EUR', 2000, {at}, {at} FROM users WHERE email = '{email}'"
        ),
        "INSERT INTO order_items (order_id, position, product, quantity, unit_price_cents, \
         line_total_cents, product_id, sku) \
         SELECT orders.id, products.id - (SELECT MIN(id) FROM products), products.name, \
         2, products.price_cents, 2 * products.price_cents, products.id, products.sku \
         FROM orders, products"
            .to_owned(),
        "INSERT INTO order_items (order_id, position, product, quantity, unit_price_cents, \
         line_total_cents) SELECT id, 2, 'Emballage cadeau', 1, 400, 400 FROM orders"
            .to_owned(),
    ] {
        db.execute_unprepared(&statement).await.unwrap();
    }
    db.close().await.unwrap();

    // The new version migrates on its first start.
    let app = spawn_app_with(&[("DATABASE_URL", database.url.as_str())]).await;
    let admin = app.admin().await;
    let products = app.get("/api/products?sort=name", Some(&admin.token)).await;
    products.assert_status(200);
    let (tracked, untracked) = (products.data()[0].clone(), products.data()[1].clone());
    assert_eq!(tracked["sku"], "OLD-TRACKED");
    assert_eq!(untracked["sku"], "OLD-UNTRACKED");
    let orders = app.get("/api/orders", Some(&admin.token)).await;
    orders.assert_status(200);
    let order = orders.data()[0].clone();
    assert_eq!(order["items"].as_array().unwrap().len(), 3);

    // The untracked product starts tracking; then the order is cancelled. Only the tracked
    // product's line had taken units, so only it gets them back.
    app.patch(
        &format!("/api/products/{}", untracked["id"]),
        Some(&admin.token),
        json!({"stock": 10}),
    )
    .await
    .assert_status(200);
    app.patch(
        &format!("/api/orders/{}", order["id"]),
        Some(&admin.token),
        json!({"status": "cancelled"}),
    )
    .await
    .assert_status(200);
    assert_eq!(stock_of(&app, &admin.token, &tracked).await, 7);
    assert_eq!(stock_of(&app, &admin.token, &untracked).await, 10);
}
