//! Instructions per unit of work, counted by callgrind: the bench binary runs itself under
//! `valgrind --tool=callgrind` with `--loop WORKLOAD N`, once with N and once with 2N units,
//! and the difference divided by N is the cost of one unit (start-up, connecting and
//! warming up cancel out). Counts are repeatable, unlike times on a shared machine.

use std::process::Command;

use dbm::{DatabaseConfig, DatabaseManager};

/// The workloads `--loop` knows: (name, what one unit is).
pub(crate) const WORKLOADS: &[(&str, &str)] = &[
    ("pg-select1-dbm", "query"),
    ("pg-fetch-one-dbm", "query"),
    ("pg-select1-sqlx", "query"),
    ("pg-select1-sqlx-all", "query"),
    ("pg-fetch-dbm", "row"),
    ("pg-fetch-sqlx", "row"),
    ("pg-stream-dbm", "row"),
    ("pg-stream-sqlx", "row"),
    ("sqlite-fetch-dbm", "row"),
    ("sqlite-fetch-rusqlite", "row"),
];

/// Rows per fetch in the row workloads (one unit is a row).
const FETCH_ROWS: usize = 1_000;

const PG_FETCH: &str = "SELECT i, 'name ' || i, i * 1.5::float8, i % 2 = 0, \
                        TIMESTAMPTZ '2026-11-28 12:00:00+00' FROM generate_series(1, 1000) i";

type PgTyped = (i32, String, f64, bool, chrono::DateTime<chrono::Utc>);

/// Runs `workload` `n` times (after one warm-up run): what callgrind counts.
pub(crate) async fn run(workload: &str, n: usize, pg: Option<String>) {
    let pg_url = || pg.clone().expect("DBM_TEST_POSTGRES_URL");
    match workload {
        "pg-select1-dbm" => {
            let db = manager(&pg_url()).await;
            for _ in 0..=n {
                db.query("SELECT 1", ()).await.expect("select 1");
            }
        }
        "pg-fetch-one-dbm" => {
            let db = manager(&pg_url()).await;
            for _ in 0..=n {
                db.fetch_one("SELECT 1", ()).await.expect("select 1");
            }
        }
        "pg-select1-sqlx" => {
            let mut c = sqlx_conn(&pg_url()).await;
            for _ in 0..=n {
                let _: (i32,) = sqlx::query_as("SELECT 1")
                    .fetch_one(&mut c)
                    .await
                    .expect("select 1");
            }
        }
        "pg-select1-sqlx-all" => {
            // `fetch_all`, the sqlx call that returns every row as dbm's `query` does.
            let mut c = sqlx_conn(&pg_url()).await;
            for _ in 0..=n {
                let _: Vec<(i32,)> = sqlx::query_as("SELECT 1")
                    .fetch_all(&mut c)
                    .await
                    .expect("select 1");
            }
        }
        "pg-fetch-dbm" => {
            let db = manager(&pg_url()).await;
            for _ in 0..=n / FETCH_ROWS {
                db.query(PG_FETCH, ()).await.expect("fetch");
            }
        }
        "pg-fetch-sqlx" => {
            let mut c = sqlx_conn(&pg_url()).await;
            for _ in 0..=n / FETCH_ROWS {
                let _: Vec<PgTyped> = sqlx::query_as(PG_FETCH)
                    .fetch_all(&mut c)
                    .await
                    .expect("fetch");
            }
        }
        "pg-stream-dbm" => {
            let db = manager(&pg_url()).await;
            for _ in 0..=n / FETCH_ROWS {
                let stream = db.query_stream(PG_FETCH, ()).await.expect("stream");
                crate::measure::drain(stream, FETCH_ROWS).await;
            }
        }
        "pg-stream-sqlx" => {
            let mut c = sqlx_conn(&pg_url()).await;
            for _ in 0..=n / FETCH_ROWS {
                let stream = sqlx::query_as::<_, PgTyped>(PG_FETCH).fetch(&mut c);
                crate::measure::drain(stream, FETCH_ROWS).await;
            }
        }
        "sqlite-fetch-dbm" | "sqlite-fetch-rusqlite" => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("bench.db");
            crate::sqlite::fill(&path, FETCH_ROWS as i64);
            let sql = "SELECT a, b, c, d, e FROM t";
            if workload.ends_with("dbm") {
                let url = format!("sqlite://{}", path.display());
                let db = manager(&url).await;
                for _ in 0..=n / FETCH_ROWS {
                    db.query(sql, ()).await.expect("fetch");
                }
            } else {
                let raw = rusqlite::Connection::open(&path).expect("sqlite");
                for _ in 0..=n / FETCH_ROWS {
                    crate::sqlite::typed(&raw, sql);
                }
            }
        }
        other => panic!("unknown --loop workload {other}"),
    }
}

async fn manager(url: &str) -> DatabaseManager {
    DatabaseManager::connect(DatabaseConfig::new("bench", url).expect("config"))
        .await
        .expect("open")
}

async fn sqlx_conn(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection as _;
    sqlx::PgConnection::connect(url)
        .await
        .expect("sqlx connect")
}

/// Instructions callgrind counted for `workload` run `n` times, or why there is no count.
fn count(workload: &str, n: usize) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out_file = std::env::temp_dir().join(format!("dbm-bench-callgrind.{}", std::process::id()));
    let out = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(&exe)
        .args(["--loop", workload, &n.to_string()])
        .output()
        .map_err(|e| format!("valgrind could not be run ({e}); apt install valgrind"))?;
    let _ = std::fs::remove_file(&out_file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("valgrind failed: {}", stderr.trim()));
    }
    // "==123== Collected : 123456789"
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| {
            format!(
                "no instruction count in valgrind's output: {}",
                stderr.trim()
            )
        })
}

/// Instructions per unit of `workload`: the count for 2n units minus the count for n, over n.
pub(crate) fn per_unit(workload: &str, n: usize) -> Result<f64, String> {
    let one = count(workload, n)?;
    let two = count(workload, 2 * n)?;
    if two <= one {
        return Err(format!(
            "{workload}: {two} instructions for {} units, {one} for {n}: the loop did not run",
            2 * n
        ));
    }
    Ok((two - one) as f64 / n as f64)
}
