//! How each operation declares the errors it can return: [`Failure<S>`] puts exactly the
//! statuses named by the bits of `S` into the spec, each with the [`ErrorBody`] schema and the
//! headers it carries.

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use poem_openapi::{
    ApiResponse,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};

use super::{ApiError, ErrorBody};
use crate::service::ServiceError;

/// Bits naming the error statuses an operation declares; combine them with `|`.
pub mod status {
    pub const BAD_REQUEST: u32 = 1 << 0;
    pub const UNAUTHORIZED: u32 = 1 << 1;
    pub const FORBIDDEN: u32 = 1 << 2;
    pub const NOT_FOUND: u32 = 1 << 3;
    pub const CONFLICT: u32 = 1 << 4;
    pub const PAYLOAD_TOO_LARGE: u32 = 1 << 5;
    pub const UNSUPPORTED_MEDIA_TYPE: u32 = 1 << 6;
    pub const UNPROCESSABLE: u32 = 1 << 7;
    pub const INTERNAL: u32 = 1 << 8;
    pub const UNAVAILABLE: u32 = 1 << 9;
    pub const TOO_MANY_REQUESTS: u32 = 1 << 10;
    /// A 403 `email_not_verified`: the operation takes a verified address when the server
    /// says so (`REQUIRE_VERIFIED_EMAIL`).
    pub const EMAIL_NOT_VERIFIED: u32 = 1 << 11;
    /// A 412 `precondition_failed`: the operation takes `If-Match`.
    pub const PRECONDITION_FAILED: u32 = 1 << 12;
    /// The operation takes an `Idempotency-Key`: its 409 may also be `idempotency_key_in_use`
    /// or a replayed conflict, its 422 `idempotency_key_reused`.
    pub const IDEMPOTENT: u32 = 1 << 13;
    /// A 414 `uri_too_long`: a list's `cursor` or `q`, percent-encoded, can outgrow the 8 KiB
    /// a URI may have.
    pub const URI_TOO_LONG: u32 = 1 << 14;
    /// A 403 `missing_ability`: the operation needs an ability of an API token.
    pub const MISSING_ABILITY: u32 = 1 << 15;
    /// A 403 `session_required`: API tokens cannot call the operation.
    pub const SESSION_REQUIRED: u32 = 1 << 16;
    /// A list: its query parameters are checked (422), and can make the URI too long (414).
    pub const LIST: u32 = UNPROCESSABLE | URI_TOO_LONG;

    /// Any `/api` operation: it reaches the database and counts against the per-address limit.
    pub const ALWAYS: u32 = INTERNAL | UNAVAILABLE | TOO_MANY_REQUESTS;
    /// Any operation on `/{resource}/{id}`: authenticated, and the id may be malformed or unknown.
    pub const PER_ID: u32 = UNAUTHORIZED | BAD_REQUEST | NOT_FOUND | ALWAYS;
    /// Any operation that reads a JSON body.
    pub const JSON_BODY: u32 =
        BAD_REQUEST | PAYLOAD_TOO_LARGE | UNSUPPORTED_MEDIA_TYPE | UNPROCESSABLE;
}

struct Declared {
    /// Declared when the operation has all of these bits…
    bit: u32,
    /// …and none of these (a status two bits share is declared once, with both meanings).
    unless: u32,
    status: u16,
    description: &'static str,
    headers: &'static [Header],
}

struct Header {
    name: &'static str,
    description: &'static str,
    required: bool,
}

const fn header(name: &'static str, description: &'static str) -> Header {
    Header {
        name,
        description,
        required: true,
    }
}

/// The meanings of a 403, by bit: an operation declares one 403 that names each of its own.
const FORBIDDEN_REASONS: [(u32, &str); 4] = [
    (
        status::FORBIDDEN,
        "`forbidden`: authenticated, but not allowed to you (an admin's operation).",
    ),
    (
        status::EMAIL_NOT_VERIFIED,
        "`email_not_verified`: the server requires a verified email address to create or \
         change an order (`REQUIRE_VERIFIED_EMAIL`) and yours is not; admins are exempt. Follow \
         the mailed link, or ask for a new one (`POST /api/email/verification-notification`).",
    ),
    (
        status::MISSING_ABILITY,
        "`missing_ability`: the API token lacks the ability this operation needs (its \
         description names it).",
    ),
    (
        status::SESSION_REQUIRED,
        "`session_required`: an API token cannot call this operation; use a session's access \
         token.",
    ),
];

const FORBIDDEN_BITS: u32 = status::FORBIDDEN
    | status::EMAIL_NOT_VERIFIED
    | status::MISSING_ABILITY
    | status::SESSION_REQUIRED;

/// The description of the 403 of an operation with bits `operation`, if it has one. Made
/// once per set of meanings and kept for the life of the process (the spec wants a
/// `&'static str`); there are a handful of such sets.
fn forbidden_description(operation: u32) -> Option<&'static str> {
    static MADE: Mutex<BTreeMap<u32, &'static str>> = Mutex::new(BTreeMap::new());
    let bits = operation & FORBIDDEN_BITS;
    if bits == 0 {
        return None;
    }
    let mut made = MADE.lock().unwrap_or_else(PoisonError::into_inner);
    Some(made.entry(bits).or_insert_with(|| {
        let reasons: Vec<&str> = FORBIDDEN_REASONS
            .iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, reason)| *reason)
            .collect();
        Box::leak(format!("Not allowed. {}", reasons.join(" ")).into_boxed_str())
    }))
}

const RATE_LIMIT_HEADERS: &[Header] = &[
    header("Retry-After", "Seconds until the limit's window ends."),
    header("RateLimit-Limit", "Requests allowed in the window."),
    header("RateLimit-Remaining", "Requests left in the window."),
    header("RateLimit-Reset", "Seconds until the window ends."),
];

const REPLAYED: Header = Header {
    name: super::IDEMPOTENT_REPLAYED,
    description: "`true` when this is the stored response of an earlier request with the same \
        `Idempotency-Key`, answered again.",
    required: false,
};

const DECLARED: [Declared; 14] = [
    Declared {
        unless: 0,
        bit: status::BAD_REQUEST,
        status: 400,
        description: "Malformed request: the body is not JSON, or a path parameter is not a number.",
        headers: &[],
    },
    Declared {
        unless: 0,
        bit: status::UNAUTHORIZED,
        status: 401,
        description: "Missing, invalid, expired or revoked bearer token.",
        headers: &[header(
            "WWW-Authenticate",
            "`Bearer` when no token was sent; for a token that is no good, RFC 6750's \
             `Bearer error=\"invalid_token\", error_description=\"…\"` (in English).",
        )],
    },
    Declared {
        unless: 0,
        bit: status::NOT_FOUND,
        status: 404,
        description: "No such resource, or not yours.",
        headers: &[],
    },
    Declared {
        unless: status::IDEMPOTENT,
        bit: status::CONFLICT,
        status: 409,
        description: "The request conflicts with the resource's current state.",
        headers: &[],
    },
    Declared {
        unless: 0,
        bit: status::CONFLICT | status::IDEMPOTENT,
        status: 409,
        description: "The request conflicts with the resource's current state, or \
            `idempotency_key_in_use`: another request with this `Idempotency-Key` is still \
            running (retry later). A conflict stored for the key is answered again with \
            `Idempotent-Replayed: true`.",
        headers: &[REPLAYED],
    },
    Declared {
        unless: 0,
        bit: status::PRECONDITION_FAILED,
        status: 412,
        description: "`precondition_failed`: `If-Match` names no current tag of the resource \
            (it changed since you read it, or another request holding the same tag won the \
            race). Nothing was changed: read it again and retry.",
        headers: &[],
    },
    Declared {
        unless: 0,
        bit: status::PAYLOAD_TOO_LARGE,
        status: 413,
        description: "The body is larger than 1 MiB.",
        headers: &[],
    },
    Declared {
        unless: 0,
        bit: status::URI_TOO_LONG,
        status: 414,
        description: "`uri_too_long`: the request URI is longer than 8 KiB.",
        headers: &[],
    },
    Declared {
        unless: 0,
        bit: status::UNSUPPORTED_MEDIA_TYPE,
        status: 415,
        description: "The body is not `application/json`.",
        headers: &[],
    },
    Declared {
        unless: status::IDEMPOTENT,
        bit: status::UNPROCESSABLE,
        status: 422,
        description: "Validation failed: `errors` has one entry per bad field or query parameter.",
        headers: &[],
    },
    Declared {
        unless: 0,
        bit: status::UNPROCESSABLE | status::IDEMPOTENT,
        status: 422,
        description: "Validation failed: `errors` has one entry per bad field or header. Or \
            `idempotency_key_reused`: this `Idempotency-Key` was used for a request with \
            another body.",
        headers: &[],
    },
    Declared {
        unless: 0,
        bit: status::TOO_MANY_REQUESTS,
        status: 429,
        description: "Rate limited: wait `Retry-After` seconds.",
        headers: RATE_LIMIT_HEADERS,
    },
    Declared {
        unless: 0,
        bit: status::INTERNAL,
        status: 500,
        description: "Unexpected failure; the log has the details under the request id.",
        headers: &[],
    },
    Declared {
        unless: 0,
        bit: status::UNAVAILABLE,
        status: 503,
        description: "Temporarily unable to serve: the database cannot be reached or its files \
            failed (`storage_unavailable`), the request took too long, or too much password work \
            is queued. Retry after `Retry-After` seconds.",
        headers: &[header(
            "Retry-After",
            "Seconds to wait before trying again.",
        )],
    },
];

impl Declared {
    fn applies_to(&self, operation: u32) -> bool {
        operation & self.bit == self.bit && operation & self.unless == 0
    }
}

/// The errors an operation can return: `S` is a union of [`status`] bits.
pub struct Failure<const S: u32>(ApiError);

impl<const S: u32> From<ApiError> for Failure<S> {
    fn from(err: ApiError) -> Self {
        debug_assert!(
            DECLARED
                .iter()
                .any(|declared| declared.applies_to(S) && declared.status == err.status().as_u16())
                || (err.status().as_u16() == 403 && S & FORBIDDEN_BITS != 0),
            "status {} is not declared by this operation",
            err.status()
        );
        Self(err)
    }
}

impl<const S: u32> From<ServiceError> for Failure<S> {
    fn from(err: ServiceError) -> Self {
        ApiError::from(err).into()
    }
}

impl<const S: u32> From<Failure<S>> for poem::Error {
    fn from(failure: Failure<S>) -> Self {
        failure.0.into()
    }
}

impl<const S: u32> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        let forbidden = forbidden_description(S).map(|description| Declared {
            bit: 0,
            unless: 0,
            status: 403,
            description,
            headers: &[],
        });
        let mut declared: Vec<&Declared> = DECLARED
            .iter()
            .filter(|declared| declared.applies_to(S))
            .chain(forbidden.as_ref())
            .collect();
        declared.sort_by_key(|declared| declared.status);
        let responses = declared
            .into_iter()
            .map(|declared| MetaResponse {
                description: declared.description,
                status: Some(declared.status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/json; charset=utf-8",
                    schema: ErrorBody::schema_ref(),
                }],
                headers: declared
                    .headers
                    .iter()
                    .map(|header| MetaHeader {
                        name: header.name.to_owned(),
                        description: Some(header.description.to_owned()),
                        required: header.required,
                        deprecated: false,
                        schema: String::schema_ref(),
                    })
                    .collect(),
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}
