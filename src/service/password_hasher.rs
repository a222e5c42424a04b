//! bcrypt, kept off the async workers and rationed so that a flood of logins cannot take every
//! core away from ordinary requests.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Semaphore;
use tracing::Span;

use super::ServiceError;
use crate::domain::Password;

#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// Checked against when the email is unknown, so that the answer takes as long as for a
    /// known email with a wrong password.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub async fn new(cost: u32) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let dummy_hash =
            tokio::task::spawn_blocking(move || bcrypt::hash("comptoir-dummy-password", cost))
                .await
                .context("hashing the dummy password panicked")?
                .context("hashing the dummy password")?;
        Ok(Self {
            cost,
            // One core always stays free for requests that do not hash.
            permits: Arc::new(Semaphore::new(cores.saturating_sub(1).max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: &Password) -> Result<String, ServiceError> {
        let password = password.expose().to_owned();
        let cost = self.cost;
        self.run(move || bcrypt::hash(password, cost)).await
    }

    /// Whether `password` matches `hash`; with no hash, checks a dummy one and says no.
    /// bcrypt reads only 72 bytes, so a longer password never matches (it could otherwise
    /// share a stored password's first 72 bytes), though it costs the same work.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, ServiceError> {
        let known = hash.is_some() && password.len() <= 72;
        let hash = hash.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let password = password.to_owned();
        let matches = self.run(move || bcrypt::verify(password, &hash)).await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("the bcrypt permits were closed")?;
        let span = Span::current();
        let result = tokio::task::spawn_blocking(move || span.in_scope(work))
            .await
            .context("bcrypt panicked")?
            .context("bcrypt failed")?;
        Ok(result)
    }
}
