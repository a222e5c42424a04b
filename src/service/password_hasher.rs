//! bcrypt, on threads of its own: fewer than the cores, at a lower priority, and shared fairly
//! between the accounts and addresses that ask for it.
//!
//! The queue is our own because no crate offers what it must do: each job names whom it works
//! for (an account, a client address); an account or an address may hold only a few jobs, the
//! threads serve the waiting addresses in turn, and the queue is bounded by the wait it implies.
//! So one account or address keeping a hundred password checks in flight delays someone else's
//! login by a job or two, and a flood from many addresses is turned away at once
//! (`ServiceError::Busy`) instead of making every login wait for many seconds.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::{
        Arc, Condvar, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use rustix::{process::setpriority_process, thread::gettid};
use tokio::sync::oneshot;
use tracing::Span;

use super::ServiceError;
use crate::{config::BcryptSettings, domain::Password};

/// bcrypt's threads run at this nice value: when a login flood and ordinary requests want the
/// same core, the kernel gives most of it to the requests; on an idle core bcrypt runs at full
/// speed all the same.
const BCRYPT_NICENESS: i32 = 10;

/// Whom a bcrypt job works for: the address that asked and the account it concerns. The
/// server's own work (start-up, the command line) is nobody's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimant {
    address: Option<IpAddr>,
    account: Option<String>,
}

impl Claimant {
    /// A request from `address`, not yet about any account.
    pub fn address(address: IpAddr) -> Self {
        Self {
            address: Some(address),
            account: None,
        }
    }

    /// The same request, also charged to an account (its normalised email).
    #[must_use]
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// The keys the caps count, each with the cap that applies to it.
    fn caps(&self, settings: &BcryptSettings) -> Vec<(String, usize)> {
        let mut caps = Vec::with_capacity(2);
        if let Some(address) = self.address {
            caps.push((format!("address:{address}"), settings.jobs_per_address));
        }
        if let Some(account) = &self.account {
            caps.push((format!("account:{account}"), settings.jobs_per_account));
        }
        caps
    }

    /// The threads take turns between addresses, so that no address waits behind another's
    /// whole backlog.
    fn turn(&self) -> String {
        self.address
            .map(|address| address.to_string())
            .unwrap_or_default()
    }
}

struct Job {
    keys: Vec<String>,
    work: Box<dyn FnOnce() + Send>,
}

/// The waiting jobs, by turn, and what each key holds.
#[derive(Default)]
struct Queue {
    /// Turns with waiting jobs, in the order they will be served.
    turns: VecDeque<String>,
    waiting: HashMap<String, VecDeque<Job>>,
    /// Jobs waiting or running, per key.
    held: HashMap<String, usize>,
    queued: usize,
    closed: bool,
}

impl Queue {
    fn push(&mut self, turn: &str, job: Job) {
        for key in &job.keys {
            *self.held.entry(key.clone()).or_default() += 1;
        }
        if let Some(jobs) = self.waiting.get_mut(turn) {
            jobs.push_back(job);
        } else {
            self.waiting.insert(turn.to_owned(), VecDeque::from([job]));
            self.turns.push_back(turn.to_owned());
        }
        self.queued += 1;
    }

    /// The next job, taking turns.
    fn next(&mut self) -> Option<Job> {
        let turn = self.turns.pop_front()?;
        let jobs = self.waiting.get_mut(&turn)?;
        let job = jobs.pop_front();
        if jobs.is_empty() {
            self.waiting.remove(&turn);
        } else {
            self.turns.push_back(turn);
        }
        self.queued -= usize::from(job.is_some());
        job
    }

    fn release(&mut self, keys: &[String]) {
        for key in keys {
            if let Some(count) = self.held.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    self.held.remove(key);
                }
            }
        }
    }
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    settings: BcryptSettings,
    threads: usize,
    /// A moving average of one job's duration, in microseconds, to judge waits.
    job_micros: AtomicU64,
}

/// Closes the queue when the last `PasswordHasher` goes, so that the threads end.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.0.ready.notify_all();
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    owner: Arc<Owner>,
    /// Checked against when the email is unknown, so that the answer takes as long as for a
    /// known email with a wrong password.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub async fn new(settings: BcryptSettings) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = cores.saturating_sub(1).max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            ready: Condvar::new(),
            settings,
            threads,
            job_micros: AtomicU64::new(0),
        });
        for number in 0..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("bcrypt-{number}"))
                .spawn(move || work(&shared))
                .context("starting a bcrypt thread")?;
        }
        let hasher = Self {
            owner: Arc::new(Owner(shared)),
            dummy_hash: Arc::from(""),
        };
        // Also the first measure of how long one job takes.
        let cost = settings.cost;
        let dummy_hash = hasher
            .run(&Claimant::default(), move || {
                bcrypt::hash("comptoir-dummy-password", cost)
            })
            .await
            .map_err(|err| anyhow::anyhow!("hashing the dummy password: {err}"))?;
        Ok(Self {
            dummy_hash: dummy_hash.into(),
            ..hasher
        })
    }

    pub async fn hash(
        &self,
        claimant: &Claimant,
        password: &Password,
    ) -> Result<String, ServiceError> {
        let password = password.expose().to_owned();
        let cost = self.owner.0.settings.cost;
        self.run(claimant, move || bcrypt::hash(password, cost))
            .await
    }

    /// Whether `password` matches `hash`; with no hash, checks a dummy one and says no.
    /// bcrypt reads only 72 bytes, so a longer password never matches (it could otherwise
    /// share a stored password's first 72 bytes), though it costs the same work.
    pub async fn verify(
        &self,
        claimant: &Claimant,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, ServiceError> {
        let known = hash.is_some() && password.len() <= 72;
        let hash = hash.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let password = password.to_owned();
        let matches = self
            .run(claimant, move || bcrypt::verify(password, &hash))
            .await?;
        Ok(known && matches)
    }

    /// Jobs waiting for a thread right now.
    pub fn queue_depth(&self) -> usize {
        self.owner
            .0
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queued
    }

    async fn run<T: Send + 'static>(
        &self,
        claimant: &Claimant,
        work: impl FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let (done, result) = oneshot::channel();
        let span = Span::current();
        let caps = claimant.caps(&self.owner.0.settings);
        let job = Job {
            keys: caps.iter().map(|(key, _)| key.clone()).collect(),
            work: Box::new(move || {
                // A request that gave up while queued (the client left, the timeout struck)
                // costs no hashing.
                if !done.is_closed() {
                    let _ = done.send(span.in_scope(work));
                }
            }),
        };
        self.enqueue(&claimant.turn(), &caps, job)?;
        let result = result
            .await
            .context("bcrypt panicked")?
            .context("bcrypt failed")?;
        Ok(result)
    }

    /// Queues `job`, or refuses it at once when one of its keys holds its cap already or the
    /// queue is longer than the longest wait allowed.
    fn enqueue(&self, turn: &str, caps: &[(String, usize)], job: Job) -> Result<(), ServiceError> {
        let shared = &self.owner.0;
        let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let over_share = caps
            .iter()
            .any(|(key, cap)| queue.held.get(key).copied().unwrap_or(0) >= *cap);
        // The wait before this job starts: an empty queue always takes a job, however slow.
        let wait = shared.expected_wait(queue.queued);
        if over_share || wait > shared.settings.max_queue_wait {
            drop(queue);
            tracing::warn!(
                over_share,
                "too much password work queued for this request: answering busy at once"
            );
            return Err(ServiceError::Busy {
                retry_after: wait.max(Duration::from_secs(1)),
            });
        }
        queue.push(turn, job);
        drop(queue);
        shared.ready.notify_one();
        Ok(())
    }
}

impl Shared {
    /// How long the threads would take to get through `jobs` jobs, judging by the last ones.
    fn expected_wait(&self, jobs: usize) -> Duration {
        let micros = self.job_micros.load(Ordering::Relaxed);
        let jobs = u64::try_from(jobs).unwrap_or(u64::MAX);
        let threads = u64::try_from(self.threads).unwrap_or(1).max(1);
        Duration::from_micros(micros.saturating_mul(jobs) / threads)
    }

    fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let before = self.job_micros.load(Ordering::Relaxed);
        let average = if before == 0 {
            took
        } else {
            (before * 7 + took) / 8
        };
        self.job_micros.store(average, Ordering::Relaxed);
    }
}

/// One bcrypt thread: takes jobs in turn until the queue closes.
fn work(shared: &Shared) {
    if let Err(err) = setpriority_process(Some(gettid()), BCRYPT_NICENESS) {
        tracing::warn!(error = %err, "could not lower the bcrypt thread's priority");
    }
    loop {
        let job = {
            let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(job) = queue.next() {
                    break job;
                }
                if queue.closed {
                    return;
                }
                queue = shared
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let started = Instant::now();
        // A panic fails its own request (its sender is dropped), not the thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job.work));
        shared.record(started.elapsed());
        shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .release(&job.keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_queue_wait: Duration, jobs_per_account: usize) -> BcryptSettings {
        BcryptSettings {
            cost: 4,
            max_queue_wait,
            jobs_per_account,
            jobs_per_address: 8,
        }
    }

    #[tokio::test]
    async fn bcrypt_runs_on_threads_of_its_own_at_a_lower_priority() {
        let hasher = PasswordHasher::new(settings(Duration::from_secs(2), 2))
            .await
            .unwrap();
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
                .verify(&Claimant::default(), "anything", None)
                .await
                .is_ok_and(|matches| !matches)
        );
    }

    fn job(key: &str) -> Job {
        Job {
            keys: vec![key.to_owned()],
            work: Box::new(|| {}),
        }
    }

    #[test]
    fn addresses_are_served_in_turn() {
        let mut queue = Queue::default();
        for turn in ["a", "a", "a", "b"] {
            queue.push(turn, job(turn));
        }
        let order: Vec<String> = std::iter::from_fn(|| queue.next())
            .map(|job| job.keys[0].clone())
            .collect();
        assert_eq!(order, ["a", "b", "a", "a"]);
        assert_eq!(queue.queued, 0);
        assert_eq!(queue.held.get("a"), Some(&3), "held until released");
    }

    #[tokio::test]
    async fn one_account_cannot_hold_more_than_its_share() {
        let hasher = PasswordHasher::new(settings(Duration::from_mins(1), 2))
            .await
            .unwrap();
        // Slow enough (cost 10) that no job ends while the others are being queued.
        let stored = bcrypt::hash("the password", 10).unwrap();
        let flood = Claimant::address([192, 0, 2, 1].into()).account("ada@example.com");
        let attempts = (0..10).map(|_| hasher.verify(&flood, "guess", Some(&stored)));
        let outcomes = futures_util::future::join_all(attempts).await;
        let busy = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, Err(ServiceError::Busy { .. })))
            .count();
        assert_eq!(
            busy, 8,
            "two jobs for the account, the rest refused at once"
        );
        // Someone else is not affected.
        let other = Claimant::address([192, 0, 2, 2].into()).account("bob@example.com");
        assert!(hasher.verify(&other, "x", None).await.is_ok());
    }

    #[tokio::test]
    async fn a_queue_longer_than_the_longest_wait_refuses_at_once() {
        let hasher = PasswordHasher::new(settings(Duration::from_millis(50), 100))
            .await
            .unwrap();
        let stored = bcrypt::hash("the password", 10).unwrap();
        // Let the hasher learn how long a cost-10 job takes.
        for _ in 0..3 {
            hasher
                .verify(&Claimant::default(), "x", Some(&stored))
                .await
                .unwrap();
        }
        let claimants: Vec<Claimant> = (0..20_u8)
            .map(|n| Claimant::address([192, 0, 2, n].into()))
            .collect();
        let outcomes = futures_util::future::join_all(
            claimants
                .iter()
                .map(|claimant| hasher.verify(claimant, "x", Some(&stored))),
        )
        .await;
        let waits: Vec<Duration> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Err(ServiceError::Busy { retry_after }) => Some(*retry_after),
                _ => None,
            })
            .collect();
        assert!(
            waits.len() >= 10,
            "twenty cost-10 jobs cannot all wait under 50 ms: {} refused",
            waits.len()
        );
        assert!(waits.iter().all(|wait| *wait >= Duration::from_secs(1)));
    }
}
