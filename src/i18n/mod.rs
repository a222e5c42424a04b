//! The languages Comptoir speaks: which one a request gets, and every message in it.
//!
//! Messages live in Project Fluent files, one folder a language (`locales/en/*.ftl`,
//! `locales/fr/*.ftl`), embedded at compile time by fluent-templates: adding a language is
//! adding a folder. Code names a message by its id and passes arguments ([`Message`]); the
//! sentence is made here, when the response or the mail is written.
//!
//! A response's language is chosen once per request, in the request layer, and kept for that
//! request's task in [`scope`]: errors become responses in `IntoResponse`, which has no request
//! to read it from.

pub mod negotiation;
pub mod templates;

use std::{collections::HashMap, fmt, sync::LazyLock};

use fluent_templates::{LanguageIdentifier, Loader, fluent_bundle::FluentValue};

pub use negotiation::negotiate;

use crate::domain::message::{Arg, Message};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent wraps each argument in Unicode isolation marks, for right-to-left scripts;
        // none of ours is one, and the marks would reach JSON and mails as invisible characters.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The languages of `locales/`, by tag, sorted.
static LANGUAGES: LazyLock<Vec<(String, &'static LanguageIdentifier)>> = LazyLock::new(|| {
    let loader: &'static fluent_templates::StaticLoader = &LOCALES;
    let mut languages: Vec<_> = loader
        .locales()
        .map(|language| (language.to_string().to_ascii_lowercase(), language))
        .collect();
    languages.sort_by(|a, b| a.0.cmp(&b.0));
    languages
});

/// A language there are translations for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Locale(usize);

impl Locale {
    /// English: the language of the OpenAPI document, and the one a missing message falls back to.
    pub fn english() -> Self {
        Self::parse("en").unwrap_or(Self(0))
    }

    /// Every language of `locales/`, by tag.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..LANGUAGES.len()).map(Self)
    }

    /// The language whose tag is `tag` (`fr`), in any case.
    pub fn parse(tag: &str) -> Option<Self> {
        LANGUAGES
            .iter()
            .position(|(known, _)| known.eq_ignore_ascii_case(tag))
            .map(Self)
    }

    /// Its tag, as `Content-Language` and `User.locale` carry it.
    pub fn as_str(self) -> &'static str {
        &LANGUAGES[self.0].0
    }

    fn identifier(self) -> &'static LanguageIdentifier {
        LANGUAGES[self.0].1
    }
}

impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

tokio::task_local! {
    static CURRENT: Locale;
}

/// Runs `work` with `locale` as the language of everything it writes.
pub async fn scope<F: Future>(locale: Locale, work: F) -> F::Output {
    CURRENT.scope(locale, work).await
}

/// The language of the request being served: English outside of one.
pub fn current() -> Locale {
    CURRENT
        .try_with(|locale| *locale)
        .unwrap_or_else(|_| Locale::english())
}

/// `message` in the language of the request being served.
pub fn say(message: &Message) -> String {
    text(current(), message)
}

/// `message` in `locale`, its first letter a capital: a sentence may open with a field's name.
pub fn text(locale: Locale, message: &Message) -> String {
    let args: HashMap<&'static str, FluentValue<'static>> = message
        .args
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Arg::Text(text) => FluentValue::from(text.clone()),
                Arg::Number(number) => FluentValue::from(*number),
                Arg::Field(path) => FluentValue::from(field_name(locale, path)),
            };
            (*name, value)
        })
        .collect();
    capitalised(lookup(locale, message.id, &args))
}

/// The message `id` with no arguments in `locale`, as it is written.
pub fn plain(locale: Locale, id: &str) -> String {
    lookup(locale, id, &HashMap::<&str, FluentValue>::new())
}

/// The message `id` in `locale`, else in English with a warning, else the id itself.
// fluent-templates takes arguments in a `HashMap` with the standard hasher only.
#[allow(clippy::implicit_hasher)]
pub fn lookup<S: AsRef<str> + std::hash::Hash + Eq>(
    locale: Locale,
    id: &str,
    args: &HashMap<S, FluentValue>,
) -> String {
    let args = (!args.is_empty()).then_some(args);
    LOCALES
        .lookup_single_language(locale.identifier(), id, args)
        .or_else(|err| {
            tracing::warn!(locale = %locale, id, error = %err, "message missing from a language");
            LOCALES.lookup_single_language(Locale::english().identifier(), id, args)
        })
        .unwrap_or_else(|_| id.to_owned())
}

/// What a field is called in `locale`: `field-<name>`, or `field-<list>-entry` and
/// `field-in-entry` for a field inside a list (`items.0.quantity` is "the quantity of item 1"),
/// or `field-unknown` with the name as the client wrote it.
pub fn field_name(locale: Locale, path: &str) -> String {
    let segments: Vec<&str> = path.split('.').collect();
    let position = |index: &str| index.parse::<i64>().ok().map(|index| index + 1);
    match segments.as_slice() {
        [.., list, index, name] if position(index).is_some() => {
            let entry = entry_name(locale, list, position(index).unwrap_or(1));
            let args = HashMap::from([
                ("field", FluentValue::from(own_name(locale, name))),
                ("entry", FluentValue::from(entry)),
            ]);
            lookup(locale, "field-in-entry", &args)
        }
        [.., list, index] if position(index).is_some() => {
            entry_name(locale, list, position(index).unwrap_or(1))
        }
        _ => own_name(locale, segments.last().copied().unwrap_or(path)),
    }
}

fn own_name(locale: Locale, name: &str) -> String {
    LOCALES
        .lookup_single_language::<&str>(locale.identifier(), &format!("field-{name}"), None)
        .unwrap_or_else(|_| {
            let args = HashMap::from([("name", FluentValue::from(name.to_owned()))]);
            lookup(locale, "field-unknown", &args)
        })
}

fn entry_name(locale: Locale, list: &str, position: i64) -> String {
    let args = HashMap::from([("position", FluentValue::from(position))]);
    LOCALES
        .lookup_single_language(
            locale.identifier(),
            &format!("field-{list}-entry"),
            Some(&args),
        )
        .unwrap_or_else(|_| {
            let args = HashMap::from([
                ("list", FluentValue::from(own_name(locale, list))),
                ("position", FluentValue::from(position)),
            ]);
            lookup(locale, "field-entry", &args)
        })
}

fn capitalised(text: String) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => text,
    }
}
