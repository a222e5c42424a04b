//! Conditional requests: the `If-Match` and `If-None-Match` headers read into the domain's
//! conditions. The services check `If-Match` within their writes; `If-None-Match` only
//! concerns what a GET sends back, so it is answered here.

use poem_openapi::param::Header;

use crate::domain::precondition::{Condition, EntityTag};

/// `If-Match`, when sent.
pub fn if_match(header: &Header<Option<String>>) -> Option<Condition> {
    header.0.as_deref().map(Condition::parse)
}

/// Whether a GET sent with `If-None-Match` answers 304 Not Modified for `current`.
pub fn not_modified(if_none_match: &Header<Option<String>>, current: EntityTag) -> bool {
    if_none_match
        .0
        .as_deref()
        .is_some_and(|header| Condition::parse(header).weakly_matches(current))
}
