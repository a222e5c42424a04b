//! Builds the application from its settings, binds, serves, and shuts down gracefully.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use poem::{
    Server,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
};
use sea_orm::DatabaseConnection;

use crate::{
    api::{self, AppState},
    config::{Config, DatabaseKind, HttpSettings},
    db,
    mail::Mailer,
    service::{
        accounts::Accounts, orders::Orders, password_hasher::PasswordHasher,
        password_reset::PasswordResets, rate_limit::RateLimits, session_cache::SessionCache,
        sessions::Sessions, users::Users,
    },
};

/// A bound, migrated, ready-to-serve instance.
pub struct Application {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    state: AppState,
    http: HttpSettings,
}

impl Application {
    /// Connects to the database, runs pending migrations and binds the listener.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
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
        db::migrate(&db)
            .await
            .context("running database migrations")?;
        let state = build_state(config, db).await?;
        let acceptor = TcpListener::bind(config.bind_addr)
            .into_acceptor()
            .await
            .with_context(|| format!("binding {} (BIND_ADDR)", config.bind_addr))?;
        let address = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .context("the listener has no address")?;
        Ok(Self {
            acceptor,
            address,
            state,
            http: config.http.clone(),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        tracing::info!(address = %self.address, "serving; Swagger UI at http://{}/docs", self.address);
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(
                api::app(self.state, self.http),
                shutdown,
                Some(Duration::from_secs(30)),
            )
            .await
            .context("serving HTTP")
    }
}

async fn build_state(config: &Config, db: DatabaseConnection) -> anyhow::Result<AppState> {
    let hasher = PasswordHasher::new(config.bcrypt).await?;
    let mut cache = SessionCache::open(&db, config.tokens.session_cache_ttl).await?;
    if config.database.kind == DatabaseKind::Postgres {
        cache = cache.follow_changes(db.clone(), config.database.url.clone());
    }
    let sessions = Sessions::new(db.clone(), &config.tokens, cache);
    let accounts = Accounts::new(db.clone(), hasher.clone(), sessions.clone());
    let mailer = Mailer::new(&config.mail)?;
    let limits = RateLimits::new(&config.rate_limits)?;
    Ok(AppState {
        limits: limits.clone(),
        password_resets: PasswordResets::new(
            db.clone(),
            hasher.clone(),
            mailer,
            sessions.clone(),
            &config.mail,
        ),
        users: Users::new(db.clone(), hasher, sessions.clone(), limits),
        orders: Orders::new(db.clone()),
        db,
        sessions,
        accounts,
    })
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
        tracing::info!("shutting down: finishing in-flight requests");
    })
}
