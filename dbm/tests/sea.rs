//! Statements built with sea-query run through the manager on SQLite and PostgreSQL, with
//! values bound as dbm values; SQL Server, which sea-query cannot render, is refused with a
//! clear error before anything connects.
#![cfg(all(
    feature = "sea-query",
    feature = "sqlite",
    feature = "postgres",
    feature = "mssql"
))]

use dbm::{DatabaseConfig, DatabaseManager, ErrorKind};
use dbm_testing::{TestDb, default_pool};
use sea_query::{Expr, ExprTrait, Order, Query};

async fn exercise(db: &DatabaseManager) {
    db.execute(
        "CREATE TABLE runs (id BIGINT PRIMARY KEY, flow TEXT NOT NULL, started DATE, rows_loaded BIGINT)",
        (),
    )
    .await
    .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let insert = Query::insert()
        .into_table("runs")
        .columns(["id", "flow", "started", "rows_loaded"])
        .values_panic([1i64.into(), "nightly".into(), day.into(), 1200u64.into()])
        .values_panic([2i64.into(), "hourly".into(), day.into(), None::<i64>.into()])
        .to_owned();
    assert_eq!(db.execute_statement(&insert).await.unwrap(), 2);
    let select = Query::select()
        .columns(["id", "flow", "started"])
        .from("runs")
        .and_where(Expr::col("started").eq(day))
        .and_where(Expr::col("flow").is_in(["nightly", "hourly"]))
        .order_by("id", Order::Asc)
        .to_owned();
    let rows = db.query_statement(&select).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.row(0).get::<String>("flow").unwrap(), "nightly");
    let (id, flow, started): (i64, String, chrono::NaiveDate) = rows.row(1).deserialize().unwrap();
    assert_eq!((id, flow.as_str(), started), (2, "hourly", day));
    // A u64 beyond i64 is refused, naming why, before anything runs.
    let bad = Query::update()
        .table("runs")
        .value("rows_loaded", u64::MAX)
        .to_owned();
    let e = db.execute_statement(&bad).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
    assert!(
        e.to_string()
            .contains("does not fit a 64-bit signed integer"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sea_query_statements_on_sqlite() {
    let t = TestDb::sqlite(default_pool()).await;
    let db = DatabaseManager::connect(DatabaseConfig::new("sea_sqlite", t.url()).unwrap())
        .await
        .unwrap();
    exercise(&db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sea_query_statements_on_postgres() {
    let Some(t) = TestDb::postgres(default_pool()).await else {
        return;
    };
    let db = DatabaseManager::connect(DatabaseConfig::new("sea_pg", t.url()).unwrap())
        .await
        .unwrap();
    exercise(&db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_server_is_refused_clearly_before_connecting() {
    // Nothing listens on port 1: the error must come from rendering, not from a connection.
    let c = DatabaseConfig::new("warehouse", "mssql://etl:Sekr3t@127.0.0.1:1/dw").unwrap();
    let db = DatabaseManager::from_database(dbm::build_database(&c).unwrap(), c);
    let select = Query::select().column("id").from("runs").to_owned();
    let e = db.query_statement(&select).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Query);
    let text = e.to_string();
    assert!(
        text.starts_with("[warehouse] query statement: query error: sea-query has no query builder for SQL Server"),
        "{text}"
    );
    assert!(!text.contains("Sekr3t"));
}
