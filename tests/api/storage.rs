//! SQLite's files changed under a running server: deleted, replaced, truncated, frozen. Writes
//! are refused with a 503 instead of being acknowledged and lost, `/health` says so, and a
//! truncated `-shm` no longer kills the process. SQLite only: PostgreSQL has no such files.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    JWT_SECRET, TestApp, TestDatabase, captured_logs, item, spawn_app, test_config, unique_email,
};

/// The app's SQLite file, or `None` (the test is skipped) on PostgreSQL.
fn sqlite_file(app: &TestApp) -> Option<PathBuf> {
    let database = app.database.as_ref()?;
    if database.is_postgres() {
        eprintln!("skipped: SQLite only");
        return None;
    }
    let url = database.url.strip_prefix("sqlite://")?;
    Some(PathBuf::from(url.split('?').next()?))
}

fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut path = file.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// Writes and reads get `storage_unavailable`, `/health` a 503 naming the database, and the
/// log names `problem`.
async fn assert_refused(app: &TestApp, token: &str, problem: &str) {
    // The guard repeats a check that passed only after a millisecond.
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.post(
        "/api/orders",
        Some(token),
        json!({"items": [item("Tea", 1, 450)]}),
    )
    .await
    .assert_error(503, "storage_unavailable");
    app.get("/api/orders", Some(token))
        .await
        .assert_error(503, "storage_unavailable");
    let health = app.get("/health", None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.body["database"], "unavailable");
    assert!(captured_logs().contains(problem), "no log names {problem}");
}

#[tokio::test]
async fn deleting_the_database_file_while_serving_refuses_writes_and_fails_health() {
    let app = spawn_app().await;
    let Some(file) = sqlite_file(&app) else {
        return;
    };
    let token = app
        .register("Ada", &unique_email("deleted"), "password-1")
        .await;

    std::fs::remove_file(&file).unwrap();

    assert_refused(&app, &token, &format!("{} was deleted", file.display())).await;
}

#[tokio::test]
async fn replacing_the_wal_file_while_serving_refuses_writes_and_fails_health() {
    let app = spawn_app().await;
    let Some(file) = sqlite_file(&app) else {
        return;
    };
    let token = app
        .register("Ada", &unique_email("wal"), "password-1")
        .await;
    let wal = sibling(&file, "-wal");

    // Root ignores permissions; a directory in its place is unwritable for anyone.
    std::fs::remove_file(&wal).unwrap();
    std::fs::create_dir(&wal).unwrap();

    assert_refused(
        &app,
        &token,
        &format!("{} was replaced by another file", wal.display()),
    )
    .await;
}

/// Clears `chattr +i` when dropped, so that the temporary folder can be removed.
struct Thaw(PathBuf);

impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[tokio::test]
async fn an_immutable_wal_file_refuses_writes_and_fails_health() {
    let app = spawn_app().await;
    let Some(file) = sqlite_file(&app) else {
        return;
    };
    let token = app
        .register("Ada", &unique_email("frozen"), "password-1")
        .await;
    let wal = sibling(&file, "-wal");

    // `chattr +i` stops root too; it needs a file system that has the flag (not tmpfs).
    let frozen = Command::new("chattr").arg("+i").arg(&wal).output();
    if !frozen.is_ok_and(|output| output.status.success()) {
        eprintln!("skipped: chattr +i is not available here");
        return;
    }
    let _thaw = Thaw(wal.clone());

    assert_refused(
        &app,
        &token,
        &format!("{} was made immutable", wal.display()),
    )
    .await;
}

#[tokio::test]
async fn a_database_file_gone_with_its_wal_left_behind_stops_start_up() {
    let app = spawn_app().await;
    let Some(file) = sqlite_file(&app) else {
        return;
    };
    app.register("Ada", &unique_email("restart"), "password-1")
        .await;

    std::fs::remove_file(&file).unwrap();

    // A restart would otherwise create an empty database and serve it as if nothing happened.
    let error = comptoir::startup::Application::build(&app.config)
        .await
        .err()
        .expect("start-up is refused");
    assert!(format!("{error:#}").contains("is missing but"), "{error:#}");
    assert!(!file.exists(), "no empty database was created");
}

/// The real binary, serving on port 0, its log lines gathered as they come.
struct Server {
    child: Child,
    address: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_comptoir"))
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("JWT_SECRET", JWT_SECRET)
            .env("BCRYPT_COST", "4")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let address = loop {
            let line = lines.next().expect("the server starts").unwrap();
            log.lock().unwrap().push_str(&line);
            if let Some((_, rest)) = line.split_once("address=") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        let gathered = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = gathered.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self {
            child,
            address: format!("http://{address}"),
            log,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn truncating_the_shm_file_under_a_running_server_gets_503s_instead_of_a_crash() {
    let database = TestDatabase::create().await;
    if database.is_postgres() {
        eprintln!("skipped: SQLite only");
        return;
    }
    // A SIGBUS would kill this whole test binary: the server runs as a process of its own.
    let mut server = Server::start(&database.url);
    let app = TestApp {
        address: server.address.clone(),
        metrics_address: None,
        config: test_config(&database.url, &[]),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        database: None,
    };
    let token = app
        .register("Ada", &unique_email("shm"), "password-1")
        .await;
    let file = database.url["sqlite://".len()..].split('?').next().unwrap();
    let shm = sibling(Path::new(file), "-shm");

    std::fs::OpenOptions::new()
        .write(true)
        .open(&shm)
        .unwrap()
        .set_len(0)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;

    let write = app
        .client
        .post(format!("{}/api/orders", app.address))
        .bearer_auth(&token)
        .json(&json!({"items": [item("Tea", 1, 450)]}))
        .send()
        .await;
    let status = server.child.try_wait().unwrap();
    assert!(status.is_none(), "the server died: {status:?}");
    assert_eq!(write.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    app.get("/api/orders", Some(&token))
        .await
        .assert_error(503, "storage_unavailable");
    let health = app.get("/health", None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.body["database"], "unavailable");

    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains(&format!("{} was truncated", shm.display())),
        "{log}"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
}
