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
fn an_unknown_command_is_refused_with_the_usage() {
    let output = comptoir(&["frobnicate"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("usage: comptoir")
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
