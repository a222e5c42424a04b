//! Idempotency keys: one row per user and key (the key's SHA-256), claimed by one request at a
//! time. Every change of a row that a racing request could also make is a compare-and-swap on
//! its `holder`, so that of two racers exactly one wins.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    SqlErr, sea_query::Expr,
};

use super::entities::idempotency_keys::{ActiveModel, Column, Entity, Model};

/// A key's row as the service reads it.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub id: i64,
    pub fingerprint: String,
    pub holder: String,
    pub locked_until: DateTime<Utc>,
    /// The status and body of the finished first request; `None` while it runs.
    pub response: Option<(u16, String)>,
    pub expires_at: DateTime<Utc>,
}

/// What a new claim writes: the request it is for and how long it lasts.
#[derive(Debug, Clone)]
pub struct NewClaim<'a> {
    pub fingerprint: &'a str,
    pub holder: &'a str,
    pub locked_until: DateTime<Utc>,
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

/// Claims a key nobody holds: the row's id, or `None` when another request inserted it first.
pub async fn insert(
    conn: &impl ConnectionTrait,
    user_id: i64,
    key_hash: &str,
    claim: &NewClaim<'_>,
) -> Result<Option<i64>, DbErr> {
    let inserted = Entity::insert(ActiveModel {
        user_id: Set(user_id),
        key_hash: Set(key_hash.to_owned()),
        fingerprint: Set(claim.fingerprint.to_owned()),
        holder: Set(claim.holder.to_owned()),
        locked_until: Set(claim.locked_until),
        response_status: Set(None),
        response_body: Set(None),
        created_at: Set(claim.created_at),
        expires_at: Set(claim.expires_at),
        ..Default::default()
    })
    .exec(conn)
    .await;
    match inserted {
        Ok(inserted) => Ok(Some(inserted.last_insert_id)),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Makes row `id` a fresh claim, if `previous_holder` still holds it: true for the one request
/// that took it over.
pub async fn take_over(
    conn: &impl ConnectionTrait,
    id: i64,
    previous_holder: &str,
    claim: &NewClaim<'_>,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::Fingerprint, Expr::value(claim.fingerprint))
        .col_expr(Column::Holder, Expr::value(claim.holder))
        .col_expr(Column::LockedUntil, Expr::value(claim.locked_until))
        .col_expr(Column::ResponseStatus, Expr::value(Option::<i32>::None))
        .col_expr(Column::ResponseBody, Expr::value(Option::<String>::None))
        .col_expr(Column::CreatedAt, Expr::value(claim.created_at))
        .col_expr(Column::ExpiresAt, Expr::value(claim.expires_at))
        .filter(Column::Id.eq(id))
        .filter(Column::Holder.eq(previous_holder))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Stores the response of the claim `holder` on row `id`: false when the claim was taken over
/// meanwhile (it ran longer than it was allowed to hold the key).
pub async fn complete(
    conn: &impl ConnectionTrait,
    id: i64,
    holder: &str,
    status: u16,
    body: &str,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::ResponseStatus, Expr::value(i32::from(status)))
        .col_expr(Column::ResponseBody, Expr::value(body))
        .filter(Column::Id.eq(id))
        .filter(Column::Holder.eq(holder))
        .filter(Column::ResponseStatus.is_null())
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Gives the key back, unused, if the claim `holder` still holds row `id`.
pub async fn release(conn: &impl ConnectionTrait, id: i64, holder: &str) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::Holder.eq(holder))
        .filter(Column::ResponseStatus.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the keys that expired before `at`, but for those whose request still runs; answers
/// how many.
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
        id: row.id,
        fingerprint: row.fingerprint,
        holder: row.holder,
        locked_until: row.locked_until,
        response,
        expires_at: row.expires_at,
    }
}
