//! The statements the driver sends for a migration run, verbatim, on the TDS test server in
//! engine mode (which runs them).

use dbm_core::PoolConfig;
use dbm_testing::tds::{RequestKind, TdsServer, TdsValue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_run_sends_exactly_these_statements() {
    let server = TdsServer::engine().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("V1__t.sql"), "CREATE TABLE t (id INT)\n").unwrap();
    std::fs::write(dir.join("V2__bad.sql"), "INSERT INTO nope VALUES (1)\n").unwrap();
    let db = dbm_mssql::open(
        "app",
        server.url("master").parse().unwrap(),
        PoolConfig::new("app"),
    );
    let mut conn = dbm_core::Database::acquire(&db).await.unwrap();
    let e = dbm_migrate::Migrator::new(dir, "test")
        .migrate(conn.as_mut(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("V2__bad.sql line 1"), "{e}");
    let ddl = conn.dialect().schema_version_ddl("schema_version");
    drop(conn);
    let requests = server.requests();
    let batches: Vec<&str> = requests
        .iter()
        .filter(|r| r.kind == RequestKind::Batch)
        .map(|r| r.sql.as_str())
        .collect();
    let lock = "DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'dbm:migrate', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 0; SELECT @r AS result";
    let unlock = "DECLARE @r int; EXEC @r = sp_releaseapplock @Resource = N'dbm:migrate', @LockOwner = 'Session'; SELECT @r AS result";
    // The whole run, in order: lock first, released last; after the failing statement
    // XACT_STATE() is read before the rollback (XACT_ABORT may have ended the transaction).
    assert_eq!(
        batches,
        [
            "SET XACT_ABORT ON; SELECT @@SPID AS spid",
            lock,
            ddl.as_str(),
            "BEGIN TRANSACTION",
            "CREATE TABLE t (id INT)",
            "COMMIT TRANSACTION",
            "BEGIN TRANSACTION",
            "INSERT INTO nope VALUES (1)",
            "SELECT XACT_STATE() AS state",
            "IF XACT_STATE() <> 0 ROLLBACK TRANSACTION",
            unlock,
        ]
    );
    // Parameters travel as sp_executesql RPCs with typed values.
    let exists = requests
        .iter()
        .find(|r| r.sql.contains("INFORMATION_SCHEMA.TABLES"))
        .expect("the history table lookup");
    assert_eq!(exists.kind, RequestKind::Rpc);
    assert_eq!(
        exists.sql,
        "SELECT 1 AS present FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = SCHEMA_NAME() AND TABLE_NAME = @P1"
    );
    assert_eq!(
        exists.params[0].value,
        TdsValue::Text("schema_version".into())
    );
}
