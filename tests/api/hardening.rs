//! HTTP hardening: security headers on every kind of response, a strict CSP on the HTML
//! pages, CORS by allow-list, size and time limits, and JWT key rotation.

use std::time::Duration;

use base64::Engine;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::helpers::{spawn_app, spawn_app_with, unique_email};

const OLD_SECRET: &str = "the-old-secret-that-is-at-least-32-bytes";
const NEW_SECRET: &str = "the-new-secret-that-is-at-least-32-bytes";

#[tokio::test]
async fn a_token_signed_with_the_previous_secret_works_during_a_rotation() {
    let before = spawn_app_with(&[("JWT_SECRET", OLD_SECRET)]).await;
    let old_token = before
        .register("Ada", &unique_email("rotated"), "password-1")
        .await;

    let during = before
        .sibling_with(&[
            ("JWT_SECRET", NEW_SECRET),
            ("JWT_SECRET_PREVIOUS", OLD_SECRET),
        ])
        .await;
    assert_eq!(
        during.get("/api/user", Some(&old_token)).await.status,
        StatusCode::OK
    );
    let new_token = during
        .register("Grace", &unique_email("rotated"), "password-1")
        .await;
    assert_ne!(
        jsonwebtoken::decode_header(&old_token).unwrap().kid,
        jsonwebtoken::decode_header(&new_token).unwrap().kid,
        "tokens name the key that signed them"
    );

    let after = before.sibling_with(&[("JWT_SECRET", NEW_SECRET)]).await;
    after
        .get("/api/user", Some(&old_token))
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(
        after.get("/api/user", Some(&new_token)).await.status,
        StatusCode::OK
    );

    let stranger = before
        .sibling_with(&[("JWT_SECRET", "an-unknown-secret-that-is-32-bytes-long")])
        .await;
    stranger
        .get("/api/user", Some(&new_token))
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let token = app
        .register("Ada", &unique_email("headers"), "password-1")
        .await;
    for (path, token, status) in [
        ("/api/user", Some(token.as_str()), 200),
        ("/api/user", None, 401),
        ("/api/nothing", None, 404),
        ("/openapi.json", None, 200),
        ("/docs", None, 200),
        ("/health", None, 200),
        // A link that does not work says so at once.
        ("/reset-password?token=x&email=ada%40example.com", None, 410),
    ] {
        let reply = app.get(path, token).await;
        assert_eq!(reply.status.as_u16(), status, "{path}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert!(reply.header("x-request-id").is_some(), "{path}");
        if path.starts_with("/api/") || path.starts_with("/reset-password") {
            assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        }
    }
}

/// The hashes of the inline scripts and styles, read as a browser reads raw text: in document
/// order, each body ending at its first closing tag.
fn inline_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    loop {
        let next = ["script", "style"]
            .into_iter()
            .filter_map(|tag| rest.find(&format!("<{tag}")).map(|at| (at, tag)))
            .min();
        let Some((start, tag)) = next else { break };
        let close = format!("</{tag}>");
        let body_start = start + rest[start..].find('>').unwrap() + 1;
        let body_end = body_start + rest[body_start..].find(&close).unwrap();
        let digest = Sha256::digest(&rest.as_bytes()[body_start..body_end]);
        hashes.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &rest[body_end + close.len()..];
    }
    assert!(!hashes.is_empty(), "no inline block found");
    hashes
}

#[tokio::test]
async fn the_html_pages_have_a_strict_csp_that_names_their_inline_code() {
    let app = spawn_app().await;
    for path in ["/docs", "/reset-password?token=x&email=ada%40example.com"] {
        let response = app.request(Method::GET, path).send().await.unwrap();
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let html = response.text().await.unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"),
            "{csp}"
        );
        for hash in inline_hashes(&html) {
            assert!(
                csp.contains(hash.as_str()),
                "{path}: {hash} missing from {csp}"
            );
        }
    }
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_listed() {
    let app = spawn_app().await;
    let preflight = app
        .request(Method::OPTIONS, "/api/orders")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn cors_preflights_are_answered_for_listed_origins_only() {
    let app = spawn_app_with(&[(
        "CORS_ORIGINS",
        "https://shop.example, https://admin.shop.example",
    )])
    .await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/api/orders")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(
        allowed.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        allowed.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );

    let refused = preflight("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let listed = app
        .request(Method::GET, "/api/user")
        .header("origin", "https://admin.shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.headers()["access-control-allow-origin"],
        "https://admin.shop.example"
    );
    assert!(
        listed.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );
    let unlisted = app
        .request(Method::GET, "/api/user")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        unlisted
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn oversized_uris_and_headers_are_refused() {
    let app = spawn_app().await;
    let long = format!("/api/orders?q={}", "x".repeat(9000));
    app.get(&long, None).await.assert_error(414, "uri_too_long");

    let mut request = app.request(Method::GET, "/api/user");
    for n in 0..5 {
        request = request.header(format!("x-padding-{n}"), "y".repeat(8000));
    }
    app.send(request)
        .await
        .assert_error(431, "headers_too_large");
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_abandoned_with_a_503() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT_SECS", "1")]).await;
    // A body that trickles in: a byte every 300 ms.
    let trickle = futures_util::stream::unfold(0, |sent| async move {
        if sent >= 20 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((Ok::<_, std::io::Error>(vec![b' ']), sent + 1))
    });
    let reply = app
        .send(
            app.request(Method::POST, "/api/login")
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(trickle)),
        )
        .await;
    reply.assert_error(503, "request_timeout");
}
