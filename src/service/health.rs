//! Whether this instance can serve: its database answers and its files are sound.

use std::time::Duration;

pub use crate::db::storage::Storage;
use crate::db::{self, DatabaseConnection, PoolConnections};

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

#[derive(Clone)]
pub struct Health {
    db: DatabaseConnection,
    storage: Storage,
}

impl Health {
    pub fn new(db: DatabaseConnection, storage: Storage) -> Self {
        Self { db, storage }
    }

    /// The database pool's connections, in use and idle.
    pub fn pool_connections(&self) -> PoolConnections {
        db::pool_connections(&self.db)
    }

    /// Checks the database's files (SQLite), then pings the database.
    pub async fn database(&self) -> DatabaseHealth {
        // A broken storage is never pinged: its files may crash the process when touched.
        let reachable = self.storage.check().is_ok()
            && tokio::time::timeout(PING_TIMEOUT, self.db.ping())
                .await
                .is_ok_and(|ping| ping.is_ok());
        if reachable {
            DatabaseHealth::Ok
        } else {
            DatabaseHealth::Unavailable {
                storage: self.storage.reason().map(str::to_owned),
            }
        }
    }
}
