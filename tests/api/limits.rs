//! Rate limits: each trips at its number and frees up after its window; Redis makes one limit
//! of many instances; `X-Forwarded-For` counts only from a trusted proxy.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Reply, TestApp, captured_logs, spawn_app_with, unique_email};

/// A key prefix of its own, so that tests sharing the machine's Redis never meet.
fn redis_prefix() -> String {
    format!("comptoir-test-{}", comptoir::service::random_hex(6))
}

#[track_caller]
fn assert_limited(reply: &Reply, limit: u32) {
    reply.assert_error(429, "too_many_requests");
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(
        reply.header("ratelimit-limit"),
        Some(limit.to_string().as_str())
    );
    assert_eq!(reply.header("ratelimit-remaining"), Some("0"));
    assert_eq!(
        reply.header("ratelimit-reset"),
        Some(retry_after.to_string().as_str())
    );
}

async fn register(app: &TestApp, forwarded_for: Option<&str>) -> Reply {
    let mut request = app
        .request(Method::POST, "/api/register")
        .json(&json!({"name": "Ada", "email": unique_email("limit"), "password": "password-1"}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    app.send(request).await
}

#[tokio::test]
async fn login_attempts_are_limited_per_email_and_address_until_the_window_ends() {
    let app = spawn_app_with(&[("RATE_LIMIT_LOGIN", "3/2")]).await;
    let email = unique_email("guessed");
    app.register("Ada", &email, "password-1").await;
    for _ in 0..3 {
        app.login(&email, "wrong-guess")
            .await
            .assert_error(422, "validation_failed");
    }
    let limited = app.login(&email.to_uppercase(), "password-1").await;
    assert_limited(&limited, 3);
    // Another email from the same address is counted apart.
    app.login(&unique_email("other"), "wrong-guess")
        .await
        .assert_error(422, "validation_failed");

    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    assert_eq!(app.login(&email, "password-1").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_successful_login_clears_its_counter() {
    let app = spawn_app_with(&[("RATE_LIMIT_LOGIN", "3/60")]).await;
    let email = unique_email("forgetful");
    app.register("Ada", &email, "password-1").await;
    app.login(&email, "wrong-1")
        .await
        .assert_error(422, "validation_failed");
    app.login(&email, "wrong-2")
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(app.login(&email, "password-1").await.status, StatusCode::OK);
    for _ in 0..3 {
        app.login(&email, "wrong-again")
            .await
            .assert_error(422, "validation_failed");
    }
    assert_limited(&app.login(&email, "wrong-again").await, 3);
}

#[tokio::test]
async fn login_attempts_are_limited_per_address_whatever_the_email() {
    let app = spawn_app_with(&[("RATE_LIMIT_LOGIN_PER_ADDRESS", "3/60")]).await;
    for _ in 0..3 {
        app.login(&unique_email("stuffed"), "password-1")
            .await
            .assert_error(422, "validation_failed");
    }
    assert_limited(&app.login(&unique_email("stuffed"), "password-1").await, 3);
}

#[tokio::test]
async fn registrations_and_reset_requests_are_limited_per_address() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_REGISTER", "2/60"),
        ("RATE_LIMIT_FORGOT_PASSWORD", "2/60"),
    ])
    .await;
    for _ in 0..2 {
        assert_eq!(register(&app, None).await.status, StatusCode::CREATED);
    }
    assert_limited(&register(&app, None).await, 2);

    for _ in 0..2 {
        let reply = app
            .post(
                "/api/forgot-password",
                None,
                json!({"email": unique_email("bomb")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let reply = app
        .post(
            "/api/forgot-password",
            None,
            json!({"email": unique_email("bomb")}),
        )
        .await;
    assert_limited(&reply, 2);
}

#[tokio::test]
async fn every_api_request_counts_against_the_address_limit_and_says_what_is_left() {
    let app = spawn_app_with(&[("RATE_LIMIT_API", "3/60")]).await;
    for remaining in ["2", "1", "0"] {
        let reply = app.get("/api/user", None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.header("ratelimit-limit"), Some("3"));
        assert_eq!(reply.header("ratelimit-remaining"), Some(remaining));
    }
    assert_limited(&app.get("/api/orders", None).await, 3);
    // The health check and the documents are not the API.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
    assert_eq!(app.get("/openapi.json", None).await.status, StatusCode::OK);
}

#[tokio::test]
#[ignore = "needs Redis: make test-postgres runs it"]
async fn two_instances_sharing_redis_enforce_one_limit() {
    let redis = std::env::var("TEST_REDIS_URL")
        .expect("this test needs TEST_REDIS_URL=redis://127.0.0.1:6379 (make test-postgres)");
    let prefix = redis_prefix();
    let settings = [
        ("RATE_LIMIT_LOGIN", "3/60"),
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", prefix.as_str()),
    ];
    let a = spawn_app_with(&settings).await;
    let b = a.sibling_with(&settings).await;
    let email = unique_email("spread");
    a.register("Ada", &email, "password-1").await;

    a.login(&email, "wrong")
        .await
        .assert_error(422, "validation_failed");
    b.login(&email, "wrong")
        .await
        .assert_error(422, "validation_failed");
    a.login(&email, "wrong")
        .await
        .assert_error(422, "validation_failed");
    assert_limited(&b.login(&email, "wrong").await, 3);
    assert_limited(&a.login(&email, "wrong").await, 3);
}

#[tokio::test]
async fn with_redis_unreachable_the_service_answers_and_limits_locally() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = format!("redis://127.0.0.1:{port}");
    let app = spawn_app_with(&[("RATE_LIMIT_LOGIN", "2/60"), ("REDIS_URL", redis.as_str())]).await;
    let email = unique_email("no-redis");
    app.register("Ada", &email, "password-1").await;
    app.login(&email, "wrong")
        .await
        .assert_error(422, "validation_failed");
    app.login(&email, "wrong")
        .await
        .assert_error(422, "validation_failed");
    assert_limited(&app.login(&email, "wrong").await, 2);
    assert!(captured_logs().contains("Redis is unreachable: rate limits fall back"));
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = spawn_app_with(&[("RATE_LIMIT_REGISTER", "1/60")]).await;
    assert_eq!(
        register(&app, Some("203.0.113.1")).await.status,
        StatusCode::CREATED
    );
    // A new X-Forwarded-For does not make a new client.
    assert_limited(&register(&app, Some("203.0.113.2")).await, 1);
}

#[tokio::test]
async fn forwarded_for_is_believed_from_a_trusted_proxy() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_REGISTER", "1/60"),
        ("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
    ])
    .await;
    assert_eq!(
        register(&app, Some("203.0.113.1")).await.status,
        StatusCode::CREATED
    );
    // The nearest address that is not a trusted proxy is the client.
    assert_eq!(
        register(&app, Some("198.51.100.7, 10.1.2.3")).await.status,
        StatusCode::CREATED
    );
    assert_limited(&register(&app, Some("203.0.113.1")).await, 1);
    assert_limited(&register(&app, Some("192.0.2.1, 198.51.100.7")).await, 1);
}

#[tokio::test]
async fn every_limit_frees_up_when_its_window_ends() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_LOGIN_PER_ADDRESS", "1/1"),
        ("RATE_LIMIT_REGISTER", "1/1"),
        ("RATE_LIMIT_FORGOT_PASSWORD", "1/1"),
    ])
    .await;
    let forgot = || {
        app.post(
            "/api/forgot-password",
            None,
            json!({"email": "ada@example.com"}),
        )
    };
    let login = || app.login("ada@example.com", "password-1");
    assert_eq!(register(&app, None).await.status, StatusCode::CREATED);
    assert_eq!(forgot().await.status, StatusCode::OK);
    login().await.assert_error(422, "validation_failed");
    assert_limited(&register(&app, None).await, 1);
    assert_limited(&forgot().await, 1);
    assert_limited(&login().await, 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(register(&app, None).await.status, StatusCode::CREATED);
    assert_eq!(forgot().await.status, StatusCode::OK);
    login().await.assert_error(422, "validation_failed");

    let api = spawn_app_with(&[("RATE_LIMIT_API", "1/1")]).await;
    assert_eq!(
        api.get("/api/user", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_limited(&api.get("/api/user", None).await, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.get("/api/user", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}
