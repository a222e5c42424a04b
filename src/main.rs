//! The `comptoir` command line: `serve` (the default), `migrate`, `prune`, `backup`, `spec`,
//! `create-admin`.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};

mod create_admin;

use comptoir::{
    api,
    config::{Config, DatabaseKind},
    db, startup, telemetry,
};

/// Comptoir: a REST API for a shop's user accounts and orders.
///
/// Settings come from the environment and from a .env file in the working directory (see
/// .env.example and README.md). Exit codes: 0 done, 1 a failure (the database, the network),
/// 2 a bad argument or a bad setting.
#[derive(Parser)]
#[command(name = "comptoir", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations and serve HTTP (the default)
    Serve,
    /// Run pending migrations and exit
    Migrate,
    /// Delete expired sessions, refresh tokens, links, idempotency keys, API tokens and old webhook events, and revoked sessions
    ///
    /// What a server also does every PRUNE_INTERVAL_SECS. Prints what it deleted.
    Prune,
    /// Copy the SQLite database to PATH, consistently, while servers keep serving
    ///
    /// Refuses a PATH that exists. On PostgreSQL, use pg_dump instead (exit code 2).
    Backup {
        /// Where to write the copy: a new file
        path: PathBuf,
    },
    /// Print the OpenAPI document, without a database
    Spec {
        /// YAML instead of JSON
        #[arg(long)]
        yaml: bool,
    },
    /// Make an admin, or promote the account with that email (its password unchanged)
    ///
    /// The password is read from ADMIN_PASSWORD, or else from the first line of standard
    /// input. Exit code 2 for a bad email, name or password, 1 if the database fails.
    CreateAdmin {
        /// The admin's email; an existing account with it is promoted
        #[arg(long)]
        email: String,
        /// The admin's name (kept as it is when the account exists)
        #[arg(long)]
        name: String,
    },
}

fn main() -> ExitCode {
    // clap prints help and version with exit code 0, and a usage error with exit code 2.
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    if let Command::Spec { yaml } = command {
        let spec = if yaml {
            api::spec_yaml()
        } else {
            api::spec_json()
        };
        // `comptoir spec | head` closes the pipe early: that is the reader's choice, not a panic.
        return match std::io::stdout().lock().write_all(spec.as_bytes()) {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                eprintln!("comptoir: cannot write the document: {err}");
                ExitCode::FAILURE
            }
            _ => ExitCode::SUCCESS,
        };
    }

    // A missing .env is normal; a malformed one is worth stopping for.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("comptoir: .env: {err}");
        return ExitCode::from(2);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("comptoir: invalid setting {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format, "info", std::io::stdout);

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("comptoir: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::CreateAdmin { email, name } = command {
        return runtime.block_on(create_admin::run(&config, &email, &name));
    }
    if let Command::Backup { path } = command {
        return runtime.block_on(backup(&config, &path));
    }
    let outcome = runtime.block_on(async {
        if let Command::Migrate = command {
            tracing::info!(database = %db::describe(&config.database), "using the database");
            let db = db::connect(&config.database).await?;
            db::migrate(&db, config.default_locale).await?;
            tracing::info!("migrations are up to date");
            Ok(())
        } else if let Command::Prune = command {
            prune(&config).await
        } else {
            let shutdown = startup::shutdown_signal()?;
            let app = startup::Application::build(&config).await?;
            app.run_until(shutdown).await
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "comptoir stopped");
            eprintln!("comptoir: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `comptoir backup PATH`: `VACUUM INTO` a new file, on a database that must exist already
/// (connecting would otherwise create an empty one and back that up).
async fn backup(config: &Config, path: &Path) -> ExitCode {
    if config.database.kind == DatabaseKind::Postgres {
        eprintln!(
            "comptoir: backup copies a SQLite database; this one is PostgreSQL ({}): use \
             pg_dump, e.g. pg_dump --format=custom --file=comptoir.dump \"$DATABASE_URL\"",
            db::describe(&config.database)
        );
        return ExitCode::from(2);
    }
    if path.exists() {
        eprintln!(
            "comptoir: {} already exists: backup writes a new file and never overwrites one",
            path.display()
        );
        return ExitCode::from(2);
    }
    let outcome = async {
        let source = db::describe(&config.database);
        let db = db::connect_existing(&config.database).await?;
        db::sqlite_copy_to(&db, path).await?;
        db.close().await?;
        println!("copied {source} to {}", path.display());
        anyhow::Ok(())
    };
    match outcome.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("comptoir: backup failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `comptoir prune`: one pass on a migrated database; waits for a server's pass to end.
async fn prune(config: &Config) -> anyhow::Result<()> {
    use comptoir::service::prune::Pruner;
    tracing::info!(database = %db::describe(&config.database), "using the database");
    let db = db::connect(&config.database).await?;
    db::migrate(&db, config.default_locale).await?;
    let pruner = Pruner::new(db);
    loop {
        if let Some(pruned) = pruner.prune().await? {
            println!(
                "deleted {} sessions, {} refresh tokens, {} password reset tokens, {} email \
                 confirmation tokens, {} mail throttle entries, {} idempotency keys, {} API \
                 tokens and {} webhook events",
                pruned.sessions,
                pruned.refresh_tokens,
                pruned.reset_tokens,
                pruned.verification_tokens,
                pruned.mail_throttle,
                pruned.idempotency_keys,
                pruned.api_tokens,
                pruned.webhook_events
            );
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
