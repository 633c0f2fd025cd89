//! The behaviour every driver must show. Each case takes an isolated [`TestDb`]; the
//! `conformance_suite!` macro turns the list into `#[tokio::test]`s per driver.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dbm_core::{
    Backend, Database, DatabaseExt, ErrorKind, Params, PoolConfig, SqlType, Statement, Value,
    params,
};
use dbm_migrate::{MigrationState, Migrator, Version};

use crate::fixture::TestDb;

async fn count(db: &dyn Database, table: &str) -> i64 {
    let rows = db
        .query(
            &format!("SELECT count(*) AS n FROM {table}"),
            &Params::new(),
        )
        .await
        .unwrap();
    rows.first().unwrap().get("n").unwrap()
}

/// Column types, NULLs, names and JSON shape.
pub async fn row_format_and_types(t: &TestDb) {
    let db = &t.db;
    db.execute(
        &format!(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name {text} NOT NULL, price {float}, active {bool}, note {text})",
            text = t.sql_type(SqlType::Text),
            float = t.sql_type(SqlType::Float),
            bool = t.sql_type(SqlType::Bool),
        ),
        &Params::new(),
    )
    .await
    .unwrap();
    let n = db
        .execute(
            "INSERT INTO items (id, name, price, active, note) VALUES (:id, :name, :price, :active, :note)",
            &params! { "id" => 1, "name" => "widget", "price" => 2.5, "active" => true, "note" => None::<String> },
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let rows = db
        .query(
            "SELECT id, name, price, active, note FROM items",
            &Params::new(),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let names: Vec<&str> = rows.columns().as_slice().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["id", "name", "price", "active", "note"]);
    let r = rows.first().unwrap();
    assert_eq!(r.get::<i64>("id").unwrap(), 1);
    assert_eq!(r.get::<String>(1).unwrap(), "widget");
    assert_eq!(r.get::<f64>("price").unwrap(), 2.5);
    assert!(r.get::<bool>("active").unwrap());
    assert_eq!(r.value("note").unwrap(), &Value::Null);
    let e = r.get::<i64>("name").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion);
    assert_eq!(
        serde_json::to_value(&rows).unwrap(),
        serde_json::json!([{"id": 1, "name": "widget", "price": 2.5, "active": true, "note": null}])
    );
    // An empty result still has its columns.
    let empty = db
        .query("SELECT id, name FROM items WHERE id < 0", &Params::new())
        .await
        .unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.columns().len(), 2);
}

/// `:name` parameters: repeated, in any order, never spliced.
pub async fn named_parameters(t: &TestDb) {
    let db = &t.db;
    let text = t.sql_type(SqlType::Text);
    db.execute(
        &format!("CREATE TABLE p (a {text}, b {text})"),
        &Params::new(),
    )
    .await
    .unwrap();
    let tricky = "x'); DROP TABLE p; --";
    db.execute(
        "INSERT INTO p (a, b) VALUES (:v, :v)",
        &params! { "v" => tricky },
    )
    .await
    .unwrap();
    let rows = db
        .query(
            "SELECT a, b, ':v' AS literal FROM p WHERE a = :v AND b = :v",
            &params! { "v" => tricky },
        )
        .await
        .unwrap();
    let r = rows.first().expect("one row");
    assert_eq!(r.get::<String>("a").unwrap(), tricky);
    assert_eq!(r.get::<String>("literal").unwrap(), ":v");
    let e = db
        .query("SELECT :a AS a", &params! { "b" => 1 })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
    assert!(
        e.to_string().contains(":a") && e.to_string().contains("given: b"),
        "{e}"
    );
    let e = db
        .query("SELECT 1 AS one", &params! { "unused" => 1 })
        .await
        .unwrap_err();
    assert!(e.to_string().contains(":unused given but not used"), "{e}");
}

/// `fetch_one` and its kin keep the first row, but the statement runs to its end and the
/// connection stays in step for the next one.
pub async fn first_row_reads_the_whole_result(t: &TestDb) {
    let db = &t.db;
    db.execute("CREATE TABLE f (n INTEGER)", &Params::new())
        .await
        .unwrap();
    db.execute("INSERT INTO f (n) VALUES (1), (2), (3)", &Params::new())
        .await
        .unwrap();
    let first = db
        .fetch_one("SELECT n, n * 10 AS m FROM f ORDER BY n", ())
        .await
        .unwrap();
    assert_eq!(first.values(), &[Value::Int(1), Value::Int(10)]);
    assert_eq!(first.columns().len(), 2);
    let none = db
        .fetch_optional("SELECT n FROM f WHERE n > 3", ())
        .await
        .unwrap();
    assert!(none.is_none());
    let e = db
        .fetch_one("SELECT n FROM f WHERE n > 3", ())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("returned no row"), "{e}");
    // On one connection: what follows a first row sees the right result.
    let mut tx = db.begin().await.unwrap();
    for round in 0..3 {
        let n: i64 = tx
            .fetch_scalar("SELECT n FROM f ORDER BY n DESC", ())
            .await
            .unwrap();
        assert_eq!(n, 3, "round {round}");
        let all = tx.query("SELECT n FROM f ORDER BY n", ()).await.unwrap();
        assert_eq!(all.len(), 3, "round {round}");
    }
    tx.rollback().await.unwrap();
    // A statement whose first row is all that is kept still does all its work. (SQL Server
    // spells it OUTPUT, which the TDS test engine does not run.)
    if db.backend() != Backend::Mssql {
        let r = db
            .fetch_one("INSERT INTO f (n) VALUES (4), (5), (6) RETURNING n", ())
            .await
            .unwrap();
        assert_eq!(r.get::<i64>("n").unwrap(), 4);
        assert_eq!(count(db.as_ref(), "f").await, 6);
    }
}

/// A failing statement rolls the whole transaction back and is named in the error.
pub async fn transactions_are_atomic(t: &TestDb) {
    let db = &t.db;
    db.execute(
        &format!(
            "CREATE TABLE acct (id INTEGER PRIMARY KEY, owner {} UNIQUE)",
            t.sql_type(SqlType::Text)
        ),
        &Params::new(),
    )
    .await
    .unwrap();
    let e = db
        .transaction(&[
            Statement::new("INSERT INTO acct (id, owner) VALUES (1, :o)").bind("o", "ann"),
            Statement::new("INSERT INTO acct (id, owner) VALUES (2, :o)").bind("o", "bob"),
            Statement::new("INSERT INTO acct (id, owner) VALUES (3, :o)").bind("o", "ann"),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Constraint);
    assert!(e.to_string().contains("statement 3 of 3 failed"), "{e}");
    assert_eq!(count(db.as_ref(), "acct").await, 0);
    let counts = db
        .transaction(&[
            Statement::new("INSERT INTO acct (id, owner) VALUES (1, 'ann')"),
            Statement::new("UPDATE acct SET owner = 'anne' WHERE id = 1"),
        ])
        .await
        .unwrap();
    assert_eq!(counts, [1, 1]);

    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "INSERT INTO acct (id, owner) VALUES (9, 'tmp')",
        &Params::new(),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "INSERT INTO acct (id, owner) VALUES (10, 'kept')",
        &Params::new(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "INSERT INTO acct (id, owner) VALUES (11, 'dropped')",
        &Params::new(),
    )
    .await
    .unwrap();
    drop(tx);
    assert_eq!(count(db.as_ref(), "acct").await, 2);
    assert_eq!(db.pool_status().checked_out, 0);
}

/// A statement past its time limit is cancelled promptly and the pool recovers.
pub async fn timeouts_cancel(t: &TestDb) {
    let db = &t.db;
    let started = Instant::now();
    let e = db
        .query_with_timeout(t.slow_query(), &Params::new(), Duration::from_millis(200))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(took < Duration::from_millis(1500), "timeout took {took:?}");
    // The server answered the cancellation: the error says it was cancelled, and that is
    // known, not a guess.
    assert!(!e.outcome_unknown(), "{e}");
    assert!(
        e.message()
            .contains("cancelled after 200 ms (the server confirmed the cancellation"),
        "{e}"
    );
    let rows = db.query("SELECT 7 AS seven", &Params::new()).await.unwrap();
    assert_eq!(rows.first().unwrap().get::<i64>("seven").unwrap(), 7);
    assert_eq!(db.pool_status().checked_out, 0);

    // A zero limit is an invalid argument, and nothing runs.
    db.execute("CREATE TABLE z (x INTEGER)", &Params::new())
        .await
        .unwrap();
    for _ in 0..5 {
        let e = db
            .execute_with_timeout("INSERT INTO z VALUES (1)", &Params::new(), Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        let e = db
            .query_with_timeout("SELECT 1", &Params::new(), Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
    assert_eq!(count(db.as_ref(), "z").await, 0);
}

/// Many tasks on a small pool all finish and the pool returns to idle; an exhausted pool
/// times out with its status in the error.
pub async fn pool_accounting(t: &TestDb) {
    let db = t.another_pool(
        PoolConfig::new("small")
            .pool_size(2)
            .max_overflow(1)
            .timeout(Duration::from_secs(10)),
    );
    db.execute("CREATE TABLE hits (n INTEGER)", &Params::new())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.transaction(&[Statement::new("INSERT INTO hits (n) VALUES (:n)").bind("n", i)])
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(count(db.as_ref(), "hits").await, 24);
    let s = db.pool_status();
    assert_eq!((s.checked_out, s.waiting), (0, 0), "{s:?}");
    assert!(s.total_connections <= 3 && s.checked_in <= 2, "{s:?}");

    let tight = t.another_pool(
        PoolConfig::new("tight")
            .pool_size(1)
            .max_overflow(0)
            .timeout(Duration::from_millis(100)),
    );
    let held = tight.acquire().await.unwrap();
    let e = tight
        .query("SELECT 1 AS one", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PoolExhausted);
    assert!(e.to_string().contains("checked_out=1"), "{e}");
    drop(held);
    tight
        .query("SELECT 1 AS one", &Params::new())
        .await
        .unwrap();
}

/// Empty SQL, syntax errors and constraint violations get their kinds.
pub async fn bad_input(t: &TestDb) {
    let db = &t.db;
    let e = db.execute("  ", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
    let e = db.transaction(&[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("no statements"), "{e}");
    let e = db.query("SELEC 1", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Query);
    assert!(e.code().is_some(), "the driver's code is kept: {e:?}");
    assert!(
        e.to_string().starts_with("[test] query: query error"),
        "{e}"
    );
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY)", &Params::new())
        .await
        .unwrap();
    db.execute("INSERT INTO u (id) VALUES (1)", &Params::new())
        .await
        .unwrap();
    let e = db
        .execute("INSERT INTO u (id) VALUES (1)", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Constraint);
    assert!(!e.is_transient());
    let e = db
        .query("SELECT * FROM no_such_table", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Query);
}

fn migrator(t: &TestDb) -> Migrator {
    Migrator::new(t.migrations_dir(), "test")
}

async fn migrate(t: &TestDb) -> dbm_core::Result<dbm_migrate::MigrateReport> {
    let mut c = t.db.acquire().await.unwrap();
    migrator(t).migrate(c.as_mut(), None).await
}

/// Dotted ordering, failure in the middle, edits, CRLF, rollback.
pub async fn migrations(t: &TestDb) {
    let users = format!(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name {});\n",
        t.sql_type(SqlType::Text)
    );
    t.write_migration("V1__users.sql", &users);
    t.write_migration("U1__users.sql", "DROP TABLE users;\n");
    t.write_migration(
        "V1.10__orders.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);\n",
    );
    t.write_migration("U1.10__orders.sql", "DROP TABLE orders;\n");
    t.write_migration(
        "V1.9__seed.sql",
        "INSERT INTO users (id, name) VALUES (1, 'ada');\n",
    );
    t.write_migration("U1.9__seed.sql", "DELETE FROM users;\n");
    t.write_migration(
        "V2__broken.sql",
        "CREATE TABLE audit (id INTEGER);\nINSERT INTO users (id, name) VALUES (2, 'bob');\n\nINSERT INTO no_such_table VALUES (1);\n",
    );
    let e = migrate(t).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("V2__broken.sql line 4"), "{msg}");
    assert!(
        msg.contains(
            "Applied before it in this run: V1__users.sql, V1.9__seed.sql, V1.10__orders.sql"
        ),
        "{msg}"
    );
    assert!(e.code().is_some(), "database code kept: {e:?}");
    // Exactly the state after 1.10.
    assert_eq!(t.tables().await, ["orders", "schema_version", "users"]);
    assert_eq!(count(t.db.as_ref(), "users").await, 1);

    t.write_migration("V2__broken.sql", "CREATE TABLE audit (id INTEGER);\n");
    let r = migrate(t).await.unwrap();
    assert_eq!(r.applied.len(), 1);

    // CRLF copies are not edits; a real edit blocks migrate.
    t.write_migration("V1__users.sql", &users.replace('\n', "\r\n"));
    let mut c = t.db.acquire().await.unwrap();
    migrator(t).validate(c.as_mut()).await.unwrap();
    t.write_migration("V1__users.sql", &users.replace("INTEGER", "BIGINT"));
    let st = migrator(t).status(c.as_mut()).await.unwrap();
    assert_eq!(st.edited.len(), 1);
    assert_eq!(st.edited[0].state, MigrationState::Edited);
    t.write_migration("V3__later.sql", "CREATE TABLE later (id INTEGER);\n");
    let e = migrator(t).migrate(c.as_mut(), None).await.unwrap_err();
    assert!(e.to_string().contains("V1__users.sql was edited"), "{e}");
    t.write_migration("V1__users.sql", &users);
    t.remove_migration("V3__later.sql");

    // Rollback to 1: needs U2, which is missing → refused, nothing changed.
    let e = migrator(t)
        .rollback(c.as_mut(), &"1".parse::<Version>().unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no undo file for U2"), "{e}");
    t.write_migration("U2__broken.sql", "DROP TABLE audit;\n");
    let r = migrator(t)
        .rollback(c.as_mut(), &"1".parse::<Version>().unwrap())
        .await
        .unwrap();
    let order: Vec<&str> = r.applied.iter().map(|a| a.version.as_str()).collect();
    assert_eq!(order, ["2", "1.10", "1.9"]);
    assert_eq!(t.tables().await, ["schema_version", "users"]);
    assert_eq!(count(t.db.as_ref(), "users").await, 0);
}

/// Separate pools migrating at once apply each migration exactly once.
pub async fn concurrent_migrators(t: &TestDb) {
    t.write_migration(
        "V1__step.sql",
        "CREATE TABLE runs (step INTEGER);\nINSERT INTO runs (step) VALUES (1);\n",
    );
    for i in 2..=5 {
        t.write_migration(
            &format!("V{i}__step.sql"),
            &format!("INSERT INTO runs (step) VALUES ({i});\n"),
        );
    }
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let db = t.another_pool(PoolConfig::new("migrator").pool_size(1));
        let m = migrator(t);
        tasks.push(tokio::spawn(async move {
            let mut c = db.acquire().await.unwrap();
            let n = m.migrate(c.as_mut(), None).await.unwrap().applied.len();
            drop(c);
            db.close().await;
            n
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 5);
    assert_eq!(count(t.db.as_ref(), "runs").await, 5);
    assert_eq!(count(t.db.as_ref(), "schema_version").await, 5);
}

/// A cancelled task leaks no connection and leaves no transaction open.
pub async fn cancellation_leaks_nothing(t: &TestDb) {
    let db: Arc<dyn Database> = t.db.clone();
    db.execute("CREATE TABLE c (x INTEGER)", &Params::new())
        .await
        .unwrap();
    let db2 = db.clone();
    let task = tokio::spawn(async move {
        let mut tx = db2.begin().await.unwrap();
        tx.execute("INSERT INTO c (x) VALUES (1)", &Params::new())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        tx.commit().await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    task.abort();
    let _ = task.await;
    let s = db.pool_status();
    assert_eq!(s.checked_out, 0, "{s:?}");
    assert_eq!(
        count(db.as_ref(), "c").await,
        0,
        "the open transaction was rolled back"
    );
    db.execute("INSERT INTO c (x) VALUES (2)", &Params::new())
        .await
        .unwrap();
}

/// Rows stream in order; dropping a stream early stops the query and frees its connection.
pub async fn streaming(t: &TestDb) {
    let db = t.another_pool(
        PoolConfig::new("stream")
            .pool_size(1)
            .max_overflow(0)
            .timeout(Duration::from_secs(5)),
    );
    db.execute(
        &format!(
            "CREATE TABLE s (n INTEGER, label {})",
            t.sql_type(SqlType::Text)
        ),
        &Params::new(),
    )
    .await
    .unwrap();
    let mut inserts = Vec::new();
    for chunk in 0..10 {
        let values: Vec<String> = (chunk * 500..(chunk + 1) * 500)
            .map(|n| format!("({n}, 'row {n}')"))
            .collect();
        inserts.push(Statement::new(format!(
            "INSERT INTO s (n, label) VALUES {}",
            values.join(", ")
        )));
    }
    db.transaction(&inserts).await.unwrap();

    let mut rows = db
        .query_stream(
            "SELECT n, label FROM s WHERE n >= :min ORDER BY n",
            &params! { "min" => 0 },
        )
        .await
        .unwrap();
    assert_eq!(
        db.pool_status().checked_out,
        1,
        "the stream holds the connection"
    );
    let mut expected = 0i64;
    while let Some(row) = rows.next().await {
        let row = row.unwrap();
        assert_eq!(row.get::<i64>("n").unwrap(), expected);
        assert_eq!(
            row.get::<String>("label").unwrap(),
            format!("row {expected}")
        );
        expected += 1;
    }
    assert_eq!(expected, 5000);
    drop(rows);
    wait_idle(db.as_ref()).await;
    assert_eq!(
        db.pool_status().connections_created,
        1,
        "the connection went back to the pool"
    );

    // An endless result, dropped after a few rows.
    let endless = t.endless_query();
    let mut rows = db.query_stream(endless, &Params::new()).await.unwrap();
    for i in 1..=10 {
        assert_eq!(
            rows.next().await.unwrap().unwrap().get::<i64>("n").unwrap(),
            i
        );
    }
    drop(rows);
    wait_idle(db.as_ref()).await;
    let after = db
        .query("SELECT count(*) AS n FROM s", &Params::new())
        .await
        .unwrap();
    assert_eq!(after.first().unwrap().get::<i64>("n").unwrap(), 5000);

    // Errors arrive as the stream's item, with the database and operation named.
    let mut bad = db
        .query_stream("SELECT * FROM no_such_table", &Params::new())
        .await
        .unwrap();
    let e = bad.next().await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Query);
    assert!(e.to_string().contains("query stream"), "{e}");
    assert!(bad.next().await.is_none());
    let e = db
        .query_stream("SELECT :a", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
}

async fn wait_idle(db: &dyn Database) {
    for _ in 0..100 {
        if db.pool_status().checked_out == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the pool did not get its connection back: {:?}",
        db.pool_status()
    );
}

/// A transaction opened with plain SQL (`execute("BEGIN")`) never goes back to the pool
/// open: the next statement autocommits.
pub async fn manual_begin_is_not_pooled(t: &TestDb) {
    let db = t.another_pool(PoolConfig::new("one").pool_size(1).max_overflow(0));
    db.execute("CREATE TABLE m (x INTEGER)", &Params::new())
        .await
        .unwrap();
    db.execute(t.begin_statement(), &Params::new())
        .await
        .unwrap();
    db.execute("INSERT INTO m (x) VALUES (1)", &Params::new())
        .await
        .unwrap();
    let other = t.another_pool(PoolConfig::new("other").pool_size(1));
    assert_eq!(
        count(other.as_ref(), "m").await,
        1,
        "the insert was committed"
    );
    assert_eq!(db.pool_status().checked_out, 0);
}

/// Declares the whole suite as `#[tokio::test]`s for one driver: put
/// `dbm_testing::conformance_suite!(dbm_sqlite::DRIVER);` in the driver's `tests/`. A driver
/// that needs a server (its test backend names a variable, `DBM_TEST_<PRODUCT>_URL`) says
/// it skipped each case when the variable is not set, and fails instead under
/// `DBM_TEST_REQUIRE_<PRODUCT>=1`.
///
/// `conformance_suite!(DRIVER, server = EXPR)` runs each case on a server the test starts
/// itself: `EXPR` is a future of a [`TestServer`](crate::TestServer), e.g.
/// `dbm_testing::TestServer::tds_engine()`.
#[macro_export]
macro_rules! conformance_suite {
    ($driver:expr) => {
        $crate::conformance_suite!(@all
            $crate::TestDb::new(&$driver, $crate::default_pool()).await);
    };
    ($driver:expr, server = $server:expr) => {
        $crate::conformance_suite!(@all
            Some($crate::TestDb::on_server(&$driver, $crate::default_pool(), $server.await).await));
    };
    (@all $make:expr) => {
        $crate::conformance_suite!(@cases $make;
            row_format_and_types,
            named_parameters,
            first_row_reads_the_whole_result,
            transactions_are_atomic,
            timeouts_cancel,
            pool_accounting,
            bad_input,
            migrations,
            concurrent_migrators,
            cancellation_leaks_nothing,
            manual_begin_is_not_pooled,
            streaming,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(t) = $make else {
                    return;
                };
                $crate::conformance::$case(&t).await;
            }
        )*
    };
}
