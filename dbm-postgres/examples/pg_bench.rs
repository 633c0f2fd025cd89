//! Throughput of the dbm pool against sqlx's own pool, and the cost of the row format.
//!
//! ```sh
//! export DBM_TEST_POSTGRES_URL=postgres://user:pass@127.0.0.1:5432/postgres
//! cargo run --release -p dbm-postgres --example pg_bench
//! ```
//!
//! Prints queries per second for `SELECT 1` from 8 concurrent tasks through each pool, and
//! the time to fetch 100,000 rows x 5 columns as dbm `Rows`. Compare with
//! `pgbench -S`-style figures from `pgbench -n -c 8 -j 2 -T 10 -f select1.sql`.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use dbm_core::{Database, Params, PoolConfig};
use dbm_postgres::PgOptions;

const TASKS: usize = 8;
const RUN: Duration = Duration::from_secs(5);

/// Queries per second of `op`, run back to back from `TASKS` tasks for `RUN`.
async fn throughput<F, Fut>(op: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < RUN {
                op().await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// The process's peak resident set (VmHWM), in MB; 0 where /proc is missing.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("DBM_TEST_POSTGRES_URL").expect("set DBM_TEST_POSTGRES_URL");
    let options: PgOptions = url.parse().expect("valid URL");

    let db: Arc<dyn Database> = Arc::new(dbm_postgres::open(
        "bench",
        options,
        PoolConfig::new("bench")
            .pool_size(TASKS as u32)
            .max_overflow(0),
    ));
    db.query("SELECT 1", &Params::new()).await.expect("connect");
    let dbm_db = db.clone();
    let dbm_qps = throughput(move || {
        let db = dbm_db.clone();
        async move {
            db.query("SELECT 1 AS one", &Params::new())
                .await
                .expect("query");
        }
    })
    .await;

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(TASKS as u32)
        .connect(&url)
        .await
        .expect("sqlx pool");
    let sqlx_pool = pool.clone();
    let sqlx_qps = throughput(move || {
        let pool = sqlx_pool.clone();
        async move {
            let _: i32 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&pool)
                .await
                .expect("query");
        }
    })
    .await;
    pool.close().await;

    println!("SELECT 1, {TASKS} tasks, {} s each:", RUN.as_secs());
    println!("  dbm pool   {dbm_qps:>9.0} queries/s");
    println!("  sqlx pool  {sqlx_qps:>9.0} queries/s");
    println!("  ratio      {:>9.2}x", dbm_qps / sqlx_qps);

    let sql = "SELECT g AS id, g * 2 AS twice, 'name ' || g AS name, g / 3.0 AS ratio, (g % 2 = 0) AS even FROM generate_series(1, 100000) AS g";
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let rows = db.query(sql, &Params::new()).await.expect("rows");
        assert_eq!(rows.len(), 100_000);
        best = best.min(started.elapsed());
    }
    println!(
        "100,000 rows x 5 columns into Rows: best of 5 {:.0} ms",
        best.as_secs_f64() * 1000.0
    );

    // Streaming keeps memory flat; collecting holds every row. Peak RSS only grows, so the
    // stream is measured first.
    let big = "SELECT g AS id, g * 2 AS twice, 'name ' || g AS name, (g % 2 = 0) AS even FROM generate_series(1, 1000000) AS g";
    let base = peak_rss_mb();
    let started = Instant::now();
    let mut stream = db.query_stream(big, &Params::new()).await.expect("stream");
    let mut n = 0u64;
    while let Some(row) = stream.next().await {
        row.expect("row");
        n += 1;
    }
    assert_eq!(n, 1_000_000);
    let streamed = started.elapsed();
    let after_stream = peak_rss_mb();
    let started = Instant::now();
    let rows = db.query(big, &Params::new()).await.expect("rows");
    assert_eq!(rows.len(), 1_000_000);
    let collected = started.elapsed();
    let after_collect = peak_rss_mb();
    drop(rows);
    println!(
        "1,000,000 rows x 4 columns: streamed {:.0} ms (peak RSS +{:.0} MB), collected {:.0} ms (peak RSS +{:.0} MB)",
        streamed.as_secs_f64() * 1000.0,
        after_stream - base,
        collected.as_secs_f64() * 1000.0,
        after_collect - after_stream,
    );
    db.close().await;
}
