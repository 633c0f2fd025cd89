//! The commands behind the `dbm` binary and `cargo xtask`: migrate, status, validate,
//! rollback, baseline, repair, new, health, serve, config check, completions. Kept in the
//! library so any project gets them with a five-line xtask of its own:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     dbm::cli::main("cargo xtask")
//! }
//! ```

use std::io::Write;
use std::path::PathBuf;

use dbm_core::{Error, ErrorKind, Result};
use serde::Serialize;

use crate::config::{Config, ConfigLoader, DatabaseConfig};
use crate::manager::{DatabaseManager, build_database};

mod args;
mod database;
mod health;
mod progress;
mod table;

use args::{Cli, Command, ConfigAction};
use database::OnDatabase;

/// The flags every command takes.
#[derive(Debug)]
struct Options {
    database: Option<String>,
    url: Option<String>,
    dir: Option<PathBuf>,
    json: bool,
}

/// Runs the program: logging set up from `DBM_LOG`, a runtime, the command line of this
/// process under the name `bin` (`dbm`, `cargo xtask`), and the exit code.
pub fn main(bin: &str) -> std::process::ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {e}"
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run_as(
        bin,
        std::env::args().skip(1),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    ));
    std::process::ExitCode::from(code)
}

/// Logs to stderr, filtered by `DBM_LOG`: a level (`info`) or `tracing_subscriber`
/// `EnvFilter` directives (`dbm=debug,sqlx=warn`); warnings only when unset. An invalid
/// value is reported and the default used. Colour only when stderr is a terminal and
/// `NO_COLOR` is unset.
pub fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;

    let (filter, bad) = match std::env::var("DBM_LOG") {
        Ok(v) if !v.trim().is_empty() => match EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => (EnvFilter::new("warn"), Some((v, e))),
        },
        _ => (EnvFilter::new("warn"), None),
    };
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .try_init();
    if let Some((v, e)) = bad {
        tracing::warn!("DBM_LOG={v:?} is not a level or EnvFilter directive ({e}); using `warn`");
    }
}

/// Runs a command line (without the program name), writing results to `out` and the
/// one-line cause of a failure to `err`. Returns the exit code: 0 success, 1 failure,
/// 2 usage error. The configuration is this process's ([`Config::load`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// let code = dbm::cli::run(["--version".to_owned()], &mut out, &mut err).await;
/// assert_eq!(code, 0);
/// assert_eq!(String::from_utf8(out).unwrap(), format!("dbm {}\n", env!("CARGO_PKG_VERSION")));
/// let code = dbm::cli::run(["stauts".to_owned()], &mut Vec::new(), &mut err).await;
/// assert_eq!(code, 2);
/// assert!(String::from_utf8(err).unwrap().contains("similar subcommand exists: 'status'"));
/// # });
/// ```
pub async fn run<I>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = String>,
{
    run_inner("dbm", None, args, out, err).await
}

/// Like [`run`], with the program called `bin` in help and usage (`cargo xtask`).
pub async fn run_as<I>(bin: &str, args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = String>,
{
    run_inner(bin, None, args, out, err).await
}

/// Like [`run`], with the configuration `loader` gives instead of this process's
/// (for tests, and for programs that build their configuration themselves).
///
/// ```no_run
/// # async fn demo() {
/// let loader = dbm::Config::loader().file("deploy/dbm.toml").environment("production");
/// let code = dbm::cli::run_with_config(loader, ["status".to_owned()], &mut std::io::stdout(), &mut std::io::stderr()).await;
/// # }
/// ```
pub async fn run_with_config<I>(
    loader: ConfigLoader,
    args: I,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8
where
    I: IntoIterator<Item = String>,
{
    run_inner("dbm", Some(loader), args, out, err).await
}

async fn run_inner<I>(
    bin: &str,
    loader: Option<ConfigLoader>,
    args: I,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8
where
    I: IntoIterator<Item = String>,
{
    use clap::{CommandFactory, FromArgMatches};

    let command = Cli::command().bin_name(bin.to_owned());
    let argv = std::iter::once(bin.to_owned()).chain(args);
    let parsed = command
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    let options = Options {
        database: cli.database,
        url: cli.url,
        dir: cli.dir,
        json: cli.json,
    };
    let json = options.json;
    match execute(&options, cli.command, loader, out).await {
        Ok(code) => code,
        Err(e) => {
            if json {
                let body = serde_json::json!({ "error": e.to_string(), "kind": e.kind().as_str() });
                let _ = writeln!(out, "{body}");
            }
            let _ = writeln!(err, "error: {e}");
            if matches!(e.kind(), ErrorKind::Configuration) && e.operation().is_none() {
                2
            } else {
                1
            }
        }
    }
}

fn resolve(args: &Options, config: &Config) -> Result<DatabaseConfig> {
    let name = args
        .database
        .clone()
        .unwrap_or_else(|| config.default_database());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut c = match &args.url {
        Some(url) => {
            let mut c = config.with_url(&name, url).database(&name)?;
            let migrations = c.migrations_dir();
            // A relative path in --url is the user's, relative to where they stand.
            c.relocate(&cwd)?;
            c.migrations = migrations;
            c
        }
        None => config.database(&name)?,
    };
    if let Some(dir) = &args.dir {
        c.migrations = cwd.join(dir);
    }
    Ok(c)
}

fn emit<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::new(ErrorKind::Other, format!("cannot serialise output: {e}")))?;
    writeln!(out, "{text}").map_err(io)
}

fn io(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Other, format!("cannot write output: {e}"))
}

async fn execute(
    options: &Options,
    command: Command,
    loader: Option<ConfigLoader>,
    out: &mut dyn Write,
) -> Result<u8> {
    use clap::CommandFactory;
    // Commands that need no configuration, or not one database of it, end here.
    let on_database = match command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "dbm", out);
            return Ok(0);
        }
        Command::New { description, undo } => {
            let config = load(loader)?;
            return new_file(options, &description.join(" "), undo, &config, out);
        }
        Command::Config {
            action: ConfigAction::Check,
        } => return config_check(options, &load(loader)?, out),
        Command::Health { all: true } => return health::all(options, &load(loader)?, out).await,
        Command::Serve { bind } => {
            return health::serve(&bind, &load(loader)?, out).await;
        }
        Command::Migrate { to, out_of_order } => OnDatabase::Migrate { to, out_of_order },
        Command::Status => OnDatabase::Status,
        Command::Validate => OnDatabase::Validate,
        Command::Rollback { to } => OnDatabase::Rollback { to },
        Command::Baseline { version } => OnDatabase::Baseline { version },
        Command::Repair => OnDatabase::Repair,
        Command::Health { all: false } => OnDatabase::Health,
    };
    let config = load(loader)?;
    let c = resolve(options, &config)?;
    let db = DatabaseManager::from_database(build_database(&c)?, c);
    let result = on_database.run(options, &db, out).await;
    db.close().await;
    result
}

fn load(loader: Option<ConfigLoader>) -> Result<Config> {
    match loader {
        Some(l) => l.load(),
        None => Config::load(),
    }
}

fn config_check(args: &Options, config: &Config, out: &mut dyn Write) -> Result<u8> {
    let mut results = config.check();
    if let Some(name) = &args.database {
        results.retain(|(n, _)| n == name);
        if results.is_empty() {
            results.push((name.clone(), config.database(name)));
        }
    }
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    let file = config.file().map_or_else(
        || "(no config file)".to_owned(),
        |p| p.display().to_string(),
    );
    if args.json {
        let dbs: Vec<serde_json::Value> = results
            .iter()
            .map(|(name, r)| match r {
                Ok(c) => serde_json::json!({
                    "name": name,
                    "ok": true,
                    "backend": c.backend(),
                    // One key per setting, its value typed.
                    "settings": c
                        .origins
                        .iter()
                        .map(|s| {
                            (
                                s.key.clone(),
                                serde_json::json!({
                                    "value": s.typed,
                                    "origin": s.origin,
                                    "detail": s.detail,
                                }),
                            )
                        })
                        .collect::<serde_json::Map<_, _>>(),
                }),
                Err(e) => serde_json::json!({ "name": name, "ok": false, "error": e.to_string() }),
            })
            .collect();
        emit(
            out,
            &serde_json::json!({
                "file": file,
                "environment": config.environment(),
                "warnings": config.warnings(),
                "databases": dbs,
            }),
        )?;
    } else {
        writeln!(
            out,
            "config: {file}   environment: {}",
            config.environment()
        )
        .map_err(io)?;
        for w in config.warnings() {
            writeln!(out, "warning: {w}").map_err(io)?;
        }
        if results.is_empty() {
            writeln!(out, "no databases configured").map_err(io)?;
        }
        for (name, r) in &results {
            match r {
                Ok(c) => {
                    let backend = c.backend().to_string();
                    writeln!(out, "\n[{name}] {backend}").map_err(io)?;
                    let mut t = table::table(["KEY", "VALUE", "ORIGIN", "WHERE"]);
                    for s in &c.origins {
                        t.add_row([
                            s.key.clone(),
                            table::cut(&s.value, 60),
                            s.origin.clone(),
                            s.detail.clone(),
                        ]);
                    }
                    writeln!(out, "{}", table::render(&t)).map_err(io)?;
                }
                Err(e) => writeln!(out, "\n[{name}] INVALID: {e}").map_err(io)?,
            }
        }
    }
    if failed > 0 {
        return Err(Error::config(format!(
            "{failed} of {} database configuration(s) invalid",
            results.len()
        ))
        .with_operation("config check"));
    }
    Ok(0)
}

fn new_file(
    args: &Options,
    description: &str,
    undo: bool,
    config: &Config,
    out: &mut dyn Write,
) -> Result<u8> {
    let name = args
        .database
        .clone()
        .unwrap_or_else(|| config.default_database());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let dir = match &args.dir {
        Some(d) => cwd.join(d),
        None => config
            .database(&name)
            .map(|d| d.migrations_dir())
            .unwrap_or_else(|_| cwd.join("migrations").join(&name)),
    };
    let created = dbm_migrate::new_migration(&dir, description, undo)?;
    if args.json {
        emit(
            out,
            &serde_json::json!({ "database": name, "created": created }),
        )?;
    } else {
        for p in created {
            writeln!(out, "created {}", p.display()).map_err(io)?;
        }
    }
    Ok(0)
}
