//! Forgot and reset password, over real SMTP, from the mail to the page to a new login.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::{
    helpers::{TestApp, captured_logs, spawn_app, spawn_app_with, unique_email},
    smtp::{ReceivedMail, SmtpSink},
};

const PUBLIC_URL: &str = "https://shop.example.test";

async fn app_with_mail(sink: &SmtpSink, extra: &[(&str, &str)]) -> TestApp {
    let url = sink.url();
    let mut settings = vec![("SMTP_URL", url.as_str()), ("PUBLIC_URL", PUBLIC_URL)];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

async fn forgot(app: &TestApp, email: &str) -> crate::helpers::Reply {
    app.post("/api/forgot-password", None, json!({"email": email}))
        .await
}

/// The link's path and query, to be followed on the test server.
fn path_of(link: &str) -> &str {
    link.strip_prefix(PUBLIC_URL)
        .expect("the link is built from PUBLIC_URL")
}

fn token_of(mail: &ReceivedMail) -> String {
    let link = mail.link();
    let query = link.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .unwrap()
        .to_owned()
}

async fn reset(app: &TestApp, token: &str, email: &str, password: &str) -> crate::helpers::Reply {
    app.post(
        "/api/reset-password",
        None,
        json!({"token": token, "email": email, "password": password, "password_confirmation": password}),
    )
    .await
}

#[tokio::test]
async fn a_person_resets_a_forgotten_password_from_the_mail() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("forgetful");
    app.register("Ada <Lovelace>", &email, "old-password").await;

    // A forged Host header must not leak into the link.
    let reply = app
        .send(
            app.request(Method::POST, "/api/forgot-password")
                .header("host", "evil.example")
                .json(&json!({"email": email.to_uppercase()})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.recipients, std::slice::from_ref(&email));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Reset your Comptoir password")
    );
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    let link = mail.link();
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/reset-password?token=")),
        "{link}"
    );
    let html = mail.part("text/html").unwrap();
    assert!(
        html.contains("Ada &lt;Lovelace&gt;"),
        "the name is escaped in HTML"
    );
    assert!(html.contains(&token_of(&mail)));

    let page = app
        .request(Method::GET, path_of(&link))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<form method=\"post\" action=\"/reset-password\">"),
        "{page}"
    );
    assert!(page.contains(&format!("value=\"{}\"", token_of(&mail))));

    let done = app
        .request(Method::POST, "/reset-password")
        .form(&[
            ("token", token_of(&mail).as_str()),
            ("email", email.as_str()),
            ("password", "new-password"),
            ("password_confirmation", "new-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Your password has been reset.")
    );

    assert_eq!(
        app.login(&email, "new-password").await.status,
        StatusCode::OK
    );
    app.login(&email, "old-password")
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn known_and_unknown_addresses_get_the_same_answer_and_only_the_known_one_a_mail() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let known = unique_email("known");
    app.register("Ada", &known, "old-password").await;

    let for_known = forgot(&app, &known).await;
    let for_unknown = forgot(&app, &unique_email("unknown")).await;
    assert_eq!(for_known.status, StatusCode::OK);
    assert_eq!(for_known.status, for_unknown.status);
    assert_eq!(for_known.body, for_unknown.body);

    let mails = sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 1, "{mails:?}");
    assert_eq!(mails[0].recipients, [known]);
}

#[tokio::test]
async fn a_malformed_address_is_a_422() {
    let app = spawn_app().await;
    let reply = forgot(&app, "not-an-address").await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["email"]);
}

#[tokio::test]
async fn at_most_one_mail_per_address_per_minute() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("eager");
    app.register("Ada", &email, "old-password").await;

    assert_eq!(forgot(&app, &email).await.status, StatusCode::OK);
    sink.wait_for(1).await;
    for _ in 0..3 {
        assert_eq!(forgot(&app, &email).await.status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 1);
}

/// The requests race each other: each one's mail is decided off the request path, at about
/// the same moment, on the engine under test. Three accounts, to give the race three chances.
#[tokio::test]
async fn twenty_concurrent_requests_send_exactly_one_mail() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[("RATE_LIMIT_FORGOT_PASSWORD", "off")]).await;
    let emails: Vec<String> = (0..3).map(|_| unique_email("racing")).collect();
    for email in &emails {
        app.register("Ada", email, "old-password").await;
    }

    let requests = emails
        .iter()
        .flat_map(|email| (0..20).map(|_| forgot(&app, email)));
    let replies = futures_util::future::join_all(requests).await;
    assert!(replies.iter().all(|reply| reply.status == StatusCode::OK));
    sink.wait_for(emails.len()).await;
    // The losers have had time to send too, had they been allowed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for email in &emails {
        let mails = sink
            .received()
            .iter()
            .filter(|mail| mail.recipients.contains(email))
            .count();
        assert_eq!(mails, 1, "{email}");
    }
}

#[tokio::test]
async fn a_token_works_once() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("once");
    app.register("Ada", &email, "old-password").await;
    forgot(&app, &email).await;
    let token = token_of(&sink.wait_for(1).await[0]);

    assert_eq!(
        reset(&app, &token, &email, "new-password-1").await.status,
        StatusCode::OK
    );
    let again = reset(&app, &token, &email, "new-password-2").await;
    again.assert_error(422, "validation_failed");
    assert_eq!(
        again.body["errors"]["token"][0],
        "This password reset link is invalid: it was used already, it expired, or a newer one replaced it."
    );
    assert_eq!(
        app.login(&email, "new-password-1").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_expires() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[("RESET_TOKEN_TTL_SECS", "1")]).await;
    let email = unique_email("late");
    app.register("Ada", &email, "old-password").await;
    forgot(&app, &email).await;
    let token = token_of(&sink.wait_for(1).await[0]);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = reset(&app, &token, &email, "new-password").await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["token"]);
    assert_eq!(
        app.login(&email, "old-password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_newer_request_kills_the_older_token() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("twice");
    app.register("Ada", &email, "old-password").await;
    forgot(&app, &email).await;
    let older = token_of(&sink.wait_for(1).await[0]);

    // Age the first mail past the one-mail-a-minute window.
    app.db()
        .await
        .execute_unprepared("UPDATE mail_throttle SET sent_at = '2000-01-01T00:00:00+00:00'")
        .await
        .unwrap();
    forgot(&app, &email).await;
    let newer = token_of(&sink.wait_for(2).await[1]);
    assert_ne!(older, newer);

    reset(&app, &older, &email, "new-password")
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(
        reset(&app, &newer, &email, "new-password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_is_only_good_for_its_own_address() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let victim = unique_email("victim");
    let attacker = unique_email("attacker");
    app.register("Ada", &victim, "old-password").await;
    app.register("Mallory", &attacker, "old-password").await;
    forgot(&app, &attacker).await;
    let token = token_of(&sink.wait_for(1).await[0]);

    reset(&app, &token, &victim, "new-password")
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(
        app.login(&victim, "old-password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_reset_ends_every_session_and_tells_the_user() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("sessions");
    let first = app.register("Ada", &email, "old-password").await;
    let second = app.login(&email, "old-password").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Both sessions are in use, so cached, on this instance and on another.
    let other = app.another_instance().await;
    for instance in [&app, &other] {
        for token in [&first, &second] {
            instance
                .get("/api/user", Some(token))
                .await
                .assert_status(200);
        }
    }
    forgot(&app, &email).await;
    let token = token_of(&sink.wait_for(1).await[0]);

    assert_eq!(
        reset(&app, &token, &email, "new-password").await.status,
        StatusCode::OK
    );
    for instance in [&app, &other] {
        for token in [&first, &second] {
            instance
                .get("/api/user", Some(token))
                .await
                .assert_error(401, "unauthenticated");
        }
    }

    let notice = sink.wait_for(2).await.remove(1);
    assert_eq!(notice.recipients, [email]);
    assert_eq!(
        notice.header("Subject").as_deref(),
        Some("Your Comptoir password was changed")
    );
    assert!(
        notice
            .part("text/plain")
            .unwrap()
            .contains("was just changed")
    );
}

#[tokio::test]
async fn a_reset_follows_the_password_rules() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("rules");
    app.register("Ada", &email, "old-password").await;
    forgot(&app, &email).await;
    let token = token_of(&sink.wait_for(1).await[0]);

    let mismatch = app
        .post("/api/reset-password", None, json!({"token": token, "email": email, "password": "new-password", "password_confirmation": "other-password"}))
        .await;
    mismatch.assert_error(422, "validation_failed");
    assert_eq!(
        mismatch.body["errors"]["password"][0],
        "The password confirmation does not match the password."
    );
    let weak = reset(&app, &token, &email, "short").await;
    weak.assert_error(422, "validation_failed");
    assert_eq!(weak.error_fields(), ["password"]);
    let missing = app.post("/api/reset-password", None, json!({})).await;
    assert_eq!(
        missing.error_fields(),
        ["email", "password", "password_confirmation", "token"]
    );

    // The page shows the same messages, and the token still works afterwards.
    let page = app
        .request(Method::POST, "/reset-password")
        .form(&[
            ("token", token.as_str()),
            ("email", email.as_str()),
            ("password", "new-password"),
            ("password_confirmation", "nope-nope-nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("The password confirmation does not match the password.")
    );
    let page = app
        .request(Method::POST, "/reset-password")
        .form(&[
            ("token", "0000"),
            ("email", email.as_str()),
            ("password", "new-password"),
            ("password_confirmation", "new-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("This password reset link is invalid")
    );
    assert_eq!(
        reset(&app, &token, &email, "new-password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn with_smtp_down_the_answer_is_unchanged_and_the_failure_is_logged() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app_with(&[("SMTP_URL", smtp.as_str())]).await;
    let email = unique_email("smtp-down");
    app.register("Ada", &email, "old-password").await;

    let down = app
        .send(
            app.request(Method::POST, "/api/forgot-password")
                .header("x-request-id", "smtp-down-1")
                .json(&json!({"email": email})),
        )
        .await;
    let unknown = forgot(&app, &unique_email("nobody")).await;
    assert_eq!(down.status, StatusCode::OK);
    assert_eq!(down.body, unknown.body);

    for _ in 0..100 {
        if captured_logs()
            .lines()
            .any(|line| line.contains("password reset mail failed") && line.contains("smtp-down-1"))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the SMTP failure was not logged with the request id");
}

#[tokio::test]
async fn no_token_reaches_the_log_when_smtp_is_set() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("discreet");
    app.register("Ada", &email, "old-password").await;
    forgot(&app, &email).await;
    let token = token_of(&sink.wait_for(1).await[0]);
    app.get(
        &format!("/reset-password?token={token}&email={email}"),
        None,
    )
    .await;
    reset(&app, &token, &email, "new-password").await;
    sink.wait_for(2).await;
    assert!(!captured_logs().contains(&token));
}

#[tokio::test]
async fn without_smtp_the_mail_and_its_link_go_to_the_log() {
    let app = spawn_app_with(&[("PUBLIC_URL", PUBLIC_URL)]).await;
    let email = unique_email("developer");
    app.register("Ada", &email, "old-password").await;
    forgot(&app, &email).await;
    for _ in 0..100 {
        let logs = captured_logs();
        if let Some(line) = logs.lines().find(|line| {
            // The new account's confirmation link is logged too.
            line.contains("SMTP_URL is unset")
                && line.contains(&email.replace('@', "%40"))
                && line.contains("/reset-password?")
        }) {
            assert!(
                line.contains(&format!("{PUBLIC_URL}/reset-password?token=")),
                "{line}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the mail was not logged");
}

#[tokio::test]
async fn the_mailed_link_is_one_unbroken_line_of_the_raw_mail() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("copier");
    app.register("Zoë", &email, "old-password").await;
    assert_eq!(forgot(&app, &email).await.status, StatusCode::OK);
    let mail = sink.wait_for(1).await.remove(0);
    let link = mail.link();
    assert!(
        mail.raw.lines().any(|line| line.trim() == link),
        "a reader of the raw text part can copy the link as it is:\n{}",
        mail.raw
    );
    let page = app
        .client
        .get(format!("{}{}", app.address, path_of(&link)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"name="email" value=""#) && page.contains(r#"autocomplete="username""#),
        "password managers learn which account the new password is for: {page}"
    );
}

#[tokio::test]
async fn a_server_without_8bitmime_still_gets_the_mail() {
    let sink = SmtpSink::start_seven_bit().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("old-server");
    app.register("Zoë", &email, "old-password").await;
    assert_eq!(forgot(&app, &email).await.status, StatusCode::OK);
    let mail = sink.wait_for(1).await.remove(0);
    assert!(mail.raw.is_ascii(), "7-bit only: {}", mail.raw);
    assert!(mail.part("text/plain").unwrap().contains("Hello Zoë"));
    assert!(mail.link().contains("/reset-password?token="));
}

#[tokio::test]
async fn a_spent_link_says_so_at_once_and_offers_a_new_one() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink, &[]).await;
    let email = unique_email("twice");
    app.register("Ada", &email, "old-password").await;
    forgot(&app, &email).await;
    let mail = sink.wait_for(1).await.remove(0);
    let path = path_of(&mail.link()).to_owned();
    let fresh = app.get(&path, None).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert!(fresh.body.as_str().unwrap().contains(r#"name="password""#));

    reset(&app, &token_of(&mail), &email, "new-password")
        .await
        .assert_status(200);
    let spent = app.get(&path, None).await;
    assert_eq!(spent.status, StatusCode::GONE);
    let html = spent.body.as_str().unwrap();
    assert!(html.contains("no longer works"), "{html}");
    assert!(
        !html.contains(r#"name="password""#),
        "no password to type for nothing: {html}"
    );
    assert!(
        html.contains(r#"action="/reset-password/new-link""#),
        "{html}"
    );

    let asked = app
        .send(
            app.request(Method::POST, "/reset-password/new-link")
                .form(&[("email", email.as_str())]),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(
        asked
            .body
            .as_str()
            .unwrap()
            .contains("a link to reset its password is on its way")
    );
}
