//! Orders: who may see and change which, the status machine, and transactional writes.

use std::collections::HashMap;

use anyhow::Context;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, SqlErr, TransactionTrait, sea_query::Expr,
};

use super::{ServiceError, now};
use crate::{
    db::{
        self,
        entities::{order_items, orders, users},
    },
    domain::{
        User,
        listing::{Page, PageMeta, PageRequest, Sort},
        order::{Currency, Items, LineItem, Order, OrderStatus},
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSortKey {
    Id,
    CreatedAt,
    TotalCents,
}

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

/// The changes of a PUT or PATCH: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct OrderChanges {
    pub currency: Option<Currency>,
    pub items: Option<Items>,
    /// `Some(None)` clears the notes.
    pub notes: Option<Option<String>>,
    pub status: Option<OrderStatus>,
}

#[derive(Clone)]
pub struct Orders {
    db: DatabaseConnection,
}

impl Orders {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
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
        let mut select = orders::Entity::find();
        if let Some(owner) = owner {
            select = select.filter(orders::Column::UserId.eq(owner));
        }
        if let Some(status) = filter.status {
            select = select.filter(orders::Column::Status.eq(status.as_str()));
        }
        let column = match sort.key {
            OrderSortKey::Id => orders::Column::Id,
            OrderSortKey::CreatedAt => orders::Column::CreatedAt,
            OrderSortKey::TotalCents => orders::Column::TotalCents,
        };
        let (rows, total) = db::fetch_page(
            &self.db,
            select,
            column,
            orders::Column::Id,
            sort.descending,
            (page.offset(), page.per_page),
        )
        .await?;
        let mut items = items_of(&self.db, rows.iter().map(|row| row.id)).await?;
        let data = rows
            .into_iter()
            .map(|row| {
                let lines = items.remove(&row.id).unwrap_or_default();
                order_from_rows(row, lines)
            })
            .collect();
        Ok(Page {
            data,
            meta: PageMeta::new(page, total),
        })
    }

    /// Creates a pending order and its lines in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn create(&self, actor: &User, order: NewOrder) -> Result<Order, ServiceError> {
        let owner = match order.user_id {
            None => actor.id,
            Some(_) if !actor.is_admin() => {
                return Err(ServiceError::invalid(
                    "user_id",
                    "Only an admin can create an order for a user.",
                ));
            }
            Some(user_id) => {
                if users::Entity::find_by_id(user_id)
                    .one(&self.db)
                    .await?
                    .is_none()
                {
                    return Err(unknown_owner());
                }
                user_id
            }
        };
        let created = now();
        let txn = self.db.begin().await?;
        let row = orders::ActiveModel {
            user_id: Set(owner),
            status: Set(OrderStatus::Pending.as_str().to_owned()),
            currency: Set(order.currency.as_str().to_owned()),
            total_cents: Set(order.items.total_cents()),
            notes: Set(order.notes.clone()),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|err| match err.sql_err() {
            // The owner was deleted between the check and the insert.
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => unknown_owner(),
            _ => err.into(),
        })?;
        insert_items(&txn, row.id, &order.items).await?;
        txn.commit().await?;
        tracing::info!(order_id = row.id, "order created");
        Ok(Order {
            id: row.id,
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
        let mut select = orders::Entity::find_by_id(id);
        if !actor.is_admin() {
            select = select.filter(orders::Column::UserId.eq(actor.id));
        }
        let (row, items) = select
            .find_with_related(order_items::Entity)
            .order_by_asc(order_items::Column::Position)
            .all(&self.db)
            .await?
            .pop()
            .ok_or(ServiceError::NotFound)?;
        Ok(order_from_rows(row, items))
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
        let currency = changes
            .currency
            .filter(|currency| *currency != current.currency);
        let items = changes.items.filter(|items| *items != current.items);
        let notes = changes.notes.filter(|notes| *notes != current.notes);
        let status = changes.status.filter(|status| *status != current.status);
        if currency.is_none() && items.is_none() && notes.is_none() && status.is_none() {
            return Ok(current);
        }

        if (currency.is_some() || items.is_some()) && !current.status.allows_item_changes() {
            return Err(not_editable(format!(
                "Items and currency can only change while the order is pending; it is {}.",
                current.status
            )));
        }
        if notes.is_some() && !current.status.allows_note_changes(actor.is_admin()) {
            return Err(not_editable(format!(
                "Notes can only change while the order is pending; it is {}.",
                current.status
            )));
        }
        if let Some(next) = status {
            if !current.status.can_become(next) {
                return Err(ServiceError::Conflict {
                    code: "invalid_status_transition",
                    message: format!(
                        "Cannot change the status from {} to {next}.",
                        current.status
                    ),
                });
            }
            if !actor.is_admin() && !OrderStatus::owner_may_set(next) {
                return Err(ServiceError::Forbidden);
            }
        }

        let updated_at = now();
        let mut update = orders::Entity::update_many()
            .col_expr(orders::Column::UpdatedAt, Expr::value(updated_at))
            .filter(orders::Column::Id.eq(id))
            .filter(orders::Column::Status.eq(current.status.as_str()));
        if let Some(next) = status {
            update = update.col_expr(orders::Column::Status, Expr::value(next.as_str()));
        }
        if let Some(currency) = &currency {
            update = update.col_expr(orders::Column::Currency, Expr::value(currency.as_str()));
        }
        if let Some(items) = &items {
            update = update.col_expr(orders::Column::TotalCents, Expr::value(items.total_cents()));
        }
        if let Some(notes) = &notes {
            update = update.col_expr(orders::Column::Notes, Expr::value(notes.clone()));
        }
        let txn = self.db.begin().await?;
        if update.exec(&txn).await?.rows_affected == 0 {
            txn.rollback().await?;
            let now_status = self.get(actor, id).await?.status;
            return Err(ServiceError::Conflict {
                code: "concurrent_update",
                message: format!(
                    "The order changed while this request ran; its status is now {now_status}. Reload it and try again."
                ),
            });
        }
        if let Some(items) = &items {
            order_items::Entity::delete_many()
                .filter(order_items::Column::OrderId.eq(id))
                .exec(&txn)
                .await?;
            insert_items(&txn, id, items).await?;
        }
        txn.commit().await?;
        if let Some(next) = status {
            tracing::info!(order_id = id, from = %current.status, to = %next, "order status changed");
        }
        Ok(Order {
            status: status.unwrap_or(current.status),
            currency: currency.unwrap_or(current.currency),
            items: items.unwrap_or(current.items),
            notes: notes.unwrap_or(current.notes),
            updated_at,
            ..current
        })
    }

    /// An admin deletes any order; an owner only a pending or cancelled one.
    #[tracing::instrument(skip_all, fields(order_id = id))]
    pub async fn delete(&self, actor: &User, id: i64) -> Result<(), ServiceError> {
        let row = self.visible(actor, id).await?;
        // An unknown stored status is deletable by admins only.
        let deletable = actor.is_admin()
            || OrderStatus::parse(&row.status).is_some_and(|status| status.deletable_by(false));
        if !deletable {
            return Err(ServiceError::Conflict {
                code: "order_not_deletable",
                message: format!(
                    "Only an admin can delete an order that is {}; cancel it instead.",
                    row.status
                ),
            });
        }
        let txn = self.db.begin().await?;
        order_items::Entity::delete_many()
            .filter(order_items::Column::OrderId.eq(id))
            .exec(&txn)
            .await?;
        orders::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        tracing::info!(order_id = id, "order deleted");
        Ok(())
    }

    /// The row, if `actor` may see it; someone else's order looks exactly like an unknown one.
    async fn visible(&self, actor: &User, id: i64) -> Result<orders::Model, ServiceError> {
        let mut select = orders::Entity::find_by_id(id);
        if !actor.is_admin() {
            select = select.filter(orders::Column::UserId.eq(actor.id));
        }
        select.one(&self.db).await?.ok_or(ServiceError::NotFound)
    }
}

fn unknown_owner() -> ServiceError {
    ServiceError::invalid("user_id", "The selected user id is invalid.")
}

fn not_editable(message: String) -> ServiceError {
    ServiceError::Conflict {
        code: "order_not_editable",
        message,
    }
}

async fn insert_items(
    conn: &impl ConnectionTrait,
    order_id: i64,
    items: &Items,
) -> Result<(), ServiceError> {
    let rows = items
        .lines()
        .iter()
        .enumerate()
        .map(|(position, line)| {
            Ok(order_items::ActiveModel {
                order_id: Set(order_id),
                position: Set(i32::try_from(position).context("too many lines")?),
                product: Set(line.product.clone()),
                quantity: Set(i32::try_from(line.quantity).context("quantity out of range")?),
                unit_price_cents: Set(line.unit_price_cents),
                line_total_cents: Set(line.line_total_cents),
                ..Default::default()
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    order_items::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// The lines of the given orders, in one query, grouped by order.
async fn items_of(
    conn: &impl ConnectionTrait,
    order_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, Vec<order_items::Model>>, ServiceError> {
    let ids: Vec<i64> = order_ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = order_items::Entity::find()
        .filter(order_items::Column::OrderId.is_in(ids))
        .order_by_asc(order_items::Column::OrderId)
        .order_by_asc(order_items::Column::Position)
        .all(conn)
        .await?;
    let mut grouped: HashMap<i64, Vec<order_items::Model>> = HashMap::new();
    for row in rows {
        grouped.entry(row.order_id).or_default().push(row);
    }
    Ok(grouped)
}

fn order_from_rows(row: orders::Model, items: Vec<order_items::Model>) -> Order {
    let lines = items
        .into_iter()
        .map(|item| LineItem {
            product: item.product,
            quantity: i64::from(item.quantity),
            unit_price_cents: item.unit_price_cents,
            line_total_cents: item.line_total_cents,
        })
        .collect();
    Order {
        id: row.id,
        user_id: row.user_id,
        // An unknown stored status would be a bug elsewhere; treat it as final.
        status: OrderStatus::parse(&row.status).unwrap_or(OrderStatus::Cancelled),
        currency: Currency::parse(&row.currency).unwrap_or_else(|_| Currency::euro()),
        items: Items::from_stored(lines),
        notes: row.notes,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
