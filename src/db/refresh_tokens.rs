//! Refresh tokens: the SHA-256 of each one a session was given, never the token. One per
//! session is live (no `spent_at`); spent ones are kept until they expire, so that a replay is
//! recognised.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::Expr,
};

use super::{
    entities::{
        refresh_tokens::{ActiveModel, Column, Entity},
        sessions,
    },
    sessions::{Session, session_from_row},
};

/// A refresh token's row.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub id: i64,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub spent_at: Option<DateTime<Utc>>,
}

/// Records a refresh token of session `session_row_id`.
pub async fn insert(
    conn: &impl ConnectionTrait,
    session_row_id: i64,
    token_hash: String,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    // Without reading the row back: a refresh is a few statements, and each is a round trip.
    Entity::insert(ActiveModel {
        session_id: Set(session_row_id),
        token_hash: Set(token_hash),
        issued_at: Set(issued_at),
        expires_at: Set(expires_at),
        spent_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The token whose hash is `token_hash`, spent or not, with its session.
pub async fn find(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(RefreshToken, Session)>, DbErr> {
    let found = Entity::find()
        .find_also_related(sessions::Entity)
        .filter(Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?;
    Ok(found.and_then(|(row, session)| {
        Some((
            RefreshToken {
                id: row.id,
                issued_at: row.issued_at,
                expires_at: row.expires_at,
                spent_at: row.spent_at,
            },
            session_from_row(session?),
        ))
    }))
}

/// Marks token `id` spent `at`: true for the one caller that found it live, so that of two
/// racing refreshes only one rotates.
pub async fn spend(conn: &impl ConnectionTrait, id: i64, at: DateTime<Utc>) -> Result<bool, DbErr> {
    let spent = Entity::update_many()
        .col_expr(Column::SpentAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::SpentAt.is_null())
        .exec(conn)
        .await?;
    Ok(spent.rows_affected > 0)
}

/// Deletes the tokens that expired before `at`, spent or not; answers how many.
pub async fn prune(conn: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(at))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}
