//! `DatabaseManager` on PostgreSQL (runs when `DBM_TEST_POSTGRES_URL` is set).
#![cfg(feature = "postgres")]

use std::time::Duration;

use dbm::{DatabaseConfig, DatabaseManager, ErrorKind, Params, Statement, params};
use dbm_testing::{TestDb, default_pool};

#[tokio::test(flavor = "multi_thread")]
async fn manager_on_postgres_queries_migrates_and_reports_health() {
    let Some(t) = TestDb::postgres(default_pool()).await else {
        return;
    };
    let options = t.postgres_options().unwrap();
    // Build the URL the way a user would write it (the fixture's password is the test role's).
    let url = std::env::var(dbm_testing::POSTGRES_URL_VAR).unwrap();
    let url = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{}", options.database().unwrap()),
        None => unreachable!(),
    };
    let mut config = DatabaseConfig::new("pg", &url).unwrap();
    config.migrations = t.migrations_dir();
    config.auto_migrate = true;
    config.pool_size = 2;
    assert!(
        !format!("{config:?}").contains(":dbm_test@"),
        "Debug redacts the password"
    );
    t.write_migration(
        "V1__jobs.sql",
        "CREATE TABLE jobs (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n",
    );
    t.write_migration("U1__jobs.sql", "DROP TABLE jobs;\n");

    let db = DatabaseManager::connect(config).await.unwrap();
    assert_eq!(db.backend(), dbm::Backend::Postgres);
    let status = db.migration_status().await.unwrap();
    assert_eq!(
        status.current_version.as_deref(),
        Some("1"),
        "auto_migrate ran on connect"
    );

    db.transaction(&[
        Statement::new("INSERT INTO jobs (name) VALUES (:n)").bind("n", "load"),
        Statement::new("INSERT INTO jobs (name) VALUES (:n)").bind("n", "report"),
    ])
    .await
    .unwrap();
    let rows = db
        .query_with_retry(
            "SELECT id, name FROM jobs WHERE name = :n",
            &params! { "n" => "report" },
        )
        .await
        .unwrap();
    assert_eq!(rows.first().unwrap().get::<i64>("id").unwrap(), 2);
    let e = db
        .query_with_timeout(
            "SELECT pg_sleep(10)",
            &Params::new(),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);

    let h = db.health_check().await;
    assert_ne!(h.status, dbm::Status::Unhealthy, "{h:?}");
    assert!(h.connection && h.query_test, "{h:?}");
    assert!(h.migrations.as_ref().unwrap().pending.is_empty());
    assert_eq!(h.status, dbm::Status::Healthy, "{h:?}");
    let json = serde_json::to_string(&h).unwrap();
    if let Some(pw) = dbm_testing::postgres_password() {
        assert!(!json.contains(&pw), "{json}");
    }

    let r = db.rollback_migrations("0").await.unwrap();
    assert_eq!(r.applied.len(), 1);
    db.close().await;
}
