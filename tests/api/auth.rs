//! Register, login, logout, the current user, and every way a token can be refused.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{
    JWT_SECRET, Reply, captured_logs, claims_of, spawn_app, spawn_app_with, unique_email,
};

#[tokio::test]
async fn register_returns_201_with_a_bearer_token_and_the_user() {
    let app = spawn_app().await;
    let reply = app
        .post("/api/register", None, json!({"name": "Ada Lovelace", "email": "  Ada@Example.COM ", "password": "correct horse", "password_confirmation": "correct horse"}))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    assert!(
        reply.body["access_token"]
            .as_str()
            .unwrap()
            .split('.')
            .count()
            == 3
    );
    let user = &reply.body["user"];
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["role"], "user");
    assert!(user["email_verified_at"].is_null());
    assert!(user["id"].as_i64().unwrap() > 0);
    let created = user["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    let mut keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "email_verified_at",
            "id",
            "locale",
            "name",
            "pending_email",
            "role",
            "updated_at"
        ]
    );
}

#[tokio::test]
async fn an_email_is_unique_whatever_its_case() {
    let app = spawn_app().await;
    app.register("Ada", "ada@example.com", "password-1").await;
    let reply = app
        .post(
            "/api/register",
            None,
            json!({"name": "Imposter", "email": " ADA@example.com", "password": "password-2"}),
        )
        .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(
        reply.body["errors"]["email"][0],
        "The email has already been taken."
    );
}

#[tokio::test]
async fn a_registration_lists_every_bad_or_missing_field_at_once() {
    let app = spawn_app().await;
    let reply = app.post("/api/register", None, json!({})).await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["email", "name", "password"]);
    assert_eq!(
        reply.body["errors"]["email"][0],
        "The email address is required."
    );

    let reply = app
        .post(
            "/api/register",
            None,
            json!({"name": 7, "email": "ada@example.com", "password": "short", "role": "admin"}),
        )
        .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["name", "password", "role"]);
}

#[tokio::test]
async fn a_malformed_email_is_a_422_on_email() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/api/register",
            None,
            json!({"name": "Ada", "email": "ada@nowhere", "password": "password-1"}),
        )
        .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["email"]);
}

#[tokio::test]
async fn a_confirmation_that_does_not_match_is_refused() {
    let app = spawn_app().await;
    let reply = app
        .post("/api/register", None, json!({"name": "Ada", "email": unique_email("ada"), "password": "password-1", "password_confirmation": "password-2"}))
        .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(
        reply.body["errors"]["password"][0],
        "The password confirmation does not match the password."
    );
}

#[tokio::test]
async fn a_password_over_72_bytes_is_refused_never_truncated() {
    let app = spawn_app().await;
    // 36 two-byte characters: 72 bytes, accepted.
    let at_limit = "é".repeat(36);
    let email = unique_email("limit");
    app.register("Ada", &email, &at_limit).await;
    assert_eq!(app.login(&email, &at_limit).await.status, StatusCode::OK);

    let over = "é".repeat(37);
    let reply = app
        .post(
            "/api/register",
            None,
            json!({"name": "Ada", "email": unique_email("over"), "password": over}),
        )
        .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(
        reply.body["errors"]["password"][0],
        "The password must not be longer than 72 bytes (accented letters count for two or more)."
    );

    // A login password that starts with the stored 72 bytes is still wrong.
    let longer = format!("{at_limit}x");
    app.login(&email, &longer)
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn login_returns_a_token_for_the_current_user() {
    let app = spawn_app().await;
    let email = unique_email("login");
    app.register("Grace", &email, "password-1").await;

    let reply = app.login(&email.to_uppercase(), "password-1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["user"]["email"], email);
    let token = reply.body["access_token"].as_str().unwrap();

    let me = app.get("/api/user", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], email);
    assert_eq!(me.body["name"], "Grace");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let email = unique_email("known");
    app.register("Grace", &email, "password-1").await;

    let wrong_password = app.login(&email, "password-2").await;
    let unknown_email = app.login(&unique_email("unknown"), "password-1").await;
    wrong_password.assert_error(422, "validation_failed");
    assert_eq!(wrong_password.body, unknown_email.body);
    assert_eq!(wrong_password.status, unknown_email.status);
    assert_eq!(
        wrong_password.body["errors"]["email"][0],
        "These credentials do not match our records."
    );
}

#[tokio::test]
async fn the_current_user_needs_a_token() {
    let app = spawn_app().await;
    // Each case says what was wrong; RFC 6750's `invalid_token` only when a token was sent.
    for (authorization, says, challenge) in [
        (None, "needs an access token", "Bearer"),
        (Some("Bearer"), "holds no token", "Bearer"),
        (
            Some("Basic YWRhOnB3"),
            "must use the Bearer scheme",
            "Bearer",
        ),
        (
            Some("Bearer not-a-jwt"),
            "not an access token of this API",
            INVALID_TOKEN_MALFORMED,
        ),
        (
            Some("Bearer Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln"),
            "not an access token of this API",
            INVALID_TOKEN_MALFORMED,
        ),
    ] {
        let mut request = app.request(Method::GET, "/api/user");
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let reply = app.send(request).await;
        reply.assert_error(401, "unauthenticated");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains(says), "{authorization:?}: {message}");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(challenge),
            "{authorization:?}"
        );
    }
}

#[tokio::test]
async fn logout_revokes_only_that_token() {
    let app = spawn_app().await;
    let email = unique_email("two-sessions");
    let first = app.register("Ada", &email, "password-1").await;
    let second = app.login(&email, "password-1").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let reply = app
        .call(Method::POST, "/api/logout", Some(&first), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["message"], "Logged out.");

    assert_invalid_token(&app.get("/api/user", Some(&first)).await, "no longer valid");
    app.call(Method::POST, "/api/logout", Some(&first), None)
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(
        app.get("/api/user", Some(&second)).await.status,
        StatusCode::OK
    );
}

const INVALID_TOKEN_MALFORMED: &str = "Bearer error=\"invalid_token\", error_description=\"The bearer token is not an access token of this API. Send the access_token alone after 'Bearer '.\"";

/// The 401 for a token that is no good, with RFC 6750's `invalid_token` and a description that
/// contains `says`.
fn assert_invalid_token(reply: &Reply, says: &str) {
    reply.assert_error(401, "unauthenticated");
    let challenge = reply.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", error_description=\"")
            && challenge.contains(says),
        "{challenge}"
    );
    assert!(
        reply.body["message"].as_str().unwrap().contains(says),
        "{}",
        reply.body
    );
}

/// `claims` signed with `secret`, under the header of `like` (its `kid` included).
fn sign(
    like: &str,
    claims: &serde_json::Value,
    secret: &[u8],
    algorithm: jsonwebtoken::Algorithm,
) -> String {
    let mut header = jsonwebtoken::decode_header(like).unwrap();
    header.alg = algorithm;
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_refused() {
    let app = spawn_app().await;
    let token = app
        .register("Ada", &unique_email("forged"), "password-1")
        .await;
    let claims = claims_of(&token);
    // Same claims, same live session: only the key differs.
    let forged = sign(
        &token,
        &claims,
        b"another-secret-that-is-32-bytes-long!!",
        jsonwebtoken::Algorithm::HS256,
    );
    assert_invalid_token(
        &app.get("/api/user", Some(&forged)).await,
        "not signed by this service",
    );
    // The real key with the same claims is accepted, so the key was the only difference.
    let genuine = sign(
        &token,
        &claims,
        JWT_SECRET.as_bytes(),
        jsonwebtoken::Algorithm::HS256,
    );
    assert_eq!(
        app.get("/api/user", Some(&genuine)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_with_another_algorithm_or_none_is_refused() {
    use base64::Engine;
    let app = spawn_app().await;
    let token = app
        .register("Ada", &unique_email("alg"), "password-1")
        .await;
    let claims = claims_of(&token);

    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // The right key id, so that only the missing signature can be why it is refused.
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let unsigned = format!(
        "{}.{}.",
        engine.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#)),
        engine.encode(serde_json::to_vec(&claims).unwrap())
    );
    assert_invalid_token(
        &app.get("/api/user", Some(&unsigned)).await,
        "not an access token of this API",
    );

    let hs512 = sign(
        &token,
        &claims,
        JWT_SECRET.as_bytes(),
        jsonwebtoken::Algorithm::HS512,
    );
    assert_invalid_token(
        &app.get("/api/user", Some(&hs512)).await,
        "not signed by this service",
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    // `exp` is in whole seconds: a 1-second token issued late in a second may be dead before
    // the first read on a loaded machine. With 3 it lives 2 to 3 seconds.
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL_SECS", "3")]).await;
    let token = app
        .register("Ada", &unique_email("expired"), "password-1")
        .await;
    assert_eq!(
        app.get("/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_invalid_token(&app.get("/api/user", Some(&token)).await, "has expired");
}

#[tokio::test]
async fn a_token_whose_session_row_is_gone_is_refused() {
    let app = spawn_app().await;
    let token = app
        .register("Ada", &unique_email("gone"), "password-1")
        .await;
    let jti = claims_of(&token)["jti"].as_str().unwrap().to_owned();
    app.db()
        .await
        .execute_unprepared(&format!("DELETE FROM sessions WHERE jti = '{jti}'"))
        .await
        .unwrap();
    assert_invalid_token(&app.get("/api/user", Some(&token)).await, "no longer valid");
}

#[tokio::test]
async fn passwords_hashes_and_tokens_never_reach_the_log() {
    let app = spawn_app().await;
    let password = format!("secret-{}", comptoir::service::random_hex(8));
    let email = unique_email("quiet");
    let token = app.register("Ada", &email, &password).await;
    app.login(&email, &password).await;
    app.login(&email, "a-wrong-password").await;
    app.get("/api/user", Some(&token)).await;

    let hash: String = {
        use comptoir::db::entities::users;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(&app.db().await)
            .await
            .unwrap()
            .unwrap()
            .password_hash
    };
    let logs = captured_logs();
    assert!(
        logs.contains("account registered"),
        "the log captured nothing"
    );
    assert!(!logs.contains(&password), "the password reached the log");
    assert!(!logs.contains(&hash), "the hash reached the log");
    assert!(!logs.contains(&token), "the token reached the log");
}
