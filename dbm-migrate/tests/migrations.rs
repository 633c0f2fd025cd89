//! The migration engine against SQLite files, and (the tests that do not depend on how a
//! dialect splits a script) over SQL Server's wire protocol against the TDS test server in
//! engine mode.

mod common;

use std::fs;

use common::{Fixture, Kind, v};
use dbm_core::{ErrorKind, Params};
use dbm_migrate::MigrationState;

const BASIC: &[(&str, &str)] = &[
    (
        "V1__create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    ),
    ("U1__create_users.sql", "DROP TABLE users;\n"),
    (
        "V1.1__add_email.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    ),
    (
        "U1.1__add_email.sql",
        "ALTER TABLE users DROP COLUMN email;\n",
    ),
    (
        "V1.10__create_orders.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));\n",
    ),
    ("U1.10__create_orders.sql", "DROP TABLE orders;\n"),
    (
        "V1.9__seed.sql",
        "INSERT INTO users (name, email) VALUES ('ada', 'ada@example.com');\n",
    ),
    ("U1.9__seed.sql", "DELETE FROM users WHERE name = 'ada';\n"),
    ("README.md", "not a migration"),
];

async fn applies_in_dotted_version_order_and_records_history(k: Kind) {
    let f = Fixture::new(k, BASIC).await;
    let report = f.migrate().await;
    let order: Vec<&str> = report.applied.iter().map(|a| a.version.as_str()).collect();
    assert_eq!(order, ["1", "1.1", "1.9", "1.10"]);
    assert_eq!(report.current_version.as_deref(), Some("1.10"));
    assert_eq!(f.tables().await, ["orders", "schema_version", "users"]);

    let rows =
        f.db.query(
            "SELECT * FROM schema_version ORDER BY installed_rank",
            &Params::new(),
        )
        .await
        .unwrap();
    let first = rows.first().unwrap();
    assert_eq!(first.get::<i64>("installed_rank").unwrap(), 1);
    assert_eq!(first.get::<String>("description").unwrap(), "create users");
    assert_eq!(
        first.get::<String>("script").unwrap(),
        "V1__create_users.sql"
    );
    assert_eq!(
        first.get::<i64>("checksum").unwrap(),
        dbm_migrate::checksum(BASIC[0].1)
    );
    assert!(first.get::<bool>("success").unwrap());
    assert!(!first.get::<String>("installed_by").unwrap().is_empty());
    // Text on SQLite, datetimeoffset on SQL Server: either way this century's date.
    assert!(
        first
            .value("installed_on")
            .unwrap()
            .to_string()
            .starts_with("20")
    );

    // A second run has nothing to do.
    let again = f.migrate().await;
    assert!(again.applied.is_empty());
    let status = f.status().await;
    assert!(status.is_up_to_date());
    assert_eq!(status.applied.len(), 4);
}

async fn migrate_to_a_target_stops_there(k: Kind) {
    let f = Fixture::new(k, BASIC).await;
    let r = f
        .migrator()
        .migrate(f.conn().await.as_mut(), Some(&v("1.1")))
        .await
        .unwrap();
    assert_eq!(r.applied.len(), 2);
    let status = f.status().await;
    assert_eq!(status.current_version.as_deref(), Some("1.1"));
    let pending: Vec<&str> = status.pending.iter().map(|p| p.version.as_str()).collect();
    assert_eq!(pending, ["1.9", "1.10"]);
}

async fn status_before_any_migration_creates_nothing(k: Kind) {
    let f = Fixture::new(k, BASIC).await;
    let status = f.status().await;
    assert_eq!(status.pending.len(), 4);
    assert_eq!(status.current_version, None);
    assert!(
        f.tables().await.is_empty(),
        "status must not create the history table"
    );
}

async fn duplicate_versions_are_rejected_naming_both_files(k: Kind) {
    let f = Fixture::new(
        k,
        &[("V1__a.sql", "SELECT 1;"), ("V1.0__b.sql", "SELECT 1;")],
    )
    .await;
    let e = f.try_migrate().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Migration);
    let msg = e.to_string();
    assert!(
        msg.contains("V1.0__b.sql") && msg.contains("V1__a.sql"),
        "{msg}"
    );
    assert!(msg.contains("[app]"), "{msg}");
    let f = Fixture::new(
        k,
        &[("V1__a.sql", "SELECT 1;"), ("V001__b.sql", "SELECT 1;")],
    )
    .await;
    assert!(f.migrator().load().is_err());
}

async fn malformed_names_are_rejected_naming_the_file(k: Kind) {
    for bad in [
        "V2_missing_separator.sql",
        "V2.x__bad_version.sql",
        "seed_data.sql",
    ] {
        let f = Fixture::new(k, &[("V1__ok.sql", "SELECT 1;"), (bad, "SELECT 1;")]).await;
        let e = f.try_migrate().await.unwrap_err();
        assert!(e.to_string().contains(bad), "{bad}: {e}");
        assert!(
            f.tables().await.is_empty(),
            "nothing applied when a file is malformed"
        );
    }
    let f = Fixture::new(k, &[("U3__orphan.sql", "SELECT 1;")]).await;
    let e = f.migrator().load().unwrap_err();
    assert!(e.to_string().contains("U3__orphan.sql"), "{e}");
}

async fn failure_in_the_middle_leaves_the_previous_state_and_names_file_and_line(k: Kind) {
    let f = Fixture::new(k, &[
        (
            "V1__users.sql",
            "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
        ),
        (
            "V2__broken.sql",
            "CREATE TABLE audit (id INTEGER);\nINSERT INTO users (id) VALUES (1);\n\n-- the next statement is wrong\nINSERT INTO no_such_table VALUES (1);\n",
        ),
        ("V3__later.sql", "CREATE TABLE later (id INTEGER);\n"),
    ]).await;
    let e = f.try_migrate().await.unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Migration);
    assert!(msg.contains("V2__broken.sql line 5"), "{msg}");
    assert!(msg.contains("no such table: no_such_table"), "{msg}");
    assert!(
        msg.contains("Applied before it in this run: V1__users.sql"),
        "{msg}"
    );
    assert!(msg.contains("database is at version 1"), "{msg}");
    let code = match k {
        Kind::Sqlite => dbm_core::ErrorCode::Sqlite(1),
        Kind::Tds => dbm_core::ErrorCode::MssqlNumber(208),
    };
    assert_eq!(e.code(), Some(&code));

    // Exactly the state after V1: no audit table, no user row, no V2 or V3 history.
    assert_eq!(f.tables().await, ["schema_version", "users"]);
    let users =
        f.db.query("SELECT count(*) AS n FROM users", &Params::new())
            .await
            .unwrap();
    assert_eq!(users.first().unwrap().get::<i64>("n").unwrap(), 0);
    assert_eq!(
        f.history().await,
        [("1".to_owned(), "SQL".to_owned(), true)]
    );

    // Fixing the file lets migrate continue.
    f.write("V2__broken.sql", "CREATE TABLE audit (id INTEGER);\n");
    let r = f.migrate().await;
    assert_eq!(r.applied.len(), 2);
}

async fn edited_file_is_reported_by_validate_and_blocks_migrate(k: Kind) {
    let f = Fixture::new(k, BASIC).await;
    f.migrator()
        .migrate(f.conn().await.as_mut(), Some(&v("1.1")))
        .await
        .unwrap();
    f.write(
        "V1__create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    );
    let e = f.validate().await.unwrap_err();
    assert!(
        e.to_string().contains("V1__create_users.sql was edited"),
        "{e}"
    );
    let status = f.status().await;
    assert_eq!(status.edited.len(), 1);
    assert_eq!(status.edited[0].state, MigrationState::Edited);

    let e = f.try_migrate().await.unwrap_err();
    assert!(e.to_string().contains("refusing to migrate"), "{e}");
    assert_eq!(
        f.history().await.len(),
        2,
        "nothing applied while a file is edited"
    );

    // repair realigns the checksum; then migrate proceeds.
    let rep = f.migrator().repair(f.conn().await.as_mut()).await.unwrap();
    assert_eq!(rep.realigned, ["V1__create_users.sql"]);
    f.validate().await.unwrap();
    let r = f.migrate().await;
    assert_eq!(r.applied.len(), 2);
}

async fn crlf_and_bom_copies_of_applied_files_are_not_edits(k: Kind) {
    let f = Fixture::new(k, BASIC).await;
    f.migrate().await;
    for (name, sql) in BASIC.iter().filter(|(n, _)| n.ends_with(".sql")) {
        f.write(name, &format!("\u{feff}{}", sql.replace('\n', "\r\n")));
    }
    let status = f.validate().await.unwrap();
    assert!(status.edited.is_empty());
    assert!(status.is_up_to_date());
}

async fn missing_file_is_reported(k: Kind) {
    let f = Fixture::new(k, BASIC).await;
    f.migrate().await;
    fs::remove_file(f.dir.path().join("migrations/V1.9__seed.sql")).unwrap();
    fs::remove_file(f.dir.path().join("migrations/U1.9__seed.sql")).unwrap();
    let e = f.validate().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("version 1.9 (V1.9__seed.sql) is applied but its file is missing"),
        "{e}"
    );
}

async fn rollback_runs_undo_files_newest_first(k: Kind) {
    let f = Fixture::new(k, BASIC).await;
    f.migrate().await;
    let r = f
        .migrator()
        .rollback(f.conn().await.as_mut(), &v("1"))
        .await
        .unwrap();
    let order: Vec<&str> = r.applied.iter().map(|a| a.script.as_str()).collect();
    assert_eq!(
        order,
        [
            "U1.10__create_orders.sql",
            "U1.9__seed.sql",
            "U1.1__add_email.sql"
        ]
    );
    assert_eq!(r.current_version.as_deref(), Some("1"));
    assert_eq!(f.tables().await, ["schema_version", "users"]);
    let cols =
        f.db.query("SELECT * FROM users", &Params::new())
            .await
            .unwrap();
    assert_eq!(cols.columns().len(), 2, "email column dropped");

    let status = f.status().await;
    assert_eq!(status.current_version.as_deref(), Some("1"));
    assert_eq!(status.pending.len(), 3, "undone versions are pending again");
    // History is append-only: 4 applies + 3 undos.
    let h = f.history().await;
    assert_eq!(h.len(), 7);
    assert_eq!(h[4], ("1.10".to_owned(), "UNDO_SQL".to_owned(), true));

    // And they can be applied again.
    let again = f.migrate().await;
    assert_eq!(again.applied.len(), 3);
}

async fn rollback_refuses_when_an_undo_file_is_missing(k: Kind) {
    let f = Fixture::new(k, BASIC).await;
    f.migrate().await;
    fs::remove_file(f.dir.path().join("migrations/U1.9__seed.sql")).unwrap();
    let e = f
        .migrator()
        .rollback(f.conn().await.as_mut(), &v("1"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no undo file for U1.9"), "{e}");
    assert_eq!(f.history().await.len(), 4, "nothing was undone");
    assert_eq!(f.tables().await, ["orders", "schema_version", "users"]);
}

async fn concurrent_migrators_apply_each_migration_once(k: Kind) {
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 1..=6 {
        files.push((
            format!("V{i}__step_{i}.sql"),
            format!(
                "CREATE TABLE IF NOT EXISTS runs (step INTEGER);\nINSERT INTO runs VALUES ({i});\n"
            ),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let f = Fixture::new(k, &refs).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        // Separate pools: as separate processes would be.
        let db = f.another_pool();
        let m = f.migrator();
        tasks.push(tokio::spawn(async move {
            let mut conn = db.acquire().await.unwrap();
            m.migrate(conn.as_mut(), None).await.unwrap().applied.len()
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(
        total, 6,
        "six migrations applied in all, by whichever task got there first"
    );
    let runs =
        f.db.query("SELECT step FROM runs ORDER BY step", &Params::new())
            .await
            .unwrap();
    let steps: Vec<i64> = runs.iter().map(|r| r.get("step").unwrap()).collect();
    assert_eq!(steps, [1, 2, 3, 4, 5, 6]);
    assert_eq!(f.history().await.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_transaction_migrations_run_outside_a_transaction() {
    let f = Fixture::new(
        Kind::Sqlite,
        &[
            ("V1__t.sql", "CREATE TABLE t (x INTEGER);\n"),
            ("V2__vacuum.sql", "-- dbm:no-transaction\nVACUUM;\n"),
        ],
    )
    .await;
    // VACUUM fails inside a transaction, so this passing shows the directive works.
    let r = f.migrate().await;
    assert_eq!(r.applied.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_no_transaction_migration_is_recorded_and_blocks_until_repair() {
    let f = Fixture::new(
        Kind::Sqlite,
        &[
            ("V1__t.sql", "CREATE TABLE t (x INTEGER);\n"),
            (
                "V2__half.sql",
                "-- dbm:no-transaction\nINSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (1);\n",
            ),
        ],
    )
    .await;
    let e = f.try_migrate().await.unwrap_err();
    assert!(e.to_string().contains("V2__half.sql line 3"), "{e}");
    assert!(e.to_string().contains("recorded as failed"), "{e}");
    assert_eq!(
        f.history().await[1],
        ("2".to_owned(), "SQL".to_owned(), false)
    );
    let status = f.status().await;
    assert_eq!(status.failed.len(), 1);
    assert_eq!(status.failed[0].state, MigrationState::Failed);
    assert_eq!(status.failed[0].statements_done, Some(1));
    let e = f.try_migrate().await.unwrap_err();
    assert!(
        e.to_string().contains(
            "V2__half.sql failed at statement 2 of 2 (line 3: `INSERT INTO nope VALUES (1)`) and statement 1 stayed applied"
        ),
        "{e}"
    );

    f.write(
        "V2__half.sql",
        "-- dbm:no-transaction\nINSERT INTO t VALUES (2);\n",
    );
    f.db.execute("DELETE FROM t", &Params::new()).await.unwrap();
    let rep = f.migrator().repair(f.conn().await.as_mut()).await.unwrap();
    assert_eq!(rep.removed_failed, ["V2__half.sql"]);
    f.migrate().await;
    let n = f.db.query("SELECT x FROM t", &Params::new()).await.unwrap();
    assert_eq!(n.first().unwrap().get::<i64>("x").unwrap(), 2);
}

async fn baseline_skips_older_versions_and_out_of_order_is_refused(k: Kind) {
    let f = Fixture::new(
        k,
        &[
            ("V1__old.sql", "CREATE TABLE old (x INTEGER);\n"),
            ("V2__new.sql", "CREATE TABLE new (x INTEGER);\n"),
        ],
    )
    .await;
    f.migrator()
        .baseline(f.conn().await.as_mut(), &v("1"))
        .await
        .unwrap();
    let r = f.migrate().await;
    assert_eq!(r.applied.len(), 1);
    assert_eq!(f.tables().await, ["new", "schema_version"]);
    let e = f
        .migrator()
        .baseline(f.conn().await.as_mut(), &v("3"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("baseline only applies"), "{e}");

    // A file older than the current version appears later: refused by default.
    f.write("V1.5__late.sql", "CREATE TABLE late (x INTEGER);\n");
    let e = f.try_migrate().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("V1.5__late.sql is older than the current version 2"),
        "{e}"
    );
    let r = f
        .migrator()
        .out_of_order(true)
        .migrate(f.conn().await.as_mut(), None)
        .await
        .unwrap();
    assert_eq!(r.applied[0].script, "V1.5__late.sql");
}

async fn migration_lock_is_released_after_failure(k: Kind) {
    let f = Fixture::new(k, &[("V1__bad.sql", "NOT SQL AT ALL;\n")]).await;
    assert!(f.try_migrate().await.is_err());
    // Another connection (another pool) can take the lock right away.
    let other = f.another_pool();
    let mut c = other.acquire().await.unwrap();
    c.lock_migrations(std::time::Duration::from_millis(100))
        .await
        .unwrap();
    c.unlock_migrations().await.unwrap();
}

#[test]
fn new_creates_the_next_file_pair() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("V1.2__a.sql"), "SELECT 1;").unwrap();
    fs::write(dir.path().join("V7__b.sql"), "SELECT 1;").unwrap();
    let made = dbm_migrate::new_migration(dir.path(), "Add Users table", true).unwrap();
    let names: Vec<String> = made
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["V8__add_users_table.sql", "U8__add_users_table.sql"]
    );
    assert!(dbm_migrate::load_dir(dir.path()).is_ok());
    assert!(dbm_migrate::new_migration(dir.path(), "!!!", false).is_err());
}

on_sqlite_and_tds!(
    applies_in_dotted_version_order_and_records_history,
    migrate_to_a_target_stops_there,
    status_before_any_migration_creates_nothing,
    duplicate_versions_are_rejected_naming_both_files,
    malformed_names_are_rejected_naming_the_file,
    failure_in_the_middle_leaves_the_previous_state_and_names_file_and_line,
    edited_file_is_reported_by_validate_and_blocks_migrate,
    crlf_and_bom_copies_of_applied_files_are_not_edits,
    missing_file_is_reported,
    rollback_runs_undo_files_newest_first,
    rollback_refuses_when_an_undo_file_is_missing,
    concurrent_migrators_apply_each_migration_once,
    baseline_skips_older_versions_and_out_of_order_is_refused,
    migration_lock_is_released_after_failure,
);
