//! Results: column types and names, named parameters, the first row, bad input.

use dbm_core::{Backend, DatabaseExt, ErrorKind, Params, SqlType, Value, params};

use super::count;
use crate::fixture::TestDb;

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
