//! Orders: who may see and change which, and which changes happen together.

use super::{
    ServiceError,
    cursors::Cursors,
    expected_version,
    idempotency::{self, RunningKey, StoredResponse},
    now, outbox,
};
pub use crate::domain::order::OrderSortKey;
use crate::{
    db::{self, DatabaseConnection, orders::WriteError, products::Taken},
    domain::{
        FieldErrors, Message, User,
        listing::{CursorPage, Page, PageRequest, Sort},
        order::{Currency, ItemRequests, Items, Order, OrderChanges, OrderStatus, stock_moves},
        order_event::{Actor, NewOrderEvent, OrderEvent, OrderEventKind},
        precondition::Condition,
        webhook::EventType,
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
    pub items: ItemRequests,
    pub notes: Option<String>,
}

/// The idempotency key an order's creation runs with, and the response the API makes of the
/// order: stored in the transaction that creates it.
pub struct KeyedCreate<'a> {
    pub key: &'a RunningKey,
    pub response: &'a (dyn Fn(&Order) -> StoredResponse + Sync),
}

/// The changes of a PUT or PATCH: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct OrderEdit {
    pub currency: Option<Currency>,
    pub items: Option<ItemRequests>,
    /// `Some(None)` clears the notes.
    pub notes: Option<Option<String>>,
    pub status: Option<OrderStatus>,
}

#[derive(Clone)]
pub struct Orders {
    db: DatabaseConnection,
    /// `REQUIRE_VERIFIED_EMAIL`: only verified users (and admins) create or change orders.
    require_verified_email: bool,
    /// `ORDER_FREE_LINES=anyone`: free lines from anyone, not only from admins.
    free_lines_for_anyone: bool,
    cursors: Cursors,
}

impl Orders {
    pub fn new(
        db: DatabaseConnection,
        require_verified_email: bool,
        free_lines_for_anyone: bool,
        cursors: Cursors,
    ) -> Self {
        Self {
            db,
            require_verified_email,
            free_lines_for_anyone,
            cursors,
        }
    }

    /// The lines of an order in `currency`: free lines only from those who may send them,
    /// product lines copied from the catalogue as it is now.
    async fn resolve(
        &self,
        actor: &User,
        currency: &Currency,
        requests: ItemRequests,
    ) -> Result<Items, ServiceError> {
        if !(actor.is_admin() || self.free_lines_for_anyone) {
            let mut errors = FieldErrors::new();
            for index in requests.free_lines() {
                errors.add(
                    format!("items.{index}"),
                    Message::new("order-free-line-admin-only"),
                );
            }
            if !errors.is_empty() {
                return Err(errors.into());
            }
        }
        let products = db::products::find_many(&self.db, requests.product_ids()).await?;
        Ok(requests.resolve(currency, &products)?)
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
        let owner = Self::owner_of_list(actor, &filter)?;
        Ok(db::orders::list(&self.db, owner, filter.status, sort, page).await?)
    }

    /// The page of the orders `list` would give that `cursor` points at (`cursors::FIRST_PAGE`
    /// for the first), and the cursor of the next one. A cursor opens only for the reader,
    /// filters and sort it was given for.
    #[tracing::instrument(skip_all)]
    pub async fn list_by_cursor(
        &self,
        actor: &User,
        filter: OrderFilter,
        sort: Sort<OrderSortKey>,
        cursor: &str,
        per_page: u64,
    ) -> Result<CursorPage<Order>, ServiceError> {
        let owner = Self::owner_of_list(actor, &filter)?;
        let scope = format!("orders|{}|{owner:?}|{:?}|{sort:?}", actor.id, filter.status);
        let after = self.cursors.open(&scope, cursor)?;
        let slice =
            db::orders::list_after(&self.db, owner, filter.status, sort, after, per_page).await?;
        Ok(self.cursors.page(&scope, slice, per_page))
    }

    /// Whose orders `actor` lists with `filter`: an admin anyone's (or one user's), anyone
    /// else only their own.
    fn owner_of_list(actor: &User, filter: &OrderFilter) -> Result<Option<i64>, ServiceError> {
        if actor.is_admin() {
            Ok(filter.user_id)
        } else if filter.user_id.is_none_or(|user_id| user_id == actor.id) {
            Ok(Some(actor.id))
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// Creates a pending order, its lines and its `created` event in one transaction, with the
    /// response of its idempotency key if it has one; `request_id` is recorded in the event.
    #[tracing::instrument(skip_all)]
    pub async fn create(
        &self,
        actor: &User,
        order: NewOrder,
        request_id: Option<&str>,
        keyed: Option<KeyedCreate<'_>>,
    ) -> Result<Order, ServiceError> {
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
        let items = self.resolve(actor, &order.currency, order.items).await?;
        let created = now();
        let txn = db::begin(&self.db).await?;
        if let Some(keyed) = &keyed
            && !keyed.key.lock_in(&txn).await?
        {
            // Another request with the key is running, on another instance.
            txn.rollback().await?;
            return Err(idempotency::in_use());
        }
        let id = match db::orders::insert_pending(
            &txn,
            owner,
            &order.currency,
            &items,
            order.notes.as_deref(),
            created,
        )
        .await
        {
            Ok(id) => id,
            Err(err) => {
                txn.rollback().await?;
                return Err(self.refused(err, &items).await);
            }
        };
        let created_event =
            NewOrderEvent::created(Actor::from(actor), request_id.map(str::to_owned));
        db::order_events::insert(&txn, id, vec![created_event], created).await?;
        let mut order = Order {
            id,
            user_id: owner,
            status: OrderStatus::Pending,
            currency: order.currency,
            items,
            notes: order.notes,
            created_at: created,
            updated_at: created,
            version: 1,
        };
        if let Some(keyed) = &keyed
            && !keyed.key.store_in(&txn, &(keyed.response)(&order)).await?
        {
            // Another request's response holds the key: this one writes nothing, and the API
            // answers what that one did.
            txn.rollback().await?;
            return Err(idempotency::in_use());
        }
        outbox::record(
            &txn,
            EventType::OrderCreated,
            outbox::order_data(&order),
            created,
        )
        .await?;
        // The stock last: a product's row stays locked from its decrement to the commit, so
        // that the other orders of a product in demand wait for this one's commit only.
        let untracked = move_stock(&txn, &Items::from_stored(Vec::new()), &order.items).await?;
        if !untracked.is_empty() {
            // Tracking stopped since the lines were resolved: those lines took nothing.
            order.items.mark_untracked(&untracked);
            db::orders::mark_stock_not_taken(&txn, id, &untracked).await?;
            if let Some(keyed) = &keyed {
                keyed
                    .key
                    .replace_in(&txn, &(keyed.response)(&order))
                    .await?;
            }
        }
        txn.commit().await?;
        tracing::info!(order_id = id, "order created");
        Ok(order)
    }

    /// The history of an order its owner or an admin may see, oldest first.
    pub async fn events(
        &self,
        actor: &User,
        id: i64,
        page: PageRequest,
    ) -> Result<Page<OrderEvent>, ServiceError> {
        if db::orders::find_visible_status(&self.db, id, owner_filter(actor))
            .await?
            .is_none()
        {
            return Err(ServiceError::NotFound);
        }
        Ok(db::order_events::list(&self.db, id, page).await?)
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
    /// requests cannot both move the order; with `if_match`, only if the version is still the
    /// one it names. The change's events (`updated`, `status_changed`) are written with it,
    /// with `request_id`. A request that changes nothing writes nothing.
    #[tracing::instrument(skip_all, fields(order_id = id))]
    pub async fn update(
        &self,
        actor: &User,
        id: i64,
        edit: OrderEdit,
        if_match: Option<&Condition>,
        request_id: Option<&str>,
    ) -> Result<Order, ServiceError> {
        let current = self.get(actor, id).await?;
        let expected = expected_version(if_match, current.entity_tag())?;
        self.may_order(actor)?;
        let currency = edit.currency.as_ref().unwrap_or(&current.currency);
        let items = if let Some(requests) = edit.items {
            Some(self.resolve(actor, currency, requests).await?)
        } else {
            // Lines copied from the catalogue keep their prices, in its currency.
            let from_catalogue = current
                .items
                .lines()
                .iter()
                .any(|line| line.product_id.is_some());
            if from_catalogue && *currency != current.currency {
                return Err(ServiceError::invalid(
                    "currency",
                    Message::new("order-currency-products")
                        .with("currency", current.currency.as_str()),
                ));
            }
            None
        };
        // Only what differs from the stored order is a change.
        let changes = OrderChanges {
            currency: edit
                .currency
                .filter(|currency| *currency != current.currency),
            items: items.filter(|items| *items != current.items),
            notes: edit.notes.filter(|notes| *notes != current.notes),
            status: edit.status.filter(|status| *status != current.status),
        };
        if changes.is_empty() {
            return Ok(current);
        }

        allowed(actor, &current, &changes)?;

        let updated_at = now();
        let txn = db::begin(&self.db).await?;
        let db::orders::Updated { previous, version } = match db::orders::update_if_status(
            &txn,
            id,
            current.status,
            expected,
            &changes,
            updated_at,
        )
        .await
        {
            Ok(Some(updated)) => updated,
            Ok(None) => {
                txn.rollback().await?;
                return Err(self.changed_meanwhile(actor, id, expected.is_some()).await);
            }
            Err(err) => {
                txn.rollback().await?;
                let items = changes.items.as_ref().unwrap_or(&current.items);
                return Err(self.refused(err, items).await);
            }
        };
        // The stock follows the lines the order held and now holds: a cancelled order holds
        // none. `previous` was read under the order's lock, so racing changes each move only
        // their own difference.
        let held = |status: OrderStatus, items: &Items| {
            if status.holds_stock() {
                items.clone()
            } else {
                Items::from_stored(Vec::new())
            }
        };
        let next_status = changes.status.unwrap_or(current.status);
        let next_items = changes.items.as_ref().unwrap_or(&previous);
        let untracked = move_stock(
            &txn,
            &held(current.status, &previous),
            &held(next_status, next_items),
        )
        .await?;
        if changes.items.is_some() {
            db::orders::mark_stock_not_taken(&txn, id, &untracked).await?;
        }
        let events =
            NewOrderEvent::for_changes(current.status, &changes, Actor::from(actor), request_id);
        let kinds: Vec<OrderEventKind> = events.iter().map(|event| event.kind).collect();
        db::order_events::insert(&txn, id, events, updated_at).await?;
        let from = current.status;
        let order = Order {
            status: changes.status.unwrap_or(current.status),
            currency: changes.currency.unwrap_or(current.currency),
            items: changes.items.unwrap_or(current.items),
            notes: changes.notes.unwrap_or(current.notes),
            updated_at,
            version,
            ..current
        };
        announce(&txn, &order, from, &kinds).await?;
        txn.commit().await?;
        if order.status != from {
            tracing::info!(order_id = id, from = %from, to = %order.status, "order status changed");
        }
        Ok(order)
    }

    /// An admin deletes any order; an owner only a pending or cancelled one. With `if_match`,
    /// only the version it names. Its history goes with it.
    #[tracing::instrument(skip_all, fields(order_id = id))]
    pub async fn delete(
        &self,
        actor: &User,
        id: i64,
        if_match: Option<&Condition>,
    ) -> Result<(), ServiceError> {
        let expected = match if_match {
            Some(condition) => {
                expected_version(Some(condition), self.get(actor, id).await?.entity_tag())?
            }
            None => None,
        };
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
        let stored = match &status {
            Ok(status) => status.as_str().to_owned(),
            Err(stored) => stored.clone(),
        };
        let txn = db::begin(&self.db).await?;
        let Some(lines) = db::orders::delete_if_status(&txn, id, &stored, expected).await? else {
            txn.rollback().await?;
            return Err(self.changed_meanwhile(actor, id, expected.is_some()).await);
        };
        // A pending order gives its units back; from a paid one on, they have been sold.
        if status == Ok(OrderStatus::Pending) {
            move_stock(&txn, &lines, &Items::from_stored(Vec::new())).await?;
        }
        let data = outbox::order_deleted_data(id, &stored);
        outbox::record(&txn, EventType::OrderDeleted, data, now()).await?;
        txn.commit().await?;
        tracing::info!(order_id = id, "order deleted");
        Ok(())
    }

    /// The error for an order that could not be written: its owner or one of its lines'
    /// products was deleted since it was checked.
    async fn refused(&self, err: WriteError, items: &Items) -> ServiceError {
        match err {
            WriteError::UnknownOwner => unknown_owner(),
            WriteError::ProductGone => {
                let ids = items.lines().iter().filter_map(|line| line.product_id);
                match db::products::find_many(&self.db, ids.collect()).await {
                    Ok(products) => items.unknown_products(&products).into(),
                    Err(err) => err.into(),
                }
            }
            WriteError::Database(err) => err.into(),
        }
    }

    /// The error of a change that lost a race: the order's status (or, for a conditional
    /// request, its version) is not what it was checked against, or the order is gone.
    async fn changed_meanwhile(&self, actor: &User, id: i64, conditional: bool) -> ServiceError {
        match self.get(actor, id).await {
            Ok(_) if conditional => ServiceError::PreconditionFailed,
            Ok(order) => ServiceError::Conflict {
                code: "concurrent_update",
                message: Message::new("order-changed-meanwhile")
                    .with("status", order.status.to_string()),
            },
            Err(err) => err,
        }
    }
}

/// Takes from stock what `after` holds beyond `before` and gives back the rest, in `conn`'s
/// transaction, and returns the products among them whose stock is not tracked: `after`'s
/// lines of those took nothing. When a tracked stock is short, nothing must be kept: the error
/// (409 `out_of_stock`, naming the lines) comes once every product was tried, and the caller
/// drops the transaction.
async fn move_stock(
    conn: &impl db::ConnectionTrait,
    before: &Items,
    after: &Items,
) -> Result<Vec<i64>, ServiceError> {
    let mut short = Vec::new();
    let mut untracked = Vec::new();
    let mut emptied = Vec::new();
    for (product_id, units) in stock_moves(&before.units_by_product(), &after.units_by_product()) {
        if units < 0 {
            db::products::give_back_stock(conn, product_id, -units).await?;
            continue;
        }
        match db::products::take_stock(conn, product_id, units).await? {
            Taken::Taken { emptied: false } => {}
            Taken::Taken { emptied: true } => emptied.push(product_id),
            Taken::Untracked => untracked.push(product_id),
            Taken::Short => short.push(product_id),
        }
    }
    if short.is_empty() {
        for product_id in emptied {
            if let Some(product) = db::products::find_by_id(conn, product_id).await? {
                let data = outbox::product_data(&product);
                outbox::record(conn, EventType::ProductOutOfStock, data, now()).await?;
            }
        }
        Ok(untracked)
    } else {
        Err(ServiceError::Conflict {
            code: "out_of_stock",
            message: Message::new("order-out-of-stock").with("lines", after.positions_of(&short)),
        })
    }
}

/// Writes to the outbox what a change of `order` (whose status was `from`) did, as its history
/// records it: `order.updated`, `order.status_changed`, or both.
async fn announce(
    conn: &impl db::ConnectionTrait,
    order: &Order,
    from: OrderStatus,
    kinds: &[OrderEventKind],
) -> Result<(), ServiceError> {
    for kind in kinds {
        let (event_type, data) = match kind {
            OrderEventKind::StatusChanged => (
                EventType::OrderStatusChanged,
                outbox::status_change_data(order, from),
            ),
            OrderEventKind::Created | OrderEventKind::Updated => {
                (EventType::OrderUpdated, outbox::order_data(order))
            }
        };
        outbox::record(conn, event_type, data, order.updated_at).await?;
    }
    Ok(())
}

/// Whether `actor` may make `changes` to `current`, as it stands.
fn allowed(actor: &User, current: &Order, changes: &OrderChanges) -> Result<(), ServiceError> {
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
    Ok(())
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
