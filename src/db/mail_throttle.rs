//! At most one mail of a kind per recipient and window, decided by the database in one
//! statement, so that concurrent requests (on any number of instances) cannot both send.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::OnConflict,
};

use super::entities::mail_throttle::{ActiveModel, Column, Entity};

/// Claims the right to send the mail `key` at `now`: true for the one request that inserts
/// the row, or moves a `sent_at` older than `window` to `now`; false for every other.
/// `INSERT … ON CONFLICT DO UPDATE … WHERE` is atomic on PostgreSQL and on SQLite, so a
/// count followed by an insert, which let 20 racing requests send up to 11 mails, is not.
pub async fn claim(
    db: &impl ConnectionTrait,
    key: &str,
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Result<bool, DbErr> {
    let claimed = Entity::insert(ActiveModel {
        key: Set(key.to_owned()),
        sent_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(Column::Key)
            .update_column(Column::SentAt)
            .action_and_where(Column::SentAt.lte(now - window))
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(claimed == 1)
}

/// When the mail `key` was last sent, if ever: to tell a refused request how long to wait.
pub async fn sent_at(db: &impl ConnectionTrait, key: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| row.sent_at))
}

/// Deletes the rows of mails sent before `before`, which hold nothing back any more once every
/// window has passed; answers how many.
pub async fn prune(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::SentAt.lte(before))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}
