//! Sessions: one row per access token, keyed by the token's `jti`, live until it expires or
//! is revoked.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType,
    QueryFilter, QuerySelect, RelationTrait, sea_query::Expr,
};

use super::{
    entities::{
        sessions::{ActiveModel, Column, Entity},
        users,
    },
    users::user_from_row,
};
use crate::domain::User;

/// A session about to be recorded.
#[derive(Debug)]
pub struct NewSession<'a> {
    pub jti: &'a str,
    pub user_id: i64,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(conn: &impl ConnectionTrait, session: NewSession<'_>) -> Result<(), DbErr> {
    ActiveModel {
        jti: Set(session.jti.to_owned()),
        user_id: Set(session.user_id),
        issued_at: Set(session.issued_at),
        expires_at: Set(session.expires_at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The user of session `jti`, when it belongs to `user_id` and is neither revoked nor expired
/// `at`; one query fetches both.
pub async fn live_user(
    conn: &impl ConnectionTrait,
    jti: &str,
    user_id: i64,
    at: DateTime<Utc>,
) -> Result<Option<User>, DbErr> {
    let row = users::Entity::find()
        .join(JoinType::InnerJoin, users::Relation::Sessions.def())
        .filter(Column::Jti.eq(jti))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(at))
        .one(conn)
        .await?;
    Ok(row.map(user_from_row))
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

/// Revokes every live session of `user_id` but `keep`, `at`.
pub async fn revoke_all_but(
    conn: &impl ConnectionTrait,
    user_id: i64,
    keep: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        update = update.filter(Column::Jti.ne(keep));
    }
    update.exec(conn).await?;
    Ok(())
}
