//! Credentials never leak: failure scenarios on SQLite, PostgreSQL and SQL Server (over the
//! TDS test server) run under a tracing
//! subscriber that records every level, and a distinctive password must appear nowhere in
//! the logs, the errors (Display and Debug), the health and status JSON, or CLI output.
//!
//! One test in its own binary, so the global subscriber sees every thread.
#![cfg(all(feature = "cli", feature = "sqlite", feature = "postgres"))]

use std::time::Duration;

use dbm::{Config, DatabaseConfig, DatabaseManager, ErrorKind, Params};

/// Contains `@ : / %` and a space, percent-encoded in URLs.
const SECRET: &str = "Zq9@x:y/z%w Secret";
const SECRET_ENCODED: &str = "Zq9%40x%3Ay%2Fz%25w%20Secret";

/// Fragments of the passwords in [`MALFORMED`]: none may appear anywhere, whole or in part.
const FRAGMENTS: &[&str] = &["Zq9", "Kx7", "Vw3"];

/// What users put in URL fields: passwords that are not percent-encoded (holding `/`, `?`,
/// `#`, `@`, `;`), a forgotten `@`, no scheme, bad percent-encoding, connection strings.
const MALFORMED: &[&str] = &[
    "postgres://etl:Zq9@Kx7:Vw3@db.example/w",
    "postgres://etl:Zq9/Kx7?Vw3@db.example:5432/w?sslmode=require",
    "postgres://etl:Zq9#Kx7Vw3@db.example/w",
    "postgres://etl:Zq9Kx7?Vw3",
    "postgres://etl:Zq9Kx7Vw3/db.example/w",
    "postgres://etl:Zq9%zzKx7Vw3@db.example/w",
    "postgres://etl:Zq9Kx7Vw3@db.example:notaport/w",
    "postgres://etl@db.example:5432/w?password=Zq9Kx7Vw3&sslmode=bogus",
    "postgresql:etl:Zq9Kx7Vw3@db.example/w",
    "etl:Zq9Kx7Vw3@db.example/w",
    "Zq9Kx7Vw3",
    "mysql://etl:Zq9Kx7Vw3@db.example/w",
    "Server=db.example;User Id=sa;Password={Zq9;Kx7;Vw3};",
    "Server=db.example;User Id=sa;Password=\"Zq9;Kx7;Vw3\"",
    "jdbc:sqlserver://db.example:1433;user=sa;password=Zq9Kx7Vw3",
    "mssql://sa:Zq9/Kx7?Vw3@db.example/w",
    "sqlserver://sa:Zq9%zzKx7Vw3@db.example/w",
    "mssql://sa:Zq9Kx7Vw3@db.example:notaport/w",
    "mssql://sa:Zq9Kx7Vw3@db.example/w?encrypt=sometimes",
    "mssql://sa:Zq9Kx7Vw3@db.example\\inst/w",
    "Server=tcp:db.example,14x;User Id=sa;Password=Zq9Kx7Vw3",
    "Server=db.example;User Id=sa;Password=\"Zq9\"Kx7Vw3;",
    "Server=db.example;User Id=sa;Password=\"Zq9\"\"Kx7;Vw3\";Encrypt=maybe",
    "Server=db.example;User Id=sa;Password={Zq9Kx7Vw3",
    "Server=db.example;User Id=sa;Zq9Kx7Vw3;Database=w",
    "Data Source=db.example;UID=sa;PWD=Zq9Kx7Vw3;Integrated Security=true",
    "jdbc:sqlserver://db.example\\inst;user=sa;password=Zq9Kx7Vw3",
    "jdbc:sqlserver://db.example:1433;user=sa;password={Zq9;Kx7Vw3};bogus=1",
];

#[derive(Default)]
struct Outputs {
    texts: Vec<(String, String)>,
}

impl Outputs {
    fn error(&mut self, scenario: &str, e: &dbm::Error) {
        self.texts
            .push((format!("{scenario} (Display)"), e.to_string()));
        self.texts
            .push((format!("{scenario} (Debug)"), format!("{e:?}")));
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            self.texts
                .push((format!("{scenario} (source)"), s.to_string()));
            source = s.source();
        }
    }

    fn text(&mut self, scenario: &str, t: String) {
        self.texts.push((scenario.to_owned(), t));
    }
}

fn pg_url(password: &str, host_port: &str, db: &str, query: &str) -> Option<String> {
    let base = dbm_testing::postgres_options()?;
    Some(format!(
        "postgres://{}:{password}@{host_port}/{db}{query}",
        base.username()
    ))
}

fn pg_host_port() -> Option<String> {
    dbm_testing::postgres_options().map(|o| format!("{}:{}", o.host(), o.port()))
}

async fn run_cli(args: &[&str]) -> String {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = dbm::cli::run(args.iter().map(|s| s.to_string()), &mut out, &mut err).await;
    format!(
        "exit {code}\n{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    )
}

/// The CLI reading `config` (as `DBM_CONFIG` would make it: the variables of this process
/// cannot be set safely while other threads run).
async fn run_cli_with_config(config: &str, args: &[&str]) -> String {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = dbm::cli::run_with_config(
        dbm::Config::loader().file(config),
        args.iter().map(|s| s.to_string()),
        &mut out,
        &mut err,
    )
    .await;
    format!(
        "exit {code}\n{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    )
}

async fn scenarios(out: &mut Outputs) {
    let dir = tempfile::tempdir().unwrap();

    // A URL that does not parse, with the password in it.
    let bad = format!("postgres://etl:{SECRET_ENCODED}@db.example:notaport/w");
    let e = DatabaseConfig::new("bad", &bad).unwrap_err();
    out.error("malformed url", &e);
    let raw = format!("postgres://etl:{SECRET}@db.example/w"); // not even percent-encoded
    let e = DatabaseConfig::new("raw", &raw).unwrap_err();
    out.error("unencoded password", &e);
    let e = Config::loader()
        .toml(format!("[databases.app]\nurl = \"{bad}\"\n"))
        .load()
        .unwrap()
        .database("app")
        .unwrap_err();
    out.error("config with malformed url", &e);
    out.text("redacted url", dbm::redact_url(&raw));

    // Every malformed URL on every path: connect, configuration, Debug, redaction, CLI.
    for (i, url) in MALFORMED.iter().enumerate() {
        let label = format!("malformed #{i}");
        out.text(&format!("{label} redacted"), dbm::redact_url(url));
        // The URL is read when the settings are made: most of these fail there.
        match DatabaseConfig::new("m", url) {
            Ok(c) => {
                out.text(&format!("{label} config Debug"), format!("{c:?}"));
                if let Err(e) = DatabaseManager::connect(c).await {
                    out.error(&format!("{label} connect"), &e);
                }
            }
            Err(e) => out.error(&format!("{label} settings"), &e),
        }
        assert!(
            !url.contains('\''),
            "the corpus is written as TOML literal strings"
        );
        let toml = format!("[databases.m]\nurl = '{url}'\n");
        let config = Config::loader().toml(&toml).load().unwrap();
        match config.database("m") {
            Ok(c) => out.text(&format!("{label} config"), format!("{c:?} {:?}", c.origins)),
            Err(e) => out.error(&format!("{label} config"), &e),
        }
        let by_var = Config::loader().var("DBM_M_URL", *url).load().unwrap();
        if let Err(e) = by_var.database("m") {
            out.error(&format!("{label} variable"), &e);
        }
        out.text(
            &format!("{label} cli status"),
            run_cli(&["status", "--database", "m", "--url", url]).await,
        );
        out.text(
            &format!("{label} cli status json"),
            run_cli(&["status", "--json", "--database", "m", "--url", url]).await,
        );
        let project = dir.path().join(format!("malformed{i}"));
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("dbm.toml"), &toml).unwrap();
        let cfg = project.join("dbm.toml");
        let cfg = cfg.to_str().unwrap();
        out.text(
            &format!("{label} cli config check"),
            run_cli_with_config(cfg, &["config", "check"]).await,
        );
        out.text(
            &format!("{label} cli config check json"),
            run_cli_with_config(cfg, &["config", "check", "--json"]).await,
        );
    }

    // config check with a secret in a URL, a password file and a password variable.
    std::fs::write(dir.path().join("pw"), format!("{SECRET}\n")).unwrap();
    let toml = format!(
        "[databases.app]\nurl = \"sqlite://app.db\"\n[databases.pg]\nurl = \"postgres://etl:{SECRET_ENCODED}@db.example/w\"\n[databases.pg2]\nurl = \"postgres://etl@db.example/w\"\npassword_file = \"pw\"\n[databases.pg3]\nurl = \"postgres://etl@db.example/w\"\npassword_env = \"PG3_PASSWORD\"\n"
    );
    std::fs::write(dir.path().join("dbm.toml"), &toml).unwrap();
    let config = Config::loader()
        .file(dir.path().join("dbm.toml"))
        .var("PG3_PASSWORD", SECRET)
        .load()
        .unwrap();
    out.text("config Debug", format!("{config:?}"));
    for (name, r) in config.check() {
        match r {
            Ok(c) => {
                out.text(&format!("config {name} Debug"), format!("{c:?}"));
                out.text(
                    &format!("config {name} report"),
                    serde_json::to_string(&c.origins).unwrap(),
                );
            }
            Err(e) => out.error(&format!("config {name}"), &e),
        }
    }

    // SQLite: a failing migration and an exhausted pool.
    let mut sqlite = config.database("app").unwrap();
    sqlite.pool_size = 1;
    sqlite.max_overflow = 0;
    sqlite.timeout = Duration::from_millis(50);
    sqlite.migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&sqlite.migrations).unwrap();
    std::fs::write(
        sqlite.migrations.join("V1__bad.sql"),
        "CREATE TABLE t (x INT);\nNOT SQL;\n",
    )
    .unwrap();
    let db = DatabaseManager::connect(sqlite).await.unwrap();
    let e = db.run_migrations(None).await.unwrap_err();
    out.error("sqlite migration failure", &e);
    let held = db.database().acquire().await.unwrap();
    let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PoolExhausted);
    out.error("sqlite pool timeout", &e);
    drop(held);
    out.text(
        "sqlite status",
        serde_json::to_string(&db.migration_status().await.unwrap()).unwrap(),
    );
    out.text(
        "sqlite health",
        serde_json::to_string(&db.health_check().await).unwrap(),
    );

    // CLI output with the secret in --url.
    out.text(
        "cli status bad url",
        run_cli(&["status", "--url", &bad]).await,
    );
    out.text(
        "cli status bad url json",
        run_cli(&["status", "--json", "--url", &bad]).await,
    );

    sql_server(out, dir.path()).await;

    // PostgreSQL, when a server is configured.
    let Some(host_port) = pg_host_port() else {
        return;
    };
    let wrong = pg_url(SECRET_ENCODED, &host_port, "postgres", "").unwrap();
    let unreachable = pg_url(
        SECRET_ENCODED,
        "127.0.0.1:1",
        "postgres",
        "?connect_timeout=2",
    )
    .unwrap();
    let tls = pg_url(
        SECRET_ENCODED,
        &host_port,
        "postgres",
        "?sslmode=verify-full",
    )
    .unwrap();
    let real_pw = dbm_testing::postgres_password().unwrap_or_default();
    let unknown_db = pg_url(&real_pw, &host_port, "no_such_database_dbm", "").unwrap();
    for (scenario, url) in [
        ("pg wrong password", &wrong),
        ("pg unreachable host", &unreachable),
        ("pg bad tls", &tls),
        ("pg unknown database", &unknown_db),
    ] {
        let mut c = DatabaseConfig::new("pg", url).unwrap();
        c.migrations = dir.path().join("migrations");
        let db = DatabaseManager::connect(c).await.unwrap();
        match db.query("SELECT 1", &Params::new()).await {
            Err(e) => out.error(scenario, &e),
            // A server with trust authentication lets any password in.
            Ok(rows) => {
                out.text(scenario, format!("{rows:?}"));
                dbm_testing::skip(&format!(
                    "no_leaks: `{scenario}` succeeded (the server does not check passwords), so only its success output was checked"
                ));
            }
        }
        out.text(
            &format!("{scenario} health"),
            serde_json::to_string(&db.health_check().await).unwrap(),
        );
        out.text(
            &format!("{scenario} cli"),
            run_cli(&["status", "--json", "--url", url]).await,
        );
        out.text(
            &format!("{scenario} cli health"),
            run_cli(&["health", "--url", url]).await,
        );
    }

    // A working PostgreSQL database: migration failure and pool timeout.
    let t = dbm_testing::TestDb::postgres(dbm_testing::default_pool())
        .await
        .unwrap();
    let name = t.postgres_options().unwrap().database().unwrap().to_owned();
    let c = DatabaseConfig::new("pg", &pg_url(&real_pw, &host_port, &name, "").unwrap()).unwrap();
    working_database(out, "pg", c, dir.path()).await;
}

/// A working database's failures: a failing migration (the directory has a bad file), an
/// exhausted pool, then its migration status and health.
async fn working_database(
    out: &mut Outputs,
    label: &str,
    mut c: DatabaseConfig,
    dir: &std::path::Path,
) {
    c.migrations = dir.join("migrations");
    c.pool_size = 1;
    c.max_overflow = 0;
    c.timeout = Duration::from_millis(50);
    let db = DatabaseManager::connect(c).await.unwrap();
    out.error(
        &format!("{label} migration failure"),
        &db.run_migrations(None).await.unwrap_err(),
    );
    let held = db.database().acquire().await.unwrap();
    out.error(
        &format!("{label} pool timeout"),
        &db.query("SELECT 1", &Params::new()).await.unwrap_err(),
    );
    drop(held);
    out.text(
        &format!("{label} status"),
        serde_json::to_string(&db.migration_status().await.unwrap()).unwrap(),
    );
    out.text(
        &format!("{label} health"),
        serde_json::to_string(&db.health_check().await).unwrap(),
    );
    out.text(
        &format!("{label} pool status"),
        format!("{} {:?}", db.pool_status(), db.pool_status()),
    );
    db.close().await;
}

/// SQL Server over the TDS test server: a wrong password (18456) in each URL form, an
/// unknown database (4060), an unreachable port, then a working database's migration
/// failure, pool timeout, status and health, each through the API and the CLI.
#[cfg(feature = "mssql")]
async fn sql_server(out: &mut Outputs, dir: &std::path::Path) {
    use dbm_testing::tds::TdsServer;
    let server = TdsServer::engine().await;
    let port = server.addr().port();
    let good = TdsServer::PASSWORD;
    let urls = [
        (
            "mssql wrong password",
            format!("mssql://sa:{SECRET_ENCODED}@127.0.0.1:{port}/master?encrypt=DANGER_PLAINTEXT"),
        ),
        (
            "mssql ado wrong password",
            format!(
                "Server=tcp:127.0.0.1,{port};User Id=sa;Password={{{SECRET}}};Encrypt=DANGER_PLAINTEXT"
            ),
        ),
        (
            "mssql jdbc wrong password",
            format!(
                "jdbc:sqlserver://127.0.0.1:{port};user=sa;password={{{SECRET}}};encrypt=DANGER_PLAINTEXT"
            ),
        ),
        (
            "mssql unknown database",
            format!("mssql://sa:{good}@127.0.0.1:{port}/no_such_db?encrypt=DANGER_PLAINTEXT"),
        ),
        (
            "mssql unreachable",
            format!(
                "mssql://sa:{SECRET_ENCODED}@127.0.0.1:1/w?encrypt=DANGER_PLAINTEXT&connect_timeout=2"
            ),
        ),
    ];
    for (scenario, url) in &urls {
        let c = DatabaseConfig::new("ms", url).unwrap();
        out.text(&format!("{scenario} config Debug"), format!("{c:?}"));
        let db = DatabaseManager::connect(c).await.unwrap();
        let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
        out.error(scenario, &e);
        out.text(
            &format!("{scenario} health"),
            serde_json::to_string(&db.health_check().await).unwrap(),
        );
        out.text(
            &format!("{scenario} cli"),
            run_cli(&["status", "--json", "--url", url]).await,
        );
        out.text(
            &format!("{scenario} cli health"),
            run_cli(&["health", "--url", url]).await,
        );
    }
    // A working database.
    let c = DatabaseConfig::new("ms", &server.url("master")).unwrap();
    working_database(out, "mssql", c, dir).await;
}

#[cfg(not(feature = "mssql"))]
async fn sql_server(_: &mut Outputs, _: &std::path::Path) {}

#[test]
fn no_secret_appears_in_logs_errors_json_or_cli_output() {
    let capture = dbm_testing::LogCapture::install(tracing::Level::TRACE);
    let mut outputs = Outputs::default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenarios(&mut outputs));

    let logs = capture.text();
    // The subscriber saw the run: the failed operations' debug events are there.
    assert!(
        logs.contains("database operation failed"),
        "nothing captured:\n{logs}"
    );
    let mut secrets = vec![SECRET.to_owned(), SECRET_ENCODED.to_owned()];
    secrets.extend(FRAGMENTS.iter().map(|f| (*f).to_owned()));
    if let Some(pw) = dbm_testing::postgres_password().filter(|p| p.len() >= 6) {
        secrets.push(pw);
    }
    #[cfg(feature = "mssql")]
    secrets.push(dbm_testing::tds::TdsServer::PASSWORD.to_owned());
    let mut leaks = Vec::new();
    for secret in &secrets {
        if let Some(pos) = logs.find(secret.as_str()) {
            let start = logs[..pos].rfind('\n').map_or(0, |p| p + 1);
            leaks.push(format!(
                "logs: {}",
                &logs[start..(pos + 80).min(logs.len())]
            ));
        }
        for (scenario, text) in &outputs.texts {
            if text.contains(secret.as_str()) {
                leaks.push(format!("{scenario}: {text}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    // The SQL Server scenarios reached the server and were refused for the right reasons.
    #[cfg(feature = "mssql")]
    for (scenario, needle) in [
        (
            "mssql wrong password (Display)",
            "Login failed for user 'sa'",
        ),
        (
            "mssql ado wrong password (Display)",
            "Login failed for user 'sa'",
        ),
        (
            "mssql jdbc wrong password (Display)",
            "Login failed for user 'sa'",
        ),
        ("mssql unknown database (Display)", "Cannot open database"),
        ("mssql unreachable (Display)", "cannot talk to 127.0.0.1:1"),
    ] {
        assert!(
            outputs
                .texts
                .iter()
                .any(|(s, t)| s == scenario && t.contains(needle)),
            "{scenario}: {needle}"
        );
    }
    assert!(
        outputs.texts.len() >= 20,
        "scenarios ran: {}",
        outputs.texts.len()
    );
}
