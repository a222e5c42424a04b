//! Whether this instance can serve: its database answers and its files are sound (`/health`),
//! and whether a load balancer should send it requests (`/health/ready`): the database is
//! migrated, Redis answers if there is one, and the instance is not shutting down.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

pub use crate::db::storage::Storage;
use crate::db::{self, DatabaseConnection, PoolConnections};
use crate::service::rate_limit::RateLimits;

/// How long the database has to answer a ping.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The database's state, as the health check reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseHealth {
    Ok,
    /// The database did not answer, or its files failed (`storage` says how, on SQLite).
    Unavailable {
        storage: Option<String>,
    },
}

/// The database's state, as the readiness probe reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseReadiness {
    Ok,
    Unavailable,
    /// It answers, but this release's latest migration is not applied.
    NotMigrated,
}

/// Redis's state; only when `REDIS_URL` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisReadiness {
    Ok,
    /// Rate limits fall back to this instance's own counters: the instance is degraded, but
    /// still ready (a probe failing on Redis would take every instance out at once).
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub database: DatabaseReadiness,
    pub redis: Option<RedisReadiness>,
    /// SIGTERM was received: the instance serves on, but wants no new requests.
    pub draining: bool,
}

impl Readiness {
    /// Whether a load balancer should send requests here.
    pub fn is_ready(self) -> bool {
        self.database == DatabaseReadiness::Ok && !self.draining
    }
}

#[derive(Clone)]
pub struct Health {
    db: DatabaseConnection,
    storage: Storage,
    limits: RateLimits,
    draining: Arc<AtomicBool>,
}

impl Health {
    pub fn new(db: DatabaseConnection, storage: Storage, limits: RateLimits) -> Self {
        Self {
            db,
            storage,
            limits,
            draining: Arc::default(),
        }
    }

    /// From now on readiness says no: called on SIGTERM, before the listener closes.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// The database pool's connections, in use and idle.
    pub fn pool_connections(&self) -> PoolConnections {
        db::pool_connections(&self.db)
    }

    /// Checks the database's files (SQLite), then pings the database.
    pub async fn database(&self) -> DatabaseHealth {
        if self.database_answers().await {
            DatabaseHealth::Ok
        } else {
            DatabaseHealth::Unavailable {
                storage: self.storage.reason().map(str::to_owned),
            }
        }
    }

    /// The database (answering and migrated), Redis (when configured, checked at the same
    /// time), and whether this instance is draining.
    pub async fn readiness(&self) -> Readiness {
        let (database, redis) =
            tokio::join!(self.database_readiness(), self.limits.redis_answers());
        Readiness {
            database,
            redis: redis.map(|answers| {
                if answers {
                    RedisReadiness::Ok
                } else {
                    RedisReadiness::Unavailable
                }
            }),
            draining: self.draining.load(Ordering::SeqCst),
        }
    }

    /// One query: reading the migrations table also shows that the database answers.
    async fn database_readiness(&self) -> DatabaseReadiness {
        // A broken storage is never queried: its files may crash the process when touched.
        if self.storage.check().is_err() {
            return DatabaseReadiness::Unavailable;
        }
        match tokio::time::timeout(PING_TIMEOUT, db::latest_migration_applied(&self.db)).await {
            Ok(Ok(true)) => DatabaseReadiness::Ok,
            // No `seaql_migrations` table is a database never migrated, not one gone.
            Ok(Ok(false)) => DatabaseReadiness::NotMigrated,
            Ok(Err(err)) if !db::is_unavailable(&err) => DatabaseReadiness::NotMigrated,
            Ok(Err(_)) | Err(_) => DatabaseReadiness::Unavailable,
        }
    }

    async fn database_answers(&self) -> bool {
        // A broken storage is never pinged: its files may crash the process when touched.
        self.storage.check().is_ok()
            && tokio::time::timeout(PING_TIMEOUT, self.db.ping())
                .await
                .is_ok_and(|ping| ping.is_ok())
    }
}
