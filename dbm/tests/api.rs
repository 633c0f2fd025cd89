//! The library API on real databases (a SQLite file, and PostgreSQL when configured): the
//! fetch shapes, rows into structs, `()` for no parameters, lists in `IN (...)`, arrays,
//! wide integers, `rows.row(i)`, and the same on a transaction.
#![cfg(all(feature = "sqlite", feature = "postgres"))]

use dbm::{DatabaseConfig, DatabaseManager, ErrorKind, params};
use dbm_testing::{TestDb, default_pool};

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Job {
    id: i64,
    name: String,
    due: chrono::NaiveDate,
    done: bool,
    note: Option<String>,
}

async fn exercise(db: &DatabaseManager, bool_type: &str) {
    let name = db.name().to_owned();
    db.execute(
        &format!(
            "CREATE TABLE jobs (id BIGINT PRIMARY KEY, name TEXT NOT NULL, due DATE NOT NULL, done {bool_type} NOT NULL, note TEXT)"
        ),
        (),
    )
    .await
    .unwrap();
    for (id, n, done) in [
        (3i64, "extract", true),
        (5, "transform", false),
        (8, "load", false),
    ] {
        db.execute(
            "INSERT INTO jobs (id, name, due, done, note) VALUES (:id, :name, :due, :done, :note)",
            &params! {
                "id" => id as u64, "name" => n, "due" => chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
                "done" => done, "note" => None::<String>,
            },
        )
        .await
        .unwrap();
    }

    // fetch_one / fetch_optional / fetch_scalar, no parameters with ().
    let n: i64 = db
        .fetch_scalar("SELECT count(*) FROM jobs", ())
        .await
        .unwrap();
    assert_eq!(n, 3);
    let row = db
        .fetch_one(
            "SELECT * FROM jobs WHERE id = :id",
            &params! { "id" => 5usize },
        )
        .await
        .unwrap();
    let job: Job = row.deserialize().unwrap();
    assert_eq!(
        job,
        Job {
            id: 5,
            name: "transform".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            done: false,
            note: None
        }
    );
    assert!(
        db.fetch_optional("SELECT * FROM jobs WHERE id = 4", ())
            .await
            .unwrap()
            .is_none()
    );
    let e = db
        .fetch_one("SELECT * FROM jobs WHERE id = 4", ())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Query);
    assert_eq!(e.database(), Some(name.as_str()));

    // A list in IN (...), on every dialect; rows.row(i); rows into structs.
    let rows = db
        .query(
            "SELECT * FROM jobs WHERE id IN (:ids) ORDER BY id",
            &params! { "ids" => vec![3i64, 8] },
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.row(1).get::<String>("name").unwrap(), "load");
    let jobs: Vec<Job> = rows.deserialize().unwrap();
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [3, 8]);
    assert!(jobs[0].done);

    // An integer the databases cannot store is refused before anything runs.
    let e = db
        .execute(
            "UPDATE jobs SET id = :id WHERE id = 3",
            &params! { "id" => u64::MAX },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
    assert!(
        e.to_string()
            .contains("18446744073709551615 (u64) does not fit"),
        "{e}"
    );

    // The same shapes on a transaction.
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "DELETE FROM jobs WHERE id IN (:ids)",
        &params! { "ids" => [5i64, 8] },
    )
    .await
    .unwrap();
    let left: i64 = tx
        .fetch_scalar("SELECT count(*) FROM jobs", ())
        .await
        .unwrap();
    assert_eq!(left, 1);
    assert!(
        tx.fetch_optional("SELECT id FROM jobs WHERE id = 5", ())
            .await
            .unwrap()
            .is_none()
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        db.fetch_scalar::<i64>("SELECT count(*) FROM jobs", ())
            .await
            .unwrap(),
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_on_sqlite() {
    let t = TestDb::sqlite(default_pool()).await;
    let db = DatabaseManager::connect(DatabaseConfig::new("api_sqlite", t.url()).unwrap())
        .await
        .unwrap();
    exercise(&db, "INTEGER").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_on_postgres_and_lists_as_arrays() {
    let Some(t) = TestDb::postgres(default_pool()).await else {
        return;
    };
    let db = DatabaseManager::connect(DatabaseConfig::new("api_pg", t.url()).unwrap())
        .await
        .unwrap();
    exercise(&db, "BOOLEAN").await;
    // Outside IN, a list binds as a PostgreSQL array.
    let n: i64 = db
        .fetch_scalar(
            "SELECT count(*) FROM jobs WHERE id = ANY(:ids)",
            &params! { "ids" => vec![3i64, 5, 99] },
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
}
