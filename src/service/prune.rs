//! Deleting what can no longer be used: expired or revoked sessions (their refresh tokens go
//! with them), expired refresh tokens, used or expired reset and confirmation tokens,
//! mail-throttle rows whose window has passed, expired idempotency keys, expired API tokens, and
//! webhook events that no webhook wanted or whose deliveries all ended more than
//! `WEBHOOK_EVENTS_KEPT` ago. Every server does
//! it now and then (`PRUNE_INTERVAL_SECS`), and `comptoir prune` on demand.
//!
//! Instances do not fight over it: on PostgreSQL a pass first takes a transaction-scoped
//! advisory lock without waiting, and skips when another instance holds it (two deletes of
//! the same rows in different orders could otherwise deadlock); on SQLite the deletes take the
//! one write lock in turn, and a second pass finds nothing left.

use std::time::Duration;

use chrono::TimeDelta;

use super::{ServiceError, now};
use crate::db::{
    self, ConnectionTrait, DatabaseConnection, api_tokens, email_verifications, idempotency_keys,
    mail_throttle, outbox, refresh_tokens, reset_tokens, sessions,
};

/// An arbitrary key for PostgreSQL's advisory lock that one pruning pass holds.
const PRUNE_LOCK: i64 = 0x7072_756e_6500; // "prune"

/// Mail-throttle rows older than this hold nothing back: every window is shorter.
const THROTTLE_KEPT: TimeDelta = TimeDelta::days(1);

/// How long a webhook's delivery log keeps an event after its last delivery ended.
const WEBHOOK_EVENTS_KEPT: TimeDelta = TimeDelta::days(30);

/// What one pass deleted; `None` from [`Pruner::prune`] when another instance was at it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub reset_tokens: u64,
    pub verification_tokens: u64,
    pub mail_throttle: u64,
    pub idempotency_keys: u64,
    pub api_tokens: u64,
    pub webhook_events: u64,
}

#[derive(Clone)]
pub struct Pruner {
    db: DatabaseConnection,
}

impl Pruner {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// One pass, in one transaction.
    pub async fn prune(&self) -> Result<Option<Pruned>, ServiceError> {
        let txn = db::begin(&self.db).await?;
        if db::is_postgres(&self.db) {
            let locked = txn
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!("SELECT pg_try_advisory_xact_lock({PRUNE_LOCK}) AS locked"),
                ))
                .await?
                .map(|row| row.try_get::<bool>("", "locked"))
                .transpose()?
                .unwrap_or(false);
            if !locked {
                return Ok(None);
            }
        }
        let at = now();
        let pruned = Pruned {
            // Refresh tokens first: those of a deleted session are gone with it, uncounted.
            refresh_tokens: refresh_tokens::prune(&txn, at).await?,
            sessions: sessions::prune(&txn, at).await?,
            reset_tokens: reset_tokens::prune(&txn, at).await?,
            verification_tokens: email_verifications::prune(&txn, at).await?,
            mail_throttle: mail_throttle::prune(&txn, at - THROTTLE_KEPT).await?,
            idempotency_keys: idempotency_keys::prune(&txn, at).await?,
            api_tokens: api_tokens::prune(&txn, at).await?,
            webhook_events: outbox::prune(&txn, at - WEBHOOK_EVENTS_KEPT).await?,
        };
        txn.commit().await?;
        Ok(Some(pruned))
    }

    /// Prunes every `interval` (give or take a tenth, so that instances started together
    /// spread out) for as long as the runtime runs.
    pub fn run_every(self, interval: Duration) {
        tokio::spawn(async move {
            loop {
                let jitter = interval.mul_f64(rand::random_range(0.9..1.1));
                tokio::time::sleep(jitter).await;
                match self.prune().await {
                    Ok(Some(pruned)) => {
                        tracing::info!(?pruned, "pruned expired sessions and tokens");
                    }
                    Ok(None) => tracing::debug!("another instance is pruning"),
                    Err(err) => tracing::warn!(error = %err, "pruning failed; trying again later"),
                }
            }
        });
    }
}
