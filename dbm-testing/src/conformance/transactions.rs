//! Transactions: all or nothing, never pooled open, nothing left open by a cancelled task.

use std::sync::Arc;
use std::time::Duration;

use dbm_core::{Database, ErrorKind, Params, PoolConfig, SqlType, Statement};

use super::count;
use crate::fixture::TestDb;

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
