//! The OpenAPI document: what poem-openapi derives from the operations, completed with what
//! its attributes cannot express. Nothing here depends on settings, so the document is the
//! same on every machine and `openapi/openapi.json` can be compared byte for byte.

use serde_json::{Map, Value, json};

use crate::i18n::Locale;

/// For each create operation, the operations a client can follow with the new resource's id.
const LINKS: [(&str, &[(&str, &str)]); 3] = [
    (
        "user_create",
        &[
            ("view", "user_view"),
            ("replace", "user_replace"),
            ("update", "user_update"),
            ("delete", "user_delete"),
        ],
    ),
    (
        "order_create",
        &[
            ("view", "order_view"),
            ("replace", "order_replace"),
            ("update", "order_update"),
            ("delete", "order_delete"),
        ],
    ),
    (
        "product_create",
        &[
            ("view", "product_view"),
            ("replace", "product_replace"),
            ("update", "product_update"),
            ("delete", "product_delete"),
        ],
    ),
];

/// Responses whose generic description (from `Failure`) would mislead: operation, status,
/// what it means there.
const RESPONSE_DESCRIPTIONS: [(&str, &str, &str); 1] = [(
    "token_refresh",
    "401",
    "The refresh token is unknown, expired or of an ended session (`invalid_refresh_token`), \
     or it was spent and sent again after the grace window, which ends its session \
     (`refresh_token_reused`).",
)];

/// Request objects whose unknown fields are ignored rather than refused: a token request's,
/// as RFC 6749 §3.2 wants.
const OPEN_OBJECTS: [&str; 1] = ["OAuthTokenRequest"];

/// Response objects that always carry every field, `null` when empty.
const COMPLETE_OBJECTS: [&str; 9] = [
    "User",
    "Order",
    "OrderItem",
    "Product",
    "ApiToken",
    "NewApiToken",
    "Webhook",
    "NewWebhook",
    "WebhookDelivery",
];

/// The finished document.
pub fn document() -> Value {
    let mut spec: Value = serde_json::from_str(&super::openapi().spec()).unwrap_or_default();
    close_objects(&mut spec);
    complete_oauth_flows(&mut spec);
    require_every_field(&mut spec);
    type_nullable_references(&mut spec);
    name_enum_values(&mut spec);
    mark_public_operations(&mut spec);
    declare_query_refusals(&mut spec);
    add_links(&mut spec);
    declare_languages(&mut spec);
    describe_responses(&mut spec);
    spec
}

fn describe_responses(spec: &mut Value) {
    for operation in operations(spec) {
        for (id, status, description) in RESPONSE_DESCRIPTIONS {
            if operation.get("operationId").and_then(Value::as_str) == Some(id)
                && let Some(response) = operation
                    .get_mut("responses")
                    .and_then(|responses| responses.get_mut(status))
            {
                response["description"] = json!(description);
            }
        }
    }
}

/// Every operation takes an optional `Accept-Language` and every response says its
/// `Content-Language`: one English document, whatever language the answers are in.
fn declare_languages(spec: &mut Value) {
    let languages: Vec<Value> = Locale::all().map(|locale| json!(locale.as_str())).collect();
    let Some(components) = spec.get_mut("components").and_then(Value::as_object_mut) else {
        return;
    };
    components.insert(
        "parameters".into(),
        json!({"AcceptLanguage": {
            "name": "Accept-Language",
            "in": "header",
            "required": false,
            "description": "The languages the client reads, as browsers send them \
                (`fr-CA, fr;q=0.9, en;q=0.5`): messages, errors included, come in the best \
                one the service speaks, else in the service's default language.",
            "schema": {"type": "string", "example": "fr"}
        }}),
    );
    components.insert(
        "headers".into(),
        json!({"ContentLanguage": {
            "description": "The language of the response's messages.",
            "schema": {"type": "string", "enum": languages}
        }}),
    );
    for operation in operations(spec) {
        let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
        if let Some(parameters) = parameters.as_array_mut() {
            parameters.push(json!({"$ref": "#/components/parameters/AcceptLanguage"}));
        }
        let responses = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|responses| responses.values_mut())
            .filter_map(Value::as_object_mut);
        for response in responses {
            let headers = response.entry("headers").or_insert_with(|| json!({}));
            if let Some(headers) = headers.as_object_mut() {
                headers.insert(
                    "Content-Language".into(),
                    json!({"$ref": "#/components/headers/ContentLanguage"}),
                );
            }
        }
    }
}

/// Bodies with fields the schema does not define are refused (422), and responses never
/// carry any: say so, so that generated clients and fuzzers know it.
fn close_objects(spec: &mut Value) {
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        let Some(schema) = schema.as_object_mut() else {
            continue;
        };
        if schema.get("type") == Some(&json!("object"))
            && !OPEN_OBJECTS.contains(&name.as_str())
            && !schema.contains_key("additionalProperties")
        {
            schema.insert("additionalProperties".into(), json!(false));
        }
    }
}

/// OpenAPI 3.0 requires an OAuth2 flow's `scopes`, even empty, and poem-openapi leaves an
/// empty one out: tokens here have no scopes.
fn complete_oauth_flows(spec: &mut Value) {
    let Some(schemes) = spec
        .pointer_mut("/components/securitySchemes")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let flows = schemes
        .values_mut()
        .filter_map(|scheme| scheme.get_mut("flows"))
        .filter_map(Value::as_object_mut)
        .flat_map(|flows| flows.values_mut())
        .filter_map(Value::as_object_mut);
    for flow in flows {
        flow.entry("scopes").or_insert_with(|| json!({}));
    }
}

/// A nullable field that is always sent is still required: clients can rely on its presence.
fn require_every_field(spec: &mut Value) {
    for name in COMPLETE_OBJECTS {
        let Some(schema) = spec.pointer_mut(&format!("/components/schemas/{name}")) else {
            continue;
        };
        let fields: Vec<Value> = schema["properties"]
            .as_object()
            .map(|properties| properties.keys().map(|key| json!(key)).collect())
            .unwrap_or_default();
        schema["required"] = Value::Array(fields);
    }
}

/// poem-openapi writes a nullable field of another schema's type as `nullable` beside an
/// `allOf` of the reference and a copy of its description, with no `type`: OpenAPI 3.0 wants a
/// `type` wherever `nullable` is (Redocly refuses the document otherwise). Each such field gets
/// the referenced schema's type, and the `allOf` keeps only the reference. A nullable enum is
/// written out in place, with `null` among its values as OpenAPI 3.0.3 asks: generators cannot
/// take an `allOf` of an enum (openapi-python-client drops the whole schema).
fn type_nullable_references(spec: &mut Value) {
    let referenced_schemas: Map<String, Value> = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let properties = schemas
        .values_mut()
        .filter_map(|schema| schema.get_mut("properties").and_then(Value::as_object_mut))
        .flat_map(|properties| properties.values_mut());
    for property in properties.filter_map(Value::as_object_mut) {
        let nullable = property.get("nullable") == Some(&Value::Bool(true));
        if !nullable || property.contains_key("type") {
            continue;
        }
        let Some(Value::Array(all_of)) = property.get_mut("allOf") else {
            continue;
        };
        all_of.retain(|part| part.get("$ref").is_some());
        let Some(referenced) = all_of
            .iter()
            .filter_map(|part| part["$ref"].as_str())
            .filter_map(|reference| reference.strip_prefix("#/components/schemas/"))
            .find_map(|name| referenced_schemas.get(name))
        else {
            continue;
        };
        if let Some(Value::Array(values)) = referenced.get("enum") {
            let mut values = values.clone();
            values.push(Value::Null);
            property.remove("allOf");
            property.insert("enum".to_owned(), Value::Array(values));
        }
        if let Some(kind) = referenced.get("type") {
            property.insert("type".to_owned(), kind.clone());
        }
    }
}

/// Sort keys such as `-created_at` make poor identifiers in generated code; name them
/// (`created_at_desc`) with the `x-enum-varnames` extension that generators read.
fn name_enum_values(spec: &mut Value) {
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for schema in schemas.values_mut() {
        let Some(values) = schema.get("enum").and_then(Value::as_array) else {
            continue;
        };
        if !values
            .iter()
            .any(|value| value.as_str().is_some_and(|text| text.starts_with('-')))
        {
            continue;
        }
        let names: Vec<Value> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|value| match value.strip_prefix('-') {
                Some(key) => json!(format!("{key}_desc")),
                None => json!(value),
            })
            .collect();
        schema["x-enum-varnames"] = Value::Array(names);
    }
}

/// Operations without a security requirement say so explicitly (`security: []`), so that
/// nobody reads a missing requirement as an oversight.
fn mark_public_operations(spec: &mut Value) {
    for operation in operations(spec) {
        operation.entry("security").or_insert_with(|| json!([]));
    }
}

/// The query step (`layers::query`) refuses a query parameter that an operation does not
/// declare, even on an operation that declares none: each operation says it may answer 422.
fn declare_query_refusals(spec: &mut Value) {
    for operation in operations(spec) {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if responses.contains_key("422") {
            continue;
        }
        responses.insert(
            "422".into(),
            json!({
                "description": "This operation takes no query parameter, and one was given: \
                    `errors` names it.",
                "content": {
                    "application/json; charset=utf-8": {
                        "schema": {"$ref": "#/components/schemas/ErrorBody"}
                    }
                }
            }),
        );
        // In order of status, as poem-openapi writes them.
        let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
        sorted.sort_by(|(a, _), (b, _)| a.cmp(b));
        responses.extend(sorted);
    }
}

fn add_links(spec: &mut Value) {
    for operation in operations(spec) {
        let Some(id) = operation.get("operationId").and_then(Value::as_str) else {
            continue;
        };
        let Some((_, targets)) = LINKS.iter().find(|(create, _)| *create == id) else {
            continue;
        };
        let links: Map<String, Value> = targets
            .iter()
            .map(|(name, target)| {
                (
                    (*name).to_owned(),
                    json!({"operationId": target, "parameters": {"id": "$response.body#/id"}}),
                )
            })
            .collect();
        let created = operation
            .get_mut("responses")
            .and_then(|responses| responses.get_mut("201"));
        if let Some(created) = created.and_then(Value::as_object_mut) {
            created.insert("links".into(), Value::Object(links));
        }
    }
}

fn operations(spec: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    spec.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|path| path.values_mut())
        .filter_map(Value::as_object_mut)
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;
    use crate::domain::text;

    fn patterns(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(pattern)) = map.get("pattern") {
                    found.push(pattern.clone());
                }
                map.values().for_each(|value| patterns(value, found));
            }
            Value::Array(values) => values.iter().for_each(|value| patterns(value, found)),
            _ => {}
        }
    }

    #[test]
    fn every_free_text_field_shows_the_domain_pattern() {
        let mut found = Vec::new();
        patterns(&document(), &mut found);
        let free_text: Vec<&String> = found
            .iter()
            .filter(|pattern| pattern.contains(r"\x7F-\x9F"))
            .collect();
        assert!(!free_text.is_empty());
        for pattern in free_text {
            assert_eq!(pattern, text::PATTERN);
        }
    }

    #[test]
    fn the_pattern_refuses_exactly_what_the_domain_refuses() {
        let pattern = Regex::new(text::PATTERN).unwrap();
        for c in (0..=0x3_0000).filter_map(char::from_u32) {
            assert_eq!(
                pattern.is_match(&format!("a{c}")),
                !text::is_refused(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }
}
