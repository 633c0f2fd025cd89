//! Code above the drivers, unit-tested with the dbm-testing mocks (no database involved):
//! the retry policy of DatabaseManager.

use std::sync::Arc;
use std::time::Duration;

use dbm::{
    DatabaseConfig, DatabaseManager, Error, ErrorCode, ErrorKind, Params, RetryPolicy, Rows,
};
use dbm_testing::MockDatabase;

fn manager(db: MockDatabase, attempts: u32) -> DatabaseManager {
    // Any driver's URL will do: the database is the mock.
    let url = if cfg!(feature = "sqlite") {
        "sqlite::memory:"
    } else if cfg!(feature = "postgres") {
        "postgres://mock@localhost/mock"
    } else {
        "mssql://mock@localhost/mock"
    };
    let mut config = DatabaseConfig::new("mocked", url).unwrap();
    config.retry = RetryPolicy::default()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(1));
    DatabaseManager::from_database(Arc::new(db), config)
}

#[tokio::test]
async fn transient_errors_are_retried_until_success() {
    let mut db = MockDatabase::new();
    let mut seq = mockall::Sequence::new();
    db.expect_query()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|_, _| {
            Err(Error::new(ErrorKind::Transaction, "deadlock detected")
                .with_code(ErrorCode::SqlState("40P01".into())))
        });
    db.expect_query()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(Rows::default()));
    let m = manager(db, 3);
    m.query_with_retry("SELECT 1", &Params::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let mut db = MockDatabase::new();
    db.expect_query().times(1).returning(|_, _| {
        Err(Error::new(ErrorKind::Constraint, "duplicate key")
            .with_code(ErrorCode::SqlState("23505".into())))
    });
    let e = manager(db, 5)
        .query_with_retry("SELECT 1", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Constraint);
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let mut db = MockDatabase::new();
    db.expect_transaction().times(4).returning(|_| {
        Err(Error::new(ErrorKind::Query, "database is locked").with_code(ErrorCode::Sqlite(5)))
    });
    let e = manager(db, 4)
        .transaction_with_retry(&[dbm::Statement::new("UPDATE t SET x = 1")])
        .await
        .unwrap_err();
    assert!(e.is_transient());
}
