//! PostgreSQL, one connection at a time: the 100k-row fetch and its drop, sequential
//! `SELECT 1`, growth from 1k to 1M rows, 1M rows streamed (time and peak memory), and the
//! first small query after a large result was dropped; each next to sqlx.

use std::time::Duration;

use dbm::{DatabaseConfig, DatabaseManager};
use sqlx::Connection as _;

use crate::Sizes;
use crate::measure::{
    Sample, drain, measure, report, reset_peak_rss, rss_mb, select1, select1_fetch_one, summary,
};

/// The typed row sqlx reads.
pub(crate) type Typed = (i32, String, f64, bool, chrono::DateTime<chrono::Utc>);

/// Five columns (integer, text, float, boolean, timestamp) of `rows` generated rows.
pub(crate) fn rows_sql(rows: usize) -> String {
    format!(
        "SELECT i, 'name ' || i, i * 1.5::float8, i % 2 = 0, TIMESTAMPTZ '2026-11-28 12:00:00+00' \
         FROM generate_series(1, {rows}) i"
    )
}

pub(crate) async fn typed(raw: &mut sqlx::PgConnection, sql: &str) -> Vec<Typed> {
    sqlx::query_as::<_, Typed>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(raw)
        .await
        .expect("sqlx query")
}

pub(crate) async fn workloads(s: Sizes, url: &str) {
    let db = DatabaseManager::connect(DatabaseConfig::new("bench_pg", url).expect("config"))
        .await
        .expect("open");
    let mut raw = sqlx::PgConnection::connect(url)
        .await
        .expect("sqlx connect");
    sequential(&db, &mut raw, s).await;
    growth(&db, &mut raw, s).await;
    streamed(&db, &mut raw, s).await;
    after_large_drop(&db, &mut raw, s).await;
    db.close().await;
}

async fn sequential(db: &DatabaseManager, raw: &mut sqlx::PgConnection, s: Sizes) {
    let sql = rows_sql(s.rows as usize);
    // Warm up: open the pooled connection, prepare the statements on both sides.
    db.query(&sql, ()).await.expect("warm-up");
    db.query("SELECT 1", ()).await.expect("warm-up");
    let _: (i32,) = sqlx::query_as("SELECT 1")
        .fetch_one(&mut *raw)
        .await
        .expect("warm-up");
    let (mut d, mut r, mut dd, mut rd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut s1, mut r1, mut f1) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..s.reps {
        let mut rows = None;
        d.push(measure(|| async { rows = Some(db.query(&sql, ()).await.expect("query")) }).await);
        dd.push(measure(|| async { drop(rows.take()) }).await);
        let mut t = None;
        r.push(measure(|| async { t = Some(typed(raw, &sql).await) }).await);
        rd.push(measure(|| async { drop(t.take()) }).await);
        s1.push(select1(db, s.select1).await);
        f1.push(select1_fetch_one(db, s.select1).await);
        r1.push(
            measure(|| async {
                for _ in 0..s.select1 {
                    let _: (i32,) = sqlx::query_as("SELECT 1")
                        .fetch_one(&mut *raw)
                        .await
                        .expect("select 1");
                }
            })
            .await,
        );
    }
    let n = s.rows as usize;
    let title = format!("PostgreSQL {n} rows x 5 into Rows");
    report(&title, "row", n, &mut d, Some(("sqlx typed", &mut r)));
    report(
        "PostgreSQL dropping that result",
        "row",
        n,
        &mut dd,
        Some(("typed", &mut rd)),
    );
    report(
        "PostgreSQL SELECT 1, sequential",
        "query",
        s.select1,
        &mut s1,
        Some(("sqlx PgConnection", &mut r1)),
    );
    report(
        "PostgreSQL SELECT 1 fetch_one, sequential",
        "query",
        s.select1,
        &mut f1,
        Some(("sqlx PgConnection", &mut r1)),
    );
}

/// Time per row as the result grows tenfold at each step: flat means linear.
async fn growth(db: &DatabaseManager, raw: &mut sqlx::PgConnection, s: Sizes) {
    for &n in s.growth {
        let sql = rows_sql(n);
        let (mut d, mut r) = (Vec::new(), Vec::new());
        // Fewer repetitions for the largest sizes: each takes seconds.
        let reps = if n >= 1_000_000 {
            s.reps.min(3)
        } else {
            s.reps
        };
        for _ in 0..reps {
            d.push(measure(|| async { drop(db.query(&sql, ()).await.expect("query")) }).await);
            r.push(measure(|| async { drop(typed(raw, &sql).await) }).await);
        }
        let title = format!("PostgreSQL growth: {n} rows (fetch+drop)");
        report(&title, "row", n, &mut d, Some(("sqlx typed", &mut r)));
    }
}

/// `s.stream` rows x 4 columns streamed by dbm and by sqlx's typed stream: time and how
/// much the peak resident set grew.
async fn streamed(db: &DatabaseManager, raw: &mut sqlx::PgConnection, s: Sizes) {
    let n = s.stream;
    let sql = format!("SELECT i, 'name ' || i, i * 2, i % 2 = 0 FROM generate_series(1, {n}) i");
    let (mut d, mut r) = (Vec::new(), Vec::new());
    let (mut d_mem, mut r_mem) = (0.0f64, 0.0f64);
    let can_reset = reset_peak_rss();
    for _ in 0..s.reps.min(3) {
        reset_peak_rss();
        let before = rss_mb().0;
        d.push(
            measure(|| async {
                let stream = db.query_stream(&sql, ()).await.expect("stream");
                drain(stream, n).await;
            })
            .await,
        );
        d_mem = d_mem.max(rss_mb().1 - before);
        reset_peak_rss();
        let before = rss_mb().0;
        r.push(
            measure(|| async {
                let stream =
                    sqlx::query_as::<_, (i32, String, i32, bool)>(sqlx::AssertSqlSafe(sql.clone()))
                        .fetch(&mut *raw);
                drain(stream, n).await;
            })
            .await,
        );
        r_mem = r_mem.max(rss_mb().1 - before);
    }
    let title = format!("PostgreSQL {n} rows x 4 streamed");
    report(
        &title,
        "row",
        n,
        &mut d,
        Some(("sqlx typed stream", &mut r)),
    );
    if can_reset {
        println!(
            "{:<40} peak RSS above the start: dbm +{d_mem:.1} MB | sqlx typed stream +{r_mem:.1} MB",
            ""
        );
    } else {
        println!(
            "{:<40} peak RSS not measured: /proc/self/clear_refs is not writable",
            ""
        );
    }
}

/// A 1,000-row query right after a `s.stream`-row result was dropped, through dbm and
/// through sqlx typed, each next to the same query after small ones: glibc consolidating the
/// freed blocks at the next larger allocation shows as an outlier.
async fn after_large_drop(db: &DatabaseManager, raw: &mut sqlx::PgConnection, s: Sizes) {
    let big = rows_sql(s.stream);
    let small = rows_sql(1_000);
    let (mut after, mut usual): (Vec<Sample>, Vec<Sample>) = (Vec::new(), Vec::new());
    let (mut raw_after, mut raw_usual): (Vec<Sample>, Vec<Sample>) = (Vec::new(), Vec::new());
    for _ in 0..s.reps.max(3) {
        drop(db.query(&big, ()).await.expect("big"));
        after.push(measure(|| async { drop(db.query(&small, ()).await.expect("small")) }).await);
        usual.push(measure(|| async { drop(db.query(&small, ()).await.expect("small")) }).await);
        drop(typed(raw, &big).await);
        raw_after.push(measure(|| async { drop(typed(raw, &small).await) }).await);
        raw_usual.push(measure(|| async { drop(typed(raw, &small).await) }).await);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (name, after, usual) in [
        ("dbm", &mut after, &mut usual),
        ("sqlx typed", &mut raw_after, &mut raw_usual),
    ] {
        let (m, lo, hi, _) = summary(after);
        let (um, _, uhi, _) = summary(usual);
        println!(
            "{:<40} {name}: {m:.2} ms median (min {lo:.2}, max {hi:.2}) | otherwise {um:.2} ms (max {uhi:.2})",
            format!("PostgreSQL 1000 rows after {} dropped", s.stream),
            m = ms(m),
            lo = ms(lo),
            hi = ms(hi),
            um = ms(um),
            uhi = ms(uhi),
        );
    }
}
