//! The `comptoir` command line: `serve` (the default), `migrate`, `spec [--yaml]`.

use std::process::ExitCode;

mod create_admin;

use comptoir::{api, config::Config, db, startup, telemetry};

const USAGE: &str = "\
usage: comptoir [COMMAND]

commands:
  serve           run pending migrations and serve HTTP (the default)
  migrate         run pending migrations and exit
  spec [--yaml]   print the OpenAPI document (JSON, or YAML) without a database
  create-admin --email EMAIL --name NAME
                  make an admin, or promote the account with that email; the password is
                  read from ADMIN_PASSWORD or else from the first line of standard input

Settings come from the environment and from a .env file; see README.md.";

enum Command {
    Serve,
    Migrate,
    Spec { yaml: bool },
    CreateAdmin { email: String, name: String },
    Help,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => Ok(Command::Serve),
        ["migrate"] => Ok(Command::Migrate),
        ["spec"] => Ok(Command::Spec { yaml: false }),
        ["spec", "--yaml"] => Ok(Command::Spec { yaml: true }),
        ["help" | "--help" | "-h"] => Ok(Command::Help),
        ["create-admin", rest @ ..] => {
            let (mut email, mut name) = (None, None);
            for pair in rest.chunks(2) {
                match pair {
                    ["--email", value] => email = Some((*value).to_owned()),
                    ["--name", value] => name = Some((*value).to_owned()),
                    _ => return Err(format!("create-admin: unexpected `{}`", pair.join(" "))),
                }
            }
            match (email, name) {
                (Some(email), Some(name)) => Ok(Command::CreateAdmin { email, name }),
                _ => Err("create-admin needs --email and --name".into()),
            }
        }
        _ => Err(format!("unexpected arguments: {}", args.join(" "))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(command) => command,
        Err(problem) => {
            eprintln!("comptoir: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Spec { yaml } => {
            print!(
                "{}",
                if yaml {
                    api::spec_yaml()
                } else {
                    api::spec_json()
                }
            );
            return ExitCode::SUCCESS;
        }
        Command::Serve | Command::Migrate | Command::CreateAdmin { .. } => {}
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
    let outcome = runtime.block_on(async {
        if let Command::Migrate = command {
            let db = db::connect(&config.database).await?;
            db::migrate(&db).await?;
            tracing::info!("migrations are up to date");
            Ok(())
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
