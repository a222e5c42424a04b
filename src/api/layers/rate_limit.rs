//! The API-wide limit per client address: every `/api` request, and the reset pages, which
//! check a token or reset a password as `POST /api/reset-password` does and so spend the same
//! budget (their refusal is the API's JSON 429: only a script gets there). Allowed responses
//! say what is left.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

use super::ClientAddress;
use crate::{
    api::error::{ApiError, set_rate_limit_headers},
    service::rate_limit::RateLimits,
};

pub async fn layer<E: Endpoint>(
    next: Arc<E>,
    request: Request,
    limits: RateLimits,
) -> poem::Result<Response> {
    let path = request.uri().path();
    let is_limited = path.starts_with("/api/") || path.starts_with("/reset-password");
    let client = request.extensions().get::<ClientAddress>().copied();
    let decision = match client {
        Some(ClientAddress(client)) if is_limited => limits.api(client).await,
        _ => None,
    };
    let Some(decision) = decision else {
        return next.call(request).await.map(IntoResponse::into_response);
    };
    if !decision.allowed {
        return Ok(ApiError::too_many_requests(decision).into_response());
    }
    let mut response = next.call(request).await?.into_response();
    // A 429 from a stricter limit (login, register, …) already describes the limit that
    // refused it; the API-wide figures would contradict it.
    if !response.headers().contains_key("ratelimit-limit") {
        set_rate_limit_headers(response.headers_mut(), &decision);
    }
    Ok(response)
}
