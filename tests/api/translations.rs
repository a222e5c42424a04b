//! The translation files against the code: every language defines the same messages, every
//! message the code or a template names exists, and every message is named somewhere.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use regex::Regex;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` whose name ends with `suffix`.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The message ids of each language: a Fluent message starts a line with its id and ` =`.
fn ids_by_language() -> BTreeMap<String, BTreeSet<String>> {
    let message = Regex::new(r"(?m)^([a-zA-Z][a-zA-Z0-9_-]*) *=").unwrap();
    let mut languages = BTreeMap::new();
    for dir in std::fs::read_dir(root().join("locales")).unwrap().flatten() {
        let language = dir.file_name().to_string_lossy().into_owned();
        let mut ids = BTreeSet::new();
        for file in files(&dir.path(), ".ftl") {
            let text = std::fs::read_to_string(&file).unwrap();
            for id in message.captures_iter(&text) {
                assert!(
                    ids.insert(id[1].to_owned()),
                    "{} defines {} twice",
                    file.display(),
                    &id[1]
                );
            }
        }
        languages.insert(language, ids);
    }
    languages
}

/// The source of the service and of its templates: where message ids are named.
fn sources() -> String {
    let mut text = String::new();
    for file in files(&root().join("src"), ".rs")
        .into_iter()
        .chain(files(&root().join("templates"), ""))
    {
        text.push_str(&std::fs::read_to_string(file).unwrap());
        text.push('\n');
    }
    text
}

/// The field and parameter names of the OpenAPI document, and which of them are lists.
fn spec_fields() -> (BTreeSet<String>, BTreeSet<String>) {
    let document: Value = serde_json::from_str(&comptoir::api::spec_json()).unwrap();
    let (mut fields, mut lists) = (BTreeSet::new(), BTreeSet::new());
    for schema in document["components"]["schemas"]
        .as_object()
        .unwrap()
        .values()
    {
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            fields.insert(name.clone());
            if property["type"] == "array" {
                lists.insert(name.clone());
            }
        }
    }
    (fields, lists)
}

#[test]
fn every_language_defines_the_same_messages() {
    let languages = ids_by_language();
    assert!(languages.contains_key("en") && languages.contains_key("fr"));
    let english = &languages["en"];
    assert!(
        english.len() > 50,
        "only {} messages in English",
        english.len()
    );
    for (language, ids) in &languages {
        let missing: Vec<_> = english.difference(ids).collect();
        let extra: Vec<_> = ids.difference(english).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{language}: missing {missing:?}, not in English {extra:?}"
        );
    }
}

#[test]
fn every_message_the_code_names_is_defined() {
    let english = &ids_by_language()["en"];
    let sources = sources();
    // Ids as the code and templates write them: `"validation-required"`, `t('mail-greeting')`.
    let named = Regex::new(
        r#"["'](?P<id>(?:error|validation|query|auth|email|role|current-password|user|password-reset|order|mail|page|field|oauth)-[a-z0-9_-]+)["']"#,
    )
    .unwrap();
    let undefined: BTreeSet<&str> = named
        .captures_iter(&sources)
        .map(|found| found.name("id").unwrap().as_str())
        .filter(|id| !english.contains(*id))
        .collect();
    assert!(undefined.is_empty(), "named but not defined: {undefined:?}");
}

#[test]
fn every_message_is_named_by_the_code_or_a_template() {
    let english = &ids_by_language()["en"];
    let sources = sources();
    let (fields, lists) = spec_fields();
    let unused: Vec<&String> = english
        .iter()
        .filter(|id| {
            let quoted = |text: &str| {
                sources.contains(&format!("\"{text}\"")) || sources.contains(&format!("'{text}'"))
            };
            if quoted(id) {
                return false;
            }
            // `field-<name>` is looked up by the name of a field the spec declares (or the
            // code names), `field-<list>-entry` by the name of a list.
            if let Some(list) = id
                .strip_prefix("field-")
                .and_then(|rest| rest.strip_suffix("-entry"))
            {
                return !lists.contains(list);
            }
            if let Some(field) = id.strip_prefix("field-") {
                return !fields.contains(field) && !quoted(field);
            }
            true
        })
        .collect();
    assert!(unused.is_empty(), "defined but never used: {unused:?}");
}

#[test]
fn french_uses_french_quotes_and_apostrophes() {
    for file in files(&root().join("locales/fr"), ".ftl") {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            assert!(
                !line.contains('\'') && !line.contains('"') && !line.contains('“'),
                "{}: write ’ and « » in French: {line}",
                file.display()
            );
        }
    }
}
