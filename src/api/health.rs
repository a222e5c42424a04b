//! The `health` tag: whether this instance can serve, for load balancers and people.

use std::time::Duration;

use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};

use super::{ApiTags, AppState};

pub struct HealthApi;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ComponentStatus {
    Ok,
    Unavailable,
}

/// `status` is `ok` when every component is.
#[derive(Debug, Object)]
pub struct Health {
    pub status: ComponentStatus,
    pub database: ComponentStatus,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// Ready to serve.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database does not answer or its files failed: requests that need it cannot be served.
    #[oai(status = 503)]
    Unavailable(Json<Health>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Health check
    ///
    /// Checks the database's files (SQLite) and pings the database. Needs no token.
    #[oai(path = "/health", method = "get", operation_id = "health_view")]
    async fn health(&self, state: Data<&AppState>) -> HealthResponse {
        // A broken storage is never pinged: its files may crash the process when touched.
        let reachable = state.storage.check().is_ok()
            && tokio::time::timeout(Duration::from_secs(2), state.db.ping())
                .await
                .is_ok_and(|ping| ping.is_ok());
        if reachable {
            HealthResponse::Ok(Json(Health {
                status: ComponentStatus::Ok,
                database: ComponentStatus::Ok,
            }))
        } else {
            tracing::warn!(
                storage = state.storage.reason(),
                "health check: database unavailable"
            );
            HealthResponse::Unavailable(Json(Health {
                status: ComponentStatus::Unavailable,
                database: ComponentStatus::Unavailable,
            }))
        }
    }
}
