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
use dbm_migrate::{MigrationInfo, MigrationState, MigrationStatus};
use serde::Serialize;

use crate::config::{Config, ConfigLoader, DatabaseConfig};
use crate::manager::{DatabaseManager, build_database};

mod args;
mod health;
mod progress;
mod table;

use args::{Cli, Command, ConfigAction};

#[derive(Debug, Default)]
struct Args {
    command: String,
    positional: Vec<String>,
    database: Option<String>,
    url: Option<String>,
    dir: Option<PathBuf>,
    json: bool,
    to: Option<String>,
    version: Option<String>,
    undo: bool,
    out_of_order: bool,
    all: bool,
    bind: Option<String>,
}

fn usage_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Configuration, msg).with_hint("run with --help for usage")
}

impl From<Cli> for Args {
    fn from(cli: Cli) -> Self {
        let mut a = Args {
            command: cli.command.name().to_owned(),
            database: cli.database,
            url: cli.url,
            dir: cli.dir,
            json: cli.json,
            ..Args::default()
        };
        match cli.command {
            Command::Migrate { to, out_of_order } => {
                a.to = to;
                a.out_of_order = out_of_order;
            }
            Command::Rollback { to } => a.to = Some(to),
            Command::Baseline { version } => a.version = Some(version),
            Command::New { description, undo } => {
                a.positional = description;
                a.undo = undo;
            }
            Command::Health { all } => a.all = all,
            Command::Serve { bind } => a.bind = Some(bind),
            Command::Config {
                action: ConfigAction::Check,
            } => a.positional = vec!["check".to_owned()],
            Command::Status | Command::Validate | Command::Repair | Command::Completions { .. } => {
            }
        }
        a
    }
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
    if let Command::Completions { shell } = cli.command {
        let mut command = Cli::command();
        clap_complete::generate(shell, &mut command, "dbm", out);
        return 0;
    }
    let args = Args::from(cli);
    let json = args.json;
    match execute(args, loader, out).await {
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

fn resolve(args: &Args, config: &Config) -> Result<DatabaseConfig> {
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

async fn execute(args: Args, loader: Option<ConfigLoader>, out: &mut dyn Write) -> Result<u8> {
    let config = match loader {
        Some(l) => l.load()?,
        None => Config::load()?,
    };
    if args.command == "new" {
        return new_file(&args, &config, out);
    }
    if args.command == "config" {
        return config_check(&args, &config, out);
    }
    if args.command == "health" && args.all {
        return health::all(&args, &config, out).await;
    }
    if args.command == "serve" {
        return health::serve(&args, &config, out).await;
    }
    let c = resolve(&args, &config)?;
    let db = DatabaseManager::from_database(build_database(&c)?, c);
    let result = command(&args, &db, out).await;
    db.close().await;
    result
}

async fn command(args: &Args, db: &DatabaseManager, out: &mut dyn Write) -> Result<u8> {
    let name = db.name().to_owned();
    match args.command.as_str() {
        "migrate" => {
            let mut conn = db.database().acquire().await?;
            let target = args.to.as_deref().map(str::parse).transpose()?;
            let report = db
                .migrator()
                .out_of_order(args.out_of_order)
                .progress(std::sync::Arc::new(progress::Reporter::new()))
                .migrate(conn.as_mut(), target.as_ref())
                .await?;
            if args.json {
                emit(out, &report)?;
            } else if report.applied.is_empty() {
                writeln!(
                    out,
                    "{name}: up to date at version {}",
                    version(&report.current_version)
                )
                .map_err(io)?;
            } else {
                writeln!(out, "{name}: applied {} migration(s)", report.applied.len())
                    .map_err(io)?;
                let mut t = table::table(["VERSION", "DESCRIPTION", "TIME"]);
                for a in &report.applied {
                    t.add_row([
                        a.version.clone(),
                        table::cut(&a.description, 50),
                        format!("{} ms", a.execution_time_ms),
                    ]);
                }
                writeln!(out, "{}", table::render(&t)).map_err(io)?;
                writeln!(
                    out,
                    "{name}: now at version {}",
                    version(&report.current_version)
                )
                .map_err(io)?;
            }
        }
        "status" => {
            let status = db.migration_status().await?;
            if args.json {
                emit(out, &status)?;
            } else {
                print_status(out, &status)?;
            }
        }
        "validate" => {
            let status = db.validate_migrations().await?;
            if args.json {
                emit(out, &status)?;
            } else {
                writeln!(
                    out,
                    "{name}: valid ({} applied, {} pending)",
                    status.applied.len(),
                    status.pending.len()
                )
                .map_err(io)?;
            }
        }
        "rollback" => {
            let to = args
                .to
                .as_deref()
                .ok_or_else(|| usage_error("rollback needs --to VERSION"))?;
            let to: dbm_migrate::Version = to.parse()?;
            let mut conn = db.database().acquire().await?;
            let report = db
                .migrator()
                .progress(std::sync::Arc::new(progress::Reporter::new()))
                .rollback(conn.as_mut(), &to)
                .await?;
            if args.json {
                emit(out, &report)?;
            } else {
                for a in &report.applied {
                    writeln!(out, "  undone {:<10} {}", a.version, a.script).map_err(io)?;
                }
                writeln!(
                    out,
                    "{name}: now at version {}",
                    version(&report.current_version)
                )
                .map_err(io)?;
            }
        }
        "baseline" => {
            let v = args
                .version
                .as_deref()
                .ok_or_else(|| usage_error("baseline needs --version VERSION"))?;
            db.baseline(v).await?;
            if args.json {
                emit(out, &serde_json::json!({ "database": name, "baseline": v }))?;
            } else {
                writeln!(out, "{name}: baselined at version {v}").map_err(io)?;
            }
        }
        "repair" => {
            let r = db.repair_migrations().await?;
            if args.json {
                emit(out, &r)?;
            } else {
                writeln!(
                    out,
                    "{name}: removed {} failed row(s), realigned {} checksum(s)",
                    r.removed_failed.len(),
                    r.realigned.len()
                )
                .map_err(io)?;
                for m in &r.missing {
                    writeln!(out, "  still missing: {m}").map_err(io)?;
                }
            }
        }
        "health" => return health::one(args, db, out).await,
        _ => unreachable!("checked in execute"),
    }
    Ok(0)
}

fn config_check(args: &Args, config: &Config, out: &mut dyn Write) -> Result<u8> {
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

fn version(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

fn new_file(args: &Args, config: &Config, out: &mut dyn Write) -> Result<u8> {
    let description = args.positional.join(" ");
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
    let created = dbm_migrate::new_migration(&dir, &description, args.undo)?;
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

fn print_status(out: &mut dyn Write, s: &MigrationStatus) -> Result<()> {
    use table::Tone;
    writeln!(
        out,
        "database: {}   current version: {}{}",
        s.database,
        version(&s.current_version),
        s.baseline
            .as_deref()
            .map(|b| format!("   baseline: {b}"))
            .unwrap_or_default()
    )
    .map_err(io)?;
    let mut all: Vec<&MigrationInfo> = s
        .applied
        .iter()
        .chain(&s.failed)
        .chain(&s.missing)
        .chain(&s.out_of_order)
        .chain(&s.pending)
        .collect();
    all.sort_by(|a, b| {
        let va: Option<dbm_migrate::Version> = a.version.parse().ok();
        let vb: Option<dbm_migrate::Version> = b.version.parse().ok();
        va.cmp(&vb)
    });
    let colour = table::colour();
    let mut t = table::table(["VERSION", "DESCRIPTION", "STATE", "INSTALLED ON", "SCRIPT"]);
    for m in all {
        let state = serde_json::to_value(m.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let tone = match m.state {
            MigrationState::Applied | MigrationState::Baseline => Tone::Good,
            MigrationState::Pending
            | MigrationState::OutOfOrder
            | MigrationState::BelowBaseline => Tone::Warn,
            _ => Tone::Bad,
        };
        t.add_row([
            m.version.clone(),
            table::cut(&m.description, 50),
            table::paint(&state, tone, colour),
            m.installed_on.clone().unwrap_or_else(|| "-".to_owned()),
            m.script.clone(),
        ]);
    }
    writeln!(out, "{}", table::render(&t)).map_err(io)?;
    writeln!(
        out,
        "{} applied, {} pending, {} failed, {} edited, {} missing, {} out of order",
        s.applied.len(),
        s.pending.len(),
        s.failed.len(),
        s.edited.len(),
        s.missing.len(),
        s.out_of_order.len()
    )
    .map_err(io)
}
