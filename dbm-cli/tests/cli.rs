//! The installed `dbm` binary as a user runs it: version, help, completions, exit codes,
//! logging filters, in a project directory on SQLite files.

use std::path::Path;
use std::process::{Command, Output};

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations/app");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("V1__runs.sql"),
        "CREATE TABLE runs (id INTEGER PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("dbm.toml"),
        "[databases.app]\nurl = \"sqlite://app.db\"\n",
    )
    .unwrap();
    dir
}

fn dbm(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dbm"));
    c.args(args)
        .current_dir(dir)
        .env_remove("DBM_CONFIG")
        .env_remove("DBM_ENV")
        .env_remove("DBM_LOG")
        .env_remove("DATABASE_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_and_help() {
    let p = project();
    for flag in ["--version", "-V"] {
        let o = dbm(p.path(), &[flag], &[]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(out(&o), format!("dbm {}\n", env!("CARGO_PKG_VERSION")));
    }
    let o = dbm(p.path(), &["--help"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        out(&o).contains("Usage: dbm [OPTIONS] <COMMAND>"),
        "{}",
        out(&o)
    );
    for cmd in ["migrate", "status", "health", "serve", "completions"] {
        assert!(
            out(&o).contains(&format!("\n  {cmd} ")),
            "{cmd}: {}",
            out(&o)
        );
    }
    // Per-command help, both spellings.
    for args in [&["rollback", "--help"][..], &["help", "rollback"][..]] {
        let o = dbm(p.path(), args, &[]);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let t = out(&o);
        assert!(
            t.starts_with("Run undo files, newest first, down to VERSION"),
            "{t}"
        );
        assert!(
            t.contains("Usage: dbm rollback [OPTIONS] --to <VERSION>"),
            "{t}"
        );
    }
    // No command: the help, on stderr, exit 2.
    let o = dbm(p.path(), &[], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("Usage: dbm [OPTIONS] <COMMAND>"));
}

#[test]
fn exit_codes() {
    let p = project();
    assert_eq!(dbm(p.path(), &["migrate"], &[]).status.code(), Some(0));
    assert_eq!(dbm(p.path(), &["status"], &[]).status.code(), Some(0));
    let o = dbm(p.path(), &["status", "--database", "nope"], &[]);
    assert_eq!(o.status.code(), Some(1), "a runtime failure: {}", err(&o));
    assert_eq!(err(&o).lines().count(), 1, "{}", err(&o));
    let o = dbm(p.path(), &["stauts"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("a similar subcommand exists: 'status'"));
}

#[test]
fn completions_are_valid_scripts() {
    let p = project();
    for shell in ["bash", "zsh", "fish"] {
        let o = dbm(p.path(), &["completions", shell], &[]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = out(&o);
        assert!(
            script.contains("dbm") && script.contains("migrate") && script.contains("rollback"),
            "{shell}"
        );
        let file = p.path().join(format!("dbm.{shell}"));
        std::fs::write(&file, &script).unwrap();
        // Each shell parses its script without running it, where the shell is installed.
        let check = Command::new(shell).arg("-n").arg(&file).output();
        match check {
            Ok(c) => assert!(
                c.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&c.stderr)
            ),
            Err(e) if shell != "bash" => {
                if std::env::var("DBM_TEST_REQUIRE_SHELLS").is_ok_and(|v| v == "1") {
                    panic!("DBM_TEST_REQUIRE_SHELLS=1 and {shell} cannot run: {e}");
                }
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("skipped: {shell} not installed, its completion script was not parsed (apt-get install zsh fish)\n").as_bytes(),
                );
            }
            Err(e) => panic!("bash: {e}"),
        }
    }
}

#[test]
fn dbm_log_takes_env_filter_directives_and_pipes_get_no_colour() {
    let p = project();
    let o = dbm(
        p.path(),
        &["migrate"],
        &[("DBM_LOG", "warn,dbm_migrate=info")],
    );
    assert_eq!(o.status.code(), Some(0));
    let e = err(&o);
    assert!(e.contains("migration run started"), "{e}");
    assert!(
        !e.contains("connection pool created"),
        "dbm_core stays at warn: {e}"
    );
    assert!(!e.contains('\u{1b}'), "no escape codes into a pipe: {e:?}");

    let o = dbm(p.path(), &["status"], &[("DBM_LOG", "info")]);
    assert!(err(&o).contains("connection pool created"), "{}", err(&o));

    let o = dbm(p.path(), &["status"], &[("DBM_LOG", "dbm=loud")]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        err(&o).contains("DBM_LOG=\"dbm=loud\" is not a level or EnvFilter directive"),
        "{}",
        err(&o)
    );
}

#[test]
fn progress_lines_arrive_while_a_slow_migration_runs() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let p = project();
    let m = p.path().join("migrations/app");
    // About a second or more of work in one statement.
    std::fs::write(
        m.join("V2__slow_backfill.sql"),
        "CREATE TABLE slow AS WITH RECURSIVE c(x) AS \
         (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT x FROM c;\n",
    )
    .unwrap();
    std::fs::write(m.join("V3__last.sql"), "CREATE TABLE last (x INTEGER);\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbm"))
        .arg("migrate")
        .current_dir(p.path())
        .env_remove("DBM_CONFIG")
        .env_remove("DBM_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines() {
            let _ = tx.send((Instant::now(), l.unwrap()));
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("a progress line")
    };
    assert_eq!(next().1, "app: applying 3 migration(s)");
    assert_eq!(next().1, "[1/3] 1 runs: started");
    assert!(next().1.starts_with("[1/3] 1 runs: done in "));
    let (at, started) = next();
    assert_eq!(started, "[2/3] 2 slow backfill: started");
    // Read while the statement runs: the process has not finished.
    assert!(
        child.try_wait().unwrap().is_none(),
        "the start of V2 must be reported before the run ends"
    );
    let (done_at, done) = next();
    assert!(
        done.starts_with("[2/3] 2 slow backfill: done in "),
        "{done}"
    );
    assert!(
        done_at - at >= Duration::from_millis(200),
        "the done line came {:?} after the start line",
        done_at - at
    );
    assert_eq!(next().1, "[3/3] 3 last: started");
    assert!(next().1.starts_with("[3/3] 3 last: done in "));
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(
        stdout.starts_with("app: applied 3 migration(s)"),
        "{stdout}"
    );
}

fn long_versions_project() -> tempfile::TempDir {
    let p = project();
    let m = p.path().join("migrations/app");
    std::fs::write(
        m.join(
            "V2026.11.28.1__a_rather_long_description_that_goes_on_and_on_about_what_it_does.sql",
        ),
        "CREATE TABLE b (x INTEGER);\n",
    )
    .unwrap();
    std::fs::write(
        m.join("V20261128123456__timestamped.sql"),
        "CREATE TABLE c (x INTEGER);\n",
    )
    .unwrap();
    assert!(
        dbm(p.path(), &["migrate", "--to", "2026.11.28.1"], &[])
            .status
            .success()
    );
    p
}

#[test]
fn the_status_table_stays_aligned_with_long_versions() {
    let p = long_versions_project();
    let o = dbm(p.path(), &["status"], &[]);
    assert_eq!(o.status.code(), Some(0));
    let t = out(&o);
    let lines: Vec<&str> = t.lines().collect();
    let header = lines[1];
    assert!(header.starts_with("VERSION "), "{t}");
    // `rfind`: "SCRIPT" is also inside "DESCRIPTION".
    let col = |name: &str| header.rfind(name).unwrap();
    let rows = &lines[2..5];
    for (row, version, state) in [
        (rows[0], "1", "applied"),
        (rows[1], "2026.11.28.1", "applied"),
        (rows[2], "20261128123456", "pending"),
    ] {
        assert!(row.starts_with(&format!("{version} ")), "{t}");
        // Every column starts where its header does (char offsets: the ellipsis is one).
        let chars: Vec<char> = row.chars().collect();
        let at = |c: usize| chars[c..].iter().collect::<String>();
        assert!(at(col("STATE")).starts_with(state), "{t}");
        assert!(
            at(col("SCRIPT")).starts_with(&format!("V{version}__")),
            "{t}"
        );
        assert_eq!(chars[col("DESCRIPTION") - 1], ' ', "{t}");
    }
    assert!(
        rows[1].contains("a rather long description that goes on and on abo… "),
        "cut to 50: {t}"
    );
    assert!(!t.contains('\u{1b}'), "no colour into a pipe");
}

/// Runs `dbm status` on a pseudo-terminal (util-linux `script`), so stdout is a terminal.
fn on_a_terminal(dir: &Path, env: &[(&str, &str)]) -> Option<String> {
    let mut c = Command::new("script");
    c.args([
        "-qec",
        &format!("{} status", env!("CARGO_BIN_EXE_dbm")),
        "/dev/null",
    ])
    .current_dir(dir)
    .env_remove("NO_COLOR")
    .env_remove("DBM_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    match c.output() {
        Ok(o) => Some(out(&o)),
        Err(e) => {
            if std::env::var("DBM_TEST_REQUIRE_SHELLS").is_ok_and(|v| v == "1") {
                panic!("DBM_TEST_REQUIRE_SHELLS=1 and `script` cannot run: {e}");
            }
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("skipped: `script` (util-linux) not runnable ({e}): terminal colour not checked\n").as_bytes(),
            );
            None
        }
    }
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let p = long_versions_project();
    let Some(t) = on_a_terminal(p.path(), &[]) else {
        return;
    };
    assert!(t.contains("\u{1b}[32mapplied\u{1b}[0m"), "{t:?}");
    assert!(t.contains("\u{1b}[33mpending\u{1b}[0m"), "{t:?}");
    let t = on_a_terminal(p.path(), &[("NO_COLOR", "1")]).unwrap();
    assert!(t.contains("applied") && !t.contains('\u{1b}'), "{t:?}");
}

#[test]
fn messages_say_what_to_do() {
    // No dbm.toml anywhere up from here: where it looked, and DBM_CONFIG.
    let empty = tempfile::tempdir().unwrap();
    let o = dbm(empty.path(), &["status"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(
        e.contains(&format!(
            "no dbm.toml was found in {} or its parents, and DBM_CONFIG is not set",
            empty.path().display()
        )),
        "{e}"
    );
    assert!(e.contains("DBM_CONFIG"), "{e}");

    // DATABASE_URL is the default database's URL when there is no config file (sqlx).
    std::fs::create_dir_all(empty.path().join("migrations/app")).unwrap();
    let url = format!("sqlite://{}", empty.path().join("from_env.db").display());
    let o = dbm(empty.path(), &["status"], &[("DATABASE_URL", &url)]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).starts_with("database: app"), "{}", out(&o));
    let o = dbm(
        empty.path(),
        &["config", "check", "--json"],
        &[("DATABASE_URL", &url)],
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        j["databases"][0]["settings"]["url"]["detail"],
        "DATABASE_URL"
    );

    // A missing url_env variable: export it, not a DBM__ override of the key.
    let p = project();
    std::fs::write(
        p.path().join("dbm.toml"),
        "[databases.app]\nurl = \"sqlite://app.db\"\n[databases.warehouse]\nurl_env = \"WAREHOUSE_URL\"\n",
    )
    .unwrap();
    let o = dbm(p.path(), &["status", "-d", "warehouse"], &[]);
    let e = err(&o);
    assert!(
        e.contains("names the variable WAREHOUSE_URL, which is not set"),
        "{e}"
    );
    assert!(e.contains("export WAREHOUSE_URL=..."), "{e}");
    assert!(!e.contains("DBM__"), "{e}");

    // A mistyped key: did you mean.
    std::fs::write(
        p.path().join("dbm.toml"),
        "[databases.app]\nurl = \"sqlite://app.db\"\npoolsize = 3\n",
    )
    .unwrap();
    let o = dbm(p.path(), &["status"], &[]);
    assert!(err(&o).contains("did you mean `pool_size`?"), "{}", err(&o));

    // A bare path given as --url: the SQLite URL for it.
    let o = dbm(p.path(), &["status", "--url", "./a.db"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("for a SQLite file write `sqlite://./a.db`"),
        "{}",
        err(&o)
    );
}

#[test]
fn on_a_terminal_progress_is_a_bar_that_leaves_one_line_per_migration() {
    let p = project();
    std::fs::write(
        p.path().join("migrations/app/V2__second.sql"),
        "CREATE TABLE second (x INTEGER);\n",
    )
    .unwrap();
    let o = Command::new("script")
        .args([
            "-qec",
            &format!("{} migrate", env!("CARGO_BIN_EXE_dbm")),
            "/dev/null",
        ])
        .current_dir(p.path())
        .env_remove("DBM_CONFIG")
        .env_remove("NO_COLOR")
        .output();
    let o = match o {
        Ok(o) => o,
        Err(e) => {
            if std::env::var("DBM_TEST_REQUIRE_SHELLS").is_ok_and(|v| v == "1") {
                panic!("DBM_TEST_REQUIRE_SHELLS=1 and `script` cannot run: {e}");
            }
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("skipped: `script` not runnable ({e}): terminal progress not checked\n")
                    .as_bytes(),
            );
            return;
        }
    };
    let t = out(&o);
    assert!(o.status.success(), "{t}");
    // The bar's lines stay, one per migration; the plain-line format is not used.
    assert!(t.contains("  1 runs ("), "{t:?}");
    assert!(t.contains("  2 second ("), "{t:?}");
    assert!(!t.contains("[1/2]"), "{t:?}");
    assert!(t.contains("app: applied 2 migration(s)"), "{t:?}");
}
