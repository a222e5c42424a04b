//! Query parameters, checked in full against the OpenAPI document before poem-openapi reads
//! them: every bad one is named at once, in the client's language, and a parameter the
//! operation does not declare (`?stauts=paid`) is refused instead of silently ignored.
//!
//! The rules are read from the document itself, the one `/openapi.json` serves, so what the
//! spec promises and what this step enforces cannot drift apart.

use std::{borrow::Cow, collections::BTreeMap, num::IntErrorKind};

use poem::{IntoResponse, Request, Response, http::Method};
use regex::Regex;
use serde_json::{Map, Value};

use super::Routes;
use crate::{
    api::error::ApiError,
    domain::{FieldErrors, Message, message::Arg},
};

/// The query parameters of every operation of the document, by method and path template.
#[derive(Debug, Default)]
pub struct Declarations(Vec<Operation>);

#[derive(Debug)]
struct Operation {
    method: Method,
    template: String,
    parameters: Vec<Parameter>,
    /// The declared names, as `query-unknown` lists them.
    known: String,
}

#[derive(Debug)]
struct Parameter {
    name: String,
    rule: Rule,
}

#[derive(Debug)]
enum Rule {
    /// A whole number in `min..=max`: the declared bounds within those of its format.
    Integer {
        min: i128,
        max: i128,
        unsigned: bool,
        /// Only a lower bound is declared: the message names that one.
        min_only: bool,
    },
    OneOf {
        allowed: Vec<String>,
        listed: String,
    },
    /// `true` or `false`, as Rust's `bool` parses them.
    Boolean,
    Text {
        max_chars: Option<usize>,
        pattern: Option<Regex>,
    },
    /// A schema this step does not know how to check: poem-openapi alone judges the value. A
    /// unit test keeps every parameter of the document out of here.
    Unchecked,
}

/// Schema keywords that say nothing about which values are accepted.
const DESCRIPTIVE: [&str; 5] = [
    "description",
    "default",
    "title",
    "example",
    "x-enum-varnames",
];

impl Declarations {
    /// The query parameters each operation of `document` declares.
    pub fn from_document(document: &Value) -> Self {
        let empty = Map::new();
        let components = |kind: &str| {
            document
                .pointer(&format!("/components/{kind}"))
                .and_then(Value::as_object)
                .unwrap_or(&empty)
        };
        let (schemas, shared_parameters) = (components("schemas"), components("parameters"));
        let mut operations = Vec::new();
        for (template, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                // Path-level keys (`parameters`, `summary`) are not operations.
                if operation.get("responses").is_none() {
                    continue;
                }
                let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                    continue;
                };
                let parameters: Vec<Parameter> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|parameter| resolved(parameter, "parameters", shared_parameters))
                    .filter(|parameter| parameter["in"] == "query")
                    .filter_map(|parameter| {
                        Some(Parameter {
                            name: parameter["name"].as_str()?.to_owned(),
                            rule: Rule::of(resolved(&parameter["schema"], "schemas", schemas)),
                        })
                    })
                    .collect();
                let known = parameters
                    .iter()
                    .map(|parameter| parameter.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                operations.push(Operation {
                    method,
                    template: template.clone(),
                    parameters,
                    known,
                });
            }
        }
        Self(operations)
    }

    fn find(&self, method: &Method, template: &str) -> Option<&Operation> {
        self.0
            .iter()
            .find(|operation| operation.method == method && operation.template == template)
    }
}

/// The 422 naming every bad query parameter of a request to an operation of the document, if
/// there is one. A request without a query string costs one look at its URI.
pub fn check(request: &Request, routes: &Routes, declarations: &Declarations) -> Option<Response> {
    let query = request.uri().query().filter(|query| !query.is_empty())?;
    let template = routes.template(request.uri().path())?;
    let operation = declarations.find(request.method(), template.as_ref())?;
    let errors = operation.check(query);
    (!errors.is_empty()).then(|| ApiError::validation(errors).into_response())
}

impl Operation {
    fn check(&self, query: &str) -> FieldErrors {
        // Each name once, with how often it came and its first value (the one poem-openapi
        // would read), decoded as poem-openapi decodes them.
        let mut given: BTreeMap<Cow<str>, (usize, Cow<str>)> = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            given.entry(name).or_insert((0, value)).0 += 1;
        }
        let mut errors = FieldErrors::new();
        for (name, (count, value)) in &given {
            let name: &str = name;
            let Some(parameter) = self.parameters.iter().find(|known| known.name == name) else {
                errors.add(name, self.unknown(name));
                continue;
            };
            if *count > 1 {
                errors.add(name, Message::new("query-repeated").with("name", name));
                continue;
            }
            for message in parameter.rule.refusals(name, value) {
                errors.add(name, message);
            }
        }
        errors
    }

    fn unknown(&self, name: &str) -> Message {
        if self.parameters.is_empty() {
            Message::new("query-unknown-none").with("name", name)
        } else {
            Message::new("query-unknown")
                .with("name", name)
                .with("known", self.known.as_str())
        }
    }
}

impl Rule {
    fn of(schema: &Value) -> Self {
        let Some(keywords) = schema.as_object() else {
            return Self::Unchecked;
        };
        let only = |checked: &[&str]| {
            keywords.keys().all(|keyword| {
                checked.contains(&keyword.as_str()) || DESCRIPTIVE.contains(&keyword.as_str())
            })
        };
        match keywords.get("type").and_then(Value::as_str) {
            Some("integer") if only(&["type", "format", "minimum", "maximum"]) => {
                Self::integer(keywords)
            }
            Some("boolean") if only(&["type"]) => Self::Boolean,
            Some("string") if keywords.contains_key("enum") && only(&["type", "enum"]) => {
                let allowed: Option<Vec<String>> = keywords["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|value| value.as_str().map(str::to_owned))
                    .collect();
                allowed.map_or(Self::Unchecked, |allowed| Self::OneOf {
                    listed: allowed.join(", "),
                    allowed,
                })
            }
            Some("string") if only(&["type", "maxLength", "pattern"]) => {
                let max_chars = keywords
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .and_then(|max| usize::try_from(max).ok());
                match keywords.get("pattern").map(Value::as_str) {
                    None => Self::Text {
                        max_chars,
                        pattern: None,
                    },
                    Some(pattern) => match pattern.map(Regex::new) {
                        Some(Ok(pattern)) => Self::Text {
                            max_chars,
                            pattern: Some(pattern),
                        },
                        _ => Self::Unchecked,
                    },
                }
            }
            _ => Self::Unchecked,
        }
    }

    fn integer(keywords: &Map<String, Value>) -> Self {
        let (lowest, highest, unsigned) = match keywords.get("format").and_then(Value::as_str) {
            Some("int32") => (i128::from(i32::MIN), i128::from(i32::MAX), false),
            Some("uint32") => (0, i128::from(u32::MAX), true),
            Some("uint64") => (0, i128::from(u64::MAX), true),
            Some("int64") | None => (i128::from(i64::MIN), i128::from(i64::MAX), false),
            Some(_) => return Self::Unchecked,
        };
        let bound = |keyword: &str| keywords.get(keyword).map(whole);
        match (bound("minimum"), bound("maximum")) {
            (Some(None), _) | (_, Some(None)) => Self::Unchecked,
            (minimum, maximum) => Self::Integer {
                min: minimum.flatten().map_or(lowest, |min| min.max(lowest)),
                max: maximum.flatten().map_or(highest, |max| max.min(highest)),
                unsigned,
                min_only: minimum.is_some() && maximum.is_none(),
            },
        }
    }

    /// Why `value` is refused, if it is: nothing for a good value.
    fn refusals(&self, name: &str, value: &str) -> Vec<Message> {
        match self {
            Self::Integer {
                min,
                max,
                unsigned,
                min_only,
            } => {
                let above = match value.parse::<i128>() {
                    // `u64` refuses a sign even on zero.
                    Ok(number) if (*min..=*max).contains(&number) => {
                        if !(*unsigned && value.starts_with('-')) {
                            return Vec::new();
                        }
                        false
                    }
                    Ok(number) => number > *max,
                    Err(err) => *err.kind() == IntErrorKind::PosOverflow,
                };
                let message = if *min_only && !above {
                    Message::new("query-integer-min").with("min", number(*min))
                } else {
                    Message::new("query-integer-range")
                        .with("min", number(*min))
                        .with("max", number(*max))
                };
                vec![message.with("name", name)]
            }
            Self::OneOf { allowed, listed } => {
                if allowed.iter().any(|known| known == value) {
                    return Vec::new();
                }
                vec![
                    Message::new("query-one-of")
                        .with("name", name)
                        .with("allowed", listed.as_str()),
                ]
            }
            Self::Boolean => {
                if value.parse::<bool>().is_ok() {
                    return Vec::new();
                }
                vec![Message::new("query-boolean").with("name", name)]
            }
            Self::Text { max_chars, pattern } => {
                let mut refusals = Vec::new();
                if let Some(max) = max_chars
                    && value.chars().nth(*max).is_some()
                {
                    refusals.push(
                        Message::new("query-max-chars")
                            .with("name", name)
                            .with("max", *max),
                    );
                }
                if let Some(pattern) = pattern
                    && !pattern.is_match(value)
                {
                    // The spec's only pattern is the domain's free-text rule
                    // (`domain::text::PATTERN`), which the message puts in words.
                    refusals.push(Message::new("query-pattern").with("name", name));
                }
                refusals
            }
            Self::Unchecked => Vec::new(),
        }
    }
}

/// A schema or parameter, or the component of that `kind` its `$ref` names.
fn resolved<'a>(value: &'a Value, kind: &str, components: &'a Map<String, Value>) -> &'a Value {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix("#/components/"))
        .and_then(|reference| reference.strip_prefix(kind))
        .and_then(|reference| reference.strip_prefix('/'))
        .and_then(|name| components.get(name))
        .unwrap_or(value)
}

/// A bound of the document as a whole number: poem-openapi writes them as floats (`1.0`).
fn whole(bound: &Value) -> Option<i128> {
    if let Some(bound) = bound.as_i64() {
        return Some(i128::from(bound));
    }
    if let Some(bound) = bound.as_u64() {
        return Some(i128::from(bound));
    }
    let bound = bound.as_f64()?;
    // Below 2^100 a whole float converts exactly.
    #[allow(clippy::cast_possible_truncation)]
    (bound.fract() == 0.0 && bound.abs() < 2f64.powi(100)).then_some(bound as i128)
}

/// A bound as a message argument: a number when it fits one, else its digits.
fn number(value: i128) -> Arg {
    i64::try_from(value).map_or_else(|_| Arg::Text(value.to_string()), Arg::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusals(
        declarations: &Declarations,
        path: &str,
        query: &str,
    ) -> Vec<(String, Vec<&'static str>)> {
        declarations
            .find(&Method::GET, path)
            .unwrap()
            .check(query)
            .iter()
            .map(|(name, messages)| {
                (
                    name.to_owned(),
                    messages.iter().map(|message| message.id).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn every_query_parameter_of_the_document_is_checked_in_full() {
        let declarations = Declarations::from_document(&crate::api::spec::document());
        let mut parameters = 0;
        for operation in &declarations.0 {
            for parameter in &operation.parameters {
                parameters += 1;
                assert!(
                    !matches!(parameter.rule, Rule::Unchecked),
                    "{} {} ?{}: teach layers::query this schema",
                    operation.method,
                    operation.template,
                    parameter.name
                );
            }
        }
        assert!(parameters >= 10, "only {parameters} query parameters found");
    }

    #[test]
    fn values_are_judged_as_poem_openapi_parses_them() {
        let declarations = Declarations::from_document(&crate::api::spec::document());
        let orders = |query: &str| refusals(&declarations, "/api/orders", query);
        assert!(orders("page=%2B2&per_page=100&sort=-id&user_id=7").is_empty());
        assert_eq!(
            orders("page=-0&per_page=&user_id=99999999999999999999&sort=+id"),
            [
                ("page".to_owned(), vec!["query-integer-range"]),
                ("per_page".to_owned(), vec!["query-integer-range"]),
                ("sort".to_owned(), vec!["query-one-of"]),
                ("user_id".to_owned(), vec!["query-integer-range"]),
            ]
        );
        assert_eq!(
            orders("user_id=0&page=1&page=1&stauts=paid&stauts=paid"),
            [
                ("page".to_owned(), vec!["query-repeated"]),
                ("stauts".to_owned(), vec!["query-unknown"]),
                ("user_id".to_owned(), vec!["query-integer-min"]),
            ]
        );
        let products = |query: &str| refusals(&declarations, "/api/products", query);
        assert!(products("active=false&sort=-price_cents").is_empty());
        assert_eq!(
            products("active=1&sort=email"),
            [
                ("active".to_owned(), vec!["query-boolean"]),
                ("sort".to_owned(), vec!["query-one-of"]),
            ]
        );
        let users = |query: &str| refusals(&declarations, "/api/users", query);
        assert!(users(&format!("q={}", "é".repeat(100))).is_empty());
        assert_eq!(
            users(&format!("q={}%00", "é".repeat(100))),
            [("q".to_owned(), vec!["query-max-chars", "query-pattern"])]
        );
        assert_eq!(
            refusals(&declarations, "/api/user", "x=1"),
            [("x".to_owned(), vec!["query-unknown-none"])]
        );
    }
}
