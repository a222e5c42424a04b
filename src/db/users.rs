//! Accounts: the finders and writes of the `users` table, which hand back domain `User`s.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, SqlErr, UpdateMany,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

use super::entities::users::{ActiveModel, Column, Entity, Model};
use crate::{
    domain::{
        Email, Name, Role, User,
        listing::{Page, PageMeta, PageRequest, Position, Slice, Sort, SortValue},
    },
    i18n::Locale,
};

/// A write the table refused, or a failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another account has this email (the unique index said so, so a race cannot slip by).
    #[error("the email belongs to another account")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// An account and the hash of its password, which a [`User`] never carries.
#[derive(Debug)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// A new account, its password already hashed.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub name: &'a Name,
    pub email: &'a Email,
    pub password_hash: String,
    pub role: Role,
    pub locale: Locale,
    /// When the address was verified, if it already is (an admin made by `create-admin`).
    pub email_verified_at: Option<DateTime<Utc>>,
}

/// What [`update`] sets; `None` leaves a column as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub name: Option<Name>,
    pub email: Option<Email>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub locale: Option<Locale>,
    /// `Some(None)` clears the verification (a new address set by an admin).
    pub email_verified_at: Option<Option<DateTime<Utc>>>,
    /// `Some(None)` clears the address waiting for confirmation.
    pub pending_email: Option<Option<Email>>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.email.is_none()
            && self.password_hash.is_none()
            && self.role.is_none()
            && self.locale.is_none()
            && self.email_verified_at.is_none()
            && self.pending_email.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortKey {
    Id,
    CreatedAt,
    Name,
    Email,
}

#[derive(Debug, Default)]
pub struct UserFilter {
    /// A case-insensitive substring of the name or the email.
    pub q: Option<String>,
    pub role: Option<Role>,
}

/// What [`delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// The account still has orders, and stays.
    HasOrders,
    /// Gone already, or no longer at the expected version.
    NotDeleted,
}

pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<User>, DbErr> {
    Ok(by_email(email).one(conn).await?.map(user_from_row))
}

pub async fn credentials_by_id(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<Credentials>, DbErr> {
    Ok(Entity::find_by_id(id).one(conn).await?.map(credentials))
}

pub async fn credentials_by_email(
    conn: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<Credentials>, DbErr> {
    Ok(by_email(email).one(conn).await?.map(credentials))
}

fn by_email(email: &Email) -> sea_orm::Select<Entity> {
    Entity::find().filter(Column::Email.eq(email.as_str()))
}

/// Creates an account, created and updated `at`.
pub async fn insert(
    conn: &impl ConnectionTrait,
    user: NewUser<'_>,
    at: DateTime<Utc>,
) -> Result<User, WriteError> {
    let row = ActiveModel {
        name: Set(user.name.as_str().to_owned()),
        email: Set(user.email.as_str().to_owned()),
        password_hash: Set(user.password_hash),
        role: Set(user.role.as_str().to_owned()),
        email_verified_at: Set(user.email_verified_at),
        pending_email: Set(None),
        locale: Set(user.locale.as_str().to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(refused)?;
    Ok(user_from_row(row))
}

/// Applies `changes` to account `id`, updated `at`, and returns the account as it now is;
/// `None` when there is no such account, or when `expected_version` is given and is no longer
/// its version (checked by the update itself, so that of two writers holding one version only
/// one wins).
pub async fn update(
    conn: &impl ConnectionTrait,
    id: i64,
    changes: Changes,
    at: DateTime<Utc>,
    expected_version: Option<i64>,
) -> Result<Option<User>, WriteError> {
    let mut update = bumped(Entity::update_many(), at).filter(Column::Id.eq(id));
    if let Some(version) = expected_version {
        update = update.filter(Column::Version.eq(version));
    }
    if let Some(name) = changes.name {
        update = update.col_expr(Column::Name, Expr::value(name.as_str()));
    }
    if let Some(email) = changes.email {
        update = update.col_expr(Column::Email, Expr::value(email.as_str()));
    }
    if let Some(hash) = changes.password_hash {
        update = update.col_expr(Column::PasswordHash, Expr::value(hash));
    }
    if let Some(role) = changes.role {
        update = update.col_expr(Column::Role, Expr::value(role.as_str()));
    }
    if let Some(locale) = changes.locale {
        update = update.col_expr(Column::Locale, Expr::value(locale.as_str()));
    }
    if let Some(verified_at) = changes.email_verified_at {
        update = update.col_expr(Column::EmailVerifiedAt, Expr::value(verified_at));
    }
    if let Some(pending) = changes.pending_email {
        update = update.col_expr(Column::PendingEmail, Expr::value(pending.map(String::from)));
    }
    if update.exec(conn).await.map_err(refused)?.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Entity::find_by_id(id).one(conn).await?.map(user_from_row))
}

/// Every write to an account sets `updated_at` and increments `version`, its `ETag`.
fn bumped(update: UpdateMany<Entity>, at: DateTime<Utc>) -> UpdateMany<Entity> {
    update
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
}

/// Marks the address of account `id` verified `at`, if it is still `email` (an admin may
/// have changed it since the link was mailed).
pub async fn mark_verified(
    conn: &impl ConnectionTrait,
    id: i64,
    email: &Email,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let marked = bumped(Entity::update_many(), at)
        .col_expr(Column::EmailVerifiedAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::Email.eq(email.as_str()))
        .exec(conn)
        .await?;
    Ok(marked.rows_affected > 0)
}

/// Makes `email`, the pending address of account `id`, its address, verified `at`; false if it
/// is no longer the pending one. Another account that took the address meanwhile trips the
/// unique index: [`WriteError::EmailTaken`].
pub async fn confirm_pending_email(
    conn: &impl ConnectionTrait,
    id: i64,
    email: &Email,
    at: DateTime<Utc>,
) -> Result<bool, WriteError> {
    let confirmed = bumped(Entity::update_many(), at)
        .col_expr(Column::Email, Expr::value(email.as_str()))
        .col_expr(Column::PendingEmail, Expr::value(Option::<String>::None))
        .col_expr(Column::EmailVerifiedAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::PendingEmail.eq(email.as_str()))
        .exec(conn)
        .await
        .map_err(refused)?;
    Ok(confirmed.rows_affected > 0)
}

/// Sets the password hash of account `id`, if it still exists.
pub async fn set_password_hash(
    conn: &impl ConnectionTrait,
    id: i64,
    password_hash: String,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    bumped(Entity::update_many(), at)
        .col_expr(Column::PasswordHash, Expr::value(password_hash))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Gives every account the language `locale`: the accounts that predate `users.locale`, once,
/// when the migration that adds the column runs.
pub async fn set_every_locale(conn: &impl ConnectionTrait, locale: Locale) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Locale, Expr::value(locale.as_str()))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether the account `id` exists (to be given an order, say).
pub async fn exists(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    Ok(Entity::find_by_id(id).one(conn).await?.is_some())
}

/// Deletes an account that has no orders, if its version is still `expected_version` when
/// one is given; its sessions, reset and verification tokens go with it (the foreign keys
/// cascade).
pub async fn delete(
    conn: &impl ConnectionTrait,
    id: i64,
    expected_version: Option<i64>,
) -> Result<Deletion, DbErr> {
    if super::orders::count_by_user(conn, id).await? > 0 {
        return Ok(Deletion::HasOrders);
    }
    let mut delete = Entity::delete_many().filter(Column::Id.eq(id));
    if let Some(version) = expected_version {
        delete = delete.filter(Column::Version.eq(version));
    }
    match delete.exec(conn).await {
        Ok(done) if done.rows_affected == 0 => Ok(Deletion::NotDeleted),
        Ok(_) => Ok(Deletion::Deleted),
        // An order created between the check and the delete trips the foreign key.
        Err(err)
            if matches!(
                err.sql_err(),
                Some(SqlErr::ForeignKeyConstraintViolation(_))
            ) =>
        {
            Ok(Deletion::HasOrders)
        }
        Err(err) => Err(err),
    }
}

/// One page of the accounts that match `filter`, in the order `sort` asks for.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: UserFilter,
    sort: Sort<UserSortKey>,
    page: PageRequest,
) -> Result<Page<User>, DbErr> {
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
        data: rows.into_iter().map(user_from_row).collect(),
        meta: PageMeta::new(page, total),
    })
}

/// Up to `per_page` accounts that match `filter` and come after `after` in the order of `sort`.
pub async fn list_after(
    conn: &impl ConnectionTrait,
    filter: UserFilter,
    sort: Sort<UserSortKey>,
    after: Option<Position>,
    per_page: u64,
) -> Result<Slice<User>, DbErr> {
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
            UserSortKey::Id => SortValue::Integer(row.id),
            UserSortKey::CreatedAt => SortValue::Time(row.created_at),
            UserSortKey::Name => SortValue::Text(row.name.clone()),
            UserSortKey::Email => SortValue::Text(row.email.clone()),
        },
        id: row.id,
    });
    Ok(Slice {
        data: slice.data.into_iter().map(user_from_row).collect(),
        next: slice.next,
    })
}

fn filtered(filter: UserFilter) -> sea_orm::Select<Entity> {
    let mut select = Entity::find();
    if let Some(q) = filter.q.filter(|q| !q.trim().is_empty()) {
        let pattern = format!("%{}%", escape_like(&q.trim().to_lowercase()));
        select = select.filter(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(Column::Name)))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(Expr::col(Column::Email).like(LikeExpr::new(pattern).escape('\\'))),
        );
    }
    if let Some(role) = filter.role {
        select = select.filter(Column::Role.eq(role.as_str()));
    }
    select
}

fn sort_column(key: UserSortKey) -> Column {
    match key {
        UserSortKey::Id => Column::Id,
        UserSortKey::CreatedAt => Column::CreatedAt,
        UserSortKey::Name => Column::Name,
        UserSortKey::Email => Column::Email,
    }
}

/// A unique-index violation (on `users.email`, the only unique column besides the id) is the
/// client's mistake, not a crash.
fn refused(err: DbErr) -> WriteError {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        WriteError::EmailTaken
    } else {
        WriteError::Database(err)
    }
}

/// Escapes LIKE's wildcards so that a search for `50%` finds "50%", not everything.
pub(super) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn credentials(mut row: Model) -> Credentials {
    Credentials {
        password_hash: std::mem::take(&mut row.password_hash),
        user: user_from_row(row),
    }
}

pub(super) fn user_from_row(row: Model) -> User {
    User {
        id: row.id,
        name: row.name,
        email: row.email,
        // An unexpected value grants the least privilege.
        role: Role::parse(&row.role).unwrap_or(Role::User),
        email_verified_at: row.email_verified_at,
        pending_email: row.pending_email,
        // A language since removed from `locales/` falls back as its messages would.
        locale: Locale::parse(&row.locale).unwrap_or_else(Locale::english),
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
    }
}
