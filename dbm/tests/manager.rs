//! `DatabaseManager` against real SQLite files (the PostgreSQL twin is `postgres.rs`).
#![cfg(feature = "sqlite")]

use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbm::{Config, DatabaseConfig, DatabaseManager, ErrorKind, Params, Statement, params};
use tempfile::TempDir;

const SLOW: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) AS n FROM c";

fn project(toml_extra: &str) -> (TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations/app");
    fs::create_dir_all(&m).unwrap();
    fs::write(
        m.join("V1__items.sql"),
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("dbm.toml"),
        format!("[databases.app]\nurl = \"sqlite://data/app.db\"\npool_size = 2\nmax_overflow = 1\ntimeout = 0.2\n{toml_extra}\n"),
    )
    .unwrap();
    let config = Config::from_path(&dir.path().join("dbm.toml")).unwrap();
    (dir, config)
}

async fn migrated(toml_extra: &str) -> (TempDir, DatabaseManager) {
    let (dir, config) = project(toml_extra);
    let db = DatabaseManager::open_with(&config, "app").await.unwrap();
    db.run_migrations(None).await.unwrap();
    (dir, db)
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_persist_across_pools() {
    let (dir, db) = migrated("").await;
    let n = db
        .execute(
            "INSERT INTO items (name) VALUES (:name)",
            &params! { "name" => "a" },
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    db.close().await;
    assert!(
        dir.path().join("data/app.db").exists(),
        "relative path resolved against dbm.toml"
    );
    // A new pool (after close) reads what the first one wrote.
    let config = Config::from_path(&dir.path().join("dbm.toml")).unwrap();
    let again = DatabaseManager::open_with(&config, "app").await.unwrap();
    let rows = again
        .query("SELECT name FROM items", &Params::new())
        .await
        .unwrap();
    assert_eq!(rows.first().unwrap().get::<String>("name").unwrap(), "a");
}

#[tokio::test(flavor = "multi_thread")]
async fn open_twice_shares_one_pool_and_close_unshares() {
    let (_dir, config) = project("");
    let a = DatabaseManager::open_with(&config, "app").await.unwrap();
    let b = DatabaseManager::open_with(&config, "app").await.unwrap();
    assert!(a.same_pool(&b));
    a.close().await;
    let e = b.query("SELECT 1", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    let c = DatabaseManager::open_with(&config, "app").await.unwrap();
    assert!(!c.same_pool(&a));
    c.query("SELECT 1", &Params::new()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_name_for_two_databases_never_shares_a_pool() {
    let dir = tempfile::tempdir().unwrap();
    let in_code = |file: &str| {
        Config::loader()
            .toml(format!("[databases.app]\nurl = \"sqlite://{file}\"\n"))
            .base_dir(dir.path())
            .load()
            .unwrap()
    };
    // Two configurations built in code (no file) that give `app` different URLs.
    let a = DatabaseManager::open_with(&in_code("a.db"), "app")
        .await
        .unwrap();
    let b = DatabaseManager::open_with(&in_code("b.db"), "app")
        .await
        .unwrap();
    assert!(!a.same_pool(&b));
    // The same settings again share the pool.
    let a2 = DatabaseManager::open_with(&in_code("a.db"), "app")
        .await
        .unwrap();
    assert!(a.same_pool(&a2));
    // `--url` (Config::with_url) and a changed pool setting are other pools too.
    let c = DatabaseManager::open_with(&in_code("a.db").with_url("app", "sqlite://c.db"), "app")
        .await
        .unwrap();
    assert!(!c.same_pool(&a));
    let smaller = Config::loader()
        .toml("[databases.app]\nurl = \"sqlite://a.db\"\npool_size = 1\n")
        .base_dir(dir.path())
        .load()
        .unwrap();
    assert!(
        !DatabaseManager::open_with(&smaller, "app")
            .await
            .unwrap()
            .same_pool(&a)
    );

    // Writes land in the database each handle names.
    for (db, label) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        db.execute("CREATE TABLE who (name TEXT)", &Params::new())
            .await
            .unwrap();
        db.execute("INSERT INTO who VALUES (:n)", &params! { "n" => label })
            .await
            .unwrap();
    }
    for (file, label) in [("a.db", "a"), ("b.db", "b"), ("c.db", "c")] {
        let direct = DatabaseManager::connect(
            DatabaseConfig::new(
                "check",
                &format!("sqlite://{}", dir.path().join(file).display()),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let rows = direct
            .query("SELECT name FROM who", &Params::new())
            .await
            .unwrap();
        let names: Vec<String> = rows.iter().map(|r| r.get("name").unwrap()).collect();
        assert_eq!(names, [label], "{file}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_migrate_runs_on_open() {
    let (_dir, config) = project("auto_migrate = true");
    let db = DatabaseManager::open_with(&config, "app").await.unwrap();
    let status = db.migration_status().await.unwrap();
    assert_eq!(status.current_version.as_deref(), Some("1"));
    assert!(status.pending.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn open_without_auto_migrate_leaves_migrations_pending() {
    let (_dir, config) = project("");
    let db = DatabaseManager::open_with(&config, "app").await.unwrap();
    let status = db.migration_status().await.unwrap();
    assert_eq!(status.pending.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_third_statement_rolls_back_the_whole_transaction() {
    let (_dir, db) = migrated("").await;
    let e = db
        .transaction(&[
            Statement::new("INSERT INTO items (name) VALUES (:n)").bind("n", "one"),
            Statement::new("INSERT INTO items (name) VALUES (:n)").bind("n", "two"),
            Statement::new("INSERT INTO items (name) VALUES (:n)").bind("n", "one"),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Constraint);
    let msg = e.to_string();
    assert!(msg.contains("[app] transaction"), "{msg}");
    assert!(
        msg.contains("statement 3 of 3 failed, transaction rolled back"),
        "{msg}"
    );
    let rows = db
        .query("SELECT count(*) AS n FROM items", &Params::new())
        .await
        .unwrap();
    assert_eq!(rows.first().unwrap().get::<i64>("n").unwrap(), 0);
    let s = db.pool_status();
    assert_eq!(s.checked_out, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_transaction_commits_or_rolls_back() {
    let (_dir, db) = migrated("").await;
    let mut tx = db.begin().await.unwrap();
    tx.execute("INSERT INTO items (name) VALUES ('kept')", &Params::new())
        .await
        .unwrap();
    let seen = tx
        .query("SELECT count(*) AS n FROM items", &Params::new())
        .await
        .unwrap();
    assert_eq!(seen.first().unwrap().get::<i64>("n").unwrap(), 1);
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "INSERT INTO items (name) VALUES ('dropped')",
        &Params::new(),
    )
    .await
    .unwrap();
    drop(tx); // never committed
    let rows = db
        .query("SELECT name FROM items", &Params::new())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(db.pool_status().checked_out, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_past_its_timeout_is_cancelled_promptly() {
    let (_dir, db) = migrated("").await;
    let started = Instant::now();
    let e = db
        .query_with_timeout(SLOW, &Params::new(), Duration::from_millis(200))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        e.to_string()
            .contains("[app] query: timeout: statement cancelled after 200 ms"),
        "{e}"
    );
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(1000),
        "{took:?}"
    );
    // The interrupted connection was closed, not reused; the pool still serves queries.
    let rows = db.query("SELECT 2 AS two", &Params::new()).await.unwrap();
    assert_eq!(rows.first().unwrap().get::<i64>("two").unwrap(), 2);
    assert_eq!(db.pool_status().checked_out, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_statement_timeout_applies_to_plain_queries() {
    let (_dir, db) = migrated("statement_timeout = 0.2").await;
    let e = db.query(SLOW, &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelled_task_leaks_no_connection() {
    let (_dir, db) = migrated("").await;
    let db2 = db.clone();
    let task = tokio::spawn(async move { db2.query(SLOW, &Params::new()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(db.pool_status().checked_out, 1);
    task.abort();
    let _ = task.await;
    let s = db.pool_status();
    assert_eq!((s.checked_out, s.waiting), (0, 0));
    db.query("SELECT 1", &Params::new()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn many_concurrent_tasks_on_a_small_pool_finish_and_the_pool_returns_to_idle() {
    let (_dir, db) = migrated("").await;
    let db = Arc::new(db);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let p = params! { "n" => format!("item-{i}") };
            db.with_retry("insert", |_| {
                db.execute("INSERT INTO items (name) VALUES (:n)", &p)
            })
            .await
            .unwrap();
            db.query("SELECT count(*) AS n FROM items", &Params::new())
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rows = db
        .query("SELECT count(*) AS n FROM items", &Params::new())
        .await
        .unwrap();
    assert_eq!(rows.first().unwrap().get::<i64>("n").unwrap(), 40);
    let s = db.pool_status();
    assert_eq!(s.checked_out, 0);
    assert_eq!(s.waiting, 0);
    assert!(s.checked_in <= 2, "overflow connections were closed: {s:?}");
    assert!(s.total_connections <= 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn pool_exhausted_error_prints_the_pool_status() {
    let (_dir, db) = migrated("").await;
    // pool_size 2 + max_overflow 1: hold all three.
    let raw = db.database();
    let held = vec![
        raw.acquire().await.unwrap(),
        raw.acquire().await.unwrap(),
        raw.acquire().await.unwrap(),
    ];
    let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PoolExhausted);
    let msg = e.to_string();
    assert!(
        msg.contains("[app] query") || msg.contains("[app] checkout"),
        "{msg}"
    );
    assert!(
        msg.contains("checked_out=3") && msg.contains("max_overflow=1"),
        "{msg}"
    );
    drop(held);
    db.query("SELECT 1", &Params::new()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn health_check_reports_connectivity_timing_and_migrations() {
    let (_dir, config) = project("");
    let db = DatabaseManager::open_with(&config, "app").await.unwrap();
    let h = db.health_check().await;
    // A pending migration: reachable and answering, but degraded.
    assert_eq!(h.status, dbm::Status::Degraded, "{h:?}");
    assert!(h.connection && h.query_test, "{h:?}");
    assert!(h.response_time_ms > 0.0);
    assert_eq!(h.migration_status, dbm::SchemaState::Pending);
    let m = h.migrations.as_ref().unwrap();
    assert_eq!((m.pending.len(), m.current_version.as_deref()), (1, None));
    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(json["database_name"], "app");
    assert_eq!(json["backend"], "sqlite");
    assert!(json["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(json["pool"]["pool_size"], 2);
    db.run_migrations(None).await.unwrap();
    assert_eq!(db.health_check().await.status, dbm::Status::Healthy);

    db.close().await;
    let h = db.health_check().await;
    assert_eq!(h.status, dbm::Status::Unhealthy);
    assert!(h.error.unwrap().contains("closed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_clear_errors() {
    let (_dir, config) = project("");
    // Unknown database in the config.
    let e = DatabaseManager::open_with(&config, "warehouse")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(
        e.to_string().contains("`warehouse` is not configured"),
        "{e}"
    );
    assert!(e.to_string().contains("DBM_WAREHOUSE_URL"), "{e}");
    // Unknown URL scheme, with a password that must not be echoed.
    let e = DatabaseConfig::new("x", "oracle://scott:tiger@h/db").unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown database URL scheme `oracle`"),
        "{e}"
    );
    assert!(!e.to_string().contains("tiger"), "{e}");
    // Empty SQL and wrong parameter names.
    let db = DatabaseManager::open_with(&config, "app").await.unwrap();
    for sql in ["", "  -- only a comment\n"] {
        let e = db.execute(sql, &Params::new()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Parameter);
        assert!(e.to_string().contains("the SQL is empty"), "{e}");
    }
    let e = db
        .query("SELECT :id", &params! { "idd" => 1 })
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("[app] query: parameter error"), "{msg}");
    assert!(msg.contains(":id") && msg.contains("given: idd"), "{msg}");
    let e = db
        .transaction(&[Statement::new("SELECT 1"), Statement::new("SELECT :x")])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("statement 2 of 2"), "{e}");
    // A bad migration target.
    let e = db.run_migrations(Some("v2")).await.unwrap_err();
    assert!(e.to_string().contains("`v2` is not a version"), "{e}");
    // An empty transaction is a mistake, not a success.
    let e = db.transaction(&[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.to_string()
            .starts_with("[app] transaction: invalid argument: the transaction has no statements"),
        "{e}"
    );
    // Empty or blank names are refused wherever a name enters.
    for name in ["", "   ", "app ", "\tapp"] {
        let e = DatabaseConfig::new(name, "sqlite::memory:").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}");
        let e = DatabaseManager::open_with(&config, name).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}: {e}");
        assert!(e.to_string().contains("the database name"), "{e}");
        assert!(config.database(name).is_err(), "{name:?}");
    }
    let mut c = DatabaseConfig::new("ok", "sqlite::memory:").unwrap();
    c.name = " ".into();
    let e = DatabaseManager::connect(c).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_serialise_as_a_list_of_objects() {
    let (_dir, db) = migrated("").await;
    db.execute(
        "INSERT INTO items (name) VALUES ('a'), ('b')",
        &Params::new(),
    )
    .await
    .unwrap();
    let rows = db
        .query("SELECT id, name FROM items ORDER BY id", &Params::new())
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&rows).unwrap(),
        serde_json::json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    );
    assert_eq!(rows.to_maps()[1]["name"], dbm::Value::from("b"));
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_setting_refuses_writes() {
    let (dir, db) = migrated("").await;
    db.close().await;
    let config = Config::loader()
        .file(dir.path().join("dbm.toml"))
        .var("DBM__DATABASES__APP__READ_ONLY", "true")
        .load()
        .unwrap();
    let ro = DatabaseManager::open_with(&config, "app").await.unwrap();
    ro.query("SELECT count(*) AS n FROM items", &Params::new())
        .await
        .unwrap();
    let e = ro
        .execute("INSERT INTO items (name) VALUES ('x')", &Params::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn statement_timeout_applies_inside_transactions() {
    let (_dir, db) = migrated("statement_timeout = 0.2").await;
    let started = Instant::now();
    let e = db
        .transaction(&[
            Statement::new("INSERT INTO items (name) VALUES ('before')"),
            Statement::new(SLOW),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("statement 2 of 2"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let rows = db
        .query("SELECT count(*) AS n FROM items", &Params::new())
        .await
        .unwrap();
    assert_eq!(
        rows.first().unwrap().get::<i64>("n").unwrap(),
        0,
        "rolled back"
    );
    assert_eq!(db.pool_status().checked_out, 0);
}
