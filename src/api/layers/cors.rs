//! CORS by allow-list: a preflight from an allowed origin is answered at once, one from any
//! other origin gets a 403; responses to an allowed origin carry its headers. With no origins
//! configured, CORS is off and a preflight is an ordinary request (a 405).

use poem::{
    IntoResponse, Request, Response,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};

use crate::api::error::ApiError;

/// The request's `Origin`, if it is one of `origins`.
pub fn allowed_origin(request: &Request, origins: &[String]) -> Option<String> {
    request
        .header(header::ORIGIN)
        .filter(|origin| origins.iter().any(|allowed| allowed == origin))
        .map(str::to_owned)
}

/// The answer to a preflight, when CORS is on and this is one.
pub fn preflight(request: &Request, allowed: Option<&str>, origins: &[String]) -> Option<Response> {
    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && request.headers().contains_key(header::ORIGIN);
    if !is_preflight || origins.is_empty() {
        return None;
    }
    let Some(origin) = allowed else {
        return Some(ApiError::cors_refused().into_response());
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow_origin(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "authorization, content-type, x-request-id, if-match, if-none-match, idempotency-key",
        ),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Some(response)
}

/// An allowed origin's headers on any response.
pub fn add_headers(response: &mut Response, allowed: Option<&str>) {
    if let Some(origin) = allowed {
        allow_origin(response.headers_mut(), origin);
    }
}

fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(origin) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-request-id, location, etag, retry-after, ratelimit-limit, ratelimit-remaining, \
             ratelimit-reset, idempotent-replayed",
        ),
    );
}
