//! One JSON body for every error, including those the framework raises before a handler runs
//! (unknown route, wrong method, missing token, bad content type, unparsable parameter or
//! body). Errors that handlers built pass as they are.

use std::sync::Arc;

use poem::{
    IntoResponse, Response,
    error::{MethodNotAllowedError, NotFoundError},
    http::{HeaderValue, Method, StatusCode},
};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use crate::{
    api::error::ApiError,
    domain::{FieldErrors, Message},
};

/// The routes the service answers, by their template in the spec's style (`/api/users/{id}`):
/// what a log line calls a request, and the `Allow` header of a 405.
#[derive(Debug, Default)]
pub struct Routes(Vec<Route>);

#[derive(Debug)]
struct Route {
    /// Shared, so that a metric's label costs no copy.
    template: Arc<str>,
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
                    template: template.into(),
                })
                .collect(),
        )
    }

    /// Every request asks, for its log line: no allocation, and a route of another depth is
    /// ruled out before any text is compared.
    fn matching(&self, path: &str) -> Option<&Route> {
        let depth = path.bytes().filter(|byte| *byte == b'/').count() + 1;
        self.0.iter().find(|route| {
            route.segments.len() == depth
                && route
                    .segments
                    .iter()
                    .zip(path.split('/'))
                    .all(|(expected, actual)| expected.starts_with('{') || expected == actual)
        })
    }

    /// The template that `path` matches, e.g. `/api/orders/{id}` for `/api/orders/17`.
    pub fn template(&self, path: &str) -> Option<&Arc<str>> {
        self.matching(path).map(|route| &route.template)
    }

    fn allowed(&self, path: &str) -> Option<String> {
        self.matching(path).map(|route| route.methods.clone())
    }
}

/// What the error mapper needs to know of the request.
pub struct Asked<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// The request's `Authorization` header, read only if a 401 must say what was wrong with
    /// it (a clone of a header value shares its bytes).
    pub authorization: Option<HeaderValue>,
}

/// What the request's `Authorization` header held, for a 401 that says what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authorization {
    Missing,
    /// `Bearer` with nothing after it.
    EmptyBearer,
    /// Another scheme (`Basic …`), no scheme at all, or a token poem-openapi could not read.
    Other,
}

impl Authorization {
    fn of(header: Option<&HeaderValue>) -> Self {
        let Some(value) = header else {
            return Self::Missing;
        };
        let value = value.to_str().unwrap_or_default().trim();
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") && credentials.trim().is_empty() {
            Self::EmptyBearer
        } else {
            Self::Other
        }
    }
}

/// The response, or the JSON error for what the framework raised.
pub fn to_response(outcome: poem::Result<Response>, asked: &Asked, routes: &Routes) -> Response {
    match outcome {
        Ok(response) => response,
        Err(err) => error_response(err, asked, routes),
    }
}

fn error_response(err: poem::Error, asked: &Asked, routes: &Routes) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let api_error = if err.is::<NotFoundError>() {
        ApiError::not_found(
            Message::new("error-route-not-found")
                .with("method", asked.method.as_str())
                .with("path", asked.path),
        )
    } else if err.is::<MethodNotAllowedError>() {
        ApiError::method_not_allowed(routes.allowed(asked.path))
    } else if err.is::<AuthorizationError>() {
        // poem-openapi found no `Bearer <token>` to check.
        ApiError::unauthenticated(Message::new(
            match Authorization::of(asked.authorization.as_ref()) {
                Authorization::Missing => "error-authorization-missing",
                Authorization::EmptyBearer => "error-authorization-empty",
                Authorization::Other => "error-authorization-not-bearer",
            },
        ))
    } else if let Some(ContentTypeError::NotSupported { content_type }) = err.downcast_ref() {
        ApiError::unsupported_media_type(
            Message::new("error-content-type-unsupported")
                .with("content_type", content_type.as_str()),
        )
    } else if err.is::<ContentTypeError>() {
        ApiError::unsupported_media_type(Message::new("error-content-type-missing"))
    } else if let Some(param) = err.downcast_ref::<ParseParamError>() {
        // The query step has checked every query parameter in full (a unit test holds it to
        // every schema of the spec), so only a header or cookie parameter could get here, and
        // no operation declares one today; poem-openapi's own wording goes to the log only.
        tracing::info!(parameter = param.name, reason = %param.reason, "parameter refused");
        ApiError::validation(FieldErrors::single(
            param.name,
            Message::new("query-invalid").with("name", param.name),
        ))
    } else if err.is::<ParsePathError>() {
        // poem-openapi names path parameters `param0`…; every one in this API is an id.
        ApiError::bad_request(
            "invalid_path_parameter",
            Message::new("error-path-id-not-integer"),
        )
    } else if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
        tracing::info!(reason = %payload.reason, "body refused");
        ApiError::bad_request("malformed_body", Message::new("error-body-unreadable"))
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
