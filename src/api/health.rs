//! The `health` tag: whether this instance can serve, for load balancers and people.

use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};

use super::{ApiTags, AppState};
use crate::service::health::DatabaseHealth;

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
        match state.health.database().await {
            DatabaseHealth::Ok => HealthResponse::Ok(Json(Health {
                status: ComponentStatus::Ok,
                database: ComponentStatus::Ok,
            })),
            DatabaseHealth::Unavailable { storage } => {
                tracing::warn!(
                    storage = storage.as_deref(),
                    "health check: database unavailable"
                );
                HealthResponse::Unavailable(Json(Health {
                    status: ComponentStatus::Unavailable,
                    database: ComponentStatus::Unavailable,
                }))
            }
        }
    }
}
