//! Idempotency keys on order creation: the first request with a key claims it, runs, and
//! stores its response; a repeat with the same body gets that response again, and nothing runs
//! twice. Claims live in the database, so they hold across instances.
//!
//! A claim holds its key while its request may still run (`REQUEST_TIMEOUT_SECS`: the server
//! drops a request after that, rolling back whatever it was writing). A key whose claim is
//! older than that belonged to a request that crashed or was cut off, and the next request
//! may take it over. Taking over and completing are compare-and-swaps on the claim's holder:
//! of two racers one wins, and a claim taken over cannot store its response, so its order is
//! rolled back with it.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::{ServiceError, expiry, hash_token, now, random_hex};
use crate::{
    db::{
        self, DatabaseConnection,
        idempotency_keys::{NewClaim, StoredKey},
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

/// A key this request holds: it must be completed or released.
#[derive(Debug)]
pub struct Claim {
    row_id: i64,
    holder: String,
}

impl Claim {
    /// Stores `response` as the key's, in `conn`'s transaction: the response of a request that
    /// wrote something commits with what it wrote, or not at all. An error when the claim was
    /// taken over meanwhile.
    pub async fn complete_in(
        &self,
        conn: &impl db::ConnectionTrait,
        response: &StoredResponse,
    ) -> Result<(), ServiceError> {
        if db::idempotency_keys::complete(
            conn,
            self.row_id,
            &self.holder,
            response.status,
            &response.body,
        )
        .await?
        {
            Ok(())
        } else {
            Err(in_use())
        }
    }
}

/// What a request with a key does.
#[derive(Debug)]
pub enum Claimed {
    /// Run: the key is this request's until it completes or releases it.
    Run(Claim),
    /// Answer this again: the same request already ran.
    Replay(StoredResponse),
}

#[derive(Clone)]
pub struct IdempotencyKeys {
    db: DatabaseConnection,
    /// `IDEMPOTENCY_KEY_TTL_SECS`: how long a key is remembered.
    ttl: Duration,
    /// How long a running claim holds its key: the longest a request may run.
    claim_hold: Duration,
}

/// A claim that keeps losing races (each attempt found the row changed) gives up with a 409.
const CLAIM_ATTEMPTS: usize = 3;

impl IdempotencyKeys {
    pub fn new(db: DatabaseConnection, ttl: Duration, claim_hold: Duration) -> Self {
        Self {
            db,
            ttl,
            claim_hold,
        }
    }

    /// Claims `key` of `user_id` for the request `fingerprint`, or says why not: a replay, 409
    /// `idempotency_key_in_use` while another request holds it, 422 `idempotency_key_reused`
    /// when it was used for another request.
    #[tracing::instrument(skip_all)]
    pub async fn claim(
        &self,
        user_id: i64,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> Result<Claimed, ServiceError> {
        let key_hash = hash_token(key.as_str());
        for _ in 0..CLAIM_ATTEMPTS {
            let at = now();
            let holder = random_hex(16);
            let locked_until =
                at + TimeDelta::from_std(self.claim_hold).map_err(anyhow::Error::from)?;
            let claim = NewClaim {
                fingerprint: fingerprint.as_str(),
                holder: &holder,
                locked_until,
                created_at: at,
                expires_at: expiry(self.ttl)?,
            };
            let run = |row_id| {
                Ok(Claimed::Run(Claim {
                    row_id,
                    holder: holder.clone(),
                }))
            };
            // A new key is the common case: one statement claims it, and only a key already
            // there is read.
            if let Some(row_id) =
                db::idempotency_keys::insert(&self.db, user_id, &key_hash, &claim).await?
            {
                return run(row_id);
            }
            let Some(stored) = db::idempotency_keys::find(&self.db, user_id, &key_hash).await?
            else {
                // Released or pruned meanwhile: try again.
                continue;
            };
            match decide(&stored, fingerprint, at) {
                Decision::Replay(response) => return Ok(Claimed::Replay(response)),
                Decision::Refuse(err) => return Err(err),
                Decision::TakeOver => {
                    if db::idempotency_keys::take_over(&self.db, stored.id, &stored.holder, &claim)
                        .await?
                    {
                        tracing::info!("idempotency key taken over");
                        return run(stored.id);
                    }
                }
            }
        }
        Err(in_use())
    }

    /// Stores `response` as the key's, outside any transaction: for outcomes that wrote nothing
    /// but must be answered the same way again.
    pub async fn complete(
        &self,
        claim: &Claim,
        response: &StoredResponse,
    ) -> Result<(), ServiceError> {
        claim.complete_in(&self.db, response).await
    }

    /// Gives the key back unused: the request may be sent again with it, corrected.
    pub async fn release(&self, claim: Claim) -> Result<(), ServiceError> {
        Ok(db::idempotency_keys::release(&self.db, claim.row_id, &claim.holder).await?)
    }
}

/// Whether the failure `err` of a keyed order is stored (answered again to a repeat) rather
/// than its key released. A refusal that depends on the shop's state at that moment (409
/// `out_of_stock`) is stored, like a created order: the key stands for that attempt. Invalid
/// input, missing rights and failures of ours release it, so that the request can be
/// corrected or retried under the same key.
pub fn is_stored(err: &ServiceError) -> bool {
    matches!(
        err,
        ServiceError::Conflict {
            code: "out_of_stock",
            ..
        }
    )
}

enum Decision {
    Replay(StoredResponse),
    Refuse(ServiceError),
    TakeOver,
}

/// What a request with `fingerprint` does, at `at`, with a key that is already stored.
fn decide(stored: &StoredKey, fingerprint: &Fingerprint, at: DateTime<Utc>) -> Decision {
    let running = stored.response.is_none() && stored.locked_until > at;
    if stored.expires_at <= at {
        // Forgotten, whether the pruner deleted it yet or not; unless its request still runs.
        return if running {
            Decision::Refuse(in_use())
        } else {
            Decision::TakeOver
        };
    }
    if stored.fingerprint != fingerprint.as_str() {
        return Decision::Refuse(ServiceError::IdempotencyKeyReused);
    }
    match &stored.response {
        Some((status, body)) => Decision::Replay(StoredResponse {
            status: *status,
            body: body.clone(),
        }),
        None if running => Decision::Refuse(in_use()),
        None => Decision::TakeOver,
    }
}

fn in_use() -> ServiceError {
    ServiceError::Conflict {
        code: "idempotency_key_in_use",
        message: Message::new("idempotency-key-in-use").with("header", HEADER),
    }
}
