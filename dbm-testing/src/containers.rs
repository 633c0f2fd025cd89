//! Test servers in containers (feature `testcontainers`): PostgreSQL and SQL Server started
//! with the Docker engine when one is reachable, removed when the fixture is dropped;
//! otherwise the server the `DBM_TEST_POSTGRES_URL` / `DBM_TEST_MSSQL_URL` variable names.
//!
//! The containers are driven through the `docker` command (no client library and its
//! hundred dependencies). Only the variable fallback runs in our CI, which has no Docker
//! engine.
//!
//! ```no_run
//! # async fn demo() {
//! use dbm_testing::containers::ServerFixture;
//! if let Some(pg) = ServerFixture::postgres().await {
//!     // e.g. TestDb::on_server(&dbm_postgres::DRIVER, default_pool(), pg.into_test_server())
//!     let server = pg.into_test_server();
//!     assert!(server.url().starts_with("postgres://"));
//! }
//! # }
//! ```

use std::fmt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::{TestServer, skip_unless_required};

/// Where a fixture's server comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A container this fixture started (and removes when dropped).
    Container,
    /// The server the test variable names.
    Variable,
}

/// A database server for tests: a container, or the one a variable names.
pub struct ServerFixture {
    url: String,
    source: Source,
    container: Option<Container>,
}

impl fmt::Debug for ServerFixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFixture")
            .field("source", &self.source)
            .field("container", &self.container.as_ref().map(|c| &c.id))
            .finish_non_exhaustive()
    }
}

/// A running container, removed (`docker rm -f`) when dropped.
struct Container {
    id: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The image, port, environment and readiness line of one product.
struct Recipe {
    image: &'static str,
    port: u16,
    env: &'static [&'static str],
    ready: &'static str,
    /// The readiness line must appear this many times (PostgreSQL restarts once).
    ready_count: usize,
    url: fn(host_port: &str) -> String,
    var: &'static str,
}

const POSTGRES: Recipe = Recipe {
    image: "postgres:16-alpine",
    port: 5432,
    env: &["POSTGRES_PASSWORD=Dbm-Test-Pw1!"],
    ready: "database system is ready to accept connections",
    ready_count: 2,
    url: |hp| format!("postgres://postgres:Dbm-Test-Pw1%21@{hp}/postgres"),
    var: crate::POSTGRES_URL_VAR,
};

const MSSQL: Recipe = Recipe {
    image: "mcr.microsoft.com/mssql/server:2022-latest",
    port: 1433,
    env: &["ACCEPT_EULA=Y", "MSSQL_SA_PASSWORD=Dbm-Test-Pw1!"],
    ready: "SQL Server is now ready for client connections",
    ready_count: 1,
    url: |hp| format!("mssql://sa:Dbm-Test-Pw1%21@{hp}/master?trust_server_certificate=true"),
    var: "DBM_TEST_MSSQL_URL",
};

/// Whether a Docker engine answers (`docker info`).
pub fn docker_available() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl ServerFixture {
    /// A PostgreSQL server: a `postgres:16-alpine` container when Docker is reachable,
    /// else `DBM_TEST_POSTGRES_URL`, else `None` after saying the tests are skipped.
    ///
    /// # Panics
    /// When a container cannot be started or does not become ready in time.
    pub async fn postgres() -> Option<ServerFixture> {
        Self::start(&POSTGRES, Duration::from_secs(60)).await
    }

    /// A SQL Server: a `mcr.microsoft.com/mssql/server:2022-latest` container when Docker
    /// is reachable, else `DBM_TEST_MSSQL_URL`, else `None` after saying the tests are
    /// skipped.
    ///
    /// # Panics
    /// When a container cannot be started or does not become ready in time.
    pub async fn mssql() -> Option<ServerFixture> {
        Self::start(&MSSQL, Duration::from_secs(180)).await
    }

    /// The server's administrative URL (it holds a password: for tests only).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where the server comes from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The fixture as a [`TestServer`] for [`TestDb::on_server`](crate::TestDb::on_server)
    /// (the container lives as long as the databases made on it).
    pub fn into_test_server(self) -> TestServer {
        let url = self.url.clone();
        TestServer::new(url, self)
    }

    async fn start(recipe: &'static Recipe, ready_within: Duration) -> Option<ServerFixture> {
        if docker_available() {
            let started = tokio::task::spawn_blocking(move || run_container(recipe, ready_within))
                .await
                .expect("the container start did not panic");
            return Some(started.unwrap_or_else(|e| panic!("{}: {e}", recipe.image)));
        }
        match std::env::var(recipe.var) {
            Ok(url) if !url.trim().is_empty() => Some(ServerFixture {
                url,
                source: Source::Variable,
                container: None,
            }),
            _ => {
                skip_unless_required(
                    &crate::require_var(recipe.var),
                    &format!(
                        "no Docker engine and {} is not set: tests on {} skipped",
                        recipe.var, recipe.image
                    ),
                );
                None
            }
        }
    }
}

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn run_container(recipe: &Recipe, ready_within: Duration) -> Result<ServerFixture, String> {
    let mut args = vec!["run", "-d", "-p"];
    let publish = format!("127.0.0.1::{}", recipe.port);
    args.push(&publish);
    for e in recipe.env {
        args.extend(["-e", e]);
    }
    args.push(recipe.image);
    let id = docker(&args)?;
    let container = Container { id };
    let mapped = docker(&["port", &container.id, &format!("{}/tcp", recipe.port)])?;
    let host_port = mapped
        .lines()
        .next()
        .ok_or("docker port printed nothing")?
        .trim()
        .to_owned();
    let deadline = Instant::now() + ready_within;
    loop {
        let logs = Command::new("docker")
            .args(["logs", &container.id])
            .output()
            .map_err(|e| format!("cannot read the container's logs: {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
        if text.matches(recipe.ready).count() >= recipe.ready_count {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not ready within {} s (waiting for \"{}\")",
                ready_within.as_secs(),
                recipe.ready
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(ServerFixture {
        url: (recipe.url)(&host_port),
        source: Source::Container,
        container: Some(container),
    })
}
