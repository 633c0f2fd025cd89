//! The fault suite: what happens when the server restarts under load, when a migrating
//! process is killed with SIGKILL, and when eight migrators start at once.
//!
//! It starts its own PostgreSQL cluster (initdb + pg_ctl from the installed server, on a
//! free port, in a temporary directory; never the shared server) and runs the real `xtask`
//! binary as the migrating process. Without PostgreSQL's server programs the PostgreSQL
//! scenarios say they are skipped (and fail under `DBM_TEST_REQUIRE_POSTGRES=1`); the
//! SQLite ones always run.

mod cluster;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cluster::Cluster;
use dbm::{DatabaseConfig, DatabaseManager, ErrorKind, Params};

fn xtask(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args)
        .env_remove("DBM_CONFIG")
        .env_remove("DBM_APP_URL")
        .env("DBM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(args: &[&str]) -> Output {
    xtask(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// Waits until `ready` holds (polling), or panics after `limit`.
fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill9(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _ = child.wait();
}

/// A query's single value, through a short-lived manager.
async fn scalar(url: &str, sql: &str) -> dbm::Result<Option<i64>> {
    let db = DatabaseManager::connect(DatabaseConfig::new("probe", url)?).await?;
    let rows = db.query(sql, &Params::new()).await;
    db.close().await;
    Ok(rows?
        .first()
        .and_then(|r| r.get::<Option<i64>>(0).ok().flatten()))
}

#[test]
fn server_restart_under_load_loses_no_query() {
    let Some(cluster) = Cluster::start("restart") else {
        return;
    };
    let url = cluster.url("postgres");
    runtime().block_on(async {
        let mut c = DatabaseConfig::new("app", &url).unwrap();
        c.pool_size = 10;
        c.max_overflow = 0;
        let db = DatabaseManager::connect(c).await.unwrap();
        db.query("SELECT 1", &Params::new()).await.unwrap();
        let ok = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for task in 0..16 {
            let (db, ok, stop) = (db.clone(), ok.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut lost = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match db
                        .query_with_retry("SELECT :t AS t", &dbm::params! { "t" => task })
                        .await
                    {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => lost.push(e.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                lost
            }));
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        let before = ok.load(Ordering::SeqCst);
        // Blocking the runtime's thread here is fine: the 16 tasks run on the other workers.
        let restart =
            tokio::task::block_in_place(|| cluster.restart_fast(Duration::from_millis(1500)));
        let after_restart = ok.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::SeqCst);
        let mut lost = Vec::new();
        for t in tasks {
            lost.extend(t.await.unwrap());
        }
        let total = ok.load(Ordering::SeqCst);
        assert!(
            before > 0 && total > after_restart,
            "queries ran before and after: {before} / {after_restart} / {total}"
        );
        assert!(
            lost.is_empty(),
            "{} of {} queries lost across a {:.1} s restart:\n{}",
            lost.len(),
            total + lost.len() as u64,
            restart.as_secs_f64(),
            lost.join("\n")
        );
        let status = db.pool_status();
        assert!(
            status.invalid > 0,
            "connections from before the restart were discarded: {status:?}"
        );
        db.close().await;
    });
}

const SLOW_PG: &str = "SELECT pg_sleep(60)";
const SLOW_SQLITE: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c";

/// A project whose V2 runs `slow` as its second statement, in a transaction or not.
fn kill_project(dir: &Path, slow: &str, no_transaction: bool) {
    let m = dir.join("migrations");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("V1__base.sql"), "CREATE TABLE base (x INTEGER);\n").unwrap();
    let directive = if no_transaction {
        "-- dbm:no-transaction\n"
    } else {
        ""
    };
    std::fs::write(
        m.join("V2__slow.sql"),
        format!("{directive}CREATE TABLE first_half (x INTEGER);\n{slow};\nCREATE TABLE second_half (x INTEGER);\n"),
    )
    .unwrap();
}

/// Kills a migrating `xtask` while V2's slow statement runs, then checks the history and
/// that the lock is free. `running` says whether the slow statement has started.
fn kill_midway(url: &str, dir: &Path, no_transaction: bool, running: impl Fn() -> bool) {
    let migrations = dir.join("migrations");
    let m = migrations.to_str().unwrap();
    let mut child = xtask(&["migrate", "--url", url, "--dir", m])
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(30),
        "the slow statement to start",
        &running,
    );
    kill9(&mut child);

    // The lock is released: another run gets past it quickly, and sees the history.
    let started = Instant::now();
    let status = run(&["status", "--json", "--url", url, "--dir", m]);
    let j = json(&status);
    assert_eq!(j["current_version"], "1", "{}", text(&status));
    if no_transaction {
        // Recorded as incomplete, with the statement it had reached.
        let failed = &j["failed"][0];
        assert_eq!(failed["state"], "incomplete", "{}", text(&status));
        assert_eq!(failed["statements_done"], 1, "{}", text(&status));
        assert_eq!(failed["stopped_at"]["statement"], 2, "{}", text(&status));
        assert_eq!(failed["stopped_at"]["line"], 3, "{}", text(&status));
        let o = run(&["migrate", "--url", url, "--dir", m]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let out = text(&o);
        assert!(
            out.contains("V2__slow.sql did not finish") && out.contains("statement 2 of 3 (line 3"),
            "{out}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the lock was not released"
        );
        // The operator finishes it by hand, repairs, and the fixed file applies.
        std::fs::write(
            migrations.join("V2__slow.sql"),
            "-- dbm:no-transaction\nCREATE TABLE IF NOT EXISTS first_half (x INTEGER);\nCREATE TABLE second_half (x INTEGER);\n",
        )
        .unwrap();
        let o = run(&["repair", "--url", url, "--dir", m]);
        assert!(o.status.success(), "{}", text(&o));
    } else {
        // The transaction died with the process: nothing of V2 is recorded or left behind.
        assert_eq!(j["pending"][0]["version"], "2", "{}", text(&status));
        assert!(
            j["failed"].as_array().unwrap().is_empty(),
            "{}",
            text(&status)
        );
        std::fs::write(
            migrations.join("V2__slow.sql"),
            "CREATE TABLE first_half (x INTEGER);\nCREATE TABLE second_half (x INTEGER);\n",
        )
        .unwrap();
    }
    let o = run(&["migrate", "--json", "--url", url, "--dir", m]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the lock was not released in time"
    );
    let o = run(&["validate", "--url", url, "--dir", m]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn sqlite_migrator_killed_midway() {
    for no_transaction in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        kill_project(dir.path(), SLOW_SQLITE, no_transaction);
        let db = dir.path().join("app.db");
        let url = format!("sqlite://{}", db.display());
        // The slow statement is running once V2's first statement left its mark.
        let probe = url.clone();
        let running = move || {
            let sql = if no_transaction {
                "SELECT statements_done FROM schema_version WHERE version = '2'"
            } else {
                "SELECT count(*) FROM schema_version"
            };
            match runtime().block_on(scalar(&probe, sql)) {
                Ok(Some(n)) if no_transaction => n == 1,
                // In a transaction nothing is visible: wait for V1's row and a moment.
                Ok(Some(n)) => {
                    n == 1 && {
                        std::thread::sleep(Duration::from_millis(500));
                        true
                    }
                }
                _ => false,
            }
        };
        kill_midway(&url, dir.path(), no_transaction, running);
    }
}

#[test]
fn postgres_migrator_killed_midway() {
    let Some(cluster) = Cluster::start("kill") else {
        return;
    };
    for (i, no_transaction) in [false, true].into_iter().enumerate() {
        let name = format!("kill{i}");
        cluster.create_database(&name);
        let url = cluster.url(&name);
        let dir = tempfile::tempdir().unwrap();
        kill_project(dir.path(), SLOW_PG, no_transaction);
        let probe = cluster.url("postgres");
        let running = move || {
            let sql = format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'"
            );
            matches!(runtime().block_on(scalar(&probe, &sql)), Ok(Some(1)))
        };
        kill_midway(&url, dir.path(), no_transaction, running);
        // Nothing is left holding the migration lock.
        let held = runtime()
            .block_on(scalar(
                &cluster.url("postgres"),
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            ))
            .unwrap();
        assert_eq!(held, Some(0));
    }
}

#[test]
fn eight_migrators_at_once_apply_each_migration_once() {
    let Some(cluster) = Cluster::start("eight") else {
        return;
    };
    cluster.create_database("eight");
    let url = cluster.url("eight");
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir_all(&m).unwrap();
    for v in 1..=6 {
        std::fs::write(
            m.join(format!("V{v}__step.sql")),
            format!("CREATE TABLE step{v} (x INTEGER);\nINSERT INTO step{v} VALUES ({v});\nSELECT pg_sleep(0.1);\n"),
        )
        .unwrap();
    }
    let m = m.to_str().unwrap();
    let children: Vec<Child> = (0..8)
        .map(|_| {
            xtask(&["migrate", "--json", "--url", &url, "--dir", m])
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        applied += json(&o)["applied"].as_array().unwrap().len();
    }
    assert_eq!(applied, 6, "each migration applied by exactly one process");
    let rows = runtime()
        .block_on(scalar(
            &url,
            "SELECT count(*) FROM schema_version WHERE success",
        ))
        .unwrap();
    assert_eq!(rows, Some(6));
}

#[test]
fn a_frozen_server_makes_a_timed_out_write_an_unknown_outcome() {
    let Some(cluster) = Cluster::start("frozen") else {
        return;
    };
    let url = cluster.url("postgres");
    runtime().block_on(async {
        let mut c = DatabaseConfig::new("app", &url).unwrap();
        // No pre-ping: the statement itself must meet the frozen backend.
        c.pre_ping_skip = Duration::from_secs(600);
        let db = DatabaseManager::connect(c).await.unwrap();
        db.execute("CREATE TABLE w (x INTEGER)", &Params::new())
            .await
            .unwrap();
        let pid: i64 = db
            .query("SELECT pg_backend_pid()::int8 AS pid", &Params::new())
            .await
            .unwrap()
            .first()
            .unwrap()
            .get("pid")
            .unwrap();
        // The next statement runs on that backend (the pool keeps one idle connection);
        // freeze the backend so neither the statement nor the cancellation is answered.
        cluster.signal(pid, "STOP");
        let started = Instant::now();
        let e = db
            .execute_with_timeout(
                "INSERT INTO w VALUES (1)",
                &Params::new(),
                Duration::from_millis(300),
            )
            .await
            .unwrap_err();
        cluster.signal(pid, "CONT");
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.outcome_unknown(), "{e}");
        assert!(!e.is_transient(), "{e}");
        assert!(e.to_string().contains("outcome unknown"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // The pool goes on with a fresh connection.
        db.query("SELECT 1", &Params::new()).await.unwrap();
        db.close().await;
    });
}
