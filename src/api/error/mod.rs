//! The one error body of the API, and the errors handlers fail with.
//!
//! Handlers fail with [`ApiError`]. An operation's error type is [`Failure<S>`] (in `failure`),
//! where `S` is a set of [`status`] bits: it puts exactly those statuses, each with the
//! [`ErrorBody`] schema, into the operation's entry in the spec, so generated clients get typed
//! errors.

mod failure;

use std::collections::BTreeMap;

pub use failure::{Failure, status};
use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{Object, types::Example};

use crate::{
    domain::FieldErrors,
    service::{ServiceError, rate_limit::Decision},
};

/// The body of every error response, from a handler or from the framework.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub message: String,
    /// What went wrong, for a program: stable across releases.
    pub code: String,
    /// Validation failures by field, in the Laravel style (422 only).
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

impl Example for ErrorBody {
    fn example() -> Self {
        Self {
            message: "The given data was invalid.".into(),
            code: "validation_failed".into(),
            errors: Some(BTreeMap::from([(
                "email".into(),
                vec!["The email field must be a valid email address.".into()],
            )])),
        }
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    errors: Option<FieldErrors>,
    allow: Option<String>,
    rate_limit: Option<Decision>,
    /// Seconds for `Retry-After` on a 503.
    retry_after: u64,
    storage_failure: Option<String>,
}

/// What a 503 says in `Retry-After` when nothing better is known.
const RETRY_UNAVAILABLE_SECS: u64 = 5;

/// Carried by a response whose request found SQLite's files failing, so that the storage layer
/// breaks the storage for every later request.
#[derive(Debug, Clone)]
pub struct StorageFailure(pub String);

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: None,
            allow: None,
            rate_limit: None,
            retry_after: RETRY_UNAVAILABLE_SECS,
            storage_failure: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "A valid bearer token is required.",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This action is unauthorized.",
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn method_not_allowed(allow: Option<String>) -> Self {
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This method is not supported for this route.",
        );
        error.allow = allow;
        error
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is larger than 1 MiB.",
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    pub fn validation(errors: FieldErrors) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The given data was invalid.",
        );
        error.errors = Some(errors);
        error
    }

    pub fn too_many_requests(decision: Decision) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!(
                "Too many attempts. Try again in {} seconds.",
                decision.reset_secs()
            ),
        );
        error.rate_limit = Some(decision);
        error
    }

    pub fn uri_too_long() -> Self {
        Self::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "The request URI is longer than 8 KiB.",
        )
    }

    pub fn headers_too_large() -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "The request headers are larger than 32 KiB.",
        )
    }

    pub fn timed_out() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            "The request took too long and was abandoned. Try again.",
        )
    }

    pub fn cors_refused() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cors_origin_refused",
            "This origin may not call the API.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Quote the X-Request-Id header if you report it.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The service is temporarily unavailable. Try again shortly.",
        )
    }

    /// Too much password work is queued: this request is turned away at once.
    pub fn busy(retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            format!("The server is busy. Try again in {seconds} seconds."),
        );
        error.retry_after = seconds.max(1);
        error
    }

    pub fn storage_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "The database's files failed; this instance cannot serve this request until it is \
             repaired and restarted.",
        )
    }

    /// Any other status the framework produced, with a generic sentence.
    pub fn other(status: StatusCode) -> Self {
        Self::new(
            status,
            "bad_request",
            status.canonical_reason().unwrap_or("Bad request"),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Validation(errors) => Self::validation(errors),
            ServiceError::Unauthenticated => Self::unauthenticated(),
            ServiceError::Forbidden => Self::forbidden(),
            ServiceError::NotFound => Self::not_found("No such resource."),
            ServiceError::Conflict { code, message } => Self::conflict(code, message),
            ServiceError::RateLimited(decision) => Self::too_many_requests(decision),
            ServiceError::Busy { retry_after } => Self::busy(retry_after),
            ServiceError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::unavailable()
            }
            ServiceError::StorageFailed { problem, cause } => {
                tracing::warn!(error = %cause, "database unavailable");
                Self {
                    storage_failure: Some(problem),
                    ..Self::storage_unavailable()
                }
            }
            ServiceError::Unexpected(cause) => {
                // `{:#}` prints the whole context chain, once, inside the request's span.
                tracing::error!(error = format!("{cause:#}"), "unexpected error");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: self.message,
            code: self.code.to_owned(),
            errors: self.errors.map(FieldErrors::into_map),
        };
        let mut response = poem_openapi::payload::Json(body)
            .with_status(self.status)
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                poem::http::header::WWW_AUTHENTICATE,
                poem::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(allow) = self.allow.and_then(|allow| allow.parse().ok()) {
            response
                .headers_mut()
                .insert(poem::http::header::ALLOW, allow);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(poem::http::header::RETRY_AFTER, self.retry_after.into());
        }
        if let Some(problem) = self.storage_failure {
            response.extensions_mut().insert(StorageFailure(problem));
        }
        if let Some(decision) = self.rate_limit {
            let headers = response.headers_mut();
            headers.insert(
                poem::http::header::RETRY_AFTER,
                decision.reset_secs().into(),
            );
            set_rate_limit_headers(headers, &decision);
        }
        response
    }
}

/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) for `decision`.
pub fn set_rate_limit_headers(headers: &mut poem::http::HeaderMap, decision: &Decision) {
    headers.insert("ratelimit-limit", decision.limit.into());
    headers.insert("ratelimit-remaining", decision.remaining.into());
    headers.insert("ratelimit-reset", decision.reset_secs().into());
}

impl From<ApiError> for poem::Error {
    fn from(err: ApiError) -> Self {
        poem::Error::from_response(err.into_response())
    }
}
