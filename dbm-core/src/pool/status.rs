//! Pool configuration and the status report.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// QueuePool settings (SQLAlchemy semantics).
///
/// ```
/// use std::time::Duration;
/// use dbm_core::PoolConfig;
/// let c = PoolConfig::new("app").pool_size(2).max_overflow(3).timeout(Duration::from_secs(1));
/// assert_eq!(c.max_connections(), Some(5));
/// assert_eq!(PoolConfig::new("x").max_overflow(-1).max_connections(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// The pool's name in errors and metrics (the database name).
    pub name: String,
    /// Connections kept open when idle.
    pub pool_size: u32,
    /// Extra connections opened under load; `-1` means unlimited.
    pub max_overflow: i32,
    /// How long a checkout waits for a connection once the overflow is used up.
    pub timeout: Duration,
    /// Validate connections at checkout.
    pub pre_ping: bool,
    /// Skip the pre-ping for connections used within this window (HikariCP's
    /// `aliveBypassWindowMs`, default 500 ms); zero pings at every checkout (SQLAlchemy).
    pub pre_ping_skip: Duration,
    /// Replace connections older than this at checkout.
    pub recycle: Option<Duration>,
}

impl PoolConfig {
    /// Defaults: pool_size 5, max_overflow 10, timeout 30 s, pre_ping on, no recycling.
    pub fn new(name: impl Into<String>) -> Self {
        PoolConfig {
            name: name.into(),
            pool_size: 5,
            max_overflow: 10,
            timeout: Duration::from_secs(30),
            pre_ping: true,
            pre_ping_skip: Duration::from_millis(500),
            recycle: None,
        }
    }

    /// Sets `pool_size` (at least 1).
    pub fn pool_size(mut self, n: u32) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// Sets `max_overflow` (`-1` = unlimited).
    pub fn max_overflow(mut self, n: i32) -> Self {
        self.max_overflow = n.max(-1);
        self
    }

    /// Sets the checkout timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Turns pre-ping on or off.
    pub fn pre_ping(mut self, on: bool) -> Self {
        self.pre_ping = on;
        self
    }

    /// Sets the pre-ping skip window (`Duration::ZERO`: ping at every checkout).
    pub fn pre_ping_skip(mut self, w: Duration) -> Self {
        self.pre_ping_skip = w;
        self
    }

    /// Sets the recycle age.
    pub fn recycle(mut self, age: Option<Duration>) -> Self {
        self.recycle = age;
        self
    }

    /// `pool_size + max_overflow`, or `None` when the overflow is unlimited.
    pub fn max_connections(&self) -> Option<u32> {
        u32::try_from(self.max_overflow)
            .ok()
            .map(|o| self.pool_size.saturating_add(o))
    }
}

/// Where a pool's connections go, as logs show it: host, port, database and user, never a
/// password.
///
/// ```
/// use dbm_core::ConnectTarget;
/// let t = ConnectTarget::new().host("db.internal").port(5432).database("sales").user("etl");
/// assert_eq!(t.to_string(), "etl@db.internal:5432/sales");
/// assert_eq!(ConnectTarget::new().database("target/app.db").to_string(), "target/app.db");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConnectTarget {
    /// The server's host.
    pub host: Option<String>,
    /// The server's port.
    pub port: Option<u16>,
    /// The database (for SQLite, the file).
    pub database: Option<String>,
    /// The user name.
    pub user: Option<String>,
}

impl ConnectTarget {
    /// Nothing known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Sets the port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the database.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Sets the database when there is one (a URL may leave it to the server's default).
    ///
    /// ```
    /// use dbm_core::ConnectTarget;
    /// let named: Option<&str> = Some("sales");
    /// assert_eq!(ConnectTarget::new().database_opt(named).database.as_deref(), Some("sales"));
    /// assert_eq!(ConnectTarget::new().database_opt(None::<&str>).database, None);
    /// ```
    pub fn database_opt(mut self, database: Option<impl Into<String>>) -> Self {
        self.database = database.map(Into::into);
        self
    }

    /// Sets the user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
}

impl fmt::Display for ConnectTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if let Some(h) = &self.host {
            f.write_str(h)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        match (&self.database, self.host.is_some()) {
            (Some(d), true) => write!(f, "/{d}"),
            (Some(d), false) => f.write_str(d),
            (None, _) => Ok(()),
        }
    }
}

/// A snapshot of a pool, as `pool_status()` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PoolStatus {
    /// The pool's name.
    pub name: String,
    /// Configured `pool_size`.
    pub pool_size: u32,
    /// Configured `max_overflow` (`-1` = unlimited).
    pub max_overflow: i32,
    /// Idle connections in the pool.
    pub checked_in: u32,
    /// Connections in use (including ones being opened).
    pub checked_out: u32,
    /// Open connections beyond `pool_size`.
    pub overflow: u32,
    /// Connections discarded because a ping or the server said they were broken.
    pub invalid: u64,
    /// Tasks waiting for a connection.
    pub waiting: u32,
    /// Open connections (`checked_in + checked_out`).
    pub total_connections: u32,
    /// `pool_size + max_overflow`, `None` when unlimited.
    pub max_connections: Option<u32>,
    /// `checked_out` as a share of `max_connections` (of `pool_size` when unlimited).
    pub utilization_percent: f64,
    /// Connections opened since the pool was created.
    pub connections_created: u64,
    /// Connections closed since the pool was created (overflow, recycled, broken, invalid).
    pub connections_closed: u64,
    /// Successful checkouts.
    pub checkouts: u64,
    /// Checkouts that gave up after `timeout`.
    pub checkout_timeouts: u64,
    /// Total time spent waiting for a connection, in milliseconds.
    pub wait_time_total_ms: f64,
    /// Longest single wait for a connection, in milliseconds.
    pub wait_time_max_ms: f64,
    /// Whether the pool was closed.
    pub closed: bool,
}

impl fmt::Display for PoolStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pool `{}`: pool_size={} max_overflow={} checked_in={} checked_out={} overflow={} waiting={} invalid={}",
            self.name,
            self.pool_size,
            self.max_overflow,
            self.checked_in,
            self.checked_out,
            self.overflow,
            self.waiting,
            self.invalid
        )
    }
}

/// One metric reading, named after the OpenTelemetry database client conventions
/// (`db.client.connection.*`); dbm's extra counters use `dbm.pool.*`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Metric {
    /// The metric name, e.g. `db.client.connection.count`.
    pub name: &'static str,
    /// The unit (`{connection}`, `{request}`, `{timeout}`, `ms`).
    pub unit: &'static str,
    /// The reading.
    pub value: f64,
    /// Attributes: always `db.client.connection.pool.name`, plus
    /// `db.client.connection.state` (`idle` / `used`) for the connection count.
    pub attributes: Vec<(&'static str, String)>,
}

impl PoolStatus {
    /// The status as metric readings for an exporter (Prometheus, OTLP, logs).
    ///
    /// ```
    /// use dbm_core::PoolConfig;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # struct M;
    /// # #[async_trait::async_trait]
    /// # impl dbm_core::ManageConnection for M {
    /// #     type Connection = ();
    /// #     async fn connect(&self) -> dbm_core::Result<()> { Ok(()) }
    /// #     async fn ping(&self, _: &mut ()) -> dbm_core::Result<()> { Ok(()) }
    /// #     fn must_discard(&self, _: &()) -> bool { false }
    /// # }
    /// let pool = dbm_core::Pool::new(M, PoolConfig::new("app").pool_size(2));
    /// let held = pool.get().await.unwrap();
    /// let metrics = pool.status().metrics();
    /// let used = metrics
    ///     .iter()
    ///     .find(|m| m.name == "db.client.connection.count" && m.attributes.contains(&("db.client.connection.state", "used".into())))
    ///     .unwrap();
    /// assert_eq!(used.value, 1.0);
    /// # drop(held);
    /// # });
    /// ```
    pub fn metrics(&self) -> Vec<Metric> {
        let pool = || vec![("db.client.connection.pool.name", self.name.clone())];
        let with_state = |state: &str| {
            let mut a = pool();
            a.push(("db.client.connection.state", state.to_owned()));
            a
        };
        let m = |name, unit, value: f64, attributes| Metric {
            name,
            unit,
            value,
            attributes,
        };
        vec![
            m(
                "db.client.connection.count",
                "{connection}",
                f64::from(self.checked_in),
                with_state("idle"),
            ),
            m(
                "db.client.connection.count",
                "{connection}",
                f64::from(self.checked_out),
                with_state("used"),
            ),
            m(
                "db.client.connection.idle.max",
                "{connection}",
                f64::from(self.pool_size),
                pool(),
            ),
            m(
                "db.client.connection.max",
                "{connection}",
                self.max_connections.map_or(-1.0, f64::from),
                pool(),
            ),
            m(
                "db.client.connection.pending_requests",
                "{request}",
                f64::from(self.waiting),
                pool(),
            ),
            m(
                "db.client.connection.timeouts",
                "{timeout}",
                self.checkout_timeouts as f64,
                pool(),
            ),
            m(
                "dbm.pool.wait_time.total",
                "ms",
                self.wait_time_total_ms,
                pool(),
            ),
            m(
                "dbm.pool.wait_time.max",
                "ms",
                self.wait_time_max_ms,
                pool(),
            ),
            m(
                "dbm.pool.connections.created",
                "{connection}",
                self.connections_created as f64,
                pool(),
            ),
            m(
                "dbm.pool.connections.closed",
                "{connection}",
                self.connections_closed as f64,
                pool(),
            ),
            m(
                "dbm.pool.connections.invalid",
                "{connection}",
                self.invalid as f64,
                pool(),
            ),
            m(
                "dbm.pool.checkouts",
                "{checkout}",
                self.checkouts as f64,
                pool(),
            ),
            m(
                "dbm.pool.utilization",
                "%",
                self.utilization_percent,
                pool(),
            ),
        ]
    }
}
