//! The OpenAPI document: committed, served, and complete enough to generate typed clients.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

/// The operations an API token cannot call: a signed-in session is their point.
const SESSION_ONLY: [&str; 8] = [
    "session_delete",
    "email_verification_send",
    "session_list",
    "session_revoke",
    "session_revoke_others",
    "token_create",
    "token_list",
    "token_delete",
];

#[test]
fn the_committed_spec_is_what_the_code_produces() {
    assert!(
        COMMITTED == comptoir::api::spec_json(),
        "openapi/openapi.json is out of date: run `make spec` and commit the result"
    );
}

#[tokio::test]
async fn the_live_spec_and_swagger_ui_are_served() {
    let app = spawn_app().await;
    let json = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::OK);
    assert!(
        json.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(json.text().await.unwrap(), COMMITTED);

    let yaml = app
        .client
        .get(format!("{}/openapi.yaml", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(yaml.status(), StatusCode::OK);
    assert_eq!(yaml.text().await.unwrap(), comptoir::api::spec_yaml());

    let docs = app
        .client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.unwrap();
    assert!(html.contains("SwaggerUIBundle") && html.contains("BearerAuth"));

    let root = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert!(root.status().is_redirection());
    assert_eq!(root.headers()["location"], "/docs");
}

#[test]
fn every_operation_has_an_id_one_tag_a_summary_and_typed_responses() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(spec["servers"][0]["url"], "/");
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    let mut operation_ids = Vec::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(id.contains('_'), "{id} is not resource_verb");
            operation_ids.push(id.to_owned());
            assert_eq!(
                operation["tags"].as_array().map(Vec::len),
                Some(1),
                "{id} needs one tag"
            );
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id} needs a summary"
            );
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status == "204" || status == "304" {
                    assert!(
                        response.get("content").is_none(),
                        "{id} {status} has a body"
                    );
                    continue;
                }
                let schema = &response["content"]["application/json; charset=utf-8"]["schema"];
                assert!(schema.is_object(), "{id} {status} has no JSON schema");
                let is_error = status.starts_with('4') || status.starts_with('5');
                // The health check's and the readiness probe's 503 carry their report; the token
                // endpoint's own refusals carry RFC 6749's fields too.
                let expected = if id == "oauth_token_create"
                    && ["400", "401", "415"].contains(&status.as_str())
                {
                    "#/components/schemas/OAuthError"
                } else {
                    "#/components/schemas/ErrorBody"
                };
                let is_report =
                    status == "503" && ["/health", "/health/ready"].contains(&path.as_str());
                if is_error && !is_report {
                    assert_eq!(schema["$ref"], expected, "{id} {status}");
                }
            }
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{id} must say which security it needs, if none"));
            let secured = security
                .iter()
                .any(|requirement| requirement.as_object().is_some_and(|r| !r.is_empty()));
            // Refreshing takes no bearer, but its 401 says the refresh token in the body is bad.
            let bearer_401 = &operation["responses"]["401"]["content"]["application/json; charset=utf-8"]
                ["schema"]["$ref"];
            let bearer_401 =
                id != "token_refresh" && bearer_401 == "#/components/schemas/ErrorBody";
            assert_eq!(
                secured, bearer_401,
                "{id}: bearer operations, and only they, declare a bearer 401"
            );
            if secured {
                // The catalogue's reads take a token when there is one (an admin sees more),
                // and none otherwise: `{}` last says "or none". API tokens are taken but where
                // a signed-in session is the point.
                let optional = ["product_list", "product_view"].contains(&id);
                let mut expected = json!([{"BearerAuth": []}, {"OAuth2Password": []}]);
                if !SESSION_ONLY.contains(&id) {
                    expected
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"ApiToken": []}));
                }
                if optional {
                    expected.as_array_mut().unwrap().push(json!({}));
                }
                assert_eq!(
                    security,
                    expected.as_array().unwrap(),
                    "{id}: a pasted token or Swagger UI's password sign-in, either will do"
                );
            }
        }
    }
    let flow = &spec["components"]["securitySchemes"]["OAuth2Password"]["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/api/oauth/token");
    assert!(
        flow["scopes"].is_object(),
        "OpenAPI 3.0 requires scopes, even none"
    );
    assert!(spec["paths"]["/api/oauth/token"]["post"].is_object());
    let mut unique = operation_ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        operation_ids.len(),
        "operation ids are unique"
    );
}

/// Every limit the spec publishes (`maxLength`, `minLength`, `maximum`, `maxItems`) is one the
/// domain declares: the attributes that put them in the spec must be literals, so this is what
/// keeps the two from drifting apart.
#[test]
fn every_limit_in_the_spec_is_the_one_the_domain_declares() {
    use comptoir::domain::{
        ability::*,
        account::*,
        idempotency::MAX_KEY_CHARS,
        listing::*,
        order::*,
        product::*,
        session::*,
        webhook::{EventType, MAX_URL_CHARS, MAX_WEBHOOK_DESCRIPTION_CHARS},
    };
    let document: Value = serde_json::from_str(COMMITTED).unwrap();
    let expected = |field: &str, keyword: &str| -> Option<u64> {
        let limit = match (field, keyword) {
            ("name", "maxLength") => MAX_NAME_CHARS,
            // A token request's `username` is an email.
            ("email" | "username", "maxLength") => MAX_EMAIL_BYTES,
            ("password" | "password_confirmation", "maxLength") => MAX_PASSWORD_BYTES,
            ("password", "minLength") => MIN_PASSWORD_CHARS,
            (
                "LoginRequest.password" | "OAuthTokenRequest.password" | "current_password",
                "maxLength",
            ) => MAX_CHECKED_PASSWORD_CHARS,
            ("token", "maxLength") => MAX_RESET_TOKEN_CHARS,
            ("product", "maxLength") => MAX_PRODUCT_CHARS,
            ("ProductRequest.name" | "UpdateProductRequest.name", "maxLength") => {
                MAX_PRODUCT_NAME_CHARS
            }
            ("sku", "maxLength") => MAX_SKU_CHARS,
            ("description", "maxLength") => MAX_DESCRIPTION_CHARS,
            ("price_cents", "maximum") => return u64::try_from(MAX_PRICE_CENTS).ok(),
            ("stock", "maximum") => return u64::try_from(MAX_STOCK).ok(),
            ("notes", "maxLength") => MAX_NOTES_CHARS,
            ("items", "maxItems") => MAX_ITEMS,
            ("quantity", "maximum") => return u64::try_from(MAX_QUANTITY).ok(),
            ("unit_price_cents", "maximum") => return u64::try_from(MAX_UNIT_PRICE_CENTS).ok(),
            ("per_page", "maximum") => return Some(MAX_PER_PAGE),
            ("page", "maximum") => return Some(MAX_PAGE),
            ("cursor", "maxLength") => MAX_CURSOR_CHARS,
            ("q", "maxLength") => MAX_SEARCH_CHARS,
            ("device_name", "maxLength") => MAX_DEVICE_NAME_CHARS,
            ("refresh_token", "maxLength") => MAX_REFRESH_TOKEN_CHARS,
            ("Idempotency-Key", "maxLength") => MAX_KEY_CHARS,
            ("abilities", "maxItems") => MAX_ABILITIES,
            ("url", "maxLength") => MAX_URL_CHARS,
            ("events", "maxItems") => EventType::ALL.len(),
            (
                "CreateWebhookRequest.description" | "UpdateWebhookRequest.description",
                "maxLength",
            ) => MAX_WEBHOOK_DESCRIPTION_CHARS,
            ("expires_in", "maximum") => return Some(MAX_TOKEN_LIFETIME_SECS),
            _ => return None,
        };
        u64::try_from(limit).ok()
    };
    let mut checked = 0;
    let mut check = |place: &str, field: &str, schema: &Value| {
        for keyword in ["maxLength", "minLength", "maximum", "maxItems"] {
            let Some(published) = schema.get(keyword).and_then(Value::as_f64) else {
                continue;
            };
            // A lower bound of 0 or 1 is the type's, not a limit of the domain.
            if keyword == "minLength" && published <= 1.0 {
                continue;
            }
            let qualified = format!("{place}.{field}");
            let declared = expected(&qualified, keyword).or_else(|| expected(field, keyword));
            #[allow(clippy::cast_precision_loss)]
            let declared = declared.map(|limit| limit as f64);
            assert_eq!(
                declared,
                Some(published),
                "{qualified}: the spec says {keyword} {published}; declare it in the domain"
            );
            checked += 1;
        }
    };
    for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            check(name, field, property);
        }
    }
    for (path, operations) in document["paths"].as_object().unwrap() {
        for operation in operations.as_object().unwrap().values() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                // `$ref`s name the shared header parameters, which have no limits.
                let Some(name) = parameter["name"].as_str() else {
                    continue;
                };
                check(path, name, &parameter["schema"]);
            }
        }
    }
    assert!(checked >= 30, "only {checked} limits found in the spec");
}
