//! The database: connection, migrations, the sea-orm entities, and one module of queries per
//! table, which take and give back domain types; `notify` carries PostgreSQL's LISTEN/NOTIFY
//! and SQLite's change counter.
//!
//! Every query takes a `&impl ConnectionTrait`: the pool (`&DatabaseConnection`) or a
//! transaction from [`begin`], so that a service decides what happens atomically by passing
//! one transaction to several of them and calling `commit` on it.

pub mod api_tokens;
pub mod email_verifications;
pub mod entities;
pub mod idempotency_keys;
pub mod mail_throttle;
pub mod notify;
pub mod order_events;
pub mod orders;
pub mod outbox;
pub mod products;
pub mod refresh_tokens;
pub mod reset_tokens;
pub mod sessions;
pub mod storage;
pub mod users;
pub mod webhooks;

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ColumnTrait, ConnectOptions, Database, DbBackend, EntityTrait, ExprTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait, sea_query::Expr,
};

use crate::{
    config::{DatabaseKind, DatabaseSettings},
    domain::listing::{Position, SortValue},
    i18n::Locale,
};

pub use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

/// Whether this is PostgreSQL (else SQLite).
pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// The pool's connections at this moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConnections {
    pub in_use: u32,
    pub idle: u32,
}

pub fn pool_connections(db: &DatabaseConnection) -> PoolConnections {
    let (size, idle) = if is_postgres(db) {
        let pool = db.get_postgres_connection_pool();
        (pool.size(), pool.num_idle())
    } else {
        let pool = db.get_sqlite_connection_pool();
        (pool.size(), pool.num_idle())
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    PoolConnections {
        in_use: size.saturating_sub(idle),
        idle,
    }
}

/// Starts a transaction; it rolls back when dropped without `commit`.
pub async fn begin(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    db.begin().await
}

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
    let mut new_file = None;
    if settings.kind == DatabaseKind::Sqlite {
        new_file = missing_sqlite_file(settings.url.expose())?;
        // Connections to a local file are never recycled: when the last one closes, SQLite
        // deletes `-wal` and `-shm`, and the storage guard would take their return for a
        // replacement.
        options
            .idle_timeout(None)
            .max_lifetime(None)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
            });
    }
    if new_file.is_some() {
        // Turning a new file to WAL takes a lock that SQLite's busy handler does not wait for:
        // done on one connection first, so that the pool's first connections do not race for
        // it ("database is locked").
        let mut first = options.clone();
        first.max_connections(1).min_connections(0);
        Database::connect(first).await?.close().await?;
    }
    let db = Database::connect(options).await?;
    if let Some(path) = new_file.filter(|path| path.exists()) {
        tracing::warn!(
            database = %path.display(),
            "creating a new, empty database at {}: if one was expected there, its data is not \
             in this file",
            path.display()
        );
    }
    Ok(db)
}

/// Opens the pool on a database that must exist: a SQLite file that is not there is an
/// error, not a new empty database (for tools that read, such as `backup`).
pub async fn connect_existing(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    if settings.kind == DatabaseKind::Sqlite
        && let Some(path) = missing_sqlite_file(settings.url.expose())?
    {
        return Err(DbErr::Custom(format!(
            "there is no database at {} (DATABASE_URL)",
            path.display()
        )));
    }
    connect(settings).await
}

/// The SQLite file `url` names when it does not exist yet (it is about to be created), or an
/// error when it is gone but its `-wal` or `-shm` is still there: the database was deleted
/// or moved, and starting afresh would hide that.
fn missing_sqlite_file(url: &str) -> Result<Option<PathBuf>, DbErr> {
    use sea_orm::sqlx::{ConnectOptions as _, sqlite::SqliteConnectOptions};
    let options =
        SqliteConnectOptions::from_str(url).map_err(|err| DbErr::Custom(err.to_string()))?;
    let in_memory = options
        .to_url_lossy()
        .query_pairs()
        .any(|(key, value)| key == "mode" && value == "memory");
    let path = options.get_filename();
    if in_memory || path.exists() {
        return Ok(None);
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        if Path::new(&side).exists() {
            return Err(DbErr::Custom(format!(
                "the database file {} is missing but {} is there: the database was deleted or \
                 moved. Restore it, or remove its -wal and -shm files to start with an empty one",
                path.display(),
                Path::new(&side).display()
            )));
        }
    }
    Ok(Some(path.to_path_buf()))
}

/// The file a SQLite database keeps its main database in; `None` for an in-memory one.
pub async fn main_file(db: &impl ConnectionTrait) -> Result<Option<PathBuf>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ))
        .await?;
    let file: Option<String> = row.map(|row| row.try_get("", "file")).transpose()?;
    Ok(file.filter(|file| !file.is_empty()).map(PathBuf::from))
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
/// ones find nothing left to do. When the migration that adds `users.locale` runs, the
/// accounts it finds are given `default_locale`.
pub async fn migrate(db: &DatabaseConnection, default_locale: Locale) -> Result<(), DbErr> {
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
    let adds_user_locale = Migrator::get_pending_migrations(&txn)
        .await?
        .iter()
        .any(|pending| migration::adds_user_locale(pending.name()));
    Migrator::up(&txn, None).await?;
    if adds_user_locale {
        users::set_every_locale(&txn, default_locale).await?;
    }
    txn.commit().await
}

/// Whether this binary's latest migration is recorded as applied: an instance on a schema
/// that is behind it would fail the queries that need the new step. A database migrated
/// further (by a newer release, during a rolling upgrade) still counts.
pub async fn latest_migration_applied(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let Some(latest) = Migrator::migrations()
        .last()
        .map(|step| step.name().to_owned())
    else {
        return Ok(true);
    };
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT 1 AS applied FROM seaql_migrations WHERE version = $1",
        _ => "SELECT 1 AS applied FROM seaql_migrations WHERE version = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [latest.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// Writes a consistent copy of a SQLite database to `path` with `VACUUM INTO`, which reads
/// in one transaction (so writers carry on, and the copy holds what was committed when it
/// started) and refuses a `path` that already holds data.
pub async fn sqlite_copy_to(db: &DatabaseConnection, path: &Path) -> Result<(), DbErr> {
    let path = path
        .to_str()
        .ok_or_else(|| DbErr::Custom(format!("{} is not valid UTF-8", path.display())))?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [path.into()],
    ))
    .await
    .map(|_| ())
}

/// Whether the error means the database could not be reached (the pool timed out, the
/// connection broke, the server is shutting down, SQLite's files failed), as opposed to a bad
/// query.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    if storage::failure(err).is_some() {
        return true;
    }
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

/// Up to `limit` rows of `select` that come after `after` in the order of `column` then `id`
/// (both in the same direction): a keyset page. The condition is one row-value comparison,
/// `(column, id) < (key, id)` (`>` ascending), which both engines read as a range of an index
/// on the filters, `column` and `id`: the scan starts at the position, whatever its depth.
/// One comparison rather than `column <= key AND (column < key OR id < id)`: PostgreSQL's
/// cached generic plan checks the condition on each row it steps over, and the three terms made
/// a deep page cost 1.2× the first. Every sort column of the lists is NOT NULL, so no row
/// escapes the comparison.
pub async fn fetch_after<E>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
    column: E::Column,
    id: E::Column,
    descending: bool,
    after: Option<Position>,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let mut select = select;
    if let Some(after) = after {
        let key = match after.key {
            SortValue::Integer(value) => sea_orm::Value::from(value),
            SortValue::Text(value) => sea_orm::Value::from(value),
            SortValue::Time(value) => sea_orm::Value::from(value),
        };
        // Sorted by id alone, `column` is `id`: the comparison still holds, with a redundant term.
        let rows = Expr::tuple([column.into_expr(), id.into_expr()]);
        let position = Expr::tuple([Expr::val(key), Expr::val(after.id)]);
        select = select.filter(if descending {
            rows.lt(position)
        } else {
            rows.gt(position)
        });
    }
    let direction = if descending { Order::Desc } else { Order::Asc };
    select
        .order_by(column, direction.clone())
        .order_by(id, direction)
        .limit(limit)
        .all(conn)
        .await
}

/// The same statement for either engine: PostgreSQL's `$1, $2…` become SQLite's `?` (each
/// placeholder is written once, in order).
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        sql.to_owned()
    } else {
        let mut out = String::with_capacity(sql.len());
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    };
    Statement::from_sql_and_values(backend, sql, values)
}
