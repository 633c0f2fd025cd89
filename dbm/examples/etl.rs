//! A realistic ETL job on dbm: read orders from one database, aggregate them per day and
//! region, write the result into another database in transactions with retries, and report
//! the health of both.
//!
//! ```sh
//! cargo run -p dbm --example etl                 # SQLite files under target/dbm/etl/
//! ETL_SOURCE_URL=postgres://... ETL_TARGET_URL=sqlite://out.db cargo run -p dbm --features postgres --example etl
//! ```
//!
//! The target's schema ships inside the binary (`embed_migrations!`), so the job needs no
//! migrations directory where it runs.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::Instant;

use dbm::{
    Component, DatabaseConfig, DatabaseManager, EmbeddedMigrations, HealthMonitor, Migrator,
    Statement, Status, params,
};

static TARGET_SCHEMA: EmbeddedMigrations = dbm::embed_migrations!("examples/etl_migrations");

/// One order as the source stores it.
#[derive(Debug, serde::Deserialize)]
struct Order {
    placed_on: String,
    region: String,
    amount_cents: i64,
}

/// Source and target: from the environment, or SQLite files for a first run.
fn url(var: &str, file: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| format!("sqlite://target/dbm/etl/{file}"))
}

/// A first run on SQLite has nothing to read: put a few days of orders in.
async fn seed_source(source: &DatabaseManager) -> dbm::Result<()> {
    source
        .execute(
            "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, placed_on TEXT NOT NULL, \
             region TEXT NOT NULL, amount_cents INTEGER NOT NULL)",
            (),
        )
        .await?;
    let n: i64 = source
        .fetch_scalar("SELECT count(*) FROM orders", ())
        .await?;
    if n > 0 {
        return Ok(());
    }
    let mut inserts = Vec::new();
    for i in 0..500i64 {
        inserts.push(
            Statement::new(
                "INSERT INTO orders (placed_on, region, amount_cents) VALUES (:day, :region, :amount)",
            )
            .bind("day", format!("2026-11-{:02}", 20 + i % 7))
            .bind("region", ["emea", "amer", "apac"][(i % 3) as usize])
            .bind("amount", 1_000 + (i * 37) % 9_000),
        );
    }
    source.transaction(&inserts).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> dbm::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all("target/dbm/etl").map_err(|e| {
        dbm::Error::new(
            dbm::ErrorKind::Other,
            format!("cannot create target/dbm/etl: {e}"),
        )
    })?;
    let source = DatabaseManager::connect(DatabaseConfig::new(
        "source",
        &url("ETL_SOURCE_URL", "source.db"),
    )?)
    .await?;
    let target = DatabaseManager::connect(DatabaseConfig::new(
        "target",
        &url("ETL_TARGET_URL", "target.db"),
    )?)
    .await?;
    if source.backend() == dbm::Backend::Sqlite {
        seed_source(&source).await?;
    }

    // The target's schema, from the binary.
    let mut conn = target.database().acquire().await?;
    let migrated = Migrator::embedded(TARGET_SCHEMA, "target")
        .migrate(conn.as_mut(), None)
        .await?;
    drop(conn);
    println!(
        "target schema at version {}",
        migrated.current_version.as_deref().unwrap_or("none")
    );

    // Extract: the orders into structs, the read retried as a whole if the source restarts
    // meanwhile (for millions of rows, `query_stream` keeps memory flat instead).
    let orders: Vec<Order> = source
        .query_with_retry("SELECT placed_on, region, amount_cents FROM orders", ())
        .await?
        .deserialize()?;

    // Transform: orders and revenue per day and region.
    let mut totals: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for o in &orders {
        let t = totals
            .entry((o.placed_on.clone(), o.region.clone()))
            .or_default();
        t.0 += 1;
        t.1 += o.amount_cents;
    }

    // Load: one transaction per day (all of a day or none of it), retried on transient
    // errors (a busy SQLite file, a PostgreSQL serialization failure).
    let mut by_day: BTreeMap<&str, Vec<Statement>> = BTreeMap::new();
    for ((day, region), (n, cents)) in &totals {
        by_day.entry(day.as_str()).or_default().push(
            Statement::new(
                "INSERT INTO daily_sales (day, region, orders, revenue_cents) \
                 VALUES (:day, :region, :orders, :cents) \
                 ON CONFLICT (day, region) DO UPDATE SET orders = excluded.orders, \
                 revenue_cents = excluded.revenue_cents",
            )
            .bind("day", day.as_str())
            .bind("region", region.as_str())
            .bind("orders", *n)
            .bind("cents", *cents),
        );
    }
    let mut written = 0u64;
    for statements in by_day.values() {
        written += target
            .transaction_with_retry(statements)
            .await?
            .iter()
            .sum::<u64>();
    }
    target
        .execute(
            "INSERT INTO load_runs (finished_at, rows_read, rows_written) VALUES (:at, :read, :written)",
            &params! {
                "at" => dbm::chrono::Utc::now().to_rfc3339(),
                "read" => orders.len(),
                "written" => written,
            },
        )
        .await?;
    let days: i64 = target
        .fetch_scalar("SELECT count(DISTINCT day) FROM daily_sales", ())
        .await?;
    println!(
        "read {} orders, wrote {written} rows for {days} days in {} ms",
        orders.len(),
        started.elapsed().as_millis()
    );

    // Report: the health of both, as an operator's probe would see it.
    let monitor = HealthMonitor::new(
        vec![source.health_component(), Component::new(target.database())],
        dbm::HealthSettings::default(),
    );
    let health = monitor.check_now().await;
    for (name, h) in &health.components {
        println!("health {name}: {} ({:.1} ms)", h.status, h.response_time_ms);
    }
    if health.status == Status::Unhealthy {
        return Err(dbm::Error::new(
            dbm::ErrorKind::Connection,
            "a database is unhealthy after the load",
        ));
    }
    source.close().await;
    target.close().await;
    Ok(())
}
