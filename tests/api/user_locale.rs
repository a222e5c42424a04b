//! `User.locale`: given at registration or else negotiated, changed by PATCH and PUT, refused
//! in the client's language when it is not one of ours, and part of the spec as an enum.

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Reply, TestApp, TestDatabase, spawn_app, spawn_app_with, unique_email,
};

/// `method path` with a JSON body, a token if any, and `Accept-Language` if any.
async fn call_in(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    language: Option<&str>,
    body: Value,
) -> Reply {
    let mut request = app.request(method, path).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    app.send(request).await
}

/// Registers an account, asking in `language`, and returns the reply's user.
async fn register_in(app: &TestApp, language: Option<&str>, extra: Value) -> Value {
    let mut body = json!({"name": "Ada", "email": unique_email("locale"), "password": PASSWORD});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let reply = call_in(app, Method::POST, "/api/register", None, language, body).await;
    reply.assert_status(201);
    let token = reply.body["access_token"].as_str().unwrap();
    // What the reply says is what is stored.
    assert_eq!(
        app.get("/api/user", Some(token)).await.body,
        reply.body["user"]
    );
    reply.body["user"].clone()
}

#[tokio::test]
async fn registration_takes_the_locale_given_over_the_requests_language() {
    let app = spawn_app().await;
    let user = register_in(&app, Some("en"), json!({"locale": "fr"})).await;
    assert_eq!(user["locale"], "fr");
    let user = register_in(&app, Some("fr"), json!({"locale": "en"})).await;
    assert_eq!(user["locale"], "en");
}

#[tokio::test]
async fn without_a_locale_registration_takes_the_requests_language() {
    let app = spawn_app().await;
    for (header, locale) in [
        ("fr-CA, en;q=0.5", "fr"),
        ("en-GB", "en"),
        ("de, fr;q=0.3", "fr"),
    ] {
        let user = register_in(&app, Some(header), json!({})).await;
        assert_eq!(user["locale"], locale, "{header}");
    }
}

#[tokio::test]
async fn with_neither_registration_takes_the_default_locale() {
    let app = spawn_app().await;
    assert_eq!(register_in(&app, None, json!({})).await["locale"], "en");
    let french_shop = spawn_app_with(&[("DEFAULT_LOCALE", "fr")]).await;
    assert_eq!(
        register_in(&french_shop, None, json!({})).await["locale"],
        "fr"
    );
    assert_eq!(
        register_in(&french_shop, Some("en"), json!({})).await["locale"],
        "en"
    );
}

#[tokio::test]
async fn an_admin_creates_a_user_in_the_locale_given_or_the_requests_language() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let create = |language: Option<&'static str>, extra: Value| {
        let mut body =
            json!({"name": "Grace", "email": unique_email("created"), "password": PASSWORD});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        call_in(
            &app,
            Method::POST,
            "/api/users",
            Some(&admin.token),
            language,
            body,
        )
    };
    let given = create(Some("en"), json!({"locale": "fr"})).await;
    given.assert_status(201);
    assert_eq!(given.body["locale"], "fr");
    let negotiated = create(Some("fr"), json!({})).await;
    negotiated.assert_status(201);
    assert_eq!(negotiated.body["locale"], "fr");
    let viewed = app
        .get(
            &format!("/api/users/{}", negotiated.body["id"]),
            Some(&admin.token),
        )
        .await;
    assert_eq!(viewed.body, negotiated.body);
}

#[tokio::test]
async fn patch_and_put_change_the_locale() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);

    let patched = app
        .patch(&path, Some(&ada.token), json!({"locale": "fr"}))
        .await;
    patched.assert_status(200);
    assert_eq!(patched.body["locale"], "fr");
    assert_eq!(app.user(&ada.token, ada.id).await["locale"], "fr");

    // A PUT without `locale` leaves it as it is; with one, sets it.
    let kept = app
        .put(
            &path,
            Some(&ada.token),
            json!({"name": "Ada", "email": ada.email}),
        )
        .await;
    kept.assert_status(200);
    assert_eq!(kept.body["locale"], "fr");
    let replaced = app
        .put(
            &path,
            Some(&ada.token),
            json!({"name": "Ada", "email": ada.email, "locale": "en"}),
        )
        .await;
    replaced.assert_status(200);
    assert_eq!(replaced.body["locale"], "en");
    assert_eq!(app.user(&ada.token, ada.id).await, replaced.body);

    // An admin may change anyone's.
    let admin = app.admin().await;
    let by_admin = app
        .patch(&path, Some(&admin.token), json!({"locale": "fr"}))
        .await;
    by_admin.assert_status(200);
    assert_eq!(by_admin.body["locale"], "fr");
}

#[tokio::test]
async fn an_unknown_locale_is_a_422_in_the_clients_language_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;

    for (language, message) in [
        (
            "fr",
            "La langue doit prendre l’une de ces valeurs : en, fr.",
        ),
        ("en", "The language must be one of: en, fr."),
    ] {
        for (method, body) in [
            (Method::PATCH, json!({"locale": "de"})),
            (
                Method::PUT,
                json!({"name": "Ada", "email": ada.email, "locale": "FR"}),
            ),
            (Method::PATCH, json!({"name": "Ada King", "locale": 7})),
        ] {
            let reply = call_in(
                &app,
                method.clone(),
                &path,
                Some(&ada.token),
                Some(language),
                body.clone(),
            )
            .await;
            reply.assert_error(422, "validation_failed");
            assert_eq!(
                reply.body["errors"]["locale"],
                json!([message]),
                "{method} {body}"
            );
        }
    }
    assert_eq!(app.user(&ada.token, ada.id).await, before);

    // Nor does a registration with one create an account.
    let email = unique_email("german");
    let reply = call_in(
        &app,
        Method::POST,
        "/api/register",
        None,
        Some("fr"),
        json!({"name": "Ada", "email": email, "password": PASSWORD, "locale": "de"}),
    )
    .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["locale"]);
    assert_eq!(
        reply.body["errors"]["locale"],
        json!(["La langue doit prendre l’une de ces valeurs : en, fr."])
    );
    app.login(&email, PASSWORD)
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn a_locale_cannot_be_set_to_null() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;
    for method in [Method::PATCH, Method::PUT] {
        let reply = call_in(
            &app,
            method,
            &path,
            Some(&ada.token),
            Some("fr"),
            json!({"name": "Ada", "email": ada.email, "locale": null}),
        )
        .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), ["locale"]);
        assert_eq!(
            reply.body["errors"]["locale"],
            json!(["La langue ne peut pas être null."])
        );
    }
    assert_eq!(app.user(&ada.token, ada.id).await, before);
}

#[tokio::test]
async fn accounts_that_exist_when_the_column_arrives_get_the_default_locale() {
    // The schema as it was before `users.locale`, with an account in it.
    let (database, db) = TestDatabase::at_migration(6).await;
    let email = unique_email("before");
    db.execute_unprepared(&format!(
        "INSERT INTO users (name, email, password_hash, role, created_at, updated_at) \
         VALUES ('Before', '{email}', 'not a hash', 'user', '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
    ))
    .await
    .unwrap();
    db.close().await.unwrap();

    // The first start of the new version migrates, and the shop's default is French.
    let app = spawn_app_with(&[
        ("DATABASE_URL", database.url.as_str()),
        ("DEFAULT_LOCALE", "fr"),
    ])
    .await;
    let admin = app.admin().await;
    let users = app.get("/api/users?q=before", Some(&admin.token)).await;
    users.assert_status(200);
    assert_eq!(users.data()[0]["email"], email.as_str());
    assert_eq!(users.data()[0]["locale"], "fr");
}

#[tokio::test]
async fn rows_an_older_instance_writes_during_an_upgrade_read_english() {
    let app = spawn_app_with(&[("DEFAULT_LOCALE", "fr")]).await;
    let ada = app.ordinary_user("Ada").await;
    // A row written without the column, as an instance of the previous version writes it.
    let email = unique_email("older");
    app.db()
        .await
        .execute_unprepared(&format!(
            "INSERT INTO users (name, email, password_hash, role, created_at, updated_at) \
             SELECT 'Older', '{email}', password_hash, 'user', created_at, updated_at \
             FROM users WHERE id = {}",
            ada.id
        ))
        .await
        .unwrap();
    let reply = app.login(&email, PASSWORD).await;
    reply.assert_status(200);
    assert_eq!(reply.body["user"]["locale"], "en");
}

#[tokio::test]
async fn the_spec_declares_the_locale_as_an_enum_of_the_languages() {
    let app = spawn_app().await;
    let spec: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &spec["components"]["schemas"];
    assert_eq!(schemas["Locale"]["type"], "string");
    assert_eq!(schemas["Locale"]["enum"], json!(["en", "fr"]));
    let reference = json!({"$ref": "#/components/schemas/Locale"});
    assert_eq!(schemas["User"]["properties"]["locale"], reference);
    assert!(
        schemas["User"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("locale"))
    );
    for request in [
        "RegisterRequest",
        "CreateUserRequest",
        "ReplaceUserRequest",
        "UpdateUserRequest",
    ] {
        assert_eq!(
            schemas[request]["properties"]["locale"], reference,
            "{request}"
        );
        let required = schemas[request]["required"].as_array();
        assert!(
            required.is_none_or(|required| !required.contains(&json!("locale"))),
            "{request}"
        );
    }
}
