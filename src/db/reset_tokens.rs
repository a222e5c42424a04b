//! Password reset tokens: the SHA-256 of each mailed token, never the token, used at most once.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, sea_query::Expr,
};

use super::{
    entities::{
        password_reset_tokens::{ActiveModel, Column, Entity},
        users,
    },
    users::user_from_row,
};
use crate::domain::User;

/// A token that is unused and unexpired, and the account it resets.
#[derive(Debug)]
pub struct ValidToken {
    pub id: i64,
    pub user: User,
}

/// Records a token for `user_id`, issued `at` and valid until `expires_at`.
pub async fn issue(
    conn: &impl ConnectionTrait,
    user_id: i64,
    token_hash: String,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(token_hash),
        created_at: Set(at),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The token whose hash is `token_hash`, if it is unused and unexpired `at`, with its user.
pub async fn find_valid(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    at: DateTime<Utc>,
) -> Result<Option<ValidToken>, DbErr> {
    let found = Entity::find()
        .find_also_related(users::Entity)
        .filter(Column::TokenHash.eq(token_hash))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(at))
        .one(conn)
        .await?;
    Ok(found.and_then(|(row, user)| {
        Some(ValidToken {
            id: row.id,
            user: user_from_row(user?),
        })
    }))
}

/// Marks token `id` used `at`: true for the one caller that found it unused, so that only one
/// of two racing resets can use it.
pub async fn claim(conn: &impl ConnectionTrait, id: i64, at: DateTime<Utc>) -> Result<bool, DbErr> {
    let claimed = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(claimed.rows_affected > 0)
}

/// Deletes every token of `user_id`, used or not.
pub async fn delete_for_user(conn: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the tokens that were used, or expired, before `at`; answers how many.
pub async fn prune(conn: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::ExpiresAt.lte(at))
                .add(Column::UsedAt.lte(at)),
        )
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}
