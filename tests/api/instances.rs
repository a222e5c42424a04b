//! Several instances on one database, as behind a load balancer, and concurrent writers.
//! These run on whichever engine the suite runs on; CI runs them on SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use comptoir::config::Config;

use crate::helpers::{TestDatabase, spawn_app, test_config, unique_email};

#[tokio::test]
async fn a_token_from_one_instance_works_on_the_other() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let token = a
        .register("Ada", &unique_email("roaming"), "password-1")
        .await;
    let me = b.get("/api/user", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_by_the_other_at_once() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let token = a
        .register("Ada", &unique_email("logout"), "password-1")
        .await;
    assert_eq!(
        b.get("/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        a.call(Method::POST, "/api/logout", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    b.get("/api/user", Some(&token))
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn a_deletion_on_one_instance_is_seen_by_the_other_at_once() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let token = a
        .register("Ada", &unique_email("deleted"), "password-1")
        .await;
    let id = b.get("/api/user", Some(&token)).await.body["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        a.call(
            Method::DELETE,
            &format!("/api/users/{id}"),
            Some(&token),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    b.get("/api/user", Some(&token))
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn an_order_created_on_one_instance_is_read_on_the_other() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let token = a
        .register("Ada", &unique_email("orders"), "password-1")
        .await;
    let created = a
        .post(
            "/api/orders",
            Some(&token),
            json!({"items": [{"product": "Thé", "quantity": 2, "unit_price_cents": 450}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let read = b
        .get(&format!("/api/orders/{}", created.body["id"]), Some(&token))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, created.body);
}

#[tokio::test]
async fn many_concurrent_writers_on_two_instances_lose_nothing() {
    const TASKS: i64 = 8;
    const ORDERS_PER_TASK: i64 = 25;
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let (_, admin) = a.admin_token().await;
    let token = a.register("Ada", &unique_email("busy"), "password-1").await;

    let writers = (0..TASKS).map(|task| {
        let target = if task % 2 == 0 { &a } else { &b };
        let token = token.clone();
        async move {
            let mut expected = Vec::new();
            for n in 0..ORDERS_PER_TASK {
                let (quantity, price) = (task + 1, n * 100 + 7);
                let reply = target
                    .post(
                        "/api/orders",
                        Some(&token),
                        json!({"items": [{"product": "a", "quantity": quantity, "unit_price_cents": price}, {"product": "b", "quantity": 1, "unit_price_cents": task}]}),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
                expected.push((reply.body["id"].as_i64().unwrap(), quantity * price + task));
            }
            expected
        }
    });
    let expected: Vec<(i64, i64)> = futures_util::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        expected.len(),
        usize::try_from(TASKS * ORDERS_PER_TASK).unwrap()
    );

    let mut stored: Vec<Value> = Vec::new();
    for page in 1.. {
        let reply = b
            .get(
                &format!("/api/orders?per_page=100&sort=id&page={page}"),
                Some(&admin),
            )
            .await;
        let rows = reply.body["data"].as_array().unwrap().clone();
        if rows.is_empty() {
            break;
        }
        stored.extend(rows);
    }
    assert_eq!(stored.len(), expected.len());
    for (id, total) in expected {
        let order = stored
            .iter()
            .find(|order| order["id"] == id)
            .unwrap_or_else(|| panic!("order {id} is missing"));
        assert_eq!(order["total_cents"], total, "order {id}");
        assert_eq!(order["items"].as_array().unwrap().len(), 2, "order {id}");
    }
}

#[tokio::test]
async fn of_two_racing_registrations_of_one_email_exactly_one_wins() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    for round in 0..5 {
        let email = unique_email(&format!("race-{round}"));
        let body = json!({"name": "Twin", "email": email, "password": "password-1"});
        let (first, second) = tokio::join!(
            a.post("/api/register", None, body.clone()),
            b.post("/api/register", None, body.clone()),
        );
        let mut statuses = [first.status.as_u16(), second.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 422],
            "round {round}: {} / {}",
            first.body,
            second.body
        );
        let loser = if first.status == StatusCode::CREATED {
            &second
        } else {
            &first
        };
        assert_eq!(
            loser.body["errors"]["email"][0],
            "The email has already been taken."
        );
    }
}

#[tokio::test]
async fn of_two_racing_status_changes_exactly_one_wins() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let (_, admin) = a.admin_token().await;
    let owner = a.register("Ada", &unique_email("racy"), "password-1").await;
    for round in 0..10 {
        let order = a
            .post(
                "/api/orders",
                Some(&owner),
                json!({"items": [{"product": "x", "quantity": 1, "unit_price_cents": 100}]}),
            )
            .await;
        let path = format!("/api/orders/{}", order.body["id"]);
        let paid = a
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(json!({"status": "paid"})),
            )
            .await;
        assert_eq!(paid.status, StatusCode::OK);
        // From paid, shipped and cancelled exclude each other in either order, so however the
        // two requests interleave, only one may succeed.
        let (shipped, cancelled) = tokio::join!(
            a.call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(json!({"status": "shipped"}))
            ),
            b.call(
                Method::PATCH,
                &path,
                Some(&owner),
                Some(json!({"status": "cancelled"}))
            ),
        );
        let mut statuses = [shipped.status.as_u16(), cancelled.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 409],
            "round {round}: {} / {}",
            shipped.body,
            cancelled.body
        );
        let winner = if shipped.status == StatusCode::OK {
            &shipped
        } else {
            &cancelled
        };
        let stored = a.get(&path, Some(&admin)).await;
        assert_eq!(
            stored.body["status"], winner.body["status"],
            "round {round}"
        );
    }
}

#[tokio::test]
async fn instances_that_start_together_on_a_new_database_all_come_up() {
    let database = TestDatabase::create().await;
    let configs: Vec<Config> = (0..3).map(|_| test_config(&database.url, &[])).collect();
    let builds = configs.iter().map(comptoir::startup::Application::build);
    for result in futures_util::future::join_all(builds).await {
        assert!(result.is_ok(), "{:?}", result.err());
    }
    // And once more, with nothing left to migrate.
    assert!(
        comptoir::startup::Application::build(&configs[0])
            .await
            .is_ok()
    );
}
