//! Forgotten passwords: a single-use, expiring link by mail, of which only a hash is stored.

use std::time::Duration;

use chrono::TimeDelta;
use tracing::Instrument;

use super::{
    ServiceError, expiry, hash_token, mailed_link, now,
    password_hasher::{Claimant, PasswordHasher},
    random_hex,
    sessions::Sessions,
};
use crate::{
    config::MailSettings,
    db::{self, DatabaseConnection, mail_throttle, reset_tokens, users},
    domain::{Email, Message, Password, User},
    mail::{
        Mailer,
        templates::{self, Recipient},
    },
};

/// At most one reset mail per account in this window, whatever the number of requests.
const ONE_MAIL_PER: TimeDelta = TimeDelta::seconds(60);

#[derive(Clone)]
pub struct PasswordResets {
    db: DatabaseConnection,
    hasher: PasswordHasher,
    mailer: Mailer,
    sessions: Sessions,
    public_url: String,
    ttl: Duration,
}

impl PasswordResets {
    pub fn new(
        db: DatabaseConnection,
        hasher: PasswordHasher,
        mailer: Mailer,
        sessions: Sessions,
        settings: &MailSettings,
    ) -> Self {
        Self {
            db,
            hasher,
            mailer,
            sessions,
            public_url: settings.public_url.clone(),
            ttl: settings.reset_token_ttl,
        }
    }

    /// Starts sending a reset link and returns at once: the lookup, the token and the mail
    /// all happen off the request path, so neither the answer nor its timing tells whether
    /// the address has an account. Failures are logged, never shown.
    pub fn request_link(&self, email: Email) {
        let this = self.clone();
        tokio::spawn(
            async move {
                if let Err(err) = this.send_link(&email).await {
                    tracing::error!(error = format!("{err:#}"), "password reset mail failed");
                }
            }
            .instrument(tracing::Span::current()),
        );
    }

    async fn send_link(&self, email: &Email) -> anyhow::Result<()> {
        let Some(user) = users::find_by_email(&self.db, email).await? else {
            tracing::info!("password reset asked for an address without an account");
            return Ok(());
        };
        let issued_at = now();
        let key = format!("password-reset:{}", user.id);
        if !mail_throttle::claim(&self.db, &key, issued_at, ONE_MAIL_PER).await? {
            tracing::info!(
                user_id = user.id,
                "a reset link was sent less than a minute ago; not sending another"
            );
            return Ok(());
        }

        let token = random_hex(32);
        let expires_at = expiry(self.ttl)?;
        let txn = db::begin(&self.db).await?;
        // A new link makes every earlier one useless.
        reset_tokens::delete_for_user(&txn, user.id).await?;
        reset_tokens::issue(&txn, user.id, hash_token(&token), issued_at, expires_at).await?;
        txn.commit().await?;

        let link = mailed_link(&self.public_url, "/reset-password", &token, &user.email);
        let mail = templates::reset_password(recipient(&user), &link, self.ttl)?;
        self.mailer.send(mail).await?;
        tracing::info!(user_id = user.id, "password reset link sent");
        Ok(())
    }

    /// Whether a reset link still works (unused, unexpired, for this email), without using it:
    /// the page says at once when it does not.
    pub async fn link_works(&self, token: &str, email: &str) -> Result<bool, ServiceError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(false);
        };
        let found = reset_tokens::find_valid(&self.db, &hash_token(token), now()).await?;
        Ok(found.is_some_and(|valid| valid.user.email == email.as_str()))
    }

    /// Sets a new password with a token from a reset link. The token must match the email, be
    /// unused and unexpired; it is then used up, and every session of the user ends.
    #[tracing::instrument(skip_all)]
    pub async fn reset(
        &self,
        token: &str,
        email: &str,
        password: Password,
        claimant: &Claimant,
    ) -> Result<(), ServiceError> {
        let invalid =
            || ServiceError::invalid("token", Message::new("password-reset-token-invalid"));
        let email =
            Email::parse(email).map_err(|message| ServiceError::invalid("email", message))?;
        let Some(reset_tokens::ValidToken { id, user }) =
            reset_tokens::find_valid(&self.db, &hash_token(token), now()).await?
        else {
            return Err(invalid());
        };
        if user.email != email.as_str() {
            return Err(invalid());
        }
        let password_hash = self
            .hasher
            .hash(&claimant.clone().account(&user.email), &password)
            .await?;

        let at = now();
        let txn = db::begin(&self.db).await?;
        // Only one of two racing resets can use the token.
        if !reset_tokens::claim(&txn, id, at).await? {
            return Err(invalid());
        }
        users::set_password_hash(&txn, user.id, password_hash, at).await?;
        db::sessions::revoke_all_but(&txn, user.id, None, at).await?;
        txn.commit().await?;
        self.sessions.changed(user.id).await;
        tracing::info!(user_id = user.id, "password reset; every session revoked");

        let mailer = self.mailer.clone();
        tokio::spawn(
            async move {
                let sent = match templates::password_changed(recipient(&user)) {
                    Ok(mail) => mailer.send(mail).await,
                    Err(err) => Err(err),
                };
                if let Err(err) = sent {
                    tracing::error!(error = format!("{err:#}"), "password changed mail failed");
                }
            }
            .instrument(tracing::Span::current()),
        );
        Ok(())
    }
}

/// Mails go to the user in the user's own language, never in that of the request that
/// caused them (an English browser asking a reset for a French customer's address).
fn recipient(user: &User) -> Recipient<'_> {
    Recipient {
        name: &user.name,
        email: &user.email,
        locale: user.locale,
    }
}
