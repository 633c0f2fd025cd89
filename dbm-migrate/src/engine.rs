//! The migration engine: migrate, status, validate, rollback, baseline, repair.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbm_core::{Connection, Error, ErrorKind, Result};
use serde::Serialize;

use crate::embedded::EmbeddedMigrations;
use crate::history::{History, HistoryRow, NewRow, RowType};
use crate::progress::{MigrationProgress, Progress};
use crate::source::{Migration, MigrationSet, load_dir};
use crate::status::{MigrationStatus, Problem, ProblemKind, compute, effective, locate_stops};
use crate::version::Version;

mod apply;

/// One migration applied (or undone) by a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AppliedMigration {
    /// Its version.
    pub version: String,
    /// Its description.
    pub description: String,
    /// Its file name.
    pub script: String,
    /// How long it took.
    pub execution_time_ms: i64,
}

/// What `migrate` or `rollback` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MigrateReport {
    /// The database name.
    pub database: String,
    /// The migrations run, in order.
    pub applied: Vec<AppliedMigration>,
    /// The version after the run.
    pub current_version: Option<String>,
}

/// What `repair` changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RepairReport {
    /// The database name.
    pub database: String,
    /// Failed rows removed (file names).
    pub removed_failed: Vec<String>,
    /// Applied rows whose checksum and description were realigned with the files.
    pub realigned: Vec<String>,
    /// Applied versions whose files are missing (left as they are).
    pub missing: Vec<String>,
}

/// Where a migrator's files come from.
#[derive(Debug, Clone)]
enum Source {
    Dir(PathBuf),
    Embedded(EmbeddedMigrations),
}

/// Runs migrations from one directory (or built into the program) against one database.
///
/// Every operation takes a dedicated connection (`&mut dyn Connection`) and, for the ones
/// that write, holds the database's migration lock for the whole run, then re-reads the
/// history: two processes migrating at once apply each migration exactly once.
///
/// ```no_run
/// # async fn demo(db: &dyn dbm_core::Database) -> dbm_core::Result<()> {
/// use dbm_migrate::Migrator;
/// let mut conn = db.acquire().await?;
/// let report = Migrator::new("migrations/app", "app").migrate(conn.as_mut(), None).await?;
/// println!("now at {:?}", report.current_version);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Migrator {
    source: Source,
    database: String,
    table: String,
    lock_wait: Duration,
    installed_by: String,
    out_of_order: bool,
    progress: Option<Arc<dyn MigrationProgress>>,
}

impl Migrator {
    /// Migrations in `dir` for the database named `database`.
    pub fn new(dir: impl Into<PathBuf>, database: impl Into<String>) -> Self {
        let installed_by = std::env::var("DBM_INSTALLED_BY")
            .or_else(|_| std::env::var("USER"))
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "dbm".to_owned());
        Migrator {
            source: Source::Dir(dir.into()),
            database: database.into(),
            table: "schema_version".to_owned(),
            lock_wait: Duration::from_secs(300),
            installed_by,
            out_of_order: false,
            progress: None,
        }
    }

    /// Uses another history table name (default `schema_version`).
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// How long to wait for another migrator's lock (default 5 minutes).
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Who is recorded in `installed_by` (default: `$DBM_INSTALLED_BY`, then `$USER`).
    pub fn installed_by(mut self, who: impl Into<String>) -> Self {
        self.installed_by = who.into();
        self
    }

    /// Applies migrations older than the current version instead of refusing.
    pub fn out_of_order(mut self, allow: bool) -> Self {
        self.out_of_order = allow;
        self
    }

    /// Reports each file of a `migrate` or `rollback` run to `progress` as it starts and
    /// ends.
    pub fn progress(mut self, progress: Arc<dyn MigrationProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Migrations built into the program ([`embed_migrations!`](crate::embed_migrations))
    /// for the database named `database`: the same versions, scripts and checksums as the
    /// directory they came from, so one history serves both.
    ///
    /// ```
    /// let migrator = dbm_migrate::Migrator::embedded(
    ///     dbm_migrate::embed_migrations!("tests/fixtures/embedded"),
    ///     "app",
    /// );
    /// assert_eq!(migrator.dir(), None);
    /// assert_eq!(migrator.load().unwrap().forward.len(), 3);
    /// ```
    pub fn embedded(migrations: EmbeddedMigrations, database: impl Into<String>) -> Self {
        let mut m = Migrator::new(PathBuf::new(), database);
        m.source = Source::Embedded(migrations);
        m
    }

    /// The migrations directory, or `None` for embedded migrations.
    pub fn dir(&self) -> Option<&Path> {
        match &self.source {
            Source::Dir(d) => Some(d),
            Source::Embedded(_) => None,
        }
    }

    fn err(&self, e: Error, operation: &str) -> Error {
        e.with_database(self.database.clone())
            .with_operation(operation.to_owned())
    }

    /// Reads and checks the files (no database needed).
    pub fn load(&self) -> Result<MigrationSet> {
        match &self.source {
            Source::Dir(d) => load_dir(d),
            Source::Embedded(e) => e.load(),
        }
        .map_err(|e| self.err(e, "load migrations"))
    }

    /// Compares files and history. Does not create the history table.
    pub async fn status(&self, conn: &mut dyn Connection) -> Result<MigrationStatus> {
        let set = self.load()?;
        let history = History::new(&self.table)
            .read(conn)
            .await
            .map_err(|e| self.err(e, "migration status"))?;
        Ok(self.compute(conn, &set, &history))
    }

    /// The status, with the place each failed or incomplete migration stopped.
    fn compute(
        &self,
        conn: &dyn Connection,
        set: &MigrationSet,
        history: &[HistoryRow],
    ) -> MigrationStatus {
        let mut status = compute(&self.database, set, history);
        let dialect = conn.dialect();
        locate_stops(&mut status, set, history, |sql| dialect.split(sql));
        status
    }

    /// Like [`status`](Migrator::status), but an error listing every problem (edited,
    /// missing, failed, out-of-order migrations) when there is one.
    pub async fn validate(&self, conn: &mut dyn Connection) -> Result<MigrationStatus> {
        let status = self.status(conn).await?;
        let problems = status.problems();
        if problems.is_empty() {
            Ok(status)
        } else {
            Err(self.err(
                Error::new(
                    ErrorKind::Migration,
                    format!("validation failed: {}", join(&problems)),
                ),
                "validate migrations",
            ))
        }
    }

    async fn lock(&self, conn: &mut dyn Connection, operation: &str) -> Result<()> {
        conn.lock_migrations(self.lock_wait)
            .await
            .map_err(|e| self.err(e, operation))
    }

    /// Releases the lock and annotates the result; called on every path after `lock`.
    async fn unlock<T>(
        &self,
        conn: &mut dyn Connection,
        operation: &str,
        result: Result<T>,
    ) -> Result<T> {
        if let Err(e) = conn.unlock_migrations().await {
            tracing::warn!(error = %e, "releasing the migration lock failed; closing the connection releases it");
        }
        result.map_err(|e| self.err(e, operation))
    }

    /// Applies pending migrations in version order, up to and including `target` if given.
    pub async fn migrate(
        &self,
        conn: &mut dyn Connection,
        target: Option<&Version>,
    ) -> Result<MigrateReport> {
        let set = self.load()?;
        self.lock(conn, "migrate").await?;
        let result = self.migrate_locked(conn, &set, target).await;
        self.unlock(conn, "migrate", result).await
    }

    /// Undoes applied migrations newer than `to`, newest first. Refuses before running
    /// anything when one of them has no undo file.
    pub async fn rollback(&self, conn: &mut dyn Connection, to: &Version) -> Result<MigrateReport> {
        let set = self.load()?;
        self.lock(conn, "rollback").await?;
        let result = self.rollback_locked(conn, &set, to).await;
        self.unlock(conn, "rollback", result).await
    }

    /// Marks an existing database as being at `version`: migrations up to it are never
    /// applied here. Only allowed while the history is empty.
    pub async fn baseline(&self, conn: &mut dyn Connection, version: &Version) -> Result<()> {
        self.lock(conn, "baseline").await?;
        let result = self.baseline_locked(conn, version).await;
        self.unlock(conn, "baseline", result).await
    }

    /// Removes failed rows and realigns the checksums and descriptions of applied rows
    /// with the files. Missing files are reported, not changed.
    pub async fn repair(&self, conn: &mut dyn Connection) -> Result<RepairReport> {
        let set = self.load()?;
        self.lock(conn, "repair").await?;
        let result = self.repair_locked(conn, &set).await;
        self.unlock(conn, "repair", result).await
    }

    async fn migrate_locked(
        &self,
        conn: &mut dyn Connection,
        set: &MigrationSet,
        target: Option<&Version>,
    ) -> Result<MigrateReport> {
        let history = History::new(&self.table);
        history.ensure(conn).await?;
        let rows = history.read(conn).await?;
        let status = self.compute(conn, set, &rows);
        let mut problems = status.problems();
        if self.out_of_order {
            problems.retain(|p| p.kind != ProblemKind::OutOfOrder);
        }
        if !problems.is_empty() {
            return Err(Error::new(
                ErrorKind::Migration,
                format!("refusing to migrate: {}", join(&problems)),
            )
            .with_hint("run `status` or `validate` for details"));
        }
        let mut todo: Vec<&Migration> = status
            .pending
            .iter()
            .chain(if self.out_of_order {
                &status.out_of_order[..]
            } else {
                &[]
            })
            .filter_map(|i| i.version.parse().ok().and_then(|v| set.get(&v)))
            .filter(|m| target.is_none_or(|t| &m.version <= t))
            .collect();
        todo.sort_by(|a, b| a.version.cmp(&b.version));
        let run_started = Instant::now();
        tracing::info!(
            db.namespace = %self.database,
            pending = todo.len(),
            current_version = status.current_version.as_deref().unwrap_or("none"),
            "migration run started"
        );
        let mut applied = Vec::new();
        let mut current = status.current_version.clone();
        let of = todo.len();
        self.report(Progress::RunStarted {
            database: &self.database,
            pending: of,
            undo: false,
        });
        for (i, m) in todo.into_iter().enumerate() {
            let ms = self
                .apply_reported(
                    conn,
                    &history,
                    m,
                    RowType::Sql,
                    &applied,
                    current.as_deref(),
                    (i + 1, of),
                )
                .await
                .inspect_err(|_| {
                    self.report(Progress::RunFinished {
                        done: applied.len(),
                        duration: run_started.elapsed(),
                    })
                })?;
            tracing::info!(
                db.namespace = %self.database,
                version = %m.version,
                script = %m.script,
                duration_ms = ms,
                "migration applied"
            );
            applied.push(AppliedMigration {
                version: m.version.to_string(),
                description: m.description.clone(),
                script: m.script.clone(),
                execution_time_ms: ms,
            });
            current = Some(m.version.to_string());
        }
        tracing::info!(
            db.namespace = %self.database,
            applied = applied.len(),
            version = current.as_deref().unwrap_or("none"),
            duration_ms = run_started.elapsed().as_millis() as u64,
            "migration run finished"
        );
        self.report(Progress::RunFinished {
            done: applied.len(),
            duration: run_started.elapsed(),
        });
        Ok(MigrateReport {
            database: self.database.clone(),
            applied,
            current_version: current,
        })
    }

    async fn rollback_locked(
        &self,
        conn: &mut dyn Connection,
        set: &MigrationSet,
        to: &Version,
    ) -> Result<MigrateReport> {
        let history = History::new(&self.table);
        let rows = history.read(conn).await?;
        if !rows.is_empty() {
            // Undo rows record their progress too: bring an older table up to date.
            history.ensure(conn).await?;
        }
        let eff = effective(&rows);
        let to_undo: Vec<(&Version, _)> = eff
            .iter()
            .rev()
            .filter(|(v, r)| *v > to && r.success && r.row_type == RowType::Sql)
            .collect();
        if let Some((v, _)) = eff
            .iter()
            .find(|(v, r)| *v > to && r.row_type == RowType::Baseline)
        {
            return Err(Error::new(
                ErrorKind::Migration,
                format!("cannot roll back below the baseline {v}"),
            ));
        }
        let missing: Vec<String> = to_undo
            .iter()
            .filter(|(v, _)| !set.undo.contains_key(*v))
            .map(|(v, r)| format!("U{v}__... (undo of {})", r.script))
            .collect();
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorKind::Migration,
                format!(
                    "refusing to roll back: no undo file for {}; nothing was changed",
                    missing.join(", ")
                ),
            )
            .with_hint("write the missing U<version>__<description>.sql files"));
        }
        let mut undone = Vec::new();
        let mut current = compute(&self.database, set, &rows).current_version;
        let of = to_undo.len();
        let run_started = Instant::now();
        self.report(Progress::RunStarted {
            database: &self.database,
            pending: of,
            undo: true,
        });
        for (i, (v, _)) in to_undo.into_iter().enumerate() {
            let u = &set.undo[v];
            let ms = self
                .apply_reported(
                    conn,
                    &history,
                    u,
                    RowType::UndoSql,
                    &undone,
                    current.as_deref(),
                    (i + 1, of),
                )
                .await
                .inspect_err(|_| {
                    self.report(Progress::RunFinished {
                        done: undone.len(),
                        duration: run_started.elapsed(),
                    })
                })?;
            tracing::info!(
                db.namespace = %self.database,
                version = %v,
                script = %u.script,
                duration_ms = ms,
                "migration undone"
            );
            undone.push(AppliedMigration {
                version: v.to_string(),
                description: u.description.clone(),
                script: u.script.clone(),
                execution_time_ms: ms,
            });
            current = eff
                .iter()
                .filter(|(ev, r)| *ev < v && r.success && r.row_type != RowType::UndoSql)
                .map(|(ev, _)| ev.to_string())
                .next_back();
        }
        self.report(Progress::RunFinished {
            done: undone.len(),
            duration: run_started.elapsed(),
        });
        Ok(MigrateReport {
            database: self.database.clone(),
            applied: undone,
            current_version: current,
        })
    }

    async fn baseline_locked(&self, conn: &mut dyn Connection, version: &Version) -> Result<()> {
        let history = History::new(&self.table);
        history.ensure(conn).await?;
        let rows = history.read(conn).await?;
        if !rows.is_empty() {
            return Err(Error::new(
                ErrorKind::Migration,
                format!(
                    "the history already has {} rows; baseline only applies to a database with none",
                    rows.len()
                ),
            ));
        }
        history
            .insert(
                conn,
                NewRow {
                    version: Some(version.to_string()),
                    description: "<< Baseline >>",
                    row_type: RowType::Baseline,
                    script: "<< Baseline >>",
                    checksum: None,
                    installed_by: &self.installed_by,
                    execution_time_ms: 0,
                    success: true,
                    statements_done: None,
                },
            )
            .await
            .map(|_| ())
    }

    async fn repair_locked(
        &self,
        conn: &mut dyn Connection,
        set: &MigrationSet,
    ) -> Result<RepairReport> {
        let history = History::new(&self.table);
        let rows = history.read(conn).await?;
        let mut report = RepairReport {
            database: self.database.clone(),
            removed_failed: Vec::new(),
            realigned: Vec::new(),
            missing: Vec::new(),
        };
        for r in &rows {
            if !r.success {
                history.delete(conn, r.installed_rank).await?;
                report.removed_failed.push(r.script.clone());
            }
        }
        for (v, r) in effective(&rows) {
            if !r.success || r.row_type != RowType::Sql {
                continue;
            }
            match set.get(&v) {
                Some(m) if r.checksum != Some(m.checksum) || r.description != m.description => {
                    history
                        .realign(conn, r.installed_rank, m.checksum, &m.description)
                        .await?;
                    report.realigned.push(m.script.clone());
                }
                Some(_) => {}
                None => report.missing.push(r.script.clone()),
            }
        }
        Ok(report)
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
