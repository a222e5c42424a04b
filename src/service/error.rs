//! What a use case can fail with, independent of how the API reports it.

use std::time::Duration;

use super::rate_limit::Decision;

use crate::{
    db::{self, DbErr},
    domain::{FieldErrors, Message, ability::Ability},
};

/// What was wrong with a bearer token, for the 401 to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Not a JWT at all, e.g. `Bearer Bearer …` or a token cut short.
    Malformed,
    /// A JWT signed with a key this service does not hold.
    ForeignSignature,
    Expired,
    /// Logged out, replaced by a password reset, or its user deleted.
    Revoked,
    /// An API token that was deleted, or never was.
    UnknownApiToken,
    ExpiredApiToken,
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshProblem {
    /// Unknown, expired, or of a session that ended.
    Invalid,
    /// Spent, and presented again after the grace window: its session is now revoked.
    Reused,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the request did not validate")]
    Validation(FieldErrors),
    #[error("bad bearer token: {0:?}")]
    Unauthenticated(TokenProblem),
    #[error("refresh token refused: {0:?}")]
    RefreshRefused(RefreshProblem),
    #[error("not allowed")]
    Forbidden,
    /// An API token without the ability the operation needs.
    #[error("the API token lacks the {} ability", .0.as_str())]
    MissingAbility(Ability),
    /// An operation for signed-in sessions only, called with an API token.
    #[error("an API token cannot do this")]
    SessionRequired,
    /// The shop requires a verified address for this (`REQUIRE_VERIFIED_EMAIL`).
    #[error("the email address is not verified")]
    EmailNotVerified,
    #[error("no such resource")]
    NotFound,
    /// `If-Match` named no current tag of the resource, or another write won the race.
    #[error("the resource does not match the precondition")]
    PreconditionFailed,
    #[error("conflict: {code}")]
    Conflict {
        code: &'static str,
        message: Message,
    },
    /// An `Idempotency-Key` sent again with another request than the one it was first used for.
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    /// Too many attempts for one limit; the decision says which and for how long.
    #[error("rate limited")]
    RateLimited(Decision),
    /// Too much password work is waiting; come back after `retry_after`.
    #[error("busy: password work is queued up")]
    Busy { retry_after: Duration },
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    /// SQLite failed on its files (`problem` says how): the database must not be touched again
    /// by this process.
    #[error("the database's storage failed: {problem}")]
    StorageFailed {
        problem: String,
        #[source]
        cause: DbErr,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn invalid(field: &str, message: Message) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }
}

impl From<DbErr> for ServiceError {
    fn from(err: DbErr) -> Self {
        if let Some(problem) = db::storage::failure(&err) {
            Self::StorageFailed {
                problem,
                cause: err,
            }
        } else if db::is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Unexpected(anyhow::Error::new(err).context("database query failed"))
        }
    }
}

impl From<db::users::WriteError> for ServiceError {
    fn from(err: db::users::WriteError) -> Self {
        match err {
            db::users::WriteError::EmailTaken => {
                Self::invalid("email", Message::new("email-taken"))
            }
            db::users::WriteError::Database(err) => err.into(),
        }
    }
}

impl From<FieldErrors> for ServiceError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}
