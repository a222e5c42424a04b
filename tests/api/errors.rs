//! One JSON error body everywhere: from handlers and from the framework alike.

use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{captured_logs, spawn_app, unique_email};

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let reply = app
        .send(
            app.request(Method::POST, "/api/login")
                .header("content-type", "application/json")
                .body("{\"email\": "),
        )
        .await;
    reply.assert_error(400, "malformed_json");
}

#[tokio::test]
async fn only_a_body_of_zero_bytes_is_empty_and_whitespace_alone_is_malformed() {
    let app = spawn_app().await;
    let (id, token) = app.user_token("Ada").await;
    let patch = |body: &'static str| {
        app.request(Method::PATCH, &format!("/api/users/{id}"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
    };
    // Zero bytes: a PATCH that changes nothing.
    let empty = app.send(patch("")).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    // Whitespace alone is no JSON document (schemathesis found "\n" accepted), nor is a form
    // feed, which is not even JSON whitespace.
    for body in ["\n", " \t\r\n", "\x0c"] {
        let reply = app.send(patch(body)).await;
        reply.assert_error(400, "malformed_json");
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_a_422() {
    let app = spawn_app().await;
    let reply = app
        .post("/api/login", None, json!(["ada@example.com"]))
        .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["body"]);
}

#[tokio::test]
async fn a_wrong_or_missing_content_type_is_a_415() {
    let app = spawn_app().await;
    let body = r#"{"email": "ada@example.com", "password": "password-1"}"#;
    let reply = app
        .send(
            app.request(Method::POST, "/api/login")
                .header("content-type", "text/plain")
                .body(body),
        )
        .await;
    reply.assert_error(415, "unsupported_media_type");
    let reply = app
        .send(app.request(Method::POST, "/api/login").body(body))
        .await;
    reply.assert_error(415, "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_a_413() {
    let app = spawn_app().await;
    let name = "x".repeat(1024 * 1024);
    let reply = app
        .post(
            "/api/register",
            None,
            json!({"name": name, "email": unique_email("big"), "password": "password-1"}),
        )
        .await;
    reply.assert_error(413, "payload_too_large");

    // Without a Content-Length, the limit holds while reading.
    let chunks = futures_chunks(1100);
    let reply = app
        .send(
            app.request(Method::POST, "/api/register")
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(chunks)),
        )
        .await;
    reply.assert_error(413, "payload_too_large");
}

/// A streamed body of `kib` KiB of spaces, sent chunked.
fn futures_chunks(kib: usize) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::iter((0..kib).map(|_| Ok(vec![b' '; 1024])))
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    app.get("/api/nothing-here", None)
        .await
        .assert_error(404, "not_found");
    app.get("/nothing-here", None)
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_with_allow() {
    let app = spawn_app().await;
    let reply = app.call(Method::DELETE, "/api/login", None, None).await;
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = app.call(Method::PUT, "/api/user", None, None).await;
    assert_eq!(reply.header("allow"), Some("GET"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let generated = app.get("/health", None).await;
    let id = generated.header("x-request-id").unwrap();
    assert_eq!(id.len(), 32);

    let echoed = app
        .send(
            app.request(Method::GET, "/api/user")
                .header("x-request-id", "client-42"),
        )
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("client-42"));

    let replaced = app
        .send(
            app.request(Method::GET, "/nowhere")
                .header("x-request-id", "bad id\twith spaces"),
        )
        .await;
    assert_ne!(replaced.header("x-request-id"), Some("bad id\twith spaces"));
    assert_eq!(replaced.header("x-request-id").unwrap().len(), 32);
}

#[tokio::test]
async fn an_unexpected_failure_is_a_500_that_tells_nothing_and_logs_the_cause() {
    let app = spawn_app().await;
    // Refresh tokens first: on PostgreSQL their foreign key holds `sessions` up.
    app.db()
        .await
        .execute_unprepared("DROP TABLE refresh_tokens; DROP TABLE sessions")
        .await
        .unwrap();
    let reply = app
        .send(
            app.request(Method::POST, "/api/register")
                .header("x-request-id", "boom-1234")
                .json(&json!({"name": "Ada", "email": unique_email("boom"), "password": "password-1"})),
        )
        .await;
    reply.assert_error(500, "internal_error");
    let text = reply.body.to_string();
    assert!(
        !text.contains("sessions") && !text.to_lowercase().contains("sql"),
        "{text}"
    );

    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|line| line.contains("boom-1234") && line.contains("\"unexpected error\""))
        .expect("the failure is logged with its request id");
    assert!(
        line.contains("sessions"),
        "the cause chain is in the log: {line}"
    );
}

#[tokio::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let reply = app.get("/health", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"status": "ok", "database": "ok"}));
}

#[tokio::test]
async fn text_fields_refuse_blanks_control_characters_and_nul() {
    let app = spawn_app().await;
    for name in ["   ", "Ada\u{0007}", "Ada\u{0085}"] {
        let reply = app
            .post(
                "/api/register",
                None,
                json!({"name": name, "email": unique_email("text"), "password": "password-1"}),
            )
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), ["name"], "{name:?}");
    }
    let token = app
        .register("Ada", &unique_email("text"), "password-1")
        .await;
    for (body, field) in [
        (
            json!({"items": [{"product": " ", "quantity": 1, "unit_price_cents": 1}]}),
            "items.0.product",
        ),
        (
            json!({"items": [{"product": "tea\u{009b}", "quantity": 1, "unit_price_cents": 1}]}),
            "items.0.product",
        ),
        (
            json!({"items": [{"product": "tea", "quantity": 1, "unit_price_cents": 1}], "notes": "a\u{0000}b"}),
            "notes",
        ),
    ] {
        let reply = app.post("/api/orders", Some(&token), body).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field]);
    }
    // Line breaks and accents are fine in notes.
    let reply = app
        .post("/api/orders", Some(&token), json!({"items": [{"product": "Thé vert", "quantity": 1, "unit_price_cents": 1}], "notes": "Sonnez\ndeux fois"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

#[tokio::test]
async fn a_query_parameter_out_of_its_schema_is_a_422_naming_it() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    for (query, field) in [
        ("q=a%00b", "q"),
        ("sort=shoe_size", "sort"),
        ("per_page=0", "per_page"),
        ("role=king", "role"),
    ] {
        let reply = app.get(&format!("/api/users?{query}"), Some(&admin)).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{query}");
    }
}

#[tokio::test]
async fn the_log_names_a_request_by_the_route_template_of_the_spec() {
    let app = spawn_app().await;
    let (_, token) = app.user_token("Ada").await;
    let request_id = format!("route-{}", comptoir::service::random_hex(6));
    let reply = app
        .send(
            app.request(Method::GET, "/api/orders/987654")
                .bearer_auth(&token)
                .header("x-request-id", &request_id),
        )
        .await;
    reply.assert_error(404, "not_found");
    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|line| line.contains(&request_id) && line.contains("request finished"))
        .expect("the request is logged");
    let entry: serde_json::Value = serde_json::from_str(line).unwrap();
    let route = entry["span"]["route"]
        .as_str()
        .or_else(|| entry["route"].as_str())
        .unwrap_or_else(|| panic!("no route in {line}"));
    assert_eq!(route, "/api/orders/{id}");
}
