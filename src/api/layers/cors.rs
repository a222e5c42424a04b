//! CORS by allow-list: a preflight from an allowed origin is answered here, one from any other
//! origin gets a 403; responses to an allowed origin carry its headers. With no origins
//! configured, CORS is off and a preflight is an ordinary request (a 405).

use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};

use crate::api::error::ApiError;

pub async fn layer<E: Endpoint>(
    next: Arc<E>,
    request: Request,
    origins: Arc<Vec<String>>,
) -> poem::Result<Response> {
    let origin = request
        .header(header::ORIGIN)
        .filter(|origin| origins.iter().any(|allowed| allowed == origin))
        .map(str::to_owned);
    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && request.headers().contains_key(header::ORIGIN);
    if is_preflight && !origins.is_empty() {
        let Some(origin) = origin else {
            return Ok(ApiError::cors_refused().into_response());
        };
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        allow_origin(headers, &origin);
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
        return Ok(response);
    }
    let mut response = next.call(request).await?.into_response();
    if let Some(origin) = origin {
        allow_origin(response.headers_mut(), &origin);
    }
    Ok(response)
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
