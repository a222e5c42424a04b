//! Builds the application from its settings, binds, serves, and shuts down gracefully.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use sea_orm::DatabaseConnection;

use crate::{
    api::{self, AppState, Services},
    config::{Config, DatabaseKind, HttpSettings},
    db,
    http_server::{self, ConnectionLimits},
    mail::Mailer,
    service::{
        accounts::Accounts,
        api_tokens::ApiTokens,
        cursors::Cursors,
        email_verification::EmailVerifications,
        health::{Health, Storage},
        idempotency::IdempotencyKeys,
        orders::Orders,
        password_hasher::PasswordHasher,
        password_reset::PasswordResets,
        products::Products,
        prune::Pruner,
        rate_limit::RateLimits,
        session_cache::SessionCache,
        sessions::Sessions,
        users::Users,
        webhook_delivery::DeliveryWorker,
        webhooks::Webhooks,
    },
};

/// A bound, migrated, ready-to-serve instance.
pub struct Application {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    state: AppState,
    http: HttpSettings,
    limits: ConnectionLimits,
    metrics: Option<MetricsListener>,
}

/// The listener Prometheus scrapes, apart from the API's.
struct MetricsListener {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    handle: PrometheusHandle,
}

/// How long in-flight requests may run on once the listener has closed.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(30);

/// File descriptors kept for everything but client connections: three a SQLite connection
/// (database, WAL, shared memory), plus Redis, SMTP, the listener, logs and the runtime.
fn reserved_files(database_connections: u32) -> u64 {
    64 + 3 * u64::from(database_connections)
}

impl Application {
    /// Connects to the database, runs pending migrations and binds the listener.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let file_limit = raise_open_file_limit();
        let limits = ConnectionLimits {
            max_connections: connection_cap(
                config.http.max_connections,
                file_limit,
                reserved_files(config.database.max_connections),
            ),
            header_read_timeout: config.http.header_read_timeout,
            keep_alive_timeout: config.http.keep_alive_timeout,
        };
        if config.tokens.secret_is_random {
            tracing::warn!(
                "JWT_SECRET is not set: using a random secret, so tokens die with this process \
                 and are refused by other instances"
            );
        }
        tracing::info!(database = %db::describe(&config.database), "using the database");
        let db = db::connect(&config.database)
            .await
            .context("connecting to the database (DATABASE_URL)")?;
        db::migrate(&db, config.default_locale)
            .await
            .context("running database migrations")?;
        // Installed before anything records, so that no early count is lost.
        let metrics_handle = match config.metrics_bind_addr {
            Some(_) => Some(api::metrics::install().context("installing the metrics recorder")?),
            None => None,
        };
        let state = build_state(config, db).await?;
        let (acceptor, address) = bind(config.bind_addr, "BIND_ADDR").await?;
        let metrics = match (config.metrics_bind_addr, metrics_handle) {
            (Some(bind_addr), Some(handle)) => {
                let (acceptor, address) = bind(bind_addr, "METRICS_BIND_ADDR").await?;
                Some(MetricsListener {
                    acceptor,
                    address,
                    handle,
                })
            }
            _ => None,
        };
        Ok(Self {
            acceptor,
            address,
            state,
            http: config.http.clone(),
            limits,
            metrics,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The metrics listener's address, when metrics are on.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|metrics| metrics.address)
    }

    /// Serves until `shutdown` completes; then readiness turns 503 while it serves on for
    /// `SHUTDOWN_DRAIN_SECS` (a load balancer sees it and sends nothing new), and then the
    /// listener closes and in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        tracing::info!(address = %self.address, "serving; Swagger UI at http://{}/docs", self.address);
        // The metrics listener lives as long as the API's: it stops when the API has drained.
        let metrics = self.metrics.map(|metrics| {
            tracing::info!(address = %metrics.address, "serving metrics at http://{}/metrics", metrics.address);
            let gauges = api::metrics::Gauges {
                health: self.state.health.clone(),
                hasher: self.state.hasher.clone(),
            };
            tokio::spawn(
                poem::Server::new_with_acceptor(metrics.acceptor)
                    .run(api::metrics::app(metrics.handle, gauges)),
            )
        });
        let health = self.state.health.clone();
        let drain = self.http.shutdown_drain;
        let drained = async move {
            shutdown.await;
            health.start_draining();
            if !drain.is_zero() {
                tracing::info!(
                    "draining: /health/ready answers 503; serving on for {} s",
                    drain.as_secs()
                );
                tokio::time::sleep(drain).await;
            }
            tracing::info!("closing the listener: finishing in-flight requests");
        };
        http_server::serve(
            self.acceptor,
            api::app(self.state, &self.http),
            self.limits,
            drained,
            IN_FLIGHT_GRACE,
        )
        .await;
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Binds `address`, the value of `variable`, and returns the address actually bound.
async fn bind(address: SocketAddr, variable: &str) -> anyhow::Result<(TcpAcceptor, SocketAddr)> {
    let acceptor = TcpListener::bind(address)
        .into_acceptor()
        .await
        .with_context(|| format!("binding {address} ({variable})"))?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|addr| addr.as_socket_addr().copied())
        .context("the listener has no address")?;
    Ok((acceptor, bound))
}

/// Raises the soft limit on open files to the hard one (the soft default, often 1024, is
/// what idle sockets used to exhaust) and returns the soft limit now in force, if any.
fn raise_open_file_limit() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    let (Some(soft), Some(hard)) = (limit.current, limit.maximum) else {
        tracing::info!(soft = ?limit.current, hard = ?limit.maximum, "open-file limit");
        return limit.current;
    };
    if soft >= hard {
        tracing::info!(soft, hard, "open-file limit");
        return Some(soft);
    }
    match setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        },
    ) {
        Ok(()) => {
            tracing::info!(soft = hard, hard, was = soft, "open-file limit raised");
            Some(hard)
        }
        Err(err) => {
            tracing::warn!(soft, hard, error = %err, "could not raise the open-file limit");
            Some(soft)
        }
    }
}

/// `HTTP_MAX_CONNECTIONS`, lowered if need be so that connections cannot use up the files
/// that the database and everything else need.
fn connection_cap(configured: u32, file_limit: Option<u64>, reserved: u64) -> usize {
    let configured = u64::from(configured);
    let cap = match file_limit {
        Some(limit) if configured + reserved > limit => {
            let lowered = limit.saturating_sub(reserved).max(1);
            tracing::warn!(
                configured,
                lowered,
                file_limit = limit,
                reserved,
                "HTTP_MAX_CONNECTIONS lowered to fit the open-file limit"
            );
            lowered
        }
        _ => configured,
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

async fn build_state(config: &Config, db: DatabaseConnection) -> anyhow::Result<AppState> {
    let hasher = PasswordHasher::new(config.bcrypt).await?;
    let mut cache = SessionCache::open(&db, config.tokens.session_cache_ttl).await?;
    if config.database.kind == DatabaseKind::Postgres {
        cache = cache.follow_changes(db.clone(), config.database.url.clone());
    }
    let sessions = Sessions::new(db.clone(), &config.tokens, cache.clone());
    let api_tokens = ApiTokens::new(db.clone(), cache, config.free_lines_for_anyone);
    let cursors = Cursors::new(&config.tokens.secret);
    if let Some(interval) = config.tokens.prune_interval {
        Pruner::new(db.clone()).run_every(interval);
    }
    let mailer = Mailer::new(&config.mail)?;
    let limits = RateLimits::new(&config.rate_limits)?;
    let storage = Storage::watch(&db)
        .await
        .context("watching the database files")?;
    DeliveryWorker::new(db.clone(), storage.clone(), &config.webhooks)?.run();
    let email_verifications =
        EmailVerifications::new(db.clone(), mailer.clone(), sessions.clone(), &config.mail);
    let accounts = Accounts::new(
        db.clone(),
        hasher.clone(),
        sessions.clone(),
        email_verifications.clone(),
    );
    Ok(AppState::new(Services {
        default_locale: config.default_locale,
        limits: limits.clone(),
        password_resets: PasswordResets::new(
            db.clone(),
            hasher.clone(),
            mailer,
            sessions.clone(),
            &config.mail,
        ),
        users: Users::new(
            db.clone(),
            hasher.clone(),
            sessions.clone(),
            limits.clone(),
            email_verifications.clone(),
            cursors.clone(),
        ),
        email_verifications,
        orders: Orders::new(
            db.clone(),
            config.require_verified_email,
            config.free_lines_for_anyone,
            cursors.clone(),
        ),
        products: Products::new(db.clone(), cursors),
        webhooks: Webhooks::new(db.clone(), &config.webhooks),
        idempotency_keys: IdempotencyKeys::new(db.clone(), config.idempotency_key_ttl),
        health: Health::new(db, storage.clone(), limits.clone()),
        storage,
        sessions,
        api_tokens,
        accounts,
        hasher,
    }))
}

/// Listens for Ctrl-C and SIGTERM from now on (not from the first poll, so that a signal sent
/// right after start-up is not lost) and resolves on the first of them.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_the_reserve_under_the_file_limit() {
        let reserve = reserved_files(10);
        assert_eq!(reserve, 94);
        assert_eq!(connection_cap(4096, Some(1024), reserve), 930);
        assert_eq!(connection_cap(4096, Some(1_048_576), reserve), 4096);
        assert_eq!(connection_cap(4096, None, reserve), 4096);
        assert_eq!(connection_cap(4096, Some(50), reserve), 1);
    }
}
