//! `comptoir backup PATH`: a consistent copy of a SQLite database taken while a server writes
//! to it; it never overwrites, and on PostgreSQL it points at `pg_dump`.

use std::{
    path::Path,
    process::{Command, Output, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{spawn_app, unique_email};

fn backup(database_url: &str, path: &Path) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_comptoir"))
        .arg("backup")
        .arg(path)
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_backup_taken_while_orders_are_written_passes_integrity_check_and_holds_every_committed_order()
 {
    let app = spawn_app().await;
    if app.database.as_ref().unwrap().is_postgres() {
        eprintln!("skipped: SQLite only (PostgreSQL is backed up with pg_dump)");
        return;
    }
    let token = app
        .register("Ada", &unique_email("backup"), "password-1")
        .await;

    // Two writers make orders until told to stop; each id is kept once its 201 is in.
    let committed = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let app = Arc::new(app);
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (app, token, committed, stop) =
                (app.clone(), token.clone(), committed.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let id = app.simple_order(&token).await;
                    committed.lock().unwrap().push(id);
                }
            })
        })
        .collect();
    while committed.lock().unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let before: Vec<i64> = committed.lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let url = app.config.database.url.expose().clone();
    let output = {
        let copy = copy.clone();
        tokio::task::spawn_blocking(move || backup(&url, &copy))
            .await
            .unwrap()
    };
    let written_during = committed.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("copy.db"),
        "it says where the copy went"
    );
    eprintln!(
        "{} orders before the backup, {written_during} while it ran",
        before.len()
    );

    let copy_db = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    let check = copy_db
        .query_one_raw(Statement::from_string(
            copy_db.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(check.try_get_by_index::<String>(0).unwrap(), "ok");
    let rows = copy_db
        .query_all_raw(Statement::from_string(
            copy_db.get_database_backend(),
            "SELECT id FROM orders",
        ))
        .await
        .unwrap();
    let ids: Vec<i64> = rows
        .iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect();
    let lost: Vec<&i64> = before.iter().filter(|id| !ids.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "orders committed before the backup are missing: {lost:?}"
    );
    // Every order in the copy has all of its items: no half-written order.
    let orphans = copy_db
        .query_one_raw(Statement::from_string(
            copy_db.get_database_backend(),
            "SELECT COUNT(*) FROM orders WHERE id NOT IN (SELECT order_id FROM order_items)",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(orphans.try_get_by_index::<i64>(0).unwrap(), 0);
}

#[test]
fn backup_refuses_to_overwrite_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("comptoir.db");
    // A real database to copy, so that only the existing target can be the reason.
    let migrate = Command::new(env!("CARGO_BIN_EXE_comptoir"))
        .arg("migrate")
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", source.display()),
        )
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    let target = dir.path().join("yesterday.db");
    std::fs::write(&target, "yesterday's backup").unwrap();

    let output = backup(&format!("sqlite://{}", source.display()), &target);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("already exists"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "yesterday's backup"
    );
}

#[test]
fn backup_of_a_missing_database_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("nothing-here.db");
    let target = dir.path().join("copy.db");

    let output = backup(&format!("sqlite://{}?mode=rwc", source.display()), &target);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("there is no database at"),
        "{}",
        stderr(&output)
    );
    assert!(!source.exists() && !target.exists());
}

#[test]
fn backup_on_postgresql_says_to_use_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.db");
    // Never connected to: the URL alone says PostgreSQL.
    let output = backup("postgres://postgres@127.0.0.1:1/comptoir", &target);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("pg_dump"), "{}", stderr(&output));
    assert!(!target.exists());
}
