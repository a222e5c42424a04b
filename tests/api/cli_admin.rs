//! `comptoir create-admin`: the only way to make the first admin.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{PASSWORD, TestDatabase, spawn_app_on};

const BINARY: &str = env!("CARGO_BIN_EXE_comptoir");

/// A fresh database of the engine under test, migrated by `comptoir migrate`.
struct Database {
    url: String,
    _database: TestDatabase,
}

impl Database {
    async fn new() -> Self {
        let database = TestDatabase::create().await;
        let url = database.url.clone();
        let output = run(vec!["migrate".into()], env(&url), None).await;
        assert!(output.status.success(), "{}", text(&output.stderr));
        Self {
            url,
            _database: database,
        }
    }

    /// Runs `create-admin` on this database, the password on standard input when given.
    async fn create_admin(&self, email: &str, name: &str, stdin: Option<&str>) -> Output {
        self.create_admin_with(email, name, stdin, &[]).await
    }

    async fn create_admin_with(
        &self,
        email: &str,
        name: &str,
        stdin: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Output {
        let args = vec![
            "create-admin".to_owned(),
            "--email".to_owned(),
            email.to_owned(),
            "--name".to_owned(),
            name.to_owned(),
        ];
        let mut vars = env(&self.url);
        vars.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        run(args, vars, stdin.map(str::to_owned)).await
    }

    /// Whether a user with this email exists, and whether they are an admin.
    async fn role_of(&self, email: &str) -> Option<String> {
        use comptoir::db::entities::users;
        let db = sea_orm::Database::connect(self.url.as_str()).await.unwrap();
        users::Entity::find()
            .filter(users::Column::Email.eq(email))
            .one(&db)
            .await
            .unwrap()
            .map(|user| user.role)
    }
}

fn env(url: &str) -> Vec<(String, String)> {
    vec![
        ("DATABASE_URL".into(), url.into()),
        ("BCRYPT_COST".into(), "4".into()),
        ("DB_CONNECT_TIMEOUT_SECS".into(), "1".into()),
        ("DB_ACQUIRE_TIMEOUT_SECS".into(), "1".into()),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the binary in an empty directory with only `vars` set, off the async runtime.
async fn run(args: Vec<String>, vars: Vec<(String, String)>, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(BINARY);
        command
            .args(&args)
            .current_dir(dir.path())
            .env_clear()
            .envs(vars)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // The command may stop before reading; a closed pipe is its answer, not ours.
            pipe.write_all(input.as_bytes()).ok();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn create_admin_makes_an_admin_who_can_list_users() {
    let db = Database::new().await;
    let output = db
        .create_admin(
            "boss@example.com",
            "The Boss",
            Some("correct horse battery\n"),
        )
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        db.role_of("boss@example.com").await.as_deref(),
        Some("admin")
    );

    let app = spawn_app_on(&db.url).await;
    let login = app.login("boss@example.com", "correct horse battery").await;
    login.assert_status(200);
    assert_eq!(login.body["user"]["role"], "admin");
    assert_eq!(login.body["user"]["name"], "The Boss");
    assert!(login.body["user"]["email_verified_at"].is_string());
    let token = login.body["access_token"].as_str().unwrap();
    let list = app.get("/api/users", Some(token)).await;
    list.assert_status(200);
    assert_eq!(list.body["meta"]["total"], 1);
    assert_eq!(list.body["data"][0]["email"], "boss@example.com");
}

#[tokio::test]
async fn create_admin_takes_the_password_from_admin_password_too() {
    let db = Database::new().await;
    let output = db
        .create_admin_with(
            "root@example.com",
            "Root",
            None,
            &[("ADMIN_PASSWORD", "another good password")],
        )
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let app = spawn_app_on(&db.url).await;
    let login = app.login("root@example.com", "another good password").await;
    login.assert_status(200);
    assert_eq!(login.body["user"]["role"], "admin");
}

#[tokio::test]
async fn create_admin_promotes_an_existing_user_and_keeps_their_password() {
    let db = Database::new().await;
    let app = spawn_app_on(&db.url).await;
    let ada = app.new_user("Ada", "ada@example.com").await;
    app.get("/api/users", Some(&ada.token))
        .await
        .assert_error(403, "forbidden");

    let output = db
        .create_admin("ada@example.com", "Ada", Some("a different password\n"))
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        db.role_of("ada@example.com").await.as_deref(),
        Some("admin")
    );

    // Her existing token carries the new role, and her password is the old one.
    let list = app.get("/api/users", Some(&ada.token)).await;
    list.assert_status(200);
    assert_eq!(list.body["meta"]["total"], 1, "promoted, not duplicated");
    assert_eq!(list.body["data"][0]["id"], ada.id);
    let login = app.login("ada@example.com", PASSWORD).await;
    login.assert_status(200);
    assert_eq!(login.body["user"]["role"], "admin");
    // The operator vouches for the address of the account they promote.
    assert!(login.body["user"]["email_verified_at"].is_string());
    app.login("ada@example.com", "a different password")
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn create_admin_finds_the_account_whatever_the_spelling_of_its_address() {
    let db = Database::new().await;
    let app = spawn_app_on(&db.url).await;
    let x = app.new_user("X", "x@xn--bcher-kva.example").await;

    let output = db
        .create_admin("Ｘ@BÜCHER.example", "X", Some("a different password\n"))
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("promoted"),
        "{}",
        text(&output.stdout)
    );
    let list = app.get("/api/users", Some(&x.token)).await;
    list.assert_status(200);
    assert_eq!(list.body["meta"]["total"], 1, "promoted, not duplicated");
}

/// The server answers Ada's token from its session cache; on PostgreSQL it learns of the
/// promotion from a notification that races the next request, so this runs the race a number
/// of times.
#[tokio::test]
async fn a_server_sees_the_promotion_as_soon_as_create_admin_has_exited() {
    let db = Database::new().await;
    let app = spawn_app_on(&db.url).await;
    for round in 0..20 {
        let email = format!("ada{round}@example.com");
        let ada = app.new_user("Ada", &email).await;
        let before = app.get("/api/user", Some(&ada.token)).await;
        assert_eq!(before.body["role"], "user");

        let output = db.create_admin(&email, "Ada", Some("a password\n")).await;
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let log = text(&output.stdout);
        assert!(!log.contains("may reach other instances late"), "{log}");
        let after = app.get("/api/user", Some(&ada.token)).await;
        assert_eq!(after.body["role"], "admin", "round {round}");
    }
}

#[tokio::test]
async fn create_admin_refuses_a_weak_password_with_exit_code_2() {
    let db = Database::new().await;
    let too_long = format!("{}\n", "x".repeat(73));
    for stdin in [Some("short\n"), Some("\n"), None, Some(too_long.as_str())] {
        let output = db.create_admin("boss@example.com", "The Boss", stdin).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stdin:?}: {stderr}");
        assert!(
            stderr.to_lowercase().contains("password"),
            "{stdin:?}: the message should name the password: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(db.role_of("boss@example.com").await, None);
}

#[tokio::test]
async fn create_admin_refuses_a_bad_email_with_exit_code_2() {
    let db = Database::new().await;
    for email in ["not-an-email", "boss@nowhere", ""] {
        let output = db
            .create_admin(email, "The Boss", Some("correct horse battery\n"))
            .await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{email:?}: {stderr}");
        assert!(
            stderr.to_lowercase().contains("email"),
            "{email:?}: the message should name the email: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Nothing was written: the database is still empty, as a first admin shows.
    let output = db
        .create_admin(
            "boss@example.com",
            "The Boss",
            Some("correct horse battery\n"),
        )
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let app = spawn_app_on(&db.url).await;
    let token = app
        .login("boss@example.com", "correct horse battery")
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = app.get("/api/users", Some(&token)).await;
    assert_eq!(list.body["meta"]["total"], 1, "{}", list.body);
}

#[tokio::test]
async fn create_admin_without_a_reachable_database_exits_with_1() {
    let mut vars = env("postgres://nobody@127.0.0.1:1/none");
    vars.push(("ADMIN_PASSWORD".into(), "correct horse battery".into()));
    let output = run(
        vec![
            "create-admin".into(),
            "--email".into(),
            "boss@example.com".into(),
            "--name".into(),
            "The Boss".into(),
        ],
        vars,
        None,
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn migrating_an_up_to_date_database_logs_no_notices() {
    // On PostgreSQL, `CREATE TABLE IF NOT EXISTS` answers with a NOTICE when the table exists.
    let database = Database::new().await;
    let output = run(vec!["migrate".into()], env(&database.url), None).await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(stdout.contains("migrations are up to date"), "{stdout}");
    assert!(!stdout.contains("already exists"), "{stdout}");
}
