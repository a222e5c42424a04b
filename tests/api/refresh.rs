//! Refresh tokens: what sign-ins give, rotation, the grace window for concurrent refreshes,
//! reuse detection, refusals, rate limits, and the device a session is named after. On two
//! instances where it matters.

use reqwest::{Method, StatusCode};
use sea_orm::{FromQueryResult, JsonValue, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    PASSWORD, Reply, TestApp, claims_of, spawn_app, spawn_app_with, unique_email,
};

/// The tokens of one token response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    access: String,
    refresh: String,
}

impl Pair {
    #[track_caller]
    fn of(reply: &Reply) -> Self {
        assert!(reply.status.is_success(), "body: {}", reply.body);
        Self {
            access: reply.body["access_token"].as_str().unwrap().to_owned(),
            refresh: reply.body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}

/// Registers an account (password [`PASSWORD`]); answers its email and first pair.
async fn sign_up(app: &TestApp) -> (String, Pair) {
    let email = unique_email("refresh");
    let reply = app
        .post(
            "/api/register",
            None,
            json!({"name": "Ada", "email": email, "password": PASSWORD}),
        )
        .await;
    reply.assert_status(201);
    (email, Pair::of(&reply))
}

/// Another session of the account.
async fn sign_in(app: &TestApp, email: &str) -> Pair {
    Pair::of(&app.login(email, PASSWORD).await)
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Reply {
    app.post(
        "/api/token/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
}

/// The caller's sessions, asserting a 200.
async fn sessions(app: &TestApp, access_token: &str) -> Vec<Value> {
    let reply = app.get("/api/sessions", Some(access_token)).await;
    reply.assert_status(200);
    reply.data()
}

/// The id of the session `access_token` belongs to.
async fn session_id(app: &TestApp, access_token: &str) -> String {
    let current: Vec<Value> = sessions(app, access_token)
        .await
        .into_iter()
        .filter(|session| session["current"] == true)
        .collect();
    assert_eq!(current.len(), 1, "{current:?}");
    current[0]["id"].as_str().unwrap().to_owned()
}

async fn status_of_me(app: &TestApp, access_token: &str) -> StatusCode {
    app.get("/api/user", Some(access_token)).await.status
}

/// A refused refresh: a 401 with `code` and a Bearer challenge.
#[track_caller]
fn assert_refused(reply: &Reply, code: &str) {
    reply.assert_error(401, code);
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|challenge| challenge.starts_with("Bearer")),
        "WWW-Authenticate: {:?}",
        reply.header("www-authenticate")
    );
}

/// Sleeps until just after the start of wall-clock second `unix_seconds`.
async fn sleep_until(unix_seconds: i64) {
    let until = chrono::DateTime::from_timestamp(unix_seconds, 20_000_000).unwrap();
    let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
}

/// Sleeps into the `seconds`-th wall-clock second after this one. Times are kept in whole
/// seconds, so this is what it takes for `seconds` of them to have surely passed since
/// anything done before the call.
async fn sleep_into_second(seconds: i64) {
    sleep_until(chrono::Utc::now().timestamp() + seconds).await;
}

fn sha256_hex(text: &str) -> String {
    comptoir::service::to_hex(&Sha256::digest(text.as_bytes()))
}

/// Every row of `table`, as JSON.
async fn rows(app: &TestApp, table: &str) -> Vec<Value> {
    let db = app.db().await;
    let backend = db.get_database_backend();
    JsonValue::find_by_statement(Statement::from_string(
        backend,
        format!("SELECT * FROM {table} ORDER BY id"),
    ))
    .all(&db)
    .await
    .unwrap()
}

/// The row of the refresh token `token`, found by its SHA-256.
async fn refresh_row(app: &TestApp, token: &str) -> Value {
    let hash = sha256_hex(token);
    rows(app, "refresh_tokens")
        .await
        .into_iter()
        .find(|row| row["token_hash"] == hash.as_str())
        .unwrap_or_else(|| panic!("no refresh token row has the hash of {token}"))
}

#[tokio::test]
async fn register_and_login_give_a_256_bit_refresh_token_and_its_lifetime() {
    for (overrides, ttl) in [
        (vec![], 2_592_000),
        (vec![("REFRESH_TOKEN_TTL_SECS", "86400")], 86_400),
    ] {
        let app = spawn_app_with(&overrides).await;
        let email = unique_email("pair");
        let registered = app
            .post(
                "/api/register",
                None,
                json!({"name": "Ada", "email": email, "password": PASSWORD}),
            )
            .await;
        let logged_in = app.login(&email, PASSWORD).await;
        for reply in [&registered, &logged_in] {
            assert!(reply.status.is_success(), "body: {}", reply.body);
            let token = reply.body["refresh_token"].as_str().unwrap();
            assert!(
                token.len() >= 64 && token.chars().all(|c| c.is_ascii_hexdigit()),
                "{token}"
            );
            // Whole seconds: one may tick between the issue and the answer.
            let expires_in = reply.body["refresh_expires_in"].as_u64().unwrap();
            assert!(
                (ttl - 1..=ttl).contains(&expires_in),
                "refresh_expires_in: {expires_in}, TTL {ttl}"
            );
        }
        assert_ne!(
            registered.body["refresh_token"],
            logged_in.body["refresh_token"]
        );
    }
}

#[tokio::test]
async fn only_the_sha256_of_a_refresh_token_is_stored() {
    let app = spawn_app().await;
    let (_, first) = sign_up(&app).await;
    let second = Pair::of(&refresh(&app, &first.refresh).await);

    let tokens = rows(&app, "refresh_tokens").await;
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    for token in [&first.refresh, &second.refresh] {
        assert_eq!(
            refresh_row(&app, token).await["token_hash"],
            sha256_hex(token)
        );
        for row in tokens.iter().chain(&rows(&app, "sessions").await) {
            assert!(!row.to_string().contains(token.as_str()), "{row}");
        }
    }
}

#[tokio::test]
async fn a_refresh_rotates_both_tokens_within_the_same_session() {
    let app = spawn_app().await;
    let (_, first) = sign_up(&app).await;
    let session = session_id(&app, &first.access).await;

    let reply = refresh(&app, &first.refresh).await;
    reply.assert_status(200);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["user"]["name"], "Ada");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let second = Pair::of(&reply);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(status_of_me(&app, &second.access).await, StatusCode::OK);
    let listed = sessions(&app, &second.access).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], session.as_str());
    assert_eq!(listed[0]["current"], true);
    assert!(!refresh_row(&app, &first.refresh).await["spent_at"].is_null());
    assert!(refresh_row(&app, &second.refresh).await["spent_at"].is_null());

    let third = Pair::of(&refresh(&app, &second.refresh).await);
    assert_ne!(third.refresh, second.refresh);
    assert_ne!(third.refresh, first.refresh);
    assert_eq!(session_id(&app, &third.access).await, session);
    assert!(!refresh_row(&app, &second.refresh).await["spent_at"].is_null());
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_both_get_the_same_pair() {
    let app = spawn_app().await;
    let (_, first) = sign_up(&app).await;

    let (one, other) = tokio::join!(refresh(&app, &first.refresh), refresh(&app, &first.refresh));
    one.assert_status(200);
    other.assert_status(200);
    let pair = Pair::of(&one);
    assert_eq!(Pair::of(&other), pair);
    assert_ne!(pair.refresh, first.refresh);
    assert_eq!(status_of_me(&app, &pair.access).await, StatusCode::OK);
    // The pair both got is the session's live one.
    Pair::of(&refresh(&app, &pair.refresh).await);
}

#[tokio::test]
async fn two_concurrent_refreshes_on_two_instances_both_get_the_same_pair() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let (_, first) = sign_up(&a).await;

    let (on_a, on_b) = tokio::join!(refresh(&a, &first.refresh), refresh(&b, &first.refresh));
    on_a.assert_status(200);
    on_b.assert_status(200);
    let pair = Pair::of(&on_a);
    assert_eq!(Pair::of(&on_b), pair);
    assert_eq!(status_of_me(&a, &pair.access).await, StatusCode::OK);
    assert_eq!(status_of_me(&b, &pair.access).await, StatusCode::OK);
    Pair::of(&refresh(&b, &pair.refresh).await);
}

#[tokio::test]
async fn a_replay_within_the_grace_window_gets_the_same_pair() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let (_, first) = sign_up(&a).await;

    let pair = Pair::of(&refresh(&a, &first.refresh).await);
    assert_eq!(Pair::of(&refresh(&a, &first.refresh).await), pair);
    assert_eq!(Pair::of(&refresh(&b, &first.refresh).await), pair);
    assert_eq!(status_of_me(&b, &pair.access).await, StatusCode::OK);
}

#[tokio::test]
async fn the_grace_window_closes_after_refresh_reuse_grace_secs() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE_SECS", "1")]).await;
    let (_, first) = sign_up(&app).await;
    let pair = Pair::of(&refresh(&app, &first.refresh).await);
    assert_eq!(Pair::of(&refresh(&app, &first.refresh).await), pair);

    sleep_into_second(2).await;
    assert_refused(&refresh(&app, &first.refresh).await, "refresh_token_reused");
}

#[tokio::test]
async fn a_replay_after_the_grace_window_ends_the_session_everywhere_but_not_the_others() {
    let a = spawn_app_with(&[("REFRESH_REUSE_GRACE_SECS", "0")]).await;
    let b = a.another_instance().await;
    let (email, first) = sign_up(&a).await;
    let other = sign_in(&a, &email).await;
    let newest = Pair::of(&refresh(&a, &first.refresh).await);
    // Both instances have the session's tokens in their session caches.
    for app in [&a, &b] {
        for token in [&first.access, &newest.access, &other.access] {
            assert_eq!(status_of_me(app, token).await, StatusCode::OK);
        }
    }

    // Spent times are whole seconds: even with no grace, a replay within the second of the
    // rotation still gets its pair.
    sleep_into_second(1).await;
    let reply = refresh(&a, &first.refresh).await;
    assert_refused(&reply, "refresh_token_reused");

    for app in [&b, &a] {
        for token in [&newest.access, &first.access] {
            assert_eq!(status_of_me(app, token).await, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(status_of_me(app, &other.access).await, StatusCode::OK);
    }
    assert_refused(&refresh(&b, &newest.refresh).await, "invalid_refresh_token");
    assert_refused(&refresh(&b, &first.refresh).await, "invalid_refresh_token");
    let other = Pair::of(&refresh(&b, &other.refresh).await);
    assert_eq!(sessions(&b, &other.access).await.len(), 1);
}

#[tokio::test]
async fn an_unknown_refresh_token_is_refused() {
    let app = spawn_app().await;
    sign_up(&app).await;
    let unknown = comptoir::service::random_hex(32);
    assert_refused(&refresh(&app, &unknown).await, "invalid_refresh_token");
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app_with(&[("REFRESH_TOKEN_TTL_SECS", "1")]).await;
    let (_, first) = sign_up(&app).await;
    sleep_into_second(1).await;
    assert_refused(
        &refresh(&app, &first.refresh).await,
        "invalid_refresh_token",
    );
}

#[tokio::test]
async fn the_refresh_token_of_a_logged_out_session_is_refused() {
    let app = spawn_app().await;
    let (_, first) = sign_up(&app).await;
    app.call(Method::POST, "/api/logout", Some(&first.access), None)
        .await
        .assert_status(200);
    assert_refused(
        &refresh(&app, &first.refresh).await,
        "invalid_refresh_token",
    );
}

#[tokio::test]
async fn a_refresh_token_that_is_missing_empty_too_long_or_not_a_string_is_a_422() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"refresh_token": ""}),
        json!({"refresh_token": "a".repeat(129)}),
        json!({"refresh_token": 42}),
        json!({"refresh_token": null}),
    ] {
        let reply = app.post("/api/token/refresh", None, body.clone()).await;
        reply.assert_invalid(&["refresh_token"]);
        assert!(
            reply.body["errors"]["refresh_token"][0]
                .as_str()
                .is_some_and(|message| message.contains("refresh token")),
            "{body}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn refresh_errors_are_in_french_when_asked() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE_SECS", "0")]).await;
    let in_french = |body: Value| {
        app.request(Method::POST, "/api/token/refresh")
            .header("accept-language", "fr")
            .json(&body)
    };

    let invalid = app.send(in_french(json!({"refresh_token": ""}))).await;
    invalid.assert_invalid(&["refresh_token"]);
    assert_eq!(invalid.header("content-language"), Some("fr"));
    let field = invalid.body["errors"]["refresh_token"][0].as_str().unwrap();
    assert_eq!(field, "Le jeton de rafraîchissement est obligatoire.");

    let unknown = app
        .send(in_french(json!({"refresh_token": "0".repeat(64)})))
        .await;
    assert_refused(&unknown, "invalid_refresh_token");
    let message = unknown.body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Le jeton de rafraîchissement est inconnu"),
        "{message}"
    );

    let (_, first) = sign_up(&app).await;
    Pair::of(&refresh(&app, &first.refresh).await);
    sleep_into_second(1).await;
    let reused = app
        .send(in_french(json!({"refresh_token": first.refresh})))
        .await;
    assert_refused(&reused, "refresh_token_reused");
    let message = reused.body["message"].as_str().unwrap();
    assert!(message.contains("déjà été échangé"), "{message}");
}

#[tokio::test]
async fn the_refreshes_of_one_session_are_limited_but_not_those_of_another() {
    let app = spawn_app_with(&[("RATE_LIMIT_REFRESH", "2/60")]).await;
    let (email, first) = sign_up(&app).await;
    let other = sign_in(&app, &email).await;

    let second = Pair::of(&refresh(&app, &first.refresh).await);
    let third = Pair::of(&refresh(&app, &second.refresh).await);
    let limited = refresh(&app, &third.refresh).await;
    limited.assert_error(429, "too_many_requests");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    // A refused refresh spends nothing: the client may try again later.
    assert!(refresh_row(&app, &third.refresh).await["spent_at"].is_null());

    Pair::of(&refresh(&app, &other.refresh).await);
}

#[tokio::test]
async fn the_refreshes_from_one_address_are_limited_even_with_unknown_tokens() {
    let a = spawn_app_with(&[("RATE_LIMIT_REFRESH_PER_ADDRESS", "2/60")]).await;
    let (_, first) = sign_up(&a).await;
    for _ in 0..2 {
        let unknown = comptoir::service::random_hex(32);
        assert_refused(&refresh(&a, &unknown).await, "invalid_refresh_token");
    }
    let limited = refresh(&a, &first.refresh).await;
    limited.assert_error(429, "too_many_requests");
    assert!(limited.header("retry-after").is_some());

    // The limit is counted before the token is looked at: it was not spent. (Another
    // instance counts apart without Redis.)
    let b = a.another_instance().await;
    Pair::of(&refresh(&b, &first.refresh).await);
}

/// Signs in as `email` with `body`'s extra fields and this `User-Agent`, if any; answers the
/// name of the session it opened.
async fn device_of_login(
    app: &TestApp,
    email: &str,
    extra: &Value,
    user_agent: Option<&str>,
) -> String {
    let mut body = json!({"email": email, "password": PASSWORD});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let mut request = app.request(Method::POST, "/api/login").json(&body);
    if let Some(user_agent) = user_agent {
        request = request.header("user-agent", user_agent);
    }
    let pair = Pair::of(&app.send(request).await);
    let listed = sessions(app, &pair.access).await;
    let current = listed.iter().find(|session| session["current"] == true);
    current.unwrap()["device_name"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_session_is_named_after_the_device_name_given_else_the_user_agent() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/api/register",
            None,
            json!({"name": "Ada", "email": unique_email("device"), "password": PASSWORD,
                   "device_name": "Ada's laptop"}),
        )
        .await;
    let registered = Pair::of(&reply);
    let email = reply.body["user"]["email"].as_str().unwrap().to_owned();
    assert_eq!(
        sessions(&app, &registered.access).await[0]["device_name"],
        "Ada's laptop"
    );

    let named = json!({"device_name": "  Ada's phone "});
    assert_eq!(
        device_of_login(&app, &email, &named, Some("Browser/1.0")).await,
        "Ada's phone"
    );
    let none = json!({});
    assert_eq!(
        device_of_login(
            &app,
            &email,
            &none,
            Some("ComptoirTest/1.0 (refresh suite)")
        )
        .await,
        "ComptoirTest/1.0 (refresh suite)"
    );
    let long = format!("Mozilla/5.0 {}", "x".repeat(300));
    assert_eq!(
        device_of_login(&app, &email, &none, Some(&long)).await,
        long[..255]
    );
    assert_eq!(device_of_login(&app, &email, &none, None).await, "unknown");
    let longest = json!({"device_name": "é".repeat(255)});
    assert_eq!(
        device_of_login(&app, &email, &longest, None).await,
        "é".repeat(255)
    );
    assert_eq!(sessions(&app, &registered.access).await.len(), 6);
}

#[tokio::test]
async fn a_device_name_that_is_empty_too_long_or_has_control_characters_is_a_422() {
    let app = spawn_app().await;
    let (email, _) = sign_up(&app).await;
    for device_name in [
        json!(""),
        json!("   "),
        json!("é".repeat(256)),
        json!("Ada\u{0}phone"),
        json!("tab\there"),
        json!("bidi\u{202E}enohp"),
        json!(7),
    ] {
        let login = app
            .post(
                "/api/login",
                None,
                json!({"email": email, "password": PASSWORD, "device_name": device_name}),
            )
            .await;
        login.assert_invalid(&["device_name"]);
        let register = app
            .post(
                "/api/register",
                None,
                json!({"name": "Ada", "email": unique_email("device"), "password": PASSWORD,
                       "device_name": device_name}),
            )
            .await;
        register.assert_invalid(&["device_name"]);
    }
    // Nothing was signed in, nor registered.
    assert_eq!(rows(&app, "sessions").await.len(), 1);
    assert_eq!(rows(&app, "users").await.len(), 1);
}

#[tokio::test]
async fn the_previous_access_token_works_until_it_expires() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL_SECS", "2")]).await;
    let (_, first) = sign_up(&app).await;
    let claim = |token: &str, name: &str| claims_of(token)[name].as_i64().unwrap();
    // A second after the first was issued, so that the new access token expires later.
    sleep_until(claim(&first.access, "iat") + 1).await;
    let second = Pair::of(&refresh(&app, &first.refresh).await);
    assert!(claim(&second.access, "exp") > claim(&first.access, "exp"));

    assert_eq!(status_of_me(&app, &first.access).await, StatusCode::OK);
    assert_eq!(
        session_id(&app, &first.access).await,
        session_id(&app, &second.access).await
    );

    sleep_until(claim(&first.access, "exp")).await;
    let expired = app.get("/api/user", Some(&first.access)).await;
    expired.assert_error(401, "unauthenticated");
    assert!(
        expired.body["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{}",
        expired.body
    );
    assert_eq!(status_of_me(&app, &second.access).await, StatusCode::OK);
}

#[tokio::test]
async fn the_previous_access_token_dies_with_its_session() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let (_, first) = sign_up(&a).await;
    let second = Pair::of(&refresh(&a, &first.refresh).await);
    assert_eq!(status_of_me(&b, &first.access).await, StatusCode::OK);

    a.call(Method::POST, "/api/logout", Some(&second.access), None)
        .await
        .assert_status(200);
    for app in [&b, &a] {
        assert_eq!(
            status_of_me(app, &first.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status_of_me(app, &second.access).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_refused(&refresh(&b, &second.refresh).await, "invalid_refresh_token");
}
