//! Timeouts that cancel, and the pool's accounting under load and when exhausted.

use std::time::{Duration, Instant};

use dbm_core::{ErrorKind, Params, PoolConfig, Statement};

use super::count;
use crate::fixture::TestDb;

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
