//! The OAuth2 token endpoint: the password grant, RFC 6749's errors beside ours, client
//! authentication, and the login's rate limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, Reply, TestApp, spawn_app, spawn_app_with, unique_email};

const FORM: &str = "application/x-www-form-urlencoded";

/// `pairs` form-encoded, in order (repeats included), as an OAuth2 client sends them.
fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn token(app: &TestApp, pairs: &[(&str, &str)]) -> Reply {
    app.send(
        app.request(Method::POST, "/api/oauth/token")
            .header("content-type", FORM)
            .body(form(pairs)),
    )
    .await
}

async fn password_grant(app: &TestApp, username: &str, password: &str) -> Reply {
    token(
        app,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

/// An RFC 6749 error: its status, `error`, our `code` beside it, and both sentences.
#[track_caller]
fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    let code = if status == 415 {
        "unsupported_media_type"
    } else {
        error
    };
    reply.assert_error(status, code);
    assert_eq!(reply.body["error"], error, "body: {}", reply.body);
    let description = reply.body["error_description"].as_str().unwrap();
    assert!(
        !description.is_empty()
            && description
                .chars()
                .all(|c| c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\'),
        "RFC 6749 allows printable ASCII only: {description:?}"
    );
}

#[tokio::test]
async fn the_password_grant_returns_a_token_that_works_and_must_not_be_cached() {
    let app = spawn_app().await;
    let email = unique_email("oauth");
    app.register("Grace", &email, PASSWORD).await;

    // Any case for the email; `scope`, `client_id` and parameters RFC 6749 does not define
    // are ignored, as an empty `scope` (Swagger UI sends one).
    let reply = token(
        &app,
        &[
            ("grant_type", "password"),
            ("username", &email.to_uppercase()),
            ("password", PASSWORD),
            ("scope", ""),
            ("client_id", "swagger-ui"),
            ("unknown", "1"),
            ("unknown", "2"),
        ],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));
    let access_token = reply.body["access_token"].as_str().unwrap();
    let me = app.get("/api/user", Some(access_token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["email"], email);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_are_the_same_invalid_grant() {
    let app = spawn_app().await;
    let email = unique_email("known");
    app.register("Grace", &email, PASSWORD).await;

    let wrong_password = password_grant(&app, &email, "password-2").await;
    let unknown_email = password_grant(&app, &unique_email("unknown"), PASSWORD).await;
    let not_an_email = password_grant(&app, "grace", PASSWORD).await;

    assert_oauth_error(&wrong_password, 400, "invalid_grant");
    assert_eq!(
        wrong_password.body["message"],
        "These credentials do not match our records."
    );
    assert_eq!(unknown_email.body, wrong_password.body);
    assert_eq!(not_an_email.body, wrong_password.body);
    assert_eq!(unknown_email.status, wrong_password.status);
}

#[tokio::test]
async fn an_unknown_grant_type_is_unsupported() {
    let app = spawn_app().await;
    for grant_type in ["client_credentials", "authorization_code", "PASSWORD"] {
        let reply = token(&app, &[("grant_type", grant_type), ("code", "x")]).await;
        assert_oauth_error(&reply, 400, "unsupported_grant_type");
        assert!(
            reply.body["message"].as_str().unwrap().contains(grant_type),
            "{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn missing_repeated_or_oversized_parameters_are_invalid_requests() {
    let app = spawn_app().await;
    let email = unique_email("params");
    app.register("Grace", &email, PASSWORD).await;
    let too_long = "p".repeat(1025);
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[], "grant_type"),
        (
            &[("username", &email), ("password", PASSWORD)],
            "grant_type",
        ),
        (
            &[("grant_type", "password"), ("password", PASSWORD)],
            "username",
        ),
        (
            &[("grant_type", "password"), ("username", &email)],
            "password",
        ),
        // Sent empty is sent not at all (RFC 6749 §3.1).
        (
            &[
                ("grant_type", "password"),
                ("username", &email),
                ("password", ""),
            ],
            "password",
        ),
        (&[("grant_type", "refresh_token")], "refresh_token"),
        (
            &[
                ("grant_type", "password"),
                ("username", &email),
                ("password", PASSWORD),
                ("password", "password-2"),
            ],
            "password",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", &email),
                ("password", &too_long),
            ],
            "password",
        ),
    ];
    for (pairs, named) in cases {
        let reply = token(&app, pairs).await;
        assert_oauth_error(&reply, 400, "invalid_request");
        assert!(
            reply.body["message"].as_str().unwrap().contains(named),
            "{pairs:?}: {}",
            reply.body
        );
    }
}

/// JSON is the API's language everywhere else, so a JSON body here is a wrong content type
/// (415, as every operation answers one) rather than a 400; its body still carries RFC 6749's
/// `invalid_request` for OAuth2 clients.
#[tokio::test]
async fn a_json_body_or_none_is_an_unsupported_media_type() {
    let app = spawn_app().await;
    let email = unique_email("json");
    app.register("Grace", &email, PASSWORD).await;

    let json_body = app
        .send(
            app.request(Method::POST, "/api/oauth/token")
                .json(&json!({"grant_type": "password", "username": email, "password": PASSWORD})),
        )
        .await;
    assert_oauth_error(&json_body, 415, "invalid_request");
    assert!(
        json_body.body["message"]
            .as_str()
            .unwrap()
            .contains("application/x-www-form-urlencoded")
    );

    let no_content_type = app
        .send(
            app.request(Method::POST, "/api/oauth/token")
                .body(form(&[("grant_type", "password")])),
        )
        .await;
    assert_oauth_error(&no_content_type, 415, "invalid_request");

    // A charset parameter is still a form.
    let with_charset = app
        .send(
            app.request(Method::POST, "/api/oauth/token")
                .header("content-type", format!("{FORM}; charset=UTF-8"))
                .body(form(&[
                    ("grant_type", "password"),
                    ("username", &email),
                    ("password", PASSWORD),
                ])),
        )
        .await;
    assert_eq!(with_charset.status, StatusCode::OK, "{}", with_charset.body);
}

#[tokio::test]
async fn a_client_secret_is_refused_but_a_client_id_alone_is_welcome() {
    let app = spawn_app().await;
    let email = unique_email("client");
    app.register("Grace", &email, PASSWORD).await;
    let grant = [
        ("grant_type", "password"),
        ("username", email.as_str()),
        ("password", PASSWORD),
    ];
    let with_basic = |user: &str, secret: Option<&str>| {
        app.request(Method::POST, "/api/oauth/token")
            .header("content-type", FORM)
            .basic_auth(user, secret)
            .body(form(&grant))
    };

    let secret_in_body = token(
        &app,
        &[
            grant.as_slice(),
            &[("client_id", "app"), ("client_secret", "s3cret")],
        ]
        .concat(),
    )
    .await;
    assert_oauth_error(&secret_in_body, 401, "invalid_client");
    assert_eq!(
        secret_in_body.header("www-authenticate"),
        Some("Basic realm=\"Comptoir\"")
    );

    let secret_in_basic = app.send(with_basic("app", Some("s3cret"))).await;
    assert_oauth_error(&secret_in_basic, 401, "invalid_client");
    assert_eq!(
        secret_in_basic.header("www-authenticate"),
        Some("Basic realm=\"Comptoir\"")
    );

    let unreadable = app
        .send(
            app.request(Method::POST, "/api/oauth/token")
                .header("content-type", FORM)
                .header("authorization", "Basic !!!")
                .body(form(&grant)),
        )
        .await;
    assert_oauth_error(&unreadable, 401, "invalid_client");

    // requests-oauthlib sends `client_id:` and Swagger UI `:`, both with an empty password.
    for user in ["app", ""] {
        let reply = app.send(with_basic(user, Some(""))).await;
        assert_eq!(reply.status, StatusCode::OK, "{user:?}: {}", reply.body);
    }
    // A bearer token sent out of habit is no client authentication: ignored.
    let bearer = app
        .send(
            app.request(Method::POST, "/api/oauth/token")
                .header("content-type", FORM)
                .bearer_auth("some-token")
                .body(form(&grant)),
        )
        .await;
    assert_eq!(bearer.status, StatusCode::OK, "{}", bearer.body);
}

#[tokio::test]
async fn the_password_grant_shares_the_login_rate_limits() {
    let app = spawn_app_with(&[("RATE_LIMIT_LOGIN", "3/2")]).await;
    let email = unique_email("limited");
    app.register("Grace", &email, PASSWORD).await;

    // One right password clears the count, as a login does.
    for _ in 0..2 {
        assert_oauth_error(
            &password_grant(&app, &email, "wrong").await,
            400,
            "invalid_grant",
        );
    }
    let signed_in = password_grant(&app, &email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);

    // Wrong guesses through either door count against the same limit.
    for _ in 0..2 {
        assert_oauth_error(
            &password_grant(&app, &email, "wrong").await,
            400,
            "invalid_grant",
        );
    }
    app.login(&email, "wrong")
        .await
        .assert_error(422, "validation_failed");
    let limited = password_grant(&app, &email.to_uppercase(), PASSWORD).await;
    limited.assert_error(429, "too_many_requests");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    app.login(&email, PASSWORD)
        .await
        .assert_error(429, "too_many_requests");

    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let later = password_grant(&app, &email, PASSWORD).await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);
}

#[tokio::test]
async fn the_message_speaks_french_while_error_stays_the_rfc_code() {
    let app = spawn_app().await;
    let email = unique_email("francais");
    app.register("Grace", &email, PASSWORD).await;
    let in_french = |pairs: &[(&str, &str)]| {
        app.request(Method::POST, "/api/oauth/token")
            .header("content-type", FORM)
            .header("accept-language", "fr-CA, fr;q=0.9")
            .body(form(pairs))
    };

    let wrong = app
        .send(in_french(&[
            ("grant_type", "password"),
            ("username", &email),
            ("password", "wrong"),
        ]))
        .await;
    assert_oauth_error(&wrong, 400, "invalid_grant");
    assert_eq!(
        wrong.body["message"],
        "Les identifiants fournis sont incorrects."
    );
    assert_eq!(
        wrong.body["error_description"],
        "These credentials do not match our records."
    );
    assert_eq!(wrong.header("content-language"), Some("fr"));

    let missing = app.send(in_french(&[("grant_type", "password")])).await;
    assert_oauth_error(&missing, 400, "invalid_request");
    assert_eq!(
        missing.body["message"],
        "Le paramètre username est obligatoire."
    );
    assert_eq!(
        missing.body["error_description"],
        "The username parameter is required."
    );
}

#[tokio::test]
async fn the_refresh_token_grant_rotates_as_the_refresh_endpoint_does() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE_SECS", "0")]).await;
    let email = unique_email("oauth-refresh");
    app.register("Ada", &email, PASSWORD).await;
    let signed_in = password_grant(&app, &email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let first = signed_in.body["refresh_token"].as_str().unwrap().to_owned();

    let refreshed = token(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.header("cache-control"), Some("no-store"));
    let second = refreshed.body["refresh_token"].as_str().unwrap();
    assert_ne!(second, first);
    let access = refreshed.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/user", Some(access)).await.status,
        StatusCode::OK
    );
    // The same session, still current: the registration's and this one.
    let sessions = app.get("/api/sessions", Some(access)).await;
    let sessions = sessions.body["data"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["current"], true);

    // Spent, and past the (zero-second) grace window: a theft signal, the session ends.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let replayed = token(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    replayed.assert_error(400, "refresh_token_reused");
    assert_eq!(replayed.body["error"], "invalid_grant");
    app.get("/api/user", Some(access))
        .await
        .assert_error(401, "unauthenticated");

    let unknown = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "0123abcd"),
        ],
    )
    .await;
    unknown.assert_error(400, "invalid_refresh_token");
    assert_eq!(unknown.body["error"], "invalid_grant");
    assert_oauth_error(
        &token(&app, &[("grant_type", "refresh_token")]).await,
        400,
        "invalid_request",
    );
}
