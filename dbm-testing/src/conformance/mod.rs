//! The behaviour every driver must show. Each case takes an isolated
//! [`TestDb`](crate::TestDb); the `conformance_suite!` macro turns the list into
//! `#[tokio::test]`s per driver.

use std::time::Duration;

use dbm_core::{Database, Params};

mod migrations;
mod pool;
mod results;
mod streaming;
mod transactions;

pub use migrations::{concurrent_migrators, migrations};
pub use pool::{pool_accounting, timeouts_cancel};
pub use results::{
    bad_input, first_row_reads_the_whole_result, named_parameters, row_format_and_types,
};
pub use streaming::streaming;
pub use transactions::{
    cancellation_leaks_nothing, manual_begin_is_not_pooled, transactions_are_atomic,
};

async fn count(db: &dyn Database, table: &str) -> i64 {
    let rows = db
        .query(
            &format!("SELECT count(*) AS n FROM {table}"),
            &Params::new(),
        )
        .await
        .unwrap();
    rows.first().unwrap().get("n").unwrap()
}

async fn wait_idle(db: &dyn Database) {
    for _ in 0..100 {
        if db.pool_status().checked_out == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the pool did not get its connection back: {:?}",
        db.pool_status()
    );
}

/// Declares the whole suite as `#[tokio::test]`s for one driver: put
/// `dbm_testing::conformance_suite!(dbm_sqlite::DRIVER);` in the driver's `tests/`. A driver
/// that needs a server (its test backend names a variable, `DBM_TEST_<PRODUCT>_URL`) says
/// it skipped each case when the variable is not set, and fails instead under
/// `DBM_TEST_REQUIRE_<PRODUCT>=1`.
///
/// `conformance_suite!(DRIVER, server = EXPR)` runs each case on a server the test starts
/// itself: `EXPR` is a future of a [`TestServer`](crate::TestServer), e.g.
/// `dbm_testing::TestServer::tds_engine()`.
#[macro_export]
macro_rules! conformance_suite {
    ($driver:expr) => {
        $crate::conformance_suite!(@all
            $crate::TestDb::new(&$driver, $crate::default_pool()).await);
    };
    ($driver:expr, server = $server:expr) => {
        $crate::conformance_suite!(@all
            Some($crate::TestDb::on_server(&$driver, $crate::default_pool(), $server.await).await));
    };
    (@all $make:expr) => {
        $crate::conformance_suite!(@cases $make;
            row_format_and_types,
            named_parameters,
            first_row_reads_the_whole_result,
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
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(t) = $make else {
                    return;
                };
                $crate::conformance::$case(&t).await;
            }
        )*
    };
}
