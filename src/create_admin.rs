//! `comptoir create-admin`: the only way to make an admin.

use std::{io::BufRead, process::ExitCode, time::Duration};

use comptoir::{
    config::{Config, DatabaseKind},
    db,
    domain::{Email, Name, Password},
    i18n,
    mail::Mailer,
    service::{
        ServiceError,
        accounts::{Accounts, AdminOutcome},
        email_verification::EmailVerifications,
        password_hasher::PasswordHasher,
        session_cache::SessionCache,
        sessions::Sessions,
    },
};

/// Exit codes: 0 done, 1 the database failed, 2 a bad argument or password.
pub async fn run(config: &Config, email: &str, name: &str) -> ExitCode {
    let password = match std::env::var("ADMIN_PASSWORD") {
        Ok(password) if !password.is_empty() => password,
        _ => {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() {
                eprintln!("comptoir: could not read the password from standard input");
                return ExitCode::from(2);
            }
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let (email, name, password) = match (
        Email::parse(email),
        Name::parse(name),
        Password::parse(password),
    ) {
        (Ok(email), Ok(name), Ok(password)) => (email, name, password),
        (email, name, password) => {
            for problem in [email.err(), name.err(), password.err()]
                .into_iter()
                .flatten()
            {
                eprintln!("comptoir: {}", i18n::text(config.default_locale, &problem));
            }
            return ExitCode::from(2);
        }
    };

    eprintln!(
        "comptoir: using the database {}",
        db::describe(&config.database)
    );
    let db = match db::connect(&config.database).await {
        Ok(db) => db,
        Err(err) => {
            eprintln!("comptoir: cannot reach the database (DATABASE_URL): {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = db::migrate(&db, config.default_locale).await {
        eprintln!("comptoir: running database migrations failed: {err}");
        return ExitCode::FAILURE;
    }
    let hasher = match PasswordHasher::new(config.bcrypt).await {
        Ok(hasher) => hasher,
        Err(err) => {
            eprintln!("comptoir: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    // No cache of its own, but the servers' caches must have dropped a promoted user's
    // sessions before it exits: on SQLite it bumps their shared counter, on PostgreSQL it waits
    // for every server to confirm, as a server does after its own changes.
    let cache = match SessionCache::open(&db, Duration::ZERO).await {
        Ok(cache) if config.database.kind == DatabaseKind::Postgres => {
            cache
                .confirm_changes(db.clone(), &config.database.url)
                .await
        }
        opened => opened,
    };
    let accounts = match cache.and_then(|cache| accounts(config, db, hasher, cache)) {
        Ok(accounts) => accounts,
        Err(err) => {
            eprintln!("comptoir: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    match accounts
        .create_admin(name, email, password, config.default_locale)
        .await
    {
        Ok((user, outcome)) => {
            let what = match outcome {
                AdminOutcome::Created => "created admin",
                AdminOutcome::Promoted => "promoted to admin (password unchanged)",
                AdminOutcome::AlreadyAdmin => "already an admin",
            };
            println!("{what}: {} (id {})", user.email, user.id);
            ExitCode::SUCCESS
        }
        Err(ServiceError::Validation(errors)) => {
            for (field, messages) in errors.iter() {
                let texts: Vec<_> = messages
                    .iter()
                    .map(|message| i18n::text(config.default_locale, message))
                    .collect();
                eprintln!("comptoir: {field}: {}", texts.join(" "));
            }
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("comptoir: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The accounts service as the server builds it. An admin's address counts as verified, so
/// nothing is mailed, but the service is the one that can mail.
fn accounts(
    config: &Config,
    db: sea_orm::DatabaseConnection,
    hasher: PasswordHasher,
    cache: SessionCache,
) -> anyhow::Result<Accounts> {
    let mailer = Mailer::new(&config.mail)?;
    let sessions = Sessions::new(db.clone(), &config.tokens, cache);
    let verifications = EmailVerifications::new(db.clone(), mailer, sessions.clone(), &config.mail);
    Ok(Accounts::new(db, hasher, sessions, verifications))
}
