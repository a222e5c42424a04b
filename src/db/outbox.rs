//! The transactional outbox: each event is written in the transaction of the change it reports,
//! with one pending delivery for each enabled webhook that wants it. Delivery workers claim due
//! deliveries (one statement, so two workers never hold the same row: `FOR UPDATE SKIP LOCKED`
//! on PostgreSQL; on SQLite the statement holds the one write lock), send them, and record
//! each attempt. A claim ends with its attempt, or at `claimed_until` if its worker died.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, sea_query::Expr,
};

use super::{
    entities::{
        outbox_events,
        webhook_deliveries::{Column, Entity, Model},
    },
    statement,
};
use crate::domain::listing::{Page, PageMeta, PageRequest};

/// An event about to be written.
pub struct NewEvent<'a> {
    pub public_id: &'a str,
    pub event_type: &'a str,
    /// The delivery's body.
    pub payload: &'a str,
    pub at: DateTime<Utc>,
}

/// A delivery a worker holds, with what to send.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery_id: i64,
    pub webhook_id: i64,
    /// Attempts made before this one.
    pub attempts: i32,
    pub event_public_id: String,
    pub payload: String,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: DateTime<Utc>,
    /// `delivered`, `pending` (to be tried again at `next_attempt_at`) or `failed`.
    pub state: &'static str,
    pub next_attempt_at: DateTime<Utc>,
}

/// A delivery as its webhook's log shows it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub event_public_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Writes `event` and a pending delivery for each enabled webhook that wants its type, on
/// `conn` (the transaction of the change); answers how many deliveries.
pub async fn record(conn: &impl ConnectionTrait, event: NewEvent<'_>) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    let inserted = conn
        .query_one_raw(statement(
            backend,
            "INSERT INTO outbox_events (public_id, type, payload, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
            vec![
                event.public_id.into(),
                event.event_type.into(),
                event.payload.into(),
                event.at.into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the event was not written".into()))?;
    let event_id: i64 = inserted.try_get("", "id")?;
    let fanned = conn
        .execute_raw(statement(
            backend,
            "INSERT INTO webhook_deliveries (webhook_id, event_id, state, attempts, \
             next_attempt_at, created_at) \
             SELECT id, $1, 'pending', 0, $2, $3 FROM webhooks \
             WHERE enabled AND events LIKE $4",
            vec![
                event_id.into(),
                event.at.into(),
                event.at.into(),
                format!("% {} %", event.event_type).into(),
            ],
        ))
        .await?;
    Ok(fanned.rows_affected())
}

/// Whether any delivery of an enabled webhook is due `at`: one indexed read, so that an idle
/// worker takes no write lock.
pub async fn any_due(conn: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<bool, DbErr> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(statement(
            backend,
            "SELECT 1 AS due FROM webhook_deliveries \
             WHERE state = 'pending' AND next_attempt_at <= $1 \
               AND (claimed_until IS NULL OR claimed_until <= $2) \
               AND webhook_id IN (SELECT id FROM webhooks WHERE enabled) LIMIT 1",
            vec![at.into(), at.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// Claims up to `limit` due deliveries for `holder` until `until`: pending ones whose time has
/// come and that nobody holds, or whose holder's claim ran out.
pub async fn claim(
    conn: &impl ConnectionTrait,
    holder: &str,
    at: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Claimed>, DbErr> {
    let backend = conn.get_database_backend();
    let skip_locked = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2 \
         WHERE id IN (SELECT id FROM webhook_deliveries \
           WHERE state = 'pending' AND next_attempt_at <= $3 \
             AND (claimed_until IS NULL OR claimed_until <= $4) \
             AND webhook_id IN (SELECT id FROM webhooks WHERE enabled) \
           ORDER BY next_attempt_at, id LIMIT $5 {skip_locked}) \
         RETURNING id, webhook_id, event_id, attempts"
    );
    let rows = conn
        .query_all_raw(statement(
            backend,
            &sql,
            vec![
                holder.into(),
                until.into(),
                at.into(),
                at.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    let mut event_ids = Vec::with_capacity(rows.len());
    for row in &rows {
        event_ids.push(row.try_get::<i64>("", "event_id")?);
    }
    // Their events in one query, not one each.
    let events = outbox_events::Entity::find()
        .filter(outbox_events::Column::Id.is_in(event_ids.clone()))
        .all(conn)
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for (row, event_id) in rows.iter().zip(event_ids) {
        let Some(event) = events.iter().find(|event| event.id == event_id) else {
            continue;
        };
        claimed.push(Claimed {
            delivery_id: row.try_get("", "id")?,
            webhook_id: row.try_get("", "webhook_id")?,
            attempts: row.try_get("", "attempts")?,
            event_public_id: event.public_id.clone(),
            payload: event.payload.clone(),
        });
    }
    Ok(claimed)
}

/// Records the attempt `claimed` made, if `holder` still holds it (a claim that ran out may
/// have passed to another worker, whose record counts); answers whether it did.
pub async fn finish(
    conn: &impl ConnectionTrait,
    claimed: &Claimed,
    holder: &str,
    attempt: &Attempt,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::State, Expr::value(attempt.state))
        .col_expr(Column::Attempts, Expr::value(claimed.attempts + 1))
        .col_expr(Column::NextAttemptAt, Expr::value(attempt.next_attempt_at))
        .col_expr(Column::ClaimedBy, Expr::value(Option::<String>::None))
        .col_expr(
            Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            Column::LastStatus,
            Expr::value(attempt.status.map(i32::from)),
        )
        .col_expr(Column::LastError, Expr::value(attempt.error.clone()))
        .col_expr(Column::LastDurationMs, Expr::value(attempt.duration_ms))
        .col_expr(Column::LastAttemptAt, Expr::value(attempt.at))
        .filter(Column::Id.eq(claimed.delivery_id))
        .filter(Column::ClaimedBy.eq(holder))
        .filter(Column::Attempts.eq(claimed.attempts))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Puts delivery `id` of webhook `webhook_id` back in the queue, due `at`, for a new round of
/// attempts (a claim in progress keeps it until it ends); `false` when there is no such
/// delivery.
pub async fn redeliver(
    conn: &impl ConnectionTrait,
    webhook_id: i64,
    id: i64,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::State, Expr::value("pending"))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(Column::NextAttemptAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::WebhookId.eq(webhook_id))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Delivery `id` of webhook `webhook_id`, if there is one.
pub async fn find(
    conn: &impl ConnectionTrait,
    webhook_id: i64,
    id: i64,
) -> Result<Option<Delivery>, DbErr> {
    let row = Entity::find_by_id(id)
        .filter(Column::WebhookId.eq(webhook_id))
        .find_also_related(outbox_events::Entity)
        .one(conn)
        .await?;
    Ok(row.and_then(|(row, event)| Some(delivery_from_row(row, &event?))))
}

/// One page of webhook `webhook_id`'s deliveries, newest first.
pub async fn of_webhook(
    conn: &impl ConnectionTrait,
    webhook_id: i64,
    page: PageRequest,
) -> Result<Page<Delivery>, DbErr> {
    let select = Entity::find().filter(Column::WebhookId.eq(webhook_id));
    let (rows, total) = super::fetch_page(
        conn,
        select,
        Column::Id,
        Column::Id,
        true,
        (page.offset(), page.per_page),
    )
    .await?;
    let event_ids: Vec<i64> = rows.iter().map(|row| row.event_id).collect();
    let events = outbox_events::Entity::find()
        .filter(outbox_events::Column::Id.is_in(event_ids))
        .all(conn)
        .await?;
    let data = rows
        .into_iter()
        .filter_map(|row| {
            let event = events.iter().find(|event| event.id == row.event_id)?;
            Some(delivery_from_row(row, event))
        })
        .collect();
    Ok(Page {
        data,
        meta: PageMeta::new(page, total),
    })
}

fn delivery_from_row(row: Model, event: &outbox_events::Model) -> Delivery {
    Delivery {
        id: row.id,
        event_public_id: event.public_id.clone(),
        event_type: event.event_type.clone(),
        next_attempt_at: (row.state == "pending").then_some(row.next_attempt_at),
        state: row.state,
        attempts: row.attempts,
        last_status: row.last_status,
        last_error: row.last_error,
        last_duration_ms: row.last_duration_ms,
        last_attempt_at: row.last_attempt_at,
        created_at: row.created_at,
    }
}

/// Deletes the events whose deliveries all ended before `before` (delivered or failed), with
/// those deliveries, and the events no webhook wanted (their deliveries were written with them,
/// so none can come later); answers how many events.
pub async fn prune(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    let deleted = conn
        .execute_raw(statement(
            backend,
            "DELETE FROM outbox_events WHERE NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries WHERE event_id = outbox_events.id \
              AND (state = 'pending' OR last_attempt_at >= $1))",
            vec![before.into()],
        ))
        .await?;
    Ok(deleted.rows_affected())
}
