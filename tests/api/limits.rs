//! Rate limits: each trips at its number and frees up after its window; Redis makes one limit
//! of many instances; `X-Forwarded-For` counts only from a trusted proxy.

use std::{sync::Arc, time::Duration};

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
async fn the_reset_page_form_counts_against_the_same_limit_as_the_reset_api() {
    let app = spawn_app_with(&[("RATE_LIMIT_API", "3/60")]).await;
    let form = [
        ("token", "not-a-token"),
        ("email", "ada@example.com"),
        ("password", "new-password"),
        ("password_confirmation", "new-password"),
    ];
    let submit = || app.send(app.request(Method::POST, "/reset-password").form(&form));
    for _ in 0..2 {
        assert_eq!(submit().await.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    app.post(
        "/api/reset-password",
        None,
        json!({"token": "not-a-token", "email": "ada@example.com", "password": "new-password", "password_confirmation": "new-password"}),
    )
    .await
    .assert_error(422, "validation_failed");
    assert_limited(&submit().await, 3);
    // Showing the page checks the token: it spends the same budget.
    let page = app.get("/reset-password?token=x&email=ada%40example.com", None);
    assert_limited(&page.await, 3);
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
    assert_one_login_limit_across_two_instances(&redis, &redis_prefix()).await;
}

#[tokio::test]
#[ignore = "needs Redis: make test-postgres runs it"]
async fn an_acl_user_with_a_percent_encoded_password_reaches_the_shared_counters() {
    let admin_url = std::env::var("TEST_REDIS_URL")
        .expect("this test needs TEST_REDIS_URL=redis://127.0.0.1:6379 (make test-postgres)");
    let prefix = redis_prefix();
    let user = AclUser::create(&admin_url, &prefix, "p@ss:w/rd%?#");
    // The password as a URL carries it: percent-encoded.
    let url = user.url("p%40ss%3Aw%2Frd%25%3F%23");
    assert_one_login_limit_across_two_instances(&url, &prefix).await;
}

/// Three wrong logins, spread over two instances, use up one limit of three.
async fn assert_one_login_limit_across_two_instances(redis_url: &str, prefix: &str) {
    let settings = [
        ("RATE_LIMIT_LOGIN", "3/60"),
        ("REDIS_URL", redis_url),
        ("REDIS_PREFIX", prefix),
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

/// A Redis ACL user that may touch only the keys under one prefix, deleted when dropped.
struct AclUser {
    admin_url: String,
    name: String,
}

impl AclUser {
    fn create(admin_url: &str, prefix: &str, password: &str) -> Self {
        let user = Self {
            admin_url: admin_url.to_owned(),
            name: prefix.to_owned(),
        };
        let mut admin = user.admin();
        redis::cmd("ACL")
            .arg(&["SETUSER", &user.name, "on", &format!(">{password}")])
            .arg(&[&format!("~{prefix}:*"), "+@all"])
            .exec(&mut admin)
            .unwrap();
        user
    }

    /// The admin URL with this user and `encoded_password` in place of any credentials.
    fn url(&self, encoded_password: &str) -> String {
        let rest = self.admin_url.strip_prefix("redis://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("redis://{}:{encoded_password}@{host}", self.name)
    }

    fn admin(&self) -> redis::Connection {
        redis::Client::open(self.admin_url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for AclUser {
    fn drop(&mut self) {
        let deleted = redis::cmd("ACL")
            .arg(&["DELUSER", &self.name])
            .exec(&mut self.admin());
        if let Err(err) = deleted {
            eprintln!("could not delete the Redis user {}: {err}", self.name);
        }
    }
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
async fn when_redis_accepts_but_never_answers_concurrent_requests_are_answered_from_local_counters()
{
    // A Redis that takes every connection and says nothing.
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redis = format!("redis://{}", stalled.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = stalled.accept().await {
            held.push(socket);
        }
    });
    // Start-up does not wait for it either.
    let app = spawn_app_with(&[("RATE_LIMIT_API", "100/60"), ("REDIS_URL", redis.as_str())]).await;

    let requests = (0..40).map(|_| app.get("/api/user", None));
    let replies = tokio::time::timeout(
        Duration::from_secs(3),
        futures_util::future::join_all(requests),
    )
    .await
    .expect("every request is answered although Redis stalls");
    let mut remaining: Vec<u32> = replies
        .iter()
        .map(|reply| {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            reply
                .header("ratelimit-remaining")
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    remaining.sort_unstable();
    // Each request was counted once, here.
    assert_eq!(remaining, (60..100).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs Redis: make test-postgres runs it"]
async fn after_redis_stalled_the_counters_go_back_to_redis_once_it_answers() {
    let redis = std::env::var("TEST_REDIS_URL")
        .expect("this test needs TEST_REDIS_URL=redis://127.0.0.1:6379 (make test-postgres)");
    let proxy = StallingProxy::start(&redis).await;
    let prefix = redis_prefix();
    let settings = |url| {
        [
            ("RATE_LIMIT_LOGIN", "3/60"),
            ("REDIS_URL", url),
            ("REDIS_PREFIX", prefix.as_str()),
        ]
    };
    let a = spawn_app_with(&settings(&proxy.url)).await;
    let b = a.sibling_with(&settings(&redis)).await;
    let email = unique_email("stalled");
    a.register("Ada", &email, "password-1").await;
    let wrong_login = async |app: &TestApp| {
        app.login(&email, "wrong")
            .await
            .assert_error(422, "validation_failed");
    };
    wrong_login(&a).await; // 1 in Redis

    // Redis stops answering on the connection `a` holds, which stays open (half-open).
    proxy.stalled.send_replace(true);
    wrong_login(&a).await; // 1 in `a` alone
    proxy.stalled.send_replace(false);
    tokio::time::sleep(Duration::from_millis(5200)).await;

    // New connections get through: after its pause, `a` counts in Redis again, on a new one.
    wrong_login(&a).await; // 2 in Redis
    wrong_login(&b).await; // 3 in Redis
    assert_limited(&a.login(&email, "wrong").await, 3);
}

/// Between an app and Redis: forwards, until stalled; then holds every connection, open and
/// unanswered, the ones already there for good.
struct StallingProxy {
    url: String,
    stalled: Arc<tokio::sync::watch::Sender<bool>>,
}

impl StallingProxy {
    async fn start(redis_url: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let target = redis_url.strip_prefix("redis://").unwrap().to_owned();
        let stalled = Arc::new(tokio::sync::watch::Sender::new(false));
        let watched = stalled.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let mut stall = watched.subscribe();
                tokio::spawn(async move {
                    let stalled_already = *stall.borrow_and_update();
                    if stalled_already {
                        return std::future::pending().await;
                    }
                    let mut server = tokio::net::TcpStream::connect(target).await.unwrap();
                    let stalled_now = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
                        _ = stall.wait_for(|stalled| *stalled) => true,
                    };
                    if stalled_now {
                        std::future::pending::<()>().await;
                    }
                });
            }
        });
        Self { url, stalled }
    }
}

#[tokio::test]
async fn a_rediss_url_speaks_tls_to_redis() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redis = format!("rediss://{}", listener.local_addr().unwrap());
    let (first_bytes, received) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut bytes = [0; 3];
        tokio::io::AsyncReadExt::read_exact(&mut socket, &mut bytes)
            .await
            .unwrap();
        first_bytes.send(bytes).unwrap();
    });
    let app = spawn_app_with(&[("RATE_LIMIT_API", "5/60"), ("REDIS_URL", redis.as_str())]).await;

    let reply = app.get("/api/user", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("ratelimit-remaining"), Some("4"));
    let bytes = tokio::time::timeout(Duration::from_secs(2), received)
        .await
        .unwrap()
        .unwrap();
    // A TLS record of type handshake (a ClientHello), not a RESP command.
    assert_eq!(bytes[0], 0x16, "first bytes: {bytes:?}");
    assert_eq!(bytes[1], 0x03, "first bytes: {bytes:?}");
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
        // Windows long enough that a loaded machine makes the first six calls within them.
        ("RATE_LIMIT_LOGIN_PER_ADDRESS", "1/3"),
        ("RATE_LIMIT_REGISTER", "1/3"),
        ("RATE_LIMIT_FORGOT_PASSWORD", "1/3"),
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

    tokio::time::sleep(Duration::from_millis(3100)).await;
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
