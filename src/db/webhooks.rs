//! Webhooks: where the shop's events are delivered. Shop-wide: every admin manages them all.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryOrder,
};

use super::entities::webhooks::{ActiveModel, Column, Entity, Model};
use crate::domain::webhook::EventTypes;

/// A webhook as its managers see it, without its secret.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    pub events: EventTypes,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn webhook_from_row(row: Model) -> Webhook {
    Webhook {
        id: row.id,
        url: row.url,
        description: row.description,
        events: EventTypes::from_stored(&row.events),
        enabled: row.enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub struct NewWebhook<'a> {
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub events: &'a EventTypes,
    pub secret: &'a str,
    pub at: DateTime<Utc>,
}

/// The changes of a PATCH: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub url: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub events: Option<EventTypes>,
    pub enabled: Option<bool>,
}

pub async fn insert(conn: &impl ConnectionTrait, new: NewWebhook<'_>) -> Result<Webhook, DbErr> {
    let row = ActiveModel {
        url: Set(new.url.to_owned()),
        description: Set(new.description.map(str::to_owned)),
        events: Set(new.events.to_stored()),
        secret: Set(new.secret.to_owned()),
        enabled: Set(true),
        created_at: Set(new.at),
        updated_at: Set(new.at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(webhook_from_row(row))
}

/// Every webhook, oldest first.
pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<Webhook>, DbErr> {
    let rows = Entity::find().order_by_asc(Column::Id).all(conn).await?;
    Ok(rows.into_iter().map(webhook_from_row).collect())
}

pub async fn find(conn: &impl ConnectionTrait, id: i64) -> Result<Option<Webhook>, DbErr> {
    Ok(Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(webhook_from_row))
}

/// The URL and secret of webhook `id`, for a delivery.
pub async fn target(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<(String, String)>, DbErr> {
    Ok(Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(|row| (row.url, row.secret)))
}

/// Applies `changes` to webhook `id`; `None` when there is no such webhook.
pub async fn update(
    conn: &impl ConnectionTrait,
    id: i64,
    changes: Changes,
    at: DateTime<Utc>,
) -> Result<Option<Webhook>, DbErr> {
    let Some(row) = Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    let mut active: ActiveModel = row.into();
    if let Some(url) = changes.url {
        active.url = Set(url);
    }
    if let Some(description) = changes.description {
        active.description = Set(description);
    }
    if let Some(events) = changes.events {
        active.events = Set(events.to_stored());
    }
    if let Some(enabled) = changes.enabled {
        active.enabled = Set(enabled);
    }
    active.updated_at = Set(at);
    Ok(Some(webhook_from_row(active.update(conn).await?)))
}

/// Deletes webhook `id` and its delivery log; `false` when there is none.
pub async fn delete(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    Ok(Entity::delete_by_id(id).exec(conn).await?.rows_affected > 0)
}
