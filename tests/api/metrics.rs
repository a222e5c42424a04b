//! Prometheus metrics: on a listener of their own, every family present and moving, and the
//! route label bounded by the spec's templates whatever paths are requested. The recorder is
//! the process's, shared by every app of this test binary: the tests compare two scrapes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::helpers::{TestApp, captured_logs, spawn_app, spawn_app_with, unique_email};

async fn metrics_app(overrides: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("METRICS_BIND_ADDR", "127.0.0.1:0")];
    all.extend_from_slice(overrides);
    spawn_app_with(&all).await
}

/// One scrape: each sample's value, by its name and labels as written (`name{a="b"}`).
async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let address = app.metrics_address.as_ref().expect("metrics are on");
    let reply = app
        .client
        .get(format!("{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(
        reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = reply.text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn each_family_is_present_and_moves_after_requests() {
    let app = metrics_app(&[("RATE_LIMIT_REGISTER", "1/60")]).await;
    let before = scrape(&app).await;

    let token = app
        .register("Ada", &unique_email("metrics"), "password-1")
        .await;
    // Two reads of our own at least: the recorder is the process's, and other tests' servers
    // move the cache's counters too, so the loop below may stop at its first turn.
    app.get("/api/user", Some(&token)).await.assert_status(200);
    // On PostgreSQL the cache answers only once its listener is connected: ask until it has.
    for _ in 0..100 {
        app.get("/api/user", Some(&token)).await.assert_status(200);
        let now = scrape(&app).await;
        if value(&now, "comptoir_session_cache_hits_total")
            - value(&before, "comptoir_session_cache_hits_total")
            >= 2.0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.get("/api/orders/123456789", Some(&token))
        .await
        .assert_status(404);
    // A second registration from this address: the register limit refuses it.
    app.post(
        "/api/register",
        None,
        json!({"name": "Bo", "email": unique_email("metrics"), "password": "password-1"}),
    )
    .await
    .assert_error(429, "too_many_requests");

    let after = scrape(&app).await;
    let moved = |series: &str| value(&after, series) - value(&before, series);
    assert!(
        moved(r#"comptoir_http_requests_total{route="/api/user",method="GET",status="200"}"#)
            >= 2.0
    );
    assert!(
        moved(
            r#"comptoir_http_requests_total{route="/api/orders/{id}",method="GET",status="404"}"#
        ) >= 1.0
    );
    assert!(
        moved(r#"comptoir_http_request_duration_seconds_count{route="/api/user",method="GET"}"#)
            >= 2.0
    );
    assert!(
        moved(
            r#"comptoir_http_request_duration_seconds_bucket{route="/api/user",method="GET",le="+Inf"}"#
        ) >= 2.0
    );
    // The first lookup of the new session misses, the next ones hit.
    assert!(moved("comptoir_session_cache_hits_total") >= 2.0);
    assert!(moved("comptoir_session_cache_misses_total") >= 1.0);
    assert!(moved(r#"comptoir_rate_limited_total{limit="register"}"#) >= 1.0);
    // The gauges are read at each scrape.
    assert!(after.contains_key("comptoir_bcrypt_queue_depth"));
    let pool = value(&after, r#"comptoir_db_pool_connections{state="in_use"}"#)
        + value(&after, r#"comptoir_db_pool_connections{state="idle"}"#);
    assert!(pool >= 1.0, "{after:?}");
}

#[tokio::test]
async fn metrics_are_not_served_on_the_api_port_and_are_off_by_default() {
    let app = metrics_app(&[]).await;
    app.get("/metrics", None)
        .await
        .assert_error(404, "not_found");
    let plain = spawn_app().await;
    assert!(plain.metrics_address.is_none());
}

#[tokio::test]
async fn a_flood_of_random_paths_adds_no_series() {
    let app = metrics_app(&[]).await;
    let token = app
        .register("Ada", &unique_email("flood"), "password-1")
        .await;
    for i in 0..50 {
        let id = 900_000_000 + i * 7_919;
        app.get(&format!("/api/orders/{id}"), Some(&token)).await;
        app.get(&format!("/api/no-such-thing-{id}/{id}"), None)
            .await;
        app.get(&format!("/api/products/{id}?sort=x{id}"), None)
            .await;
    }
    let spec = app.get("/openapi.json", None).await;
    let mut known: BTreeSet<String> = spec.body["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for page in [
        "/",
        "/docs",
        "/openapi.json",
        "/openapi.yaml",
        "/reset-password",
        "/reset-password/new-link",
        "/verify-email",
        "unmatched",
    ] {
        known.insert(page.to_owned());
    }
    let samples = scrape(&app).await;
    let routes: BTreeSet<&str> = samples
        .keys()
        .filter(|series| series.starts_with("comptoir_http_requests_total{"))
        .map(|series| {
            let start = series.find("route=\"").unwrap() + "route=\"".len();
            let end = start + series[start..].find('"').unwrap();
            &series[start..end]
        })
        .collect();
    assert!(routes.contains("/api/orders/{id}") && routes.contains("unmatched"));
    for route in &routes {
        assert!(known.contains(*route), "an unbounded route label: {route}");
    }
}

#[tokio::test]
async fn a_traceparent_is_logged_with_the_request_id() {
    let app = spawn_app().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let reply = app
        .send(
            app.request(reqwest::Method::GET, "/health")
                .header("x-request-id", "traced-request-1")
                .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01")),
        )
        .await;
    reply.assert_status(200);
    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|line| line.contains("traced-request-1") && line.contains("request finished"))
        .expect("the request is logged");
    assert!(line.contains(trace_id), "{line}");

    // A malformed one (an all-zero trace id) is ignored, and the request served all the same.
    let reply = app
        .send(
            app.request(reqwest::Method::GET, "/health")
                .header("x-request-id", "traced-request-2")
                .header(
                    "traceparent",
                    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                ),
        )
        .await;
    reply.assert_status(200);
    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|line| line.contains("traced-request-2") && line.contains("request finished"))
        .unwrap();
    assert!(!line.contains("trace_id"), "{line}");
}
