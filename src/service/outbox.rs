//! The events the shop announces to webhooks, written to the outbox in the transaction of the
//! change they report (see `db::outbox`): an event is never sent for a change that rolled back,
//! nor lost for one that committed. Each body is what receivers get:
//! `{id, type, created_at, data}`, `data` being the resource as the API shows it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{ServiceError, random_hex};
use crate::{
    db::{self, ConnectionTrait, outbox::NewEvent},
    domain::{
        User,
        order::{Order, OrderStatus},
        product::Product,
        webhook::EventType,
    },
};

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes an event of `event_type` about `data` on `conn`, the transaction of the change.
pub async fn record(
    conn: &impl ConnectionTrait,
    event_type: EventType,
    data: Value,
    at: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let public_id = format!("evt_{}", random_hex(16));
    let payload = json!({
        "id": public_id,
        "type": event_type.as_str(),
        "created_at": timestamp(at),
        "data": data,
    });
    db::outbox::record(
        conn,
        NewEvent {
            public_id: &public_id,
            event_type: event_type.as_str(),
            payload: &payload.to_string(),
            at,
        },
    )
    .await?;
    Ok(())
}

/// An order as `GET /api/orders/{id}` shows it.
pub fn order_data(order: &Order) -> Value {
    let items: Vec<Value> = order
        .items
        .lines()
        .iter()
        .map(|line| {
            json!({
                "product_id": line.product_id,
                "sku": line.sku,
                "product": line.product,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
                "line_total_cents": line.line_total_cents,
            })
        })
        .collect();
    json!({
        "id": order.id,
        "user_id": order.user_id,
        "status": order.status.as_str(),
        "currency": order.currency.as_str(),
        "total_cents": order.items.total_cents(),
        "items": items,
        "notes": order.notes,
        "created_at": timestamp(order.created_at),
        "updated_at": timestamp(order.updated_at),
    })
}

/// An order whose status moved from `from`: the order, and where it came from.
pub fn status_change_data(order: &Order, from: OrderStatus) -> Value {
    json!({"order": order_data(order), "from_status": from.as_str()})
}

/// A product that has just run out.
pub fn product_data(product: &Product) -> Value {
    json!({
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "stock": product.stock,
        "active": product.active,
        "updated_at": timestamp(product.updated_at),
    })
}

/// A deleted order: its id, and the status it was deleted in.
pub fn order_deleted_data(id: i64, status: &str) -> Value {
    json!({"id": id, "status": status})
}

/// A deleted user: their id, and the address they had.
pub fn user_deleted_data(user: &User) -> Value {
    json!({"id": user.id, "email": user.email})
}

/// A user as `GET /api/users/{id}` shows them.
pub fn user_data(user: &User) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role.as_str(),
        "created_at": timestamp(user.created_at),
    })
}
