//! What wraps every request: its id, the client's address, limits on size, rate and time,
//! CORS, security headers, a span and a log line, and one JSON body for every error,
//! including those the framework raises before a handler runs.

use std::{net::IpAddr, sync::Arc, time::Instant};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    error::{MethodNotAllowedError, NotFoundError},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use tracing::{Instrument, field::Empty};

use super::error::{ApiError, StorageFailure, set_rate_limit_headers};
use crate::{
    config::{HttpSettings, TrustedProxy},
    domain::FieldErrors,
    service::{
        health::Storage,
        password_hasher::Claimant,
        rate_limit::{Decision, RateLimits},
    },
};

const REQUEST_ID: &str = "x-request-id";
const MAX_URI_BYTES: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper lets up to 256 through (src/http_server.rs), so that this answer is ours.
const MAX_HEADER_COUNT: usize = 100;

/// The address of the client, as far as the socket and the trusted proxies tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// This client, as the bcrypt queue counts its share.
    pub fn claimant(self) -> Claimant {
        Claimant::address(self.0)
    }
}

/// Everything the middleware needs, built once at start-up.
pub struct Policy {
    pub routes: Routes,
    pub limits: RateLimits,
    pub storage: Storage,
    pub http: HttpSettings,
}

/// The routes the service answers, by their template in the spec's style (`/api/users/{id}`):
/// what a log line calls a request, and the `Allow` header of a 405.
#[derive(Debug, Default)]
pub struct Routes(Vec<Route>);

#[derive(Debug)]
struct Route {
    template: String,
    segments: Vec<String>,
    methods: String,
}

impl Routes {
    /// `routes` holds templates and their methods.
    pub fn new(routes: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        Self(
            routes
                .into_iter()
                .map(|(template, methods)| Route {
                    segments: template.split('/').map(str::to_owned).collect(),
                    methods: methods.join(", "),
                    template,
                })
                .collect(),
        )
    }

    fn matching(&self, path: &str) -> Option<&Route> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0.iter().find(|route| {
            route.segments.len() == segments.len()
                && route
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(expected, actual)| expected.starts_with('{') || expected == actual)
        })
    }

    /// The template that `path` matches, e.g. `/api/orders/{id}` for `/api/orders/17`.
    fn template(&self, path: &str) -> Option<&str> {
        self.matching(path).map(|route| route.template.as_str())
    }

    fn allowed(&self, path: &str) -> Option<String> {
        self.matching(path).map(|route| route.methods.clone())
    }
}

/// An incoming id is echoed only when it is short and plain, so that it is safe in logs.
fn sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The client: the socket's peer, unless that peer is a trusted proxy, in which case the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
fn client_address(request: &Request, trusted: &[TrustedProxy]) -> IpAddr {
    let peer = request
        .remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), |addr| {
            addr.ip().to_canonical()
        });
    let is_trusted = |address: IpAddr| trusted.iter().any(|proxy| proxy.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .map(|address| address.to_canonical())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|address| !is_trusted(**address))
        .or_else(|| forwarded.first())
        .copied()
        .unwrap_or(peer)
}

fn headers_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

pub async fn observe<E: Endpoint>(
    endpoint: Arc<E>,
    mut request: Request,
    policy: Arc<Policy>,
) -> poem::Result<Response> {
    let request_id = request
        .header(REQUEST_ID)
        .filter(|id| sane_request_id(id))
        .map_or_else(|| crate::service::random_hex(16), str::to_owned);
    let method = request.method().clone();
    // The path only: a query string can hold a reset token.
    let path = request.uri().path().to_owned();
    let client = client_address(&request, &policy.http.trusted_proxies);
    request.extensions_mut().insert(ClientAddress(client));
    let origin = request.header(header::ORIGIN).map(str::to_owned);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %path,
        client = %client,
        route = Empty,
        status = Empty,
        latency_ms = Empty,
        user_id = Empty,
    );
    let started = Instant::now();
    let is_api = path.starts_with("/api/");
    // The reset page's form does what `POST /api/reset-password` does: it spends the same
    // per-address budget, and a refusal is the API's JSON 429, since only a script gets there.
    let is_limited = is_api || (method == Method::POST && path == "/reset-password");

    let mut rate_limit = None;
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |uri| uri.as_str().len());
    let mut response = if uri_bytes > MAX_URI_BYTES {
        ApiError::uri_too_long().into_response()
    } else if request.headers().len() > MAX_HEADER_COUNT
        || headers_size(request.headers()) > MAX_HEADER_BYTES
    {
        ApiError::headers_too_large().into_response()
    } else if let Some(preflight) = cors_preflight(&request, origin.as_deref(), &policy.http) {
        preflight
    } else {
        if is_limited {
            rate_limit = policy.limits.api(client).instrument(span.clone()).await;
        }
        // `/health` reports a broken storage itself.
        let needs_database = is_api || path == "/reset-password";
        if let Some(decision) = rate_limit.filter(|decision| !decision.allowed) {
            ApiError::too_many_requests(decision).into_response()
        } else if needs_database && span.in_scope(|| policy.storage.check()).is_err() {
            ApiError::storage_unavailable().into_response()
        } else {
            let call = tokio::time::timeout(policy.http.request_timeout, endpoint.call(request));
            match call.instrument(span.clone()).await {
                Ok(Ok(response)) => response.into_response(),
                Ok(Err(err)) => {
                    span.in_scope(|| error_response(err, &method, &path, &policy.routes))
                }
                Err(_) => {
                    span.in_scope(|| tracing::warn!("request timed out"));
                    ApiError::timed_out().into_response()
                }
            }
        }
    };
    if let Some(StorageFailure(problem)) = response.extensions().get() {
        span.in_scope(|| policy.storage.trip(problem));
    }
    // The spec's name for the route, never the raw path: ids stay out of the route field.
    if let Some(route) = policy.routes.template(&path) {
        span.record("route", route);
    }

    let allowed_origin = origin.filter(|origin| policy.http.cors_origins.contains(origin));
    add_headers(
        response.headers_mut(),
        &request_id,
        is_api,
        rate_limit,
        allowed_origin.as_deref(),
    );

    let status = response.status();
    span.record("status", status.as_u16());
    span.record(
        "latency_ms",
        (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
    );
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!("request failed");
        } else {
            tracing::info!("request finished");
        }
    });
    Ok(response)
}

/// What every response carries: its request id, `nosniff`; on the API, `no-store` and the
/// rate limit's figures; for an allowed origin, its CORS headers.
fn add_headers(
    headers: &mut HeaderMap,
    request_id: &str,
    is_api: bool,
    rate_limit: Option<Decision>,
    allowed_origin: Option<&str>,
) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_api {
        // Tokens and personal data: never kept by a cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // A 429 from a stricter limit (login, register, …) already describes the limit that
        // refused it; the API-wide figures would contradict it.
        if let Some(decision) = rate_limit.filter(|decision| decision.allowed)
            && !headers.contains_key("ratelimit-limit")
        {
            set_rate_limit_headers(headers, &decision);
        }
    }
    if let Some(origin) = allowed_origin {
        allow_origin(headers, origin);
    }
}

/// Answers a CORS preflight when CORS is on: allowed origins get their permissions, others a
/// 403. With CORS off, a preflight is an ordinary request (and a 405).
fn cors_preflight(
    request: &Request,
    origin: Option<&str>,
    http: &HttpSettings,
) -> Option<Response> {
    let origin = origin?;
    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if !is_preflight || http.cors_origins.is_empty() {
        return None;
    }
    if !http.cors_origins.iter().any(|allowed| allowed == origin) {
        return Some(ApiError::cors_refused().into_response());
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow_origin(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, x-request-id"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Some(response)
}

fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(origin) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-request-id, location, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset",
        ),
    );
}

/// Turns a framework error into the API's JSON error; errors that handlers built pass as they are.
fn error_response(err: poem::Error, method: &Method, path: &str, routes: &Routes) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let api_error = if err.is::<NotFoundError>() {
        ApiError::not_found(format!("No route matches {method} {path}."))
    } else if err.is::<MethodNotAllowedError>() {
        ApiError::method_not_allowed(routes.allowed(path))
    } else if err.is::<AuthorizationError>() {
        ApiError::unauthenticated()
    } else if let Some(ContentTypeError::NotSupported { content_type }) = err.downcast_ref() {
        ApiError::unsupported_media_type(format!(
            "Content-Type `{content_type}` is not supported: send application/json."
        ))
    } else if err.is::<ContentTypeError>() {
        ApiError::unsupported_media_type(
            "A Content-Type header is required: send application/json.",
        )
    } else if let Some(param) = err.downcast_ref::<ParseParamError>() {
        // A query parameter out of its range is a validation failure, like a bad body field.
        ApiError::validation(FieldErrors::single(
            param.name,
            format!("The {} parameter is invalid: {}.", param.name, param.reason),
        ))
    } else if err.is::<ParsePathError>() {
        // poem-openapi names path parameters `param0`…; every one in this API is an id.
        ApiError::bad_request(
            "invalid_path_parameter",
            "The id in the path must be an integer.",
        )
    } else if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
        ApiError::bad_request(
            "malformed_body",
            format!("The request body is invalid: {}.", payload.reason),
        )
    } else if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large()
    } else if err.status().is_server_error() {
        tracing::error!(error = %err, "unhandled framework error");
        ApiError::internal()
    } else {
        ApiError::other(err.status())
    };
    api_error.into_response()
}
