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
    domain::idempotency::HEADER as IDEMPOTENCY_KEY,
    domain::{FieldErrors, Message, ability::Ability},
    i18n::{self, Locale},
    service::{
        RefreshProblem, ServiceError, TokenProblem, idempotency::StoredResponse,
        rate_limit::Decision,
    },
};

/// The header that marks a response answered again for a repeated `Idempotency-Key`.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

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
        let english = Locale::english();
        Self {
            message: i18n::text(english, &Message::new("error-validation")),
            code: "validation_failed".into(),
            errors: Some(BTreeMap::from([(
                "email".into(),
                vec![i18n::text(english, &Message::new("email-taken"))],
            )])),
        }
    }
}

/// An error on its way to the client: its sentence is written in the request's language when
/// it becomes a response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Message,
    errors: Option<FieldErrors>,
    allow: Option<String>,
    rate_limit: Option<Decision>,
    /// Seconds for `Retry-After` on a 503.
    retry_after: u64,
    storage_failure: Option<String>,
    /// RFC 6750's `error_description` of a 401, when the token itself was at fault.
    token_problem: Option<Message>,
    /// The stored body of an error answered again for a repeated `Idempotency-Key`, sent as
    /// it was the first time.
    replayed_body: Option<String>,
}

/// What a 503 says in `Retry-After` when nothing better is known.
const RETRY_UNAVAILABLE_SECS: u64 = 5;

/// Carried by a response whose request found SQLite's files failing, so that the storage layer
/// breaks the storage for every later request.
#[derive(Debug, Clone)]
pub struct StorageFailure(pub String);

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: Message) -> Self {
        Self {
            status,
            code,
            message,
            errors: None,
            allow: None,
            rate_limit: None,
            retry_after: RETRY_UNAVAILABLE_SECS,
            storage_failure: None,
            token_problem: None,
            replayed_body: None,
        }
    }

    pub fn bad_request(code: &'static str, message: Message) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// No usable `Authorization` header: `Bearer` alone in `WWW-Authenticate`, as RFC 6750 asks
    /// of a request that sent no credentials.
    pub fn unauthenticated(message: Message) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// A bearer token that is not (or no longer) good: `error="invalid_token"` with a
    /// description.
    pub fn invalid_token(problem: TokenProblem) -> Self {
        let message = Message::new(match problem {
            TokenProblem::Malformed => "error-token-malformed",
            TokenProblem::ForeignSignature => "error-token-foreign-signature",
            TokenProblem::Expired => "error-token-expired",
            TokenProblem::Revoked => "error-token-revoked",
            TokenProblem::UnknownApiToken => "error-api-token-unknown",
            TokenProblem::ExpiredApiToken => "error-api-token-expired",
        });
        let mut error = Self::unauthenticated(message.clone());
        error.token_problem = Some(message);
        error
    }

    /// A refresh token that is not (or no longer) good.
    pub fn refresh_refused(problem: RefreshProblem) -> Self {
        let (code, message) = match problem {
            RefreshProblem::Invalid => ("invalid_refresh_token", "error-refresh-token-invalid"),
            RefreshProblem::Reused => ("refresh_token_reused", "error-refresh-token-reused"),
        };
        let message = Message::new(message);
        let mut error = Self::new(StatusCode::UNAUTHORIZED, code, message.clone());
        error.token_problem = Some(message);
        error
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            Message::new("error-forbidden"),
        )
    }

    pub fn missing_ability(ability: Ability) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "missing_ability",
            Message::new("error-missing-ability").with("ability", ability.as_str()),
        )
    }

    pub fn session_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "session_required",
            Message::new("error-session-required"),
        )
    }

    pub fn email_not_verified() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "email_not_verified",
            Message::new("error-email-not-verified"),
        )
    }

    pub fn not_found(message: Message) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn method_not_allowed(allow: Option<String>) -> Self {
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            Message::new("error-method-not-allowed"),
        );
        error.allow = allow;
        error
    }

    pub fn conflict(code: &'static str, message: Message) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            Message::new("error-precondition-failed"),
        )
    }

    /// An `Idempotency-Key` sent again with another request body: named in `errors` like a
    /// bad field.
    pub fn idempotency_key_reused() -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            Message::new("error-validation"),
        );
        error.errors = Some(FieldErrors::single(
            IDEMPOTENCY_KEY,
            Message::new("idempotency-key-reused").with("header", IDEMPOTENCY_KEY),
        ));
        error
    }

    /// A stored error response, answered again as it was.
    pub fn replayed(response: StoredResponse) -> Self {
        let status =
            StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = Self::new(status, "", Message::new("error-other"));
        error.replayed_body = Some(response.body);
        error
    }

    /// This error as a keyed request stores it, to answer a repeat with.
    pub fn to_stored(&self) -> StoredResponse {
        StoredResponse {
            status: self.status.as_u16(),
            body: poem_openapi::types::ToJSON::to_json_string(&self.body()),
        }
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            Message::new("error-payload-too-large"),
        )
    }

    pub fn unsupported_media_type(message: Message) -> Self {
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
            Message::new("error-validation"),
        );
        error.errors = Some(errors);
        error
    }

    pub fn too_many_requests(decision: Decision) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            Message::new("error-too-many-requests").with("seconds", decision.reset_secs()),
        );
        error.rate_limit = Some(decision);
        error
    }

    pub fn uri_too_long() -> Self {
        Self::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            Message::new("error-uri-too-long"),
        )
    }

    pub fn headers_too_large() -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            Message::new("error-headers-too-large"),
        )
    }

    pub fn timed_out() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            Message::new("error-timed-out"),
        )
    }

    pub fn cors_refused() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cors_origin_refused",
            Message::new("error-cors-refused"),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            Message::new("error-internal"),
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            Message::new("error-unavailable"),
        )
    }

    /// Too much password work is queued: this request is turned away at once.
    pub fn busy(retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            Message::new("error-busy").with("seconds", seconds.max(1)),
        );
        error.retry_after = seconds.max(1);
        error
    }

    pub fn storage_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            Message::new("error-storage-unavailable"),
        )
    }

    /// Any other status the framework produced, with a generic sentence.
    pub fn other(status: StatusCode) -> Self {
        Self::new(
            status,
            "bad_request",
            Message::new("error-other").with("status", u64::from(status.as_u16())),
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
            ServiceError::Unauthenticated(problem) => Self::invalid_token(problem),
            ServiceError::RefreshRefused(problem) => Self::refresh_refused(problem),
            ServiceError::Forbidden => Self::forbidden(),
            ServiceError::MissingAbility(ability) => Self::missing_ability(ability),
            ServiceError::SessionRequired => Self::session_required(),
            ServiceError::EmailNotVerified => Self::email_not_verified(),
            ServiceError::NotFound => Self::not_found(Message::new("error-not-found")),
            ServiceError::Conflict { code, message } => Self::conflict(code, message),
            ServiceError::PreconditionFailed => Self::precondition_failed(),
            ServiceError::IdempotencyKeyReused => Self::idempotency_key_reused(),
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

impl ApiError {
    /// The body, in the request's language.
    fn body(&self) -> ErrorBody {
        let locale = i18n::current();
        ErrorBody {
            message: i18n::text(locale, &self.message),
            code: self.code.to_owned(),
            errors: self.errors.as_ref().map(|errors| {
                errors
                    .iter()
                    .map(|(field, messages)| {
                        let texts = messages
                            .iter()
                            .map(|message| i18n::text(locale, message))
                            .collect();
                        (field.to_owned(), texts)
                    })
                    .collect()
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(body) = self.replayed_body {
            return Response::builder()
                .status(self.status)
                .content_type("application/json; charset=utf-8")
                .header(IDEMPOTENT_REPLAYED, "true")
                .body(body);
        }
        let mut response = poem_openapi::payload::Json(self.body())
            .with_status(self.status)
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                poem::http::header::WWW_AUTHENTICATE,
                www_authenticate(self.token_problem.as_ref()),
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

/// `Bearer`, or for a bad token RFC 6750's `Bearer error="invalid_token", error_description="…"`.
/// The description is the English sentence: a header value is ASCII, and this one is for the
/// developer reading the exchange, the body being for the client's user.
fn www_authenticate(problem: Option<&Message>) -> poem::http::HeaderValue {
    let Some(problem) = problem else {
        return poem::http::HeaderValue::from_static("Bearer");
    };
    let description = ascii_english(problem);
    format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")
        .parse()
        .unwrap_or_else(|_| poem::http::HeaderValue::from_static("Bearer"))
}

/// `message` in English, in the printable ASCII without `"` or `\` that a quoted header value
/// and RFC 6749's `error_description` allow: curly quotes become straight ones, anything else
/// outside that set is dropped.
pub fn ascii_english(message: &Message) -> String {
    i18n::text(Locale::english(), message)
        .chars()
        .map(|c| match c {
            '“' | '”' | '’' => '\'',
            c => c,
        })
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
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
