//! One JSON body for every error, including those the framework raises before a handler runs
//! (unknown route, wrong method, missing token, bad content type, unparsable parameter or
//! body). Errors that handlers built pass as they are.

use poem::{
    IntoResponse, Response,
    error::{MethodNotAllowedError, NotFoundError},
    http::{Method, StatusCode},
};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use crate::{api::error::ApiError, domain::FieldErrors};

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
    pub fn template(&self, path: &str) -> Option<&str> {
        self.matching(path).map(|route| route.template.as_str())
    }

    fn allowed(&self, path: &str) -> Option<String> {
        self.matching(path).map(|route| route.methods.clone())
    }
}

/// The response, or the JSON error for what the framework raised.
pub fn to_response(
    outcome: poem::Result<Response>,
    method: &Method,
    path: &str,
    routes: &Routes,
) -> Response {
    match outcome {
        Ok(response) => response,
        Err(err) => error_response(err, method, path, routes),
    }
}

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
