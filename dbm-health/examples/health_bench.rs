//! Health and metrics figures, printed in one run:
//!
//! 1. `GET /health` under 200 concurrent keep-alive clients for 5 s with the default 1 s
//!    cache: requests per second, p50/p99 latency, and how many test queries reached the
//!    database (counted as pool checkouts by a core observer: at most one per cache
//!    interval, plus the first).
//! 2. The cost of the operation histogram on `SELECT 1`: the same pooled SQLite database
//!    (and PostgreSQL when `DBM_TEST_POSTGRES_URL` is set) with and without `Metrics`
//!    registered, 11 interleaved rounds, medians and bests.
//!
//! `cargo run --release -p dbm-health --features http --example health_bench`
//! (client and server share this process and the machine's cores).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dbm_core::{
    ConnectSettings, Database, Driver, DriverSettings, Observer, OperationEvent, Params,
    PoolConfig, WaitEvent,
};
use dbm_health::{Component, HealthMonitor, HealthService, HealthSettings, Metrics};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

fn open(driver: &'static dyn Driver, name: &str, url: &str) -> Arc<dyn Database> {
    let options = driver.configure(url, &DriverSettings::new(".")).unwrap();
    driver
        .open(
            name,
            options.as_ref(),
            &ConnectSettings::new(),
            PoolConfig::new(name),
            None,
        )
        .unwrap()
}

/// Counts checkouts from one pool.
#[derive(Debug)]
struct Checkouts {
    pool: String,
    n: AtomicU64,
}

impl Observer for Checkouts {
    fn operation(&self, _: &OperationEvent<'_>) {}
    fn connection_wait(&self, e: &WaitEvent<'_>) {
        if e.pool == self.pool {
            self.n.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn probe_load(db: Arc<dyn Database>) {
    let checkouts = Arc::new(Checkouts {
        pool: db.name().to_owned(),
        n: AtomicU64::new(0),
    });
    let _guard = dbm_core::add_observer(checkouts.clone());
    let settings = HealthSettings::default();
    let cache = settings.cache;
    let monitor = Arc::new(HealthMonitor::new(vec![Component::new(db)], settings));
    let service = HealthService::new(monitor.clone(), Metrics::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dbm_health::serve(listener, service, async {
        let _ = stopped.await;
    }));

    let clients = 200;
    let run_for = Duration::from_secs(5);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                let mut latencies = Vec::new();
                while started.elapsed() < run_for {
                    let t = Instant::now();
                    let req = hyper::Request::get("/health")
                        .header("host", "bench")
                        .body(Empty::<Bytes>::new())
                        .unwrap();
                    let resp = sender.send_request(req).await.unwrap();
                    assert_eq!(resp.status(), 200);
                    resp.into_body().collect().await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    let intervals = (elapsed.as_secs_f64() / cache.as_secs_f64()).ceil() as u64;
    println!(
        "GET /health, {clients} clients, {:.1} s, cache {} ms: {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        elapsed.as_secs_f64(),
        cache.as_millis(),
        all.len(),
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    println!(
        "  test queries that reached the database: {} (checks run: {}; cache intervals begun: {})",
        checkouts.n.load(Ordering::Relaxed),
        monitor.checks_run(),
        intervals
    );
}

async fn select1_round(db: &dyn Database, n: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        db.query("SELECT 1", &Params::new()).await.unwrap();
    }
    started.elapsed() / n as u32
}

async fn histogram_overhead(label: &str, db: Arc<dyn Database>, n: usize) {
    select1_round(db.as_ref(), n / 4).await; // warm the pool and caches
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        without.push(select1_round(db.as_ref(), n).await);
        let metrics = Metrics::new();
        with.push(select1_round(db.as_ref(), n).await);
        drop(metrics);
    }
    without.sort();
    with.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (a, b) = (without[5], with[5]);
    let (amin, bmin) = (without[0], with[0]);
    println!(
        "{label} SELECT 1 x {n}, 11 interleaved rounds: without metrics median {:.2} us (best {:.2}), with the histogram median {:.2} us (best {:.2}): {:+.2} us median, {:+.2} us best",
        us(a),
        us(amin),
        us(b),
        us(bmin),
        us(b) - us(a),
        us(bmin) - us(amin)
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let db = open(&dbm_sqlite::DRIVER, "bench", &url);
    probe_load(db.clone()).await;
    histogram_overhead("SQLite", db, 20_000).await;
    match std::env::var("DBM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let pg = open(&dbm_postgres::DRIVER, "bench_pg", &url);
            histogram_overhead("PostgreSQL", pg, 5_000).await;
        }
        _ => println!("PostgreSQL: DBM_TEST_POSTGRES_URL not set, skipped"),
    }
}
