//! Verified addresses: a single-use, expiring link by mail (only its hash is stored) that
//! confirms the account's own address, or the new one it asked for, which then replaces it.

use std::time::Duration;

use chrono::TimeDelta;
use tracing::Instrument;

use super::{
    ServiceError, expiry, hash_token, mailed_link, now, random_hex, rate_limit::Decision,
    sessions::Sessions,
};
use crate::{
    config::MailSettings,
    db::{
        self, ConnectionTrait, DatabaseConnection, email_verifications, mail_throttle,
        reset_tokens, users,
    },
    domain::{Email, Message, User},
    mail::{
        Mailer,
        templates::{self, Recipient},
    },
};

/// At most one confirmation mail per account in this window when one is asked for again.
const ONE_MAIL_PER: TimeDelta = TimeDelta::seconds(60);

/// What a confirmation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The account's own address is now verified.
    Address,
    /// The pending address replaced the old one, verified.
    NewAddress,
}

/// What a request for a new link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    Sent,
    /// The address is verified and no change waits: nothing to send.
    NothingToConfirm,
}

/// A token just issued, to be mailed once the transaction that issued it commits.
#[derive(Debug)]
pub struct IssuedLink {
    token: String,
    /// The address it confirms.
    email: String,
}

#[derive(Clone)]
pub struct EmailVerifications {
    db: DatabaseConnection,
    mailer: Mailer,
    sessions: Sessions,
    public_url: String,
    ttl: Duration,
}

impl EmailVerifications {
    pub fn new(
        db: DatabaseConnection,
        mailer: Mailer,
        sessions: Sessions,
        settings: &MailSettings,
    ) -> Self {
        Self {
            db,
            mailer,
            sessions,
            public_url: settings.public_url.clone(),
            ttl: settings.email_verification_ttl,
        }
    }

    /// Issues a token that confirms `email` for `user_id` on `conn` (a transaction, so that it
    /// lands with the account or the change it confirms), voiding every earlier one. Mail it
    /// with [`Self::mail_later`] after the commit: only the mail happens off the request path,
    /// the database work under the request's own guards.
    pub async fn issue(
        &self,
        conn: &impl ConnectionTrait,
        user_id: i64,
        email: &str,
    ) -> Result<IssuedLink, ServiceError> {
        let token = random_hex(32);
        let at = now();
        let expires_at = expiry(self.ttl)?;
        email_verifications::issue(conn, user_id, email, hash_token(&token), at, expires_at)
            .await?;
        // Asked for or not, a link counts against the account's one mail a minute.
        mail_throttle::claim(conn, &throttle_key(user_id), at, ONE_MAIL_PER).await?;
        Ok(IssuedLink {
            token,
            email: email.to_owned(),
        })
    }

    /// Sends `link` off the request path: to the account's own address, a link that verifies
    /// it; to a new address, a link that confirms it, and a notice to the old one. Failures
    /// are logged: the user can ask for the link again.
    pub fn mail_later(&self, user: User, link: IssuedLink) {
        let this = self.clone();
        tokio::spawn(
            async move {
                if let Err(err) = this.mail(&user, &link).await {
                    tracing::error!(error = format!("{err:#}"), "confirmation mail failed");
                }
            }
            .instrument(tracing::Span::current()),
        );
    }

    async fn mail(&self, user: &User, link: &IssuedLink) -> anyhow::Result<()> {
        let url = mailed_link(&self.public_url, "/verify-email", &link.token, &link.email);
        if link.email == user.email {
            let mail = templates::verify_email(recipient(user, &user.email), &url, self.ttl)?;
            self.mailer.send(mail).await?;
            tracing::info!(user_id = user.id, "verification link sent");
            return Ok(());
        }
        let confirm =
            templates::email_change_confirm(recipient(user, &link.email), &url, self.ttl)?;
        self.mailer.send(confirm).await?;
        let notice = templates::email_change_notice(recipient(user, &user.email), &link.email)?;
        self.mailer.send(notice).await?;
        tracing::info!(
            user_id = user.id,
            "email change link sent, and a notice to the old address"
        );
        Ok(())
    }

    /// Mails a new link: to the pending address if a change waits, else to the account's own
    /// if it is unverified. At most one a minute per account.
    #[tracing::instrument(skip_all, fields(user_id = user.id))]
    pub async fn resend(&self, user: &User) -> Result<Resent, ServiceError> {
        let email = match (&user.pending_email, user.email_verified_at) {
            (Some(pending), _) => pending.clone(),
            (None, None) => user.email.clone(),
            (None, Some(_)) => return Ok(Resent::NothingToConfirm),
        };
        let key = throttle_key(user.id);
        let at = now();
        if !mail_throttle::claim(&self.db, &key, at, ONE_MAIL_PER).await? {
            let since = mail_throttle::sent_at(&self.db, &key)
                .await?
                .map_or(TimeDelta::zero(), |sent_at| at - sent_at);
            let left = (ONE_MAIL_PER - since).to_std().unwrap_or_default();
            return Err(ServiceError::RateLimited(Decision {
                allowed: false,
                limit: 1,
                remaining: 0,
                reset: left.max(Duration::from_secs(1)),
            }));
        }
        let link = self.issue(&self.db, user.id, &email).await?;
        self.mail_later(user.clone(), link);
        Ok(Resent::Sent)
    }

    /// Whether a link still works (unexpired, not replaced, for this address), without using
    /// it: the page says at once when it does not.
    pub async fn link_works(&self, token: &str, email: &str) -> Result<bool, ServiceError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(false);
        };
        let found = email_verifications::find_valid(&self.db, &hash_token(token), now()).await?;
        Ok(found.is_some_and(|valid| valid.email == email.as_str()))
    }

    /// Follows a link: the token must be unexpired and for `email`, which must still be the
    /// account's address or its pending one. The token is then used up.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, token: &str, email: &str) -> Result<Verified, ServiceError> {
        let invalid =
            || ServiceError::invalid("token", Message::new("email-verification-token-invalid"));
        let email =
            Email::parse(email).map_err(|message| ServiceError::invalid("email", message))?;
        let Some(email_verifications::ValidToken {
            id,
            user,
            email: for_email,
        }) = email_verifications::find_valid(&self.db, &hash_token(token), now()).await?
        else {
            return Err(invalid());
        };
        if for_email != email.as_str() {
            return Err(invalid());
        }
        let at = now();
        let txn = db::begin(&self.db).await?;
        // Only one of two racing confirmations can use the token.
        if !email_verifications::take(&txn, id).await? {
            return Err(invalid());
        }
        let verified = if user.email == email.as_str() {
            if !users::mark_verified(&txn, user.id, &email, at).await? {
                return Err(invalid());
            }
            Verified::Address
        } else {
            // The unique index says whether another account took the address meanwhile; the
            // transaction, dropped, then changes nothing.
            if !users::confirm_pending_email(&txn, user.id, &email, at).await? {
                return Err(invalid());
            }
            // A reset link mailed to the old address must not outlive it.
            reset_tokens::delete_for_user(&txn, user.id).await?;
            Verified::NewAddress
        };
        txn.commit().await?;
        // Every instance sees the verified or new address at once.
        self.sessions.changed(user.id).await;
        tracing::info!(user_id = user.id, ?verified, "email address confirmed");
        Ok(verified)
    }
}

fn throttle_key(user_id: i64) -> String {
    format!("email-verification:{user_id}")
}

/// Mails go to the user in the user's own language, at `email` (the account's address, or the
/// new one being confirmed).
fn recipient<'a>(user: &'a User, email: &'a str) -> Recipient<'a> {
    Recipient {
        name: &user.name,
        email,
        locale: user.locale,
    }
}
