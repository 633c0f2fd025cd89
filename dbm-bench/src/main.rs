//! dbm next to the raw drivers it wraps, in one process, interleaved, on the same data:
//! time and heap allocations (a counting global allocator) per workload.
//!
//! ```sh
//! export DBM_TEST_POSTGRES_URL=postgres://user:pass@127.0.0.1:5432/postgres
//! cargo run --release -p dbm-bench            # the full run (a few minutes)
//! cargo run --release -p dbm-bench -- --quick # what CI runs: small sizes, one repetition
//! ```
//!
//! Each workload runs `REPS` times, alternating dbm and the raw driver, and prints the median
//! with min and max, allocations per unit, and the ratio dbm / raw of the medians. PostgreSQL
//! workloads need `DBM_TEST_POSTGRES_URL` (they say so and are left out without it).
#![allow(clippy::print_stdout)]

use std::alloc::System;
use std::time::{Duration, Instant};

use dbm::{DatabaseConfig, DatabaseManager};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    reps: usize,
    select1: usize,
    rows: i64,
    checkouts: usize,
}

/// One measured run: its time and the heap allocations it made.
#[derive(Debug, Clone, Copy)]
struct Sample {
    time: Duration,
    allocs: usize,
}

/// Runs `f`, timing it and counting its allocations.
async fn measure<F, Fut>(f: F) -> Sample
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    f().await;
    let time = started.elapsed();
    Sample {
        time,
        allocs: region.change().allocations,
    }
}

/// Median, min and max of the samples' times, and the median allocation count.
fn summary(samples: &mut [Sample]) -> (Duration, Duration, Duration, usize) {
    samples.sort_by_key(|s| s.time);
    let times = (
        samples[samples.len() / 2].time,
        samples[0].time,
        samples[samples.len() - 1].time,
    );
    let mut allocs: Vec<usize> = samples.iter().map(|s| s.allocs).collect();
    allocs.sort_unstable();
    (times.0, times.1, times.2, allocs[allocs.len() / 2])
}

/// Prints one workload: dbm's and the raw driver's figures per `unit` of `per` units, and
/// the ratio of the medians.
fn report(
    name: &str,
    unit: &str,
    per: usize,
    dbm: &mut [Sample],
    raw: Option<(&str, &mut [Sample])>,
) {
    let (m, lo, hi, a) = summary(dbm);
    let per_unit = |d: Duration| d.as_secs_f64() * 1e6 / per as f64;
    print!(
        "{name:<34} dbm {:>9.2} us/{unit} (min {:.2}, max {:.2}) {:>7.1} allocs/{unit}",
        per_unit(m),
        per_unit(lo),
        per_unit(hi),
        a as f64 / per as f64
    );
    if let Some((raw_name, raw)) = raw {
        let (rm, rlo, rhi, ra) = summary(raw);
        print!(
            " | {raw_name} {:.2} us (min {:.2}, max {:.2}) {:.1} allocs | ratio {:.2}x",
            per_unit(rm),
            per_unit(rlo),
            per_unit(rhi),
            ra as f64 / per as f64,
            m.as_secs_f64() / rm.as_secs_f64()
        );
    }
    println!();
}

/// `n` sequential `SELECT 1` through the manager.
async fn select1(db: &DatabaseManager, n: usize) -> Sample {
    measure(|| async {
        for _ in 0..n {
            db.query("SELECT 1", ()).await.expect("select 1");
        }
    })
    .await
}

/// The samples of one product's workloads, dbm's and the raw driver's.
struct Set {
    fetch: (Vec<Sample>, Vec<Sample>),
    dropped: (Vec<Sample>, Vec<Sample>),
    select1: (Vec<Sample>, Vec<Sample>),
}

impl Set {
    fn print(&mut self, product: &str, (raw_rows, raw_one): (&str, &str), s: Sizes) {
        let n = s.rows as usize;
        let title = format!("{product} {n} rows x 5 into Rows");
        report(
            &title,
            "row",
            n,
            &mut self.fetch.0,
            Some((raw_rows, &mut self.fetch.1)),
        );
        let title = format!("{product} dropping that result");
        report(
            &title,
            "row",
            n,
            &mut self.dropped.0,
            Some(("typed", &mut self.dropped.1)),
        );
        let title = format!("{product} SELECT 1, sequential");
        report(
            &title,
            "query",
            s.select1,
            &mut self.select1.0,
            Some((raw_one, &mut self.select1.1)),
        );
    }
}

async fn sqlite_workloads(s: Sizes) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    {
        let c = rusqlite::Connection::open(&path).expect("sqlite");
        c.execute_batch(&format!(
            "CREATE TABLE t (a INTEGER, b TEXT, c REAL, d INTEGER, e TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
             INSERT INTO t SELECT i, 'name ' || i, i * 1.5, i % 2, '2026-11-28T12:00:00Z' FROM n;",
            s.rows
        ))
        .expect("fill");
    }
    let url = format!("sqlite://{}", path.display());
    let db = DatabaseManager::connect(DatabaseConfig::new("bench", &url).expect("config"))
        .await
        .expect("open");
    let raw = rusqlite::Connection::open(&path).expect("sqlite");
    let sql = "SELECT a, b, c, d, e FROM t";
    // Warm up: open the pooled connection, prepare the statements.
    db.query(sql, ()).await.expect("warm-up");
    db.query("SELECT 1", ()).await.expect("warm-up");
    let (mut d, mut r, mut dd, mut rd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut s1, mut r1) = (Vec::new(), Vec::new());
    for _ in 0..s.reps {
        let mut rows = None;
        d.push(measure(|| async { rows = Some(db.query(sql, ()).await.expect("query")) }).await);
        dd.push(measure(|| async { drop(rows.take()) }).await);
        let mut typed = None;
        r.push(
            measure(|| async {
                let mut stmt = raw.prepare_cached(sql).expect("prepare");
                let v: Vec<(i64, String, f64, bool, String)> = stmt
                    .query_map([], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows");
                typed = Some(v);
            })
            .await,
        );
        rd.push(measure(|| async { drop(typed.take()) }).await);
        s1.push(select1(&db, s.select1).await);
        r1.push(
            measure(|| async {
                for _ in 0..s.select1 {
                    let mut stmt = raw.prepare_cached("SELECT 1").expect("prepare");
                    let _: i64 = stmt.query_row([], |r| r.get(0)).expect("select 1");
                }
            })
            .await,
        );
    }
    let mut set = Set {
        fetch: (d, r),
        dropped: (dd, rd),
        select1: (s1, r1),
    };
    set.print("SQLite", ("rusqlite typed", "rusqlite"), s);
    db.close().await;
}

async fn postgres_workloads(s: Sizes, url: &str) {
    use sqlx::Connection as _;
    let db = DatabaseManager::connect(DatabaseConfig::new("bench_pg", url).expect("config"))
        .await
        .expect("open");
    let mut raw = sqlx::PgConnection::connect(url)
        .await
        .expect("sqlx connect");
    let sql = format!(
        "SELECT i, 'name ' || i, i * 1.5::float8, i % 2 = 0, TIMESTAMPTZ '2026-11-28 12:00:00+00' \
         FROM generate_series(1, {}) i",
        s.rows
    );
    // Warm up: open the pooled connection, prepare the statements on both sides.
    db.query(&sql, ()).await.expect("warm-up");
    db.query("SELECT 1", ()).await.expect("warm-up");
    let _: (i32,) = sqlx::query_as("SELECT 1")
        .fetch_one(&mut raw)
        .await
        .expect("warm-up");
    let (mut d, mut r, mut dd, mut rd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut s1, mut r1) = (Vec::new(), Vec::new());
    type Typed = (i32, String, f64, bool, chrono::DateTime<chrono::Utc>);
    for _ in 0..s.reps {
        let mut rows = None;
        d.push(measure(|| async { rows = Some(db.query(&sql, ()).await.expect("query")) }).await);
        dd.push(measure(|| async { drop(rows.take()) }).await);
        let mut typed: Option<Vec<Typed>> = None;
        r.push(
            measure(|| async {
                typed = Some(
                    sqlx::query_as::<_, Typed>(sqlx::AssertSqlSafe(sql.clone()))
                        .fetch_all(&mut raw)
                        .await
                        .expect("sqlx query"),
                );
            })
            .await,
        );
        rd.push(measure(|| async { drop(typed.take()) }).await);
        s1.push(select1(&db, s.select1).await);
        r1.push(
            measure(|| async {
                for _ in 0..s.select1 {
                    let _: (i32,) = sqlx::query_as("SELECT 1")
                        .fetch_one(&mut raw)
                        .await
                        .expect("select 1");
                }
            })
            .await,
        );
    }
    let mut set = Set {
        fetch: (d, r),
        dropped: (dd, rd),
        select1: (s1, r1),
    };
    set.print("PostgreSQL", ("sqlx typed", "sqlx PgConnection"), s);
    db.close().await;
}

/// Checkouts per second from 64 tasks on a pool of 10 (no query).
async fn checkout_rate(s: Sizes) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("pool.db").display());
    let mut c = DatabaseConfig::new("pool", &url).expect("config");
    c.pool_size = 10;
    c.max_overflow = 0;
    let db = DatabaseManager::connect(c).await.expect("open").database();
    // Open the pool's ten connections first: checkouts, not connects, are measured.
    let held: Vec<_> = futures_join(&db).await;
    drop(held);
    let mut samples = Vec::new();
    for _ in 0..s.reps {
        samples.push(
            measure(|| async {
                let tasks: Vec<_> = (0..64)
                    .map(|_| {
                        let db = db.clone();
                        tokio::spawn(async move {
                            for _ in 0..s.checkouts / 64 {
                                drop(db.acquire().await.expect("checkout"));
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
            })
            .await,
        );
    }
    let per = s.checkouts / 64 * 64;
    let (m, _, _, _) = summary(&mut samples);
    report(
        "pool checkout + return, 64 tasks",
        "checkout",
        per,
        &mut samples,
        None,
    );
    println!(
        "{:<34} {:.2} M checkouts/s (median)",
        "",
        per as f64 / m.as_secs_f64() / 1e6
    );
}

/// Ten connections checked out at once (so the pool opens all of them).
async fn futures_join(db: &std::sync::Arc<dyn dbm::Database>) -> Vec<Box<dyn dbm::Connection>> {
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(db.acquire().await.expect("checkout"));
    }
    held
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let s = if quick {
        Sizes {
            reps: 1,
            select1: 200,
            rows: 10_000,
            checkouts: 6_400,
        }
    } else {
        Sizes {
            reps: 5,
            select1: 5_000,
            rows: 100_000,
            checkouts: 640_000,
        }
    };
    println!(
        "dbm-bench ({}; {} repetitions, dbm and raw interleaved; allocations counted by a global allocator)",
        if quick { "quick" } else { "full" },
        s.reps
    );
    sqlite_workloads(s).await;
    match std::env::var("DBM_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => postgres_workloads(s, &url).await,
        _ => println!("PostgreSQL workloads left out: DBM_TEST_POSTGRES_URL is not set"),
    }
    checkout_rate(s).await;
}
