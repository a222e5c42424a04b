//! Every mail to a user is in the user's `locale`, never in the language of the request that
//! caused it; names are escaped in the HTML part only.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, Reply, TestApp, spawn_app_with, unique_email},
    smtp::{ReceivedMail, SmtpSink},
};

async fn app_with_mail(sink: &SmtpSink) -> TestApp {
    spawn_app_with(&[("SMTP_URL", &sink.url())]).await
}

async fn post_in(app: &TestApp, path: &str, language: &str, body: Value) -> Reply {
    app.send(
        app.request(Method::POST, path)
            .header("accept-language", language)
            .json(&body),
    )
    .await
}

/// Registers `name` at a new address with `locale`, from an English browser.
async fn register(app: &TestApp, name: &str, locale: &str) -> String {
    let email = unique_email("mail");
    let reply = post_in(
        app,
        "/api/register",
        "en",
        json!({"name": name, "email": email, "password": PASSWORD, "locale": locale}),
    )
    .await;
    reply.assert_status(201);
    email
}

/// Asks for a reset link in `language`, then resets with it in `language`, and returns the two
/// mails: the link, and the notice that the password changed.
async fn reset_in(
    app: &TestApp,
    sink: &SmtpSink,
    email: &str,
    language: &str,
) -> [ReceivedMail; 2] {
    let already = sink.received().len();
    let asked = post_in(
        app,
        "/api/forgot-password",
        language,
        json!({"email": email}),
    )
    .await;
    asked.assert_status(200);
    assert_eq!(asked.header("content-language"), Some(language));
    let link = sink.wait_for(already + 1).await.remove(already);
    let token = link
        .link()
        .split_once("token=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let reset = post_in(
        app,
        "/api/reset-password",
        language,
        json!({"token": token, "email": email, "password": "a new password", "password_confirmation": "a new password"}),
    )
    .await;
    reset.assert_status(200);
    assert_eq!(reset.header("content-language"), Some(language));
    let notice = sink.wait_for(already + 2).await.remove(already + 1);
    [link, notice]
}

/// The subject as a person reads it: RFC 2047 encoded words, possibly folded, decoded. The
/// space between two encoded words is not part of the text; around plain words it is.
fn subject(mail: &ReceivedMail) -> String {
    let headers = mail.raw.split("\r\n\r\n").next().unwrap();
    let unfolded = headers.replace("\r\n ", " ").replace("\r\n\t", " ");
    let raw = unfolded
        .lines()
        .find_map(|line| line.strip_prefix("Subject: "))
        .unwrap();
    let mut text = String::new();
    let mut encoded: Vec<u8> = Vec::new();
    for word in raw.split_whitespace() {
        let payload = word
            .strip_prefix("=?utf-8?b?")
            .and_then(|rest| rest.strip_suffix("?="));
        if let Some(payload) = payload {
            if encoded.is_empty() && !text.is_empty() {
                text.push(' ');
            }
            encoded.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(payload)
                    .unwrap(),
            );
            continue;
        }
        text.push_str(&String::from_utf8(std::mem::take(&mut encoded)).unwrap());
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(word);
    }
    text.push_str(&String::from_utf8(encoded).unwrap());
    text
}

#[tokio::test]
async fn a_french_users_mails_are_french_when_an_english_request_caused_them() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink).await;
    let email = register(&app, "Zoé", "fr").await;

    let [link, notice] = reset_in(&app, &sink, &email, "en").await;

    assert_eq!(
        subject(&link),
        "Réinitialisation de votre mot de passe Comptoir"
    );
    assert_eq!(link.header("Content-Language").as_deref(), Some("fr"));
    let text = link.part("text/plain").unwrap();
    assert!(text.starts_with("Bonjour Zoé,"), "{text}");
    assert!(text.contains("ouvrez ce lien, valable 1 heure :"), "{text}");
    let html = link.part("text/html").unwrap();
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(html.contains("Choisir un nouveau mot de passe"), "{html}");

    assert_eq!(
        subject(&notice),
        "Votre mot de passe Comptoir a été modifié"
    );
    assert_eq!(notice.header("Content-Language").as_deref(), Some("fr"));
    let text = notice.part("text/plain").unwrap();
    assert!(text.starts_with("Bonjour Zoé,"), "{text}");
    assert!(text.contains("vient d’être modifié"), "{text}");
    assert!(
        notice
            .part("text/html")
            .unwrap()
            .contains("vient d’être modifié")
    );
}

#[tokio::test]
async fn an_english_users_mails_are_english_when_a_french_request_caused_them() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink).await;
    let email = register(&app, "Ada", "en").await;

    let [link, notice] = reset_in(&app, &sink, &email, "fr").await;

    assert_eq!(subject(&link), "Reset your Comptoir password");
    assert_eq!(link.header("Content-Language").as_deref(), Some("en"));
    let text = link.part("text/plain").unwrap();
    assert!(text.starts_with("Hello Ada,"), "{text}");
    assert!(text.contains("open this link within 1 hour:"), "{text}");
    assert!(
        link.part("text/html")
            .unwrap()
            .contains("<html lang=\"en\">")
    );

    assert_eq!(subject(&notice), "Your Comptoir password was changed");
    assert_eq!(notice.header("Content-Language").as_deref(), Some("en"));
    assert!(
        notice
            .part("text/plain")
            .unwrap()
            .contains("was just changed")
    );
}

#[tokio::test]
async fn a_changed_locale_is_the_language_of_the_next_mail() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink).await;
    let email = register(&app, "Ada", "en").await;
    let token = app.login(&email, PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app.get("/api/user", Some(&token)).await.body;
    app.patch(
        &format!("/api/users/{}", me["id"]),
        Some(&token),
        json!({"locale": "fr"}),
    )
    .await
    .assert_status(200);

    post_in(&app, "/api/forgot-password", "en", json!({"email": email}))
        .await
        .assert_status(200);
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(
        subject(&mail),
        "Réinitialisation de votre mot de passe Comptoir"
    );
}

#[tokio::test]
async fn a_name_is_escaped_in_the_html_part_and_as_written_in_the_text_part() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink).await;
    for (locale, greeting) in [("en", "Hello"), ("fr", "Bonjour")] {
        let email = register(&app, "<Ada & Co>", locale).await;
        let [link, notice] = reset_in(&app, &sink, &email, "en").await;
        for mail in [link, notice] {
            let text = mail.part("text/plain").unwrap();
            assert!(
                text.starts_with(&format!("{greeting} <Ada & Co>,")),
                "{text}"
            );
            let html = mail.part("text/html").unwrap();
            assert!(
                html.contains(&format!("{greeting} &lt;Ada &amp; Co&gt;,")),
                "{html}"
            );
            assert!(!html.contains("<Ada") && !html.contains("& Co"), "{html}");
        }
    }
}
