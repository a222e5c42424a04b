//! What wraps every request, one job a file, composed in [`around`] below: the order of the
//! steps is read there, in one screen.
//!
//! The steps are plain functions called in turn by one poem `around`, not seven nested
//! middlewares: each nested layer holds the future of the ones inside it, and moving those
//! futures around cost a fifth of the cheapest request's time. poem's own middleware does not
//! meet the contract here either: its `Cors` allows every origin when given none and answers a
//! refused preflight with its own error, its `SizeLimit` reads only `Content-Length`, and its
//! `Tracing` logs without our fields.

pub mod cors;
pub mod json_errors;
pub mod language;
pub mod query;
pub mod rate_limit;
pub mod request;
pub mod size_limits;
pub mod storage;
pub mod timeout;

use std::{sync::Arc, time::Duration};

use poem::{Endpoint, Request, Response};
use tracing::Instrument;

pub use json_errors::Routes;
pub use request::{ClientAddress, RequestId};

use crate::{
    config::HttpSettings,
    i18n::{self, Locale},
    service::{health::Storage, rate_limit::RateLimits},
};

/// Everything the steps need, built once at start-up.
pub struct Policy {
    pub routes: Routes,
    /// The query parameters of each operation of the spec.
    pub queries: query::Declarations,
    pub http: HttpSettings,
    pub limits: RateLimits,
    pub storage: Storage,
    pub default_locale: Locale,
}

/// Every request, step by step: its id, address, span and log line around everything, and the
/// language everything inside is written in; then the size limits, a CORS preflight, the rate
/// limit, the storage guard and the query parameters, each of which may answer at once; then
/// the routes, within the time limit, their errors made JSON; and on the way out the headers
/// each step owes the response.
pub async fn around<E: Endpoint>(
    endpoint: Arc<E>,
    mut request: Request,
    policy: Arc<Policy>,
) -> poem::Result<Response> {
    let started = request::start(&mut request, &policy.routes, &policy.http.trusted_proxies);
    let locale = language::negotiate(&mut request, policy.default_locale);
    let origin = cors::allowed_origin(&request, &policy.http.cors_origins);
    let span = started.span.clone();
    let handled = async {
        let mut decision = None;
        let early = match size_limits::check(&request) {
            Some(refused) => Some(refused),
            None => cors::preflight(&request, origin.as_deref(), &policy.http.cors_origins),
        };
        let mut response = match early {
            Some(response) => response,
            None => match rate_limit::check(&request, &policy.limits).await {
                Err(refused) => refused,
                Ok(allowed) => {
                    decision = allowed;
                    let refused = storage::check(&request, &policy.storage)
                        .or_else(|| query::check(&request, &policy.routes, &policy.queries));
                    match refused {
                        Some(refused) => refused,
                        None => {
                            call(
                                &endpoint,
                                request,
                                &policy.routes,
                                policy.http.request_timeout,
                            )
                            .await
                        }
                    }
                }
            },
        };
        storage::trip_on_failure(&response, &policy.storage);
        rate_limit::add_headers(&mut response, decision);
        cors::add_headers(&mut response, origin.as_deref());
        language::add_headers(&mut response, locale);
        response
    };
    let handled = i18n::scope(locale, handled).instrument(span).await;
    Ok(request::finish(handled, &started))
}

/// The routes themselves, within the time limit, with every framework error made JSON.
async fn call<E: Endpoint>(
    endpoint: &E,
    request: Request,
    routes: &Routes,
    limit: Duration,
) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let authorization = request
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .cloned();
    let outcome = timeout::call(endpoint, request, limit).await;
    let asked = json_errors::Asked {
        method: &method,
        path: uri.path(),
        authorization,
    };
    json_errors::to_response(outcome, &asked, routes)
}
