//! The database: connection, migrations, and the sea-orm entities the services query.

pub mod entities;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    Order, PaginatorTrait, QueryOrder, QuerySelect, Select, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::config::{DatabaseKind, DatabaseSettings};

/// Opens the pool. SQLite gets WAL (readers never wait for the writer), foreign keys and a busy
/// timeout so that concurrent writers queue instead of failing.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(settings.url.expose().clone());
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.acquire_timeout)
        .sqlx_logging(false);
    if settings.kind == DatabaseKind::Sqlite {
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    }
    Database::connect(options).await
}

/// Which database the settings point at, for the log: `sqlite: /path/to/comptoir.db` or
/// `postgres: host:port/dbname`. Never the password, nor the rest of the URL.
pub fn describe(settings: &DatabaseSettings) -> String {
    use std::str::FromStr;

    use sea_orm::sqlx::{postgres::PgConnectOptions, sqlite::SqliteConnectOptions};
    let url = settings.url.expose();
    match settings.kind {
        DatabaseKind::Sqlite if url.contains(":memory:") || url.contains("mode=memory") => {
            "sqlite: in memory".to_owned()
        }
        DatabaseKind::Sqlite => match SqliteConnectOptions::from_str(url) {
            Ok(options) => {
                let file = options.get_filename();
                let file = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
                format!("sqlite: {}", file.display())
            }
            Err(_) => "sqlite: (unreadable DATABASE_URL)".to_owned(),
        },
        DatabaseKind::Postgres => match PgConnectOptions::from_str(url) {
            Ok(options) => {
                let server = match options.get_socket() {
                    Some(socket) => socket.display().to_string(),
                    None => format!("{}:{}", options.get_host(), options.get_port()),
                };
                // PostgreSQL's default database is the user's name.
                let database = options.get_database().unwrap_or(options.get_username());
                format!("postgres: {server}/{database}")
            }
            Err(_) => "postgres: (unreadable DATABASE_URL)".to_owned(),
        },
    }
}

/// An arbitrary key for PostgreSQL's advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x636f_6d70_746f_6972; // "comptoir"

/// Applies every pending migration; a no-op when the schema is current. The migrations run
/// in one transaction that first takes a lock (an advisory lock on PostgreSQL, the write lock
/// on SQLite), so instances that start together migrate one after the other, and the later
/// ones find nothing left to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = if db.get_database_backend() == DbBackend::Postgres {
        let txn = db.begin().await?;
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
        // `CREATE TABLE IF NOT EXISTS seaql_migrations` would log a NOTICE at every start.
        txn.execute_unprepared("SET LOCAL client_min_messages = warning")
            .await?;
        txn
    } else {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?
    };
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// Whether the error means the database could not be reached (the pool timed out, the
/// connection broke, the server is shutting down), as opposed to a bad query.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(cause)) | DbErr::Query(RuntimeErr::SqlxError(cause)) => {
            match cause.as_ref() {
                Error::Io(_)
                | Error::Tls(_)
                | Error::PoolTimedOut
                | Error::PoolClosed
                | Error::WorkerCrashed => true,
                // SQLSTATE class 08 is "connection exception", 57P0x "operator intervention".
                Error::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// One page of `select`, ordered by `column` then by `id` in the same direction (so that ties
/// cannot move rows between pages), and the number of rows across all pages.
pub async fn fetch_page<E>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
    column: E::Column,
    id: E::Column,
    descending: bool,
    (offset, limit): (u64, u64),
) -> Result<(Vec<E::Model>, u64), DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let total = select.clone().count(conn).await?;
    let direction = if descending { Order::Desc } else { Order::Asc };
    let rows = select
        .order_by(column, direction.clone())
        .order_by(id, direction)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?;
    Ok((rows, total))
}
