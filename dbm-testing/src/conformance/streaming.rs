//! Streams: rows in order, dropped early, errors as items.

use std::time::Duration;

use dbm_core::{ErrorKind, Params, PoolConfig, SqlType, Statement, params};

use super::wait_idle;
use crate::fixture::TestDb;

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
