//! A request still running after `REQUEST_TIMEOUT_SECS` is abandoned with a 503.

use std::time::Duration;

use poem::{Endpoint, IntoResponse, Request, Response};

use crate::api::error::ApiError;

pub async fn call<E: Endpoint>(
    endpoint: &E,
    request: Request,
    limit: Duration,
) -> poem::Result<Response> {
    if let Ok(outcome) = tokio::time::timeout(limit, endpoint.call(request)).await {
        outcome.map(IntoResponse::into_response)
    } else {
        tracing::warn!("request timed out");
        Ok(ApiError::timed_out().into_response())
    }
}
