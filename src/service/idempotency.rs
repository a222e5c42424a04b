//! Idempotency keys on order creation: a request with a key runs, and stores its response with
//! the key in the transaction that creates the order; a repeat with the same body gets that
//! response again, and nothing runs twice. Keys live in the database, so they hold across
//! instances.
//!
//! Nothing is written before the order's own transaction: a key is stored exactly when its
//! order is, and a request that crashed or was cut off left nothing that could hold its key.
//! A repeat while the first runs is refused with a 409: on the instance that runs the first,
//! which knows its running keys, and on PostgreSQL on any instance, by a lock on the key that
//! the first's transaction holds. On SQLite, where transactions take turns, a repeat on another
//! instance waits for the first's and then answers its replay.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
};

use chrono::{DateTime, Utc};

use super::{ServiceError, expiry, hash_token, now, random_hex};
use crate::{
    db::{
        self, DatabaseConnection,
        idempotency_keys::{NewKey, StoredKey},
    },
    domain::{
        Message,
        idempotency::{Fingerprint, HEADER, IdempotencyKey},
    },
};

/// A response as the API sent it: replayed as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// The keys of the requests this instance is running, by user and key hash.
type Running = Arc<Mutex<HashSet<(i64, String)>>>;

/// A key this instance's request holds while it runs: freed when dropped, however the
/// request ends.
#[derive(Debug)]
pub struct RunningKey {
    user_id: i64,
    key_hash: String,
    /// The key's PostgreSQL advisory lock, derived from the user and the key.
    lock_id: i64,
    fingerprint: String,
    expires_at: DateTime<Utc>,
    running: Running,
}

impl RunningKey {
    /// Takes the key for the rest of `conn`'s transaction: false while another request's
    /// transaction holds it (PostgreSQL; on SQLite, transactions take turns).
    pub async fn lock_in(&self, conn: &impl db::ConnectionTrait) -> Result<bool, ServiceError> {
        Ok(db::idempotency_keys::lock(conn, self.lock_id).await?)
    }

    /// Stores `response` as the key's, in `conn`'s transaction: the response of a request that
    /// wrote something commits with what it wrote, or not at all. False when another
    /// request's response holds the key.
    pub async fn store_in(
        &self,
        conn: &impl db::ConnectionTrait,
        response: &StoredResponse,
    ) -> Result<bool, ServiceError> {
        let holder = random_hex(16);
        let key = NewKey {
            fingerprint: &self.fingerprint,
            holder: &holder,
            status: response.status,
            body: &response.body,
            created_at: now(),
            expires_at: self.expires_at,
        };
        Ok(db::idempotency_keys::store(conn, self.user_id, &self.key_hash, &key).await?)
    }

    /// Replaces the response `store_in` stored in `conn`'s transaction.
    pub async fn replace_in(
        &self,
        conn: &impl db::ConnectionTrait,
        response: &StoredResponse,
    ) -> Result<(), ServiceError> {
        Ok(db::idempotency_keys::replace_response(
            conn,
            self.user_id,
            &self.key_hash,
            response.status,
            &response.body,
        )
        .await?)
    }
}

impl Drop for RunningKey {
    fn drop(&mut self) {
        let key = (self.user_id, std::mem::take(&mut self.key_hash));
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
    }
}

#[derive(Clone)]
pub struct IdempotencyKeys {
    db: DatabaseConnection,
    /// `IDEMPOTENCY_KEY_TTL_SECS`: how long a key is remembered.
    ttl: std::time::Duration,
    running: Running,
}

impl IdempotencyKeys {
    pub fn new(db: DatabaseConnection, ttl: std::time::Duration) -> Self {
        Self {
            db,
            ttl,
            running: Running::default(),
        }
    }

    /// Starts the request `fingerprint` with `key` of `user_id`: 409 `idempotency_key_in_use`
    /// while this instance runs another request with it.
    pub fn start(
        &self,
        user_id: i64,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> Result<RunningKey, ServiceError> {
        let key_hash = hash_token(key.as_str());
        let expires_at = expiry(self.ttl)?;
        let fresh = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((user_id, key_hash.clone()));
        if !fresh {
            return Err(in_use());
        }
        Ok(RunningKey {
            user_id,
            lock_id: lock_id(user_id, &key_hash),
            key_hash,
            fingerprint: fingerprint.as_str().to_owned(),
            expires_at,
            running: self.running.clone(),
        })
    }

    /// What a request that did not store its key answers instead, when the key is already
    /// another request's: that request's response again, 422 `idempotency_key_reused` when it
    /// was for another body, 409 `idempotency_key_in_use` while an earlier version's request
    /// still holds it. `None` when the key is free: the request's own outcome stands.
    #[tracing::instrument(skip_all)]
    pub async fn stored(&self, key: &RunningKey) -> Result<Option<StoredResponse>, ServiceError> {
        let Some(stored) = db::idempotency_keys::find(&self.db, key.user_id, &key.key_hash).await?
        else {
            return Ok(None);
        };
        decide(&stored, &key.fingerprint, now())
    }

    /// Stores `response` as the key's, outside any transaction: for outcomes that wrote
    /// nothing but must be answered the same way again. False when another request's response
    /// got there first.
    pub async fn store(
        &self,
        key: &RunningKey,
        response: &StoredResponse,
    ) -> Result<bool, ServiceError> {
        key.store_in(&self.db, response).await
    }
}

/// Whether the failure `err` of a keyed order is stored (answered again to a repeat). A
/// refusal that depends on the shop's state at that moment (409 `out_of_stock`) is stored,
/// like a created order: the key stands for that attempt. Invalid input, missing rights and
/// failures of ours store nothing, so that the request can be corrected or retried under the
/// same key.
pub fn is_stored(err: &ServiceError) -> bool {
    matches!(
        err,
        ServiceError::Conflict {
            code: "out_of_stock",
            ..
        }
    )
}

/// What a request with `fingerprint` answers, at `at`, when its key is stored already.
fn decide(
    stored: &StoredKey,
    fingerprint: &str,
    at: DateTime<Utc>,
) -> Result<Option<StoredResponse>, ServiceError> {
    match &stored.response {
        // A row without a response is an earlier version's request, running until
        // `locked_until`; after that, it crashed or was cut off and left the key free.
        None if stored.locked_until > at => Err(in_use()),
        None => Ok(None),
        Some(_) if stored.expires_at <= at => Ok(None),
        Some(_) if stored.fingerprint != fingerprint => Err(ServiceError::IdempotencyKeyReused),
        Some((status, body)) => Ok(Some(StoredResponse {
            status: *status,
            body: body.clone(),
        })),
    }
}

/// A 64-bit id for the lock of `key_hash` of `user_id`: the first 8 bytes of their SHA-256. Two
/// keys that share one (about one pair in 2^64) would make one wait for the other's 409 retry.
fn lock_id(user_id: i64, key_hash: &str) -> i64 {
    let digest = hash_token(&format!("{user_id}:{key_hash}"));
    u64::from_str_radix(&digest[..16], 16).map_or(0, u64::cast_signed)
}

/// The refusal of a repeat while its key's first request runs.
pub fn in_use() -> ServiceError {
    ServiceError::Conflict {
        code: "idempotency_key_in_use",
        message: Message::new("idempotency-key-in-use").with("header", HEADER),
    }
}
