//! A private PostgreSQL cluster for tests that restart, freeze or kill things: created with
//! the installed server's `initdb`, run by `pg_ctl` on a free port with its socket in a
//! temporary directory, stopped and removed on drop. When the tests run as root, the
//! server runs as the `postgres` user (it refuses root).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// One running cluster.
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

/// The newest installed server's programs: `$DBM_TEST_PG_BIN`, else
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout).
fn server_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("DBM_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Cluster {
    /// Creates and starts a cluster, or says why not and returns `None` (a failure under
    /// `DBM_TEST_REQUIRE_POSTGRES=1`).
    pub(crate) fn start(label: &str) -> Option<Cluster> {
        let Some(bin) = server_bin() else {
            dbm_testing::skip(&format!(
                "fault suite `{label}`: no PostgreSQL server programs (apt install postgresql, or set DBM_TEST_PG_BIN)"
            ));
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("dbm-faults-")
            .tempdir()
            .expect("temp dir");
        let as_postgres = is_root();
        let cluster = Cluster {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(cluster.dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot give the cluster directory to the postgres user");
        }
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.pg_ctl(&["start", "-w", "-t", "60"]);
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// A server program, run as the `postgres` user when this process is root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let data = self.data();
        let mut all = vec!["-D", &data, "-l", &log, "-o", &options];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub(crate) fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?connect_timeout=5",
            self.port
        )
    }

    /// Creates a database.
    pub(crate) fn create_database(&self, name: &str) {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                name,
            ],
        );
    }

    /// A fast restart as operators see it: `pg_ctl stop -m fast` (clients are
    /// disconnected), `down` of nothing listening (a fast restart of a real server leaves it
    /// unreachable for 1 to 2.5 s), then start. Returns how long the server was gone.
    pub(crate) fn restart_fast(&self, down: Duration) -> Duration {
        let started = Instant::now();
        self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"]);
        std::thread::sleep(down);
        self.pg_ctl(&["start", "-w", "-t", "60"]);
        started.elapsed()
    }

    /// Sends a signal (`STOP`, `CONT`, ...) to a server process.
    pub(crate) fn signal(&self, pid: i64, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {pid} failed");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "stop", "-m", "immediate", "-w"])
            .output();
    }
}
