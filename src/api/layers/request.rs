//! The first and last step: the request's id and client address, its span and its one log
//! line, and the headers every response carries.

use std::{net::IpAddr, time::Instant};

use poem::{
    Request, Response,
    http::{HeaderValue, header},
};
use tracing::{Span, field::Empty};

use super::Routes;
use crate::{config::TrustedProxy, service::password_hasher::Claimant};

const REQUEST_ID: &str = "x-request-id";

/// The address of the client, as far as the socket and the trusted proxies tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// This client, as the bcrypt queue counts its share.
    pub fn claimant(self) -> Claimant {
        Claimant::address(self.0)
    }
}

/// The request's id (`X-Request-Id`): an extension the handlers read, to record it with what
/// the request changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// What [`finish`] needs of a request that [`start`] began.
pub struct Started {
    pub span: Span,
    request_id: String,
    is_api: bool,
    at: Instant,
}

/// Gives the request its id, its client address (an extension the handlers read) and its span,
/// named by the spec's route template, never the raw path.
pub fn start(request: &mut Request, routes: &Routes, trusted_proxies: &[TrustedProxy]) -> Started {
    let request_id = request
        .header(REQUEST_ID)
        .filter(|id| sane_request_id(id))
        .map_or_else(|| crate::service::random_hex(16), str::to_owned);
    let client = client_address(request, trusted_proxies);
    request.extensions_mut().insert(ClientAddress(client));
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    // The path only: a query string can hold a reset token.
    let path = request.uri().path();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %path,
        client = %client,
        route = Empty,
        status = Empty,
        latency_ms = Empty,
        user_id = Empty,
    );
    if let Some(route) = routes.template(path) {
        span.record("route", route);
    }
    Started {
        span,
        request_id,
        is_api: path.starts_with("/api/"),
        at: Instant::now(),
    }
}

/// The headers every response carries, and the request's one log line.
pub fn finish(mut response: Response, started: &Started) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&started.request_id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if started.is_api {
        // Tokens and personal data: never kept by a cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let status = response.status();
    let span = &started.span;
    span.record("status", status.as_u16());
    span.record(
        "latency_ms",
        (started.at.elapsed().as_secs_f64() * 1e6).round() / 1e3,
    );
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!("request failed");
        } else {
            tracing::info!("request finished");
        }
    });
    response
}

/// An incoming id is echoed only when it is short and plain, so that it is safe in logs.
fn sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The client: the socket's peer, unless that peer is a trusted proxy, in which case the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
fn client_address(request: &Request, trusted: &[TrustedProxy]) -> IpAddr {
    let peer = request
        .remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), |addr| {
            addr.ip().to_canonical()
        });
    let is_trusted = |address: IpAddr| trusted.iter().any(|proxy| proxy.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .map(|address| address.to_canonical())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|address| !is_trusted(**address))
        .or_else(|| forwarded.first())
        .copied()
        .unwrap_or(peer)
}
