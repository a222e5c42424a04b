//! The reset-password pages in the reader's language, as strict about their CSP as ever, and
//! with the same messages as the API.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    helpers::{Reply, TestApp, spawn_app, spawn_app_with, unique_email},
    smtp::SmtpSink,
};

const PUBLIC_URL: &str = "https://shop.example.test";

/// A page in `language`, its CSP checked: strict, and naming exactly the page's one style.
async fn page_in(app: &TestApp, language: &str, builder: reqwest::RequestBuilder) -> Reply {
    let reply = app.send(builder.header("accept-language", language)).await;
    let html = reply.body.as_str().expect("an HTML page");
    let csp = reply.header("content-security-policy").expect("a CSP");
    assert!(
        csp.starts_with("default-src 'none'; script-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-"), "{csp}");
    assert!(
        csp.ends_with("form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
        "{csp}"
    );
    let style = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(style, _)| style)
        .expect("one inline style");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
    assert!(
        csp.contains(&format!("'sha256-{hash}'")),
        "{hash} not in {csp}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert_eq!(
        reply.header("content-language"),
        Some(language.get(..2).unwrap())
    );
    assert!(
        html.contains(&format!(r#"<html lang="{}">"#, &language[..2])),
        "{html}"
    );
    reply
}

fn html(reply: &Reply) -> &str {
    reply.body.as_str().unwrap()
}

#[tokio::test]
async fn the_reset_form_is_in_the_readers_language() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(&[("SMTP_URL", url.as_str()), ("PUBLIC_URL", PUBLIC_URL)]).await;
    let email = unique_email("zoe");
    app.register("Zoé", &email, "old-password").await;
    app.post("/api/forgot-password", None, json!({"email": email}))
        .await
        .assert_status(200);
    let link = sink.wait_for(1).await.remove(0).link();
    let path = link.strip_prefix(PUBLIC_URL).unwrap();

    let french = page_in(&app, "fr-CA", app.request(Method::GET, path)).await;
    assert_eq!(french.status, StatusCode::OK);
    let text = html(&french);
    assert!(
        text.contains("<h1>Choisissez un nouveau mot de passe</h1>"),
        "{text}"
    );
    assert!(
        text.contains("Au moins 8 caractères ; toutes les sessions"),
        "{text}"
    );
    assert!(text.contains("Réinitialiser mon mot de passe"), "{text}");
    assert!(!text.contains("password reset"), "{text}");
    assert!(text.contains(r#"<form method="post" action="/reset-password">"#));

    let english = page_in(&app, "en", app.request(Method::GET, path)).await;
    assert_eq!(english.status, StatusCode::OK);
    let text = html(&english);
    assert!(text.contains("<h1>Choose a new password</h1>"), "{text}");
    assert!(text.contains("Reset my password"), "{text}");
}

#[tokio::test]
async fn the_page_of_a_spent_link_is_in_the_readers_language() {
    let app = spawn_app().await;
    let path = "/reset-password?token=0000&email=ada%40example.com";
    let french = page_in(&app, "fr", app.request(Method::GET, path)).await;
    assert_eq!(french.status, StatusCode::GONE);
    let text = html(&french);
    assert!(
        text.contains("<h1>Ce lien ne fonctionne plus</h1>"),
        "{text}"
    );
    assert!(text.contains("M’envoyer un nouveau lien"), "{text}");
    assert!(text.contains(r#"value="ada@example.com""#), "{text}");

    let english = page_in(&app, "en", app.request(Method::GET, path)).await;
    assert_eq!(english.status, StatusCode::GONE);
    assert!(html(&english).contains("<h1>This link no longer works</h1>"));

    // Asking again from the page: the answer is French too.
    let asked = page_in(
        &app,
        "fr",
        app.request(Method::POST, "/reset-password/new-link")
            .form(&[("email", "ada@example.com")]),
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(
        html(&asked).contains("<h1>Consultez vos emails</h1>"),
        "{}",
        html(&asked)
    );

    // With DEFAULT_LOCALE=fr, a browser that names no language of ours reads French.
    let app = spawn_app_with(&[("DEFAULT_LOCALE", "fr")]).await;
    let reply = app
        .send(
            app.request(Method::GET, path)
                .header("accept-language", "de"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::GONE);
    assert_eq!(reply.header("content-language"), Some("fr"));
    assert!(
        html(&reply).contains(r#"<html lang="fr">"#),
        "{}",
        html(&reply)
    );
    assert!(html(&reply).contains("Ce lien ne fonctionne plus"));
}

#[tokio::test]
async fn a_page_shows_the_same_validation_messages_as_the_api_in_the_same_language() {
    let app = spawn_app().await;
    for language in ["fr", "en"] {
        let api = app
            .send(
                app.request(Method::POST, "/api/reset-password")
                    .header("accept-language", language)
                    .json(&json!({"token": "0000", "email": "ada@example.com", "password": "new-password", "password_confirmation": "other-password"})),
            )
            .await;
        api.assert_invalid(&["password"]);
        let expected = api.body["errors"]["password"][0].as_str().unwrap();

        let page = page_in(
            &app,
            language,
            app.request(Method::POST, "/reset-password").form(&[
                ("token", "0000"),
                ("email", "ada@example.com"),
                ("password", "new-password"),
                ("password_confirmation", "other-password"),
            ]),
        )
        .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        let text = html(&page);
        assert!(
            text.contains(&format!("<li>{expected}</li>")),
            "{expected} in {text}"
        );
        assert!(text.contains(r#"aria-invalid="true""#), "{text}");

        let api = app
            .send(
                app.request(Method::POST, "/api/forgot-password")
                    .header("accept-language", language)
                    .json(&json!({"email": "not an address"})),
            )
            .await;
        api.assert_invalid(&["email"]);
        let expected = api.body["errors"]["email"][0].as_str().unwrap();
        let page = page_in(
            &app,
            language,
            app.request(Method::POST, "/reset-password/new-link")
                .form(&[("email", "not an address")]),
        )
        .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            html(&page).contains(&format!("<li>{expected}</li>")),
            "{expected} in {}",
            html(&page)
        );
    }
    let french = app
        .send(
            app.request(Method::POST, "/reset-password")
                .header("accept-language", "fr")
                .form(&[
                    ("token", "0000"),
                    ("email", "a@b.fr"),
                    ("password", "x"),
                    ("password_confirmation", "y"),
                ]),
        )
        .await;
    assert!(html(&french).contains("Choisissez un nouveau mot de passe"));
}

#[tokio::test]
async fn markup_in_the_email_parameter_comes_back_escaped() {
    let app = spawn_app().await;
    let path = "/reset-password?token=x&email=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%3E%3Cstyle%3E";
    for language in ["en", "fr"] {
        let reply = page_in(&app, language, app.request(Method::GET, path)).await;
        let text = html(&reply);
        assert!(!text.contains("<script>alert"), "{text}");
        assert!(text.contains("&lt;script&gt;alert(1)"), "{text}");
        assert!(text.contains("&quot;&gt;&lt;style&gt;"), "{text}");
        assert_eq!(text.matches("<style>").count(), 1, "{text}");
    }
    let reply = page_in(
        &app,
        "fr",
        app.request(Method::POST, "/reset-password").form(&[
            ("token", "<script>x</script>"),
            ("email", "<script>y</script>"),
            ("password", "short"),
            ("password_confirmation", "short"),
        ]),
    )
    .await;
    let text = html(&reply);
    assert!(!text.contains("<script>"), "{text}");
    assert!(
        text.contains("<strong>&lt;script&gt;y&lt;&#x2f;script&gt;</strong>"),
        "{text}"
    );
}
