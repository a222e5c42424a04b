//! Registration, login and logout.

use super::{
    ServiceError,
    email_verification::EmailVerifications,
    now, outbox,
    password_hasher::{Claimant, PasswordHasher},
    sessions::{Sessions, TokenPair},
};
use crate::{
    db::{self, DatabaseConnection, users},
    domain::{
        DeviceName, Email, FieldErrors, Message, Name, Password, Role, User, webhook::EventType,
    },
    i18n::Locale,
};

/// A registration that passed validation.
#[derive(Debug)]
pub struct NewAccount {
    pub name: Name,
    pub email: Email,
    pub password: Password,
    pub locale: Locale,
}

impl NewAccount {
    pub fn parse(
        name: &str,
        email: &str,
        password: String,
        confirmation: Option<&str>,
        locale: Locale,
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
                locale,
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
    verifications: EmailVerifications,
}

impl Accounts {
    pub fn new(
        db: DatabaseConnection,
        hasher: PasswordHasher,
        sessions: Sessions,
        verifications: EmailVerifications,
    ) -> Self {
        Self {
            db,
            hasher,
            sessions,
            verifications,
        }
    }

    /// Creates an ordinary account, its first session and the link that verifies its
    /// address, in one transaction; the link is mailed in the background.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        account: NewAccount,
        device: &DeviceName,
        claimant: &Claimant,
    ) -> Result<(User, TokenPair), ServiceError> {
        let claimant = claimant.clone().account(account.email.as_str());
        let password_hash = self.hasher.hash(&claimant, &account.password).await?;
        let txn = db::begin(&self.db).await?;
        let user = users::insert(
            &txn,
            users::NewUser {
                name: &account.name,
                email: &account.email,
                password_hash,
                role: Role::User,
                locale: account.locale,
                email_verified_at: None,
            },
            now(),
        )
        .await?;
        let token = self.sessions.issue(&txn, user.id, device).await?;
        let link = self.verifications.issue(&txn, user.id, &user.email).await?;
        outbox::record(
            &txn,
            EventType::UserCreated,
            outbox::user_data(&user),
            now(),
        )
        .await?;
        txn.commit().await?;
        tracing::Span::current().record("user_id", user.id);
        tracing::info!(user_id = user.id, "account registered");
        self.verifications.mail_later(user.clone(), link);
        Ok((user, token))
    }

    /// Checks the credentials and opens a session on `device`. An unknown email and a wrong password get
    /// the same answer after the same bcrypt work.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        device: &DeviceName,
        claimant: &Claimant,
    ) -> Result<(User, TokenPair), ServiceError> {
        let email =
            Email::parse(email).map_err(|message| ServiceError::invalid("email", message))?;
        let found = users::credentials_by_email(&self.db, &email).await?;
        let matches = self
            .hasher
            .verify(
                &claimant.clone().account(email.as_str()),
                password,
                found.as_ref().map(|found| found.password_hash.as_str()),
            )
            .await?;
        let Some(users::Credentials { user, .. }) = found.filter(|_| matches) else {
            return Err(ServiceError::invalid("email", Message::new("auth-failed")));
        };
        let token = self.sessions.issue(&self.db, user.id, device).await?;
        Ok((user, token))
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
    /// calls this: there is no way to become an admin over HTTP. A new admin is written to in
    /// `locale`; a promoted account keeps its own. Either way the address counts as verified.
    pub async fn create_admin(
        &self,
        name: Name,
        email: Email,
        password: Password,
        locale: Locale,
    ) -> Result<(User, AdminOutcome), ServiceError> {
        if let Some(user) = users::find_by_email(&self.db, &email).await? {
            if user.role == Role::Admin {
                return Ok((user, AdminOutcome::AlreadyAdmin));
            }
            // The operator vouches for the address of the account they promote.
            let changes = users::Changes {
                role: Some(Role::Admin),
                email_verified_at: user.email_verified_at.is_none().then(|| Some(now())),
                ..users::Changes::default()
            };
            let user = users::update(&self.db, user.id, changes, now(), None)
                .await?
                // Deleted between the lookup and the update.
                .ok_or(ServiceError::NotFound)?;
            self.sessions.changed(user.id).await;
            return Ok((user, AdminOutcome::Promoted));
        }
        let password_hash = self.hasher.hash(&Claimant::default(), &password).await?;
        let new = users::NewUser {
            name: &name,
            email: &email,
            password_hash,
            role: Role::Admin,
            locale,
            // Typed by the operator on the server: verified by the act.
            email_verified_at: Some(now()),
        };
        let txn = db::begin(&self.db).await?;
        let user = users::insert(&txn, new, now()).await?;
        outbox::record(
            &txn,
            EventType::UserCreated,
            outbox::user_data(&user),
            now(),
        )
        .await?;
        txn.commit().await?;
        Ok((user, AdminOutcome::Created))
    }
}
