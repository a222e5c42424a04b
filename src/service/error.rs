//! What a use case can fail with, independent of how the API reports it.

use sea_orm::DbErr;

use crate::domain::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the request did not validate")]
    Validation(FieldErrors),
    #[error("missing, invalid, expired or revoked credentials")]
    Unauthenticated,
    #[error("not allowed")]
    Forbidden,
    #[error("no such resource")]
    NotFound,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }
}

impl From<DbErr> for ServiceError {
    fn from(err: DbErr) -> Self {
        if crate::db::is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Unexpected(anyhow::Error::new(err).context("database query failed"))
        }
    }
}

impl From<FieldErrors> for ServiceError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}
