//! Settings, read once from the environment and validated before anything starts.

use std::{fmt, net::SocketAddr, time::Duration};

use lettre::message::Mailbox;

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
    /// True when no `JWT_SECRET` was given and a random one was made for this process.
    pub secret_is_random: bool,
    pub ttl: Duration,
}

/// Outgoing mail. Without an SMTP URL, mails are written to the log.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: Option<Secret<String>>,
    pub from: Mailbox,
    /// Base of every link put in a mail, without a trailing slash.
    pub public_url: String,
    pub reset_token_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    pub database: DatabaseSettings,
    pub tokens: TokenSettings,
    pub bcrypt_cost: u32,
    pub mail: MailSettings,
    pub log_format: LogFormat,
}

/// A setting that could not be used; its `Display` is the one line printed before exiting.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
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

        let bind_addr: SocketAddr = match get("BIND_ADDR") {
            Some(value) => value.trim().parse().map_err(|_| {
                invalid(
                    "BIND_ADDR",
                    format!("`{value}` is not an address like 127.0.0.1:8080"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };

        let url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://comptoir.db?mode=rwc".to_owned());
        let kind = database_kind(&url)?;
        let default_connections = match kind {
            DatabaseKind::Sqlite => 8,
            DatabaseKind::Postgres => 10,
        };
        let database = DatabaseSettings {
            url: Secret::new(url),
            kind,
            max_connections: number(&get, "DB_MAX_CONNECTIONS", default_connections, 1, 1_000)?,
            connect_timeout: seconds(&get, "DB_CONNECT_TIMEOUT_SECS", 5, 1, 300)?,
            acquire_timeout: seconds(&get, "DB_ACQUIRE_TIMEOUT_SECS", 5, 1, 300)?,
        };

        let tokens = match get("JWT_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err(invalid(
                    "JWT_SECRET",
                    format!(
                        "must be at least 32 bytes long (it is {} bytes)",
                        secret.len()
                    ),
                ));
            }
            Some(secret) => TokenSettings {
                secret: Secret::new(secret.into_bytes()),
                secret_is_random: false,
                ttl: seconds(&get, "ACCESS_TOKEN_TTL_SECS", 3600, 1, 31_536_000)?,
            },
            None => TokenSettings {
                secret: Secret::new(rand::random::<[u8; 32]>().to_vec()),
                secret_is_random: true,
                ttl: seconds(&get, "ACCESS_TOKEN_TTL_SECS", 3600, 1, 31_536_000)?,
            },
        };

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
            database,
            tokens,
            bcrypt_cost: number(&get, "BCRYPT_COST", 12, 4, 31)?,
            mail,
            log_format,
        })
    }
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
        assert_eq!(config.bcrypt_cost, 12);
        assert_eq!(config.mail.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (variable, value) in [
            ("BIND_ADDR", "localhost"),
            ("JWT_SECRET", "too-short"),
            ("LOG_FORMAT", "xml"),
            ("DATABASE_URL", "mysql://localhost/shop"),
            ("BCRYPT_COST", "3"),
            ("ACCESS_TOKEN_TTL_SECS", "-1"),
            ("SMTP_URL", "http://mail"),
            ("MAIL_FROM", "not a mailbox"),
            ("PUBLIC_URL", "ftp://shop"),
            ("DB_MAX_CONNECTIONS", "0"),
        ] {
            let err = config(&[(variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.to_string().starts_with(variable), "{err}");
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let secret = "a-very-long-secret-that-is-over-32-bytes";
        let config = config(&[("JWT_SECRET", secret)]).unwrap();
        assert!(!format!("{config:?}").contains(secret));
    }
}
