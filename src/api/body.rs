//! `JsonBody<T>`: a JSON request body that is checked against the very schema the spec shows,
//! so that every bad field, missing ones included, gets its own entry in a 422's `errors`.
//!
//! poem-openapi's own `Json<T>` answers a bad body with a 400 in prose; clients of this API
//! expect Laravel's 422 with an `errors` map instead.

use std::{
    any::TypeId,
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use poem::{Request, RequestBody};
use poem_openapi::{
    payload::{ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};
use regex::Regex;
use serde_json::Value;

use super::error::ApiError;
use crate::domain::{FieldErrors, Message};

/// Bodies larger than this are refused with a 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        content_type.parse::<mime::Mime>().is_ok_and(|mime| {
            mime.type_() == "application"
                && (mime.subtype() == "json"
                    || mime.suffix().is_some_and(|suffix| suffix == "json"))
        })
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON + 'static> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let too_large = request
            .header(poem::http::header::CONTENT_LENGTH)
            .and_then(|length| length.parse::<usize>().ok())
            .is_some_and(|length| length > MAX_BODY_BYTES);
        if too_large {
            return Err(ApiError::payload_too_large().into());
        }
        let bytes = body
            .take()?
            .into_bytes_limit(MAX_BODY_BYTES)
            .await
            .map_err(|err| match err {
                poem::error::ReadBodyError::PayloadTooLarge => ApiError::payload_too_large(),
                _ => ApiError::bad_request("malformed_body", Message::new("error-body-unreadable")),
            })?;
        // An empty body is an empty object: for PATCH it changes nothing, elsewhere it yields
        // a 422 that lists every required field. Only zero bytes are empty: whitespace alone is
        // no JSON document, and schemathesis rightly expects it refused.
        let value = if bytes.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice(&bytes).map_err(|err| {
                ApiError::bad_request(
                    "malformed_json",
                    Message::new("error-json-malformed")
                        .with("line", err.line())
                        .with("column", err.column()),
                )
            })?
        };

        let registry = registry_of::<T>();
        let mut errors = FieldErrors::new();
        check(&value, &T::schema_ref(), "", &registry, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        T::parse_from_json(Some(value)).map(Self).map_err(|err| {
            // The schema check above leaves nothing for poem-openapi to refuse; if it ever does,
            // its English sentence goes to the log and the client gets ours.
            tracing::warn!(error = %err.into_message(), "a body passed the schema check but did not parse");
            ApiError::validation(FieldErrors::single(
                "body",
                Message::new("validation-body-invalid"),
            ))
            .into()
        })
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON + 'static);

/// The schemas a body of type `T` refers to, built once per type rather than per request.
fn registry_of<T: Type + 'static>() -> Arc<Registry> {
    static REGISTRIES: OnceLock<Mutex<HashMap<TypeId, Arc<Registry>>>> = OnceLock::new();
    let mut registries = REGISTRIES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    registries
        .entry(TypeId::of::<T>())
        .or_insert_with(|| {
            let mut registry = Registry::new();
            T::register(&mut registry);
            Arc::new(registry)
        })
        .clone()
}

/// Checks `value` against `schema`, recording one message per bad field under its dotted path
/// (`items.0.quantity`).
fn check(
    value: &Value,
    schema: &MetaSchemaRef,
    path: &str,
    registry: &Registry,
    errors: &mut FieldErrors,
) {
    let schema = match schema {
        MetaSchemaRef::Inline(schema) => schema.as_ref(),
        MetaSchemaRef::Reference(name) => match registry.schemas.get(name) {
            Some(schema) => schema,
            None => return,
        },
    };
    let field = if path.is_empty() { "body" } else { path };

    if value.is_null() {
        if !schema.nullable {
            errors.add(field, Message::new("validation-not-null").field(field));
        }
        return;
    }
    for part in &schema.all_of {
        check(value, part, path, registry, errors);
    }
    if !schema.enum_items.is_empty() && !schema.enum_items.contains(value) {
        let allowed: Vec<String> = schema
            .enum_items
            .iter()
            .map(|item| {
                item.as_str()
                    .map_or_else(|| item.to_string(), str::to_owned)
            })
            .collect();
        errors.add(
            field,
            Message::new("validation-one-of")
                .field(field)
                .with("allowed", allowed.join(", ")),
        );
        return;
    }
    match schema.ty {
        "object" => check_object(value, schema, path, registry, errors),
        "array" => check_array(value, schema, path, registry, errors),
        "string" => check_string(value, schema, field, errors),
        "integer" => match value.as_i64() {
            // Bounds in this API are far below 2^52, where f64 stops being exact.
            #[allow(clippy::cast_precision_loss)]
            Some(number) => check_range(number as f64, schema, field, errors),
            None => errors.add(field, Message::new("validation-integer").field(field)),
        },
        "number" => match value.as_f64() {
            Some(number) => check_range(number, schema, field, errors),
            None => errors.add(field, Message::new("validation-number").field(field)),
        },
        "boolean" if !value.is_boolean() => {
            errors.add(field, Message::new("validation-boolean").field(field));
        }
        _ => {}
    }
}

/// How much of an unknown key a 422 repeats.
const MAX_ECHOED_KEY_CHARS: usize = 64;

fn check_object(
    value: &Value,
    schema: &MetaSchema,
    path: &str,
    registry: &Registry,
    errors: &mut FieldErrors,
) {
    let Some(object) = value.as_object() else {
        let field = if path.is_empty() { "body" } else { path };
        errors.add(field, Message::new("validation-object").field(field));
        return;
    };
    let child = |name: &str| {
        // A client's key is echoed in the answer: a long one is cut, so that the answer
        // stays short.
        let name = match name.char_indices().nth(MAX_ECHOED_KEY_CHARS) {
            Some((end, _)) => format!("{}…", &name[..end]),
            None => name.to_owned(),
        };
        if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        }
    };
    for required in &schema.required {
        if !object.contains_key(*required) {
            let field = child(required);
            errors.add(&field, Message::new("validation-required").field(&field));
        }
    }
    for (name, item) in object {
        match schema
            .properties
            .iter()
            .find(|(property, _)| property == name)
        {
            Some((_, property)) => check(item, property, &child(name), registry, errors),
            None => {
                if let Some(additional) = &schema.additional_properties {
                    check(item, additional, &child(name), registry, errors);
                } else {
                    let field = child(name);
                    let written = field.rsplit('.').next().unwrap_or(&field).to_owned();
                    errors.add(
                        &field,
                        Message::new("validation-unknown-field").with("name", written),
                    );
                }
            }
        }
    }
}

fn check_array(
    value: &Value,
    schema: &MetaSchema,
    path: &str,
    registry: &Registry,
    errors: &mut FieldErrors,
) {
    let Some(items) = value.as_array() else {
        errors.add(path, Message::new("validation-array").field(path));
        return;
    };
    if let Some(min) = schema.min_items.filter(|min| items.len() < *min) {
        errors.add(
            path,
            Message::new("validation-min-entries")
                .field(path)
                .with("min", min),
        );
    }
    if let Some(max) = schema.max_items.filter(|max| items.len() > *max) {
        errors.add(
            path,
            Message::new("validation-max-entries")
                .field(path)
                .with("max", max),
        );
    }
    if let Some(item_schema) = &schema.items {
        for (index, item) in items.iter().enumerate() {
            check(
                item,
                item_schema,
                &format!("{path}.{index}"),
                registry,
                errors,
            );
        }
    }
}

fn check_string(value: &Value, schema: &MetaSchema, field: &str, errors: &mut FieldErrors) {
    let Some(text) = value.as_str() else {
        errors.add(field, Message::new("validation-string").field(field));
        return;
    };
    let length = text.chars().count();
    if length == 0 && schema.min_length.is_some_and(|min| min > 0) {
        errors.add(field, Message::new("validation-required").field(field));
        return;
    }
    if let Some(min) = schema.min_length.filter(|min| length < *min) {
        errors.add(
            field,
            Message::new("validation-min-chars")
                .field(field)
                .with("min", min),
        );
    }
    if let Some(max) = schema.max_length.filter(|max| length > *max) {
        errors.add(
            field,
            Message::new("validation-max-chars")
                .field(field)
                .with("max", max),
        );
    }
    if schema.format == Some("email")
        && let Err(message) = crate::domain::Email::parse(text)
    {
        errors.add(field, message.about(field));
        return;
    }
    if let Some(pattern) = &schema.pattern
        && !matches_pattern(pattern, text)
    {
        errors.add(field, Message::new("validation-format").field(field));
    }
}

/// Bounds in this API are whole numbers.
#[allow(clippy::cast_possible_truncation)]
fn check_range(number: f64, schema: &MetaSchema, field: &str, errors: &mut FieldErrors) {
    let (min, max) = (schema.minimum, schema.maximum);
    let out_of_range = min.is_some_and(|min| number < min) || max.is_some_and(|max| number > max);
    if !out_of_range {
        return;
    }
    let message = match (min, max) {
        (Some(min), Some(max)) => Message::new("validation-between")
            .with("min", min as i64)
            .with("max", max as i64),
        (Some(min), None) => Message::new("validation-min").with("min", min as i64),
        (None, Some(max)) => Message::new("validation-max").with("max", max as i64),
        (None, None) => return,
    };
    errors.add(field, message.field(field));
}

/// Patterns come from the few `validator(pattern)` attributes of the API types: compiled once.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    static COMPILED: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let mut compiled = COMPILED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    compiled
        .entry(pattern.to_owned())
        .or_insert_with(|| Regex::new(pattern).ok())
        .as_ref()
        .is_none_or(|regex| regex.is_match(text))
}
