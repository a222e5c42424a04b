//! Requests too large to be worth reading: a URI over 8 KiB (414), headers over 32 KiB (431).
//! More than 100 headers never get here: hyper answers them itself. Bodies are bounded where
//! they are read (`api::body`).

use poem::{IntoResponse, Request, Response, http::HeaderMap};

use crate::api::error::ApiError;

const MAX_URI_BYTES: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The refusal of a request too large to read, if it is one.
pub fn check(request: &Request) -> Option<Response> {
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |uri| uri.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Some(ApiError::uri_too_long().into_response());
    }
    if headers_size(request.headers()) > MAX_HEADER_BYTES {
        return Some(ApiError::headers_too_large().into_response());
    }
    None
}

fn headers_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}
