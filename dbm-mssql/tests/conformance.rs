//! The shared conformance suite (dbm-testing) on SQL Server's wire protocol:
//! - `tds`: the TDS test server in engine mode, started by each case (always runs; it
//!   proves dbm's wire, state and error handling, not SQL Server's semantics);
//! - `server`: the SQL Server `DBM_TEST_MSSQL_URL` names, each case in a database of its
//!   own (skipped, visibly, without it).

mod tds {
    dbm_testing::conformance_suite!(
        dbm_mssql::DRIVER,
        server = dbm_testing::TestServer::tds_engine()
    );
}

mod server {
    dbm_testing::conformance_suite!(dbm_mssql::DRIVER);
}
