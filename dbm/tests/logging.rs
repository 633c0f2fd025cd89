//! What operators see in the logs: a fmt subscriber (as a service would install) captures
//! pool creation, connection failures with their target, each operation at DEBUG, the
//! migration run from start to summary, and a failed migration at ERROR with file and line.
//!
//! One test in its own binary, so the global subscriber sees every thread.
#![cfg(feature = "sqlite")]

use dbm::{DatabaseConfig, DatabaseManager, Params, Statement, params};

/// The first log line holding every one of `needles`, or a panic showing the logs.
fn line<'a>(logs: &'a str, level: &str, needles: &[&str]) -> &'a str {
    logs.lines()
        .find(|l| l.contains(level) && needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no {level} line with {needles:?} in:\n{logs}"))
}

async fn scenario(dir: &std::path::Path) {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("V1__jobs.sql"),
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT);\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("V2__seed.sql"),
        "INSERT INTO jobs (name) VALUES ('nightly');\n",
    )
    .unwrap();
    let mut c = DatabaseConfig::new(
        "logged",
        &format!("sqlite://{}", dir.join("app.db").display()),
    )
    .unwrap();
    c.migrations = migrations.clone();
    let db = DatabaseManager::connect(c).await.unwrap();
    db.run_migrations(None).await.unwrap();
    db.query("SELECT id, name FROM jobs", &Params::new())
        .await
        .unwrap();
    // One row kept of a result: how many the server sent is not claimed.
    let ids: i64 = db
        .fetch_scalar("SELECT id FROM jobs UNION ALL SELECT 7", ())
        .await
        .unwrap();
    assert_eq!(ids, 1);
    db.execute(
        "INSERT INTO jobs (name) VALUES (:n)",
        &params! { "n" => "hourly" },
    )
    .await
    .unwrap();
    db.transaction(&[Statement::new("DELETE FROM jobs WHERE name = 'hourly'")])
        .await
        .unwrap();
    // A stream read inside an application span: its figures go on its own span.
    {
        use tracing::Instrument as _;
        async {
            let mut rows = db
                .query_stream("SELECT id FROM jobs", &Params::new())
                .await
                .unwrap();
            while let Some(row) = rows.next().await {
                row.unwrap();
            }
        }
        .instrument(tracing::info_span!("nightly_job"))
        .await;
    }
    std::fs::write(
        migrations.join("V3__broken.sql"),
        "-- adds an index\n\nCREATE INDEX ON nothing;\n",
    )
    .unwrap();
    db.run_migrations(None).await.unwrap_err();
    db.close().await;

    // A server that is not there: the failure names where it tried, never a password.
    #[cfg(feature = "postgres")]
    {
        let down = DatabaseManager::connect(
            DatabaseConfig::new(
                "down",
                "postgres://etl:Pw9LogSecret@127.0.0.1:1/sales?connect_timeout=2",
            )
            .unwrap(),
        )
        .await
        .unwrap();
        down.query("SELECT 1", &Params::new()).await.unwrap_err();
    }
}

#[test]
fn operators_can_follow_a_run_in_the_logs() {
    let capture = dbm_testing::LogCapture::install(tracing::Level::DEBUG);
    let dir = tempfile::tempdir().unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(dir.path()));
    let logs = capture.text();

    line(
        &logs,
        "INFO",
        &["connection pool created", "pool=logged", "app.db"],
    );
    line(&logs, "INFO", &["migration run started", "pending=2"]);
    line(
        &logs,
        "INFO",
        &[
            "migration applied",
            "version=1",
            "V1__jobs.sql",
            "duration_ms=",
        ],
    );
    line(
        &logs,
        "INFO",
        &["migration applied", "version=2", "V2__seed.sql"],
    );
    line(
        &logs,
        "INFO",
        &[
            "migration run finished",
            "applied=2",
            "version=\"2\"",
            "duration_ms=",
        ],
    );
    line(
        &logs,
        "ERROR",
        &["migration failed", "V3__broken.sql", "line=3"],
    );
    line(
        &logs,
        "DEBUG",
        &[
            "database operation finished",
            "operation=\"query\"",
            "rows=1",
            "duration_ms=",
        ],
    );
    let first = line(
        &logs,
        "DEBUG",
        &[
            "database operation finished",
            "operation=\"query\"",
            "first_row=true",
        ],
    );
    assert!(
        !first.contains("rows=") && !first.contains("returned_rows"),
        "{first}"
    );
    line(
        &logs,
        "DEBUG",
        &[
            "database operation finished",
            "operation=\"execute\"",
            "rows_affected=1",
        ],
    );
    line(
        &logs,
        "DEBUG",
        &[
            "database operation finished",
            "operation=\"transaction\"",
            "statements=1",
        ],
    );
    let streamed = line(
        &logs,
        "DEBUG",
        &[
            "database operation finished",
            "operation=\"query stream\"",
            "rows=1",
        ],
    );
    assert!(
        streamed.contains("db.operation.name=\"query stream\""),
        "the stream's event is inside its own span: {streamed}"
    );
    line(&logs, "INFO", &["connection pool closed", "pool=logged"]);
    #[cfg(feature = "postgres")]
    {
        let failed = line(
            &logs,
            "WARN",
            &[
                "connection failed",
                "pool=down",
                "server.address=\"127.0.0.1\"",
                "server.port=1",
                "db.namespace=\"sales\"",
                "db.user=\"etl\"",
            ],
        );
        assert!(failed.contains("cannot reach 127.0.0.1:1"), "{failed}");
        assert!(
            !logs.contains("Pw9LogSecret"),
            "a password reached the logs"
        );
    }
}
