//! The `health` tag: whether this instance can serve, for load balancers and people:
//! `/health` (the database), `/health/live` (the process) and `/health/ready` (whether to send
//! it requests).

use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};

use super::{ApiTags, AppState};
use crate::service::health::{DatabaseHealth, DatabaseReadiness, Readiness, RedisReadiness};

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

/// The process answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum LiveStatus {
    Ok,
}

#[derive(Debug, Object)]
pub struct Liveness {
    pub status: LiveStatus,
}

#[derive(ApiResponse)]
pub enum LivenessResponse {
    /// The process runs and answers.
    #[oai(status = 200)]
    Ok(Json<Liveness>),
}

/// The instance as a whole, for a load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ReadyStatus {
    /// Every dependency answers.
    Ok,
    /// Ready, but Redis does not answer: rate limits are counted by each instance alone.
    Degraded,
    /// The database does not answer or is not migrated.
    Unavailable,
    /// Shutting down: requests still get answers, but it wants no new ones.
    Draining,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum DatabaseState {
    Ok,
    Unavailable,
    /// It answers, but this release's latest migration is not applied (run `comptoir migrate`).
    NotMigrated,
}

/// Each dependency's state; `redis` only when `REDIS_URL` is set.
#[derive(Debug, Object)]
pub struct Ready {
    pub status: ReadyStatus,
    pub database: DatabaseState,
    #[oai(skip_serializing_if_is_none)]
    pub redis: Option<ComponentStatus>,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Send it requests: the database answers and is migrated (Redis may be down: `degraded`).
    #[oai(status = 200)]
    Ready(Json<Ready>),
    /// Send it none: the database does not answer or is not migrated, or the instance is
    /// shutting down.
    #[oai(status = 503)]
    NotReady(Json<Ready>),
}

impl From<Readiness> for ReadyResponse {
    fn from(readiness: Readiness) -> Self {
        let redis = readiness.redis.map(|redis| match redis {
            RedisReadiness::Ok => ComponentStatus::Ok,
            RedisReadiness::Unavailable => ComponentStatus::Unavailable,
        });
        let database = match readiness.database {
            DatabaseReadiness::Ok => DatabaseState::Ok,
            DatabaseReadiness::Unavailable => DatabaseState::Unavailable,
            DatabaseReadiness::NotMigrated => DatabaseState::NotMigrated,
        };
        let status = if readiness.draining {
            ReadyStatus::Draining
        } else if database != DatabaseState::Ok {
            ReadyStatus::Unavailable
        } else if redis == Some(ComponentStatus::Unavailable) {
            ReadyStatus::Degraded
        } else {
            ReadyStatus::Ok
        };
        let body = Json(Ready {
            status,
            database,
            redis,
        });
        if readiness.is_ready() {
            Self::Ready(body)
        } else {
            Self::NotReady(body)
        }
    }
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

    /// Liveness probe
    ///
    /// 200 while the process runs; touches no database. A failure means: restart it. Needs
    /// no token.
    #[oai(path = "/health/live", method = "get", operation_id = "liveness_view")]
    async fn live(&self) -> LivenessResponse {
        LivenessResponse::Ok(Json(Liveness {
            status: LiveStatus::Ok,
        }))
    }

    /// Readiness probe
    ///
    /// 200 when the database answers and its schema is this release's latest; else 503, and
    /// 503 from the moment the instance receives SIGTERM. Redis down is `degraded`, still 200:
    /// every instance shares it, and failing on it would take them all out at once. Needs no
    /// token.
    #[oai(
        path = "/health/ready",
        method = "get",
        operation_id = "readiness_view"
    )]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        let readiness = state.health.readiness().await;
        if !readiness.is_ready() {
            tracing::info!(?readiness, "readiness probe: not ready");
        }
        readiness.into()
    }
}
