//! An order's history: which change, from which status to which, by whom, in which request.
//! Events are written with the change they record and never edited.

use chrono::{DateTime, Utc};

use super::{
    Role, User,
    order::{OrderChanges, OrderStatus},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEventKind {
    /// The order was placed (`to_status` is `pending`).
    Created,
    /// Its items, currency or notes changed (`changes` names which).
    Updated,
    /// Its status moved (`from_status` → `to_status`).
    StatusChanged,
}

impl OrderEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::StatusChanged => "status_changed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "created" => Some(Self::Created),
            "updated" => Some(Self::Updated),
            "status_changed" => Some(Self::StatusChanged),
            _ => None,
        }
    }
}

/// Who made a change, as they were then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: i64,
    pub role: Role,
}

impl From<&User> for Actor {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            role: user.role,
        }
    }
}

/// An event as it is written; the store gives it its id and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderEvent {
    pub kind: OrderEventKind,
    pub actor: Option<Actor>,
    pub from_status: Option<OrderStatus>,
    pub to_status: Option<OrderStatus>,
    /// The fields an `updated` event changed: `items`, `currency`, `notes`.
    pub changes: Vec<&'static str>,
    pub request_id: Option<String>,
}

impl NewOrderEvent {
    pub fn created(actor: Actor, request_id: Option<String>) -> Self {
        Self {
            kind: OrderEventKind::Created,
            actor: Some(actor),
            from_status: None,
            to_status: Some(OrderStatus::Pending),
            changes: Vec::new(),
            request_id,
        }
    }

    /// The events of one PUT or PATCH that applied `changes` to an order in `from`: an
    /// `updated` event for the fields, then a `status_changed` one for the status, so that a
    /// request that did both (edit the notes and cancel, say) reads as the two steps it took.
    pub fn for_changes(
        from: OrderStatus,
        changes: &OrderChanges,
        actor: Actor,
        request_id: Option<&str>,
    ) -> Vec<Self> {
        let mut events = Vec::new();
        let fields: Vec<&'static str> = [
            ("items", changes.items.is_some()),
            ("currency", changes.currency.is_some()),
            ("notes", changes.notes.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
        .collect();
        if !fields.is_empty() {
            events.push(Self {
                kind: OrderEventKind::Updated,
                actor: Some(actor),
                from_status: Some(from),
                to_status: Some(from),
                changes: fields,
                request_id: request_id.map(str::to_owned),
            });
        }
        if let Some(next) = changes.status {
            events.push(Self {
                kind: OrderEventKind::StatusChanged,
                actor: Some(actor),
                from_status: Some(from),
                to_status: Some(next),
                changes: Vec::new(),
                request_id: request_id.map(str::to_owned),
            });
        }
        events
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub id: i64,
    pub event: NewOrderEvent,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: Actor = Actor {
        id: 1,
        role: Role::Admin,
    };

    #[test]
    fn a_change_of_fields_and_status_is_an_update_then_a_status_change() {
        let changes = OrderChanges {
            notes: Some(Some("leave at the door".into())),
            status: Some(OrderStatus::Cancelled),
            ..OrderChanges::default()
        };
        let events =
            NewOrderEvent::for_changes(OrderStatus::Pending, &changes, ADMIN, Some("req-1"));
        let kinds: Vec<_> = events.iter().map(|event| event.kind).collect();
        assert_eq!(
            kinds,
            [OrderEventKind::Updated, OrderEventKind::StatusChanged]
        );
        assert_eq!(events[0].changes, ["notes"]);
        assert_eq!(events[1].from_status, Some(OrderStatus::Pending));
        assert_eq!(events[1].to_status, Some(OrderStatus::Cancelled));
        assert!(
            events
                .iter()
                .all(|event| event.request_id.as_deref() == Some("req-1"))
        );
    }

    #[test]
    fn no_change_is_no_event() {
        let events =
            NewOrderEvent::for_changes(OrderStatus::Paid, &OrderChanges::default(), ADMIN, None);
        assert!(events.is_empty());
    }

    #[test]
    fn kinds_read_back_as_written() {
        for kind in [
            OrderEventKind::Created,
            OrderEventKind::Updated,
            OrderEventKind::StatusChanged,
        ] {
            assert_eq!(OrderEventKind::parse(kind.as_str()), Some(kind));
        }
    }
}
