//! API tokens: a user's named tokens for other systems. Only a token's SHA-256 is stored; a
//! token is live until it expires (if it does) or is deleted.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use super::{
    entities::{
        api_tokens::{ActiveModel, Column, Entity, Model},
        users,
    },
    users::user_from_row,
};
use crate::domain::{User, ability::Abilities};

/// A token about to be recorded.
#[derive(Debug)]
pub struct NewApiToken<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub abilities: Abilities,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as its owner sees it: never the token itself.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub abilities: Abilities,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

fn token_from_row(row: Model) -> ApiToken {
    ApiToken {
        id: row.id,
        user_id: row.user_id,
        name: row.name,
        abilities: Abilities::from_stored(&row.abilities),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
    }
}

/// Neither expired `at` nor ever to: the condition of a live token.
fn live(at: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::ExpiresAt.is_null())
        .add(Column::ExpiresAt.gt(at))
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    token: NewApiToken<'_>,
) -> Result<ApiToken, DbErr> {
    let row = ActiveModel {
        user_id: Set(token.user_id),
        name: Set(token.name.to_owned()),
        abilities: Set(token.abilities.to_stored()),
        token_hash: Set(token.token_hash),
        created_at: Set(token.created_at),
        last_used_at: Set(None),
        expires_at: Set(token.expires_at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(token_from_row(row))
}

/// The live tokens of `user_id`, newest first.
pub async fn live_of_user(
    conn: &impl ConnectionTrait,
    user_id: i64,
    at: DateTime<Utc>,
) -> Result<Vec<ApiToken>, DbErr> {
    let rows = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(live(at))
        .order_by_desc(Column::Id)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(token_from_row).collect())
}

/// The token whose hash is `token_hash`, expired or not, with its user: one query.
pub async fn find_with_user(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(ApiToken, User)>, DbErr> {
    let row = Entity::find()
        .find_also_related(users::Entity)
        .filter(Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?;
    Ok(row.and_then(|(token, user)| Some((token_from_row(token), user_from_row(user?)))))
}

/// Deletes token `id` of `user_id`; `false` when there is none (or it is someone else's).
pub async fn delete(conn: &impl ConnectionTrait, user_id: i64, id: i64) -> Result<bool, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Records that the token whose hash is `token_hash` was used `at`, unless that was recorded
/// less than `interval` before (as for sessions: at most one write per interval, whatever the
/// instances).
pub async fn touch(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    at: DateTime<Utc>,
    interval: TimeDelta,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::value(at))
        .filter(Column::TokenHash.eq(token_hash))
        .filter(
            Condition::any()
                .add(Column::LastUsedAt.is_null())
                .add(Column::LastUsedAt.lte(at - interval)),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the tokens expired by `at`; answers how many.
pub async fn prune(conn: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(at))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}
