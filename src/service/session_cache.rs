//! Validated sessions and API tokens, remembered for a few seconds (`SESSION_CACHE_SECS`), so
//! that an authenticated request costs no database round trip.
//!
//! A revoked token must still be refused at once, on every instance. So whatever could change
//! the answer — a logout, a password change or reset, an API token deleted, any change to the
//! user, their deletion — empties the affected entries everywhere, and a lookup that overlapped
//! such a change does not store what it read (each change bumps a generation that `store`
//! checks):
//! - in this process, the service calls [`SessionCache::changed`] after each such commit;
//! - on PostgreSQL, a trigger announces every change to `users` and `sessions`, and every
//!   deleted API token, on the
//!   `comptoir_sessions` channel at commit, and every instance listens there. A notification
//!   alone would race the client's next request to another instance (a test saw it lose), so
//!   the instance that made the change then sends `sync:<nonce>` on the channel and answers
//!   only once every listening connection has replied `ack:<nonce>` from that connection:
//!   notifications arrive in commit order, so by then each instance has dropped its entries.
//!   While an instance's listener is not connected, it caches nothing and answers nothing
//!   from memory. `create-admin` waits for the same confirmations before it exits;
//! - on SQLite, every process that changes a user or a session (servers sharing the file, and
//!   `create-admin`) bumps a counter kept in a file beside the database, `<database>-sessions`.
//!   Every lookup reads it (one `pread`), and a new value empties the cache.
//!
//! The age limit bounds only what nobody announces: a change made with a raw SQL shell on
//! SQLite, or a PostgreSQL listener cut off without its connection failing.
//!
//! Each entry also remembers when its session's use was last recorded, so that a session
//! used without pause writes `last_used_at` once per interval from each instance, and a
//! cached request otherwise costs no write.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::oneshot;

use super::{now, random_hex};
use crate::{
    config::Secret,
    db::{
        DatabaseConnection,
        notify::{self, Counter, Listener},
    },
    domain::{User, ability::Abilities},
};

/// The PostgreSQL channel the `comptoir_notify_session_change` trigger announces user ids on.
const CHANNEL: &str = "comptoir_sessions";

/// How the servers' listening connections show in `pg_stat_activity`, where they are counted.
const LISTENER_NAME: &str = "comptoir session listener";

/// How a command-line tool's listening connection shows there: not counted, since it caches
/// nothing and only listens for the confirmations of its own changes.
const TOOL_LISTENER_NAME: &str = "comptoir tool listener";

/// How long a change waits for the other instances to confirm it, before answering anyway.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(1);

/// Beyond this many live entries new sessions are not cached, which bounds memory.
const CAPACITY: usize = 10_000;

#[derive(Clone)]
pub struct SessionCache {
    /// `None` when the cache is off (`SESSION_CACHE_SECS=0`, or a command-line tool).
    entries: Option<Arc<Entries>>,
    /// SQLite on a file: the change counter shared with every other process on that file.
    counter: Option<Arc<Counter>>,
    /// PostgreSQL, in a server: the other instances, which confirm each change.
    peers: Option<Arc<Peers>>,
}

struct Peers {
    db: DatabaseConnection,
    /// Confirmations still expected, by nonce.
    waiting: Mutex<HashMap<String, Waiting>>,
}

struct Waiting {
    /// The backend PIDs of the listening connections that have not confirmed yet.
    outstanding: HashSet<u32>,
    done: Option<oneshot::Sender<()>>,
}

struct Entries {
    max_age: Duration,
    state: Mutex<State>,
}

struct State {
    sessions: HashMap<String, Entry>,
    /// Bumped by every change, so that a lookup that overlapped one stores nothing.
    generation: u64,
    /// The shared counter's value the entries are known to be consistent with.
    counter_seen: u64,
    /// False while a change could go unseen (PostgreSQL: the listener is not connected).
    trusted: bool,
}

struct Entry {
    grant: Grant,
    stored_at: Instant,
}

/// What a live session or API token grants, as the database said.
#[derive(Debug, Clone)]
pub struct Grant {
    pub user: User,
    /// An API token's abilities; `None` for a session, which may do all its user may.
    pub abilities: Option<Abilities>,
    /// When the session or token ends.
    pub expires_at: DateTime<Utc>,
    /// When its use was last recorded.
    pub last_used_at: DateTime<Utc>,
}

/// What a lookup found.
pub enum Lookup {
    /// What is remembered and, when its last recorded use is older than the interval asked
    /// about, `true` once: the caller records the use (the entry already counts it as done).
    Hit(Grant, bool),
    /// Not cached; the ticket, when there is one, lets `store` keep what the database says.
    Miss(Option<Ticket>),
}

/// The cache's generation before a database read.
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    /// A cache that remembers sessions for `max_age` (nothing when zero) and, on SQLite,
    /// shares changes with the other processes on the database file. On PostgreSQL it trusts
    /// nothing until [`SessionCache::follow_changes`] is listening.
    pub async fn open(db: &DatabaseConnection, max_age: Duration) -> anyhow::Result<Self> {
        let counter = Counter::beside(db, "-sessions").await?.map(Arc::new);
        let trusted = !crate::db::is_postgres(db);
        let entries = (!max_age.is_zero()).then(|| {
            Arc::new(Entries {
                max_age,
                state: Mutex::new(State {
                    sessions: HashMap::new(),
                    generation: 0,
                    counter_seen: counter.as_deref().map_or(Ok(0), Counter::read).unwrap_or(0),
                    trusted,
                }),
            })
        });
        Ok(Self {
            entries,
            counter,
            peers: None,
        })
    }

    /// What is remembered under `key` (a session's `jti`, or an API token's hash), if it is
    /// still good and, when `user_id` is given, is that user's; and whether its use should be
    /// recorded (last recorded `touch_interval` ago or more).
    pub fn lookup(&self, key: &str, user_id: Option<i64>, touch_interval: TimeDelta) -> Lookup {
        let Some(entries) = &self.entries else {
            return Lookup::Miss(None);
        };
        let Some(mut state) = entries.current(self.counter.as_deref()) else {
            metrics::counter!("comptoir_session_cache_misses_total").increment(1);
            return Lookup::Miss(None);
        };
        let generation = state.generation;
        let at = now();
        match state.sessions.get_mut(key) {
            Some(entry)
                if user_id.is_none_or(|id| entry.grant.user.id == id)
                    && entry.stored_at.elapsed() < entries.max_age
                    && at < entry.grant.expires_at =>
            {
                let touch = at - entry.grant.last_used_at >= touch_interval;
                if touch {
                    entry.grant.last_used_at = at;
                }
                metrics::counter!("comptoir_session_cache_hits_total").increment(1);
                Lookup::Hit(entry.grant.clone(), touch)
            }
            _ => {
                metrics::counter!("comptoir_session_cache_misses_total").increment(1);
                Lookup::Miss(Some(Ticket(generation)))
            }
        }
    }

    /// Remembers what the database said under `key`, unless something changed since `ticket`
    /// was taken.
    pub fn store(&self, ticket: Ticket, key: &str, grant: Grant) {
        let Some(entries) = &self.entries else {
            return;
        };
        let Some(mut state) = entries.current(self.counter.as_deref()) else {
            return;
        };
        if state.generation != ticket.0 {
            return;
        }
        if state.sessions.len() >= CAPACITY {
            let max_age = entries.max_age;
            state
                .sessions
                .retain(|_, entry| entry.stored_at.elapsed() < max_age);
            if state.sessions.len() >= CAPACITY {
                return;
            }
        }
        state.sessions.insert(
            key.to_owned(),
            Entry {
                grant,
                stored_at: Instant::now(),
            },
        );
    }

    /// Announces that a user or one of their sessions changed; call it after the commit. On
    /// PostgreSQL it returns once every listening instance has seen the change.
    pub async fn changed(&self, user_id: i64) {
        if let Some(counter) = &self.counter
            && let Err(err) = counter.bump()
        {
            tracing::error!(
                error = %err,
                "could not announce a session change to the other processes on this database"
            );
        }
        if let Some(entries) = &self.entries {
            entries.forget(Some(user_id));
        }
        if let Some(peers) = &self.peers {
            peers.confirm().await;
        }
    }

    /// PostgreSQL, in a server: listens on the channel for as long as the runtime runs,
    /// reconnecting when the connection drops, and answers other instances' `sync` requests.
    /// Only while it listens is anything cached. Every server listens, even with its own
    /// cache off, so that its changes are confirmed by the instances that do cache.
    #[must_use]
    pub fn follow_changes(mut self, db: DatabaseConnection, database_url: Secret<String>) -> Self {
        let peers = Arc::new(Peers {
            db,
            waiting: Mutex::new(HashMap::new()),
        });
        self.peers = Some(peers.clone());
        let entries = self.entries.clone();
        tokio::spawn(async move {
            let mut retry = Duration::from_millis(100);
            let mut reported = false;
            loop {
                match Listener::open(database_url.expose(), LISTENER_NAME, CHANNEL).await {
                    Ok(mut listener) => {
                        if let Some(entries) = &entries {
                            entries.set_trusted(true);
                        }
                        tracing::debug!("session cache: following changes on PostgreSQL");
                        retry = Duration::from_millis(100);
                        reported = false;
                        let cause = peers.follow(&mut listener, entries.as_deref()).await;
                        if let Some(entries) = &entries {
                            entries.set_trusted(false);
                        }
                        tracing::warn!(
                            error = cause,
                            "session cache: stopped following changes; every session is checked \
                             in the database until it is back"
                        );
                    }
                    Err(err) if !reported => {
                        reported = true;
                        tracing::warn!(error = %err, "session cache: cannot listen for changes yet");
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(5));
            }
        });
        self
    }

    /// PostgreSQL, in a command-line tool (`create-admin`): its changes, like a server's, are
    /// confirmed by every listening server before [`SessionCache::changed`] returns, so that
    /// the next request after the tool exits cannot be answered from a stale cache. It listens
    /// for the confirmations from the start, and fails here, before any change, if it cannot.
    pub async fn confirm_changes(
        mut self,
        db: DatabaseConnection,
        database_url: &Secret<String>,
    ) -> anyhow::Result<Self> {
        let mut listener =
            Listener::open(database_url.expose(), TOOL_LISTENER_NAME, CHANNEL).await?;
        let peers = Arc::new(Peers {
            db,
            waiting: Mutex::new(HashMap::new()),
        });
        self.peers = Some(peers.clone());
        tokio::spawn(async move {
            // It also acks the servers' `sync` messages: they do not wait for it, and ignore that.
            let cause = peers.follow(&mut listener, None).await;
            tracing::warn!(
                error = cause,
                "session cache: stopped listening for confirmations"
            );
        });
        Ok(self)
    }
}

impl Peers {
    /// Applies and answers the channel's messages until the connection fails; returns why.
    async fn follow(&self, listener: &mut Listener, entries: Option<&Entries>) -> String {
        loop {
            let message = match listener.next().await {
                Ok(message) => message,
                Err(cause) => return cause,
            };
            let reply = self.receive(&message.payload, message.sender, entries);
            // From the listening connection itself, whose PID the sender knows.
            if let Some(ack) = reply
                && let Err(err) = listener.notify(CHANNEL, &ack).await
            {
                return err.to_string();
            }
        }
    }

    /// Sends `sync:<nonce>` and waits until every listening instance, this one included, has
    /// answered it.
    async fn confirm(&self) {
        let nonce = random_hex(8);
        let (done, confirmed) = oneshot::channel();
        let sent = async {
            let listening = notify::listener_pids(&self.db, LISTENER_NAME).await?;
            if listening.is_empty() {
                // Nobody listens, so nobody caches: nothing to wait for.
                return Ok(false);
            }
            self.lock().insert(
                nonce.clone(),
                Waiting {
                    outstanding: listening,
                    done: Some(done),
                },
            );
            notify::notify(&self.db, CHANNEL, &format!("sync:{nonce}")).await?;
            anyhow::Ok(true)
        };
        let outcome = match sent.await {
            Ok(true) => tokio::time::timeout(CONFIRM_TIMEOUT, confirmed)
                .await
                .map(drop)
                .map_err(|_| "not every instance confirmed in time".to_owned()),
            Ok(false) => Ok(()),
            Err(err) => Err(format!("{err:#}")),
        };
        self.lock().remove(&nonce);
        if let Err(problem) = outcome {
            tracing::warn!(
                problem,
                "session cache: a change may reach other instances late (at most SESSION_CACHE_SECS)"
            );
        }
    }

    /// Handles one message of the channel (they come in commit order); returns the
    /// confirmation to send, if it asks for one.
    fn receive(&self, payload: &str, sender: u32, entries: Option<&Entries>) -> Option<String> {
        if let Some(nonce) = payload.strip_prefix("sync:") {
            // Everything announced before this request has been applied.
            return Some(format!("ack:{nonce}"));
        }
        if let Some(nonce) = payload.strip_prefix("ack:") {
            let mut waiting = self.lock();
            if let Some(wait) = waiting.get_mut(nonce) {
                wait.outstanding.remove(&sender);
                if wait.outstanding.is_empty()
                    && let Some(done) = wait.done.take()
                {
                    let _ = done.send(());
                }
            }
        } else if let Some(entries) = entries {
            // A user id, from the trigger; anything else empties the cache, to be safe.
            entries.forget(payload.parse().ok());
        }
        None
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Entries {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, brought up to date with the shared counter; `None` when it cannot be trusted.
    fn current(&self, counter: Option<&Counter>) -> Option<MutexGuard<'_, State>> {
        let shared = counter.map(Counter::read);
        let mut state = self.lock();
        match shared {
            None => {}
            // The counter only grows; a smaller value was read before a newer one was seen.
            Some(Ok(value)) if value <= state.counter_seen => {}
            Some(Ok(value)) => {
                state.counter_seen = value;
                state.sessions.clear();
                state.generation += 1;
            }
            Some(Err(_)) => return None,
        }
        state.trusted.then_some(state)
    }

    /// Drops the entries of one user, or all of them.
    fn forget(&self, user_id: Option<i64>) {
        let mut state = self.lock();
        match user_id {
            Some(id) => state.sessions.retain(|_, entry| entry.grant.user.id != id),
            None => state.sessions.clear(),
        }
        state.generation += 1;
    }

    /// Anything announced while not listening was missed: start again from nothing.
    fn set_trusted(&self, trusted: bool) {
        let mut state = self.lock();
        state.trusted = trusted;
        state.sessions.clear();
        state.generation += 1;
    }
}
