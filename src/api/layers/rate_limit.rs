//! The API-wide limit per client address: every `/api` request, and the reset and
//! verification pages, which check a token or use it as `POST /api/reset-password` and
//! `POST /api/email/verify` do and so spend the same budget (their refusal is the API's JSON
//! 429: only a script gets there). Allowed responses say what is left.

use poem::{IntoResponse, Request, Response};

use super::ClientAddress;
use crate::{
    api::error::{ApiError, set_rate_limit_headers},
    service::rate_limit::{Decision, RateLimits},
};

/// Counts the request: `Err` with the 429 when over the limit, else the figures to show.
pub async fn check(request: &Request, limits: &RateLimits) -> Result<Option<Decision>, Response> {
    let path = request.uri().path();
    let is_limited = path.starts_with("/api/")
        || path.starts_with("/reset-password")
        || path.starts_with("/verify-email");
    let Some(ClientAddress(client)) = request.extensions().get::<ClientAddress>().copied() else {
        return Ok(None);
    };
    if !is_limited {
        return Ok(None);
    }
    match limits.api(client).await {
        Some(decision) if !decision.allowed => {
            Err(ApiError::too_many_requests(decision).into_response())
        }
        decision => Ok(decision),
    }
}

/// What is left of the limit. A 429 from a stricter limit (login, register, …) already
/// describes the limit that refused it; the API-wide figures would contradict it.
pub fn add_headers(response: &mut Response, decision: Option<Decision>) {
    if let Some(decision) = decision
        && !response.headers().contains_key("ratelimit-limit")
    {
        set_rate_limit_headers(response.headers_mut(), &decision);
    }
}
