//! The layers around every route, one job each, composed in [`super::app`]. From the outside
//! in: [`request`] (id, client address, span, log line, common headers), [`cors`],
//! [`size_limits`], [`rate_limit`], [`storage`], [`json_errors`], [`timeout`], then the routes.
//!
//! Each is a plain async function for poem's `EndpointExt::around`. poem's own middleware does
//! not meet the contract here: its `Cors` allows every origin when given none and answers a
//! refused preflight with its own error, its `SizeLimit` reads only `Content-Length`, and its
//! `Tracing` logs a span per request without our fields.

pub mod cors;
pub mod json_errors;
pub mod rate_limit;
pub mod request;
pub mod size_limits;
pub mod storage;
pub mod timeout;

pub use json_errors::Routes;
pub use request::ClientAddress;
