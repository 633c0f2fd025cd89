//! `cargo xtask` on SQL Server's wire protocol: the real binary migrates the shipped
//! schema through the TDS test server in engine mode (`--url mssql://...`), and `status`,
//! `validate` and `health` read it back. The engine runs SQLite behind the wire, which is
//! why the shipped (SQLite) schema applies: this proves the CLI, the driver and the wire,
//! not SQL Server's dialect.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dbm_testing::tds::TdsServer;

fn xtask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .env_remove("DBM_APP_URL")
        .env_remove("DBM_CONFIG")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn shipped_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/app")
}

#[test]
fn migrate_status_validate_and_health_over_tds() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(TdsServer::engine());
    let url = server.url("master");
    let dir = tempfile::tempdir().unwrap();
    let migrations = shipped_migrations();
    let m = migrations.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--url", &url, "--dir", m]);
        xtask(dir.path(), &all)
    };

    let o = run(&["migrate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("applied 5 migration(s)"), "{}", text(&o));

    let o = run(&["status"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("current version: 4"), "{out}");
    assert!(out.contains("5 applied, 0 pending"), "{out}");
    assert!(out.contains("V3__create_run_audit.sql"), "{out}");

    let o = run(&["status", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["current_version"], "4");
    assert_eq!(j["applied"].as_array().unwrap().len(), 5);

    assert!(run(&["validate"]).status.success());
    let o = run(&["health", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["status"], "healthy", "{j}");
    assert_eq!(j["backend"], "mssql");
    assert_eq!(j["migration_status"], "up_to_date");

    // Nothing printed shows the password.
    for args in [&["status"][..], &["health"][..], &["migrate"][..]] {
        assert!(!text(&run(args)).contains(TdsServer::PASSWORD));
    }
    // The statements came over TDS: the history table's DDL and the lock are T-SQL.
    let log = server.sql_log();
    assert!(
        log.iter()
            .any(|s| s.starts_with("IF OBJECT_ID(N'[schema_version]', N'U') IS NULL CREATE TABLE"))
    );
    assert!(log.iter().any(|s| s.contains("sp_getapplock")));
    drop(server);
    rt.shutdown_background();
}
