//! `/health/live` and `/health/ready`: liveness touches nothing; readiness follows the database
//! (answering and migrated) and the shutdown, and reports Redis without failing on it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::{
    helpers::{TestApp, TestDatabase, spawn_app, spawn_app_with, unique_email},
    proxy::Proxy,
};

/// A port nothing listens on: bound, then let go.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_ready_status(app: &TestApp, status: StatusCode) -> bool {
    for _ in 0..50 {
        if app.get("/health/ready", None).await.status == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn liveness_is_200_and_readiness_names_a_migrated_database_without_redis() {
    let app = spawn_app().await;

    let live = app.get("/health/live", None).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.body, json!({"status": "ok"}));

    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body, json!({"status": "ok", "database": "ok"}));

    // `/health` is as it was.
    let health = app.get("/health", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, json!({"status": "ok", "database": "ok"}));
}

#[tokio::test]
async fn a_database_behind_the_latest_migration_is_not_ready() {
    let app = spawn_app().await;
    let db = app.db().await;
    // Forget the newest step, as if this release ran on a database an older one migrated.
    db.execute_unprepared(
        "DELETE FROM seaql_migrations WHERE version = \
         (SELECT MAX(version) FROM seaql_migrations)",
    )
    .await
    .unwrap();

    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        json!({"status": "unavailable", "database": "not_migrated"})
    );
    // The database answers: liveness and `/health` say so.
    assert_eq!(app.get("/health/live", None).await.status, StatusCode::OK);
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn redis_gone_leaves_the_instance_ready_but_degraded() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let app = spawn_app_with(&[("REDIS_URL", url.as_str())]).await;

    let started = Instant::now();
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        json!({"status": "degraded", "database": "ok", "redis": "unavailable"})
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );
    // And it serves.
    app.register("Ada", &unique_email("degraded"), "password-1")
        .await;
}

#[tokio::test]
#[ignore = "needs Redis: make test-postgres runs it"]
async fn redis_answering_is_named_in_readiness() {
    let redis = std::env::var("TEST_REDIS_URL")
        .expect("this test needs TEST_REDIS_URL=redis://127.0.0.1:6379 (make test-postgres)");
    let app = spawn_app_with(&[("REDIS_URL", redis.as_str())]).await;

    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        json!({"status": "ok", "database": "ok", "redis": "ok"})
    );
}

#[tokio::test]
async fn a_deleted_sqlite_file_makes_the_instance_not_ready_while_it_stays_live() {
    let app = spawn_app().await;
    let database = app.database.as_ref().unwrap();
    if database.is_postgres() {
        eprintln!("skipped: SQLite only");
        return;
    }
    let file = database
        .url
        .strip_prefix("sqlite://")
        .and_then(|url| url.split('?').next())
        .unwrap();
    std::fs::remove_file(file).unwrap();
    // The storage guard repeats a check that passed only after a millisecond.
    tokio::time::sleep(Duration::from_millis(10)).await;

    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        json!({"status": "unavailable", "database": "unavailable"})
    );
    assert_eq!(app.get("/health/live", None).await.status, StatusCode::OK);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: make test-postgres runs it"]
async fn readiness_is_503_while_the_database_is_gone_and_200_once_it_is_back() {
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
    assert_eq!(app.get("/health/ready", None).await.status, StatusCode::OK);

    proxy.cut();
    let started = Instant::now();
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        json!({"status": "unavailable", "database": "unavailable"})
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered in {:?}",
        started.elapsed()
    );
    // Liveness touches no database: the process is fine, restarting it would not help.
    assert_eq!(app.get("/health/live", None).await.status, StatusCode::OK);

    proxy.restore();
    assert!(
        wait_for_ready_status(&app, StatusCode::OK).await,
        "/health/ready never recovered"
    );
    assert_eq!(
        app.get("/health/ready", None).await.body,
        json!({"status": "ok", "database": "ok"})
    );
}

/// The real binary: on SIGTERM readiness turns 503 at once, requests are still answered for
/// `SHUTDOWN_DRAIN_SECS`, and then it exits 0 by itself.
#[tokio::test]
async fn on_sigterm_readiness_turns_503_requests_are_served_through_the_drain_then_it_exits_0() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_comptoir"))
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", &database.url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .env("SHUTDOWN_DRAIN_SECS", "2")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("it logs where it serves").unwrap();
        if let Some((_, rest)) = line.split_once("Swagger UI at http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // The rest of the log is drained so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let app = TestApp {
        metrics_address: None,
        address: format!("http://{address}"),
        config: crate::helpers::test_config(&database.url, &[]),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        database: None,
    };
    assert_eq!(app.get("/health/ready", None).await.status, StatusCode::OK);

    let signalled = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(
        wait_for_ready_status(&app, StatusCode::SERVICE_UNAVAILABLE).await,
        "readiness stayed 200 after SIGTERM"
    );
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.body, json!({"status": "draining", "database": "ok"}));
    // Still serving, new connections included.
    app.register("Ada", &unique_email("draining"), "password-1")
        .await;
    assert!(signalled.elapsed() < Duration::from_secs(2));

    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let stopped = signalled.elapsed();
    assert!(
        stopped >= Duration::from_secs(2) && stopped < Duration::from_secs(10),
        "stopped {stopped:?} after SIGTERM"
    );
}
