//! Idempotency keys: one row per user and key (the key's SHA-256), written with its response in
//! the transaction of the request that used it, so that a key is stored exactly when what its
//! request did is. `locked_until` is what earlier versions wrote while their request ran (a row
//! without a response), and `holder` the claim they compared-and-swapped on: this version
//! reads the first and writes a fresh `holder` into every row, so that an earlier version's
//! instance, during a rolling upgrade, never takes a row of this version's for its own.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    ExprTrait, QueryFilter, Statement, sea_query::OnConflict,
};

use super::entities::idempotency_keys::{ActiveModel, Column, Entity, Model};

/// A key's row as the service reads it.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub fingerprint: String,
    pub locked_until: DateTime<Utc>,
    /// The status and body of the first request; `None` in a row an earlier version wrote
    /// while that request ran.
    pub response: Option<(u16, String)>,
    pub expires_at: DateTime<Utc>,
}

/// A finished request's key: what it was for, what it answered, and until when.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    pub fingerprint: &'a str,
    /// Random, new for each row.
    pub holder: &'a str,
    pub status: u16,
    pub body: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn find(
    conn: &impl ConnectionTrait,
    user_id: i64,
    key_hash: &str,
) -> Result<Option<StoredKey>, DbErr> {
    let row = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::KeyHash.eq(key_hash))
        .one(conn)
        .await?;
    Ok(row.map(stored_from_row))
}

/// Stores `key` with its response, if the key is free: new, expired, or left without a
/// response by a request of an earlier version that can no longer be running. False when
/// another request's response holds it. One `INSERT … ON CONFLICT DO UPDATE … WHERE`: of two
/// racers, the second waits for the first's transaction and then finds the key taken.
pub async fn store(
    conn: &impl ConnectionTrait,
    user_id: i64,
    key_hash: &str,
    key: &NewKey<'_>,
) -> Result<bool, DbErr> {
    let free = Column::ExpiresAt
        .lte(key.created_at)
        .or(Column::ResponseStatus
            .is_null()
            .and(Column::LockedUntil.lte(key.created_at)));
    let stored = Entity::insert(ActiveModel {
        user_id: Set(user_id),
        key_hash: Set(key_hash.to_owned()),
        fingerprint: Set(key.fingerprint.to_owned()),
        holder: Set(key.holder.to_owned()),
        locked_until: Set(key.created_at),
        response_status: Set(Some(i32::from(key.status))),
        response_body: Set(Some(key.body.to_owned())),
        created_at: Set(key.created_at),
        expires_at: Set(key.expires_at),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([Column::UserId, Column::KeyHash])
            .update_columns([
                Column::Fingerprint,
                Column::Holder,
                Column::LockedUntil,
                Column::ResponseStatus,
                Column::ResponseBody,
                Column::CreatedAt,
                Column::ExpiresAt,
            ])
            .action_and_where(free)
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(stored == 1)
}

/// Replaces the stored response of a key this transaction stored: for a response that changed
/// after it was stored (lines that took no stock after all).
pub async fn replace_response(
    conn: &impl ConnectionTrait,
    user_id: i64,
    key_hash: &str,
    status: u16,
    body: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::ResponseStatus, i32::from(status).into())
        .col_expr(Column::ResponseBody, body.into())
        .filter(Column::UserId.eq(user_id))
        .filter(Column::KeyHash.eq(key_hash))
        .exec(conn)
        .await?;
    Ok(())
}

/// Takes the lock of a key for the rest of `conn`'s transaction, on PostgreSQL, where the
/// requests that race for a key may run on any instance: false when another transaction holds
/// it. On SQLite, writers take turns anyway: true.
pub async fn lock(conn: &impl ConnectionTrait, lock_id: i64) -> Result<bool, DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS locked",
            [lock_id.into()],
        ))
        .await?;
    match row {
        Some(row) => row.try_get("", "locked"),
        None => Ok(false),
    }
}

/// Deletes the keys that expired before `at`, but for those an earlier version's request may
/// still be running; answers how many.
pub async fn prune(conn: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(at))
        .filter(
            Condition::any()
                .add(Column::ResponseStatus.is_not_null())
                .add(Column::LockedUntil.lte(at)),
        )
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}

fn stored_from_row(row: Model) -> StoredKey {
    let response = match (row.response_status, row.response_body) {
        (Some(status), Some(body)) => u16::try_from(status).ok().map(|status| (status, body)),
        _ => None,
    };
    StoredKey {
        fingerprint: row.fingerprint,
        locked_until: row.locked_until,
        response,
        expires_at: row.expires_at,
    }
}
