//! The database: connection, migrations, and the sea-orm entities the services query.

pub mod entities;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryOrder, QuerySelect, Select,
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

/// Applies every pending migration; a no-op when the schema is current.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether the error means the database could not be reached, as opposed to a bad query.
pub fn is_unavailable(err: &DbErr) -> bool {
    matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
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
