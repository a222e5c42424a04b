//! French and English: every kind of error and every confirmation in both, negotiated from
//! `Accept-Language`, with the machine-readable parts the same in each.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, item, spawn_app, spawn_app_with, unique_email};

/// The same request asked in French, then in English.
async fn in_both(app: &TestApp, request: impl Fn() -> RequestBuilder) -> (Reply, Reply) {
    let french = app.send(request().header("accept-language", "fr")).await;
    let english = app.send(request().header("accept-language", "en")).await;
    (french, english)
}

/// Both answers agree in status, `code` and the fields of `errors`, and differ in every
/// sentence; each says its language.
#[track_caller]
fn assert_translated(french: &Reply, english: &Reply, status: u16) {
    assert_eq!(french.status.as_u16(), status, "{}", french.body);
    assert_eq!(english.status, french.status);
    assert_eq!(french.body["code"], english.body["code"]);
    assert_ne!(
        french.body["message"], english.body["message"],
        "{}",
        french.body
    );
    assert_eq!(french.error_fields(), english.error_fields());
    for field in french.error_fields() {
        assert_ne!(
            french.body["errors"][&field], english.body["errors"][&field],
            "{field}"
        );
    }
    assert_language(french, "fr");
    assert_language(english, "en");
}

#[track_caller]
fn assert_language(reply: &Reply, language: &str) {
    assert_eq!(reply.header("content-language"), Some(language));
    let vary: Vec<&str> = reply
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    assert!(
        vary.iter()
            .any(|value| value.to_ascii_lowercase().contains("accept-language")),
        "vary: {vary:?}"
    );
}

fn message(reply: &Reply) -> &str {
    reply.body["message"].as_str().unwrap()
}

#[tokio::test]
async fn handler_errors_come_in_both_languages_with_one_code() {
    let app = spawn_app().await;
    let token = app
        .register("Ada", &unique_email("handler"), "password-1")
        .await;
    let url = |path: &str| format!("{}{path}", app.address);

    // Not found, from a service.
    let (french, english) = in_both(&app, || {
        app.client
            .get(url("/api/orders/987654"))
            .bearer_auth(&token)
    })
    .await;
    assert_translated(&french, &english, 404);
    assert_eq!(message(&french), "Cette ressource n’existe pas.");

    // A conflict with arguments: a cancelled order cannot become pending again.
    let order = app.create_order(&token, json!([item("Tea", 1, 450)])).await;
    let path = format!("/api/orders/{}", order["id"]);
    let cancelled = app
        .patch(&path, Some(&token), json!({"status": "cancelled"}))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    let (french, english) = in_both(&app, || {
        app.client
            .patch(url(&path))
            .bearer_auth(&token)
            .json(&json!({"status": "pending"}))
    })
    .await;
    assert_translated(&french, &english, 409);
    assert_eq!(
        message(&french),
        "Le statut ne peut pas passer de « cancelled » à « pending »."
    );
    assert_eq!(
        message(&english),
        "The status cannot change from cancelled to pending."
    );
}

#[tokio::test]
async fn validation_errors_come_in_both_languages_field_by_field() {
    let app = spawn_app().await;
    let (french, english) = in_both(&app, || {
        app.client
            .post(format!("{}/api/register", app.address))
            .json(&json!({"name": "", "email": "ada@nowhere", "password": "short", "extra": 1}))
    })
    .await;
    assert_translated(&french, &english, 422);
    assert_eq!(
        french.error_fields(),
        ["email", "extra", "name", "password"]
    );
    assert_eq!(
        french.body["message"],
        "Les données fournies ne sont pas valides."
    );
    assert_eq!(french.body["errors"]["name"][0], "Le nom est obligatoire.");
    assert_eq!(
        french.body["errors"]["password"][0],
        "Le mot de passe doit comporter au moins 8 caractères."
    );
    assert_eq!(
        french.body["errors"]["extra"][0],
        "Le champ « extra » n’est pas accepté ici."
    );
    assert_eq!(english.body["errors"]["name"][0], "The name is required.");

    // Fields inside a list are named as a person would name them.
    let token = app
        .register("Ada", &unique_email("items"), "password-1")
        .await;
    let (french, english) = in_both(&app, || {
        app.client
            .post(format!("{}/api/orders", app.address))
            .bearer_auth(&token)
            .json(&json!({"items": [item("Tea", 1, 450), item("Cake", 0, -1)]}))
    })
    .await;
    assert_translated(&french, &english, 422);
    assert_eq!(
        english.body["errors"]["items.1.unit_price_cents"][0],
        "The unit price (in cents) of item 2 must be between 0 and 100000000."
    );
    assert_eq!(
        french.body["errors"]["items.1.quantity"][0],
        "La quantité de l’article 2 doit se situer entre 1 et 10000."
    );
    let (french, english) = in_both(&app, || {
        app.client
            .post(format!("{}/api/orders", app.address))
            .bearer_auth(&token)
            .json(&json!({"items": []}))
    })
    .await;
    assert_translated(&french, &english, 422);
    assert_eq!(
        english.body["errors"]["items"][0],
        "The list of items must have at least one entry."
    );
}

#[tokio::test]
async fn the_seed_sentences_are_the_french_ones() {
    let app = spawn_app().await;
    let email = unique_email("seed");
    let token = app.register("Ada", &email, "password-1").await;
    let french = |request: RequestBuilder| request.header("accept-language", "fr");
    let url = |path: &str| format!("{}{path}", app.address);

    let wrong = app
        .send(
            french(app.client.post(url("/api/login")))
                .json(&json!({"email": email, "password": "wrong-password"})),
        )
        .await;
    wrong.assert_error(422, "validation_failed");
    assert_eq!(
        wrong.body["errors"]["email"][0],
        "Les identifiants fournis sont incorrects."
    );

    let sent = app
        .send(french(app.client.post(url("/api/forgot-password"))).json(&json!({"email": email})))
        .await;
    assert_eq!(
        sent.body["status"],
        "Nous vous avons envoyé par email le lien de réinitialisation du mot de passe !"
    );
    assert_language(&sent, "fr");

    let out = app
        .send(french(app.client.post(url("/api/logout"))).bearer_auth(&token))
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body["message"], "Déconnexion réussie");
    assert_language(&out, "fr");
}

#[tokio::test]
async fn framework_errors_come_in_both_languages() {
    let app = spawn_app().await;
    let token = app
        .register("Ada", &unique_email("framework"), "password-1")
        .await;
    let url = |path: &str| format!("{}{path}", app.address);
    let cases: Vec<(u16, Box<dyn Fn() -> RequestBuilder + '_>)> = vec![
        // Malformed JSON.
        (
            400,
            Box::new(|| {
                app.client
                    .post(url("/api/login"))
                    .header("content-type", "application/json")
                    .body("{\"email\":")
            }),
        ),
        // A path id that is not a number.
        (
            400,
            Box::new(|| app.client.get(url("/api/orders/abc")).bearer_auth(&token)),
        ),
        // No token, a token that is not one.
        (401, Box::new(|| app.client.get(url("/api/user")))),
        (
            401,
            Box::new(|| app.client.get(url("/api/user")).bearer_auth("not-a-jwt")),
        ),
        // No such route, no such method.
        (404, Box::new(|| app.client.get(url("/api/nothing-here")))),
        (405, Box::new(|| app.client.delete(url("/api/register")))),
        // Too large, wrong content type.
        (
            413,
            Box::new(|| {
                app.client
                    .post(url("/api/login"))
                    .header("content-type", "application/json")
                    .body(vec![b' '; 2 * 1024 * 1024])
            }),
        ),
        (
            415,
            Box::new(|| {
                app.client
                    .post(url("/api/login"))
                    .header("content-type", "text/plain")
                    .body("email=ada")
            }),
        ),
    ];
    for (status, request) in cases {
        let (french, english) = in_both(&app, &request).await;
        assert_translated(&french, &english, status);
    }
}

#[tokio::test]
async fn a_429_comes_in_both_languages() {
    let app = spawn_app_with(&[("RATE_LIMIT_REGISTER", "1/60")]).await;
    let register = || {
        app.client
            .post(format!("{}/api/register", app.address))
            .json(
                &json!({"name": "Ada", "email": unique_email("limited"), "password": "password-1"}),
            )
    };
    assert_eq!(app.send(register()).await.status, StatusCode::CREATED);
    let (french, english) = in_both(&app, register).await;
    assert_translated(&french, &english, 429);
    assert!(
        message(&french).starts_with("Trop de tentatives."),
        "{}",
        french.body
    );
}

#[tokio::test]
async fn accept_language_is_negotiated_like_a_browser_expects() {
    let app = spawn_app().await;
    let cases = [
        (Some("fr"), "fr"),
        (Some("fr-CA"), "fr"),
        (Some("FR-ch,en;q=0.9"), "fr"),
        (Some("en-GB,en;q=0.9,fr;q=0.8"), "en"),
        (Some("en;q=0.2, fr;q=0.8"), "fr"),
        (Some("de-DE, fr;q=0.5"), "fr"),
        (Some("fr;q=0"), "en"),
        (Some("*"), "en"),
        (Some("*, en;q=0"), "fr"),
        (Some("de, ja"), "en"),
        (Some(";;;, =q, fr;q=2, fr;q=abc"), "en"),
        (Some(""), "en"),
        (None, "en"),
    ];
    for (header, expected) in cases {
        let mut request = app.client.get(format!("{}/api/user", app.address));
        if let Some(header) = header {
            request = request.header("accept-language", header);
        }
        let reply = app.send(request).await;
        reply.assert_error(401, "unauthenticated");
        assert_eq!(
            reply.header("content-language"),
            Some(expected),
            "{header:?}"
        );
        let french = message(&reply).starts_with("Cette route");
        assert_eq!(french, expected == "fr", "{header:?}: {}", reply.body);
    }
}

#[tokio::test]
async fn default_locale_fr_answers_french_when_the_client_names_no_language_of_ours() {
    let app = spawn_app_with(&[("DEFAULT_LOCALE", "fr")]).await;
    for header in [None, Some("de"), Some("*"), Some("garbage;;")] {
        let mut request = app.client.get(format!("{}/api/user", app.address));
        if let Some(header) = header {
            request = request.header("accept-language", header);
        }
        let reply = app.send(request).await;
        assert_eq!(reply.header("content-language"), Some("fr"), "{header:?}");
        assert!(message(&reply).starts_with("Cette route"), "{}", reply.body);
    }
    let english = app
        .send(
            app.client
                .get(format!("{}/api/user", app.address))
                .header("accept-language", "en-US"),
        )
        .await;
    assert_eq!(english.header("content-language"), Some("en"));
}

#[tokio::test]
async fn successes_say_their_language_and_the_documents_stay_english() {
    let app = spawn_app().await;
    let token = app
        .register("Ada", &unique_email("success"), "password-1")
        .await;
    let me = app
        .send(
            app.client
                .get(format!("{}/api/user", app.address))
                .bearer_auth(&token)
                .header("accept-language", "fr"),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_language(&me, "fr");

    for path in ["/openapi.json", "/openapi.yaml", "/docs"] {
        let reply = app
            .send(
                app.client
                    .get(format!("{}{path}", app.address))
                    .header("accept-language", "fr"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-language"), Some("en"), "{path}");
        assert!(
            reply
                .header("vary")
                .is_none_or(|vary| !vary.contains("Accept-Language"))
        );
    }
    let spec = app.get("/openapi.json", None).await.body;
    assert_eq!(
        spec["components"]["parameters"]["AcceptLanguage"]["in"],
        Value::from("header")
    );
}
