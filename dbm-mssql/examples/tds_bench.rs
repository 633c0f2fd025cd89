//! SQL Server driver figures on the TDS test server (and PostgreSQL for comparison):
//!
//! ```sh
//! export DBM_TEST_POSTGRES_URL=postgres://user:pass@127.0.0.1:5432/postgres   # optional
//! cargo run --release -p dbm-mssql --example tds_bench
//! ```
//!
//! Prints the per-query round trip of `SELECT 1` through the dbm pool (one connection,
//! queries back to back) on the TDS engine server and on PostgreSQL; 20,000 rows streamed
//! and collected; and the time from a statement's timeout to its error when the server
//! acknowledges the ATTENTION, and when it does not (the KILL fallback). The test server
//! is SQLite behind the TDS wire: these figures measure dbm's driver and the protocol, not
//! SQL Server.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use dbm_core::{Database, Params, PoolConfig};
use dbm_testing::tds::{Action, Column, Script, TdsServer, TdsType, TdsValue};

const ROUND_TRIPS: u32 = 2_000;
const ROWS: i64 = 20_000;

fn pool() -> PoolConfig {
    PoolConfig::new("bench").pool_size(1).max_overflow(0)
}

/// Mean microseconds per `SELECT 1` on `db`, after a warm-up.
async fn round_trip(db: &dyn Database) -> f64 {
    for _ in 0..50 {
        db.query("SELECT 1 AS one", &Params::new())
            .await
            .expect("warm-up");
    }
    let started = Instant::now();
    for _ in 0..ROUND_TRIPS {
        db.query("SELECT 1 AS one", &Params::new())
            .await
            .expect("query");
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUND_TRIPS)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Round trips.
    let engine = TdsServer::engine().await;
    let tds = dbm_mssql::open("bench", engine.url("master").parse().expect("url"), pool());
    let tds_us = round_trip(&tds).await;
    println!("round trip, SELECT 1, one connection, {ROUND_TRIPS} queries:");
    println!("  TDS test server (engine): {tds_us:8.1} µs/query");
    match std::env::var("DBM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let pg = dbm_postgres::open("bench", url.parse().expect("url"), pool());
            let pg_us = round_trip(&pg).await;
            println!("  PostgreSQL:               {pg_us:8.1} µs/query");
            pg.close().await;
        }
        _ => println!("  PostgreSQL:               (DBM_TEST_POSTGRES_URL not set)"),
    }

    // 20,000 rows, streamed and collected.
    tds.execute(
        "CREATE TABLE s (n BIGINT PRIMARY KEY, label NVARCHAR(40) NOT NULL)",
        &Params::new(),
    )
    .await
    .expect("create");
    for chunk in (1..=ROWS).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk.iter().map(|n| format!("({n}, N'row {n}')")).collect();
        tds.execute(
            &format!("INSERT INTO s (n, label) VALUES {}", values.join(", ")),
            &Params::new(),
        )
        .await
        .expect("insert");
    }
    let started = Instant::now();
    let mut stream = tds
        .query_stream("SELECT n, label FROM s ORDER BY n", &Params::new())
        .await
        .expect("stream");
    let mut n = 0i64;
    while let Some(row) = stream.next().await {
        let row = row.expect("row");
        n += 1;
        assert_eq!(row.get::<i64>("n").expect("n"), n);
    }
    let streamed = started.elapsed();
    assert_eq!(n, ROWS);
    let started = Instant::now();
    let rows = tds
        .query("SELECT n, label FROM s ORDER BY n", &Params::new())
        .await
        .expect("query");
    let collected = started.elapsed();
    assert_eq!(rows.len() as i64, ROWS);
    println!("{ROWS} rows x 2 columns from the TDS engine server:");
    println!(
        "  streamed:  {:7.1} ms ({:.0} rows/s)",
        streamed.as_secs_f64() * 1e3,
        ROWS as f64 / streamed.as_secs_f64()
    );
    println!(
        "  collected: {:7.1} ms ({:.0} rows/s)",
        collected.as_secs_f64() * 1e3,
        ROWS as f64 / collected.as_secs_f64()
    );
    tds.close().await;

    // Timeout to error.
    let spid = Action::Rows {
        columns: vec![Column::new("spid", TdsType::Int)],
        rows: vec![vec![TdsValue::Int(51)]],
    };
    let one = Action::Rows {
        columns: vec![Column::new("one", TdsType::Int)],
        rows: vec![vec![TdsValue::Int(1)]],
    };
    let script = Script::new()
        .on(
            "SET XACT_ABORT ON; SELECT @@SPID AS spid",
            vec![Action::Done, spid],
        )
        .on("SELECT 1 AS one", vec![one])
        .on("KILL 51", vec![Action::Done])
        .on(
            "STALL",
            vec![Action::StallUntilAttention {
                columns: Vec::new(),
                rows: Vec::new(),
            }],
        )
        .on(
            "DEAF",
            vec![Action::Sleep(Duration::from_secs(10)), Action::Done],
        );
    let scripted = TdsServer::scripted(script).await;
    let limit = Duration::from_millis(100);
    let latency = |sql: &'static str, runs: usize| {
        let url = scripted.url("master");
        async move {
            let mut times = Vec::new();
            for _ in 0..runs {
                let db = Arc::new(dbm_mssql::open("bench", url.parse().expect("url"), pool()));
                db.query("SELECT 1 AS one", &Params::new())
                    .await
                    .expect("connect");
                let started = Instant::now();
                let e = db
                    .query_with_timeout(sql, &Params::new(), limit)
                    .await
                    .expect_err("a timeout");
                times.push(started.elapsed().saturating_sub(limit));
                assert_eq!(e.kind(), dbm_core::ErrorKind::Timeout);
                db.close().await;
            }
            median(times)
        }
    };
    let attention = latency("STALL", 21).await;
    let kill = latency("DEAF", 3).await;
    println!("timeout ({} ms) to error, median:", limit.as_millis());
    println!(
        "  ATTENTION acknowledged:         {:7.1} ms after the limit (21 runs)",
        attention.as_secs_f64() * 1e3
    );
    println!(
        "  no acknowledgement, KILL spid:  {:7.1} ms after the limit (3 runs; ATTENTION wait {} s)",
        kill.as_secs_f64() * 1e3,
        dbm_mssql::ATTENTION_WAIT.as_secs()
    );
}
