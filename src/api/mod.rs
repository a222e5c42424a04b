//! The HTTP surface: poem-openapi operations (one file per tag), the documents that describe
//! them, and the layers around them.

mod auth;
mod body;
mod conditional;
mod email;
mod error;
mod health;
mod idempotency;
mod layers;
pub mod metrics;
mod oauth;
mod orders;
mod pages;
mod products;
mod security;
mod sessions;
mod spec;
mod tokens;
mod types;
mod users;
mod webhooks;

use std::sync::Arc;

use poem::{
    EndpointExt, IntoEndpoint, IntoResponse, Route,
    endpoint::BoxEndpoint,
    get, handler,
    web::{Html, Redirect},
};
use poem_openapi::{LicenseObject, OpenApiService, Tags};

use crate::{
    config::HttpSettings,
    i18n::Locale,
    service::{
        accounts::Accounts,
        api_tokens::ApiTokens,
        email_verification::EmailVerifications,
        health::{Health, Storage},
        idempotency::IdempotencyKeys,
        orders::Orders,
        password_hasher::PasswordHasher,
        password_reset::PasswordResets,
        products::Products,
        rate_limit::RateLimits,
        sessions::Sessions,
        users::Users,
        webhooks::Webhooks,
    },
};
pub use error::ErrorBody;

/// What the handlers share. poem puts a clone of it in every request, so it is one `Arc`: a
/// clone of the services themselves (keys, settings, pools) per request cost a tenth of
/// `GET /api/user`.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind the API, built once at start-up.
pub struct Services {
    pub health: Health,
    /// SQLite's files, checked before any request reaches the database.
    pub storage: Storage,
    pub sessions: Sessions,
    pub api_tokens: ApiTokens,
    pub webhooks: Webhooks,
    pub accounts: Accounts,
    pub users: Users,
    pub orders: Orders,
    pub products: Products,
    pub idempotency_keys: IdempotencyKeys,
    pub password_resets: PasswordResets,
    pub email_verifications: EmailVerifications,
    pub limits: RateLimits,
    /// bcrypt's threads, whose queue the metrics report.
    pub hasher: PasswordHasher,
    /// The language of a request that names none of ours.
    pub default_locale: Locale,
}

#[derive(Tags)]
#[oai(rename_all = "lowercase")]
enum ApiTags {
    /// Registration, login, logout, the current user, password resets and email verification.
    Auth,
    /// The user directory: admins manage every account, users their own.
    Users,
    /// Orders: owners see and change their own, admins all of them.
    Orders,
    /// The catalogue: anyone reads the active products, admins manage them.
    Products,
    /// Where an account is signed in: list the sessions, sign devices out.
    Sessions,
    /// API tokens with abilities, for the shop's other systems.
    Tokens,
    /// Where the shop's events are delivered, signed, and how each delivery went.
    Webhooks,
    /// Whether the service can serve.
    Health,
}

type Api = (
    auth::AuthApi,
    oauth::OAuthApi,
    email::EmailApi,
    sessions::SessionsApi,
    tokens::TokensApi,
    users::UsersApi,
    orders::OrdersApi,
    products::ProductsApi,
    webhooks::WebhooksApi,
    health::HealthApi,
);

const DESCRIPTION: &str = "\
Comptoir runs a shop's user accounts, catalogue and orders.

* Authenticate with `POST /api/register` or `POST /api/login`, then send the token as \
`Authorization: Bearer <access_token>` (the **Authorize** button in Swagger UI). OAuth2 clients \
get one from `POST /api/oauth/token` (RFC 6749's password and refresh_token grants), and so \
does **Authorize** with an email and a password (`OAuth2Password`): no token to copy. When it \
expires, `POST /api/token/refresh` with the `refresh_token` gives a new pair.
* Other systems (a warehouse, a back office) use API tokens (`POST /api/tokens`), sent the same \
way: each has abilities, and every operation's description names the one it needs (403 \
`missing_ability` without it). API tokens cannot make tokens, change an email or a password, or \
manage sessions (403 `session_required`).
* Every error has one JSON shape: `{\"message\", \"code\", \"errors\"}`; `errors` maps each \
bad field or query parameter to its messages, on 422 only. A query parameter that an operation \
does not declare is refused, not ignored.
* Messages for people (`message`, the entries of `errors`, `status`) come in the language that \
`Accept-Language` asks for among those the service speaks (the `Content-Language` header lists \
them); codes, field names and this document stay English.
* Lists are read by page number (`page`, with `total` and `last_page`) or by cursor: \
`cursor=start` for the first page, then each page's `meta.next_cursor` with the same filters \
and sort, until it is `null`. A cursor page counts nothing and costs the same however deep; \
a cursor works only for the list, filters, sort and account it was given for.
* Timestamps are RFC 3339 in UTC. Every response carries an `X-Request-Id` header.";

fn openapi() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            auth::AuthApi,
            oauth::OAuthApi,
            email::EmailApi,
            sessions::SessionsApi,
            tokens::TokensApi,
            users::UsersApi,
            orders::OrdersApi,
            products::ProductsApi,
            webhooks::WebhooksApi,
            health::HealthApi,
        ),
        "Comptoir",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
    .license(LicenseObject::new("MIT").url("https://opensource.org/license/mit"))
    .server("/")
}

/// The OpenAPI document as JSON, exactly as `/openapi.json` serves it.
pub fn spec_json() -> String {
    as_json(&spec::document())
}

/// The OpenAPI document as YAML, exactly as `/openapi.yaml` serves it.
pub fn spec_yaml() -> String {
    serde_yaml::to_string(&spec::document()).unwrap_or_default()
}

fn as_json(document: &serde_json::Value) -> String {
    let mut json = serde_json::to_string_pretty(document).unwrap_or_default();
    json.push('\n');
    json
}

#[handler]
fn to_docs() -> Redirect {
    Redirect::see_other("/docs")
}

/// Every route of the service, wrapped in the layers that give each request an id, a log line,
/// its limits and JSON errors.
pub fn app(state: AppState, http: &HttpSettings) -> BoxEndpoint<'static> {
    let api = openapi();
    let document = spec::document();
    let json = as_json(&document);
    let yaml = serde_yaml::to_string(&document).unwrap_or_default();
    // Swagger UI, showing the finished document rather than poem-openapi's draft of it.
    let docs = api.swagger_ui_html().replace(&api.spec(), &json);
    let mut routes: Vec<(String, Vec<String>)> = document["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, operations)| {
            let methods = operations
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, _)| method.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect();
    for path in ["/", "/docs", "/openapi.json", "/openapi.yaml"] {
        routes.push((path.to_owned(), vec!["GET".to_owned()]));
    }
    routes.push((
        "/reset-password".to_owned(),
        vec!["GET".to_owned(), "POST".to_owned()],
    ));
    routes.push((
        "/reset-password/new-link".to_owned(),
        vec!["POST".to_owned()],
    ));
    routes.push((
        "/verify-email".to_owned(),
        vec!["GET".to_owned(), "POST".to_owned()],
    ));
    let policy = Arc::new(layers::Policy {
        routes: layers::Routes::new(routes),
        queries: layers::query::Declarations::from_document(&document),
        http: http.clone(),
        limits: state.limits.clone(),
        storage: state.storage.clone(),
        default_locale: state.default_locale,
    });

    let docs_csp = pages::content_security_policy(&docs);
    // Mounted twice without stripping, so that its paths stay exactly as the spec says and
    // `/` stays free for the redirect.
    let api = Arc::new(api.into_endpoint());
    Route::new()
        .at("/", get(to_docs))
        .at(
            "/docs",
            get(poem::endpoint::make_sync(move |_| {
                Html(docs.clone())
                    .with_header(
                        poem::http::header::CONTENT_SECURITY_POLICY,
                        docs_csp.clone(),
                    )
                    .with_header(poem::http::header::CONTENT_LANGUAGE, "en")
            })),
        )
        .at(
            "/openapi.json",
            get(poem::endpoint::make_sync(move |_| {
                json.clone()
                    .with_content_type("application/json; charset=utf-8")
                    .with_header(poem::http::header::CONTENT_LANGUAGE, "en")
            })),
        )
        .at(
            "/openapi.yaml",
            get(poem::endpoint::make_sync(move |_| {
                yaml.clone()
                    .with_content_type("application/yaml; charset=utf-8")
                    .with_header(poem::http::header::CONTENT_LANGUAGE, "en")
            })),
        )
        .at(
            "/reset-password",
            get(pages::reset_form).post(pages::reset_submit),
        )
        .at(
            "/reset-password/new-link",
            poem::post(pages::new_link_submit),
        )
        .at(
            "/verify-email",
            get(pages::verify_form).post(pages::verify_submit),
        )
        .nest_no_strip("/api", api.clone())
        .nest_no_strip("/health", api)
        .data(state)
        .around(move |endpoint, request| layers::around(endpoint, request, policy.clone()))
        .map_to_response()
        // Boxed, as poem's own server does: the connection loop then moves a pointer, not the
        // whole future of every request through the routes.
        .boxed()
}
