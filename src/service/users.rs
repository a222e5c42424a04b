//! The user directory: admins manage every account, users manage their own.

use super::{
    ServiceError,
    cursors::Cursors,
    email_verification::EmailVerifications,
    expected_version, now, outbox,
    password_hasher::{Claimant, PasswordHasher},
    rate_limit::RateLimits,
    sessions::{Authenticated, Sessions},
};
pub use crate::db::users::{UserFilter, UserSortKey};
use crate::{
    db::{
        self, DatabaseConnection, reset_tokens,
        users::{self, Credentials, Deletion},
    },
    domain::{
        Email, FieldErrors, Message, Name, Password, Role, User,
        listing::{CursorPage, Page, PageRequest, Sort},
        precondition::Condition,
        webhook::EventType,
    },
    i18n::Locale,
};

/// An account an admin creates.
#[derive(Debug)]
pub struct NewUser {
    pub name: Name,
    pub email: Email,
    pub password: Password,
    pub role: Role,
    pub locale: Locale,
}

/// The changes of a PUT or PATCH: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub name: Option<Name>,
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub role: Option<Role>,
    pub locale: Option<Locale>,
    pub current_password: Option<String>,
}

#[derive(Clone)]
pub struct Users {
    db: DatabaseConnection,
    hasher: PasswordHasher,
    sessions: Sessions,
    limits: RateLimits,
    verifications: EmailVerifications,
    cursors: Cursors,
}

impl Users {
    pub fn new(
        db: DatabaseConnection,
        hasher: PasswordHasher,
        sessions: Sessions,
        limits: RateLimits,
        verifications: EmailVerifications,
        cursors: Cursors,
    ) -> Self {
        Self {
            db,
            hasher,
            sessions,
            limits,
            verifications,
            cursors,
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
        Ok(users::list(&self.db, filter, sort, page).await?)
    }

    /// The page of the accounts `list` would give that `cursor` points at
    /// (`cursors::FIRST_PAGE` for the first), and the cursor of the next one.
    #[tracing::instrument(skip_all)]
    pub async fn list_by_cursor(
        &self,
        actor: &User,
        filter: UserFilter,
        sort: Sort<UserSortKey>,
        cursor: &str,
        per_page: u64,
    ) -> Result<CursorPage<User>, ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let scope = format!("users|{}|{filter:?}|{sort:?}", actor.id);
        let after = self.cursors.open(&scope, cursor)?;
        let slice = users::list_after(&self.db, filter, sort, after, per_page).await?;
        Ok(self.cursors.page(&scope, slice, per_page))
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
        let new = users::NewUser {
            name: &user.name,
            email: &user.email,
            password_hash,
            role: user.role,
            locale: user.locale,
            email_verified_at: None,
        };
        let txn = db::begin(&self.db).await?;
        let user = users::insert(&txn, new, now()).await?;
        let link = self.verifications.issue(&txn, user.id, &user.email).await?;
        outbox::record(
            &txn,
            EventType::UserCreated,
            outbox::user_data(&user),
            now(),
        )
        .await?;
        txn.commit().await?;
        tracing::info!(user_id = user.id, "user created by an admin");
        self.verifications.mail_later(user.clone(), link);
        Ok(user)
    }

    pub async fn get(&self, actor: &User, id: i64) -> Result<User, ServiceError> {
        self.visible(actor, id).await.map(|found| found.user)
    }

    /// Applies a PUT or PATCH. Only admins set roles; changing one's own email or password
    /// takes the current password; a new password ends the user's other sessions. One's own
    /// new email waits in `pending_email` until the link mailed to it is followed; an admin's
    /// change to someone else's applies at once, unverified, and mails that address a link.
    /// With `if_match`, a 412 unless it names the account's current tag, checked again by the
    /// write itself.
    #[tracing::instrument(skip_all, fields(target_user_id = id))]
    pub async fn update(
        &self,
        actor: &Authenticated,
        id: i64,
        changes: UserChanges,
        claimant: &Claimant,
        if_match: Option<&Condition>,
    ) -> Result<User, ServiceError> {
        let Credentials {
            user: account,
            password_hash: current_hash,
        } = self.visible(&actor.user, id).await?;
        // Before any password work: a stale tag costs nothing and counts against no limit.
        let expected = expected_version(if_match, account.entity_tag())?;
        let claimant = claimant.clone().account(&actor.user.email);
        let mut errors = FieldErrors::new();
        if changes.role.is_some() && !actor.user.is_admin() {
            errors.add("role", Message::new("role-admin-only"));
        }
        let new_email = changes
            .email
            .filter(|email| email.as_str() != account.email);
        let changes_credentials = new_email.is_some() || changes.password.is_some();
        if changes_credentials {
            actor.require_session()?;
        }
        let is_self = actor.user.id == account.id;
        if is_self && changes_credentials {
            let current = changes.current_password.as_deref();
            if let Some(problem) = self
                .current_password_problem(&claimant, account.id, current, &current_hash)
                .await?
            {
                errors.add("current_password", problem);
            }
        }
        if let Some(email) = new_email.as_ref().filter(|_| is_self && errors.is_empty())
            && users::find_by_email(&self.db, email).await?.is_some()
        {
            // Said now rather than at confirmation, which would mail a link that cannot work.
            errors.add("email", Message::new("email-taken"));
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let password_hash = match &changes.password {
            Some(password) => Some(self.hasher.hash(&claimant, password).await?),
            None => None,
        };

        // One's own new address is only asked for; an admin's applies at once, unverified.
        let (email, pending_email) = match new_email {
            Some(email) if is_self => (None, Some(email)),
            other => (other, None),
        };
        let email_changes = email.is_some();
        let changes = users::Changes {
            name: changes.name.filter(|name| name.as_str() != account.name),
            email_verified_at: email.is_some().then_some(None),
            pending_email: match (&email, &pending_email) {
                (_, Some(pending)) => Some(Some(pending.clone())),
                (Some(_), None) if account.pending_email.is_some() => Some(None),
                _ => None,
            },
            email,
            password_hash,
            role: changes.role.filter(|role| *role != account.role),
            locale: changes.locale.filter(|locale| *locale != account.locale),
        };
        if changes.is_empty() {
            return Ok(account);
        }
        let password_changes = changes.password_hash.is_some();
        let at = now();
        let txn = db::begin(&self.db).await?;
        let Some(updated) = users::update(&txn, account.id, changes, at, expected).await? else {
            drop(txn);
            return Err(self.lost_race(account.id).await);
        };
        if password_changes {
            let keep = actor.session_id().filter(|_| is_self);
            db::sessions::revoke_all_but(&txn, updated.id, keep, at).await?;
        }
        if password_changes || email_changes {
            // A link mailed before must not outlive the password or the address it was for.
            reset_tokens::delete_for_user(&txn, updated.id).await?;
        }
        // The address to confirm now, whose link voids any earlier one.
        let to_confirm = pending_email
            .map(String::from)
            .or_else(|| email_changes.then(|| updated.email.clone()));
        let link = match &to_confirm {
            Some(email) => Some(self.verifications.issue(&txn, updated.id, email).await?),
            None => None,
        };
        txn.commit().await?;
        self.sessions.changed(updated.id).await;
        if let Some(link) = link {
            self.verifications.mail_later(updated.clone(), link);
        }
        Ok(updated)
    }

    /// Deletes an account that has no orders; its sessions and reset tokens go with it. With
    /// `if_match`, only the version it names.
    #[tracing::instrument(skip_all, fields(target_user_id = id))]
    pub async fn delete(
        &self,
        actor: &User,
        id: i64,
        if_match: Option<&Condition>,
    ) -> Result<(), ServiceError> {
        let user = self.visible(actor, id).await?.user;
        let expected = expected_version(if_match, user.entity_tag())?;
        let txn = db::begin(&self.db).await?;
        match users::delete(&txn, user.id, expected).await? {
            Deletion::Deleted => {
                let data = outbox::user_deleted_data(&user);
                outbox::record(&txn, EventType::UserDeleted, data, now()).await?;
                txn.commit().await?;
                self.sessions.changed(user.id).await;
                tracing::info!(user_id = user.id, "user deleted");
                Ok(())
            }
            Deletion::HasOrders => Err(ServiceError::Conflict {
                code: "user_has_orders",
                message: Message::new("user-has-orders"),
            }),
            Deletion::NotDeleted => Err(self.lost_race(user.id).await),
        }
    }

    /// What is wrong with the `current_password` sent to change one's own email or password,
    /// if anything.
    async fn current_password_problem(
        &self,
        claimant: &Claimant,
        account_id: i64,
        current: Option<&str>,
        current_hash: &str,
    ) -> Result<Option<Message>, ServiceError> {
        let Some(current) = current else {
            return Ok(Some(Message::new("current-password-required")));
        };
        // Guessable like a login, so limited like one: before any bcrypt work, and before
        // anything else (a taken email) is revealed.
        self.limits
            .current_password(account_id)
            .await
            .map_err(ServiceError::RateLimited)?;
        if self
            .hasher
            .verify(claimant, current, Some(current_hash))
            .await?
        {
            self.limits.current_password_succeeded(account_id).await;
            Ok(None)
        } else {
            Ok(Some(Message::new("current-password-incorrect")))
        }
    }

    /// What a write that found nothing to change answers: the account is gone (404), or a
    /// conditional write met another version than the one it was checked against (412).
    async fn lost_race(&self, id: i64) -> ServiceError {
        match users::exists(&self.db, id).await {
            Ok(true) => ServiceError::PreconditionFailed,
            Ok(false) => ServiceError::NotFound,
            Err(err) => err.into(),
        }
    }

    /// The account, if `actor` may see it: an admin sees everyone, a user only themself.
    /// Anyone else's id looks exactly like an unknown one.
    async fn visible(&self, actor: &User, id: i64) -> Result<Credentials, ServiceError> {
        if !actor.is_admin() && actor.id != id {
            return Err(ServiceError::NotFound);
        }
        users::credentials_by_id(&self.db, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }
}
