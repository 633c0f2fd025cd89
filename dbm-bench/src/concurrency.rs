//! Many tasks sharing a pool of 10 PostgreSQL connections: `SELECT 1` from 8, 64 and 256
//! tasks through dbm, deadpool-postgres and sqlx's own pool, next to `pgbench -c 8` on the
//! same transport; and the bare checkout rate (no query) from 64 tasks.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbm::{DatabaseConfig, DatabaseManager};

use crate::Sizes;
use crate::measure::{in_tasks, measure, report};

const POOL: usize = 10;

/// Queries per second of `op` run back to back from `tasks` tasks for `run`.
async fn throughput<F, Fut>(tasks: usize, run: Duration, op: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < run {
                    op().await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

async fn dbm_pool(url: &str) -> Arc<dyn dbm::Database> {
    let mut c = DatabaseConfig::new("bench_pool", url).expect("config");
    c.pool_size = POOL as u32;
    c.max_overflow = 0;
    let db = DatabaseManager::connect(c).await.expect("open").database();
    // Open all ten connections first: queries, not connects, are measured.
    let mut held = Vec::new();
    for _ in 0..POOL {
        held.push(db.acquire().await.expect("checkout"));
    }
    drop(held);
    db
}

fn deadpool(url: &str) -> deadpool_postgres::Pool {
    let mut cfg = deadpool_postgres::Config::new();
    cfg.url = Some(url.to_owned());
    cfg.pool = Some(deadpool_postgres::PoolConfig::new(POOL));
    cfg.create_pool(
        Some(deadpool_postgres::Runtime::Tokio1),
        tokio_postgres::NoTls,
    )
    .expect("deadpool")
}

/// sqlx's own pool with all its connections open.
async fn sqlx_pool(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(POOL as u32)
        .min_connections(POOL as u32)
        .connect(url)
        .await
        .expect("sqlx pool")
}

pub(crate) async fn workloads(s: Sizes, url: &str) {
    let db = dbm_pool(url).await;
    let sq = sqlx_pool(url).await;
    let dp = deadpool(url);
    let mut held = Vec::new();
    for _ in 0..POOL {
        held.push(dp.get().await.expect("deadpool checkout"));
    }
    drop(held);
    let pgbench_available = pgbench(url, Duration::from_millis(200)).is_ok();
    for &tasks in &[8usize, 64, 256] {
        let (mut d, mut p, mut b, mut q) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..s.reps {
            let db = db.clone();
            d.push(
                throughput(tasks, s.run, move || {
                    let db = db.clone();
                    async move {
                        db.query("SELECT 1", &dbm::Params::new())
                            .await
                            .expect("query");
                    }
                })
                .await,
            );
            let dp = dp.clone();
            p.push(
                throughput(tasks, s.run, move || {
                    let dp = dp.clone();
                    async move {
                        let client = dp.get().await.expect("checkout");
                        let stmt = client.prepare_cached("SELECT 1").await.expect("prepare");
                        let _: i32 = client.query_one(&stmt, &[]).await.expect("query").get(0);
                    }
                })
                .await,
            );
            let sq = sq.clone();
            q.push(
                throughput(tasks, s.run, move || {
                    let sq = sq.clone();
                    async move {
                        let _: i32 = sqlx::query_scalar("SELECT 1")
                            .fetch_one(&sq)
                            .await
                            .expect("query");
                    }
                })
                .await,
            );
            if tasks == 8 && pgbench_available {
                b.push(pgbench(url, s.run).expect("pgbench"));
            }
        }
        let (dm, dlo, dhi) = median(d);
        let (pm, plo, phi) = median(p);
        let (qm, qlo, qhi) = median(q);
        print!(
            "{:<40} dbm {dm:>9.0} q/s (min {dlo:.0}, max {dhi:.0}) | deadpool-postgres {pm:.0} (min {plo:.0}, max {phi:.0}) | ratio {:.2}x | sqlx pool {qm:.0} (min {qlo:.0}, max {qhi:.0}) | dbm/sqlx {:.2}x",
            format!("PostgreSQL SELECT 1, {tasks} tasks, pool {POOL}"),
            dm / pm,
            dm / qm
        );
        if !b.is_empty() {
            let (bm, blo, bhi) = median(b);
            print!(
                " | pgbench -c 8 {bm:.0} (min {blo:.0}, max {bhi:.0}) | dbm/pgbench {:.2}x",
                dm / bm
            );
        }
        println!();
    }
    if !pgbench_available {
        println!(
            "{:<40} pgbench left out: it is not on PATH (apt install postgresql-client)",
            ""
        );
    }
    checkout_rate(s, &db, Some(&dp)).await;
    dp.close();
    sq.close().await;
}

/// The checkout rate alone, on a dbm pool of `url` (when there is no PostgreSQL server).
pub(crate) async fn checkout_only(s: Sizes, url: &str) {
    let db = dbm_pool(url).await;
    checkout_rate(s, &db, None).await;
}

/// Transactions per second of `pgbench -c 8 -j 2 -M prepared` running `SELECT 1` for
/// `run`, on plaintext like the other clients. The password goes in `PGPASSWORD`, not on
/// the command line.
fn pgbench(url: &str, run: Duration) -> Result<f64, String> {
    let (url, password) = split_password(url);
    let script = std::env::temp_dir().join(format!("dbm-bench-select1.{}.sql", std::process::id()));
    std::fs::write(&script, "SELECT 1;\n").map_err(|e| e.to_string())?;
    let mut cmd = Command::new("pgbench");
    cmd.args(["-n", "-c", "8", "-j", "2", "-M", "prepared", "-f"])
        .arg(&script)
        .arg("-T")
        .arg(run.as_secs().max(1).to_string())
        .arg(&url)
        .env("PGSSLMODE", "disable");
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&script);
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("pgbench: {}", String::from_utf8_lossy(&out.stderr).trim()))
}

/// `url` without its password, and the password (still percent-encoded: the bench's own
/// test URLs use plain ones).
fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_owned(), None);
    };
    let rest = &url[scheme_end..];
    let Some(at) = rest.rfind('@') else {
        return (url.to_owned(), None);
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => (
            format!(
                "{}{}{}",
                &url[..scheme_end],
                &userinfo[..colon],
                &rest[at..]
            ),
            Some(userinfo[colon + 1..].to_owned()),
        ),
        None => (url.to_owned(), None),
    }
}

/// Checkouts (and returns) per second from 64 tasks on a pool of 10, no query.
async fn checkout_rate(
    s: Sizes,
    db: &Arc<dyn dbm::Database>,
    dp: Option<&deadpool_postgres::Pool>,
) {
    let per_task = s.checkouts / 64;
    let per = per_task * 64;
    let (mut d, mut p) = (Vec::new(), Vec::new());
    for _ in 0..s.reps {
        d.push(
            measure(|| {
                in_tasks(64, || {
                    let db = db.clone();
                    async move {
                        for _ in 0..per_task {
                            drop(db.acquire().await.expect("checkout"));
                        }
                    }
                })
            })
            .await,
        );
        let Some(dp) = dp else { continue };
        p.push(
            measure(|| {
                in_tasks(64, || {
                    let dp = dp.clone();
                    async move {
                        for _ in 0..per_task {
                            drop(dp.get().await.expect("checkout"));
                        }
                    }
                })
            })
            .await,
        );
    }
    let rate = |t: Duration| per as f64 / t.as_secs_f64() / 1e6;
    let md = crate::measure::median(&mut d);
    if p.is_empty() {
        report(
            "pool checkout + return, 64 tasks, pool 10",
            "checkout",
            per,
            &mut d,
            None,
        );
        println!("{:<40} dbm {:.2} M checkouts/s (median)", "", rate(md));
        return;
    }
    let mp = crate::measure::median(&mut p);
    report(
        "pool checkout + return, 64 tasks, pool 10",
        "checkout",
        per,
        &mut d,
        Some(("deadpool", &mut p)),
    );
    println!(
        "{:<40} dbm {:.2} M checkouts/s | deadpool {:.2} M/s (medians)",
        "",
        rate(md),
        rate(mp)
    );
}
