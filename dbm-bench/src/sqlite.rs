//! SQLite: the 100k-row fetch and its drop, and sequential `SELECT 1`, next to rusqlite.

use std::path::Path;

use dbm::{DatabaseConfig, DatabaseManager};

use crate::Sizes;
use crate::measure::{measure, report, select1};

/// SQLite runs take milliseconds, and their times spread widely on a shared machine: they
/// are repeated this many times more than the others.
pub(crate) const REPS_FACTOR: usize = 3;

/// The typed row rusqlite reads.
pub(crate) type Typed = (i64, String, f64, bool, String);

/// Creates table `t` with `rows` rows of five columns in the SQLite file at `path`.
pub(crate) fn fill(path: &Path, rows: i64) {
    let c = rusqlite::Connection::open(path).expect("sqlite");
    c.execute_batch(&format!(
        "CREATE TABLE t (a INTEGER, b TEXT, c REAL, d INTEGER, e TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO t SELECT i, 'name ' || i, i * 1.5, i % 2, '2026-11-28T12:00:00Z' FROM n;"
    ))
    .expect("fill");
}

/// `sql` read into typed tuples by rusqlite.
pub(crate) fn typed(raw: &rusqlite::Connection, sql: &str) -> Vec<Typed> {
    let mut stmt = raw.prepare_cached(sql).expect("prepare");
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

pub(crate) async fn workloads(s: Sizes) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    fill(&path, s.rows);
    let url = format!("sqlite://{}", path.display());
    let db = DatabaseManager::connect(DatabaseConfig::new("bench", &url).expect("config"))
        .await
        .expect("open");
    let raw = rusqlite::Connection::open(&path).expect("sqlite");
    let mut blocking_raw = Some(rusqlite::Connection::open(&path).expect("sqlite"));
    let sql = "SELECT a, b, c, d, e FROM t";
    // Warm up: open the pooled connection, prepare the statements.
    db.query(sql, ()).await.expect("warm-up");
    db.query("SELECT 1", ()).await.expect("warm-up");
    let (mut d, mut r, mut dd, mut rd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut s1, mut r1) = (Vec::new(), Vec::new());
    // rusqlite as an async program runs it: on a blocking-pool thread, the rows used and
    // freed on the caller's (what dbm does; the hop between threads is part of the cost).
    let (mut b, mut bd) = (Vec::new(), Vec::new());
    for _ in 0..s.reps * REPS_FACTOR {
        let mut rows = None;
        d.push(measure(|| async { rows = Some(db.query(sql, ()).await.expect("query")) }).await);
        dd.push(measure(|| async { drop(rows.take()) }).await);
        let mut t = None;
        r.push(measure(|| async { t = Some(typed(&raw, sql)) }).await);
        rd.push(measure(|| async { drop(t.take()) }).await);
        let mut t = None;
        b.push(
            measure(|| async {
                let c = blocking_raw.take().expect("connection");
                let (c, rows) = tokio::task::spawn_blocking(move || {
                    let rows = typed(&c, sql);
                    (c, rows)
                })
                .await
                .expect("blocking");
                blocking_raw = Some(c);
                t = Some(rows);
            })
            .await,
        );
        bd.push(measure(|| async { drop(t.take()) }).await);
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
    let n = s.rows as usize;
    let title = format!("SQLite {n} rows x 5 into Rows");
    report(&title, "row", n, &mut d, Some(("rusqlite typed", &mut r)));
    report(
        "SQLite dropping that result",
        "row",
        n,
        &mut dd,
        Some(("typed", &mut rd)),
    );
    report(
        &format!("SQLite {n} rows, raw in spawn_blocking"),
        "row",
        n,
        &mut d,
        Some(("rusqlite typed", &mut b)),
    );
    report(
        "SQLite dropping it, raw in spawn_blocking",
        "row",
        n,
        &mut dd,
        Some(("typed", &mut bd)),
    );
    report(
        "SQLite SELECT 1, sequential",
        "query",
        s.select1,
        &mut s1,
        Some(("rusqlite", &mut r1)),
    );
    db.close().await;
}
