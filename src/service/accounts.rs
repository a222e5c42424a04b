//! Registration, login and logout.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter, SqlErr, TransactionTrait,
};

use super::{
    ServiceError, now,
    password_hasher::{Claimant, PasswordHasher},
    sessions::{IssuedToken, Sessions},
};
use crate::{
    db::entities::users,
    domain::{Email, FieldErrors, Name, Password, Role, User},
};

pub const EMAIL_TAKEN: &str = "The email has already been taken.";
const BAD_CREDENTIALS: &str = "These credentials do not match our records.";

/// A registration that passed validation.
#[derive(Debug)]
pub struct NewAccount {
    pub name: Name,
    pub email: Email,
    pub password: Password,
}

impl NewAccount {
    pub fn parse(
        name: &str,
        email: &str,
        password: String,
        confirmation: Option<&str>,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.check("name", Name::parse(name));
        let email = errors.check("email", Email::parse(email));
        let password = errors.check(
            "password",
            Password::parse_confirmed(password, confirmation),
        );
        match (name, email, password) {
            (Some(name), Some(email), Some(password)) if errors.is_empty() => Ok(Self {
                name,
                email,
                password,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Clone)]
pub struct Accounts {
    db: DatabaseConnection,
    hasher: PasswordHasher,
    sessions: Sessions,
}

impl Accounts {
    pub fn new(db: DatabaseConnection, hasher: PasswordHasher, sessions: Sessions) -> Self {
        Self {
            db,
            hasher,
            sessions,
        }
    }

    /// Creates an ordinary account and its first session, in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        account: NewAccount,
        claimant: &Claimant,
    ) -> Result<(User, IssuedToken), ServiceError> {
        let claimant = claimant.clone().account(account.email.as_str());
        let password_hash = self.hasher.hash(&claimant, &account.password).await?;
        let txn = self.db.begin().await?;
        let row = insert_user(
            &txn,
            &account.name,
            &account.email,
            password_hash,
            Role::User,
        )
        .await?;
        let token = self.sessions.issue(&txn, row.id).await?;
        txn.commit().await?;
        tracing::Span::current().record("user_id", row.id);
        tracing::info!(user_id = row.id, "account registered");
        Ok((user_from_row(row), token))
    }

    /// Checks the credentials and opens a session. An unknown email and a wrong password get
    /// the same answer after the same bcrypt work.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        claimant: &Claimant,
    ) -> Result<(User, IssuedToken), ServiceError> {
        let email =
            Email::parse(email).map_err(|message| ServiceError::invalid("email", message))?;
        let row = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await?;
        let matches = self
            .hasher
            .verify(
                &claimant.clone().account(email.as_str()),
                password,
                row.as_ref().map(|row| row.password_hash.as_str()),
            )
            .await?;
        let Some(row) = row.filter(|_| matches) else {
            return Err(ServiceError::invalid("email", BAD_CREDENTIALS));
        };
        let token = self.sessions.issue(&self.db, row.id).await?;
        Ok((user_from_row(row), token))
    }
}

/// What `create-admin` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Created,
    /// The email belonged to an account, which is now an admin; its password is unchanged.
    Promoted,
    AlreadyAdmin,
}

impl Accounts {
    /// Makes an admin, or promotes the account that has this email. Only the command line
    /// calls this: there is no way to become an admin over HTTP.
    pub async fn create_admin(
        &self,
        name: Name,
        email: Email,
        password: Password,
    ) -> Result<(User, AdminOutcome), ServiceError> {
        let existing = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await?;
        if let Some(row) = existing {
            if row.role == Role::Admin.as_str() {
                return Ok((user_from_row(row), AdminOutcome::AlreadyAdmin));
            }
            let mut active = row.into_active_model();
            active.role = Set(Role::Admin.as_str().to_owned());
            active.updated_at = Set(now());
            let row = active.update(&self.db).await?;
            self.sessions.changed(row.id).await;
            return Ok((user_from_row(row), AdminOutcome::Promoted));
        }
        let password_hash = self.hasher.hash(&Claimant::default(), &password).await?;
        let row = insert_user(&self.db, &name, &email, password_hash, Role::Admin).await?;
        Ok((user_from_row(row), AdminOutcome::Created))
    }
}

/// Creates an account row; an email already taken is a 422 on `email`.
pub async fn insert_user(
    conn: &impl ConnectionTrait,
    name: &Name,
    email: &Email,
    password_hash: String,
    role: Role,
) -> Result<users::Model, ServiceError> {
    let created = now();
    users::ActiveModel {
        name: Set(name.as_str().to_owned()),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_owned()),
        email_verified_at: Set(None),
        created_at: Set(created),
        updated_at: Set(created),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(email_conflict)
}

/// A unique-index violation on `users.email` is the client's mistake, not a crash.
pub fn email_conflict(err: sea_orm::DbErr) -> ServiceError {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        ServiceError::invalid("email", EMAIL_TAKEN)
    } else {
        err.into()
    }
}

pub fn user_from_row(row: users::Model) -> User {
    User {
        id: row.id,
        name: row.name,
        email: row.email,
        // An unexpected value grants the least privilege.
        role: Role::parse(&row.role).unwrap_or(Role::User),
        email_verified_at: row.email_verified_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
