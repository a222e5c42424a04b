//! Verified addresses, over real SMTP: the mail every new account gets, the page whose button
//! (not the link) confirms, the API's confirmation, new links, the verified-only rule for
//! orders, and an email change confirmed by the new address.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, Reply, TestApp, TestUser, item, spawn_app_with, unique_email},
    smtp::{ReceivedMail, SmtpSink},
};

const PUBLIC_URL: &str = "https://shop.example.test";

async fn app_with_mail(sink: &SmtpSink, extra: &[(&str, &str)]) -> TestApp {
    let url = sink.url();
    let mut settings = vec![("SMTP_URL", url.as_str()), ("PUBLIC_URL", PUBLIC_URL)];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

/// The `n`th mail (from 1) sent to `to`, waiting up to 5 s for it.
async fn nth_mail_to(sink: &SmtpSink, to: &str, n: usize) -> ReceivedMail {
    for _ in 0..100 {
        let mut mails: Vec<_> = sink
            .received()
            .into_iter()
            .filter(|mail| mail.recipients.iter().any(|recipient| recipient == to))
            .collect();
        if mails.len() >= n {
            return mails.remove(n - 1);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} mails to {to}, got {:?}", sink.received());
}

fn mails_to(sink: &SmtpSink, to: &str) -> usize {
    sink.received()
        .iter()
        .filter(|mail| mail.recipients.iter().any(|recipient| recipient == to))
        .count()
}

/// The `token` and `email` of the link in a confirmation mail.
fn link_of(mail: &ReceivedMail) -> (String, String) {
    let link = mail.link();
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/verify-email?token=")),
        "{link}"
    );
    let query = link.split_once('?').unwrap().1;
    let value = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .unwrap()
            .replace("%40", "@")
            .replace("%2B", "+")
    };
    (value("token"), value("email"))
}

async fn verify(app: &TestApp, token: &str, email: &str) -> Reply {
    app.post(
        "/api/email/verify",
        None,
        json!({"token": token, "email": email}),
    )
    .await
}

async fn me(app: &TestApp, token: &str) -> Value {
    let reply = app.get("/api/user", Some(token)).await;
    reply.assert_status(200);
    reply.body
}

/// Forgets when the last confirmation mail went, as a minute passing would.
async fn a_minute_passes(app: &TestApp) {
    app.db()
        .await
        .execute_unprepared("DELETE FROM mail_throttle")
        .await
        .unwrap();
}

async fn change_own_email(app: &TestApp, user: &TestUser, email: &str) -> Reply {
    app.patch(
        &format!("/api/users/{}", user.id),
        Some(&user.token),
        json!({"email": email, "current_password": PASSWORD}),
    )
    .await
}

#[tokio::test]
async fn a_new_account_confirms_its_address_with_the_mailed_token() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let ada = app.ordinary_user("Ada").await;
    assert!(me(&app, &ada.token).await["email_verified_at"].is_null());

    let mail = nth_mail_to(&sink, &ada.email, 1).await;
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Confirm your Comptoir email address")
    );
    let (token, email) = link_of(&mail);
    assert_eq!(email, ada.email);

    let reply = verify(&app, &token, &email.to_uppercase()).await;
    reply.assert_status(200);
    assert_eq!(reply.body["status"], "Your email address is confirmed.");
    let user = me(&app, &ada.token).await;
    crate::helpers::assert_utc_timestamp(&user["email_verified_at"]);
    assert!(user["pending_email"].is_null());

    // Spent.
    let again = verify(&app, &token, &email).await;
    again.assert_error(422, "validation_failed");
    assert_eq!(again.error_fields(), ["token"]);
}

#[tokio::test]
async fn opening_the_link_changes_nothing_and_the_pages_button_confirms() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let ada = app.ordinary_user("Ada").await;
    let mail = nth_mail_to(&sink, &ada.email, 1).await;
    let link = mail.link();
    let path = link.strip_prefix(PUBLIC_URL).unwrap();
    let (token, email) = link_of(&mail);

    // A mail scanner fetches the link, twice: nothing is spent.
    for _ in 0..2 {
        let page = app.request(Method::GET, path).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let csp = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'none'"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<form method=\"post\" action=\"/verify-email\">"),
            "{html}"
        );
        assert!(html.contains(&format!("value=\"{token}\"")));
    }
    assert!(me(&app, &ada.token).await["email_verified_at"].is_null());

    let done = app
        .request(Method::POST, "/verify-email")
        .form(&[("token", token.as_str()), ("email", email.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.headers().contains_key("content-security-policy"));
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Your email address is confirmed.")
    );
    crate::helpers::assert_utc_timestamp(&me(&app, &ada.token).await["email_verified_at"]);

    // The spent link says so at once, and what to do.
    let gone = app.request(Method::GET, path).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::GONE);
    assert!(
        gone.text()
            .await
            .unwrap()
            .contains("ask for a new confirmation link")
    );
    let again = app
        .request(Method::POST, "/verify-email")
        .form(&[("token", token.as_str()), ("email", email.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[("EMAIL_VERIFICATION_TTL_SECS", "1")]).await;
    let ada = app.ordinary_user("Ada").await;
    let (token, email) = link_of(&nth_mail_to(&sink, &ada.email, 1).await);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = verify(&app, &token, &email).await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["token"]);
    assert!(me(&app, &ada.token).await["email_verified_at"].is_null());
}

#[tokio::test]
async fn voided_foreign_and_made_up_tokens_are_refused() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let ada = app.ordinary_user("Ada").await;
    let grace = app.ordinary_user("Grace").await;
    let (older, _) = link_of(&nth_mail_to(&sink, &ada.email, 1).await);
    let (graces, _) = link_of(&nth_mail_to(&sink, &grace.email, 1).await);

    a_minute_passes(&app).await;
    app.post(
        "/api/email/verification-notification",
        Some(&ada.token),
        json!({}),
    )
    .await
    .assert_status(200);
    let (newer, _) = link_of(&nth_mail_to(&sink, &ada.email, 2).await);
    assert_ne!(older, newer);

    for token in [older.as_str(), graces.as_str(), &"0".repeat(64), "x"] {
        let reply = verify(&app, token, &ada.email).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), ["token"], "{token}");
    }
    // A token with someone else's address, and nonsense in place of an address.
    verify(&app, &newer, &grace.email)
        .await
        .assert_error(422, "validation_failed");
    verify(&app, &newer, "not-an-address")
        .await
        .assert_error(422, "validation_failed");
    assert!(me(&app, &ada.token).await["email_verified_at"].is_null());

    verify(&app, &newer, &ada.email).await.assert_status(200);
    verify(&app, &graces, &grace.email).await.assert_status(200);
}

#[tokio::test]
async fn a_new_link_at_most_once_a_minute_and_none_for_a_verified_address() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let ada = app.ordinary_user("Ada").await;
    nth_mail_to(&sink, &ada.email, 1).await;

    // The registration's mail went less than a minute ago.
    let refused = app
        .post(
            "/api/email/verification-notification",
            Some(&ada.token),
            json!({}),
        )
        .await;
    refused.assert_error(429, "too_many_requests");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    a_minute_passes(&app).await;
    let sent = app
        .post(
            "/api/email/verification-notification",
            Some(&ada.token),
            json!({}),
        )
        .await;
    sent.assert_status(200);
    assert_eq!(
        sent.body["status"],
        "A new confirmation link is on its way."
    );
    let (token, email) = link_of(&nth_mail_to(&sink, &ada.email, 2).await);
    app.post(
        "/api/email/verification-notification",
        Some(&ada.token),
        json!({}),
    )
    .await
    .assert_error(429, "too_many_requests");

    verify(&app, &token, &email).await.assert_status(200);
    a_minute_passes(&app).await;
    let nothing = app
        .post(
            "/api/email/verification-notification",
            Some(&ada.token),
            json!({}),
        )
        .await;
    nothing.assert_status(200);
    assert_eq!(
        nothing.body["status"],
        "Your email address is already confirmed; no mail was sent."
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mails_to(&sink, &ada.email), 2);

    app.post("/api/email/verification-notification", None, json!({}))
        .await
        .assert_status(401);
}

#[tokio::test]
async fn with_the_verified_only_rule_unverified_users_cannot_create_or_change_orders() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let ada = app.ordinary_user("Ada").await;
    let admin = app.admin().await;
    let body = json!({"items": [item("Tea", 1, 450)]});

    let refused = app
        .post("/api/orders", Some(&ada.token), body.clone())
        .await;
    refused.assert_error(403, "email_not_verified");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("Confirm your email address")
    );
    let french = app
        .send(
            app.request(Method::POST, "/api/orders")
                .bearer_auth(&ada.token)
                .header("accept-language", "fr")
                .json(&body),
        )
        .await;
    french.assert_error(403, "email_not_verified");
    assert!(
        french.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Confirmez votre adresse email")
    );

    // Admins are exempt, and may make her an order that she may not change.
    let order = app
        .create_order_with(
            &admin.token,
            json!({"user_id": ada.id, "items": [item("Tea", 1, 450)]}),
        )
        .await;
    let path = format!("/api/orders/{}", order["id"]);
    app.patch(&path, Some(&ada.token), json!({"notes": "green"}))
        .await
        .assert_error(403, "email_not_verified");
    app.put(
        &path,
        Some(&ada.token),
        json!({"items": [item("Tea", 2, 450)], "currency": "EUR"}),
    )
    .await
    .assert_error(403, "email_not_verified");

    let (token, email) = link_of(&nth_mail_to(&sink, &ada.email, 1).await);
    verify(&app, &token, &email).await.assert_status(200);
    app.post("/api/orders", Some(&ada.token), body)
        .await
        .assert_status(201);
    app.patch(&path, Some(&ada.token), json!({"notes": "green"}))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn without_the_verified_only_rule_unverified_users_order_as_before() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let ada = app.ordinary_user("Ada").await;
    app.post(
        "/api/orders",
        Some(&ada.token),
        json!({"items": [item("Tea", 1, 450)]}),
    )
    .await
    .assert_status(201);
}

#[tokio::test]
async fn ones_own_new_address_waits_for_its_confirmation_then_replaces_the_old() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let ada = app.ordinary_user("Ada").await;
    let (token, email) = link_of(&nth_mail_to(&sink, &ada.email, 1).await);
    verify(&app, &token, &email).await.assert_status(200);
    let new_email = unique_email("countess");

    let reply = change_own_email(&app, &ada, &new_email.to_uppercase()).await;
    reply.assert_status(200);
    assert_eq!(reply.body["email"], ada.email.as_str());
    assert_eq!(reply.body["pending_email"], new_email.as_str());
    assert_eq!(
        me(&app, &ada.token).await["pending_email"],
        new_email.as_str()
    );

    let confirmation = nth_mail_to(&sink, &new_email, 1).await;
    assert_eq!(
        confirmation.header("Subject").as_deref(),
        Some("Confirm your new Comptoir email address")
    );
    let notice = nth_mail_to(&sink, &ada.email, 2).await;
    assert_eq!(
        notice.header("Subject").as_deref(),
        Some("Your Comptoir email address is about to change")
    );
    assert!(notice.part("text/plain").unwrap().contains(&new_email));
    assert!(!notice.part("text/plain").unwrap().contains("token="));

    // Until confirmed, only the old address logs in.
    app.login(&new_email, PASSWORD)
        .await
        .assert_error(422, "validation_failed");
    app.login(&ada.email, PASSWORD).await.assert_status(200);

    let (token, email) = link_of(&confirmation);
    assert_eq!(email, new_email);
    // The old address with the new address's token is no confirmation.
    verify(&app, &token, &ada.email)
        .await
        .assert_error(422, "validation_failed");
    let done = verify(&app, &token, &email).await;
    done.assert_status(200);
    assert_eq!(
        done.body["status"],
        "Your new email address is confirmed; use it to log in from now on."
    );
    let user = me(&app, &ada.token).await;
    assert_eq!(user["email"], new_email.as_str());
    assert!(user["pending_email"].is_null());
    crate::helpers::assert_utc_timestamp(&user["email_verified_at"]);
    app.login(&ada.email, PASSWORD)
        .await
        .assert_error(422, "validation_failed");
    app.login(&new_email, PASSWORD).await.assert_status(200);

    // Back to the current address: nothing to change, nothing mailed.
    let same = change_own_email(&app, &ada, &new_email).await;
    same.assert_status(200);
    assert!(same.body["pending_email"].is_null());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mails_to(&sink, &new_email), 1);
}

#[tokio::test]
async fn a_newer_change_voids_the_older_link() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let ada = app.ordinary_user("Ada").await;
    let (first, second) = (unique_email("first"), unique_email("second"));
    change_own_email(&app, &ada, &first)
        .await
        .assert_status(200);
    let (older, _) = link_of(&nth_mail_to(&sink, &first, 1).await);
    let reply = change_own_email(&app, &ada, &second).await;
    assert_eq!(reply.body["pending_email"], second.as_str());
    let (newer, _) = link_of(&nth_mail_to(&sink, &second, 1).await);

    let refused = verify(&app, &older, &first).await;
    refused.assert_error(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["token"]);
    verify(&app, &newer, &second).await.assert_status(200);
    assert_eq!(me(&app, &ada.token).await["email"], second.as_str());
}

#[tokio::test]
async fn a_new_address_taken_meanwhile_is_refused_at_confirmation_and_nothing_changes() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let ada = app.ordinary_user("Ada").await;
    let wanted = unique_email("wanted");
    change_own_email(&app, &ada, &wanted)
        .await
        .assert_status(200);
    let (token, email) = link_of(&nth_mail_to(&sink, &wanted, 1).await);
    app.new_user("Grace", &wanted).await;
    let before = me(&app, &ada.token).await;

    let refused = verify(&app, &token, &email).await;
    refused.assert_error(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["email"]);
    assert_eq!(me(&app, &ada.token).await, before);
    assert_eq!(before["email"], ada.email.as_str());
    app.login(&ada.email, PASSWORD).await.assert_status(200);
}

#[tokio::test]
async fn an_admins_change_applies_at_once_unverified_and_mails_a_link() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let admin = app.admin().await;

    // An admin's new account gets its link too.
    let created_email = unique_email("created");
    app.post(
        "/api/users",
        Some(&admin.token),
        json!({"name": "Grace", "email": created_email, "password": PASSWORD}),
    )
    .await
    .assert_status(201);
    let (token, email) = link_of(&nth_mail_to(&sink, &created_email, 1).await);
    verify(&app, &token, &email).await.assert_status(200);

    let ada = app.ordinary_user("Ada").await;
    let (token, email) = link_of(&nth_mail_to(&sink, &ada.email, 1).await);
    verify(&app, &token, &email).await.assert_status(200);
    change_own_email(&app, &ada, &unique_email("pending"))
        .await
        .assert_status(200);

    let moved = unique_email("moved");
    let reply = app
        .patch(
            &format!("/api/users/{}", ada.id),
            Some(&admin.token),
            json!({"email": moved}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["email"], moved.as_str());
    assert!(reply.body["email_verified_at"].is_null());
    assert!(reply.body["pending_email"].is_null());
    app.login(&moved, PASSWORD).await.assert_status(200);

    let mail = nth_mail_to(&sink, &moved, 1).await;
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Confirm your Comptoir email address")
    );
    let (token, email) = link_of(&mail);
    verify(&app, &token, &email).await.assert_status(200);
    crate::helpers::assert_utc_timestamp(&me(&app, &ada.token).await["email_verified_at"]);
}

#[tokio::test]
async fn a_link_issued_by_one_instance_is_confirmed_on_another() {
    let sink = SmtpSink::start_with_confirmations().await;
    let a = app_with_mail(&sink, &[]).await;
    let b = a.another_instance().await;
    let ada = a.ordinary_user("Ada").await;
    // Both instances have the session in their caches.
    me(&a, &ada.token).await;
    me(&b, &ada.token).await;

    let (token, email) = link_of(&nth_mail_to(&sink, &ada.email, 1).await);
    verify(&b, &token, &email).await.assert_status(200);
    crate::helpers::assert_utc_timestamp(&me(&a, &ada.token).await["email_verified_at"]);

    let new_email = unique_email("elsewhere");
    change_own_email(&a, &ada, &new_email)
        .await
        .assert_status(200);
    let (token, email) = link_of(&nth_mail_to(&sink, &new_email, 1).await);
    verify(&b, &token, &email).await.assert_status(200);
    assert_eq!(me(&a, &ada.token).await["email"], new_email.as_str());
    a.login(&ada.email, PASSWORD)
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn a_french_users_confirmation_mails_are_french() {
    let sink = SmtpSink::start_with_confirmations().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("zoe");
    let registered = app
        .post(
            "/api/register",
            None,
            json!({"name": "Zoé", "email": email, "password": PASSWORD, "locale": "fr"}),
        )
        .await;
    registered.assert_status(201);
    let zoe = TestUser {
        id: registered.body["user"]["id"].as_i64().unwrap(),
        token: registered.body["access_token"].as_str().unwrap().to_owned(),
        email: email.clone(),
    };

    let mail = nth_mail_to(&sink, &email, 1).await;
    assert_eq!(mail.header("Content-Language").as_deref(), Some("fr"));
    let text = mail.part("text/plain").unwrap();
    assert!(text.starts_with("Bonjour Zoé,"), "{text}");
    assert!(text.contains("valable 24 heures"), "{text}");
    let (token, address) = link_of(&mail);
    let page = app
        .request(Method::GET, mail.link().strip_prefix(PUBLIC_URL).unwrap())
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Confirmer cette adresse")
    );
    let done = app
        .send(
            app.request(Method::POST, "/api/email/verify")
                .header("accept-language", "fr")
                .json(&json!({"token": token, "email": address})),
        )
        .await;
    done.assert_status(200);
    assert_eq!(done.body["status"], "Votre adresse email est confirmée !");

    let new_email = unique_email("zoe-new");
    change_own_email(&app, &zoe, &new_email)
        .await
        .assert_status(200);
    let confirmation = nth_mail_to(&sink, &new_email, 1).await;
    assert_eq!(
        confirmation.header("Content-Language").as_deref(),
        Some("fr")
    );
    assert!(
        confirmation
            .part("text/plain")
            .unwrap()
            .contains("Pour la confirmer, ouvrez ce lien")
    );
    let notice = nth_mail_to(&sink, &email, 2).await;
    assert_eq!(notice.header("Content-Language").as_deref(), Some("fr"));
    assert!(
        notice
            .part("text/plain")
            .unwrap()
            .contains("Quelqu’un a demandé à remplacer l’adresse")
    );
}
