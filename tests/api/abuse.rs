//! What an adversarial test of the first wave broke, each pinned down: a fair, bounded bcrypt
//! queue; current-password guessing limited like logins; a 429 that describes its own limit;
//! reset links that die with the password or address they were for; error maps of bounded size.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::{
    helpers::{PASSWORD, TestApp, spawn_app_with, unique_email},
    smtp::SmtpSink,
};

/// A client at `address`, as the trusted proxy in front of the app says.
fn from(app: &TestApp, method: Method, path: &str, address: &str) -> reqwest::RequestBuilder {
    app.request(method, path).header("x-forwarded-for", address)
}

#[tokio::test]
async fn a_flood_of_current_password_guesses_is_turned_away_at_once_and_others_still_log_in() {
    // Cost 10: each check takes tens of milliseconds, so forty of them would queue up.
    let app = spawn_app_with(&[
        ("BCRYPT_COST", "10"),
        ("BCRYPT_JOBS_PER_ACCOUNT", "2"),
        ("BCRYPT_JOBS_PER_ADDRESS", "8"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let attacker = app.ordinary_user("Mallory").await;
    let victim = app.ordinary_user("Ada").await;

    let guesses = (0..40).map(|n| {
        let request = from(
            &app,
            Method::PATCH,
            &format!("/api/users/{}", attacker.id),
            "203.0.113.66",
        )
        .bearer_auth(&attacker.token)
        .json(&json!({"password": "a new password", "current_password": format!("guess-{n}")}));
        app.send(request)
    });
    let login = app.send(
        from(&app, Method::POST, "/api/login", "198.51.100.7")
            .json(&json!({"email": victim.email, "password": PASSWORD})),
    );
    let (replies, login) = tokio::join!(futures_util::future::join_all(guesses), login);

    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let busy: Vec<_> = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    for reply in &busy {
        reply.assert_error(503, "service_unavailable");
        let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!(wait >= 1);
    }
    assert!(
        busy.len() >= 30,
        "an account holds two bcrypt jobs at a time; {} of 40 were refused",
        busy.len()
    );
    for reply in replies
        .iter()
        .filter(|reply| reply.status != StatusCode::SERVICE_UNAVAILABLE)
    {
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), ["current_password"]);
    }
}

#[tokio::test]
async fn current_password_checks_are_limited_per_account_before_a_taken_email_is_revealed() {
    let app = spawn_app_with(&[("RATE_LIMIT_CURRENT_PASSWORD", "3/60")]).await;
    let user = app.ordinary_user("Ada").await;
    let taken = app.ordinary_user("Grace").await;
    let path = format!("/api/users/{}", user.id);
    for n in 0..3 {
        let reply = app
            .patch(
                &path,
                Some(&user.token),
                json!({"email": taken.email, "current_password": format!("guess-{n}")}),
            )
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), ["current_password"]);
    }
    // The right password no longer tells whether the email is taken.
    let reply = app
        .patch(
            &path,
            Some(&user.token),
            json!({"email": taken.email, "current_password": PASSWORD}),
        )
        .await;
    reply.assert_error(429, "too_many_requests");
    assert_eq!(reply.header("ratelimit-limit"), Some("3"));
    assert_eq!(reply.header("ratelimit-remaining"), Some("0"));
    assert!(reply.header("retry-after").is_some());
    // Changes that need no password are not limited.
    let renamed = app
        .patch(&path, Some(&user.token), json!({"name": "Ada L."}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
}

#[tokio::test]
async fn a_429_carries_the_headers_of_the_limit_that_refused_it() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_LOGIN", "5/60"),
        ("RATE_LIMIT_REGISTER", "2/60"),
        ("RATE_LIMIT_API", "600/60"),
    ])
    .await;
    let email = unique_email("guessed");
    for _ in 0..5 {
        app.login(&email, "wrong-guess")
            .await
            .assert_error(422, "validation_failed");
    }
    let refused = app.login(&email, "wrong-guess").await;
    refused.assert_error(429, "too_many_requests");
    assert_eq!(refused.header("ratelimit-limit"), Some("5"));
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert_eq!(
        refused.header("ratelimit-reset"),
        refused.header("retry-after")
    );

    for _ in 0..2 {
        app.post(
            "/api/register",
            None,
            json!({"name": "Ada", "email": unique_email("many"), "password": PASSWORD}),
        )
        .await;
    }
    let refused = app
        .post(
            "/api/register",
            None,
            json!({"name": "Ada", "email": unique_email("many"), "password": PASSWORD}),
        )
        .await;
    refused.assert_error(429, "too_many_requests");
    assert_eq!(refused.header("ratelimit-limit"), Some("2"));
    // An allowed request still shows the API-wide figures.
    let allowed = app.get("/api/user", None).await;
    assert_eq!(allowed.header("ratelimit-limit"), Some("600"));
}

/// Asks for a reset link for `email` and returns its token, from the mail.
async fn reset_token(app: &TestApp, sink: &SmtpSink, email: &str) -> String {
    let before = sink.received().len();
    let reply = app
        .post("/api/forgot-password", None, json!({"email": email}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let link = sink.wait_for(before + 1).await.remove(before).link();
    link.split_once("token=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}

async fn reset_with(app: &TestApp, token: &str, email: &str) -> crate::helpers::Reply {
    app.post(
        "/api/reset-password",
        None,
        json!({"token": token, "email": email, "password": "reset-password-1", "password_confirmation": "reset-password-1"}),
    )
    .await
}

#[tokio::test]
async fn a_password_change_voids_the_reset_links_already_mailed() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(&[("SMTP_URL", &sink.url())]).await;
    let user = app.ordinary_user("Ada").await;
    let token = reset_token(&app, &sink, &user.email).await;

    let changed = app
        .patch(
            &format!("/api/users/{}", user.id),
            Some(&user.token),
            json!({"password": "changed-password", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);

    let reply = reset_with(&app, &token, &user.email).await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["token"]);
    assert_eq!(
        app.login(&user.email, "changed-password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_email_change_voids_the_reset_links_already_mailed() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(&[("SMTP_URL", &sink.url())]).await;
    let user = app.ordinary_user("Ada").await;
    let admin = app.admin().await;
    let token = reset_token(&app, &sink, &user.email).await;

    let new_email = unique_email("moved");
    let changed = app
        .patch(
            &format!("/api/users/{}", user.id),
            Some(&admin.token),
            json!({"email": new_email}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);

    for email in [&user.email, &new_email] {
        let reply = reset_with(&app, &token, email).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), ["token"]);
    }
}

#[tokio::test]
async fn a_body_of_thousands_of_unknown_fields_gets_a_422_of_bounded_size() {
    let app = spawn_app_with(&[]).await;
    let mut body = Map::new();
    for n in 0..20_000 {
        body.insert(format!("unknown_field_number_{n}"), Value::Null);
    }
    body.insert("x".repeat(100_000), Value::Null);
    let raw = serde_json::to_vec(&Value::Object(body)).unwrap();
    assert!(raw.len() > 500_000);
    let response = app
        .client
        .post(format!("{}/api/login", app.address))
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = response.text().await.unwrap();
    assert!(text.len() < 16_384, "a 422 of {} bytes", text.len());
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "validation_failed");
    let errors = body["errors"].as_object().unwrap();
    assert!(errors.contains_key("email"), "required fields come first");
}
