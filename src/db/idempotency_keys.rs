//! Idempotency keys: one row per user and key (the key's SHA-256), written with its response in
//! the transaction of the request that used it, so that a key is stored exactly when what its
//! request did is. The `holder` and `locked_until` columns are what earlier versions wrote
//! while their request ran (a row without a response); this version only reads them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, ExprTrait,
    QueryFilter, sea_query::OnConflict,
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
        // Nothing holds a key whose response is stored.
        holder: Set(String::new()),
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
