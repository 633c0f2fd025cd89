//! `DatabaseManager`: one pooled database, shared per process, with migrations and health.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use dbm_core::{
    Backend, Bindings, Database, DatabaseExt, FromValue, PoolConfig, PoolStatus, Result, Row,
    RowStream, Rows, Statement, Transaction,
};
use dbm_health::{DatabaseHealth, check_database};
use dbm_migrate::{MigrateReport, MigrationStatus, Migrator, RepairReport, Version};
use tokio::sync::OnceCell;

use crate::config::{Config, DatabaseConfig, Identity, check_name};

/// Pools are shared by everything that identifies the connection, never by name alone.
type RegistryKey = Identity;

fn registry() -> &'static Mutex<HashMap<RegistryKey, Weak<Inner>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<RegistryKey, Weak<Inner>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

struct Inner {
    config: DatabaseConfig,
    db: Arc<dyn Database>,
    key: Option<RegistryKey>,
    ready: OnceCell<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(key) = &self.key {
            let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
            if map.get(key).is_some_and(|w| w.strong_count() == 0) {
                map.remove(key);
            }
        }
        tracing::debug!(db.namespace = %self.config.name, "database manager dropped; pool disposed");
    }
}

/// The handle pipeline code uses: one named database with its pool, migrations and health.
///
/// Cheap to clone, `Send + Sync`, safe to share between many tokio tasks. Opening the same
/// database twice in a process (same name and same settings: URL, credentials, driver and
/// pool options) returns handles on the same pool. The pool is disposed when the last
/// handle is dropped, or at once by [`close`](DatabaseManager::close).
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use dbm::{params, DatabaseConfig, DatabaseManager, Statement};
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// let db = DatabaseManager::connect(DatabaseConfig::new("demo", "sqlite::memory:")?).await?;
/// db.transaction(&[
///     Statement::new("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
///     Statement::new("INSERT INTO jobs (name) VALUES (:name)").bind("name", "nightly-load"),
/// ]).await?;
/// let rows = db.query("SELECT id, name FROM jobs WHERE name = :n", &params! { "n" => "nightly-load" }).await?;
/// assert_eq!(rows.len(), 1);
/// assert_eq!(rows.first().unwrap().get::<String>("name")?, "nightly-load");
/// assert_eq!(serde_json::to_string(&rows).unwrap(), r#"[{"id":1,"name":"nightly-load"}]"#);
/// db.close().await;
/// # Ok::<(), dbm::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct DatabaseManager {
    inner: Arc<Inner>,
}

impl fmt::Debug for DatabaseManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseManager")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds the driver's pooled database for a configuration (nothing connects yet).
pub fn build_database(c: &DatabaseConfig) -> Result<Arc<dyn Database>> {
    let pool = PoolConfig::new(c.name.clone())
        .pool_size(c.pool_size)
        .max_overflow(c.max_overflow)
        .timeout(c.timeout)
        .pre_ping(c.pre_ping)
        .pre_ping_skip(c.pre_ping_skip)
        .recycle(c.recycle);
    c.driver()
        .open(
            &c.name,
            c.options(),
            &c.connect_settings(),
            pool,
            c.statement_timeout,
        )
        .map_err(|e| e.with_database(c.name.clone()).with_operation("configure"))
}

impl DatabaseManager {
    /// Opens the database `name` from `dbm.toml` (see [`Config::load`]), sharing its pool
    /// with every other handle of that name in the process. Pending migrations are logged,
    /// or applied when the configuration says `auto_migrate = true`.
    pub async fn open(name: &str) -> Result<Self> {
        check_name(name).map_err(|e| e.with_operation("open"))?;
        let config = Config::load()?;
        Self::open_with(&config, name).await
    }

    /// Like [`open`](DatabaseManager::open), with an already loaded configuration.
    ///
    /// The pool is shared with every other handle whose settings are the same in everything
    /// that identifies the connection (URL and credentials, driver and pool settings): two
    /// configurations that give one name to different databases get different pools.
    pub async fn open_with(config: &Config, name: &str) -> Result<Self> {
        check_name(name).map_err(|e| e.with_operation("open"))?;
        let db_config = config.database(name)?;
        let key = db_config.identity();
        let existing = registry()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .and_then(Weak::upgrade);
        let manager = match existing {
            Some(inner) => DatabaseManager { inner },
            None => {
                let db = build_database(&db_config)?;
                let fresh = Arc::new(Inner {
                    config: db_config,
                    db,
                    key: Some(key.clone()),
                    ready: OnceCell::new(),
                });
                let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
                // Another task may have opened it meanwhile: keep the first.
                let inner = match map.get(&key).and_then(Weak::upgrade) {
                    Some(inner) => inner,
                    None => {
                        map.insert(key, Arc::downgrade(&fresh));
                        fresh
                    }
                };
                DatabaseManager { inner }
            }
        };
        manager.startup().await?;
        Ok(manager)
    }

    /// A database from explicit settings, not shared with other handles.
    pub async fn connect(config: DatabaseConfig) -> Result<Self> {
        check_name(&config.name).map_err(|e| e.with_operation("connect"))?;
        let db = build_database(&config)?;
        let manager = Self::from_database(db, config);
        manager.startup().await?;
        Ok(manager)
    }

    /// Wraps an existing [`Database`] (a driver's, or a mock in unit tests). No startup
    /// migration check is run.
    pub fn from_database(db: Arc<dyn Database>, config: DatabaseConfig) -> Self {
        DatabaseManager {
            inner: Arc::new(Inner {
                config,
                db,
                key: None,
                ready: OnceCell::new(),
            }),
        }
    }

    /// Runs once per pool: logs pending migrations, or applies them with `auto_migrate`.
    async fn startup(&self) -> Result<()> {
        self.inner
            .ready
            .get_or_try_init(|| async {
                let c = &self.inner.config;
                let dir = c.migrations_dir();
                if !dir.is_dir() {
                    tracing::debug!(db.namespace = %c.name, dir = %dir.display(), "no migrations directory");
                    return Ok(());
                }
                if c.auto_migrate {
                    let report = self.run_migrations(None).await?;
                    tracing::info!(
                        db.namespace = %c.name,
                        applied = report.applied.len(),
                        version = report.current_version.as_deref().unwrap_or("none"),
                        "auto_migrate finished"
                    );
                    return Ok(());
                }
                match self.migration_status().await {
                    Ok(s) if !s.pending.is_empty() => tracing::warn!(
                        db.namespace = %c.name,
                        pending = s.pending.len(),
                        "pending migrations: run `cargo xtask migrate` or set auto_migrate = true"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not check for pending migrations"),
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.inner.db.backend()
    }

    /// The resolved settings.
    pub fn config(&self) -> &DatabaseConfig {
        &self.inner.config
    }

    /// The underlying [`Database`], for code written against `dbm-core` alone.
    pub fn database(&self) -> Arc<dyn Database> {
        self.inner.db.clone()
    }

    /// Runs a query and returns its rows in the standard format. `params` is
    /// `&params! { .. }`, or `()` when there are none.
    pub async fn query(&self, sql: &str, params: impl Bindings) -> Result<Rows> {
        self.inner.db.query(sql, params.bindings()).await
    }

    /// The first row of a query; an error when there is none.
    ///
    #[cfg_attr(feature = "sqlite", doc = "```")]
    #[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use dbm::{params, DatabaseConfig, DatabaseManager};
    /// let db = DatabaseManager::connect(DatabaseConfig::new("app", "sqlite::memory:")?).await?;
    /// db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT)", ()).await?;
    /// db.execute("INSERT INTO jobs (id, name) VALUES (7, 'load')", ()).await?;
    /// let job = db.fetch_one("SELECT name FROM jobs WHERE id = :id", &params! { "id" => 7 }).await?;
    /// assert_eq!(job.get::<String>("name")?, "load");
    /// assert!(db.fetch_optional("SELECT name FROM jobs WHERE id = 8", ()).await?.is_none());
    /// let n: i64 = db.fetch_scalar("SELECT count(*) FROM jobs", ()).await?;
    /// assert_eq!(n, 1);
    /// let e = db.fetch_one("SELECT name FROM jobs WHERE id = 8", ()).await.unwrap_err();
    /// assert!(e.to_string().contains("[app] fetch_one: query error: the query returned no row"), "{e}");
    /// # Ok::<(), dbm::Error>(()) }).unwrap();
    /// ```
    pub async fn fetch_one(&self, sql: &str, params: impl Bindings) -> Result<Row> {
        self.inner.db.fetch_one(sql, params).await
    }

    /// The first row of a query, or `None`.
    pub async fn fetch_optional(&self, sql: &str, params: impl Bindings) -> Result<Option<Row>> {
        self.inner.db.fetch_optional(sql, params).await
    }

    /// The first column of the first row, as `T` (`Option<T>` reads a NULL).
    pub async fn fetch_scalar<T: FromValue + Send>(
        &self,
        sql: &str,
        params: impl Bindings,
    ) -> Result<T> {
        self.inner.db.fetch_scalar(sql, params).await
    }

    /// Streams the rows of a query as they arrive (for results too large to collect); the
    /// stream holds one pooled connection until its end or until it is dropped.
    pub async fn query_stream(&self, sql: &str, params: impl Bindings) -> Result<RowStream> {
        self.inner.db.query_stream(sql, params.bindings()).await
    }

    /// Runs a statement (committed on success) and returns the rows it changed.
    pub async fn execute(&self, sql: &str, params: impl Bindings) -> Result<u64> {
        self.inner.db.execute(sql, params.bindings()).await
    }

    /// Runs statements in one transaction: all or nothing; the error names the statement.
    pub async fn transaction(&self, statements: &[Statement]) -> Result<Vec<u64>> {
        self.inner.db.transaction(statements).await
    }

    /// Runs a query that is cancelled if it takes longer than `timeout`.
    pub async fn query_with_timeout(
        &self,
        sql: &str,
        params: impl Bindings,
        timeout: Duration,
    ) -> Result<Rows> {
        self.inner
            .db
            .query_with_timeout(sql, params.bindings(), timeout)
            .await
    }

    /// Runs a statement that is cancelled if it takes longer than `timeout`.
    pub async fn execute_with_timeout(
        &self,
        sql: &str,
        params: impl Bindings,
        timeout: Duration,
    ) -> Result<u64> {
        self.inner
            .db
            .execute_with_timeout(sql, params.bindings(), timeout)
            .await
    }

    /// Runs a query, retrying transient failures with the configured policy (by default 3
    /// attempts, waiting 1 s then 2 s: enough to ride out a fast server restart). Meant for
    /// reads: a statement that writes (`INSERT ... RETURNING`) whose connection broke
    /// mid-way may have taken effect, so retry writes as whole transactions
    /// ([`transaction_with_retry`](DatabaseManager::transaction_with_retry)).
    pub async fn query_with_retry(&self, sql: &str, params: impl Bindings) -> Result<Rows> {
        let params = params.bindings();
        self.with_retry("query", |_| self.query(sql, params)).await
    }

    /// Runs a transaction, retrying it whole on transient failures (deadlock, busy,
    /// serialization failure).
    pub async fn transaction_with_retry(&self, statements: &[Statement]) -> Result<Vec<u64>> {
        self.with_retry("transaction", |_| self.transaction(statements))
            .await
    }

    /// Runs `op` with the configured retry policy: retried only on transient errors.
    /// `op` gets the attempt number. Use it for idempotent work or whole transactions.
    pub async fn with_retry<T, F, Fut>(&self, operation: &str, op: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        dbm_core::retry(&self.inner.config.retry, operation, op).await
    }

    /// Opens a transaction for interactive use; rolled back unless committed.
    pub async fn begin(&self) -> Result<Transaction> {
        self.inner.db.begin().await
    }

    /// The migrator for this database's migrations directory.
    pub fn migrator(&self) -> Migrator {
        Migrator::new(self.inner.config.migrations_dir(), self.name())
    }

    /// Applies pending migrations, up to `target` if given.
    pub async fn run_migrations(&self, target: Option<&str>) -> Result<MigrateReport> {
        let target = target.map(str::parse::<Version>).transpose()?;
        let mut conn = self.inner.db.acquire().await?;
        self.migrator()
            .migrate(conn.as_mut(), target.as_ref())
            .await
    }

    /// Applied, pending, failed, edited, missing and out-of-order migrations.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        let mut conn = self.inner.db.acquire().await?;
        self.migrator().status(conn.as_mut()).await
    }

    /// The status, or an error listing every problem.
    pub async fn validate_migrations(&self) -> Result<MigrationStatus> {
        let mut conn = self.inner.db.acquire().await?;
        self.migrator().validate(conn.as_mut()).await
    }

    /// Undoes migrations newer than `to`, newest first.
    pub async fn rollback_migrations(&self, to: &str) -> Result<MigrateReport> {
        let to: Version = to.parse()?;
        let mut conn = self.inner.db.acquire().await?;
        self.migrator().rollback(conn.as_mut(), &to).await
    }

    /// Marks an existing database as being at `version`.
    pub async fn baseline(&self, version: &str) -> Result<()> {
        let v: Version = version.parse()?;
        let mut conn = self.inner.db.acquire().await?;
        self.migrator().baseline(conn.as_mut(), &v).await
    }

    /// Removes failed history rows and realigns checksums.
    pub async fn repair_migrations(&self) -> Result<RepairReport> {
        let mut conn = self.inner.db.acquire().await?;
        self.migrator().repair(conn.as_mut()).await
    }

    /// The pool's gauges and counters.
    pub fn pool_status(&self) -> PoolStatus {
        self.inner.db.pool_status()
    }

    /// Connectivity, a test query, response time, pool utilisation and migration state,
    /// with a status by the `[health]` thresholds (never panics; bounded by
    /// `[health] timeout_ms`).
    pub async fn health_check(&self) -> DatabaseHealth {
        let c = self.config();
        let migrator = c.migrations_dir().is_dir().then(|| self.migrator());
        let mut h = check_database(self.database().as_ref(), migrator.as_ref(), &c.health).await;
        h.required = c.required;
        h
    }

    /// Closes the pool now (idle connections at once, busy ones when returned) and stops
    /// sharing this handle: a later `open` of the name builds a new pool.
    pub async fn close(&self) {
        if let Some(key) = &self.inner.key {
            let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
            if map
                .get(key)
                .and_then(Weak::upgrade)
                .is_some_and(|i| Arc::ptr_eq(&i, &self.inner))
            {
                map.remove(key);
            }
        }
        self.inner.db.close().await;
    }

    /// Whether two handles share one pool.
    pub fn same_pool(&self, other: &DatabaseManager) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
