//! The status rules and the monitor's aggregation and cache, over the dbm-testing mocks:
//! no database, so every threshold can be put exactly where the test wants it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dbm_core::{
    Backend, Column, Columns, Connection, Error, ErrorKind, ManageConnection, Params, Pool,
    PoolConfig, PoolStatus, RowStream, Rows, Statement, Transaction, Value,
};
use dbm_health::{
    Component, HealthMonitor, HealthSettings, HealthSummary, SchemaState, Status, check_database,
};
use dbm_testing::{MockConnection, MockDatabase};

/// A real core pool of nothing, to read a `PoolStatus` with `used` of `size` connections
/// checked out.
struct Nothing;
#[dbm_core::async_trait]
impl ManageConnection for Nothing {
    type Connection = ();
    async fn connect(&self) -> dbm_core::Result<()> {
        Ok(())
    }
    async fn ping(&self, _: &mut ()) -> dbm_core::Result<()> {
        Ok(())
    }
    fn must_discard(&self, _: &()) -> bool {
        false
    }
}

async fn pool_status(size: u32, used: usize) -> PoolStatus {
    let pool = Pool::new(
        Nothing,
        PoolConfig::new("p").pool_size(size).max_overflow(0),
    );
    let mut held = Vec::new();
    for _ in 0..used {
        held.push(pool.get().await.unwrap());
    }
    pool.status()
}

fn one_row(v: i64) -> Rows {
    let mut rows = Rows::new(Columns::new(vec![Column::new("ok", "INTEGER")]));
    rows.push(vec![Value::Int(v)]);
    rows
}

/// How the mocked database behaves.
#[derive(Clone)]
struct Behaviour {
    connect: Result<(), ErrorKind>,
    query: Result<i64, ErrorKind>,
    delay: Duration,
    pool: PoolStatus,
    acquired: Arc<AtomicUsize>,
}

async fn behaviour() -> Behaviour {
    Behaviour {
        connect: Ok(()),
        query: Ok(1),
        delay: Duration::ZERO,
        pool: pool_status(10, 0).await,
        acquired: Arc::new(AtomicUsize::new(0)),
    }
}

fn mock(name: &'static str, b: Behaviour) -> Arc<dyn dbm_core::Database> {
    let mut db = MockDatabase::new();
    db.expect_name().return_const(name.to_owned());
    db.expect_backend().return_const(Backend::Sqlite);
    db.expect_pool_status().return_const(b.pool.clone());
    db.expect_acquire().returning(move || {
        b.acquired.fetch_add(1, Ordering::SeqCst);
        if let Err(kind) = b.connect {
            return Err(Error::new(kind, "connection refused (os error 111)")
                .with_database(name)
                .with_operation("connect"));
        }
        let mut c = MockConnection::new();
        c.expect_ping().returning(|| Ok(()));
        let query = b.query;
        c.expect_query_raw().returning(move |_, _| {
            query
                .map(one_row)
                .map_err(|k| Error::new(k, "no such table: nope"))
        });
        Ok(Box::new(c) as Box<dyn Connection>)
    });
    Arc::new(Slow {
        inner: db,
        delay: b.delay,
    })
}

/// The mock with an asynchronous delay before each checkout (`Duration::MAX`: never
/// completes), as a slow or exhausted pool behaves. Everything else is the mock's.
#[derive(Debug)]
struct Slow {
    inner: MockDatabase,
    delay: Duration,
}

#[dbm_core::async_trait]
impl dbm_core::Database for Slow {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    async fn query(&self, s: &str, p: &Params) -> dbm_core::Result<Rows> {
        self.inner.query(s, p).await
    }
    async fn execute(&self, s: &str, p: &Params) -> dbm_core::Result<u64> {
        self.inner.execute(s, p).await
    }
    async fn query_stream(&self, s: &str, p: &Params) -> dbm_core::Result<RowStream> {
        self.inner.query_stream(s, p).await
    }
    async fn query_with_timeout(&self, s: &str, p: &Params, t: Duration) -> dbm_core::Result<Rows> {
        self.inner.query_with_timeout(s, p, t).await
    }
    async fn execute_with_timeout(
        &self,
        s: &str,
        p: &Params,
        t: Duration,
    ) -> dbm_core::Result<u64> {
        self.inner.execute_with_timeout(s, p, t).await
    }
    async fn transaction(&self, s: &[Statement]) -> dbm_core::Result<Vec<u64>> {
        self.inner.transaction(s).await
    }
    async fn begin(&self) -> dbm_core::Result<Transaction> {
        self.inner.begin().await
    }
    async fn acquire(&self) -> dbm_core::Result<Box<dyn Connection>> {
        if self.delay == Duration::MAX {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(self.delay).await;
        self.inner.acquire().await
    }
    fn pool_status(&self) -> PoolStatus {
        self.inner.pool_status()
    }
    async fn close(&self) {}
}

fn fast() -> HealthSettings {
    HealthSettings::default().cache(Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reachable_answering_database_is_healthy() {
    let db = mock("app", behaviour().await);
    let h = check_database(db.as_ref(), None, &fast()).await;
    assert_eq!(h.status, Status::Healthy, "{h:?}");
    assert!(h.connection && h.query_test);
    assert_eq!(h.migration_status, SchemaState::NotChecked);
    assert!(h.error.is_none() && h.reasons.is_empty());
    assert_eq!(h.backend, "sqlite");
    assert!(h.timestamp.ends_with('Z'), "{}", h.timestamp);
    chrono::DateTime::parse_from_rfc3339(&h.timestamp).unwrap();
    let json = serde_json::to_value(&h).unwrap();
    for key in [
        "database_name",
        "status",
        "connection",
        "query_test",
        "migration_status",
        "response_time_ms",
        "timestamp",
        "error",
    ] {
        assert!(json.get(key).is_some(), "seed field {key} missing: {json}");
    }
    assert_eq!(json["status"], "healthy");
    assert_eq!(json["migration_status"], "not_checked");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_connection_is_unhealthy_and_the_error_names_the_database() {
    let mut b = behaviour().await;
    b.connect = Err(ErrorKind::Connection);
    let h = check_database(mock("warehouse", b).as_ref(), None, &fast()).await;
    assert_eq!(h.status, Status::Unhealthy);
    assert!(!h.connection && !h.query_test);
    let e = h.error.unwrap();
    assert!(e.contains("warehouse") && e.contains("connect"), "{e}");
    assert_eq!(h.reasons, ["no connection"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_or_wrong_test_query_is_degraded() {
    let mut b = behaviour().await;
    b.query = Err(ErrorKind::Query);
    let h = check_database(mock("app", b.clone()).as_ref(), None, &fast()).await;
    assert_eq!(h.status, Status::Degraded);
    assert!(h.connection && !h.query_test);
    let e = h.error.unwrap();
    assert!(e.contains("app") && e.contains("health test query"), "{e}");

    b.query = Ok(2);
    let h = check_database(mock("app", b).as_ref(), None, &fast()).await;
    assert_eq!(h.status, Status::Degraded);
    assert!(h.error.unwrap().contains("did not return 1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn slower_than_slow_ms_is_degraded() {
    let mut b = behaviour().await;
    b.delay = Duration::from_millis(60);
    let s = fast().slow(Duration::from_millis(20));
    let h = check_database(mock("app", b.clone()).as_ref(), None, &s).await;
    assert_eq!(h.status, Status::Degraded);
    assert!(h.response_time_ms >= 60.0, "{}", h.response_time_ms);
    assert!(h.reasons[0].starts_with("slow: "), "{:?}", h.reasons);
    assert!(
        h.reasons[0].ends_with("above slow_ms = 20"),
        "{:?}",
        h.reasons
    );
    // The same response under a higher threshold is healthy.
    let s = fast().slow(Duration::from_millis(500));
    let h = check_database(mock("app", b).as_ref(), None, &s).await;
    assert_eq!(h.status, Status::Healthy, "{:?}", h.reasons);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_pool_is_degraded_above_the_threshold_only() {
    let mut b = behaviour().await;
    b.pool = pool_status(10, 9).await;
    let h = check_database(mock("app", b.clone()).as_ref(), None, &fast()).await;
    assert_eq!(h.pool_utilization_percent, 90.0);
    assert_eq!(h.status, Status::Degraded);
    assert_eq!(
        h.reasons,
        ["pool 90% in use, above pool_degraded_percent = 80"]
    );
    let h = check_database(
        mock("app", b.clone()).as_ref(),
        None,
        &fast().pool_degraded_percent(90.0),
    )
    .await;
    assert_eq!(
        h.status,
        Status::Healthy,
        "exactly at the threshold is not above it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkout_that_never_completes_is_unhealthy_at_the_timeout() {
    let mut b = behaviour().await;
    b.pool = pool_status(1, 1).await;
    b.delay = Duration::MAX;
    let s = fast().timeout(Duration::from_millis(150));
    let started = Instant::now();
    let h = check_database(mock("stuck", b).as_ref(), None, &s).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(h.status, Status::Unhealthy);
    assert!(!h.connection);
    assert_eq!(h.pool_utilization_percent, 100.0);
    let e = h.error.unwrap();
    assert!(
        e.contains("`stuck`") && e.contains("it was at: connection checkout"),
        "{e}"
    );
    assert!(
        h.reasons
            .contains(&"the check did not finish within 150 ms".to_owned())
    );
}

fn summary_of(statuses: &[(&str, Status, bool)]) -> HealthSummary {
    // Build real reports through the checks, then set the fields under test.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut out = Vec::new();
        for (name, status, required) in statuses {
            let db = mock("x", behaviour().await);
            let mut h = check_database(db.as_ref(), None, &fast()).await;
            h.database_name = (*name).to_owned();
            h.status = *status;
            h.required = *required;
            h.connection = *status != Status::Unhealthy;
            out.push(h);
        }
        HealthSummary::of(out)
    })
}

#[test]
fn the_overall_status_is_the_worst_and_an_optional_database_only_degrades_it() {
    use Status::*;
    assert_eq!(summary_of(&[]).status, Healthy);
    assert_eq!(
        summary_of(&[("a", Healthy, true), ("b", Healthy, true)]).status,
        Healthy
    );
    assert_eq!(
        summary_of(&[("a", Healthy, true), ("b", Degraded, true)]).status,
        Degraded
    );
    assert_eq!(
        summary_of(&[("a", Healthy, true), ("b", Unhealthy, true)]).status,
        Unhealthy
    );
    let s = summary_of(&[("a", Healthy, true), ("b", Unhealthy, false)]);
    assert_eq!(s.status, Degraded);
    assert_eq!(
        s.components["b"].status, Unhealthy,
        "its own status stays true"
    );
    assert!(
        s.readiness().ready,
        "an optional database does not gate readiness"
    );
    let s = summary_of(&[("a", Unhealthy, true), ("b", Healthy, false)]);
    assert_eq!(s.status, Unhealthy);
    let r = s.readiness();
    assert!(!r.ready);
    assert_eq!(r.reasons, ["a: not reachable"]);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["status"], "unhealthy");
    assert_eq!(json["components"]["a"]["database_name"], "a");
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_share_one_check_per_cache_interval() {
    let a = behaviour().await;
    let b = behaviour().await;
    let (ca, cb) = (a.acquired.clone(), b.acquired.clone());
    let mut slow_a = a;
    slow_a.delay = Duration::from_millis(50);
    let monitor = Arc::new(HealthMonitor::new(
        vec![
            Component::new(mock("a", slow_a)),
            Component::new(mock("b", b)).required(false),
        ],
        HealthSettings::default().cache(Duration::from_secs(30)),
    ));
    let probes: Vec<_> = (0..100)
        .map(|_| {
            let m = monitor.clone();
            tokio::spawn(async move { m.check().await.status })
        })
        .collect();
    for p in probes {
        assert_eq!(p.await.unwrap(), Status::Healthy);
    }
    assert_eq!(ca.load(Ordering::SeqCst), 1, "100 probes, one check of a");
    assert_eq!(cb.load(Ordering::SeqCst), 1, "and one of b");
    assert_eq!(monitor.checks_run(), 1);

    // Without a cache every probe checks.
    let c = behaviour().await;
    let cc = c.acquired.clone();
    let monitor = HealthMonitor::new(vec![Component::new(mock("c", c))], fast());
    for _ in 0..3 {
        monitor.check().await;
    }
    assert_eq!(cc.load(Ordering::SeqCst), 3);
}
