//! Settings, read once from the environment and validated before anything starts.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use lettre::message::Mailbox;

use crate::{domain::webhook::RetrySchedule, i18n::Locale};

/// A value that must never reach a log line: `Debug` prints a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// The database connection and its pool.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: Secret<String>,
    pub kind: DatabaseKind,
    pub max_connections: u32,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
}

/// How access tokens are signed and how long they live.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub secret: Secret<Vec<u8>>,
    /// Still accepted for verification while tokens signed with it live (key rotation).
    pub previous_secret: Option<Secret<Vec<u8>>>,
    /// True when no `JWT_SECRET` was given and a random one was made for this process.
    pub secret_is_random: bool,
    pub ttl: Duration,
    /// How long a validated session may be answered from memory; zero turns the cache off.
    pub session_cache_ttl: Duration,
    /// How long a refresh token works from its issue; a session lives as long as its newest.
    pub refresh_ttl: Duration,
    /// How long after its rotation a spent refresh token still gets the pair that replaced it.
    pub refresh_reuse_grace: Duration,
    /// How often a server deletes expired sessions and tokens; `None`: never (`comptoir prune`).
    pub prune_interval: Option<Duration>,
}

/// Outgoing mail. Without an SMTP URL, mails are written to the log.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: Option<Secret<String>>,
    pub from: Mailbox,
    /// Base of every link put in a mail, without a trailing slash.
    pub public_url: String,
    pub reset_token_ttl: Duration,
    /// How long an email confirmation link works.
    pub email_verification_ttl: Duration,
}

/// At most `count` requests per `window`; `None` where a limit is switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window: Duration,
}

/// Rate limits, and where their counters live.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// Login attempts per normalised email and client address.
    pub login: Option<Limit>,
    /// Login attempts per client address, whatever the email.
    pub login_per_address: Option<Limit>,
    pub register: Option<Limit>,
    pub forgot_password: Option<Limit>,
    /// Checks of `current_password` (changing one's own email or password), per account.
    pub current_password: Option<Limit>,
    /// Every `/api` request, per client address.
    pub api: Option<Limit>,
    /// Refreshes per session: its refresh token and those it replaced count as one.
    pub refresh: Option<Limit>,
    /// Refreshes per client address, whatever the token.
    pub refresh_per_address: Option<Limit>,
    /// Counters in Redis, shared by every instance; in this process's memory without it.
    pub redis_url: Option<Secret<String>>,
    /// Prefix of the Redis keys, so that several deployments can share one Redis.
    pub redis_prefix: String,
}

/// A proxy whose `X-Forwarded-For` is believed: one address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    pub network: IpAddr,
    pub prefix_len: u8,
}

impl TrustedProxy {
    pub fn parse(raw: &str) -> Option<Self> {
        let (address, prefix) = raw
            .split_once('/')
            .map_or((raw, None), |(a, p)| (a, Some(p)));
        let network: IpAddr = address.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            Some(prefix) => prefix.trim().parse().ok().filter(|len| *len <= max)?,
            None => max,
        };
        Some(Self {
            network,
            prefix_len,
        })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let mask = |bits: u32, len: u8| -> u128 {
            if len == 0 {
                0
            } else {
                u128::MAX << (bits - u32::from(len))
            }
        };
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = mask(32, self.prefix_len);
                u128::from(u32::from(network)) & mask == u128::from(u32::from(address)) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = mask(128, self.prefix_len);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// How the HTTP layer protects itself.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Origins allowed to call the API from a browser; empty: CORS is off.
    pub cors_origins: Vec<String>,
    pub request_timeout: Duration,
    /// From a connection's start, or a request's first byte, until its headers are complete.
    pub header_read_timeout: Duration,
    /// From the end of a response until the first byte of the next request.
    pub keep_alive_timeout: Duration,
    /// Open connections at most; lowered at start to fit the open-file limit.
    pub max_connections: u32,
    /// After SIGTERM, how long to keep serving, readiness already 503, so that a load balancer
    /// stops sending requests here before the listener closes.
    pub shutdown_drain: Duration,
}

/// How much bcrypt work may wait, and how much of it one claimant may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BcryptSettings {
    pub cost: u32,
    /// Work that would wait longer than this for a thread is refused at once.
    pub max_queue_wait: Duration,
    /// Jobs one account may have waiting or running at a time.
    pub jobs_per_account: usize,
    /// Jobs one client address may have waiting or running at a time.
    pub jobs_per_address: usize,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    /// `METRICS_BIND_ADDR`: where Prometheus scrapes `/metrics`; `None` records nothing.
    pub metrics_bind_addr: Option<SocketAddr>,
    pub rate_limits: RateLimitSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub tokens: TokenSettings,
    pub bcrypt: BcryptSettings,
    pub mail: MailSettings,
    /// The language of a response whose request names none of ours, and of new accounts made
    /// without a request (`create-admin`).
    pub default_locale: Locale,
    /// Whether creating or changing an order takes a verified address (admins excepted).
    pub require_verified_email: bool,
    /// `ORDER_FREE_LINES=anyone`: order lines with a name and price of the client's own are
    /// taken from anyone, not only from admins.
    pub free_lines_for_anyone: bool,
    /// How long an `Idempotency-Key` of `POST /api/orders` is remembered.
    pub idempotency_key_ttl: Duration,
    pub webhooks: WebhookSettings,
    pub log_format: LogFormat,
}

/// How events reach the webhooks.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `WEBHOOK_RETRY_SCHEDULE`: the delays between a failed attempt and the next.
    pub retry_schedule: RetrySchedule,
    /// `WEBHOOK_ALLOW_PRIVATE`: `http://` and private or loopback addresses allowed (tests,
    /// private networks).
    pub allow_private: bool,
    /// `WEBHOOK_TIMEOUT_SECS`: how long a delivery waits for its answer.
    pub timeout: Duration,
}

/// A setting that could not be used; its `Display` is the one line printed before exiting.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// An address to listen on, like `127.0.0.1:8080`, if `variable` is set.
fn socket_address(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<SocketAddr>, ConfigError> {
    get(variable)
        .map(|value| {
            value.trim().parse().map_err(|_| {
                invalid(
                    variable,
                    format!("`{value}` is not an address like 127.0.0.1:8080"),
                )
            })
        })
        .transpose()
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

impl Config {
    /// Reads the process environment (after `.env`, which `main` loads).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the settings from any source of variables; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let bind_addr =
            socket_address(&get, "BIND_ADDR")?.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
        let metrics_bind_addr = socket_address(&get, "METRICS_BIND_ADDR")?;

        let url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://comptoir.db?mode=rwc".to_owned());
        let kind = database_kind(&url)?;
        let default_connections = match kind {
            // SQLite runs each connection's queries on a thread of its own: a few are faster
            // than many (one writer at a time in any case).
            DatabaseKind::Sqlite => 4,
            DatabaseKind::Postgres => 10,
        };
        let database = DatabaseSettings {
            url: Secret::new(url),
            kind,
            max_connections: number(&get, "DB_MAX_CONNECTIONS", default_connections, 1, 1_000)?,
            connect_timeout: seconds(&get, "DB_CONNECT_TIMEOUT_SECS", 5, 1, 300)?,
            acquire_timeout: seconds(&get, "DB_ACQUIRE_TIMEOUT_SECS", 5, 1, 300)?,
        };

        let tokens = token_settings(&get)?;

        let rate_limits = rate_limit_settings(&get)?;
        let http = http_settings(&get)?;

        let smtp_url = get("SMTP_URL").map(|url| url.trim().to_owned());
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(invalid("SMTP_URL", "must start with smtp:// or smtps://"));
        }
        let from = get("MAIL_FROM")
            .unwrap_or_else(|| "Comptoir <no-reply@localhost>".to_owned())
            .parse::<Mailbox>()
            .map_err(|err| invalid("MAIL_FROM", format!("is not a mail address: {err}")))?;
        let public_url = match get("PUBLIC_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim().trim_end_matches('/').to_owned()
            }
            Some(_) => return Err(invalid("PUBLIC_URL", "must start with http:// or https://")),
            None => format!("http://{bind_addr}"),
        };
        let mail = MailSettings {
            smtp_url: smtp_url.map(Secret::new),
            from,
            public_url,
            reset_token_ttl: seconds(&get, "RESET_TOKEN_TTL_SECS", 3600, 1, 604_800)?,
            email_verification_ttl: seconds(
                &get,
                "EMAIL_VERIFICATION_TTL_SECS",
                86_400,
                1,
                2_592_000,
            )?,
        };

        let free_lines_for_anyone = match get("ORDER_FREE_LINES").as_deref().map(str::trim) {
            None | Some("admin") => false,
            Some("anyone") => true,
            Some(other) => {
                return Err(invalid(
                    "ORDER_FREE_LINES",
                    format!("`{other}` is neither `admin` nor `anyone`"),
                ));
            }
        };
        let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("`{other}` is neither `pretty` nor `json`"),
                ));
            }
        };

        Ok(Self {
            bind_addr,
            metrics_bind_addr,
            rate_limits,
            http,
            database,
            tokens,
            bcrypt: BcryptSettings {
                cost: number(&get, "BCRYPT_COST", 12, 4, 31)?,
                max_queue_wait: seconds(&get, "BCRYPT_MAX_QUEUE_WAIT_SECS", 2, 1, 60)?,
                jobs_per_account: number(&get, "BCRYPT_JOBS_PER_ACCOUNT", 2, 1, 1_000)? as usize,
                jobs_per_address: number(&get, "BCRYPT_JOBS_PER_ADDRESS", 8, 1, 1_000)? as usize,
            },
            mail,
            default_locale: default_locale(&get)?,
            require_verified_email: flag(&get, "REQUIRE_VERIFIED_EMAIL", false)?,
            free_lines_for_anyone,
            idempotency_key_ttl: seconds(&get, "IDEMPOTENCY_KEY_TTL_SECS", 86_400, 1, 2_592_000)?,
            webhooks: webhook_settings(&get)?,
            log_format,
        })
    }
}

fn webhook_settings(get: &impl Fn(&str) -> Option<String>) -> Result<WebhookSettings, ConfigError> {
    Ok(WebhookSettings {
        retry_schedule: match get("WEBHOOK_RETRY_SCHEDULE") {
            None => RetrySchedule::standard(),
            Some(raw) => RetrySchedule::parse(&raw).ok_or_else(|| {
                invalid(
                    "WEBHOOK_RETRY_SCHEDULE",
                    format!("`{raw}` is not a list of seconds like 1,1,2"),
                )
            })?,
        },
        allow_private: flag(get, "WEBHOOK_ALLOW_PRIVATE", false)?,
        timeout: seconds(get, "WEBHOOK_TIMEOUT_SECS", 10, 1, 60)?,
    })
}

fn token_settings(get: &impl Fn(&str) -> Option<String>) -> Result<TokenSettings, ConfigError> {
    let secret = |variable: &'static str| match get(variable) {
        Some(secret) if secret.len() < 32 => Err(invalid(
            variable,
            format!(
                "must be at least 32 bytes long (it is {} bytes)",
                secret.len()
            ),
        )),
        other => Ok(other.map(|secret| Secret::new(secret.into_bytes()))),
    };
    let current = secret("JWT_SECRET")?;
    Ok(TokenSettings {
        secret_is_random: current.is_none(),
        secret: current.unwrap_or_else(|| Secret::new(rand::random::<[u8; 32]>().to_vec())),
        previous_secret: secret("JWT_SECRET_PREVIOUS")?,
        ttl: seconds(get, "ACCESS_TOKEN_TTL_SECS", 3600, 1, 31_536_000)?,
        session_cache_ttl: seconds(get, "SESSION_CACHE_SECS", 5, 0, 300)?,
        refresh_ttl: seconds(get, "REFRESH_TOKEN_TTL_SECS", 2_592_000, 1, 31_536_000)?,
        refresh_reuse_grace: seconds(get, "REFRESH_REUSE_GRACE_SECS", 10, 0, 300)?,
        prune_interval: Some(seconds(get, "PRUNE_INTERVAL_SECS", 3600, 0, 604_800)?)
            .filter(|interval| !interval.is_zero()),
    })
}

fn default_locale(get: &impl Fn(&str) -> Option<String>) -> Result<Locale, ConfigError> {
    let Some(tag) = get("DEFAULT_LOCALE") else {
        return Ok(Locale::english());
    };
    Locale::parse(tag.trim()).ok_or_else(|| {
        let known: Vec<_> = Locale::all().map(Locale::as_str).collect();
        invalid(
            "DEFAULT_LOCALE",
            format!("`{tag}` is not one of {}", known.join(", ")),
        )
    })
}

fn database_kind(url: &str) -> Result<DatabaseKind, ConfigError> {
    if url.starts_with("sqlite:") {
        Ok(DatabaseKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(DatabaseKind::Postgres)
    } else {
        Err(invalid(
            "DATABASE_URL",
            "must be a sqlite: or postgres:// URL, e.g. sqlite://comptoir.db?mode=rwc",
        ))
    }
}

fn rate_limit_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<RateLimitSettings, ConfigError> {
    let redis_url = get("REDIS_URL").map(|url| url.trim().to_owned());
    if let Some(url) = &redis_url
        && !(url.starts_with("redis://") || url.starts_with("rediss://"))
    {
        return Err(invalid(
            "REDIS_URL",
            "must be a redis:// (or, for TLS, rediss://) URL, e.g. redis://127.0.0.1:6379",
        ));
    }
    Ok(RateLimitSettings {
        login: limit(get, "RATE_LIMIT_LOGIN", "5/60")?,
        login_per_address: limit(get, "RATE_LIMIT_LOGIN_PER_ADDRESS", "20/60")?,
        register: limit(get, "RATE_LIMIT_REGISTER", "10/60")?,
        forgot_password: limit(get, "RATE_LIMIT_FORGOT_PASSWORD", "5/60")?,
        current_password: limit(get, "RATE_LIMIT_CURRENT_PASSWORD", "5/60")?,
        api: limit(get, "RATE_LIMIT_API", "600/60")?,
        refresh: limit(get, "RATE_LIMIT_REFRESH", "10/60")?,
        refresh_per_address: limit(get, "RATE_LIMIT_REFRESH_PER_ADDRESS", "60/60")?,
        redis_url: redis_url.map(Secret::new),
        redis_prefix: get("REDIS_PREFIX").unwrap_or_else(|| "comptoir".to_owned()),
    })
}

fn http_settings(get: &impl Fn(&str) -> Option<String>) -> Result<HttpSettings, ConfigError> {
    let trusted_proxies = get("TRUSTED_PROXIES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            TrustedProxy::parse(entry).ok_or_else(|| {
                invalid(
                    "TRUSTED_PROXIES",
                    format!("`{entry}` is not an address or a CIDR block"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cors_origins = get("CORS_ORIGINS")
        .unwrap_or_default()
        .split(',')
        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            if origin.starts_with("http://") || origin.starts_with("https://") {
                Ok(origin)
            } else {
                Err(invalid(
                    "CORS_ORIGINS",
                    format!("`{origin}` is not an origin like https://shop.example"),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpSettings {
        trusted_proxies,
        cors_origins,
        request_timeout: seconds(get, "REQUEST_TIMEOUT_SECS", 30, 1, 3600)?,
        header_read_timeout: seconds(get, "HTTP_HEADER_READ_TIMEOUT_SECS", 10, 1, 300)?,
        keep_alive_timeout: seconds(get, "HTTP_KEEP_ALIVE_TIMEOUT_SECS", 75, 1, 3600)?,
        max_connections: number(get, "HTTP_MAX_CONNECTIONS", 4096, 1, 1_000_000)?,
        shutdown_drain: seconds(get, "SHUTDOWN_DRAIN_SECS", 0, 0, 300)?,
    })
}

/// `COUNT/SECONDS` (e.g. `5/60`), or `off`.
fn limit(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: &str,
) -> Result<Option<Limit>, ConfigError> {
    let value = get(variable).unwrap_or_else(|| default.to_owned());
    let value = value.trim();
    if value == "off" {
        return Ok(None);
    }
    let parsed = value.split_once('/').and_then(|(count, seconds)| {
        let count: u32 = count.trim().parse().ok().filter(|count| *count > 0)?;
        let seconds: u64 = seconds
            .trim()
            .parse()
            .ok()
            .filter(|seconds| (1..=86_400).contains(seconds))?;
        Some(Limit {
            count,
            window: Duration::from_secs(seconds),
        })
    });
    parsed.map(Some).ok_or_else(|| {
        invalid(
            variable,
            format!("`{value}` is not COUNT/SECONDS (e.g. 5/60) or `off`"),
        )
    })
}

/// `true` or `false`.
fn flag(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(variable).as_deref().map(str::trim) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(invalid(
            variable,
            format!("`{other}` is neither `true` nor `false`"),
        )),
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    let Some(value) = get(variable) else {
        return Ok(default);
    };
    match value.trim().parse::<u32>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(invalid(
            variable,
            format!("`{value}` is not a whole number from {min} to {max}"),
        )),
    }
}

fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<Duration, ConfigError> {
    number(get, variable, default, min, max).map(|secs| Duration::from_secs(u64::from(secs)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn no_settings_at_all_gives_a_usable_sqlite_config_with_a_random_secret() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database.kind, DatabaseKind::Sqlite);
        assert!(config.tokens.secret_is_random);
        assert_eq!(config.tokens.secret.expose().len(), 32);
        assert_eq!(config.bcrypt.cost, 12);
        assert_eq!(config.bcrypt.max_queue_wait, Duration::from_secs(2));
        assert_eq!(config.bcrypt.jobs_per_account, 2);
        assert_eq!(config.bcrypt.jobs_per_address, 8);
        assert_eq!(config.mail.public_url, "http://127.0.0.1:8080");
        assert_eq!(config.tokens.session_cache_ttl, Duration::from_secs(5));
        assert_eq!(config.default_locale.as_str(), "en");
        assert!(!config.free_lines_for_anyone);
        assert_eq!(config.mail.email_verification_ttl, Duration::from_hours(24));
        assert!(!config.require_verified_email);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (variable, value) in [
            ("BIND_ADDR", "localhost"),
            ("JWT_SECRET", "too-short"),
            ("LOG_FORMAT", "xml"),
            ("ORDER_FREE_LINES", "everyone"),
            ("DATABASE_URL", "mysql://localhost/shop"),
            ("BCRYPT_COST", "3"),
            ("ACCESS_TOKEN_TTL_SECS", "-1"),
            ("SMTP_URL", "http://mail"),
            ("MAIL_FROM", "not a mailbox"),
            ("PUBLIC_URL", "ftp://shop"),
            ("DB_MAX_CONNECTIONS", "0"),
            ("JWT_SECRET_PREVIOUS", "short"),
            ("RATE_LIMIT_LOGIN", "5 per minute"),
            ("RATE_LIMIT_API", "0/60"),
            ("REDIS_URL", "localhost:6379"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("CORS_ORIGINS", "shop.example"),
            ("REQUEST_TIMEOUT_SECS", "0"),
            ("SESSION_CACHE_SECS", "301"),
            ("BCRYPT_MAX_QUEUE_WAIT_SECS", "0"),
            ("BCRYPT_JOBS_PER_ACCOUNT", "none"),
            ("BCRYPT_JOBS_PER_ADDRESS", "0"),
            ("RATE_LIMIT_CURRENT_PASSWORD", "5"),
            ("DEFAULT_LOCALE", "de"),
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "0"),
            ("HTTP_KEEP_ALIVE_TIMEOUT_SECS", "ten"),
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("EMAIL_VERIFICATION_TTL_SECS", "0"),
            ("REQUIRE_VERIFIED_EMAIL", "yes"),
        ] {
            let err = config(&[(variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.to_string().starts_with(variable), "{err}");
        }
    }

    #[test]
    fn redis_urls_may_ask_for_tls() {
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://user:p%40ss@cache.internal/2",
        ] {
            let config = config(&[("REDIS_URL", url)]).unwrap();
            assert_eq!(
                config.rate_limits.redis_url.map(|url| url.expose().clone()),
                Some(url.to_owned())
            );
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let secret = "a-very-long-secret-that-is-over-32-bytes";
        let config = config(&[("JWT_SECRET", secret)]).unwrap();
        assert!(!format!("{config:?}").contains(secret));
    }

    #[test]
    fn limits_read_as_count_per_seconds_or_off() {
        let config = config(&[("RATE_LIMIT_LOGIN", "3/10"), ("RATE_LIMIT_API", "off")]).unwrap();
        assert_eq!(
            config.rate_limits.login,
            Some(Limit {
                count: 3,
                window: Duration::from_secs(10)
            })
        );
        assert_eq!(config.rate_limits.api, None);
        assert_eq!(
            config
                .rate_limits
                .login_per_address
                .map(|limit| limit.count),
            Some(20)
        );
    }

    #[test]
    fn trusted_proxies_match_addresses_and_blocks() {
        let block = TrustedProxy::parse("10.1.0.0/16").unwrap();
        assert!(block.contains("10.1.200.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.0.9".parse().unwrap()));
        let single = TrustedProxy::parse("::1").unwrap();
        assert!(single.contains("::1".parse().unwrap()));
        assert!(!single.contains("::2".parse().unwrap()));
        assert!(
            TrustedProxy::parse("0.0.0.0/0")
                .unwrap()
                .contains("203.0.113.9".parse().unwrap())
        );
    }
}
