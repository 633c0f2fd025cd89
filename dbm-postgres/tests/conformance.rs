//! The shared conformance suite (dbm-testing) on the PostgreSQL server named by
//! `DBM_TEST_POSTGRES_URL` (each case in a database of its own).

dbm_testing::conformance_suite!(dbm_postgres::DRIVER);
