//! Query parameters are checked against the spec before any handler runs: every bad one is
//! named at once, with what it accepts, in the client's language; unknown ones are refused.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app};

async fn get_in(app: &TestApp, language: &str, path: &str, token: &str) -> Reply {
    app.send(
        app.request(Method::GET, path)
            .bearer_auth(token)
            .header("accept-language", language),
    )
    .await
}

/// The one message of `errors.<name>`.
fn entry<'a>(reply: &'a Reply, name: &str) -> &'a str {
    let messages = reply.body["errors"][name].as_array().unwrap_or_else(|| {
        panic!("no errors.{name}: {}", reply.body);
    });
    assert_eq!(messages.len(), 1, "{}", reply.body);
    messages[0].as_str().unwrap()
}

#[tokio::test]
async fn every_bad_parameter_is_named_at_once_with_what_it_accepts() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    let reply = get_in(
        &app,
        "en",
        "/api/orders?page=0&per_page=500&sort=name&status=lost&user_id=0",
        &admin,
    )
    .await;
    reply.assert_invalid(&["page", "per_page", "sort", "status", "user_id"]);
    assert_eq!(
        entry(&reply, "page"),
        "The parameter “page” must be a whole number from 1 to 1000000."
    );
    assert_eq!(
        entry(&reply, "per_page"),
        "The parameter “per_page” must be a whole number from 1 to 100."
    );
    assert_eq!(
        entry(&reply, "sort"),
        "The parameter “sort” must be one of: id, -id, created_at, -created_at, total_cents, -total_cents."
    );
    assert_eq!(
        entry(&reply, "status"),
        "The parameter “status” must be one of: pending, paid, shipped, delivered, cancelled."
    );
    assert_eq!(
        entry(&reply, "user_id"),
        "The parameter “user_id” must be a whole number of at least 1."
    );
    let text = reply.body.to_string();
    assert!(
        !text.contains("failed to parse") && !text.contains("verification failed"),
        "no framework wording: {text}"
    );

    let reply = get_in(
        &app,
        "en",
        &format!("/api/users?q={}&role=king&page=abc", "x".repeat(101)),
        &admin,
    )
    .await;
    reply.assert_invalid(&["page", "q", "role"]);
    assert_eq!(
        entry(&reply, "q"),
        "The parameter “q” must not be longer than 100 characters."
    );
    assert_eq!(
        entry(&reply, "role"),
        "The parameter “role” must be one of: user, admin."
    );
}

#[tokio::test]
async fn a_misspelt_parameter_is_refused_instead_of_ignored() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    let reply = get_in(&app, "en", "/api/orders?stauts=paid", &admin).await;
    reply.assert_invalid(&["stauts"]);
    assert_eq!(
        entry(&reply, "stauts"),
        "“stauts” is not a parameter of this operation. Known parameters: page, cursor, per_page, sort, status, user_id."
    );
}

#[tokio::test]
async fn french_and_english_agree_in_code_status_and_names_and_differ_in_words() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    let path = "/api/orders?per_page=0&sort=name&stauts=paid&page=1&page=2";
    let english = get_in(&app, "en", path, &admin).await;
    let french = get_in(&app, "fr-FR,fr;q=0.9", path, &admin).await;
    english.assert_invalid(&["page", "per_page", "sort", "stauts"]);
    french.assert_invalid(&["page", "per_page", "sort", "stauts"]);
    assert_eq!(english.status, french.status);
    assert_eq!(english.body["code"], french.body["code"]);
    assert_ne!(english.body["message"], french.body["message"]);
    assert_eq!(french.header("content-language"), Some("fr"));
    for name in ["page", "per_page", "sort", "stauts"] {
        assert_ne!(entry(&english, name), entry(&french, name), "{name}");
    }
    assert_eq!(
        entry(&french, "per_page"),
        "Le paramètre « per_page » doit être un nombre entier de 1 à 100."
    );
    assert_eq!(
        entry(&french, "page"),
        "Le paramètre « page » ne doit être donné qu’une fois."
    );
    assert_eq!(
        entry(&french, "stauts"),
        "« stauts » n’est pas un paramètre de cette opération. Paramètres acceptés : page, cursor, per_page, sort, status, user_id."
    );
    assert!(
        entry(&french, "sort").ends_with(
            "l’une de ces valeurs : id, -id, created_at, -created_at, total_cents, -total_cents."
        ),
        "{}",
        french.body
    );
}

#[tokio::test]
async fn a_good_query_still_works() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app.simple_order(&ada.token).await;
    let reply = app
        .get(
            &format!(
                "/api/orders?page=1&per_page=5&sort=-id&status=pending&user_id={}",
                ada.id
            ),
            Some(&admin.token),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.ids(), [order]);
    // Encoded names and values are read decoded, as poem-openapi reads them.
    let reply = app
        .get(
            "/api/users?%71=ADA&role=%75ser&sort=%2Dname",
            Some(&admin.token),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.data().len(), 1, "{}", reply.body);
    // An empty query string is no query at all.
    app.get("/api/user?", Some(&ada.token))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_parameter_given_twice_is_refused_even_with_the_same_value() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    for query in ["page=1&page=2", "page=2&page=2", "page=1&sort=id&page=abc"] {
        let reply = get_in(&app, "en", &format!("/api/users?{query}"), &admin).await;
        reply.assert_invalid(&["page"]);
        assert_eq!(
            entry(&reply, "page"),
            "The parameter “page” must be given only once.",
            "{query}"
        );
    }
}

#[tokio::test]
async fn an_empty_value_is_judged_like_any_other() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    for query in ["page=", "page", "per_page=", "sort=", "status=", "user_id="] {
        let reply = get_in(&app, "en", &format!("/api/orders?{query}"), &admin).await;
        let name = query.trim_end_matches('=');
        reply.assert_invalid(&[name]);
    }
    // An empty search is a string within its limits: every user.
    let reply = get_in(&app, "en", "/api/users?q=", &admin).await;
    reply.assert_status(200);
    assert_eq!(reply.data().len(), 1);
}

#[tokio::test]
async fn an_operation_that_takes_no_parameter_refuses_any() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let reply = get_in(&app, "en", "/api/user?x=1", &ada.token).await;
    reply.assert_invalid(&["x"]);
    assert_eq!(
        entry(&reply, "x"),
        "“x” is not a parameter of this operation, which takes none."
    );
    let reply = get_in(&app, "fr", "/api/user?x=1", &ada.token).await;
    assert_eq!(
        entry(&reply, "x"),
        "« x » n’est pas un paramètre de cette opération, qui n’en accepte aucun."
    );

    // Nothing runs: the login opens no session, the order is not created.
    let login = app
        .post(
            "/api/login?remember=1",
            None,
            json!({"email": ada.email, "password": crate::helpers::PASSWORD}),
        )
        .await;
    login.assert_invalid(&["remember"]);
    let created = app
        .call(
            Method::POST,
            "/api/orders?dry_run=1",
            Some(&ada.token),
            Some(json!({"items": [crate::helpers::item("Tea", 1, 100)]})),
        )
        .await;
    created.assert_invalid(&["dry_run"]);
    let orders = app.get("/api/orders", Some(&ada.token)).await;
    assert_eq!(orders.data().len(), 0, "{}", orders.body);
    app.get("/health?x=1", None).await.assert_invalid(&["x"]);

    // The spec says so of every operation.
    let spec: Value = serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            assert!(
                operation["responses"].get("422").is_some(),
                "{method} {path} does not declare its 422"
            );
        }
    }
}

#[tokio::test]
async fn pages_and_documents_outside_the_spec_take_any_query() {
    let app = spawn_app().await;
    for path in ["/docs?x=1", "/openapi.json?v=2", "/openapi.yaml?v=2"] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    let reply = app
        .get(
            "/reset-password?token=x&email=ada%40example.com&utm_source=mail",
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::GONE);
}
