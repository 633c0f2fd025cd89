//! PostgreSQL-only behaviour, against the real server named by `DBM_TEST_POSTGRES_URL`.

use std::time::{Duration, Instant};

use dbm_core::{Database, ErrorCode, ErrorKind, Params, PoolConfig, Value, params};
use dbm_migrate::Migrator;
use dbm_postgres::{PgOptions, PgSslMode};
use dbm_testing::{TestDb, default_pool, postgres_options};

macro_rules! pg_or_skip {
    () => {
        match TestDb::postgres(default_pool()).await {
            Some(t) => t,
            None => return,
        }
    };
}

/// A check this server cannot support: said on stderr, a failure when CI requires all.
fn note(msg: &str) {
    dbm_testing::skip(msg);
}

fn strict_auth() -> bool {
    std::env::var("DBM_TEST_REQUIRE_PASSWORD_AUTH").is_ok_and(|v| v == "1")
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_an_authentication_error_without_secrets() {
    let Some(base) = postgres_options() else {
        return;
    };
    let secret = "Wr0ng-P@ss:w/rd%9";
    let url = format!(
        "postgres://{}:{}@{}:{}/postgres",
        base.username(),
        "Wr0ng-P%40ss%3Aw%2Frd%259",
        base.host(),
        base.port()
    );
    let options: PgOptions = url.parse().unwrap();
    let db = dbm_postgres::open("auth", options, PoolConfig::new("auth"));
    match db.query("SELECT 1 AS one", &Params::new()).await {
        Ok(_) if !strict_auth() => {
            note(
                "the server accepted a wrong password (trust auth); set up password auth as .ci/postgres.sh does",
            );
        }
        Ok(_) => panic!("a wrong password was accepted"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
            assert_eq!(e.code(), Some(&ErrorCode::SqlState("28P01".into())));
            assert!(!e.is_transient());
            for text in [e.to_string(), format!("{e:?}")] {
                assert!(!text.contains(secret) && !text.contains("Wr0ng"), "{text}");
                assert!(!text.contains(&url), "{text}");
            }
            let msg = e.to_string();
            assert!(
                msg.contains("[auth] connect") || msg.contains("[auth] query"),
                "{msg}"
            );
            assert!(msg.contains(base.host()), "names the server: {msg}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn percent_encoded_passwords_with_special_characters_log_in() {
    let Some(base) = postgres_options() else {
        return;
    };
    // .ci/postgres.sh creates this role with the password `p@ss:w/rd% x`.
    let url = format!(
        "postgres://dbm_test_special:p%40ss%3Aw%2Frd%25%20x@{}:{}/postgres",
        base.host(),
        base.port()
    );
    let db = dbm_postgres::open("special", url.parse().unwrap(), PoolConfig::new("special"));
    match db.query("SELECT current_user AS u", &Params::new()).await {
        Ok(rows) => assert_eq!(
            rows.first().unwrap().get::<String>("u").unwrap(),
            "dbm_test_special"
        ),
        Err(e) if !strict_auth() => note(&format!("role dbm_test_special not usable here ({e})")),
        Err(e) => panic!("{e}"),
    }
    let wrong = url.replace("%20x@", "%20y@");
    let db = dbm_postgres::open(
        "special",
        wrong.parse().unwrap(),
        PoolConfig::new("special"),
    );
    if strict_auth() {
        let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Authentication);
        assert!(
            !e.to_string().contains("rd%") && !format!("{e:?}").contains("p@ss"),
            "{e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_not_listening_is_a_connection_error_naming_host_and_port() {
    let Some(base) = postgres_options() else {
        return;
    };
    let options: PgOptions = format!(
        "postgres://{}@127.0.0.1:1/postgres?connect_timeout=3",
        base.username()
    )
    .parse()
    .unwrap();
    let db = dbm_postgres::open("down", options, PoolConfig::new("down"));
    let started = Instant::now();
    let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    assert!(e.is_transient(), "connection refused is worth a retry");
    assert_eq!(db.pool_status().checked_out, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_require_connects_to_a_server_with_ssl_on() {
    let t = pg_or_skip!();
    let ssl: String =
        t.db.query("SHOW ssl", &Params::new())
            .await
            .unwrap()
            .first()
            .unwrap()
            .get("ssl")
            .unwrap();
    if ssl != "on" {
        note("the server has ssl = off");
        return;
    }
    let options = t
        .postgres_options()
        .unwrap()
        .with_ssl_mode(PgSslMode::Require);
    let db = dbm_postgres::open("tls", options, PoolConfig::new("tls"));
    let rows = db
        .query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &Params::new(),
        )
        .await
        .unwrap();
    assert!(rows.first().unwrap().get::<bool>("ssl").unwrap());
    // A CA the server's certificate does not chain to, and a CA file that is not there:
    // TLS errors with their own message and hint, never retried as network faults.
    let strict = t
        .postgres_options()
        .unwrap()
        .with_ssl_mode(PgSslMode::VerifyFull);
    let missing = t
        .postgres_options()
        .unwrap()
        .with_ssl_mode(PgSslMode::VerifyCa)
        .with_ssl_root_cert(std::path::Path::new("/nonexistent/dbm-ca.pem"));
    for (options, needle) in [
        (strict, "invalid peer certificate"),
        (
            missing,
            "cannot read the CA certificate /nonexistent/dbm-ca.pem",
        ),
    ] {
        let db = dbm_postgres::open("tls", options, PoolConfig::new("tls"));
        let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
        assert!(!e.is_transient(), "a TLS failure is not transient: {e}");
        assert!(msg.contains("TLS with ") && msg.contains(needle), "{msg}");
        assert!(msg.contains("hint: check sslmode and sslrootcert"), "{msg}");
        assert!(!msg.contains("server is running"), "{msg}");
    }
    // With the CA that did sign it (Debian's snake-oil certificate signs itself), verify-ca
    // connects.
    let snakeoil = std::path::Path::new("/etc/ssl/certs/ssl-cert-snakeoil.pem");
    let verified = t
        .postgres_options()
        .unwrap()
        .with_ssl_mode(PgSslMode::VerifyCa)
        .with_ssl_root_cert(snakeoil);
    let db = dbm_postgres::open("tls", verified, PoolConfig::new("tls"));
    match db.query("SELECT 1 AS one", &Params::new()).await {
        Ok(rows) => assert_eq!(rows.len(), 1),
        Err(e) if !snakeoil.exists() || e.to_string().contains("UnknownIssuer") => {
            note("verify-ca success path: the server's certificate is not Debian's snake-oil one")
        }
        Err(e) => panic!("verify-ca with the signing CA failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_stops_the_statement_on_the_server() {
    let t = pg_or_skip!();
    let started = Instant::now();
    let e =
        t.db.query_with_timeout(
            "SELECT pg_sleep(30) AS dbm_probe",
            &Params::new(),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The server no longer runs it.
    let probe = "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(30) AS dbm_probe%'";
    let mut running = -1;
    for _ in 0..20 {
        let rows = t.db.query(probe, &Params::new()).await.unwrap();
        running = rows.first().unwrap().get("n").unwrap();
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(running, 0, "pg_sleep still running after the timeout");
    let rows = t.db.query("SELECT 1 AS one", &Params::new()).await.unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn types_map_into_values() {
    let t = pg_or_skip!();
    let rows = t
        .db
        .query(
            "SELECT 1::int2 AS i2, 2::int4 AS i4, 3::int8 AS i8, 1.5::float4 AS f4, 2.25::float8 AS f8,
                    123456789012345678901234567890.000000001::numeric AS num, (-0.5)::numeric(10,3) AS neg,
                    'txt'::text AS t, 'v'::varchar(3) AS v, 'c'::char(2) AS c, true AS b, '\\x00ff'::bytea AS by,
                    '6f1c2b4e-0a8d-4c2e-9f7a-1b2c3d4e5f60'::uuid AS u, '2026-11-28'::date AS d, '10:30:00'::time AS tm,
                    '2026-11-28 10:30:00'::timestamp AS ts, '2026-11-28 10:30:00+02'::timestamptz AS tz,
                    '{\"a\": [1, 2]}'::jsonb AS jb, '{\"b\": null}'::json AS j,
                    ARRAY[1, NULL, 3]::int4[] AS ai, ARRAY['x', 'y']::text[] AS at,
                    NULL::int4 AS n_i, NULL::text AS n_t, NULL::numeric AS n_num",
            &Params::new(),
        )
        .await
        .unwrap();
    let r = rows.first().unwrap();
    assert_eq!(r.value("i2").unwrap(), &Value::Int(1));
    assert_eq!(r.value("i8").unwrap(), &Value::Int(3));
    assert_eq!(r.value("f4").unwrap(), &Value::Float(1.5));
    assert_eq!(
        r.get::<dbm_core::Decimal>("num").unwrap().as_str(),
        "123456789012345678901234567890.000000001"
    );
    assert_eq!(
        r.get::<dbm_core::Decimal>("neg").unwrap().as_str(),
        "-0.500"
    );
    assert_eq!(r.get::<String>("c").unwrap(), "c ");
    assert_eq!(r.get::<Vec<u8>>("by").unwrap(), vec![0, 255]);
    assert_eq!(
        r.get::<uuid::Uuid>("u").unwrap().to_string(),
        "6f1c2b4e-0a8d-4c2e-9f7a-1b2c3d4e5f60"
    );
    assert_eq!(
        r.get::<chrono::NaiveDate>("d").unwrap().to_string(),
        "2026-11-28"
    );
    assert_eq!(
        r.get::<chrono::NaiveTime>("tm").unwrap().to_string(),
        "10:30:00"
    );
    assert_eq!(
        r.get::<chrono::DateTime<chrono::Utc>>("tz")
            .unwrap()
            .to_rfc3339(),
        "2026-11-28T08:30:00+00:00"
    );
    assert_eq!(r.get::<serde_json::Value>("jb").unwrap()["a"][1], 2);
    assert_eq!(
        r.value("ai").unwrap(),
        &Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)])
    );
    assert_eq!(
        r.value("at").unwrap(),
        &Value::Array(vec![Value::from("x"), Value::from("y")])
    );
    for n in ["n_i", "n_t", "n_num"] {
        assert!(r.value(n).unwrap().is_null(), "{n}");
    }
    assert_eq!(r.columns().as_slice()[0].type_name(), "INT2");

    // Unsupported types are errors naming the type and the column.
    let e =
        t.db.query("SELECT '1 day'::interval AS gap", &Params::new())
            .await
            .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedType);
    assert!(
        e.to_string().contains("column `gap` has type INTERVAL"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn parameters_of_every_type_round_trip() {
    let t = pg_or_skip!();
    let dec: dbm_core::Decimal = "-98765432109876543210.0123456789".parse().unwrap();
    let rows = t
        .db
        .query(
            "SELECT :i::int4 AS i, :big AS big, :f AS f, :dec::numeric AS dec, :t AS t, :b AS b, :u AS u,
                    :d AS d, :tz AS tz, :j AS j, :arr::int8[] AS arr, :nothing::text AS nothing",
            &params! {
                "i" => 5, "big" => i64::MAX, "f" => 0.1, "dec" => dec.clone(), "t" => "é'\"", "b" => false,
                "u" => uuid::Uuid::nil(), "d" => chrono::NaiveDate::from_ymd_opt(2000, 2, 29).unwrap(),
                "tz" => chrono::DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap(),
                "j" => serde_json::json!({"k": [true]}),
                "arr" => Value::Array(vec![Value::Int(1), Value::Null]),
                "nothing" => Value::Null,
            },
        )
        .await
        .unwrap();
    let r = rows.first().unwrap();
    assert_eq!(r.get::<i64>("i").unwrap(), 5);
    assert_eq!(r.get::<i64>("big").unwrap(), i64::MAX);
    assert_eq!(r.get::<dbm_core::Decimal>("dec").unwrap(), dec);
    assert_eq!(r.get::<String>("t").unwrap(), "é'\"");
    assert_eq!(r.get::<serde_json::Value>("j").unwrap()["k"][0], true);
    assert_eq!(
        r.value("arr").unwrap(),
        &Value::Array(vec![Value::Int(1), Value::Null])
    );
    assert!(r.value("nothing").unwrap().is_null());
    // NULL binds with an unspecified type, so it fits any column.
    t.db.execute(
        "CREATE TABLE nn (a int4, b date, c numeric)",
        &Params::new(),
    )
    .await
    .unwrap();
    t.db.execute(
        "INSERT INTO nn VALUES (:a, :b, :c)",
        &params! { "a" => Value::Null, "b" => Value::Null, "c" => Value::Null },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_statement_bound_with_different_value_types_on_one_connection() {
    let t = pg_or_skip!();
    t.db.execute(
        "CREATE TABLE ct (a int4, n numeric, f float4)",
        &Params::new(),
    )
    .await
    .unwrap();
    let mut c = t.db.acquire().await.unwrap();
    let sql = "INSERT INTO ct (a, n, f) VALUES (:a, :n, :f)";
    // First prepared with NULLs (types inferred from the columns), then reused with values.
    c.execute(
        sql,
        &params! { "a" => Value::Null, "n" => Value::Null, "f" => Value::Null },
    )
    .await
    .unwrap();
    c.execute(sql, &params! { "a" => 5, "n" => 7, "f" => 1.5 })
        .await
        .unwrap();
    c.execute(
        sql,
        &params! { "a" => 6, "n" => "2.50".parse::<dbm_core::Decimal>().unwrap(), "f" => 2 },
    )
    .await
    .unwrap();
    let e = c
        .execute(sql, &params! { "a" => i64::MAX, "n" => 1, "f" => 1 })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter, "{e}");
    assert!(
        e.to_string()
            .contains("does not fit the parameter's type INT4"),
        "{e}"
    );
    let rows = c
        .query(
            "SELECT a, n FROM ct WHERE a IS NOT NULL ORDER BY a",
            &Params::new(),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows.get(1)
            .unwrap()
            .get::<dbm_core::Decimal>("n")
            .unwrap()
            .as_str(),
        "2.50"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_rows_arrive_complete_and_in_order() {
    let t = pg_or_skip!();
    let rows =
        t.db.query(
            "SELECT g AS n, 'row ' || g AS label FROM generate_series(1, 100000) AS g ORDER BY g",
            &Params::new(),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 100_000);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.get::<i64>("n").unwrap(), i as i64 + 1);
    }
    assert_eq!(
        rows.get(99_999).unwrap().get::<String>("label").unwrap(),
        "row 100000"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_index_concurrently_migration_applies() {
    let t = pg_or_skip!();
    t.write_migration(
        "V1__table.sql",
        "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL);\n",
    );
    t.write_migration(
        "V2__index.sql",
        "-- dbm:no-transaction\nCREATE INDEX CONCURRENTLY events_kind ON events (kind);\n",
    );
    let mut c = t.db.acquire().await.unwrap();
    let r = Migrator::new(t.migrations_dir(), "test")
        .migrate(c.as_mut(), None)
        .await
        .unwrap();
    assert_eq!(r.applied.len(), 2);
    let rows = t
        .db
        .query("SELECT indexname FROM pg_indexes WHERE tablename = 'events' AND indexname = 'events_kind'", &Params::new())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_concurrent_migrators_apply_each_migration_once() {
    let t = pg_or_skip!();
    for i in 1..=6 {
        t.write_migration(
            &format!("V{i}__step.sql"),
            &format!("CREATE TABLE IF NOT EXISTS runs (step INT);\nINSERT INTO runs VALUES ({i});\nSELECT pg_sleep(0.02);\n"),
        );
    }
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = t.another_pool(PoolConfig::new("m").pool_size(1));
        let m = Migrator::new(t.migrations_dir(), "test");
        tasks.push(tokio::spawn(async move {
            let mut c = db.acquire().await.unwrap();
            m.migrate(c.as_mut(), None).await.unwrap().applied.len()
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 6);
    let rows =
        t.db.query("SELECT step FROM runs ORDER BY step", &Params::new())
            .await
            .unwrap();
    let steps: Vec<i64> = rows.iter().map(|r| r.get("step").unwrap()).collect();
    assert_eq!(steps, [1, 2, 3, 4, 5, 6]);
}

#[tokio::test(flavor = "multi_thread")]
async fn advisory_lock_is_released_on_failure_and_on_cancel() {
    let t = pg_or_skip!();
    t.write_migration("V1__bad.sql", "CREATE TABLE ok (id INT);\nNOT SQL;\n");
    let mut c = t.db.acquire().await.unwrap();
    let m = Migrator::new(t.migrations_dir(), "test").lock_wait(Duration::from_millis(300));
    assert!(m.migrate(c.as_mut(), None).await.is_err());
    drop(c);
    // Another session takes the lock at once.
    let other = t.another_pool(PoolConfig::new("o").pool_size(1));
    let mut oc = other.acquire().await.unwrap();
    oc.lock_migrations(Duration::from_millis(300))
        .await
        .unwrap();
    oc.unlock_migrations().await.unwrap();
    drop(oc);

    // A migration cancelled while it holds the lock: its connection is closed, not pooled,
    // so the server releases the lock.
    t.write_migration("V1__bad.sql", "SELECT pg_sleep(30);\n");
    let db = t.db.clone();
    let task = tokio::spawn(async move {
        let mut c = db.acquire().await.unwrap();
        let _ = m.migrate(c.as_mut(), None).await;
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    task.abort();
    let _ = task.await;
    let mut oc = other.acquire().await.unwrap();
    oc.lock_migrations(Duration::from_secs(5)).await.unwrap();
    oc.unlock_migrations().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_killed_by_the_server_are_replaced_and_counted_invalid() {
    let t = pg_or_skip!();
    let db = t.another_pool(
        PoolConfig::new("restart")
            .pool_size(3)
            .pre_ping_skip(Duration::ZERO),
    );
    // Open three connections, then have the server terminate them (as a restart would).
    let held = vec![
        db.acquire().await.unwrap(),
        db.acquire().await.unwrap(),
        db.acquire().await.unwrap(),
    ];
    drop(held);
    assert_eq!(db.pool_status().checked_in, 3);
    let name = t.postgres_options().unwrap().database().unwrap().to_owned();
    t.db.query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()",
        &params! { "db" => name },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..5 {
        let rows = db.query("SELECT 1 AS one", &Params::new()).await.unwrap();
        assert_eq!(rows.len(), 1);
    }
    let s = db.pool_status();
    assert!(s.invalid >= 1, "{s:?}");
    assert!(s.connections_created >= 4, "{s:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_stream_stops_the_query_on_the_server() {
    let t = pg_or_skip!();
    let sql = "SELECT generate_series(1, 500000000) AS dbm_stream_probe";
    let mut rows = t.db.query_stream(sql, &Params::new()).await.unwrap();
    for _ in 0..5 {
        rows.next().await.unwrap().unwrap();
    }
    drop(rows);
    let probe = "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT generate_series(1, 500000000) AS dbm_stream_probe%'";
    let mut running = -1;
    for _ in 0..40 {
        running =
            t.db.query(probe, &Params::new())
                .await
                .unwrap()
                .first()
                .unwrap()
                .get("n")
                .unwrap();
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(running, 0, "the streamed query still runs on the server");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_fails_midway_gives_its_rows_then_the_error() {
    let t = pg_or_skip!();
    let sql = "SELECT 10 / (5 - n) AS q FROM generate_series(1, 10) n";
    let mut rows = t.db.query_stream(sql, &Params::new()).await.unwrap();
    let mut got = Vec::new();
    let error = loop {
        match rows
            .next()
            .await
            .expect("the error ends the stream, not silence")
        {
            Ok(row) => got.push(row.get::<i64>("q").unwrap()),
            Err(e) => break e,
        }
    };
    assert_eq!(got, [2, 3, 5, 10]);
    assert_eq!(
        error.code(),
        Some(&ErrorCode::SqlState("22012".into())),
        "{error}"
    );
    assert!(error.to_string().contains("query stream"), "{error}");
    assert!(rows.next().await.is_none());
    drop(rows);
    // A server error ends the result cleanly: the connection goes back and is used again.
    let before = t.db.pool_status();
    let n: Vec<i64> =
        t.db.query("SELECT n FROM generate_series(1, 3) n", &Params::new())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("n").unwrap())
            .collect();
    assert_eq!(n, [1, 2, 3]);
    let after = t.db.pool_status();
    assert_eq!(
        after.connections_created, before.connections_created,
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn numbers_are_never_rounded_or_overflowed_in_silence() {
    let t = pg_or_skip!();
    t.db.execute("CREATE TABLE fl (d float8, r float4)", &Params::new())
        .await
        .unwrap();
    let insert = "INSERT INTO fl (d, r) VALUES (:d, :r)";
    // One connection, and a first run with NULLs: PostgreSQL infers float8 and float4 for
    // the cached statement, so later values are converted by dbm to those types.
    let pool = PoolConfig::new("one").pool_size(1).max_overflow(0);
    let db = t.another_pool(pool);
    db.execute(insert, &params! { "d" => Value::Null, "r" => Value::Null })
        .await
        .unwrap();
    // Exact conversions and a real column's own rounding are fine.
    db.execute(insert, &params! { "d" => 1i64 << 53, "r" => 0.1 })
        .await
        .unwrap();
    for (d, r, needle) in [
        (
            Value::Int((1 << 53) + 1),
            Value::Float(1.0),
            "cannot be stored exactly in the parameter's type FLOAT8",
        ),
        (
            Value::Float(1.0),
            Value::Int((1 << 24) + 1),
            "cannot be stored exactly in the parameter's type FLOAT4",
        ),
        (
            Value::Float(1.0),
            Value::Float(1e300),
            "does not fit the parameter's type FLOAT4",
        ),
    ] {
        let e = db
            .execute(insert, &params! { "d" => d, "r" => r })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Parameter);
        assert!(e.to_string().contains(needle), "{e}");
    }
    let rows = db
        .query("SELECT count(*) AS n FROM fl", &Params::new())
        .await
        .unwrap();
    assert_eq!(rows.first().unwrap().get::<i64>("n").unwrap(), 2);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadlock_says_to_retry_the_whole_transaction() {
    let t = pg_or_skip!();
    for sql in [
        "CREATE TABLE acct (id int PRIMARY KEY, n int)",
        "INSERT INTO acct VALUES (1, 0), (2, 0)",
    ] {
        t.db.execute(sql, &Params::new()).await.unwrap();
    }
    let mut a = t.db.begin().await.unwrap();
    let mut b = t.db.begin().await.unwrap();
    let set = "UPDATE acct SET n = n + 1 WHERE id = :id";
    a.execute(set, &params! { "id" => 1 }).await.unwrap();
    b.execute(set, &params! { "id" => 2 }).await.unwrap();
    // Each now waits for the other's row: PostgreSQL picks a victim after deadlock_timeout.
    let (two, one) = (params! { "id" => 2 }, params! { "id" => 1 });
    let (ra, rb) = tokio::join!(a.execute(set, &two), b.execute(set, &one));
    let e = match (ra, rb) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("exactly one side must be the deadlock victim: {other:?}"),
    };
    assert_eq!(e.code(), Some(&ErrorCode::SqlState("40P01".into())), "{e}");
    assert!(e.is_transient(), "{e}");
    assert!(
        e.hint()
            .is_some_and(|h| h.contains("retry the whole transaction (transaction_with_retry)")),
        "{e}"
    );
}

/// Rows are decoded as they arrive: a result that fails part way (a value dbm does not map,
/// an error the server raises at row 500) is an error, and the one connection of the pool
/// is clean for the next query.
#[tokio::test(flavor = "multi_thread")]
async fn a_result_that_fails_part_way_leaves_the_connection_usable() {
    let Some(t) = TestDb::postgres(PoolConfig::new("one").pool_size(1).max_overflow(0)).await
    else {
        return;
    };
    let db = &t.db;
    let e = db
        .query(
            "SELECT i, CASE WHEN i > 300 THEN interval '1 day' END AS span FROM generate_series(1, 1000) i",
            &Params::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedType, "{e}");
    let rows = db
        .query("SELECT 41 + 1 AS n", &Params::new())
        .await
        .unwrap();
    assert_eq!(rows.row(0).get::<i64>("n").unwrap(), 42);
    let e = db
        .query(
            "SELECT 1 / (500 - i) AS x FROM generate_series(1, 1000) i",
            &Params::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&ErrorCode::SqlState("22012".into())), "{e}");
    let rows = db
        .query(
            "SELECT count(*) AS n FROM generate_series(1, 2000)",
            &Params::new(),
        )
        .await
        .unwrap();
    assert_eq!(rows.row(0).get::<i64>("n").unwrap(), 2000);
    assert_eq!(
        db.pool_status().invalid,
        0,
        "the connection was kept, not replaced"
    );
}

/// A connection reuses the columns of a SQL text it ran before only while the statement
/// still has them: `SELECT *` after `ALTER TABLE` shows the new column.
#[tokio::test(flavor = "multi_thread")]
async fn reused_columns_follow_a_changed_table() {
    let Some(t) = TestDb::postgres(PoolConfig::new("one").pool_size(1).max_overflow(0)).await
    else {
        return;
    };
    let db = &t.db;
    db.execute("CREATE TABLE t (a INT)", &Params::new())
        .await
        .unwrap();
    db.execute("INSERT INTO t VALUES (1)", &Params::new())
        .await
        .unwrap();
    let names = |rows: &dbm_core::Rows| -> Vec<String> {
        rows.columns()
            .as_slice()
            .iter()
            .map(|c| c.name().to_owned())
            .collect()
    };
    let rows = db.query("SELECT * FROM t", &Params::new()).await.unwrap();
    assert_eq!(names(&rows), ["a"]);
    let again = db.query("SELECT * FROM t", &Params::new()).await.unwrap();
    assert_eq!(names(&again), ["a"]);
    db.execute(
        "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'",
        &Params::new(),
    )
    .await
    .unwrap();
    let rows = db.query("SELECT * FROM t", &Params::new()).await.unwrap();
    assert_eq!(names(&rows), ["a", "b"]);
    assert_eq!(rows.row(0).get::<String>("b").unwrap(), "x");
    db.execute("ALTER TABLE t ALTER COLUMN a TYPE BIGINT", &Params::new())
        .await
        .unwrap();
    let rows = db.query("SELECT * FROM t", &Params::new()).await.unwrap();
    assert_eq!(rows.columns().as_slice()[0].type_name(), "INT8");
}

/// A stream of a statement this connection prepared before `ALTER TABLE` changed its result
/// is prepared again and runs, as a query does (PostgreSQL refuses the stale statement with
/// 0A000 before executing anything).
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_follows_a_changed_table() {
    let Some(t) = TestDb::postgres(PoolConfig::new("one").pool_size(1).max_overflow(0)).await
    else {
        return;
    };
    let db = &t.db;
    db.execute("CREATE TABLE s (a INT)", &Params::new())
        .await
        .unwrap();
    db.execute("INSERT INTO s VALUES (1), (2)", &Params::new())
        .await
        .unwrap();
    let read = || async {
        let mut stream = db
            .query_stream("SELECT * FROM s ORDER BY a", &Params::new())
            .await?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await {
            rows.push(row?);
        }
        Ok::<_, dbm_core::Error>(rows)
    };
    let rows = read().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].columns().len(), 1);
    db.execute(
        "ALTER TABLE s ADD COLUMN b TEXT DEFAULT 'x'",
        &Params::new(),
    )
    .await
    .unwrap();
    let rows = read().await.expect("the stale statement is prepared again");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].get::<String>("b").unwrap(), "x");
    assert_eq!(rows[1].get::<i64>("a").unwrap(), 2);
    assert_eq!(
        db.pool_status().connections_created,
        1,
        "the same connection served all of it"
    );
}

/// A connection keeps its prepared statements only while sqlx's statement cache does: with
/// a cache of 2, a third statement pushes the first out of sqlx's cache, and after
/// `ALTER TABLE` the first is described again, so its new column is returned, not dropped.
#[tokio::test(flavor = "multi_thread")]
async fn statements_sqlx_forgot_are_described_again() {
    let Some(t) = TestDb::postgres(PoolConfig::new("one").pool_size(1).max_overflow(0)).await
    else {
        return;
    };
    let sep = if t.url().contains('?') { '&' } else { '?' };
    let options: dbm_postgres::PgOptions = format!("{}{sep}statement-cache-capacity=2", t.url())
        .parse()
        .unwrap();
    let db = dbm_postgres::open(
        "small_cache",
        options,
        PoolConfig::new("small_cache").pool_size(1).max_overflow(0),
    );
    let none = Params::new();
    db.execute("CREATE TABLE w (a INT)", &none).await.unwrap();
    db.execute("INSERT INTO w VALUES (1)", &none).await.unwrap();
    let first = "SELECT * FROM w";
    assert_eq!(db.query(first, &none).await.unwrap().columns().len(), 1);
    db.query("SELECT 2 AS two", &none).await.unwrap();
    db.query("SELECT 3 AS three", &none).await.unwrap();
    db.execute("ALTER TABLE w ADD COLUMN b TEXT DEFAULT 'new'", &none)
        .await
        .unwrap();
    let rows = db.query(first, &none).await.unwrap();
    assert_eq!(rows.columns().len(), 2, "the added column is returned");
    assert_eq!(rows.row(0).get::<String>("b").unwrap(), "new");
    db.close().await;
}
