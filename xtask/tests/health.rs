//! `cargo xtask health --all` and `cargo xtask serve` as processes: exit codes, the table,
//! the JSON, and a server that answers probes and stops cleanly at SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A project with a migrated SQLite `app`, an unmigrated SQLite `jobs` (one pending file)
/// and a PostgreSQL `warehouse` on a port nobody listens on; `required` is the
/// warehouse's setting.
fn project(warehouse_required: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all(dir.path().join("migrations/jobs")).unwrap();
    std::fs::write(
        dir.path().join("migrations/jobs/V1__jobs.sql"),
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("dbm.toml"),
        format!(
            "[health]\ntimeout_ms = 3000\n\n\
             [databases.app]\nurl = \"sqlite://app.db\"\n\n\
             [databases.jobs]\nurl = \"sqlite://jobs.db\"\n\n\
             [databases.warehouse]\nurl = \"postgres://etl:Wh9Secret@127.0.0.1:{port}/warehouse\"\n\
             connect_timeout = 2000\nrequired = {warehouse_required}\n"
        ),
    )
    .unwrap();
    dir
}

fn xtask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .env_remove("DBM_CONFIG")
        .env_remove("DBM_ENV")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn health_all_exits_1_when_a_required_database_is_down_and_0_when_it_is_optional() {
    let p = project(true);
    let o = xtask(p.path(), &["health", "--all", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["status"], "unhealthy");
    assert_eq!(j["components"]["app"]["status"], "healthy");
    assert_eq!(j["components"]["jobs"]["status"], "degraded");
    assert_eq!(j["components"]["jobs"]["migration_status"], "pending");
    assert_eq!(j["components"]["warehouse"]["connection"], false);
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(!all.contains("Wh9") && !all.contains("Secret"), "{all}");

    let o = xtask(p.path(), &["health", "--all"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o.stdout);
    assert!(
        t.starts_with("overall: unhealthy (3 database(s), checked at "),
        "{t}"
    );
    assert!(t.contains("warehouse (postgresql): UNHEALTHY"), "{t}");
    assert!(t.contains("  connection     FAILED"), "{t}");
    assert!(t.contains("jobs (sqlite): degraded"), "{t}");
    assert!(t.contains("  migrations     1 pending (1)"), "{t}");

    let p = project(false);
    let o = xtask(p.path(), &["health", "--all"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(text(&o.stdout).starts_with("overall: degraded"));
    // One database, as before: degraded is still a success.
    let o = xtask(p.path(), &["health", "--database", "jobs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let o = xtask(p.path(), &["health", "--database", "warehouse"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    let r = dbm_testing::http_get(addr.parse().unwrap(), path, None).await;
    (r.status, r.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_probes_and_stops_at_sigterm() {
    let p = project(false);
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DBM_LOG", "info")
        .current_dir(p.path())
        .env_remove("DBM_CONFIG")
        .env_remove("DBM_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    assert!(
        first.starts_with("serving health of app, jobs, warehouse on http://127.0.0.1:"),
        "{first}"
    );

    let (code, body) = get(&addr, "/health/live").await;
    assert_eq!((code, body.as_str()), (200, r#"{"status":"up"}"#));
    let (code, body) = get(&addr, "/health").await;
    assert_eq!(code, 200, "the down warehouse is optional: {body}");
    let (code, body) = get(&addr, "/health/ready").await;
    assert_eq!(code, 503, "jobs has a pending migration: {body}");
    assert!(
        body.contains("jobs: migrations are not up to date (pending)"),
        "{body}"
    );
    let (code, body) = get(&addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        body.contains(r#"dbm_health_status{database="warehouse"} 2"#),
        "{body}"
    );
    assert!(!body.contains("Wh9Secret"));

    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            waited < Duration::from_secs(10),
            "serve did not stop at SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(rest, ["stopped"]);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("SIGTERM received"), "{err}");
}
