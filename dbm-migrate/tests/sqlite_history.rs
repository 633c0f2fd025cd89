//! Migrations that stop midway, files in subdirectories or with odd names, and history
//! tables written by older versions, against real SQLite files.

mod common;

use std::fs;

use common::{Fixture, Kind, v};
use dbm_core::Params;
use dbm_migrate::MigrationState;

#[tokio::test(flavor = "multi_thread")]
async fn no_transaction_migration_stopped_midway_is_recorded_as_incomplete() {
    // The second statement runs "forever"; the run is stopped while it runs, as a killed
    // process would be (the fault suite kills real processes with SIGKILL).
    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c";
    let f = Fixture::new(
        Kind::Sqlite,
        &[
            (
                "V1__t.sql",
                "CREATE TABLE t (x INTEGER);
",
            ),
            (
                "V2__backfill.sql",
                &format!(
                    "-- dbm:no-transaction
-- step one
INSERT INTO t VALUES (1);

{slow};
INSERT INTO t VALUES (3);
"
                ),
            ),
        ],
    )
    .await;
    let mut conn = f.conn().await;
    let stopped = tokio::time::timeout(
        std::time::Duration::from_millis(700),
        f.migrator().migrate(conn.as_mut(), None),
    )
    .await;
    assert!(
        stopped.is_err(),
        "the slow statement should still be running"
    );
    drop(conn);

    let status = f.status().await;
    assert!(status.pending.is_empty(), "{status:?}");
    assert_eq!(status.failed.len(), 1, "{status:?}");
    let info = &status.failed[0];
    assert_eq!(info.state, MigrationState::Incomplete);
    assert_eq!(info.statements_done, Some(1));
    let at = info.stopped_at.as_ref().unwrap();
    assert_eq!((at.statement, at.of, at.line), (2, 3, 5));
    assert!(at.sql.starts_with("WITH RECURSIVE c(x)"), "{at:?}");
    let e = f.validate().await.unwrap_err().to_string();
    assert!(
        e.contains("V2__backfill.sql did not finish: the process running it stopped during statement 2 of 3 (line 5: `WITH RECURSIVE"),
        "{e}"
    );
    assert!(
        e.contains("statement 1 stayed applied") && e.contains("run `repair`"),
        "{e}"
    );
    // migrate refuses rather than running statement 1 again.
    let e = f.try_migrate().await.unwrap_err().to_string();
    assert!(e.contains("did not finish"), "{e}");
    let rows =
        f.db.query("SELECT count(*) AS n FROM t", &Params::new())
            .await
            .unwrap();
    assert_eq!(rows.first().unwrap().get::<i64>("n").unwrap(), 1);

    // The operator finishes by hand, repairs, and the fixed file applies.
    f.write(
        "V2__backfill.sql",
        "-- dbm:no-transaction
INSERT INTO t VALUES (2);
",
    );
    let rep = f.migrator().repair(f.conn().await.as_mut()).await.unwrap();
    assert_eq!(rep.removed_failed, ["V2__backfill.sql"]);
    assert_eq!(f.migrate().await.applied.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn failure_quotes_the_statement_not_its_leading_comment() {
    let f = Fixture::new(
        Kind::Sqlite,
        &[(
            "V1__bad.sql",
            "-- dbm:no-transaction
-- create the thing
/* with a note */ CREATE TABLEX nope (x);
",
        )],
    )
    .await;
    let e = f.try_migrate().await.unwrap_err().to_string();
    assert!(
        e.contains("V1__bad.sql line 3: statement `CREATE TABLEX nope (x)` failed"),
        "{e}"
    );
    assert!(!e.contains("dbm:no-transaction"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn upper_case_extensions_and_subdirectories_are_applied() {
    let f = Fixture::new(
        Kind::Sqlite,
        &[(
            "V1__a.SQL",
            "CREATE TABLE a (x INTEGER);
",
        )],
    )
    .await;
    fs::create_dir_all(f.dir.path().join("migrations/2026/q4")).unwrap();
    f.write(
        "2026/q4/V2__b.sql",
        "CREATE TABLE b (x INTEGER);
",
    );
    f.write(
        "2026/U2__b.Sql",
        "DROP TABLE b;
",
    );
    fs::create_dir_all(f.dir.path().join("migrations/.git")).unwrap();
    f.write(
        ".git/V9__ignored_inside_a_hidden_directory.sql",
        "NOT SQL;
",
    );
    let r = f.migrate().await;
    let scripts: Vec<&str> = r.applied.iter().map(|a| a.script.as_str()).collect();
    assert_eq!(scripts, ["V1__a.SQL", "2026/q4/V2__b.sql"]);
    assert_eq!(f.tables().await, ["a", "b", "schema_version"]);
    let back = f
        .migrator()
        .rollback(f.conn().await.as_mut(), &v("1"))
        .await
        .unwrap();
    assert_eq!(back.applied[0].script, "2026/U2__b.Sql");

    // A duplicate version in another directory names both files.
    f.write(
        "2026/V2__again.sql",
        "SELECT 1;
",
    );
    let e = f.migrator().load().unwrap_err().to_string();
    assert!(
        e.contains("2026/V2__again.sql") && e.contains("2026/q4/V2__b.sql"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_would_be_skipped_are_refused_by_name() {
    for (name, why) in [
        ("V3__backup.sql.bak", "does not end in .sql"),
        (".V3__hidden.sql", "is hidden"),
        ("sub/notes.sql", "must start with V or U"),
    ] {
        let f = Fixture::new(Kind::Sqlite, &[("V1__ok.sql", "SELECT 1;")]).await;
        fs::create_dir_all(f.dir.path().join("migrations/sub")).unwrap();
        f.write(name, "SELECT 1;");
        let e = f.try_migrate().await.unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(why), "{name}: {e}");
        assert!(f.tables().await.is_empty(), "{name}: nothing may run");
    }
}

const V1: &str = "CREATE TABLE a (x INTEGER);\n";

/// The history table as the first release created it (no `statements_done`), with V1
/// applied.
async fn v1_applied_by_an_old_release(f: &Fixture) {
    for sql in [
        "CREATE TABLE schema_version (installed_rank INTEGER NOT NULL PRIMARY KEY, version TEXT, description TEXT NOT NULL, type TEXT NOT NULL, script TEXT NOT NULL, checksum INTEGER, installed_by TEXT NOT NULL, installed_on TEXT NOT NULL, execution_time_ms INTEGER NOT NULL, success BOOLEAN NOT NULL)",
        "CREATE TABLE a (x INTEGER)",
    ] {
        f.db.execute(sql, &Params::new()).await.unwrap();
    }
    f.db.execute(
        "INSERT INTO schema_version VALUES (1, '1', 'a', 'SQL', 'V1__a.sql', :c, 'me', '2026-01-01T00:00:00Z', 3, 1)",
        &dbm_core::params! { "c" => dbm_migrate::checksum(V1) },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn history_tables_of_older_versions_are_read_and_upgraded() {
    let f = Fixture::new(
        Kind::Sqlite,
        &[
            ("V1__a.sql", V1),
            ("V2__b.sql", "CREATE TABLE b (x INTEGER);\n"),
        ],
    )
    .await;
    v1_applied_by_an_old_release(&f).await;
    let status = f.status().await;
    assert_eq!(status.applied.len(), 1);
    assert_eq!(status.pending.len(), 1);
    // status did not change the table; migrate adds the column and records progress.
    let cols =
        f.db.query(
            "SELECT name FROM pragma_table_info('schema_version')",
            &Params::new(),
        )
        .await
        .unwrap();
    assert_eq!(cols.len(), 10);
    f.migrate().await;
    let rows =
        f.db.query(
            "SELECT statements_done FROM schema_version ORDER BY installed_rank",
            &Params::new(),
        )
        .await
        .unwrap();
    let done: Vec<Option<i64>> = rows
        .iter()
        .map(|r| r.get("statements_done").unwrap())
        .collect();
    assert_eq!(done, [None, Some(1)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_works_on_a_history_table_of_an_older_version() {
    let f = Fixture::new(
        Kind::Sqlite,
        &[("V1__a.sql", V1), ("U1__a.sql", "DROP TABLE a;\n")],
    )
    .await;
    v1_applied_by_an_old_release(&f).await;
    let r = f
        .migrator()
        .rollback(f.conn().await.as_mut(), &v("0"))
        .await
        .unwrap();
    assert_eq!(r.applied[0].script, "U1__a.sql");
    assert_eq!(f.tables().await, ["schema_version"]);
}
