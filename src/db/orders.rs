//! The `orders` and `order_items` tables: an order is one row and its lines, read and written
//! together. `owner: Option<i64>` narrows a lookup to one user's orders (`None`: anyone's).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Select, SqlErr,
    sea_query::{Expr, ExprTrait},
};

use super::entities::{order_items, orders};
use crate::domain::{
    listing::{Page, PageMeta, PageRequest, Position, Slice, Sort, SortValue},
    order::{Currency, Items, LineItem, Order, OrderChanges, OrderSortKey, OrderStatus},
};

/// One page of the orders of `owner` (or everyone's), optionally of one status, with their lines.
pub async fn list(
    conn: &impl ConnectionTrait,
    owner: Option<i64>,
    status: Option<OrderStatus>,
    sort: Sort<OrderSortKey>,
    page: PageRequest,
) -> Result<Page<Order>, DbErr> {
    let (rows, total) = super::fetch_page(
        conn,
        filtered(owner, status),
        sort_column(sort.key),
        orders::Column::Id,
        sort.descending,
        (page.offset(), page.per_page),
    )
    .await?;
    Ok(Page {
        data: with_lines(conn, rows).await?,
        meta: PageMeta::new(page, total),
    })
}

/// Up to `per_page` orders of `owner` (or everyone's), optionally of one status, that come
/// after `after` in the order of `sort`, with their lines.
pub async fn list_after(
    conn: &impl ConnectionTrait,
    owner: Option<i64>,
    status: Option<OrderStatus>,
    sort: Sort<OrderSortKey>,
    after: Option<Position>,
    per_page: u64,
) -> Result<Slice<Order>, DbErr> {
    let rows = super::fetch_after(
        conn,
        filtered(owner, status),
        sort_column(sort.key),
        orders::Column::Id,
        sort.descending,
        after,
        per_page + 1,
    )
    .await?;
    let slice = Slice::of(rows, per_page, |row| Position {
        key: match sort.key {
            OrderSortKey::Id => SortValue::Integer(row.id),
            OrderSortKey::CreatedAt => SortValue::Time(row.created_at),
            OrderSortKey::TotalCents => SortValue::Integer(row.total_cents),
        },
        id: row.id,
    });
    Ok(Slice {
        data: with_lines(conn, slice.data).await?,
        next: slice.next,
    })
}

fn filtered(owner: Option<i64>, status: Option<OrderStatus>) -> Select<orders::Entity> {
    let mut select = orders::Entity::find();
    if let Some(owner) = owner {
        select = select.filter(orders::Column::UserId.eq(owner));
    }
    if let Some(status) = status {
        select = select.filter(orders::Column::Status.eq(status.as_str()));
    }
    select
}

fn sort_column(key: OrderSortKey) -> orders::Column {
    match key {
        OrderSortKey::Id => orders::Column::Id,
        OrderSortKey::CreatedAt => orders::Column::CreatedAt,
        OrderSortKey::TotalCents => orders::Column::TotalCents,
    }
}

/// The orders of `rows`, in their order, each with its lines.
async fn with_lines(
    conn: &impl ConnectionTrait,
    rows: Vec<orders::Model>,
) -> Result<Vec<Order>, DbErr> {
    let mut items = items_of(conn, rows.iter().map(|row| row.id)).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let lines = items.remove(&row.id).unwrap_or_default();
            order_from_rows(row, lines)
        })
        .collect())
}

/// The order `id` with its lines, in one query, if `owner` may see it.
pub async fn find_visible(
    conn: &impl ConnectionTrait,
    id: i64,
    owner: Option<i64>,
) -> Result<Option<Order>, DbErr> {
    let found = visible(id, owner)
        .find_with_related(order_items::Entity)
        .order_by_asc(order_items::Column::Position)
        .all(conn)
        .await?
        .pop();
    Ok(found.map(|(row, items)| order_from_rows(row, items)))
}

/// The status of the order `id`, if `owner` may see it, without its lines. `Err` holds a
/// stored status this version does not know.
pub async fn find_visible_status(
    conn: &impl ConnectionTrait,
    id: i64,
    owner: Option<i64>,
) -> Result<Option<Result<OrderStatus, String>>, DbErr> {
    let row = visible(id, owner).one(conn).await?;
    Ok(row.map(|row| OrderStatus::parse(&row.status).ok_or(row.status)))
}

/// How many orders `user_id` has.
pub async fn count_by_user(conn: &impl ConnectionTrait, user_id: i64) -> Result<u64, DbErr> {
    orders::Entity::find()
        .filter(orders::Column::UserId.eq(user_id))
        .count(conn)
        .await
}

/// Why an order could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// The owner does not exist (any more).
    UnknownOwner,
    /// A line names a product deleted since it was looked up: the foreign key says so.
    ProductGone,
    Database(DbErr),
}

impl From<DbErr> for WriteError {
    fn from(err: DbErr) -> Self {
        Self::Database(err)
    }
}

fn is_foreign_key_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    )
}

/// Stores a new pending order of `owner` with its lines and returns its id. Run it in a
/// transaction, or an order may lose its lines.
pub async fn insert_pending(
    conn: &impl ConnectionTrait,
    owner: i64,
    currency: &Currency,
    items: &Items,
    notes: Option<&str>,
    created_at: DateTime<Utc>,
) -> Result<i64, WriteError> {
    let row = orders::ActiveModel {
        user_id: Set(owner),
        status: Set(OrderStatus::Pending.as_str().to_owned()),
        currency: Set(currency.as_str().to_owned()),
        total_cents: Set(items.total_cents()),
        notes: Set(notes.map(str::to_owned)),
        created_at: Set(created_at),
        updated_at: Set(created_at),
        version: Set(1),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|err| {
        if is_foreign_key_violation(&err) {
            WriteError::UnknownOwner
        } else {
            WriteError::Database(err)
        }
    })?;
    insert_items(conn, row.id, items).await?;
    Ok(row.id)
}

/// What [`update_if_status`] found under the order's lock.
#[derive(Debug)]
pub struct Updated {
    /// The lines the order had before.
    pub previous: Items,
    /// The order's version now.
    pub version: i64,
}

/// Writes `changes` (only the fields it names), `updated_at` and the next version, and
/// replaces the lines when it has new ones, if the order's status is still `expected` (and its
/// version `expected_version`, when given); `None` if not. The lines are read once the order's
/// row is written, so locked until the transaction ends: they are the ones replaced, whatever
/// ran concurrently. Run it in a transaction, and roll back when it returns `None`.
pub async fn update_if_status(
    conn: &impl ConnectionTrait,
    id: i64,
    expected: OrderStatus,
    expected_version: Option<i64>,
    changes: &OrderChanges,
    updated_at: DateTime<Utc>,
) -> Result<Option<Updated>, WriteError> {
    let mut update = orders::Entity::update_many()
        .col_expr(orders::Column::UpdatedAt, Expr::value(updated_at))
        .col_expr(
            orders::Column::Version,
            Expr::col(orders::Column::Version).add(1),
        )
        .filter(orders::Column::Id.eq(id))
        .filter(orders::Column::Status.eq(expected.as_str()));
    if let Some(version) = expected_version {
        update = update.filter(orders::Column::Version.eq(version));
    }
    if let Some(next) = changes.status {
        update = update.col_expr(orders::Column::Status, Expr::value(next.as_str()));
    }
    if let Some(currency) = &changes.currency {
        update = update.col_expr(orders::Column::Currency, Expr::value(currency.as_str()));
    }
    if let Some(items) = &changes.items {
        update = update.col_expr(orders::Column::TotalCents, Expr::value(items.total_cents()));
    }
    if let Some(notes) = &changes.notes {
        update = update.col_expr(orders::Column::Notes, Expr::value(notes.clone()));
    }
    if update.exec(conn).await?.rows_affected == 0 {
        return Ok(None);
    }
    let Some(row) = orders::Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    let previous = lines_of(conn, id).await?;
    if let Some(items) = &changes.items {
        delete_items(conn, id).await?;
        insert_items(conn, id, items).await?;
    }
    Ok(Some(Updated {
        previous,
        version: row.version,
    }))
}

/// Deletes the order `id`, its lines and its events if its stored status is still `expected`
/// (and its version `expected_version`, when given), and returns the lines it had; `None` if
/// not. Run it in a transaction.
pub async fn delete_if_status(
    conn: &impl ConnectionTrait,
    id: i64,
    expected: &str,
    expected_version: Option<i64>,
) -> Result<Option<Items>, DbErr> {
    // A write that changes nothing, for its lock: a concurrent change or delete waits for
    // this transaction, then finds the status changed or the row gone.
    let mut lock = orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::col(orders::Column::Status))
        .filter(orders::Column::Id.eq(id))
        .filter(orders::Column::Status.eq(expected));
    if let Some(version) = expected_version {
        lock = lock.filter(orders::Column::Version.eq(version));
    }
    let locked = lock.exec(conn).await?;
    if locked.rows_affected == 0 {
        return Ok(None);
    }
    let lines = lines_of(conn, id).await?;
    delete_items(conn, id).await?;
    orders::Entity::delete_by_id(id).exec(conn).await?;
    Ok(Some(lines))
}

/// The lines of order `id`, in order.
async fn lines_of(conn: &impl ConnectionTrait, id: i64) -> Result<Items, DbErr> {
    let rows = order_items::Entity::find()
        .filter(order_items::Column::OrderId.eq(id))
        .order_by_asc(order_items::Column::Position)
        .all(conn)
        .await?;
    Ok(Items::from_stored(
        rows.into_iter().map(line_from_row).collect(),
    ))
}

/// The order `id`, narrowed to `owner`'s when there is one: someone else's order looks exactly
/// like an unknown one.
fn visible(id: i64, owner: Option<i64>) -> Select<orders::Entity> {
    let select = orders::Entity::find_by_id(id);
    match owner {
        Some(owner) => select.filter(orders::Column::UserId.eq(owner)),
        None => select,
    }
}

async fn delete_items(conn: &impl ConnectionTrait, order_id: i64) -> Result<(), DbErr> {
    order_items::Entity::delete_many()
        .filter(order_items::Column::OrderId.eq(order_id))
        .exec(conn)
        .await?;
    Ok(())
}

async fn insert_items(
    conn: &impl ConnectionTrait,
    order_id: i64,
    items: &Items,
) -> Result<(), WriteError> {
    let out_of_range = |what: &str| DbErr::Custom(format!("{what} out of range"));
    let rows = items
        .lines()
        .iter()
        .enumerate()
        .map(|(position, line)| {
            Ok(order_items::ActiveModel {
                order_id: Set(order_id),
                position: Set(i32::try_from(position).map_err(|_| out_of_range("position"))?),
                product: Set(line.product.clone()),
                product_id: Set(line.product_id),
                sku: Set(line.sku.clone()),
                quantity: Set(i32::try_from(line.quantity).map_err(|_| out_of_range("quantity"))?),
                unit_price_cents: Set(line.unit_price_cents),
                line_total_cents: Set(line.line_total_cents),
                stock_taken: Set(line.stock_taken),
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    // The order's own row was just written, so a foreign key can only trip on a product.
    match order_items::Entity::insert_many(rows).exec(conn).await {
        Ok(_) => Ok(()),
        Err(err) if is_foreign_key_violation(&err) => Err(WriteError::ProductGone),
        Err(err) => Err(err.into()),
    }
}

/// Records that the lines of order `order_id` naming `product_ids` took no stock (it is not
/// tracked).
pub async fn mark_stock_not_taken(
    conn: &impl ConnectionTrait,
    order_id: i64,
    product_ids: &[i64],
) -> Result<(), DbErr> {
    if product_ids.is_empty() {
        return Ok(());
    }
    order_items::Entity::update_many()
        .col_expr(order_items::Column::StockTaken, Expr::value(false))
        .filter(order_items::Column::OrderId.eq(order_id))
        .filter(order_items::Column::ProductId.is_in(product_ids.iter().copied()))
        .exec(conn)
        .await?;
    Ok(())
}

/// The lines of the given orders, in one query, grouped by order.
async fn items_of(
    conn: &impl ConnectionTrait,
    order_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, Vec<order_items::Model>>, DbErr> {
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

fn line_from_row(item: order_items::Model) -> LineItem {
    LineItem {
        product: item.product,
        product_id: item.product_id,
        sku: item.sku,
        quantity: i64::from(item.quantity),
        unit_price_cents: item.unit_price_cents,
        line_total_cents: item.line_total_cents,
        stock_taken: item.stock_taken,
    }
}

fn order_from_rows(row: orders::Model, items: Vec<order_items::Model>) -> Order {
    let lines = items.into_iter().map(line_from_row).collect();
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
        version: row.version,
    }
}
