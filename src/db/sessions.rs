//! Sessions: one row per signed-in device, live until it expires or is revoked. Its access
//! tokens carry its `jti`; the session API knows it by `public_id`.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use super::{
    entities::{
        sessions::{ActiveModel, Column, Entity, Model},
        users,
    },
    users::user_from_row,
};
use crate::domain::User;

/// A session about to be recorded.
#[derive(Debug)]
pub struct NewSession<'a> {
    pub jti: &'a str,
    pub public_id: &'a str,
    pub user_id: i64,
    pub device_name: &'a str,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A session as its owner sees it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The row's key, for the refresh tokens that point at it.
    pub row_id: i64,
    pub jti: String,
    pub public_id: String,
    pub user_id: i64,
    pub device_name: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Neither revoked nor expired `at`.
    pub fn is_live(&self, at: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > at
    }
}

pub(super) fn session_from_row(row: Model) -> Session {
    Session {
        row_id: row.id,
        last_used_at: row.last_used_at.unwrap_or(row.issued_at),
        jti: row.jti,
        public_id: row.public_id,
        user_id: row.user_id,
        device_name: row.device_name,
        issued_at: row.issued_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

/// Records a session; answers its row id.
pub async fn insert(conn: &impl ConnectionTrait, session: NewSession<'_>) -> Result<i64, DbErr> {
    let row = ActiveModel {
        jti: Set(session.jti.to_owned()),
        public_id: Set(session.public_id.to_owned()),
        user_id: Set(session.user_id),
        device_name: Set(session.device_name.to_owned()),
        issued_at: Set(session.issued_at),
        expires_at: Set(session.expires_at),
        last_used_at: Set(Some(session.issued_at)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(row.id)
}

/// A live session `jti` of `user_id` at `at`, with its user; one query fetches both.
pub async fn live_with_user(
    conn: &impl ConnectionTrait,
    jti: &str,
    user_id: i64,
    at: DateTime<Utc>,
) -> Result<Option<(Session, User)>, DbErr> {
    let row = Entity::find()
        .find_also_related(users::Entity)
        .filter(Column::Jti.eq(jti))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(at))
        .one(conn)
        .await?;
    Ok(row.and_then(|(session, user)| Some((session_from_row(session), user_from_row(user?)))))
}

/// Records that session `jti` was used `at`, unless that was already recorded less than
/// `interval` before: however many instances see it used, the row is written at most once
/// per interval.
pub async fn touch(
    conn: &impl ConnectionTrait,
    jti: &str,
    at: DateTime<Utc>,
    interval: TimeDelta,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::value(at))
        .filter(Column::Jti.eq(jti))
        .filter(
            Condition::any()
                .add(Column::LastUsedAt.is_null())
                .add(Column::LastUsedAt.lte(at - interval)),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// After a refresh: the session lives until its new refresh token expires, and was used `at`.
pub async fn extend(
    conn: &impl ConnectionTrait,
    row_id: i64,
    expires_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::ExpiresAt, Expr::value(expires_at))
        .col_expr(Column::LastUsedAt, Expr::value(at))
        .filter(Column::Id.eq(row_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The live sessions of `user_id` at `at`, newest first.
pub async fn live_of_user(
    conn: &impl ConnectionTrait,
    user_id: i64,
    at: DateTime<Utc>,
) -> Result<Vec<Session>, DbErr> {
    let rows = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(at))
        .order_by_desc(Column::IssuedAt)
        .order_by_desc(Column::Id)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(session_from_row).collect())
}

/// Revokes session `jti` `at`, unless it already was.
pub async fn revoke(
    conn: &impl ConnectionTrait,
    jti: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::Jti.eq(jti))
        .filter(Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Revokes the live session of `user_id` whose public id is `public_id`: false when there is
/// none (unknown, another user's, already ended).
pub async fn revoke_public(
    conn: &impl ConnectionTrait,
    user_id: i64,
    public_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let revoked = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::PublicId.eq(public_id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(at))
        .exec(conn)
        .await?;
    Ok(revoked.rows_affected > 0)
}

/// Revokes every live session of `user_id` but `keep` (a `jti`), `at`; answers how many.
pub async fn revoke_all_but(
    conn: &impl ConnectionTrait,
    user_id: i64,
    keep: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(at));
    if let Some(keep) = keep {
        update = update.filter(Column::Jti.ne(keep));
    }
    Ok(update.exec(conn).await?.rows_affected)
}

/// Deletes the sessions that expired or were revoked before `at`, with their refresh tokens;
/// answers how many sessions.
pub async fn prune(conn: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::ExpiresAt.lte(at))
                .add(Column::RevokedAt.lte(at)),
        )
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}
