//! The migration engine on 1,000 files next to running the same files by hand with the raw
//! driver (each in its own transaction), and the engine's inputs at 1x and 10x size:
//! splitting a script and binding named parameters.

use std::fmt::Write as _;
use std::path::Path;

use std::str::FromStr as _;
use std::sync::Arc;

use dbm::{Database, DatabaseConfig, DatabaseManager};
use dbm_core::PoolConfig;
use dbm_core::{Params, PlaceholderStyle, ScriptSplit, SqlSyntax};
use dbm_migrate::Migrator;
use dbm_postgres::PgOptions;
use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;

use crate::Sizes;
use crate::measure::{Sample, measure, report};

/// Writes `n` migration files (`V1__step_1.sql` ...) into `dir`: a table and a row each.
fn write_files(dir: &Path, n: usize) -> Vec<String> {
    std::fs::create_dir_all(dir).expect("migrations dir");
    (1..=n)
        .map(|i| {
            let sql = format!(
                "CREATE TABLE step_{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
                 INSERT INTO step_{i} (id, name) VALUES ({i}, 'step {i}');\n"
            );
            std::fs::write(dir.join(format!("V{i}__step_{i}.sql")), &sql).expect("write");
            sql
        })
        .collect()
}

/// The database the PostgreSQL runs use, made afresh before each.
const PG_DATABASE: &str = "dbm_bench_mig";

/// Applies the migrations in `dir` to `db`, then closes it.
async fn migrate(db: Arc<dyn Database>, dir: &Path) {
    let mut conn = db.acquire().await.expect("checkout");
    let report = Migrator::new(dir, "bench_mig")
        .migrate(conn.as_mut(), None)
        .await
        .expect("migrate");
    assert!(!report.applied.is_empty());
    drop(conn);
    db.close().await;
}

async fn open_sqlite(url: &str) -> Arc<dyn Database> {
    DatabaseManager::connect(DatabaseConfig::new("bench_mig", url).expect("config"))
        .await
        .expect("open")
        .database()
}

pub(crate) async fn sqlite(s: Sizes) {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("migrations");
    let files = write_files(&dir, s.migrations);
    let (mut d, mut r): (Vec<Sample>, Vec<Sample>) = (Vec::new(), Vec::new());
    for rep in 0..s.reps {
        let path = root.path().join(format!("dbm-{rep}.db"));
        let url = format!("sqlite://{}", path.display());
        d.push(measure(|| async { migrate(open_sqlite(&url).await, &dir).await }).await);
        let path = root.path().join(format!("raw-{rep}.db"));
        r.push(
            measure(|| async {
                let mut c = rusqlite::Connection::open(&path).expect("sqlite");
                // The settings dbm opens SQLite files with.
                c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")
                    .expect("pragmas");
                for sql in &files {
                    let tx = c.transaction().expect("begin");
                    tx.execute_batch(sql).expect("file");
                    tx.commit().expect("commit");
                }
            })
            .await,
        );
    }
    let title = format!("SQLite {} migrations, fresh file", s.migrations);
    report(
        &title,
        "file",
        s.migrations,
        &mut d,
        Some(("rusqlite by hand", &mut r)),
    );
}

pub(crate) async fn postgres(s: Sizes, url: &str) {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("migrations");
    let files = write_files(&dir, s.migrations);
    // Both sides work in a database of their own, made afresh before each run.
    let options: PgOptions = url.parse().expect("PostgreSQL URL");
    let raw_options = PgConnectOptions::from_str(url)
        .expect("PostgreSQL URL")
        .database(PG_DATABASE);
    let mut admin = sqlx::PgConnection::connect(url).await.expect("connect");
    let (mut d, mut r): (Vec<Sample>, Vec<Sample>) = (Vec::new(), Vec::new());
    for _ in 0..s.reps {
        fresh(&mut admin).await;
        d.push(
            measure(|| {
                let db = dbm_postgres::open(
                    "bench_mig",
                    options.clone().with_database(PG_DATABASE),
                    PoolConfig::new("bench_mig"),
                );
                migrate(Arc::new(db), &dir)
            })
            .await,
        );
        fresh(&mut admin).await;
        r.push(
            measure(|| async {
                let mut c = sqlx::PgConnection::connect_with(&raw_options)
                    .await
                    .expect("connect");
                for sql in &files {
                    let mut tx = c.begin().await.expect("begin");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                        .execute(&mut *tx)
                        .await
                        .expect("file");
                    tx.commit().await.expect("commit");
                }
                c.close().await.expect("close");
            })
            .await,
        );
    }
    admin_sql(
        &mut admin,
        &format!("DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"),
    )
    .await;
    let title = format!("PostgreSQL {} migrations, fresh database", s.migrations);
    report(
        &title,
        "file",
        s.migrations,
        &mut d,
        Some(("sqlx by hand", &mut r)),
    );
}

/// Drops and creates the database the PostgreSQL runs use.
async fn fresh(admin: &mut sqlx::PgConnection) {
    admin_sql(
        admin,
        &format!("DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"),
    )
    .await;
    admin_sql(admin, &format!("CREATE DATABASE {PG_DATABASE}")).await;
}

async fn admin_sql(admin: &mut sqlx::PgConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(admin)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e} (the role needs CREATEDB)"));
}

/// A script of about `bytes` bytes: INSERTs whose literals and comments hold `;`.
fn script(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 256);
    let mut i = 0u64;
    while s.len() < bytes {
        let _ = writeln!(
            s,
            "-- row {i}\nINSERT INTO seed (id, note) VALUES ({i}, 'a; b /* {i} */'); /* c; */"
        );
        i += 1;
    }
    s
}

/// Splitting a script and binding named parameters at 1x and 10x: the time per unit stays
/// flat when the work is linear.
pub(crate) async fn inputs(s: Sizes) {
    let mut per_mb = Vec::new();
    for mb in [s.script_mb, s.script_mb * 10] {
        let text = script(mb << 20);
        let mut samples = Vec::new();
        for _ in 0..s.reps {
            samples.push(
                measure(|| async {
                    let n =
                        dbm_core::split_script(&text, &SqlSyntax::POSTGRES, ScriptSplit::Semicolon)
                            .len();
                    assert!(n > 0);
                })
                .await,
            );
        }
        let title = format!("split_script, {mb} MB");
        report(&title, "MB", mb, &mut samples, None);
        per_mb.push(crate::measure::median(&mut samples).as_secs_f64() / mb as f64);
    }
    println!(
        "{:<40} time per MB at 10x / at 1x: {:.2}",
        "",
        per_mb[1] / per_mb[0]
    );

    let mut per_param = Vec::new();
    for n in [s.params, s.params * 10] {
        let mut params = Params::new();
        let mut sql = String::from("INSERT INTO t VALUES ");
        for i in 0..n {
            params.insert(format!("p{i}"), i as i64);
            let _ = write!(sql, "{}(:p{i})", if i > 0 { ", " } else { "" });
        }
        let mut samples = Vec::new();
        for _ in 0..s.reps {
            samples.push(
                measure(|| async {
                    let b = dbm_core::bind_named(
                        &sql,
                        &params,
                        PlaceholderStyle::Dollar,
                        &SqlSyntax::POSTGRES,
                    )
                    .expect("bind");
                    assert_eq!(b.values.len(), n);
                })
                .await,
            );
        }
        let title = format!("bind_named, {n} distinct parameters");
        report(&title, "param", n, &mut samples, None);
        per_param.push(crate::measure::median(&mut samples).as_secs_f64() / n as f64);
    }
    println!(
        "{:<40} time per parameter at 10x / at 1x: {:.2}",
        "",
        per_param[1] / per_param[0]
    );
}
