//! The user directory: admins manage every account, users manage their own.

use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, SqlErr, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

use super::{
    ServiceError,
    accounts::{email_conflict, insert_user, user_from_row},
    now,
    password_hasher::{Claimant, PasswordHasher},
    rate_limit::RateLimits,
    sessions::{Authenticated, Sessions},
};
use crate::{
    db::{
        self,
        entities::{orders, password_reset_tokens, users},
    },
    domain::{
        Email, FieldErrors, Name, Password, Role, User,
        listing::{Page, PageMeta, PageRequest, Sort},
    },
};

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

/// An account an admin creates.
#[derive(Debug)]
pub struct NewUser {
    pub name: Name,
    pub email: Email,
    pub password: Password,
    pub role: Role,
}

/// The changes of a PUT or PATCH: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub name: Option<Name>,
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub role: Option<Role>,
    pub current_password: Option<String>,
}

#[derive(Clone)]
pub struct Users {
    db: DatabaseConnection,
    hasher: PasswordHasher,
    sessions: Sessions,
    limits: RateLimits,
}

impl Users {
    pub fn new(
        db: DatabaseConnection,
        hasher: PasswordHasher,
        sessions: Sessions,
        limits: RateLimits,
    ) -> Self {
        Self {
            db,
            hasher,
            sessions,
            limits,
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn list(
        &self,
        actor: &User,
        filter: UserFilter,
        sort: Sort<UserSortKey>,
        page: PageRequest,
    ) -> Result<Page<User>, ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let mut select = users::Entity::find();
        if let Some(q) = filter.q.filter(|q| !q.trim().is_empty()) {
            let pattern = format!("%{}%", escape_like(&q.trim().to_lowercase()));
            select = select.filter(
                Condition::any()
                    .add(
                        Expr::expr(Func::lower(Expr::col(users::Column::Name)))
                            .like(LikeExpr::new(pattern.clone()).escape('\\')),
                    )
                    .add(Expr::col(users::Column::Email).like(LikeExpr::new(pattern).escape('\\'))),
            );
        }
        if let Some(role) = filter.role {
            select = select.filter(users::Column::Role.eq(role.as_str()));
        }
        let column = match sort.key {
            UserSortKey::Id => users::Column::Id,
            UserSortKey::CreatedAt => users::Column::CreatedAt,
            UserSortKey::Name => users::Column::Name,
            UserSortKey::Email => users::Column::Email,
        };
        let (rows, total) = db::fetch_page(
            &self.db,
            select,
            column,
            users::Column::Id,
            sort.descending,
            (page.offset(), page.per_page),
        )
        .await?;
        Ok(Page {
            data: rows.into_iter().map(user_from_row).collect(),
            meta: PageMeta::new(page, total),
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn create(
        &self,
        actor: &User,
        user: NewUser,
        claimant: &Claimant,
    ) -> Result<User, ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let claimant = claimant.clone().account(&actor.email);
        let password_hash = self.hasher.hash(&claimant, &user.password).await?;
        let row = insert_user(&self.db, &user.name, &user.email, password_hash, user.role).await?;
        tracing::info!(user_id = row.id, "user created by an admin");
        Ok(user_from_row(row))
    }

    pub async fn get(&self, actor: &User, id: i64) -> Result<User, ServiceError> {
        self.visible(actor, id).await.map(user_from_row)
    }

    /// Applies a PUT or PATCH. Only admins set roles; changing one's own email or password
    /// takes the current password; a new password ends the user's other sessions.
    #[tracing::instrument(skip_all, fields(target_user_id = id))]
    pub async fn update(
        &self,
        actor: &Authenticated,
        id: i64,
        changes: UserChanges,
        claimant: &Claimant,
    ) -> Result<User, ServiceError> {
        let row = self.visible(&actor.user, id).await?;
        let claimant = claimant.clone().account(&actor.user.email);
        let mut errors = FieldErrors::new();
        if changes.role.is_some() && !actor.user.is_admin() {
            errors.add("role", "Only an admin can set a role.");
        }
        let new_email = changes.email.filter(|email| email.as_str() != row.email);
        let changes_credentials = new_email.is_some() || changes.password.is_some();
        let is_self = actor.user.id == row.id;
        if is_self && changes_credentials {
            match &changes.current_password {
                None => errors.add(
                    "current_password",
                    "The current password field is required to change your email or password.",
                ),
                Some(current) => {
                    // Guessable like a login, so limited like one: before any bcrypt work,
                    // and before anything else (a taken email) is revealed.
                    self.limits
                        .current_password(row.id)
                        .await
                        .map_err(ServiceError::RateLimited)?;
                    if self
                        .hasher
                        .verify(&claimant, current, Some(&row.password_hash))
                        .await?
                    {
                        self.limits.current_password_succeeded(row.id).await;
                    } else {
                        errors.add("current_password", "The current password is incorrect.");
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let password_hash = match &changes.password {
            Some(password) => Some(self.hasher.hash(&claimant, password).await?),
            None => None,
        };

        let mut active = row.clone().into_active_model();
        if let Some(name) = changes.name.filter(|name| name.as_str() != row.name) {
            active.name = Set(name.as_str().to_owned());
        }
        let email_changes = new_email.is_some();
        if let Some(email) = new_email {
            active.email = Set(email.as_str().to_owned());
        }
        if let Some(hash) = &password_hash {
            active.password_hash = Set(hash.clone());
        }
        if let Some(role) = changes.role.filter(|role| role.as_str() != row.role) {
            active.role = Set(role.as_str().to_owned());
        }
        if !active.is_changed() {
            return Ok(user_from_row(row));
        }
        active.updated_at = Set(now());
        let txn = self.db.begin().await?;
        let updated = active.update(&txn).await.map_err(email_conflict)?;
        if password_hash.is_some() {
            let keep = is_self.then_some(actor.session_id.as_str());
            Sessions::revoke_all(&txn, updated.id, keep).await?;
        }
        if password_hash.is_some() || email_changes {
            // A link mailed before must not outlive the password or the address it was for.
            password_reset_tokens::Entity::delete_many()
                .filter(password_reset_tokens::Column::UserId.eq(updated.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        self.sessions.changed(updated.id).await;
        Ok(user_from_row(updated))
    }

    /// Deletes an account that has no orders; its sessions and reset tokens go with it.
    #[tracing::instrument(skip_all, fields(target_user_id = id))]
    pub async fn delete(&self, actor: &User, id: i64) -> Result<(), ServiceError> {
        let row = self.visible(actor, id).await?;
        let has_orders = orders::Entity::find()
            .filter(orders::Column::UserId.eq(row.id))
            .count(&self.db)
            .await?
            > 0;
        let result = if has_orders {
            None
        } else {
            Some(users::Entity::delete_by_id(row.id).exec(&self.db).await)
        };
        match result {
            Some(Ok(_)) => {
                self.sessions.changed(row.id).await;
                tracing::info!(user_id = row.id, "user deleted");
                Ok(())
            }
            // An order created between the check and the delete trips the foreign key.
            Some(Err(err))
                if !matches!(
                    err.sql_err(),
                    Some(SqlErr::ForeignKeyConstraintViolation(_))
                ) =>
            {
                Err(err.into())
            }
            _ => Err(ServiceError::Conflict {
                code: "user_has_orders",
                message: "This user still has orders; delete them first.".into(),
            }),
        }
    }

    /// The row, if `actor` may see it: an admin sees everyone, a user only themself. Anyone
    /// else's id looks exactly like an unknown one.
    async fn visible(&self, actor: &User, id: i64) -> Result<users::Model, ServiceError> {
        if !actor.is_admin() && actor.id != id {
            return Err(ServiceError::NotFound);
        }
        users::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(ServiceError::NotFound)
    }
}

/// Escapes LIKE's wildcards so that a search for `50%` finds "50%", not everything.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
