//! The driver's own behaviour (types both ways, XACT_ABORT transactions, the migration
//! lock, GO batches), each case twice: on the TDS test server in engine mode (always), and
//! on the SQL Server `DBM_TEST_MSSQL_URL` names (skipped, visibly, without it).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use dbm_core::{Decimal, ErrorKind, Params, PoolConfig, Statement, Value, params};
use dbm_testing::TestDb;

fn pool() -> PoolConfig {
    dbm_testing::default_pool()
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod tds {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let t = dbm_testing::TestDb::on_server(
                        &dbm_mssql::DRIVER,
                        super::pool(),
                        dbm_testing::TestServer::tds_engine().await,
                    )
                    .await;
                    super::$case(&t).await;
                }
            )*
        }
        mod server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(t) = dbm_testing::TestDb::new(&dbm_mssql::DRIVER, super::pool()).await else {
                        return;
                    };
                    super::$case(&t).await;
                }
            )*
        }
    };
}

on_both!(
    every_value_type_round_trips,
    money_too_large_to_read_exactly_is_refused,
    xact_abort_rolls_back_the_whole_transaction,
    the_migration_lock_excludes_other_sessions,
    migrations_run_in_go_batches,
    database_statements_need_a_migration_without_transaction,
);

const TYPES: &str = "CREATE TABLE types (id INT PRIMARY KEY, b BIT NULL, i BIGINT NULL, f FLOAT NULL, \
    d DECIMAL(38,10) NULL, m MONEY NULL, t NVARCHAR(100) NULL, y VARBINARY(100) NULL, \
    u UNIQUEIDENTIFIER NULL, dt DATE NULL, ti TIME NULL, ts DATETIME2 NULL, tz DATETIMEOFFSET NULL, \
    j NVARCHAR(MAX) NULL)";

async fn every_value_type_round_trips(t: &TestDb) {
    let db = &t.db;
    db.execute(TYPES, &Params::new()).await.unwrap();
    let uuid = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let time = NaiveTime::from_hms_nano_opt(13, 14, 15, 123_456_700).unwrap();
    let ts = date.and_time(time);
    let tz: DateTime<Utc> = DateTime::from_naive_utc_and_offset(ts, Utc);
    let decimal = Decimal::from_str("-1234567890123456789012345678.1234567890").unwrap();
    let money = Decimal::from_str("112589990684.2623").unwrap();
    let json = serde_json::json!({"a": [1, 2], "b": "x"});
    let p = params! {
        "id" => 1,
        "b" => true,
        "i" => i64::MIN,
        "f" => 0.1,
        "d" => Value::Decimal(decimal.clone()),
        "m" => Value::Decimal(money.clone()),
        "t" => "héllo ☃ 𝄞",
        "y" => vec![0u8, 1, 2, 255],
        "u" => Value::Uuid(uuid),
        "dt" => Value::Date(date),
        "ti" => Value::Time(time),
        "ts" => Value::Timestamp(ts),
        "tz" => Value::TimestampTz(tz),
        "j" => Value::Json(json.clone()),
    };
    let insert = "INSERT INTO types (id, b, i, f, d, m, t, y, u, dt, ti, ts, tz, j) \
        VALUES (:id, :b, :i, :f, :d, :m, :t, :y, :u, :dt, :ti, :ts, :tz, :j)";
    assert_eq!(db.execute(insert, &p).await.unwrap(), 1);
    // NULLs of every type; a NULL parameter is nvarchar, which binary columns take only cast.
    let nulls = "INSERT INTO types (id, b, i, f, d, m, t, y, u, dt, ti, ts, tz, j) \
        VALUES (2, :n, :n, :n, :n, :n, :n, CAST(:n AS VARBINARY(100)), :n, :n, :n, :n, :n, :n)";
    db.execute(nulls, &params! { "n" => Value::Null })
        .await
        .unwrap();

    let rows = db
        .query("SELECT * FROM types ORDER BY id", &Params::new())
        .await
        .unwrap();
    let r = &rows.iter().next().unwrap();
    let want = [
        ("b", Value::Bool(true)),
        ("i", Value::Int(i64::MIN)),
        ("f", Value::Float(0.1)),
        ("d", Value::Decimal(decimal)),
        ("m", Value::Decimal(money)),
        ("t", Value::Text("héllo ☃ 𝄞".into())),
        ("y", Value::Bytes(vec![0, 1, 2, 255])),
        ("u", Value::Uuid(uuid)),
        ("dt", Value::Date(date)),
        ("ti", Value::Time(time)),
        ("ts", Value::Timestamp(ts)),
        ("tz", Value::TimestampTz(tz)),
        ("j", Value::Text(json.to_string())),
    ];
    for (column, value) in &want {
        assert_eq!(r.value(*column).unwrap(), value, "column {column}");
    }
    let types: Vec<&str> = rows
        .columns()
        .as_slice()
        .iter()
        .map(|c| c.type_name())
        .collect();
    assert_eq!(
        types,
        [
            "int",
            "bit",
            "bigint",
            "float",
            "decimal",
            "money",
            "nvarchar",
            "varbinary",
            "uniqueidentifier",
            "date",
            "time",
            "datetime2",
            "datetimeoffset",
            "nvarchar"
        ]
    );
    let nulls = rows.iter().nth(1).unwrap();
    for (column, _) in &want {
        assert_eq!(
            nulls.value(*column).unwrap(),
            &Value::Null,
            "column {column}"
        );
    }
    // A parameter SQL Server has no type for is refused by position, before any I/O.
    let e = db
        .query(
            "SELECT :a AS a",
            &params! { "a" => Value::Array(vec![Value::Int(1)]) },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
    assert!(
        e.to_string()
            .contains("parameter 1: SQL Server has no type for a array value"),
        "{e}"
    );
}

async fn money_too_large_to_read_exactly_is_refused(t: &TestDb) {
    t.db.execute("CREATE TABLE cash (m MONEY NOT NULL)", &Params::new())
        .await
        .unwrap();
    t.db.execute(
        "INSERT INTO cash (m) VALUES (:m)",
        &params! { "m" => Value::Decimal("900000000000000.0001".parse().unwrap()) },
    )
    .await
    .unwrap();
    let e =
        t.db.query("SELECT m FROM cash", &Params::new())
            .await
            .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    assert!(
        e.to_string().contains("column `m`") && e.to_string().contains("too large to read exactly"),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("DECIMAL(19,4)"));
    // Read as the hint says, it is exact.
    let r =
        t.db.query(
            "SELECT CAST(m AS DECIMAL(19,4)) AS m FROM cash",
            &Params::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.first().unwrap().value("m").unwrap(),
        &Value::Decimal("900000000000000.0001".parse().unwrap())
    );
}

async fn xact_abort_rolls_back_the_whole_transaction(t: &TestDb) {
    let db = &t.db;
    db.execute(
        "CREATE TABLE acct (id INT PRIMARY KEY, owner NVARCHAR(20))",
        &Params::new(),
    )
    .await
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "INSERT INTO acct (id, owner) VALUES (1, 'ann')",
        &Params::new(),
    )
    .await
    .unwrap();
    let e = tx
        .execute(
            "INSERT INTO acct (id, owner) VALUES (1, 'dup')",
            &Params::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Constraint, "{e}");
    // XACT_ABORT already rolled back on the server; rolling back again is no error (3903).
    tx.rollback().await.unwrap();
    let n = db
        .query("SELECT COUNT(*) AS n FROM acct", &Params::new())
        .await
        .unwrap();
    assert_eq!(n.first().unwrap().get::<i64>("n").unwrap(), 0);
    // The statement API: all or nothing, naming the failing statement.
    let e = db
        .transaction(&[
            Statement::new("INSERT INTO acct (id, owner) VALUES (2, 'bob')"),
            Statement::new("INSERT INTO acct (id, owner) VALUES (2, 'dup')"),
        ])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("statement 2 of 2 failed"), "{e}");
    let n = db
        .query("SELECT COUNT(*) AS n FROM acct", &Params::new())
        .await
        .unwrap();
    assert_eq!(n.first().unwrap().get::<i64>("n").unwrap(), 0);
    assert_eq!(db.pool_status().checked_out, 0);
}

async fn the_migration_lock_excludes_other_sessions(t: &TestDb) {
    let other = t.another_pool(PoolConfig::new("other").pool_size(1));
    let mut a = t.db.acquire().await.unwrap();
    let mut b = other.acquire().await.unwrap();
    a.lock_migrations(Duration::from_secs(1)).await.unwrap();
    let e = b
        .lock_migrations(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Migration, "{e}");
    assert!(
        e.to_string()
            .contains("another session has held the migration lock"),
        "{e}"
    );
    a.unlock_migrations().await.unwrap();
    b.lock_migrations(Duration::from_secs(1)).await.unwrap();
    b.unlock_migrations().await.unwrap();
    // A session that ends frees its lock: the lock is session-owned.
    a.lock_migrations(Duration::from_secs(1)).await.unwrap();
    drop(a);
    t.db.close().await;
    b.lock_migrations(Duration::from_secs(5)).await.unwrap();
    b.unlock_migrations().await.unwrap();
}

async fn migrations_run_in_go_batches(t: &TestDb) {
    t.write_migration(
        "V1__schema.sql",
        "CREATE TABLE items (id INT PRIMARY KEY, name NVARCHAR(50) NOT NULL)\nGO\nCREATE VIEW item_names AS SELECT name FROM items\nGO\nINSERT INTO items (id, name) VALUES (1, N'a')\n",
    );
    t.write_migration(
        "V2__broken.sql",
        "INSERT INTO items (id, name) VALUES (2, N'b')\nGO\n-- the second batch\nINSERT INTO items (id, name) VALUES (3, N'c');\n\nINSERT INTO no_such_table VALUES (1);\n",
    );
    let mut c = t.db.acquire().await.unwrap();
    let m = dbm_migrate::Migrator::new(t.migrations_dir(), "test");
    let e = m.migrate(c.as_mut(), None).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(
            "V2__broken.sql line 6: statement `INSERT INTO no_such_table VALUES (1);` failed"
        ),
        "{text}"
    );
    // V2 ran in one transaction: its first batch was rolled back with the failing one.
    let n =
        t.db.query("SELECT COUNT(*) AS n FROM item_names", &Params::new())
            .await
            .unwrap();
    assert_eq!(n.first().unwrap().get::<i64>("n").unwrap(), 1);
    let st = m.status(c.as_mut()).await.unwrap();
    assert_eq!(st.applied.len(), 1);
    drop(c);
}

async fn database_statements_need_a_migration_without_transaction(t: &TestDb) {
    let other = dbm_core::unique_test_name();
    t.write_migration("V1__db.sql", &format!("CREATE DATABASE [{other}]\n"));
    let mut c = t.db.acquire().await.unwrap();
    let m = dbm_migrate::Migrator::new(t.migrations_dir(), "test");
    let e = m.migrate(c.as_mut(), None).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("CREATE DATABASE statement not allowed within multi-statement transaction"),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("-- dbm:no-transaction"), "{e:?}");
    t.write_migration(
        "V1__db.sql",
        &format!("-- dbm:no-transaction\nCREATE DATABASE [{other}]\n"),
    );
    t.write_migration(
        "V2__drop.sql",
        &format!("-- dbm:no-transaction\nDROP DATABASE [{other}]\n"),
    );
    let r = m.migrate(c.as_mut(), None).await.unwrap();
    assert_eq!(r.applied.len(), 2);
}
