//! The SQLite driver against real database files.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use dbm_core::{Database, ErrorCode, ErrorKind, Params, PoolConfig, Statement, Value, params};
use dbm_sqlite::{SqliteDatabase, SqliteOptions};

fn file_db(dir: &tempfile::TempDir, pool: PoolConfig) -> SqliteDatabase {
    dbm_sqlite::open("lite", SqliteOptions::file(dir.path().join("t.db")), pool)
}

const SLOW: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c";

#[tokio::test(flavor = "multi_thread")]
async fn values_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = file_db(&dir, PoolConfig::new("lite"));
    db.execute(
        "CREATE TABLE v (b BOOLEAN, i INTEGER, f REAL, t TEXT, y BLOB, d TEXT, ts TEXT, n TEXT, j TEXT)",
        &Params::new(),
    )
    .await
    .unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let ts = Utc.with_ymd_and_hms(2026, 11, 28, 10, 30, 0).unwrap();
    let n = db
        .execute(
            "INSERT INTO v VALUES (:b, :i, :f, :t, :y, :d, :ts, :n, :j)",
            &params! {
                "b" => true, "i" => i64::MIN, "f" => 1.5, "t" => "héllo 'q'", "y" => vec![0u8, 255],
                "d" => date, "ts" => ts, "n" => None::<String>, "j" => serde_json::json!({"a": [1]}),
            },
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let rows = db.query("SELECT * FROM v", &Params::new()).await.unwrap();
    let r = rows.first().unwrap();
    assert_eq!(
        r.value("b").unwrap(),
        &Value::Bool(true),
        "BOOLEAN columns read as bool"
    );
    assert_eq!(r.get::<i64>("i").unwrap(), i64::MIN);
    assert_eq!(r.get::<f64>("f").unwrap(), 1.5);
    assert_eq!(r.get::<String>("t").unwrap(), "héllo 'q'");
    assert_eq!(r.get::<Vec<u8>>("y").unwrap(), vec![0, 255]);
    assert_eq!(r.get::<NaiveDate>("d").unwrap(), date);
    assert_eq!(r.get::<chrono::DateTime<Utc>>("ts").unwrap(), ts);
    assert_eq!(r.get::<Option<String>>("n").unwrap(), None);
    assert_eq!(r.get::<serde_json::Value>("j").unwrap()["a"][0], 1);
    assert_eq!(r.columns().as_slice()[0].type_name(), "BOOLEAN");
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_counts_only_this_statement() {
    let dir = tempfile::tempdir().unwrap();
    let db = file_db(&dir, PoolConfig::new("lite"));
    db.execute("CREATE TABLE t (x INTEGER)", &Params::new())
        .await
        .unwrap();
    let n = db
        .execute("INSERT INTO t VALUES (1), (2), (3)", &Params::new())
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        db.execute("CREATE TABLE u (x INTEGER)", &Params::new())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        db.execute("UPDATE t SET x = 0 WHERE x > 5", &Params::new())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        db.execute("DELETE FROM t WHERE x < 3", &Params::new())
            .await
            .unwrap(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn constraint_and_syntax_errors_keep_sqlite_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = file_db(&dir, PoolConfig::new("lite"));
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &Params::new())
        .await
        .unwrap();
    db.execute("INSERT INTO t VALUES (1)", &Params::new())
        .await
        .unwrap();
    let e = db
        .execute("INSERT INTO t VALUES (1)", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Constraint);
    assert_eq!(e.code(), Some(&ErrorCode::Sqlite(1555))); // SQLITE_CONSTRAINT_PRIMARYKEY
    assert!(!e.is_transient());
    assert!(
        e.to_string()
            .starts_with("[lite] execute: constraint violation: UNIQUE constraint failed: t.id"),
        "{e}"
    );
    let e = db.query("SELEC 1", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Query);
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_interrupts_the_statement_and_the_pool_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = file_db(&dir, PoolConfig::new("lite").pool_size(1).max_overflow(0));
    let started = Instant::now();
    let e = db
        .query_with_timeout(SLOW, &Params::new(), Duration::from_millis(200))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        took < Duration::from_millis(1000),
        "returned after {took:?}"
    );
    // The one pool slot is free again and the next query works.
    let ok = tokio::time::timeout(
        Duration::from_secs(2),
        db.query("SELECT 1 AS one", &Params::new()),
    )
    .await
    .expect("pool slot released")
    .unwrap();
    assert_eq!(ok.first().unwrap().get::<i64>("one").unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cannot_open_is_a_connection_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let path = file.join("sub/x.db");
    let db = dbm_sqlite::open("lite", SqliteOptions::file(&path), PoolConfig::new("lite"));
    let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection);
    let msg = e.to_string();
    assert!(
        msg.contains(path.parent().unwrap().to_str().unwrap()) && msg.contains("[lite]"),
        "{msg}"
    );
    assert!(
        msg.contains("hint: check that the directory exists"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_directories_are_created_unless_mode_rw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c.db");
    let db = dbm_sqlite::open("lite", SqliteOptions::file(&path), PoolConfig::new("lite"));
    db.query("SELECT 1", &Params::new()).await.unwrap();
    assert!(path.exists());
    let url = format!("sqlite://{}?mode=rw", dir.path().join("x/y.db").display());
    let db = dbm_sqlite::open("lite", url.parse().unwrap(), PoolConfig::new("lite"));
    let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_database_rejects_writes() {
    let dir = tempfile::tempdir().unwrap();
    let rw = file_db(&dir, PoolConfig::new("lite"));
    rw.execute("CREATE TABLE t (x INTEGER)", &Params::new())
        .await
        .unwrap();
    let ro = dbm_sqlite::open(
        "lite",
        SqliteOptions::file(dir.path().join("t.db")).read_only(true),
        PoolConfig::new("lite"),
    );
    let e = ro
        .execute("INSERT INTO t VALUES (1)", &Params::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_database_is_one_shared_connection() {
    let db = dbm_sqlite::open(
        "mem",
        SqliteOptions::memory(),
        PoolConfig::new("mem").pool_size(5),
    );
    let s = db.pool_status();
    assert_eq!((s.pool_size, s.max_overflow), (1, 0));
    db.transaction(&[
        Statement::new("CREATE TABLE t (x INTEGER)"),
        Statement::new("INSERT INTO t VALUES (:x)").bind("x", 1),
    ])
    .await
    .unwrap();
    let rows = db.query("SELECT x FROM t", &Params::new()).await.unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_wait_on_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(file_db(&dir, PoolConfig::new("lite").pool_size(4)));
    db.execute("CREATE TABLE t (x INTEGER)", &Params::new())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..25 {
                db.transaction(&[
                    Statement::new("INSERT INTO t VALUES (:x)").bind("x", i * 100 + j),
                    Statement::new("UPDATE t SET x = x WHERE x = :x").bind("x", i * 100 + j),
                ])
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = db
        .query("SELECT count(*) AS n FROM t", &Params::new())
        .await
        .unwrap();
    assert_eq!(n.first().unwrap().get::<i64>("n").unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_file_opened_by_many_pools_at_once() {
    // Regression: the first connections switch a new file to WAL; others opening at that
    // moment got SQLITE_BUSY from the open itself, which the busy handler does not cover.
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let mut tasks = Vec::new();
        for i in 0..8 {
            let path = path.clone();
            tasks.push(tokio::spawn(async move {
                let db = dbm_sqlite::open(
                    "lite",
                    SqliteOptions::file(&path),
                    PoolConfig::new("lite").pool_size(1),
                );
                db.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)", &Params::new())
                    .await?;
                db.execute("INSERT INTO t VALUES (:x)", &params! { "x" => i })
                    .await
            }));
        }
        for t in tasks {
            t.await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_that_is_not_utf8_is_an_error_naming_the_column_never_altered() {
    let dir = tempfile::tempdir().unwrap();
    let db = file_db(&dir, PoolConfig::new("lite"));
    // Latin-1 "café" stored as TEXT by some other program.
    db.execute(
        "CREATE TABLE legacy (id INTEGER, \"full name\" TEXT)",
        &Params::new(),
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO legacy VALUES (1, CAST(x'636166e9' AS TEXT))",
        &Params::new(),
    )
    .await
    .unwrap();
    let e = db
        .query("SELECT id, \"full name\" FROM legacy", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion);
    let msg = e.to_string();
    assert!(
        msg.contains(
            "column `full name` holds TEXT that is not valid UTF-8 (invalid byte at offset 3 of 4)"
        ),
        "{msg}"
    );
    assert!(msg.contains("CAST(\"full name\" AS BLOB)"), "{msg}");
    assert!(!msg.contains('\u{fffd}'), "{msg}");
    // The stream reports it too, and the hinted query returns the exact bytes.
    let mut stream = db
        .query_stream("SELECT \"full name\" FROM legacy", &Params::new())
        .await
        .unwrap();
    let first = stream.next().await.unwrap();
    assert_eq!(first.unwrap_err().kind(), ErrorKind::Conversion);
    drop(stream);
    let rows = db
        .query(
            "SELECT CAST(\"full name\" AS BLOB) AS raw FROM legacy",
            &Params::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        rows.first().unwrap().get::<Vec<u8>>("raw").unwrap(),
        b"caf\xe9".to_vec()
    );
}
