//! Orders: who may see and change which, and which changes happen together.

use super::{ServiceError, now};
pub use crate::domain::order::{OrderChanges, OrderSortKey};
use crate::{
    db::{self, DatabaseConnection},
    domain::{
        Message, User,
        listing::{Page, PageRequest, Sort},
        order::{Currency, Items, Order, OrderStatus},
    },
};

#[derive(Debug, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub user_id: Option<i64>,
}

#[derive(Debug)]
pub struct NewOrder {
    /// For whom; only an admin may name someone (the default is the caller).
    pub user_id: Option<i64>,
    pub currency: Currency,
    pub items: Items,
    pub notes: Option<String>,
}

#[derive(Clone)]
pub struct Orders {
    db: DatabaseConnection,
    /// `REQUIRE_VERIFIED_EMAIL`: only verified users (and admins) create or change orders.
    require_verified_email: bool,
}

impl Orders {
    pub fn new(db: DatabaseConnection, require_verified_email: bool) -> Self {
        Self {
            db,
            require_verified_email,
        }
    }

    fn may_order(&self, actor: &User) -> Result<(), ServiceError> {
        if actor.may_order(self.require_verified_email) {
            Ok(())
        } else {
            Err(ServiceError::EmailNotVerified)
        }
    }

    /// An owner lists their own orders; an admin lists everyone's, or one user's.
    #[tracing::instrument(skip_all)]
    pub async fn list(
        &self,
        actor: &User,
        filter: OrderFilter,
        sort: Sort<OrderSortKey>,
        page: PageRequest,
    ) -> Result<Page<Order>, ServiceError> {
        let owner = if actor.is_admin() {
            filter.user_id
        } else if filter.user_id.is_none_or(|user_id| user_id == actor.id) {
            Some(actor.id)
        } else {
            return Err(ServiceError::Forbidden);
        };
        Ok(db::orders::list(&self.db, owner, filter.status, sort, page).await?)
    }

    /// Creates a pending order and its lines in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn create(&self, actor: &User, order: NewOrder) -> Result<Order, ServiceError> {
        self.may_order(actor)?;
        let owner = match order.user_id {
            None => actor.id,
            Some(_) if !actor.is_admin() => {
                return Err(ServiceError::invalid(
                    "user_id",
                    Message::new("order-owner-admin-only"),
                ));
            }
            Some(user_id) => {
                if !db::users::exists(&self.db, user_id).await? {
                    return Err(unknown_owner());
                }
                user_id
            }
        };
        let created = now();
        let txn = db::begin(&self.db).await?;
        let id = db::orders::insert_pending(
            &txn,
            owner,
            &order.currency,
            &order.items,
            order.notes.as_deref(),
            created,
        )
        .await?
        // The owner was deleted between the check and the insert.
        .ok_or_else(unknown_owner)?;
        txn.commit().await?;
        tracing::info!(order_id = id, "order created");
        Ok(Order {
            id,
            user_id: owner,
            status: OrderStatus::Pending,
            currency: order.currency,
            items: order.items,
            notes: order.notes,
            created_at: created,
            updated_at: created,
        })
    }

    /// The order with its lines, in one query.
    pub async fn get(&self, actor: &User, id: i64) -> Result<Order, ServiceError> {
        db::orders::find_visible(&self.db, id, owner_filter(actor))
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Applies a PUT or PATCH. Items and currency change only while the order is pending;
    /// owners may also change notes only then, and may only cancel. The write happens only if
    /// the status is still the one these rules were checked against, so that two racing
    /// requests cannot both move the order.
    #[tracing::instrument(skip_all, fields(order_id = id))]
    pub async fn update(
        &self,
        actor: &User,
        id: i64,
        changes: OrderChanges,
    ) -> Result<Order, ServiceError> {
        let current = self.get(actor, id).await?;
        self.may_order(actor)?;
        // Only what differs from the stored order is a change.
        let changes = OrderChanges {
            currency: changes
                .currency
                .filter(|currency| *currency != current.currency),
            items: changes.items.filter(|items| *items != current.items),
            notes: changes.notes.filter(|notes| *notes != current.notes),
            status: changes.status.filter(|status| *status != current.status),
        };
        if changes.is_empty() {
            return Ok(current);
        }

        if (changes.currency.is_some() || changes.items.is_some())
            && !current.status.allows_item_changes()
        {
            return Err(not_editable(
                Message::new("order-items-frozen").with("status", current.status.to_string()),
            ));
        }
        if changes.notes.is_some() && !current.status.allows_note_changes(actor.is_admin()) {
            return Err(not_editable(
                Message::new("order-notes-frozen").with("status", current.status.to_string()),
            ));
        }
        if let Some(next) = changes.status {
            if !current.status.can_become(next) {
                return Err(ServiceError::Conflict {
                    code: "invalid_status_transition",
                    message: Message::new("order-status-transition")
                        .with("from", current.status.to_string())
                        .with("to", next.to_string()),
                });
            }
            if !actor.is_admin() && !OrderStatus::owner_may_set(next) {
                return Err(ServiceError::Forbidden);
            }
        }

        let updated_at = now();
        let txn = db::begin(&self.db).await?;
        if !db::orders::update_if_status(&txn, id, current.status, &changes, updated_at).await? {
            txn.rollback().await?;
            let now_status = self.get(actor, id).await?.status;
            return Err(ServiceError::Conflict {
                code: "concurrent_update",
                message: Message::new("order-changed-meanwhile")
                    .with("status", now_status.to_string()),
            });
        }
        txn.commit().await?;
        if let Some(next) = changes.status {
            tracing::info!(order_id = id, from = %current.status, to = %next, "order status changed");
        }
        Ok(Order {
            status: changes.status.unwrap_or(current.status),
            currency: changes.currency.unwrap_or(current.currency),
            items: changes.items.unwrap_or(current.items),
            notes: changes.notes.unwrap_or(current.notes),
            updated_at,
            ..current
        })
    }

    /// An admin deletes any order; an owner only a pending or cancelled one.
    #[tracing::instrument(skip_all, fields(order_id = id))]
    pub async fn delete(&self, actor: &User, id: i64) -> Result<(), ServiceError> {
        let status = db::orders::find_visible_status(&self.db, id, owner_filter(actor))
            .await?
            .ok_or(ServiceError::NotFound)?;
        // An unknown stored status is deletable by admins only.
        let deletable = actor.is_admin()
            || status
                .as_ref()
                .is_ok_and(|status| status.deletable_by(false));
        if !deletable {
            let status = status.map_or_else(|stored| stored, |status| status.to_string());
            return Err(ServiceError::Conflict {
                code: "order_not_deletable",
                message: Message::new("order-delete-admin-only").with("status", status),
            });
        }
        let txn = db::begin(&self.db).await?;
        db::orders::delete(&txn, id).await?;
        txn.commit().await?;
        tracing::info!(order_id = id, "order deleted");
        Ok(())
    }
}

/// Whose orders `actor` may see: an admin everyone's, anyone else only their own.
fn owner_filter(actor: &User) -> Option<i64> {
    (!actor.is_admin()).then_some(actor.id)
}

fn unknown_owner() -> ServiceError {
    ServiceError::invalid("user_id", Message::new("order-owner-unknown"))
}

fn not_editable(message: Message) -> ServiceError {
    ServiceError::Conflict {
        code: "order_not_editable",
        message,
    }
}
