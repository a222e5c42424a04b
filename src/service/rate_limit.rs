//! Rate limits in fixed windows. The counters live in Redis when `REDIS_URL` is set, so that
//! every instance enforces one limit; otherwise, and while Redis is unreachable, in this
//! process's memory: the service keeps answering rather than failing every request.
//!
//! Limits slow guessing down without locking anyone out: nothing here ever refuses a correct
//! password once the window has passed.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use redis::{
    Client, RedisResult, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use crate::{
    config::{Limit, RateLimitSettings},
    domain::Email,
};

/// Counts a hit and, on its first, starts the window; answers the count and the time left.
const HIT: &str = "local count = redis.call('INCR', KEYS[1]) \
    if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
    return {count, redis.call('PTTL', KEYS[1])}";

/// The most one Redis call may take, opening the connection included: a request waits no
/// longer than this for its counter, whatever Redis does.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// How long to keep to local counters after Redis failed, before trying it again.
const REDIS_PAUSE: Duration = Duration::from_secs(5);

/// The outcome of one hit, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Until the window ends.
    pub reset: Duration,
}

impl Decision {
    fn new(count: u64, limit: Limit, reset: Duration) -> Self {
        Self {
            allowed: count <= u64::from(limit.count),
            limit: limit.count,
            remaining: u32::try_from(u64::from(limit.count).saturating_sub(count)).unwrap_or(0),
            reset,
        }
    }

    /// Whole seconds until the window ends, at least 1: what `Retry-After` says.
    pub fn reset_secs(&self) -> u64 {
        self.reset.as_secs() + u64::from(self.reset.subsec_nanos() > 0)
    }
}

struct Window {
    count: u64,
    ends: Instant,
}

struct Counters {
    local: Mutex<HashMap<String, Window>>,
    redis: Option<SharedCounters>,
    prefix: String,
    redis_paused_until: Mutex<Option<Instant>>,
}

/// Counts hits per key.
#[derive(Clone)]
pub struct RateLimiter(Arc<Counters>);

impl RateLimiter {
    pub fn new(settings: &RateLimitSettings) -> anyhow::Result<Self> {
        let redis = match &settings.redis_url {
            Some(url) => Some(SharedCounters {
                client: Client::open(url.expose().as_str())
                    .map_err(|err| anyhow::anyhow!("REDIS_URL: {err}"))?,
                connection: Mutex::default(),
                hit: Script::new(HIT),
            }),
            None => None,
        };
        Ok(Self(Arc::new(Counters {
            local: Mutex::default(),
            redis,
            prefix: settings.redis_prefix.clone(),
            redis_paused_until: Mutex::default(),
        })))
    }

    pub async fn hit(&self, key: &str, limit: Limit) -> Decision {
        if let Some(redis) = self.redis() {
            let key = format!("{}:{key}", self.0.prefix);
            let window_ms = u64::try_from(limit.window.as_millis()).unwrap_or(u64::MAX);
            match redis.hit(&key, window_ms).await {
                Ok((count, ttl_ms)) => {
                    let reset = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
                    return Decision::new(u64::try_from(count).unwrap_or(0), limit, reset);
                }
                Err(problem) => self.pause_redis(&problem),
            }
        }
        self.hit_locally(key, limit)
    }

    /// Forgets a key's hits (a successful login clears its failed attempts).
    pub async fn clear(&self, key: &str) {
        if let Some(redis) = self.redis() {
            let key = format!("{}:{key}", self.0.prefix);
            if let Err(problem) = redis.delete(&key).await {
                self.pause_redis(&problem);
            }
        }
        self.0
            .local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    fn hit_locally(&self, key: &str, limit: Limit) -> Decision {
        let now = Instant::now();
        let mut windows = self.0.local.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() > 100_000 {
            windows.retain(|_, window| window.ends > now);
        }
        let window = windows.entry(key.to_owned()).or_insert(Window {
            count: 0,
            ends: now + limit.window,
        });
        if window.ends <= now {
            *window = Window {
                count: 0,
                ends: now + limit.window,
            };
        }
        window.count += 1;
        Decision::new(window.count, limit, window.ends - now)
    }

    /// Redis, unless it failed a moment ago.
    fn redis(&self) -> Option<&SharedCounters> {
        let redis = self.0.redis.as_ref()?;
        let mut paused = self
            .0
            .redis_paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *paused {
            Some(until) if Instant::now() < until => None,
            Some(_) => {
                *paused = None;
                tracing::info!("trying Redis again for the rate-limit counters");
                Some(redis)
            }
            None => Some(redis),
        }
    }

    fn pause_redis(&self, problem: &str) {
        if let Some(redis) = &self.0.redis {
            redis.drop_connection();
        }
        let mut paused = self
            .0
            .redis_paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if paused.is_none() {
            tracing::warn!(
                problem,
                "Redis is unreachable: rate limits fall back to this instance's own counters"
            );
        }
        *paused = Some(Instant::now() + REDIS_PAUSE);
    }
}

/// The counters in Redis, over one multiplexed connection that the manager opens on first use
/// (so that start-up never waits for Redis) and opens again when it drops.
struct SharedCounters {
    client: Client,
    /// `None` until the first call, and again after a failure.
    connection: Mutex<Option<ConnectionManager>>,
    hit: Script,
}

impl SharedCounters {
    /// Runs [`HIT`]: the count and the milliseconds left in the window.
    async fn hit(&self, key: &str, window_ms: u64) -> Result<(i64, i64), String> {
        let mut connection = self.connection()?;
        bounded(
            self.hit
                .key(key)
                .arg(window_ms)
                .invoke_async(&mut connection),
        )
        .await
    }

    async fn ping(&self) -> Result<(), String> {
        let mut connection = self.connection()?;
        bounded(redis::cmd("PING").exec_async(&mut connection)).await
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        let mut connection = self.connection()?;
        bounded(redis::cmd("DEL").arg(key).exec_async(&mut connection)).await
    }

    /// The manager, made (without connecting) if there is none.
    fn connection(&self) -> Result<ConnectionManager, String> {
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(manager) = slot.as_ref() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|err| err.to_string())?;
        Ok(slot.insert(manager).clone())
    }

    /// After a failure, the next try starts on a new connection, as the manager would not
    /// replace one that merely stopped answering (half-open) or whose login was refused.
    fn drop_connection(&self) {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Bounds a Redis call, waiting for its connection included, by [`REDIS_TIMEOUT`].
async fn bounded<T>(call: impl Future<Output = RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(REDIS_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("Redis did not answer in time".to_owned()),
    }
}

/// Which limit applies to what, and under which key.
#[derive(Clone)]
pub struct RateLimits {
    limiter: RateLimiter,
    settings: RateLimitSettings,
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> anyhow::Result<Self> {
        Ok(Self {
            limiter: RateLimiter::new(settings)?,
            settings: settings.clone(),
        })
    }

    /// Whether Redis answers a PING now (the pause after a failure does not apply); `None`
    /// when no `REDIS_URL` is set.
    pub async fn redis_answers(&self) -> Option<bool> {
        let redis = self.limiter.0.redis.as_ref()?;
        Some(match redis.ping().await {
            Ok(()) => true,
            Err(problem) => {
                redis.drop_connection();
                tracing::debug!(problem, "readiness: Redis does not answer");
                false
            }
        })
    }

    /// Every `/api` request, per client address; `None` when this limit is off.
    pub async fn api(&self, client: IpAddr) -> Option<Decision> {
        let limit = self.settings.api?;
        let decision = self.limiter.hit(&format!("api:{client}"), limit).await;
        if !decision.allowed {
            count_refusal("api");
        }
        Some(decision)
    }

    /// A login attempt: per client address, and per normalised email and address.
    pub async fn login(&self, email: &str, client: IpAddr) -> Result<(), Decision> {
        self.check(
            "login_per_address",
            &format!("login-address:{client}"),
            self.settings.login_per_address,
        )
        .await?;
        self.check("login", &login_key(email, client), self.settings.login)
            .await
    }

    /// The right password: its email's failed attempts from this address are forgotten.
    pub async fn login_succeeded(&self, email: &str, client: IpAddr) {
        self.limiter.clear(&login_key(email, client)).await;
    }

    pub async fn register(&self, client: IpAddr) -> Result<(), Decision> {
        self.check(
            "register",
            &format!("register:{client}"),
            self.settings.register,
        )
        .await
    }

    pub async fn forgot_password(&self, client: IpAddr) -> Result<(), Decision> {
        self.check(
            "forgot_password",
            &format!("forgot-password:{client}"),
            self.settings.forgot_password,
        )
        .await
    }

    /// A refresh, per client address: checked before anything is looked up.
    pub async fn refresh_from(&self, client: IpAddr) -> Result<(), Decision> {
        self.check(
            "refresh_per_address",
            &format!("refresh-address:{client}"),
            self.settings.refresh_per_address,
        )
        .await
    }

    /// A refresh of a known session, whichever of its refresh tokens was presented.
    pub async fn refresh_of(&self, session_public_id: &str) -> Result<(), Decision> {
        self.check(
            "refresh",
            &format!("refresh:{session_public_id}"),
            self.settings.refresh,
        )
        .await
    }

    /// A check of `current_password` before one's own email or password changes: guessed like
    /// a login, so limited like one, per account whatever the address.
    pub async fn current_password(&self, user_id: i64) -> Result<(), Decision> {
        self.check(
            "current_password",
            &format!("current-password:{user_id}"),
            self.settings.current_password,
        )
        .await
    }

    /// The right current password: the account's failed checks are forgotten.
    pub async fn current_password_succeeded(&self, user_id: i64) {
        self.limiter
            .clear(&format!("current-password:{user_id}"))
            .await;
    }

    /// Counts a hit of `limit` (its name in the metrics) under `key`.
    async fn check(
        &self,
        name: &'static str,
        key: &str,
        limit: Option<Limit>,
    ) -> Result<(), Decision> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let decision = self.limiter.hit(key, limit).await;
        if decision.allowed {
            Ok(())
        } else {
            count_refusal(name);
            Err(decision)
        }
    }
}

/// A request refused by `limit`, for the metrics.
fn count_refusal(limit: &'static str) {
    metrics::counter!("comptoir_rate_limited_total", "limit" => limit).increment(1);
}

/// Keyed by the address in its normal form, so that spelling it another way (`ａｄａ@…`)
/// does not buy more guesses.
fn login_key(email: &str, client: IpAddr) -> String {
    let email = Email::parse(email).map_or_else(|_| email.trim().to_lowercase(), String::from);
    format!("login:{email}|{client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        RateLimiter::new(&RateLimitSettings {
            login: None,
            login_per_address: None,
            register: None,
            forgot_password: None,
            current_password: None,
            api: None,
            refresh: None,
            refresh_per_address: None,
            redis_url: None,
            redis_prefix: "test".into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_window_allows_its_count_then_refuses_until_it_ends() {
        let limiter = limiter();
        let limit = Limit {
            count: 2,
            window: Duration::from_millis(200),
        };
        assert_eq!(limiter.hit("k", limit).await.remaining, 1);
        assert!(limiter.hit("k", limit).await.allowed);
        let refused = limiter.hit("k", limit).await;
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(refused.reset <= Duration::from_millis(200));
        assert!(limiter.hit("other", limit).await.allowed);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(limiter.hit("k", limit).await.allowed);
    }

    #[test]
    fn every_spelling_of_an_address_counts_as_one_for_logins() {
        let client = IpAddr::from([192, 0, 2, 1]);
        assert_eq!(
            login_key("ＡＤＡ@bücher.example", client),
            login_key("ada@xn--bcher-kva.example", client)
        );
    }

    #[tokio::test]
    async fn clearing_a_key_starts_it_afresh() {
        let limiter = limiter();
        let limit = Limit {
            count: 1,
            window: Duration::from_mins(1),
        };
        limiter.hit("k", limit).await;
        assert!(!limiter.hit("k", limit).await.allowed);
        limiter.clear("k").await;
        assert!(limiter.hit("k", limit).await.allowed);
    }
}
