//! The `comptoir` binary: its commands and how it refuses bad settings.

use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_comptoir");

fn comptoir(args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .stdin(Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn spec_prints_the_document_without_a_database() {
    let output = comptoir(
        &["spec"],
        &[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
    );
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        comptoir::api::spec_json()
    );

    let output = comptoir(&["spec", "--yaml"], &[]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        comptoir::api::spec_yaml()
    );
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    for (variable, value) in [
        ("BIND_ADDR", "not-an-address"),
        ("JWT_SECRET", "short"),
        ("LOG_FORMAT", "xml"),
        ("DATABASE_URL", "mysql://localhost/shop"),
    ] {
        let output = comptoir(&["serve"], &[(variable, value)]);
        assert_eq!(output.status.code(), Some(2), "{variable}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn an_unknown_command_or_option_is_refused_with_the_usage_and_exit_code_2() {
    for args in [
        &["frobnicate"][..],
        &["serve", "--port", "80"],
        &["spec", "--json"],
        &["create-admin", "--email", "boss@example.com"],
    ] {
        let output = comptoir(args, &[]);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("Usage: comptoir"), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_names_every_command_and_option_and_exits_0() {
    for (args, names) in [
        (
            &["--help"][..],
            &["serve", "migrate", "spec", "create-admin", ".env"][..],
        ),
        (&["help"], &["serve", "migrate", "spec", "create-admin"]),
        (&["spec", "--help"], &["--yaml"]),
        (
            &["create-admin", "--help"],
            &["--email", "--name", "ADMIN_PASSWORD", "standard input"],
        ),
        (&["serve", "--help"], &["migrations"]),
        (&["migrate", "--help"], &["migrations"]),
    ] {
        let output = comptoir(args, &[]);
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        for name in names {
            assert!(
                stdout.contains(name),
                "{args:?} should name {name}: {stdout}"
            );
        }
    }
}

#[test]
fn create_admin_and_serve_say_which_database_they_use_but_never_its_password() {
    let url = "postgres://shop:pw-that-must-not-show@127.0.0.1:1/shop";
    let vars = [
        ("DATABASE_URL", url),
        ("DB_CONNECT_TIMEOUT_SECS", "1"),
        ("ADMIN_PASSWORD", "correct horse battery"),
    ];
    let admin = comptoir(
        &[
            "create-admin",
            "--email",
            "boss@example.com",
            "--name",
            "Boss",
        ],
        &vars,
    );
    let serve = comptoir(&["serve"], &vars);
    for (what, output, said) in [
        ("create-admin", &admin, &admin.stderr),
        ("serve", &serve, &serve.stdout),
    ] {
        let everything = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(1), "{what}: {everything}");
        assert!(
            String::from_utf8_lossy(said).contains("postgres: 127.0.0.1:1/shop"),
            "{what}: {everything}"
        );
        assert!(
            !everything.contains("pw-that-must-not-show"),
            "{what}: {everything}"
        );
    }

    // Without DATABASE_URL, the SQLite file in the working directory, by its full path.
    let admin = comptoir(
        &[
            "create-admin",
            "--email",
            "boss@example.com",
            "--name",
            "Boss",
        ],
        &[
            ("ADMIN_PASSWORD", "correct horse battery"),
            ("BCRYPT_COST", "4"),
        ],
    );
    let stderr = String::from_utf8(admin.stderr).unwrap();
    assert_eq!(admin.status.code(), Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.contains("sqlite: "))
        .unwrap_or_default();
    assert!(
        line.contains("sqlite: /") && line.ends_with("/comptoir.db"),
        "{stderr}"
    );
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shop.db?mode=rwc", dir.path().display());
    for _ in 0..2 {
        let output = comptoir(&["migrate"], &[("DATABASE_URL", &url)]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(dir.path().join("shop.db").exists());
}

#[test]
fn serve_with_no_settings_starts_warns_about_the_secret_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BINARY)
        .current_dir(dir.path())
        .env_clear()
        // Port 0 so tests never collide; everything else is the default.
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    while let Some(Ok(line)) = lines.next() {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("serving") {
            break;
        }
    }
    assert!(seen.contains("JWT_SECRET is not set"), "{seen}");
    assert!(
        dir.path().join("comptoir.db").exists(),
        "the default SQLite file was created"
    );

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
