//! The catalogue: the finders and writes of the `products` table, which hand back domain
//! `Product`s.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, SqlErr, UpdateMany,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

use super::entities::products::{ActiveModel, Column, Entity, Model};
use crate::domain::{
    listing::{Page, PageMeta, PageRequest, Position, Slice, Sort, SortValue},
    order::Currency,
    product::{Product, ProductSortKey, Sku},
};

/// A write the table refused, or a failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another product has this sku, in some case (the unique index said so).
    #[error("the sku belongs to another product")]
    SkuTaken,
    /// No product has this id (any more).
    #[error("no such product")]
    NotFound,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// A product as an admin creates it.
#[derive(Debug)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: String,
    pub description: Option<String>,
    pub price_cents: i64,
    pub currency: Currency,
    pub stock: Option<i64>,
    pub active: bool,
}

/// What [`update`] sets; `None` leaves a column as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub sku: Option<Sku>,
    pub name: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub price_cents: Option<i64>,
    pub currency: Option<Currency>,
    /// `Some(None)` stops tracking the stock.
    pub stock: Option<Option<i64>>,
    pub active: Option<bool>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.sku.is_none()
            && self.name.is_none()
            && self.description.is_none()
            && self.price_cents.is_none()
            && self.currency.is_none()
            && self.stock.is_none()
            && self.active.is_none()
    }
}

#[derive(Debug, Default)]
pub struct ProductFilter {
    /// A case-insensitive substring of the name or the sku.
    pub q: Option<String>,
    pub active: Option<bool>,
}

pub async fn find_by_id(conn: &impl ConnectionTrait, id: i64) -> Result<Option<Product>, DbErr> {
    Ok(Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(product_from_row))
}

/// The products among `ids` that exist, by id, in one query.
pub async fn find_many(
    conn: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<HashMap<i64, Product>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = Entity::find()
        .filter(Column::Id.is_in(ids))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, product_from_row(row)))
        .collect())
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    product: NewProduct,
    at: DateTime<Utc>,
) -> Result<Product, WriteError> {
    let row = ActiveModel {
        sku: Set(product.sku.as_str().to_owned()),
        name: Set(product.name),
        description: Set(product.description),
        price_cents: Set(product.price_cents),
        currency: Set(product.currency.as_str().to_owned()),
        stock: Set(product.stock),
        active: Set(product.active),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(refused)?;
    Ok(product_from_row(row))
}

/// Applies `changes` to product `id`, updated `at`, and returns it as it now is;
/// [`WriteError::NotFound`] when there is no such product, or when `expected_version` is given
/// and is no longer its version (checked by the update itself, so that of two writers holding
/// one version only one wins).
pub async fn update(
    conn: &impl ConnectionTrait,
    id: i64,
    changes: Changes,
    at: DateTime<Utc>,
    expected_version: Option<i64>,
) -> Result<Product, WriteError> {
    let mut update = versioned(Entity::update_many())
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(id));
    if let Some(version) = expected_version {
        update = update.filter(Column::Version.eq(version));
    }
    if let Some(sku) = changes.sku {
        update = update.col_expr(Column::Sku, Expr::value(sku.as_str()));
    }
    if let Some(name) = changes.name {
        update = update.col_expr(Column::Name, Expr::value(name));
    }
    if let Some(description) = changes.description {
        update = update.col_expr(Column::Description, Expr::value(description));
    }
    if let Some(price) = changes.price_cents {
        update = update.col_expr(Column::PriceCents, Expr::value(price));
    }
    if let Some(currency) = changes.currency {
        update = update.col_expr(Column::Currency, Expr::value(currency.as_str()));
    }
    if let Some(stock) = changes.stock {
        update = update.col_expr(Column::Stock, Expr::value(stock));
    }
    if let Some(is_active) = changes.active {
        update = update.col_expr(Column::Active, Expr::value(is_active));
    }
    if update.exec(conn).await.map_err(refused)?.rows_affected == 0 {
        return Err(WriteError::NotFound);
    }
    find_by_id(conn, id).await?.ok_or(WriteError::NotFound)
}

/// Every write to a product increments `version`, its `ETag`: stock taken or given back by
/// orders included, since `stock` is part of what a GET shows.
fn versioned(update: UpdateMany<Entity>) -> UpdateMany<Entity> {
    update.col_expr(Column::Version, Expr::col(Column::Version).add(1))
}

/// What [`take_stock`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Taken; `emptied` when no unit is left.
    Taken { emptied: bool },
    /// The stock is not tracked (or the product is gone): nothing to take.
    Untracked,
    /// The stock is tracked and has fewer units than asked.
    Short,
}

/// Takes `units` of product `id`'s stock if it has that many: one conditional update, so that
/// concurrent orders never take the same units. It returns what is left, so that running out
/// costs no other query.
pub async fn take_stock(conn: &impl ConnectionTrait, id: i64, units: i64) -> Result<Taken, DbErr> {
    let left = conn
        .query_one_raw(super::statement(
            conn.get_database_backend(),
            "UPDATE products SET stock = stock - $1, version = version + 1 \
             WHERE id = $2 AND stock >= $3 RETURNING stock",
            vec![units.into(), id.into(), units.into()],
        ))
        .await?;
    if let Some(row) = left {
        let left: i64 = row.try_get("", "stock")?;
        return Ok(Taken::Taken { emptied: left == 0 });
    }
    let tracked = Entity::find_by_id(id)
        .one(conn)
        .await?
        .is_some_and(|row| row.stock.is_some());
    Ok(if tracked {
        Taken::Short
    } else {
        Taken::Untracked
    })
}

/// Gives `units` back to product `id`'s stock, if it is tracked.
pub async fn give_back_stock(
    conn: &impl ConnectionTrait,
    id: i64,
    units: i64,
) -> Result<(), DbErr> {
    versioned(Entity::update_many())
        .col_expr(Column::Stock, Expr::col(Column::Stock).add(units))
        .filter(Column::Id.eq(id))
        .filter(Column::Stock.is_not_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// What [`delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    NotFound,
    /// Order lines name the product, and it stays.
    InOrders,
}

/// Deletes product `id` unless an order line names it: the foreign key of
/// `order_items.product_id` says so, so an order committed meanwhile cannot slip by. With
/// `expected_version`, only that version: anything else is [`Deletion::NotFound`].
pub async fn delete(
    conn: &impl ConnectionTrait,
    id: i64,
    expected_version: Option<i64>,
) -> Result<Deletion, DbErr> {
    let mut delete = Entity::delete_many().filter(Column::Id.eq(id));
    if let Some(version) = expected_version {
        delete = delete.filter(Column::Version.eq(version));
    }
    match delete.exec(conn).await {
        Ok(done) if done.rows_affected > 0 => Ok(Deletion::Deleted),
        Ok(_) => Ok(Deletion::NotFound),
        Err(err)
            if matches!(
                err.sql_err(),
                Some(SqlErr::ForeignKeyConstraintViolation(_))
            ) =>
        {
            Ok(Deletion::InOrders)
        }
        Err(err) => Err(err),
    }
}

/// One page of the products that match `filter`, in the order `sort` asks for.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: ProductFilter,
    sort: Sort<ProductSortKey>,
    page: PageRequest,
) -> Result<Page<Product>, DbErr> {
    let (rows, total) = super::fetch_page(
        conn,
        filtered(filter),
        sort_column(sort.key),
        Column::Id,
        sort.descending,
        (page.offset(), page.per_page),
    )
    .await?;
    Ok(Page {
        data: rows.into_iter().map(product_from_row).collect(),
        meta: PageMeta::new(page, total),
    })
}

/// Up to `per_page` products that match `filter` and come after `after` in the order of `sort`.
pub async fn list_after(
    conn: &impl ConnectionTrait,
    filter: ProductFilter,
    sort: Sort<ProductSortKey>,
    after: Option<Position>,
    per_page: u64,
) -> Result<Slice<Product>, DbErr> {
    let rows = super::fetch_after(
        conn,
        filtered(filter),
        sort_column(sort.key),
        Column::Id,
        sort.descending,
        after,
        per_page + 1,
    )
    .await?;
    let slice = Slice::of(rows, per_page, |row| Position {
        key: match sort.key {
            ProductSortKey::Id => SortValue::Integer(row.id),
            ProductSortKey::CreatedAt => SortValue::Time(row.created_at),
            ProductSortKey::Name => SortValue::Text(row.name.clone()),
            ProductSortKey::PriceCents => SortValue::Integer(row.price_cents),
        },
        id: row.id,
    });
    Ok(Slice {
        data: slice.data.into_iter().map(product_from_row).collect(),
        next: slice.next,
    })
}

fn filtered(filter: ProductFilter) -> sea_orm::Select<Entity> {
    let mut select = Entity::find();
    if let Some(q) = filter.q.filter(|q| !q.trim().is_empty()) {
        let pattern = format!("%{}%", super::users::escape_like(&q.trim().to_lowercase()));
        let like = |column: Column| {
            Expr::expr(Func::lower(Expr::col(column)))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(
            Condition::any()
                .add(like(Column::Name))
                .add(like(Column::Sku)),
        );
    }
    if let Some(active) = filter.active {
        select = select.filter(Column::Active.eq(active));
    }
    select
}

fn sort_column(key: ProductSortKey) -> Column {
    match key {
        ProductSortKey::Id => Column::Id,
        ProductSortKey::CreatedAt => Column::CreatedAt,
        ProductSortKey::Name => Column::Name,
        ProductSortKey::PriceCents => Column::PriceCents,
    }
}

/// A unique-index violation (on `lower(sku)`, the only unique column besides the id) is the
/// client's mistake, not a crash.
fn refused(err: DbErr) -> WriteError {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        WriteError::SkuTaken
    } else {
        WriteError::Database(err)
    }
}

fn product_from_row(row: Model) -> Product {
    Product {
        id: row.id,
        sku: row.sku,
        name: row.name,
        description: row.description,
        price_cents: row.price_cents,
        // Written through `Currency::parse`, so always three letters.
        currency: Currency::parse(&row.currency).unwrap_or_else(|_| Currency::euro()),
        stock: row.stock,
        active: row.active,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
    }
}
