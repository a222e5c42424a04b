//! Each order's history (`GET /api/orders/{id}/events`): written with the change it records,
//! with who made it and the request's id, never by a change that was refused, never edited,
//! and gone with its order.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, item, spawn_app};

fn events_path(order: i64) -> String {
    format!("/api/orders/{order}/events")
}

/// Every event of the order, as `token` sees it.
async fn events(app: &TestApp, token: &str, order: i64) -> Vec<Value> {
    let reply = app
        .get(&format!("{}?per_page=100", events_path(order)), Some(token))
        .await;
    reply.assert_status(200);
    reply.data()
}

/// A request with its own `X-Request-Id`, asserting it succeeded.
async fn traced(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    request_id: &str,
    body: Value,
) -> Reply {
    let reply = app
        .send(
            app.request(method, path)
                .bearer_auth(token)
                .header("x-request-id", request_id)
                .json(&body),
        )
        .await;
    assert!(reply.status.is_success(), "{request_id}: {}", reply.body);
    reply
}

/// The rows of `order_events`, of one order or of all, read straight from the database.
async fn stored_events(app: &TestApp, order: Option<i64>) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db().await;
    let filter = order.map_or_else(String::new, |id| format!(" WHERE order_id = {id}"));
    let sql = format!("SELECT COUNT(*) AS n FROM order_events{filter}");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn an_orders_life_is_told_oldest_first_with_who_and_which_request() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;

    let created = traced(
        &app,
        Method::POST,
        "/api/orders",
        &ada.token,
        "life-create",
        json!({"items": [item("Widget", 2, 150)]}),
    )
    .await;
    let order = created.body["id"].as_i64().unwrap();
    let path = format!("/api/orders/{order}");
    // A generated id is recorded as well as a client's.
    let edited = app
        .patch(
            &path,
            Some(&ada.token),
            json!({"items": [item("Widget", 3, 150)], "notes": "ring twice"}),
        )
        .await;
    edited.assert_status(200);
    let edited_id = edited.header("x-request-id").unwrap().to_owned();
    let paid = traced(
        &app,
        Method::PATCH,
        &path,
        &admin.token,
        "life-paid",
        json!({"status": "paid"}),
    )
    .await;
    traced(
        &app,
        Method::PUT,
        &path,
        &admin.token,
        "life-shipped",
        json!({"items": [item("Widget", 3, 150)], "notes": "ring twice", "status": "shipped"}),
    )
    .await;
    app.set_status(&admin.token, order, "delivered").await;

    let history = events(&app, &ada.token, order).await;
    assert_eq!(history, events(&app, &admin.token, order).await);
    let summary: Vec<String> = history
        .iter()
        .map(|event| {
            format!(
                "{} by {}: {} -> {} {}",
                event["type"].as_str().unwrap(),
                event["actor"]["role"].as_str().unwrap(),
                event["from_status"],
                event["to_status"],
                event["changes"],
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            r#"created by user: null -> "pending" []"#,
            r#"updated by user: "pending" -> "pending" ["items","notes"]"#,
            r#"status_changed by admin: "pending" -> "paid" []"#,
            r#"status_changed by admin: "paid" -> "shipped" []"#,
            r#"status_changed by admin: "shipped" -> "delivered" []"#,
        ]
    );
    let actors: Vec<i64> = history
        .iter()
        .map(|event| event["actor"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(actors, [ada.id, ada.id, admin.id, admin.id, admin.id]);
    let request_ids: Vec<&str> = history
        .iter()
        .take(4)
        .map(|event| event["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        request_ids,
        [
            "life-create",
            edited_id.as_str(),
            "life-paid",
            "life-shipped"
        ]
    );
    assert_eq!(paid.header("x-request-id"), Some("life-paid"));
    let ids: Vec<i64> = history
        .iter()
        .map(|event| event["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    for event in &history {
        crate::helpers::assert_utc_timestamp(&event["created_at"]);
    }
}

#[tokio::test]
async fn changing_fields_and_status_at_once_is_an_update_then_a_status_change() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app.simple_order(&ada.token).await;
    let reply = traced(
        &app,
        Method::PATCH,
        &format!("/api/orders/{order}"),
        &ada.token,
        "notes-and-cancel",
        json!({"notes": "changed my mind", "status": "cancelled"}),
    )
    .await;
    assert_eq!(reply.header("x-request-id"), Some("notes-and-cancel"));
    let history = events(&app, &ada.token, order).await;
    assert_eq!(history.len(), 3);
    assert_eq!(history[1]["type"], "updated");
    assert_eq!(history[1]["changes"], json!(["notes"]));
    assert_eq!(history[2]["type"], "status_changed");
    assert_eq!(history[2]["from_status"], "pending");
    assert_eq!(history[2]["to_status"], "cancelled");
    for event in &history[1..] {
        assert_eq!(event["request_id"], "notes-and-cancel");
    }
}

#[tokio::test]
async fn someone_elses_order_history_is_a_404() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let eve = app.ordinary_user("Eve").await;
    let order = app.simple_order(&ada.token).await;
    app.get(&events_path(order), Some(&eve.token))
        .await
        .assert_error(404, "not_found");
    app.get(&events_path(order + 1_000), Some(&ada.token))
        .await
        .assert_error(404, "not_found");
    app.get(&events_path(order), None)
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn a_refused_or_empty_change_writes_no_event() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let product = app.create_product(&admin.token, "TEA", 500, Some(1)).await;
    let order = app.simple_order(&ada.token).await;
    let path = format!("/api/orders/{order}");
    assert_eq!(stored_events(&app, Some(order)).await, 1);

    // 412: a stale tag.
    let reply = app
        .send(
            app.request(Method::PATCH, &path)
                .bearer_auth(&ada.token)
                .header("if-match", "\"0-0\"")
                .json(&json!({"notes": "stale"})),
        )
        .await;
    reply.assert_error(412, "precondition_failed");
    // 422: a bad currency.
    app.patch(&path, Some(&ada.token), json!({"currency": "euro"}))
        .await
        .assert_status(422);
    // 403: an owner may not mark an order paid.
    app.patch(&path, Some(&ada.token), json!({"status": "paid"}))
        .await
        .assert_error(403, "forbidden");
    // 409: a transition the table forbids.
    app.patch(&path, Some(&admin.token), json!({"status": "delivered"}))
        .await
        .assert_error(409, "invalid_status_transition");
    // 409: an edit that would oversell, after the rest of the request was checked.
    app.patch(
        &path,
        Some(&admin.token),
        json!({"items": [{"product_id": product["id"], "quantity": 2}]}),
    )
    .await
    .assert_error(409, "out_of_stock");
    // Nothing to change: an empty body, the same notes again.
    app.patch(&path, Some(&ada.token), json!({}))
        .await
        .assert_status(200);
    app.patch(&path, Some(&ada.token), json!({"notes": null}))
        .await
        .assert_status(200);
    assert_eq!(stored_events(&app, Some(order)).await, 1);

    // An order that is refused whole leaves no history behind.
    let before = stored_events(&app, None).await;
    app.post(
        "/api/orders",
        Some(&ada.token),
        json!({"items": [{"product_id": product["id"], "quantity": 5}]}),
    )
    .await
    .assert_error(409, "out_of_stock");
    assert_eq!(stored_events(&app, None).await, before);
}

#[tokio::test]
async fn the_history_goes_with_its_order_and_nothing_else_removes_it() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let kept = app.simple_order(&ada.token).await;
    let order = app.simple_order(&ada.token).await;
    app.set_status(&ada.token, order, "cancelled").await;
    assert_eq!(stored_events(&app, Some(order)).await, 2);

    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let reply = app
            .call(
                method.clone(),
                &events_path(order),
                Some(&ada.token),
                Some(json!({})),
            )
            .await;
        reply.assert_error(405, "method_not_allowed");
    }
    assert_eq!(stored_events(&app, Some(order)).await, 2);

    app.delete(&format!("/api/orders/{order}"), Some(&ada.token))
        .await
        .assert_status(204);
    assert_eq!(stored_events(&app, Some(order)).await, 0);
    app.get(&events_path(order), Some(&ada.token))
        .await
        .assert_error(404, "not_found");
    assert_eq!(stored_events(&app, Some(kept)).await, 1);
}

#[tokio::test]
async fn the_history_pages_like_the_other_lists() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app.simple_order(&ada.token).await;
    for n in 0..4 {
        app.patch(
            &format!("/api/orders/{order}"),
            Some(&ada.token),
            json!({"notes": format!("note {n}")}),
        )
        .await
        .assert_status(200);
    }
    let rows = app.all_pages(&ada.token, &events_path(order), 2, 5).await;
    let kinds: Vec<&str> = rows
        .iter()
        .map(|row| row["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["created", "updated", "updated", "updated", "updated"]
    );
    app.get(
        &format!("{}?per_page=101", events_path(order)),
        Some(&ada.token),
    )
    .await
    .assert_invalid(&["per_page"]);
}
