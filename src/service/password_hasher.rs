//! bcrypt, on threads of its own: fewer than the cores, and at a lower priority, so that a flood
//! of logins cannot take the CPU away from ordinary requests.

use std::sync::{Arc, Mutex, mpsc};

use anyhow::Context;
use rustix::{process::setpriority_process, thread::gettid};
use tokio::sync::oneshot;
use tracing::Span;

use super::ServiceError;
use crate::domain::Password;

/// bcrypt's threads run at this nice value: when a login flood and ordinary requests want the
/// same core, the kernel gives most of it to the requests; on an idle core bcrypt runs at full
/// speed all the same.
const BCRYPT_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    /// Work for the bcrypt threads, which leave one core free for requests that do not hash.
    jobs: mpsc::Sender<Job>,
    /// Checked against when the email is unknown, so that the answer takes as long as for a
    /// known email with a wrong password.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub async fn new(cost: u32) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for number in 0..cores.saturating_sub(1).max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("bcrypt-{number}"))
                .spawn(move || {
                    if let Err(err) = setpriority_process(Some(gettid()), BCRYPT_NICENESS) {
                        tracing::warn!(error = %err, "could not lower the bcrypt thread's priority");
                    }
                    // Ends when every `PasswordHasher` clone, and so the sender, is gone.
                    while let Ok(job) = queue
                        .lock()
                        .map_err(drop)
                        .and_then(|queue| queue.recv().map_err(drop))
                    {
                        // A panic fails its own request (its sender is dropped), not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .context("starting a bcrypt thread")?;
        }
        let hasher = Self {
            cost,
            jobs,
            dummy_hash: Arc::from(""),
        };
        let dummy_hash = hasher
            .run(move || bcrypt::hash("comptoir-dummy-password", cost))
            .await
            .map_err(|err| anyhow::anyhow!("hashing the dummy password: {err}"))?;
        Ok(Self {
            dummy_hash: dummy_hash.into(),
            ..hasher
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
        let (done, result) = oneshot::channel();
        let span = Span::current();
        let job: Job = Box::new(move || {
            // A request that gave up while queued (the client left, the timeout struck) costs
            // no hashing.
            if !done.is_closed() {
                let _ = done.send(span.in_scope(work));
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| anyhow::anyhow!("the bcrypt threads are gone"))?;
        let result = result
            .await
            .context("bcrypt panicked")?
            .context("bcrypt failed")?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bcrypt_runs_on_threads_of_its_own_at_a_lower_priority() {
        let hasher = PasswordHasher::new(4).await.unwrap();
        let niceness: Vec<i32> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| {
                let path = task.ok()?.path();
                let name = std::fs::read_to_string(path.join("comm")).ok()?;
                if !name.starts_with("bcrypt-") {
                    return None;
                }
                // After the `)` that ends the thread's name come fields 3, 4, …; nice is 19.
                let stat = std::fs::read_to_string(path.join("stat")).ok()?;
                stat.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(16)?
                    .parse()
                    .ok()
            })
            .collect();
        assert!(!niceness.is_empty(), "no bcrypt thread found");
        assert!(
            niceness.iter().all(|nice| *nice == BCRYPT_NICENESS),
            "{niceness:?}"
        );
        assert!(
            hasher
                .verify("anything", None)
                .await
                .is_ok_and(|matches| !matches)
        );
    }
}
