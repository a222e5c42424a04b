//! The SQLite storage guard at the door: a request that would touch the database is refused
//! with a 503 once the database's files failed, and a response that found them failing breaks
//! the storage for every later request. `/health` reports a broken storage itself.

use poem::{IntoResponse, Request, Response};

use crate::{
    api::error::{ApiError, StorageFailure},
    service::health::Storage,
};

/// The 503 for a request that needs a database whose files failed.
pub fn check(request: &Request, storage: &Storage) -> Option<Response> {
    let path = request.uri().path();
    let needs_database = path.starts_with("/api/") || path.starts_with("/reset-password");
    (needs_database && storage.check().is_err())
        .then(|| ApiError::storage_unavailable().into_response())
}

/// Breaks the storage for good when this response found its files failing.
pub fn trip_on_failure(response: &Response, storage: &Storage) {
    if let Some(StorageFailure(problem)) = response.extensions().get() {
        storage.trip(problem);
    }
}
