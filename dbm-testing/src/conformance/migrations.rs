//! Migrations: ordering, failures, edits, rollback, and concurrent migrators.

use dbm_core::{PoolConfig, SqlType};
use dbm_migrate::{MigrationState, Migrator, Version};

use super::count;
use crate::fixture::TestDb;

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
