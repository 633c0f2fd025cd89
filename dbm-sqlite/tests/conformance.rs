//! The shared conformance suite (dbm-testing) on SQLite files.

dbm_testing::conformance_suite!(dbm_sqlite::DRIVER);
