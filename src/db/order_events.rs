//! The `order_events` table: an order's history. Rows are only ever inserted, in the
//! transaction of the change they record, and go only with their order (the foreign key
//! cascades).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::entities::order_events::{ActiveModel, Column, Entity, Model};
use crate::domain::{
    Role,
    listing::{Page, PageMeta, PageRequest},
    order::OrderStatus,
    order_event::{Actor, NewOrderEvent, OrderEvent, OrderEventKind},
};

/// Records `events` of order `order_id`, all `at` one time, in the order given.
pub async fn insert(
    conn: &impl ConnectionTrait,
    order_id: i64,
    events: Vec<NewOrderEvent>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.into_iter().map(|event| ActiveModel {
        order_id: Set(order_id),
        kind: Set(event.kind.as_str().to_owned()),
        actor_id: Set(event.actor.map(|actor| actor.id)),
        actor_role: Set(event.actor.map(|actor| actor.role.as_str().to_owned())),
        from_status: Set(event.from_status.map(|status| status.as_str().to_owned())),
        to_status: Set(event.to_status.map(|status| status.as_str().to_owned())),
        changes: Set((!event.changes.is_empty()).then(|| event.changes.join(","))),
        request_id: Set(event.request_id),
        created_at: Set(at),
        ..Default::default()
    });
    Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// One page of the events of order `order_id`, oldest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    order_id: i64,
    page: PageRequest,
) -> Result<Page<OrderEvent>, DbErr> {
    let select = Entity::find().filter(Column::OrderId.eq(order_id));
    let (rows, total) = super::fetch_page(
        conn,
        select,
        Column::Id,
        Column::Id,
        false,
        (page.offset(), page.per_page),
    )
    .await?;
    Ok(Page {
        data: rows.into_iter().map(event_from_row).collect(),
        meta: PageMeta::new(page, total),
    })
}

fn event_from_row(row: Model) -> OrderEvent {
    let status = |stored: Option<String>| stored.as_deref().and_then(OrderStatus::parse);
    let actor = match (row.actor_id, row.actor_role) {
        (Some(id), Some(role)) => Some(Actor {
            id,
            // An unexpected value grants the least privilege, as for accounts.
            role: Role::parse(&role).unwrap_or(Role::User),
        }),
        _ => None,
    };
    let changes = row
        .changes
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter_map(|field| {
            ["items", "currency", "notes"]
                .into_iter()
                .find(|known| *known == field)
        })
        .collect();
    OrderEvent {
        id: row.id,
        event: NewOrderEvent {
            // Written through `OrderEventKind::as_str`; an unknown one reads as an update.
            kind: OrderEventKind::parse(&row.kind).unwrap_or(OrderEventKind::Updated),
            actor,
            from_status: status(row.from_status),
            to_status: status(row.to_status),
            changes,
            request_id: row.request_id,
        },
        created_at: row.created_at,
    }
}
