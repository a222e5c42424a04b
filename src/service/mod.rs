//! Use cases: accounts, sessions and the rest. Nothing here knows about HTTP.

pub mod accounts;
pub mod api_tokens;
pub mod cursors;
pub mod email_verification;
pub mod error;
pub mod health;
pub mod idempotency;
pub mod orders;
pub mod outbox;
pub mod password_hasher;
pub mod password_reset;
pub mod products;
pub mod prune;
pub mod rate_limit;
pub mod session_cache;
pub mod sessions;
pub mod users;
pub mod webhook_delivery;
pub mod webhooks;

use chrono::{DateTime, SubsecRound, Utc};

pub use error::{RefreshProblem, ServiceError, TokenProblem};

use crate::domain::precondition::{Condition, EntityTag};

/// The current time at whole seconds: what is stored is exactly what the API shows, and
/// SQLite's text timestamps keep one width, so they compare correctly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// When something that lives `ttl` from now expires: rounded up to a whole second, so that it
/// never lives less than `ttl`.
pub fn expiry(ttl: std::time::Duration) -> anyhow::Result<DateTime<Utc>> {
    use anyhow::Context;
    let exact = Utc::now() + chrono::Duration::from_std(ttl).context("lifetime out of range")?;
    let rounded = exact.trunc_subsecs(0);
    Ok(if rounded < exact {
        rounded + chrono::Duration::seconds(1)
    } else {
        rounded
    })
}

/// What a write conditional on `if_match` must still find in its own statement: the version
/// it was checked against (`None` without `If-Match`, or with `*`, which any existing resource
/// meets). A 412 when `current` does not match.
pub fn expected_version(
    if_match: Option<&Condition>,
    current: EntityTag,
) -> Result<Option<i64>, ServiceError> {
    match if_match {
        None | Some(Condition::Any) => Ok(None),
        Some(condition) if condition.strongly_matches(current) => Ok(Some(current.version)),
        Some(_) => Err(ServiceError::PreconditionFailed),
    }
}

/// `count` random bytes as lower-case hex.
pub fn random_hex(count: usize) -> String {
    let mut bytes = vec![0_u8; count];
    rand::fill(&mut bytes[..]);
    to_hex(&bytes)
}

/// A link to a page of ours for a mail: `public_url` + `path`, with the token and the address
/// it is for in the query string, form-encoded as the page reads them back.
pub fn mailed_link(public_url: &str, path: &str, token: &str, email: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("email", email)
        .finish();
    format!("{public_url}{path}?{query}")
}

/// What is stored of a token mailed in a link: its SHA-256, in hex. The token itself is never
/// kept, so a copy of the database opens no account.
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    to_hex(&Sha256::digest(token.as_bytes()))
}

/// Bytes as lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_escaped_for_the_link() {
        assert_eq!(
            mailed_link(
                "http://shop",
                "/reset-password",
                "ab12",
                "ada+shop@example.com"
            ),
            "http://shop/reset-password?token=ab12&email=ada%2Bshop%40example.com"
        );
    }

    #[test]
    fn only_a_sha256_of_the_token_is_kept() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
