//! API tokens with abilities: shown once and stored as a hash; each operation checks the
//! ability its description names (a table-driven walk over the spec's operations); a token
//! never exceeds its owner and cannot make tokens, change credentials or manage sessions;
//! deleting it, or its user, kills it at once on every instance; expiry and pruning.

use std::time::Duration;

use comptoir::db::entities::api_tokens;
use reqwest::Method;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{PASSWORD, Reply, TestApp, item, spawn_app, spawn_app_with};

const EVERY: [&str; 7] = [
    "orders:read",
    "orders:write",
    "orders:price",
    "products:write",
    "users:read",
    "users:write",
    "webhooks:manage",
];

async fn create_token(app: &TestApp, session: &str, abilities: &[&str]) -> Reply {
    app.post(
        "/api/tokens",
        Some(session),
        json!({"name": "Warehouse", "abilities": abilities}),
    )
    .await
}

/// A new token of the account behind `session`, with these abilities.
async fn api_token(app: &TestApp, session: &str, abilities: &[&str]) -> String {
    let reply = create_token(app, session, abilities).await;
    reply.assert_status(201);
    reply.body["token"].as_str().unwrap().to_owned()
}

fn sha256_hex(text: &str) -> String {
    comptoir::service::to_hex(&Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn a_token_is_shown_once_and_only_its_sha256_is_stored() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let reply = app
        .post(
            "/api/tokens",
            Some(&ada.token),
            json!({"name": "  Warehouse  ", "abilities": ["orders:read", "orders:write", "orders:read"], "expires_in": 3600}),
        )
        .await;
    reply.assert_status(201);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cmpt_") && token.len() == 69, "{token}");
    assert_eq!(reply.body["name"], "Warehouse");
    assert_eq!(
        reply.body["abilities"],
        json!(["orders:read", "orders:write"])
    );
    assert_eq!(reply.body["last_used_at"], Value::Null);
    assert!(reply.body["expires_at"].is_string());

    // The list never shows the token again.
    let list = app.get("/api/tokens", Some(&ada.token)).await;
    list.assert_status(200);
    let listed = &list.body["data"][0];
    assert_eq!(listed["id"], reply.body["id"]);
    assert!(listed.get("token").is_none(), "{listed}");

    let rows = api_tokens::Entity::find()
        .all(&app.db().await)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash, sha256_hex(&token));
    assert!(!format!("{:?}", rows[0]).contains(&token[5..]));

    // It works, and its use is recorded (off the request's path).
    let me = app.get("/api/user", Some(&token)).await;
    me.assert_status(200);
    assert_eq!(me.body["id"], ada.id);
    let mut last_used = Value::Null;
    for _ in 0..50 {
        let list = app.get("/api/tokens", Some(&ada.token)).await;
        last_used = list.body["data"][0]["last_used_at"].clone();
        if last_used.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last_used.is_string(), "last_used_at was never recorded");
}

#[tokio::test]
async fn bad_requests_are_422_with_each_field_named_and_make_nothing() {
    let app = spawn_app_with(&[("ORDER_FREE_LINES", "admin")]).await;
    let ada = app.ordinary_user("Ada").await;
    for (body, fields) in [
        (
            json!({"name": " ", "abilities": ["orders:read"]}),
            vec!["name"],
        ),
        (json!({"name": "W", "abilities": []}), vec!["abilities"]),
        (
            json!({"name": "W", "abilities": ["orders:delete"]}),
            vec!["abilities.0"],
        ),
        (
            json!({"name": "W", "abilities": ["orders:read"], "expires_in": 10}),
            vec!["expires_in"],
        ),
        (
            json!({"name": "W", "abilities": ["orders:price"]}),
            vec!["abilities"],
        ),
        (
            json!({"name": "W", "abilities": ["products:write"]}),
            vec!["abilities"],
        ),
        (
            json!({"name": "W", "abilities": ["webhooks:manage"]}),
            vec!["abilities"],
        ),
        // What the schema refuses is said first, as everywhere: the rest is checked once the
        // body has its shape.
        (
            json!({"name": "", "abilities": ["webhooks:manage"], "expires_in": 0}),
            vec!["expires_in", "name"],
        ),
    ] {
        let reply = app
            .post("/api/tokens", Some(&ada.token), body.clone())
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), fields, "{body}: {}", reply.body);
    }
    // In the client's language.
    let reply = app
        .send(
            app.request(Method::POST, "/api/tokens")
                .bearer_auth(&ada.token)
                .header("Accept-Language", "fr")
                .json(&json!({"name": "W", "abilities": ["products:write"]})),
        )
        .await;
    let message = reply.body["errors"]["abilities"][0].as_str().unwrap();
    assert!(message.contains("propriétaire"), "{message}");
    let list = app.get("/api/tokens", Some(&ada.token)).await;
    assert_eq!(list.body["data"], json!([]));
}

#[tokio::test]
async fn a_token_never_exceeds_its_owner() {
    let app = spawn_app_with(&[("ORDER_FREE_LINES", "admin")]).await;
    let admin = app.admin().await;
    let product = app.create_product(&admin.token, "TOK-0", 500, None).await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let bobs_order = app
        .create_order(
            &bob.token,
            json!([{"product_id": product["id"], "quantity": 1}]),
        )
        .await;
    // `*` is every ability its owner may hold, and no more.
    let token = api_token(&app, &ada.token, &["*"]).await;
    app.get(&format!("/api/users/{}", bob.id), Some(&token))
        .await
        .assert_error(404, "not_found");
    app.get(&format!("/api/orders/{}", bobs_order["id"]), Some(&token))
        .await
        .assert_error(404, "not_found");
    app.get("/api/users", Some(&token))
        .await
        .assert_error(403, "forbidden");
    let reply = app
        .post(
            "/api/orders",
            Some(&token),
            json!({"items": [item("Widget", 1, 100)]}),
        )
        .await;
    reply.assert_error(422, "validation_failed");
    let body = json!({"sku": "TOK-1", "name": "Mug", "price_cents": 900});
    app.post("/api/products", Some(&token), body)
        .await
        .assert_error(403, "forbidden");
    // An admin's token may do an admin's work, within its abilities.
    let back_office = api_token(&app, &admin.token, &["products:write", "orders:price"]).await;
    let body = json!({"sku": "TOK-2", "name": "Mug", "price_cents": 900});
    app.post("/api/products", Some(&back_office), body)
        .await
        .assert_status(201);
    app.get("/api/users", Some(&back_office))
        .await
        .assert_error(403, "missing_ability");
}

#[tokio::test]
async fn free_lines_need_orders_price_and_product_lines_do_not() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = app.create_product(&admin.token, "TOK-3", 500, None).await;
    let writer = api_token(&app, &admin.token, &["orders:write"]).await;
    let pricer = api_token(&app, &admin.token, &["orders:write", "orders:price"]).await;
    let free = json!({"items": [item("Custom", 1, 1234)]});
    let reply = app.post("/api/orders", Some(&writer), free.clone()).await;
    reply.assert_error(403, "missing_ability");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("orders:price")
    );
    app.post("/api/orders", Some(&pricer), free)
        .await
        .assert_status(201);
    let catalogue_line = json!({"items": [{"product_id": product["id"], "quantity": 2}]});
    let order = app.post("/api/orders", Some(&writer), catalogue_line).await;
    order.assert_status(201);
    // A free line slipped into a change needs it too.
    let path = format!("/api/orders/{}", order.body["id"]);
    app.patch(
        &path,
        Some(&writer),
        json!({"items": [item("Custom", 1, 1)]}),
    )
    .await
    .assert_error(403, "missing_ability");
    app.patch(
        &path,
        Some(&pricer),
        json!({"items": [item("Custom", 1, 1)]}),
    )
    .await
    .assert_status(200);
    // Reading needs its own ability.
    app.get(&path, Some(&writer))
        .await
        .assert_error(403, "missing_ability");
}

#[tokio::test]
async fn tokens_cannot_make_tokens_change_credentials_or_manage_sessions() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let token = api_token(&app, &ada.token, &["*"]).await;
    let id = {
        let list = app.get("/api/tokens", Some(&ada.token)).await;
        list.body["data"][0]["id"].as_i64().unwrap()
    };
    let user = format!("/api/users/{}", ada.id);
    for (method, path, body) in [
        (
            Method::POST,
            "/api/tokens".to_owned(),
            Some(json!({"name": "W", "abilities": ["*"]})),
        ),
        (Method::GET, "/api/tokens".to_owned(), None),
        (Method::DELETE, format!("/api/tokens/{id}"), None),
        (Method::GET, "/api/sessions".to_owned(), None),
        (Method::DELETE, "/api/sessions".to_owned(), None),
        (Method::POST, "/api/logout".to_owned(), None),
        (
            Method::POST,
            "/api/email/verification-notification".to_owned(),
            None,
        ),
        (
            Method::PATCH,
            user.clone(),
            Some(json!({"password": "another good password", "current_password": PASSWORD})),
        ),
        (
            Method::PATCH,
            user.clone(),
            Some(json!({"email": "ada.new@example.com", "current_password": PASSWORD})),
        ),
    ] {
        let reply = app.call(method.clone(), &path, Some(&token), body).await;
        assert_eq!(
            reply.body["code"], "session_required",
            "{method} {path}: {}",
            reply.body
        );
        reply.assert_error(403, "session_required");
    }
    // Nothing changed: the token and the password still work.
    app.get("/api/user", Some(&token)).await.assert_status(200);
    app.login(&ada.email, PASSWORD).await.assert_status(200);
    // Other changes to oneself are fine with `users:write`.
    let reply = app
        .patch(&user, Some(&token), json!({"name": "Ada L."}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["name"], "Ada L.");
}

#[tokio::test]
async fn deleting_a_token_or_its_user_kills_it_at_once_on_every_instance() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    let bob = a.ordinary_user("Bob").await;
    let kept = api_token(&a, &ada.token, &["orders:read"]).await;
    let doomed = api_token(&a, &ada.token, &["orders:read"]).await;
    // Cached on the other instance first.
    for token in [&kept, &doomed] {
        b.get("/api/orders", Some(token)).await.assert_status(200);
    }
    let list = a.get("/api/tokens", Some(&ada.token)).await;
    let doomed_id = list.body["data"][0]["id"].as_i64().unwrap();
    // Someone else's token is not found, and lives on.
    a.delete(&format!("/api/tokens/{doomed_id}"), Some(&bob.token))
        .await
        .assert_error(404, "not_found");
    b.get("/api/orders", Some(&doomed)).await.assert_status(200);

    a.delete(&format!("/api/tokens/{doomed_id}"), Some(&ada.token))
        .await
        .assert_status(204);
    b.get("/api/orders", Some(&doomed))
        .await
        .assert_error(401, "unauthenticated");
    b.get("/api/orders", Some(&kept)).await.assert_status(200);
    a.delete(&format!("/api/tokens/{doomed_id}"), Some(&ada.token))
        .await
        .assert_error(404, "not_found");

    // The account's deletion takes its tokens with it.
    a.delete(&format!("/api/users/{}", ada.id), Some(&ada.token))
        .await
        .assert_status(204);
    let reply = b.get("/api/orders", Some(&kept)).await;
    reply.assert_error(401, "unauthenticated");
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|value| value.contains("invalid_token"))
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_and_pruned_and_a_forged_one_is_unknown() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let reply = app
        .post(
            "/api/tokens",
            Some(&ada.token),
            json!({"name": "Short", "abilities": ["orders:read"], "expires_in": 60}),
        )
        .await;
    reply.assert_status(201);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    let live = api_token(&app, &ada.token, &["orders:read"]).await;
    let db = app.db().await;
    db.execute_unprepared(&format!(
        "UPDATE api_tokens SET expires_at = '2020-01-01 00:00:00+00:00' WHERE id = {}",
        reply.body["id"]
    ))
    .await
    .unwrap();
    let refused = app.get("/api/orders", Some(&token)).await;
    refused.assert_error(401, "unauthenticated");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // No longer listed, and gone after a prune; the live one stays.
    let list = app.get("/api/tokens", Some(&ada.token)).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    comptoir::service::prune::Pruner::new(db.clone())
        .prune()
        .await
        .unwrap()
        .unwrap();
    let left = api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(ada.id))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    app.get("/api/orders", Some(&live)).await.assert_status(200);

    let forged = format!("cmpt_{}", "0".repeat(64));
    app.get("/api/orders", Some(&forged))
        .await
        .assert_error(401, "unauthenticated");
    app.get("/api/orders", Some("cmpt_short"))
        .await
        .assert_error(401, "unauthenticated");
}

/// The ability an operation's description names, `None` when any API token may call it.
fn ability_of(operation: &Value) -> Option<String> {
    let description = operation["description"]
        .as_str()
        .unwrap_or_default()
        .replace('\n', " ");
    let marker = "API tokens need `";
    let start = description.find(marker)? + marker.len();
    let end = description[start..].find('`')? + start;
    Some(description[start..end].to_owned())
}

fn accepts_api_tokens(operation: &Value) -> Option<bool> {
    let security = operation["security"]
        .as_array()
        .filter(|list| !list.is_empty())?;
    Some(
        security
            .iter()
            .any(|scheme| scheme.get("ApiToken").is_some()),
    )
}

/// A body the operation's schema accepts: the example of its request object.
fn example_body(spec: &Value, operation: &Value) -> Option<Value> {
    let reference = operation["requestBody"]["content"]
        .as_object()?
        .values()
        .next()?["schema"]["$ref"]
        .as_str()?;
    let name = reference.rsplit('/').next()?;
    Some(spec["components"]["schemas"][name]["example"].clone())
}

/// Every operation of the spec, called with an API token that lacks the ability its
/// description names (403 `missing_ability`) and with one that has only that ability (never
/// `missing_ability`); operations that name none take any token; operations whose security
/// leaves out `ApiToken` refuse every token with 403 `session_required`.
#[tokio::test]
async fn every_operation_checks_the_ability_its_description_names() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let victim = app.ordinary_user("Victim").await;
    let product = app
        .create_product(&admin.token, "TOK-SPEC", 500, None)
        .await;
    let order = app.simple_order(&admin.token).await;
    let spec = app.get("/openapi.json", None).await.body;
    let ids = [
        ("/api/users/", victim.id),
        ("/api/orders/", order),
        ("/api/products/", product["id"].as_i64().unwrap()),
    ];
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(accepts) = accepts_api_tokens(operation) else {
                continue;
            };
            let id = ids
                .iter()
                .find(|(prefix, _)| path.starts_with(prefix))
                .map_or(1, |(_, id)| *id);
            let url = path
                .replace("{id}", &id.to_string())
                .replace("{delivery_id}", &id.to_string());
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = example_body(&spec, operation);
            let name = operation["operationId"].as_str().unwrap();
            let call = |token: String| {
                let (method, url, body) = (method.clone(), url.clone(), body.clone());
                let app = &app;
                async move { app.call(method, &url, Some(&token), body).await }
            };
            match (accepts, ability_of(operation)) {
                (false, ability) => {
                    assert_eq!(
                        ability, None,
                        "{name} takes no API token yet names an ability"
                    );
                    let token = api_token(&app, &admin.token, &["*"]).await;
                    call(token).await.assert_error(403, "session_required");
                }
                (true, None) => {
                    let token = api_token(&app, &admin.token, &["webhooks:manage"]).await;
                    let reply = call(token).await;
                    assert_ne!(
                        reply.body["code"], "missing_ability",
                        "{name}: {}",
                        reply.body
                    );
                }
                (true, Some(ability)) => {
                    assert!(EVERY.contains(&ability.as_str()), "{name} names {ability}");
                    assert!(
                        operation["responses"]["403"]["description"]
                            .as_str()
                            .is_some_and(|text| text.contains("missing_ability")),
                        "{name} does not declare its 403 missing_ability"
                    );
                    let others: Vec<&str> = EVERY
                        .into_iter()
                        .filter(|other| *other != ability)
                        .collect();
                    let without = api_token(&app, &admin.token, &others).await;
                    let reply = call(without).await;
                    assert_eq!(
                        reply.body["code"], "missing_ability",
                        "{name}: {}",
                        reply.body
                    );
                    reply.assert_error(403, "missing_ability");
                    let with = api_token(&app, &admin.token, &[ability.as_str()]).await;
                    let reply = call(with).await;
                    assert_ne!(
                        reply.body["code"], "missing_ability",
                        "{name}: {}",
                        reply.body
                    );
                    assert_ne!(reply.status.as_u16(), 401, "{name}: {}", reply.body);
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations were checked");
}
