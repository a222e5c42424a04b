//! The first and last step: the request's id and client address, its span and its one log
//! line, and the headers every response carries.

use std::{
    net::IpAddr,
    sync::{Arc, LazyLock},
    time::Instant,
};

use metrics::SharedString;
use poem::{
    Request, Response,
    http::{HeaderValue, Method, StatusCode, header},
};
use tracing::{Span, field::Empty};

use super::Routes;
use crate::{config::TrustedProxy, service::password_hasher::Claimant};

const REQUEST_ID: &str = "x-request-id";
const TRACEPARENT: &str = "traceparent";

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
    /// The spec's route template, the metrics' label: never the raw path, so that the number
    /// of series stays bounded whatever paths are requested.
    route: Option<Arc<str>>,
    method: &'static str,
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
        trace_id = Empty,
        status = Empty,
        latency_ms = Empty,
        user_id = Empty,
    );
    let route = routes.template(path).cloned();
    if let Some(route) = &route {
        span.record("route", route.as_ref());
    }
    if let Some(trace_id) = request.header(TRACEPARENT).and_then(trace_id) {
        span.record("trace_id", trace_id);
    }
    Started {
        span,
        request_id,
        is_api: path.starts_with("/api/"),
        at: Instant::now(),
        route,
        method: method_label(request.method()),
    }
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`), so that a
/// request followed from the balancer can be found in the logs. A malformed header is ignored,
/// as the recommendation says; so are an all-zero id and the forbidden version `ff`.
fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = hex(version, 2)
        && version != "ff"
        // Version 00 has exactly four fields; later versions may add some.
        && (version != "00" || parts.next().is_none())
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then_some(trace_id)
}

/// The method as a metric's label: the standard ones, and `other` for any invented one.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts the request and times it, by route template, method and status.
fn record_metrics(started: &Started, status: StatusCode, seconds: f64) {
    /// Every status code's label, made once.
    static STATUSES: LazyLock<Vec<SharedString>> = LazyLock::new(|| {
        (0..1000)
            .map(|code: u16| SharedString::from_owned(code.to_string()))
            .collect()
    });
    let route = started.route.as_ref().map_or_else(
        || SharedString::const_str("unmatched"),
        |route| SharedString::from_shared(Arc::clone(route)),
    );
    let status = STATUSES[usize::from(status.as_u16()) % 1000].clone();
    metrics::counter!(
        "comptoir_http_requests_total",
        "route" => route.clone(),
        "method" => started.method,
        "status" => status,
    )
    .increment(1);
    metrics::histogram!(
        "comptoir_http_request_duration_seconds",
        "route" => route,
        "method" => started.method,
    )
    .record(seconds);
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
    let seconds = started.at.elapsed().as_secs_f64();
    if crate::api::metrics::on() {
        record_metrics(started, status, seconds);
    }
    let span = &started.span;
    span.record("status", status.as_u16());
    span.record("latency_ms", (seconds * 1e6).round() / 1e3);
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

#[cfg(test)]
mod tests {
    use super::trace_id;

    #[test]
    fn a_traceparent_gives_its_trace_id_only_when_well_formed() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(trace_id(&format!("00-{id}-00f067aa0ba902b7-01")), Some(id));
        // A later version may carry more fields.
        assert_eq!(
            trace_id(&format!("01-{id}-00f067aa0ba902b7-01-later")),
            Some(id)
        );
        for bad in [
            format!("00-{id}-00f067aa0ba902b7-01-extra"),
            format!("ff-{id}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase()),
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_owned(),
            format!("00-{id}-0000000000000000-01"),
            format!("00-{id}-00f067aa0ba902b7"),
            format!("00-{id}x-00f067aa0ba902b7-01"),
            String::new(),
        ] {
            assert_eq!(trace_id(&bad), None, "{bad}");
        }
    }
}
