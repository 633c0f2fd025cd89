//! `cargo xtask` as a user runs it: the real binary, in a project directory, on SQLite files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

fn repo_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/app")
}

/// A project like the repository: dbm.toml plus a copy of the shipped example schema.
fn project() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations/app");
    fs::create_dir_all(&m).unwrap();
    for entry in fs::read_dir(repo_migrations()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), m.join(entry.file_name())).unwrap();
    }
    fs::write(
        dir.path().join("dbm.toml"),
        "[databases.app]\nurl = \"sqlite://target/dbm/app.db\"\nmigrations = \"migrations/app\"\n",
    )
    .unwrap();
    dir
}

fn xtask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .env_remove("DBM_APP_URL")
        .env_remove("DBM_CONFIG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn migrate_then_status_on_a_fresh_project() {
    let p = project();
    let o = xtask(p.path(), &["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("app: applied 5 migration(s)"),
        "{}",
        stdout(&o)
    );
    assert!(p.path().join("target/dbm/app.db").exists());

    let o = xtask(p.path(), &["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("current version: 4"), "{out}");
    assert!(
        out.contains("VERSION") && out.contains("V2.1__add_run_error.sql"),
        "{out}"
    );
    assert!(out.contains("5 applied, 0 pending"), "{out}");

    let o = xtask(p.path(), &["status", "--json"]);
    let j = json(&o);
    assert_eq!(j["database"], "app");
    assert_eq!(j["current_version"], "4");
    assert_eq!(j["applied"].as_array().unwrap().len(), 5);
    assert_eq!(j["pending"].as_array().unwrap().len(), 0);
    assert!(j["failed"].as_array().unwrap().is_empty());
    let first = &j["applied"][0];
    assert_eq!(first["version"], "1");
    assert_eq!(first["description"], "create pipelines");
    assert_eq!(first["script"], "V1__create_pipelines.sql");

    let o = xtask(p.path(), &["validate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = xtask(p.path(), &["health", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["connection"], true);
    assert_eq!(json(&o)["query_test"], true);
}

#[test]
fn shipped_example_schema_rolls_all_the_way_back_and_forward() {
    let p = project();
    assert!(xtask(p.path(), &["migrate", "--to", "2"]).status.success());
    let j = json(&xtask(p.path(), &["status", "--json"]));
    assert_eq!(j["current_version"], "2");
    assert_eq!(j["pending"].as_array().unwrap().len(), 3);
    assert!(xtask(p.path(), &["migrate"]).status.success());
    let o = xtask(p.path(), &["rollback", "--to", "0", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let undone: Vec<String> = json(&o)["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["version"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(undone, ["4", "3", "2.1", "2", "1"]);
    let o = xtask(p.path(), &["migrate", "--json"]);
    assert_eq!(json(&o)["current_version"], "4");
}

#[test]
fn failures_exit_non_zero_with_a_one_line_cause() {
    let p = project();
    let cases: &[(&[&str], &str)] = &[
        (
            &["migrate", "--database", "nope"],
            "database `nope` is not configured",
        ),
        (
            &["status", "--url", "redis://:hunter2@h"],
            "unknown database URL scheme `redis`",
        ),
    ];
    for (args, needle) in cases {
        let o = xtask(p.path(), args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[test]
fn usage_errors_exit_2_with_clap_usage_and_suggestions() {
    let p = project();
    let cases: &[(&[&str], &str)] = &[
        (
            &["rollback"],
            "the following required arguments were not provided:\n  --to <VERSION>",
        ),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&["migrat"], "tip: a similar subcommand exists: 'migrate'"),
        (
            &["status", "--jsn"],
            "tip: a similar argument exists: '--json'",
        ),
        (
            &["status", "--colour"],
            "unexpected argument '--colour' found",
        ),
        (&["completions", "tcsh"], "invalid value 'tcsh'"),
    ];
    for (args, needle) in cases {
        let o = xtask(p.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(
            err.trim_end()
                .ends_with("For more information, try '--help'."),
            "{args:?}: {err}"
        );
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn edited_migration_fails_validate_and_migrate() {
    let p = project();
    assert!(xtask(p.path(), &["migrate"]).status.success());
    fs::write(
        p.path()
            .join("migrations/app/V4__seed_example_pipeline.sql"),
        "SELECT 1;\n",
    )
    .unwrap();
    let o = xtask(p.path(), &["validate"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("V4__seed_example_pipeline.sql was edited"),
        "{}",
        stderr(&o)
    );
    let o = xtask(p.path(), &["status", "--json"]);
    assert_eq!(
        json(&o)["edited"][0]["script"],
        "V4__seed_example_pipeline.sql"
    );
}

#[test]
fn url_dir_and_environment_overrides() {
    let p = project();
    let other = p.path().join("elsewhere.db");
    let url = format!("sqlite://{}", other.display());
    let o = xtask(p.path(), &["migrate", "--url", &url, "--to", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(other.exists());
    assert!(
        !p.path().join("target/dbm/app.db").exists(),
        "the configured database was not touched"
    );

    // DBM_APP_URL replaces the configured URL.
    let env_db = p.path().join("from-env.db");
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["migrate", "--json"])
        .current_dir(p.path())
        .env("DBM_APP_URL", format!("sqlite://{}", env_db.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env_db.exists());

    // --dir points at another migrations directory; `new` numbers the next file.
    let o = xtask(
        p.path(),
        &["new", "add", "owner", "column", "--undo", "--dir", "extra"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(p.path().join("extra/V1__add_owner_column.sql").exists());
    assert!(p.path().join("extra/U1__add_owner_column.sql").exists());
    let o = xtask(p.path(), &["new", "seed", "owners"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(p.path().join("migrations/app/V5__seed_owners.sql").exists());
}

#[test]
fn baseline_and_repair_commands() {
    let p = project();
    // An existing database whose schema is already at version 4.
    let o = xtask(p.path(), &["baseline", "--version", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = xtask(p.path(), &["migrate", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        json(&o)["applied"].as_array().unwrap().len(),
        0,
        "nothing at or below the baseline runs"
    );
    let j = json(&xtask(p.path(), &["status", "--json"]));
    assert_eq!(j["baseline"], "4");
    assert_eq!(j["current_version"], "4");
    let o = xtask(p.path(), &["baseline", "--version", "5", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        json(&o)["error"]
            .as_str()
            .unwrap()
            .contains("baseline only applies")
    );
    let o = xtask(p.path(), &["repair"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("removed 0 failed row(s), realigned 0 checksum(s)"));
}

#[test]
fn two_processes_migrating_at_once_apply_each_migration_once() {
    let p = project();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_xtask"))
                .args(["migrate", "--json"])
                .current_dir(p.path())
                .env_remove("DBM_APP_URL")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        applied += json(&o)["applied"].as_array().unwrap().len();
    }
    assert_eq!(
        applied, 5,
        "each of the five migrations applied by exactly one process"
    );
    let j = json(&xtask(p.path(), &["status", "--json"]));
    assert_eq!(j["applied"].as_array().unwrap().len(), 5);
}

#[test]
fn config_check_shows_origins_masks_secrets_and_fails_when_invalid() {
    let p = project();
    fs::write(p.path().join("pg_password"), "s3cr3t-from-file\n").unwrap();
    fs::write(
        p.path().join("dbm.toml"),
        "[defaults]\ntimeout = 5\n\n[databases.app]\nurl = \"sqlite://target/dbm/app.db\"\n\n[databases.warehouse]\nurl = \"postgres://etl:pl41n-s3cret@db.example/w\"\n\n[databases.reports]\nurl_env = \"REPORTS_URL\"\npassword_file = \"pg_password\"\n\n[env.production.databases.app]\npool_size = 12\n",
    )
    .unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.args(["config", "check", "--json"])
            .current_dir(p.path());
        cmd.env_remove("DBM_ENV").env_remove("DBM_APP_URL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let o = run(&[
        ("DBM_ENV", "production"),
        ("REPORTS_URL", "postgres://etl@db.example/r"),
        ("DBM__DATABASES__APP__MAX_OVERFLOW", "3"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        !text.contains("pl41n-s3cret") && !text.contains("s3cr3t-from-file"),
        "{text}"
    );
    let j = json(&o);
    assert_eq!(j["environment"], "production");
    let db = |name: &str| {
        j["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()
            .clone()
    };
    // One key per setting, values typed.
    let setting = |d: &serde_json::Value, key: &str| d["settings"][key].clone();
    let app = db("app");
    assert_eq!(setting(&app, "pool_size")["value"], 12);
    assert_eq!(setting(&app, "pre_ping")["value"], true);
    assert_eq!(setting(&app, "recycle")["value"], serde_json::Value::Null);
    assert_eq!(setting(&app, "pre_ping_skip_ms")["value"], 500);
    assert!(setting(&app, "timeout")["value"].is_number());
    assert_eq!(setting(&app, "pool_size")["origin"], "environment");
    assert_eq!(setting(&app, "max_overflow")["origin"], "variable");
    assert_eq!(setting(&app, "timeout")["origin"], "file");
    assert_eq!(setting(&app, "pre_ping")["origin"], "default");
    assert_eq!(
        setting(&db("warehouse"), "url")["value"],
        "postgres://etl:***@db.example/w"
    );
    let reports = db("reports");
    assert_eq!(setting(&reports, "url")["origin"], "secret");
    assert_eq!(setting(&reports, "password")["value"], "***");

    // DBM_CONFIG points elsewhere; a missing secret makes the check fail with its key named.
    fs::write(
        p.path().join("other.toml"),
        "[databases.x]\nurl_env = \"NOT_SET_ANYWHERE\"\n",
    )
    .unwrap();
    let o = run(&[("DBM_CONFIG", p.path().join("other.toml").to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "`databases.x.url_env` names the variable NOT_SET_ANYWHERE, which is not set"
        ),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("1 of 1 database configuration(s) invalid"),
        "{}",
        stderr(&o)
    );

    // An unknown key is reported with its file and line.
    fs::write(
        p.path().join("bad.toml"),
        "[databases.x]\nurl = \"sqlite::memory:\"\npool = 3\n",
    )
    .unwrap();
    let o = run(&[("DBM_CONFIG", p.path().join("bad.toml").to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("unknown key `databases.x.pool` (file ")
            && stdout(&o).contains("bad.toml line 3"),
        "{}",
        stdout(&o)
    );

    // Human output too.
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["config", "check"])
        .current_dir(p.path())
        .env("REPORTS_URL", "postgres://etl@db.example/r")
        .env_remove("DBM_ENV")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("environment: development"),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("pl41n-s3cret"));
}
