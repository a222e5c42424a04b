//! The SQLite storage guard at the door: a request that would touch the database is refused
//! with a 503 once the database's files failed, and a response that found them failing breaks
//! the storage for every later request. `/health` reports a broken storage itself.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

use crate::{
    api::error::{ApiError, StorageFailure},
    service::health::Storage,
};

pub async fn layer<E: Endpoint>(
    next: Arc<E>,
    request: Request,
    storage: Storage,
) -> poem::Result<Response> {
    let path = request.uri().path();
    let needs_database = path.starts_with("/api/") || path.starts_with("/reset-password");
    if needs_database && storage.check().is_err() {
        return Ok(ApiError::storage_unavailable().into_response());
    }
    let response = next.call(request).await?.into_response();
    if let Some(StorageFailure(problem)) = response.extensions().get() {
        storage.trip(problem);
    }
    Ok(response)
}
