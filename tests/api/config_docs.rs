//! Every setting the code reads is documented in `.env.example` and in the README's
//! configuration table, and neither documents a setting the code does not read.

use std::{
    cell::RefCell,
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use comptoir::config::Config;

/// Read by tracing's `EnvFilter` (`src/telemetry.rs`) rather than by `config`.
const READ_ELSEWHERE: &[&str] = &["RUST_LOG"];

fn repository_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The names `Config::from_lookup` asks for when nothing is set, and, so that a variable read
/// only under some condition is not missed, every UPPER_SNAKE_CASE string literal in the
/// config source (`src/config.rs`, or the files of `src/config/` should it become a folder).
fn names_the_code_reads() -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    Config::from_lookup(|name| {
        asked.borrow_mut().insert(name.to_owned());
        None
    })
    .expect("the defaults are a valid configuration");
    let mut names = asked.into_inner();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources: Vec<PathBuf> = vec![root.join("config.rs")];
    if let Ok(entries) = std::fs::read_dir(root.join("config")) {
        sources.extend(entries.map(|entry| entry.unwrap().path()));
    }
    let literal = regex::Regex::new(r#""([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)""#).unwrap();
    for source in sources.iter().filter(|path| path.exists()) {
        let text = std::fs::read_to_string(source).unwrap();
        names.extend(literal.captures_iter(&text).map(|c| c[1].to_owned()));
    }
    names.extend(READ_ELSEWHERE.iter().map(|name| (*name).to_owned()));
    names
}

/// `NAME=` at the start of a line, commented out or not.
fn names_in_env_example() -> BTreeSet<String> {
    let assignment = regex::Regex::new(r"(?m)^#?\s*([A-Z][A-Z0-9_]*)=").unwrap();
    assignment
        .captures_iter(&repository_file(".env.example"))
        .map(|c| c[1].to_owned())
        .collect()
}

/// The `NAME`s in the first column of the table under "## Configuration".
fn names_in_readme_table() -> BTreeSet<String> {
    let readme = repository_file("README.md");
    let section = readme
        .split("\n## ")
        .find(|section| section.starts_with("Configuration"))
        .expect("README.md has a Configuration section");
    let name = regex::Regex::new(r"`([A-Z][A-Z0-9_]*)`").unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix('|')?.split('|').next())
        .flat_map(|cell| name.captures_iter(cell).map(|c| c[1].to_owned()))
        .collect()
}

#[test]
fn every_setting_the_code_reads_is_in_env_example_and_the_readme_table() {
    let read = names_the_code_reads();
    assert!(read.contains("DATABASE_URL") && read.len() > 20, "{read:?}");
    for (document, named) in [
        (".env.example", names_in_env_example()),
        ("README.md's configuration table", names_in_readme_table()),
    ] {
        let missing: Vec<_> = read.difference(&named).collect();
        assert!(missing.is_empty(), "{document} does not name {missing:?}");
        let stale: Vec<_> = named.difference(&read).collect();
        assert!(
            stale.is_empty(),
            "{document} names {stale:?}, which nothing reads"
        );
    }
}
