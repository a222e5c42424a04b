//! What wraps every request: its id, its span and log line, and one JSON body for every error,
//! including those the framework raises before a handler runs.

use std::{sync::Arc, time::Instant};

use poem::{
    Endpoint, IntoResponse, PathPattern, Request, Response,
    error::{MethodNotAllowedError, NotFoundError},
    http::{HeaderValue, Method, StatusCode},
};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use tracing::{Instrument, field::Empty};

use super::error::ApiError;
use crate::domain::FieldErrors;

const REQUEST_ID: &str = "x-request-id";

/// The methods each route pattern answers, for the `Allow` header of a 405.
#[derive(Debug, Default)]
pub struct AllowedMethods(Vec<(Vec<String>, String)>);

impl AllowedMethods {
    /// `routes` holds patterns in the spec's style (`/api/users/{id}`) and their methods.
    pub fn new(routes: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        Self(
            routes
                .into_iter()
                .map(|(pattern, methods)| {
                    let segments = pattern.split('/').map(str::to_owned).collect();
                    (segments, methods.join(", "))
                })
                .collect(),
        )
    }

    fn for_path(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(pattern, _)| {
                pattern.len() == segments.len()
                    && pattern
                        .iter()
                        .zip(&segments)
                        .all(|(expected, actual)| expected.starts_with('{') || expected == actual)
            })
            .map(|(_, methods)| methods.clone())
    }
}

/// An incoming id is echoed only when it is short and plain, so that it is safe in logs.
fn sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn observe<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
    allowed: Arc<AllowedMethods>,
) -> poem::Result<Response> {
    let request_id = request
        .header(REQUEST_ID)
        .filter(|id| sane_request_id(id))
        .map_or_else(|| crate::service::random_hex(16), str::to_owned);
    let method = request.method().clone();
    // The path only: a query string can hold a reset token.
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %path,
        route = Empty,
        status = Empty,
        latency_ms = Empty,
        user_id = Empty,
    );
    let started = Instant::now();
    let (mut response, route) = match endpoint.call(request).instrument(span.clone()).await {
        Ok(response) => {
            let response = response.into_response();
            let route = response
                .data::<PathPattern>()
                .map(|PathPattern(route)| route.clone());
            (response, route)
        }
        Err(err) => {
            let route = err
                .data::<PathPattern>()
                .map(|PathPattern(route)| route.clone());
            (
                span.in_scope(|| error_response(err, &method, &path, &allowed)),
                route,
            )
        }
    };
    if let Some(route) = route.filter(|route| !route.is_empty()) {
        span.record("route", route.as_ref());
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
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

/// Turns a framework error into the API's JSON error; errors that handlers built pass as they are.
fn error_response(
    err: poem::Error,
    method: &Method,
    path: &str,
    allowed: &AllowedMethods,
) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let api_error = if err.is::<NotFoundError>() {
        ApiError::not_found(format!("No route matches {method} {path}."))
    } else if err.is::<MethodNotAllowedError>() {
        ApiError::method_not_allowed(allowed.for_path(path))
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
