//! The delivery worker every instance runs: it claims due deliveries from the outbox (see
//! `db::outbox`), posts each to its webhook, signed, and records the attempt. Delivery is at
//! least once: an instance that dies mid-delivery leaves its claim to run out
//! (`WEBHOOK_TIMEOUT_SECS` and a margin), and another instance sends the delivery again;
//! receivers dedupe on the event id.
//!
//! Each delivery is `POST url` with the event as its body and the headers
//! `Comptoir-Event-Id` and `Comptoir-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the webhook's secret>`. A 2xx within the time-out is delivered; anything
//! else (a redirect included: none is followed) is tried again after the next delay of
//! `WEBHOOK_RETRY_SCHEDULE`, then `failed`. Unless `WEBHOOK_ALLOW_PRIVATE=true`, the host's
//! addresses are checked when the connection is made, so that a name that now resolves to a
//! private or loopback address (DNS rebinding) gets nothing.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;
use tokio::sync::Semaphore;

use super::{ServiceError, now, random_hex, to_hex};
use crate::{
    config::WebhookSettings,
    db::{
        self, DatabaseConnection,
        outbox::{Attempt, Claimed},
        storage::Storage,
    },
    domain::webhook::{RetrySchedule, is_public, literal_address},
};

/// How often an idle worker looks for due deliveries.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How many deliveries an instance has in flight at most. Each is its own task, and a free
/// slot is filled at the next look: a slow receiver holds one slot, not the queue.
const IN_FLIGHT: usize = 32;

/// How long a claim outlives its delivery's time-out: the time to record the attempt.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);

pub struct DeliveryWorker {
    db: DatabaseConnection,
    /// SQLite's files, checked before each look at the database, as requests check them: a
    /// worker must not touch files that failed (a truncated `-shm` would crash the process).
    storage: Storage,
    client: reqwest::Client,
    schedule: RetrySchedule,
    timeout: Duration,
    allow_private: bool,
    /// Names this worker's claims.
    holder: String,
}

impl DeliveryWorker {
    pub fn new(
        db: DatabaseConnection,
        storage: Storage,
        settings: &WebhookSettings,
    ) -> anyhow::Result<Self> {
        let mut client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Comptoir-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private {
            client = client.dns_resolver(Arc::new(PublicAddressesOnly));
        }
        Ok(Self {
            db,
            storage,
            client: client.build()?,
            schedule: settings.retry_schedule.clone(),
            timeout: settings.timeout,
            allow_private: settings.allow_private,
            holder: random_hex(16),
        })
    }

    /// Delivers for as long as the runtime runs: waits for a free slot, claims as many due
    /// deliveries as there are free slots, and sends each in a task of its own, which frees its
    /// slot when done. When fewer were due than slots were free, it looks again after
    /// `POLL_INTERVAL`.
    pub fn run(self) {
        let worker = Arc::new(self);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        tokio::spawn(async move {
            loop {
                // Only this loop takes slots: once one is free, the others counted stay free.
                let Ok(first) = slots.clone().acquire_owned().await else {
                    return;
                };
                let free = slots.available_permits() + 1;
                let claimed = match worker.claim(free).await {
                    Ok(claimed) => claimed,
                    Err(err) => {
                        worker.failed(&err);
                        Vec::new()
                    }
                };
                let more_due = claimed.len() == free;
                let mut first = Some(first);
                for delivery in claimed {
                    let slot = match first.take() {
                        Some(slot) => slot,
                        None => match slots.clone().acquire_owned().await {
                            Ok(slot) => slot,
                            Err(_) => return,
                        },
                    };
                    let worker = worker.clone();
                    tokio::spawn(async move {
                        let _slot = slot;
                        if let Err(err) = worker.deliver(delivery).await {
                            worker.failed(&err);
                        }
                    });
                }
                drop(first);
                if !more_due {
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
            }
        });
    }

    /// Logs a failure, and breaks the storage for every user of it when SQLite's files failed.
    fn failed(&self, err: &ServiceError) {
        if let ServiceError::StorageFailed { problem, .. } = err {
            self.storage.trip(problem);
        }
        tracing::warn!(error = %err, "webhook deliveries failed to run");
    }

    /// Claims up to `limit` due deliveries for this worker; none while the storage is broken.
    async fn claim(&self, limit: usize) -> Result<Vec<Claimed>, ServiceError> {
        if self.storage.check().is_err() {
            return Ok(Vec::new());
        }
        let at = now();
        if !db::outbox::any_due(&self.db, at).await? {
            return Ok(Vec::new());
        }
        let until = at + TimeDelta::from_std(self.timeout + CLAIM_MARGIN).unwrap_or_default();
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        Ok(db::outbox::claim(&self.db, &self.holder, at, until, limit).await?)
    }

    async fn deliver(&self, claimed: Claimed) -> Result<(), ServiceError> {
        // The claim runs out and another instance sends it.
        if self.storage.check().is_err() {
            return Ok(());
        }
        let Some((url, secret)) = db::webhooks::target(&self.db, claimed.webhook_id).await? else {
            return Ok(());
        };
        let started = Instant::now();
        let sent = self.send(&url, &secret, &claimed).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let at = now();
        let (status, error) = match sent {
            Ok(status) => (Some(status), None),
            Err(error) => (None, Some(error)),
        };
        let delivered = status.is_some_and(|status| (200..300).contains(&status));
        let attempts = u32::try_from(claimed.attempts + 1).unwrap_or(u32::MAX);
        let next = (!delivered)
            .then(|| self.schedule.after(attempts))
            .flatten();
        let attempt = Attempt {
            status,
            error,
            duration_ms,
            at,
            state: match (delivered, next) {
                (true, _) => "delivered",
                (false, Some(_)) => "pending",
                (false, None) => "failed",
            },
            next_attempt_at: next.map_or(at, |delay| later(at, delay)),
        };
        tracing::info!(
            webhook_id = claimed.webhook_id,
            event_id = %claimed.event_public_id,
            attempt = attempts,
            status = ?attempt.status,
            state = attempt.state,
            "webhook delivery attempted"
        );
        if self.storage.check().is_err() {
            return Ok(());
        }
        db::outbox::finish(&self.db, &claimed, &self.holder, &attempt).await?;
        Ok(())
    }

    /// Posts the event; the status it got, or why there was none.
    async fn send(&self, url: &str, secret: &str, claimed: &Claimed) -> Result<u16, String> {
        let target = url::Url::parse(url).map_err(|err| format!("bad URL: {err}"))?;
        if !self.allow_private
            && let Some(ip) = literal_address(&target)
            && !is_public(ip)
        {
            return Err(format!("{ip} is not a public address"));
        }
        let timestamp = now().timestamp();
        let signature = sign(secret, timestamp, &claimed.payload)
            .map_err(|err| format!("could not sign: {err}"))?;
        let response = self
            .client
            .post(target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Comptoir-Event-Id", &claimed.event_public_id)
            .header(
                "Comptoir-Signature",
                format!("t={timestamp},v1={signature}"),
            )
            .body(claimed.payload.clone())
            .send()
            .await
            .map_err(|err| describe(&err))?;
        Ok(response.status().as_u16())
    }
}

fn later(at: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    at + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX)
}

/// The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`: what `v1=` carries.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> anyhow::Result<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Ok(to_hex(&mac.finalize().into_bytes()))
}

/// An error and its causes, on one line: reqwest's own says only "error sending request".
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "timed out".to_owned()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Resolves a webhook's host and refuses it unless every address is public: checked when the
/// connection is made, so a name cannot pass at creation and point inside later.
struct PublicAddressesOnly;

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if let Some(private) = addresses.iter().find(|address| !is_public(address.ip())) {
                return Err(format!(
                    "{} resolves to {}, which is not a public address",
                    name.as_str(),
                    private.ip()
                )
                .into());
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}
