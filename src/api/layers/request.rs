//! The outermost layer: the request's id and client address, its span and its one log line,
//! and the headers every response carries.

use std::{net::IpAddr, sync::Arc, time::Instant};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, header},
};
use tracing::{Instrument, field::Empty};

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

/// What this layer needs, built once at start-up.
pub struct RequestPolicy {
    pub routes: Arc<Routes>,
    pub trusted_proxies: Vec<TrustedProxy>,
}

pub async fn layer<E: Endpoint>(
    next: Arc<E>,
    mut request: Request,
    policy: Arc<RequestPolicy>,
) -> poem::Result<Response> {
    let request_id = request
        .header(REQUEST_ID)
        .filter(|id| sane_request_id(id))
        .map_or_else(|| crate::service::random_hex(16), str::to_owned);
    // The path only: a query string can hold a reset token.
    let path = request.uri().path().to_owned();
    let client = client_address(&request, &policy.trusted_proxies);
    request.extensions_mut().insert(ClientAddress(client));
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
    // The spec's name for the route, never the raw path: ids stay out of the route field.
    if let Some(route) = policy.routes.template(&path) {
        span.record("route", route);
    }
    let started = Instant::now();

    let mut response = match next.call(request).instrument(span.clone()).await {
        Ok(response) => response.into_response(),
        // The inner layers answer every error themselves; this is only a safety net.
        Err(err) => err.into_response(),
    };

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if path.starts_with("/api/") {
        // Tokens and personal data: never kept by a cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    let status = response.status();
    span.record("status", status.as_u16());
    span.record(
        "latency_ms",
        (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
    );
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!("request failed");
        } else {
            tracing::info!("request finished");
        }
    });
    Ok(response)
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
