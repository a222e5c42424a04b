//! Email verification tokens: the SHA-256 of each mailed token, never the token, with the
//! address it verifies. One live token per account: issuing one deletes the others, and using
//! one deletes it.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};

use super::{
    entities::{
        email_verification_tokens::{ActiveModel, Column, Entity},
        users,
    },
    users::user_from_row,
};
use crate::domain::User;

/// An unexpired token, the account it belongs to and the address it verifies.
#[derive(Debug)]
pub struct ValidToken {
    pub id: i64,
    pub user: User,
    pub email: String,
}

/// Records a token for `user_id` that verifies `email`, issued `at` and valid until
/// `expires_at`, and deletes every earlier token of the account: a newer link voids the older.
pub async fn issue(
    conn: &impl ConnectionTrait,
    user_id: i64,
    email: &str,
    token_hash: String,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    delete_for_user(conn, user_id).await?;
    ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(token_hash),
        email: Set(email.to_owned()),
        created_at: Set(at),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The token whose hash is `token_hash`, if it is unexpired `at`, with its user.
pub async fn find_valid(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    at: DateTime<Utc>,
) -> Result<Option<ValidToken>, DbErr> {
    let found = Entity::find()
        .find_also_related(users::Entity)
        .filter(Column::TokenHash.eq(token_hash))
        .filter(Column::ExpiresAt.gt(at))
        .one(conn)
        .await?;
    Ok(found.and_then(|(row, user)| {
        Some(ValidToken {
            id: row.id,
            user: user_from_row(user?),
            email: row.email,
        })
    }))
}

/// Deletes token `id`: true for the one caller that found it, so that only one of two racing
/// confirmations can use it.
pub async fn take(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Deletes every token of `user_id`.
pub async fn delete_for_user(conn: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the tokens that expired before `at` (used ones are deleted when used); answers how
/// many.
pub async fn prune(conn: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(at))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}
