//! `Idempotency-Key` on `POST /api/orders`: a repeat is answered the first response again and
//! orders nothing, whatever races; another body under the key is refused; a key is its user's,
//! lives `IDEMPOTENCY_KEY_TTL_SECS`, is freed by a failed validation and by a request that was
//! cut off, and is pruned once expired.

use chrono::{TimeDelta, Utc};
use comptoir::db::entities::idempotency_keys;
use futures_util::future::join_all;
use reqwest::{Method, header::HeaderValue};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionTrait, sea_query::Expr,
};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app, spawn_app_with};

const KEY: &str = "Idempotency-Key";

fn by_product(product: &Value, quantity: i64) -> Value {
    json!({"product_id": product["id"], "quantity": quantity})
}

/// `POST /api/orders` with `key` (raw bytes, so that a test can send anything) and a raw body.
async fn keyed(app: &TestApp, token: &str, key: &[u8], body: &str) -> Reply {
    let request = app
        .request(Method::POST, "/api/orders")
        .bearer_auth(token)
        .header(KEY, HeaderValue::from_bytes(key).unwrap())
        .header("content-type", "application/json")
        .body(body.to_owned());
    app.send(request).await
}

async fn keyed_json(app: &TestApp, token: &str, key: &str, body: &Value) -> Reply {
    keyed(app, token, key.as_bytes(), &body.to_string()).await
}

async fn orders_of(app: &TestApp, token: &str) -> u64 {
    let reply = app.get("/api/orders", Some(token)).await;
    reply.assert_status(200);
    reply.body["meta"]["total"].as_u64().unwrap()
}

async fn stock_of(app: &TestApp, token: &str, product: &Value) -> Value {
    let reply = app
        .get(&format!("/api/products/{}", product["id"]), Some(token))
        .await;
    reply.assert_status(200);
    reply.body["stock"].clone()
}

fn replayed(reply: &Reply) -> bool {
    reply.header("idempotent-replayed") == Some("true")
}

/// A transaction of the test's own that holds the `orders` table, so that an order's creation
/// waits in its transaction until it ends: a request caught running.
async fn hold_orders(app: &TestApp) -> DatabaseTransaction {
    let db = app.db().await;
    let hold = db.begin().await.unwrap();
    let statement = match db.get_database_backend() {
        DbBackend::Postgres => "LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE",
        // A write statement takes SQLite's one write lock, even one that changes no row.
        _ => "UPDATE orders SET notes = notes WHERE id = 0",
    };
    hold.execute_unprepared(statement).await.unwrap();
    hold
}

/// Until a request sent before waits on the held table: on PostgreSQL, seen waiting on its lock;
/// on SQLite, whose busy handler shows nothing, a second.
async fn let_it_reach_the_hold(app: &TestApp) {
    let db = app.db().await;
    if db.get_database_backend() != DbBackend::Postgres {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        return;
    }
    let waiting = "SELECT count(*) AS waiting FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    for _ in 0..100 {
        let row = db.query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            waiting,
        ));
        let count: i64 = row.await.unwrap().unwrap().try_get("", "waiting").unwrap();
        if count > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no request came to wait on the held table");
}

#[tokio::test]
async fn a_repeat_is_answered_the_first_response_again_and_orders_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let tea = app.create_product(&admin.token, "TEA", 500, Some(10)).await;

    let body = format!(
        r#"{{"items": [{{"product_id": {}, "quantity": 2}}], "notes": "door code 42"}}"#,
        tea["id"]
    );
    let first = keyed(&app, &ada.token, b"order-1", &body).await;
    first.assert_status(201);
    assert!(!replayed(&first), "a first response is not a replay");

    // The same request, laid out and ordered otherwise.
    let same = format!(
        "{{\n  \"notes\":\"door code 42\",\n  \"items\":[{{\"quantity\":2,\"product_id\":{}}}]\n}}",
        tea["id"]
    );
    for _ in 0..2 {
        let again = keyed(&app, &ada.token, b"order-1", &same).await;
        again.assert_status(201);
        assert!(replayed(&again));
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("location"), first.header("location"));
    }
    assert_eq!(orders_of(&app, &ada.token).await, 1);
    assert_eq!(stock_of(&app, &ada.token, &tea).await, 8);

    // The replay is the order as it was created, even once it has changed.
    let id = first.body["id"].as_i64().unwrap();
    app.patch(
        &format!("/api/orders/{id}"),
        Some(&ada.token),
        json!({"notes": "ring twice"}),
    )
    .await
    .assert_status(200);
    let later = keyed(&app, &ada.token, b"order-1", &body).await;
    assert_eq!(later.body["notes"], "door code 42");
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_422_in_the_clients_language() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    keyed_json(&app, &ada.token, "k-1", &body)
        .await
        .assert_status(201);

    let other = json!({"items": [{"product": "Widget", "quantity": 2, "unit_price_cents": 100}]});
    let refused = keyed_json(&app, &ada.token, "k-1", &other).await;
    refused.assert_error(422, "idempotency_key_reused");
    assert_eq!(refused.error_fields(), [KEY]);

    let french = app
        .send(
            app.request(Method::POST, "/api/orders")
                .bearer_auth(&ada.token)
                .header(KEY, "k-1")
                .header("accept-language", "fr")
                .json(&other),
        )
        .await;
    french.assert_error(422, "idempotency_key_reused");
    let message = french.body["errors"][KEY][0].as_str().unwrap();
    assert!(
        message.starts_with("La clé « Idempotency-Key »"),
        "{message}"
    );
    assert_eq!(orders_of(&app, &ada.token).await, 1);
}

#[tokio::test]
async fn keys_are_visible_ascii_from_1_to_255_characters_else_a_422_naming_the_header() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]})
        .to_string();
    let long = "k".repeat(256);
    for key in [
        &b""[..],
        long.as_bytes(),
        b"two words",
        "clé".as_bytes(),
        b"a\tb",
    ] {
        let reply = keyed(&app, &ada.token, key, &body).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [KEY], "{key:?}");
    }
    let french = app
        .send(
            app.request(Method::POST, "/api/orders")
                .bearer_auth(&ada.token)
                .header(KEY, "a b")
                .header("accept-language", "fr")
                .header("content-type", "application/json")
                .body(body.clone()),
        )
        .await;
    french.assert_error(422, "validation_failed");
    assert_eq!(
        french.body["errors"][KEY][0],
        "L’en-tête « Idempotency-Key » doit compter de 1 à 255 caractères ASCII visibles, sans \
         espace."
    );
    let twice = app
        .send(
            app.request(Method::POST, "/api/orders")
                .bearer_auth(&ada.token)
                .header(KEY, "one")
                .header(KEY, "two")
                .header("content-type", "application/json")
                .body(body.clone()),
        )
        .await;
    twice.assert_error(422, "validation_failed");
    assert_eq!(orders_of(&app, &ada.token).await, 0);

    // The longest key works.
    let longest = "~".repeat(255);
    keyed(&app, &ada.token, longest.as_bytes(), &body)
        .await
        .assert_status(201);
}

#[tokio::test]
async fn a_failed_validation_frees_the_key_and_out_of_stock_is_kept() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let tea = app.create_product(&admin.token, "TEA", 500, Some(1)).await;

    // Refused by the handler (a quantity of 0), then by the service (no such product): each
    // time the key is given back, and the corrected request runs with it.
    let zero = json!({"items": [by_product(&tea, 0)]});
    keyed_json(&app, &ada.token, "fix-me", &zero)
        .await
        .assert_error(422, "validation_failed");
    let unknown = json!({"items": [{"product_id": 999_999, "quantity": 1}]});
    keyed_json(&app, &ada.token, "fix-me", &unknown)
        .await
        .assert_error(422, "validation_failed");
    let good = json!({"items": [by_product(&tea, 1)]});
    let created = keyed_json(&app, &ada.token, "fix-me", &good).await;
    created.assert_status(201);
    assert!(!replayed(&created));

    // Out of stock is an answer the key keeps, even once stock is back.
    let refused = keyed_json(&app, &ada.token, "no-stock", &good).await;
    refused.assert_error(409, "out_of_stock");
    assert!(!replayed(&refused));
    app.patch(
        &format!("/api/products/{}", tea["id"]),
        Some(&admin.token),
        json!({"stock": 5}),
    )
    .await
    .assert_status(200);
    let again = keyed_json(&app, &ada.token, "no-stock", &good).await;
    again.assert_error(409, "out_of_stock");
    assert!(replayed(&again));
    assert_eq!(again.body, refused.body);
    assert_eq!(orders_of(&app, &ada.token).await, 1);
    assert_eq!(stock_of(&app, &ada.token, &tea).await, 5);
}

#[tokio::test]
async fn twelve_racing_requests_with_one_key_on_two_instances_make_one_order() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let admin = a.admin().await;
    let ada = a.ordinary_user("Ada").await;
    let tea = a.create_product(&admin.token, "TEA", 500, Some(100)).await;
    let body = json!({"items": [by_product(&tea, 3)]});

    let replies = join_all((0..12).map(|i| {
        let instance = if i % 2 == 0 { &a } else { &b };
        keyed_json(instance, &ada.token, "race", &body)
    }))
    .await;
    let firsts: Vec<&Reply> = replies
        .iter()
        .filter(|reply| reply.status == 201 && !replayed(reply))
        .collect();
    assert_eq!(
        firsts.len(),
        1,
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, &r.body))
            .collect::<Vec<_>>()
    );
    let id = &firsts[0].body["id"];
    for reply in &replies {
        match reply.status.as_u16() {
            201 => assert_eq!(&reply.body["id"], id),
            _ => reply.assert_error(409, "idempotency_key_in_use"),
        }
    }
    assert_eq!(orders_of(&a, &ada.token).await, 1);
    assert_eq!(stock_of(&a, &ada.token, &tea).await, 97);
    // Once the first is done, every repeat is its replay.
    let after = keyed_json(&b, &ada.token, "race", &body).await;
    assert!(replayed(&after));
    assert_eq!(&after.body["id"], id);
}

#[tokio::test]
async fn a_repeat_while_the_first_runs_is_a_409_on_every_instance_but_sqlites_others() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let postgres = a.db().await.get_database_backend() == DbBackend::Postgres;
    let ada = a.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    let hold = hold_orders(&a).await;

    let first = keyed_json(&a, &ada.token, "slow", &body);
    let repeats = async {
        let_it_reach_the_hold(&a).await;
        let here = keyed_json(&a, &ada.token, "slow", &body);
        let elsewhere = keyed_json(&b, &ada.token, "slow", &body);
        // Released on a timer, so that a repeat that waits cannot hang the test.
        let release = async {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            hold.rollback().await.unwrap();
        };
        let (here, elsewhere, ()) = tokio::join!(here, elsewhere, release);
        (here, elsewhere)
    };
    let (first, (here, elsewhere)) = tokio::join!(first, repeats);

    // On the instance that runs the first, refused at once.
    here.assert_error(409, "idempotency_key_in_use");
    let message = here.body["message"].as_str().unwrap();
    assert!(message.contains("Idempotency-Key"), "{message}");
    first.assert_status(201);
    assert!(!replayed(&first));
    if postgres {
        // On another, too: the first's transaction holds the key's lock.
        elsewhere.assert_error(409, "idempotency_key_in_use");
    } else {
        // SQLite's transactions take turns: the repeat waits for the first's and answers it.
        elsewhere.assert_status(201);
        assert!(replayed(&elsewhere));
        assert_eq!(first.body["id"], elsewhere.body["id"]);
    }
    assert_eq!(orders_of(&a, &ada.token).await, 1);
}

#[tokio::test]
async fn a_request_cut_off_leaves_its_key_free() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT_SECS", "1")]).await;
    let ada = app.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    let hold = hold_orders(&app).await;
    keyed_json(&app, &ada.token, "cut", &body)
        .await
        .assert_error(503, "request_timeout");
    hold.rollback().await.unwrap();

    // What it was writing rolled back with it, its key included: the retry runs.
    let db = app.db().await;
    assert_eq!(
        idempotency_keys::Entity::find().count(&db).await.unwrap(),
        0
    );
    let retried = keyed_json(&app, &ada.token, "cut", &body).await;
    retried.assert_status(201);
    assert!(!replayed(&retried));
    assert!(replayed(&keyed_json(&app, &ada.token, "cut", &body).await));
    assert_eq!(orders_of(&app, &ada.token).await, 1);
}

#[tokio::test]
async fn a_key_an_earlier_version_left_running_is_a_409_until_its_hold_ends() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    keyed_json(&app, &ada.token, "crash", &body)
        .await
        .assert_status(201);

    // As earlier versions claimed a key while their request ran (a rolling upgrade may leave
    // such a row): no response yet, the claim held until `locked_until`.
    let db = app.db().await;
    let hold = |until: chrono::DateTime<Utc>| {
        idempotency_keys::Entity::update_many()
            .col_expr(
                idempotency_keys::Column::ResponseStatus,
                Expr::value(Option::<i32>::None),
            )
            .col_expr(
                idempotency_keys::Column::ResponseBody,
                Expr::value(Option::<String>::None),
            )
            .col_expr(idempotency_keys::Column::LockedUntil, Expr::value(until))
            .exec(&db)
    };
    hold(Utc::now() + TimeDelta::seconds(60)).await.unwrap();
    keyed_json(&app, &ada.token, "crash", &body)
        .await
        .assert_error(409, "idempotency_key_in_use");

    // Its hold ran out: that request crashed, and the next one runs in its place.
    hold(Utc::now() - TimeDelta::seconds(1)).await.unwrap();
    let retried = keyed_json(&app, &ada.token, "crash", &body).await;
    retried.assert_status(201);
    assert!(!replayed(&retried));
    let again = keyed_json(&app, &ada.token, "crash", &body).await;
    assert!(replayed(&again));
    assert_eq!(again.body["id"], retried.body["id"]);
    assert_eq!(orders_of(&app, &ada.token).await, 2);
}

#[tokio::test]
async fn a_key_is_its_users_own() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    let hers = keyed_json(&app, &ada.token, "shared", &body).await;
    let his = keyed_json(&app, &bob.token, "shared", &body).await;
    for reply in [&hers, &his] {
        reply.assert_status(201);
        assert!(!replayed(reply));
    }
    assert_ne!(hers.body["id"], his.body["id"]);
    assert_eq!(his.body["user_id"], bob.id);
}

#[tokio::test]
async fn an_expired_key_can_be_used_again() {
    let app = spawn_app_with(&[("IDEMPOTENCY_KEY_TTL_SECS", "1")]).await;
    let ada = app.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    let first = keyed_json(&app, &ada.token, "short", &body).await;
    first.assert_status(201);
    // Lifetimes are stored at whole seconds, rounded up.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let other = json!({"items": [{"product": "Gadget", "quantity": 1, "unit_price_cents": 100}]});
    let second = keyed_json(&app, &ada.token, "short", &other).await;
    second.assert_status(201);
    assert!(!replayed(&second));
    assert_ne!(second.body["id"], first.body["id"]);
}

#[tokio::test]
async fn comptoir_prune_deletes_expired_keys_only() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    for key in ["old", "new"] {
        keyed_json(&app, &ada.token, key, &body)
            .await
            .assert_status(201);
    }
    let db = app.db().await;
    let old_hash = comptoir::service::hash_token("old");
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::ExpiresAt,
            Expr::value(Utc::now() - TimeDelta::seconds(1)),
        )
        .filter(idempotency_keys::Column::KeyHash.eq(old_hash))
        .exec(&db)
        .await
        .unwrap();

    let url = app.config.database.url.expose().clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_comptoir"))
            .arg("prune")
            .env_clear()
            .env("DATABASE_URL", url)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("mail throttle entries, 1 idempotency keys, 0 API tokens"),
        "{stdout}"
    );
    assert_eq!(
        idempotency_keys::Entity::find().count(&db).await.unwrap(),
        1
    );
    let kept = keyed_json(&app, &ada.token, "new", &body).await;
    assert!(replayed(&kept));
}

#[tokio::test]
async fn browsers_may_send_the_key_and_read_the_replay_header() {
    let app = spawn_app_with(&[("CORS_ORIGINS", "https://shop.example")]).await;
    let preflight = app
        .request(Method::OPTIONS, "/api/orders")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "idempotency-key")
        .send()
        .await
        .unwrap();
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    let ada = app.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    let reply = app
        .send(
            app.request(Method::POST, "/api/orders")
                .bearer_auth(&ada.token)
                .header("origin", "https://shop.example")
                .header(KEY, "cors")
                .json(&body),
        )
        .await;
    reply.assert_status(201);
    let exposed = reply.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("idempotent-replayed"), "{exposed}");
}

#[tokio::test]
async fn the_spec_declares_the_key_the_replay_header_and_the_refusals() {
    let app = spawn_app().await;
    let spec = app.get("/openapi.json", None).await.body;
    let create = &spec["paths"]["/api/orders"]["post"];
    let parameter = create["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == KEY)
        .expect("the header is declared");
    assert_eq!(parameter["in"], "header");
    assert_eq!(parameter["required"], false);
    assert_eq!(parameter["schema"]["maxLength"], 255);
    for status in ["201", "409"] {
        let headers = create["responses"][status]["headers"].as_object().unwrap();
        assert!(
            headers
                .keys()
                .any(|name| name.eq_ignore_ascii_case("Idempotent-Replayed")),
            "{status}"
        );
    }
    let unprocessable = create["responses"]["422"]["description"].as_str().unwrap();
    assert!(unprocessable.contains("idempotency_key_reused"));
}

#[tokio::test]
async fn the_key_is_a_header_and_the_query_step_still_refuses_it_as_a_parameter() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let body = json!({"items": [{"product": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    let reply = app
        .send(
            app.request(Method::POST, "/api/orders?Idempotency-Key=abc")
                .bearer_auth(&ada.token)
                .json(&body),
        )
        .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), [KEY]);
    assert_eq!(
        reply.body["errors"][KEY][0],
        "“Idempotency-Key” is not a parameter of this operation, which takes none."
    );
    assert_eq!(orders_of(&app, &ada.token).await, 0);
}
