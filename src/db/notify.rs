//! Messages between the processes that share a database: PostgreSQL's LISTEN/NOTIFY, and on
//! SQLite a change counter kept in a file beside the database.

use std::{
    collections::HashSet,
    fs::{File, OpenOptions},
    io,
    os::unix::fs::FileExt,
    path::PathBuf,
    sync::{Mutex, PoisonError},
};

use anyhow::Context;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement,
    sqlx::{
        self, Postgres,
        postgres::{PgArguments, PgConnectOptions, PgListener, PgPoolOptions},
        query::Query,
    },
};

/// A PostgreSQL connection of its own that listens on one channel, and can send on it.
pub struct Listener(PgListener);

/// A message received on a channel.
pub struct Message {
    pub payload: String,
    /// The backend PID of the connection that sent it.
    pub sender: u32,
}

impl Listener {
    /// Connects to `url` as `application_name` (how it shows in `pg_stat_activity`) and
    /// listens on `channel`.
    pub async fn open(
        url: &str,
        application_name: &str,
        channel: &str,
    ) -> Result<Self, sqlx::Error> {
        let options = url
            .parse::<PgConnectOptions>()?
            .application_name(application_name);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(options)
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.ignore_pool_close_event(true);
        // A lost connection must come back to the caller as an error, so that it notices the
        // gap: messages sent while it was gone are lost.
        listener.eager_reconnect(false);
        listener.listen(channel).await?;
        Ok(Self(listener))
    }

    /// The next message, in the order the senders committed; `Err` says why the connection
    /// ended. It does not reconnect: open a new listener.
    pub async fn next(&mut self) -> Result<Message, String> {
        match self.0.try_recv().await {
            Ok(Some(notification)) => Ok(Message {
                payload: notification.payload().to_owned(),
                sender: notification.process_id(),
            }),
            Ok(None) => Err("connection lost".to_owned()),
            Err(err) => Err(err.to_string()),
        }
    }

    /// Sends `payload` on `channel` from this very connection, so that its PID is the sender.
    pub async fn notify(&mut self, channel: &str, payload: &str) -> Result<(), sqlx::Error> {
        pg_notify(channel, payload).execute(&mut self.0).await?;
        Ok(())
    }
}

/// Sends `payload` on `channel` from one of the pool's connections (PostgreSQL only).
pub async fn notify(
    db: &DatabaseConnection,
    channel: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    pg_notify(channel, payload)
        .execute(db.get_postgres_connection_pool())
        .await?;
    Ok(())
}

fn pg_notify(channel: &str, payload: &str) -> Query<'static, Postgres, PgArguments> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel.to_owned())
        .bind(payload.to_owned())
}

/// The backend PIDs of this database's connections named `application_name` (PostgreSQL only):
/// the listeners of every instance. A role that may not see other sessions' rows in
/// `pg_stat_activity` finds none.
pub async fn listener_pids(
    db: &impl ConnectionTrait,
    application_name: &str,
) -> Result<HashSet<u32>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
            [application_name.into()],
        ))
        .await?;
    let pids = rows
        .iter()
        .map(|row| row.try_get::<i32>("", "pid"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pids
        .into_iter()
        .filter_map(|pid| u32::try_from(pid).ok())
        .collect())
}

/// A number in a file, bumped after each change; readers compare it without any lock.
pub struct Counter {
    file: File,
    /// Threads of this process share one file description, which `flock` does not tell apart.
    writer: Mutex<()>,
}

impl Counter {
    /// The counter in `<database file><suffix>`, beside a SQLite database's main file; `None`
    /// on PostgreSQL and for an in-memory database.
    pub async fn beside(db: &DatabaseConnection, suffix: &str) -> anyhow::Result<Option<Self>> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(None);
        }
        let Some(main) = super::main_file(db).await? else {
            return Ok(None);
        };
        let mut path = main.into_os_string();
        path.push(suffix);
        let path = PathBuf::from(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the change counter {}", path.display()))?;
        Ok(Some(Self {
            file,
            writer: Mutex::new(()),
        }))
    }

    pub fn read(&self) -> io::Result<u64> {
        let mut bytes = [0; 8];
        match self.file.read_exact_at(&mut bytes, 0) {
            Ok(()) => Ok(u64::from_le_bytes(bytes)),
            // Nobody has written it yet.
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            Err(err) => Err(err),
        }
    }

    /// Adds one, under an exclusive lock, so that no two processes write the same value.
    pub fn bump(&self) -> io::Result<()> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.file.lock()?;
        let bumped = self
            .read()
            .and_then(|value| self.file.write_all_at(&(value + 1).to_le_bytes(), 0));
        self.file.unlock()?;
        bumped
    }
}
