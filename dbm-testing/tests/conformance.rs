//! The conformance suite, on SQLite always and on PostgreSQL when `DBM_TEST_POSTGRES_URL`
//! is set. (SQL Server will join when `DBM_TEST_MSSQL_URL` is.)

dbm_testing::conformance_suite!(
    row_format_and_types,
    named_parameters,
    transactions_are_atomic,
    timeouts_cancel,
    pool_accounting,
    bad_input,
    migrations,
    concurrent_migrators,
    cancellation_leaks_nothing,
    manual_begin_is_not_pooled,
    streaming,
);
