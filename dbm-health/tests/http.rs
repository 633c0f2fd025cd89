//! The probe and metrics routes, served on an ephemeral port and called with a real HTTP
//! client (hyper, `dbm_testing::http_get`), over real databases: SQLite files, and a PostgreSQL URL whose port
//! nobody listens on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dbm_core::{ConnectSettings, Database, Driver, DriverSettings, Params, PoolConfig};
use dbm_health::{Component, HealthMonitor, HealthService, HealthSettings, Metrics};
use dbm_migrate::Migrator;
use dbm_testing::{HttpReply, http_get};
use serde_json::Value as Json;

fn open(driver: &'static dyn Driver, name: &str, url: &str) -> Arc<dyn Database> {
    let options = driver
        .configure(url, &DriverSettings::new("."))
        .expect("configure");
    let mut connect = ConnectSettings::new();
    connect.connect_timeout = Some(Duration::from_secs(2));
    driver
        .open(
            name,
            options.as_ref(),
            &connect,
            PoolConfig::new(name).timeout(Duration::from_secs(2)),
            None,
        )
        .expect("open")
}

fn sqlite(dir: &tempfile::TempDir, name: &str) -> Arc<dyn Database> {
    let url = format!(
        "sqlite://{}",
        dir.path().join(format!("{name}.db")).display()
    );
    open(&dbm_sqlite::DRIVER, name, &url)
}

/// A PostgreSQL database on a port that was free a moment ago: connections are refused.
fn unreachable_postgres(name: &str) -> Arc<dyn Database> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    open(
        &dbm_postgres::DRIVER,
        name,
        &format!("postgres://etl:Sekr3tPw9@127.0.0.1:{port}/warehouse"),
    )
}

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(
        components: Vec<Component>,
        settings: HealthSettings,
    ) -> (Server, HealthService) {
        let monitor = Arc::new(HealthMonitor::new(components, settings));
        let service = HealthService::new(monitor, Metrics::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(dbm_health::serve(listener, service.clone(), async {
            let _ = rx.await;
        }));
        (
            Server {
                addr,
                stop: Some(tx),
                task,
            },
            service,
        )
    }

    async fn get(&self, path: &str) -> HttpReply {
        http_get(self.addr, path, None).await
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the server stops at the shutdown signal")
            .unwrap()
            .unwrap();
    }
}

fn settings() -> HealthSettings {
    // No cache: each request sees the current state.
    HealthSettings::default()
        .cache(Duration::ZERO)
        .timeout(Duration::from_secs(5))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_sqlite_and_an_unreachable_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let app = sqlite(&dir, "app");
    let warehouse = unreachable_postgres("warehouse");
    let (server, _) = Server::start(
        vec![
            Component::new(app.clone()),
            Component::new(warehouse.clone()),
        ],
        settings(),
    )
    .await;

    let r = server.get("/health").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    let j = r.json();
    assert_eq!(j["status"], "unhealthy");
    assert!(j["timestamp"].as_str().unwrap().ends_with('Z'));
    let a = &j["components"]["app"];
    assert_eq!(a["database_name"], "app");
    assert_eq!(a["status"], "healthy");
    assert_eq!(a["connection"], true);
    assert_eq!(a["query_test"], true);
    assert_eq!(a["error"], Json::Null);
    let w = &j["components"]["warehouse"];
    assert_eq!(w["status"], "unhealthy");
    assert_eq!(w["connection"], false);
    assert_eq!(w["backend"], "postgresql");
    let e = w["error"].as_str().unwrap();
    assert!(e.contains("warehouse"), "{e}");
    assert!(
        !r.body.contains("Sekr3t") && !r.body.contains("Pw9"),
        "{}",
        r.body
    );

    let r = server.get("/health/live").await;
    assert_eq!((r.status, r.json()["status"].clone()), (200, "up".into()));

    let r = server.get("/health/ready").await;
    assert_eq!(r.status, 503, "{}", r.body);
    let j = r.json();
    assert_eq!(j["status"], "not_ready");
    assert_eq!(
        j["reasons"],
        serde_json::json!(["warehouse: not reachable"])
    );

    let r = server.get("/health/app").await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, "healthy".into())
    );
    let r = server.get("/health/warehouse").await;
    assert_eq!(r.status, 503);
    let r = server.get("/health/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["databases"],
        serde_json::json!(["app", "warehouse"])
    );

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_optional_unreachable_database_only_degrades() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = Server::start(
        vec![
            Component::new(sqlite(&dir, "app")),
            Component::new(unreachable_postgres("reporting")).required(false),
        ],
        settings(),
    )
    .await;
    let r = server.get("/health").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["status"], "degraded");
    assert_eq!(j["components"]["reporting"]["status"], "unhealthy");
    assert_eq!(j["components"]["reporting"]["required"], false);
    let r = server.get("/health/ready").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "ready");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_migration_is_not_ready_until_applied() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("V1__jobs.sql"),
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY);\n",
    )
    .unwrap();
    let db = sqlite(&dir, "jobs");
    let migrator = Migrator::new(&migrations, "jobs");
    let (server, _) = Server::start(
        vec![Component::new(db.clone()).migrations(migrator.clone())],
        settings(),
    )
    .await;
    let r = server.get("/health/ready").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(
        r.json()["reasons"],
        serde_json::json!(["jobs: migrations are not up to date (pending)"])
    );
    let r = server.get("/health").await;
    assert_eq!(
        r.status, 200,
        "pending is degraded, not unhealthy: {}",
        r.body
    );
    let j = r.json();
    assert_eq!(j["status"], "degraded");
    assert_eq!(j["components"]["jobs"]["migration_status"], "pending");
    assert_eq!(
        j["components"]["jobs"]["migrations"]["pending"],
        serde_json::json!(["1"])
    );

    let mut conn = db.acquire().await.unwrap();
    migrator.migrate(conn.as_mut(), None).await.unwrap();
    drop(conn);
    let r = server.get("/health/ready").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = server.get("/health").await;
    assert_eq!(
        r.json()["components"]["jobs"]["migration_status"],
        "up_to_date"
    );
    assert_eq!(r.json()["status"], "healthy");
    server.stop().await;
}

/// The value of the sample line starting with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_operations_and_read_pools_and_health() {
    let dir = tempfile::tempdir().unwrap();
    // A name that needs escaping in a label value.
    let odd = "metrics \"odd\\name";
    let db = sqlite(&dir, "metrics_app");
    let other = sqlite(&dir, odd);
    let (server, _) = Server::start(
        vec![Component::new(db.clone()), Component::new(other.clone())],
        settings(),
    )
    .await;
    for _ in 0..5 {
        db.query("SELECT 1 AS one", &Params::new()).await.unwrap();
    }
    db.execute("CREATE TABLE t (x INTEGER)", &Params::new())
        .await
        .unwrap();
    db.query("SELECT * FROM no_such_table", &Params::new())
        .await
        .unwrap_err();
    other.query("SELECT 2", &Params::new()).await.unwrap();

    let r = server.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    let m = &r.body;
    let labels = r#"{db_system="sqlite",db_namespace="metrics_app",db_operation_name="query"}"#;
    assert_eq!(
        sample(
            m,
            &format!("db_client_operation_duration_seconds_count{labels}")
        ),
        Some(6.0),
        "{m}"
    );
    assert!(
        sample(
            m,
            &format!("db_client_operation_duration_seconds_sum{labels}")
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        sample(
            m,
            r#"db_client_operation_duration_seconds_count{db_system="sqlite",db_namespace="metrics_app",db_operation_name="execute"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            m,
            r#"db_client_operation_errors_total{db_system="sqlite",db_namespace="metrics_app",db_operation_name="query",error_type="query"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert!(m.contains("# HELP db_client_operation_duration_seconds "));
    assert!(m.contains("# TYPE db_client_operation_duration_seconds histogram"));
    assert!(
        sample(
            m,
            r#"db_client_connection_wait_time_seconds_count{db_namespace="metrics_app"}"#
        )
        .unwrap()
            >= 7.0
    );
    // Pool readings: the health check's connection went back, so one idle, none used.
    assert_eq!(
        sample(
            m,
            r#"db_client_connections_usage{db_namespace="metrics_app",state="used"}"#
        ),
        Some(0.0)
    );
    assert!(
        sample(
            m,
            r#"db_client_connections_usage{db_namespace="metrics_app",state="idle"}"#
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        sample(
            m,
            r#"db_client_connection_idle_max{db_namespace="metrics_app"}"#
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            m,
            r#"db_client_connection_timeouts_total{db_namespace="metrics_app"}"#
        ),
        Some(0.0)
    );
    assert!(m.contains("# TYPE db_client_connection_pending_requests gauge"));
    assert_eq!(
        sample(m, r#"dbm_health_status{database="metrics_app"}"#),
        Some(0.0)
    );
    assert!(
        sample(
            m,
            r#"dbm_health_response_time_seconds{database="metrics_app"}"#
        )
        .is_some()
    );
    // Label values escaped: \" and \\.
    assert!(
        m.contains(r#"dbm_health_status{database="metrics \"odd\\name"} 0"#),
        "{m}"
    );
    for line in m.lines().filter(|l| !l.starts_with('#')) {
        assert!(!line.trim().is_empty(), "no blank lines");
    }

    // OpenMetrics when the scraper asks for it.
    let r = http_get(
        server.addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(
        r.content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(r.body.ends_with("# EOF\n"), "{}", r.body);

    promtool_check(m).await;
    server.stop().await;
}

/// `promtool check metrics` on the live output, when promtool is installed; CI installs it
/// and sets DBM_TEST_REQUIRE_PROMTOOL=1 so it cannot be skipped there.
async fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            dbm_testing::skip_unless_required(
                "DBM_TEST_REQUIRE_PROMTOOL",
                &format!(
                    "promtool not runnable ({e}): `promtool check metrics` skipped (apt-get install prometheus)"
                ),
            );
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
}
