//! The database goes away and comes back: requests get a quick 503, `/health` says so, and
//! the service recovers by itself. PostgreSQL only: an embedded SQLite file cannot go away.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::{
    helpers::{TestDatabase, spawn_app_with, unique_email},
    proxy::Proxy,
};

#[tokio::test]
#[ignore = "needs PostgreSQL: make test-postgres runs it"]
async fn without_its_database_the_service_answers_503_and_recovers_by_itself() {
    let database = TestDatabase::create().await;
    assert!(
        database.is_postgres(),
        "this test needs TEST_DATABASE_URL=postgres://… (make test-postgres)"
    );
    let proxy = Proxy::start(database.server_address()).await;
    let url = database.url_through(&proxy.address);
    let app = spawn_app_with(&[
        ("DATABASE_URL", url.as_str()),
        ("DB_CONNECT_TIMEOUT_SECS", "1"),
        ("DB_ACQUIRE_TIMEOUT_SECS", "1"),
    ])
    .await;
    let token = app
        .register("Ada", &unique_email("outage"), "password-1")
        .await;
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);

    proxy.cut();
    let started = Instant::now();
    let reply = app.get("/api/orders", Some(&token)).await;
    reply.assert_error(503, "service_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered in {:?}",
        started.elapsed()
    );
    let health = app.get("/health", None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.body["database"], "unavailable");
    app.login("nobody@example.com", "password-1")
        .await
        .assert_error(503, "service_unavailable");

    proxy.restore();
    let mut recovered = false;
    for _ in 0..50 {
        if app.get("/health", None).await.status == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "/health never recovered");
    assert_eq!(
        app.get("/api/orders", Some(&token)).await.status,
        StatusCode::OK
    );
}
