//! The check of one database: connectivity, a test query, timing, pool, migrations.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use dbm_core::{Database, PoolStatus};
use dbm_migrate::{MigrationStatus, Migrator};
use serde::Serialize;

use crate::status::{HealthSettings, Status};

/// Where a database's migrations stand, as `migration_status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SchemaState {
    /// Every migration is applied and unchanged.
    UpToDate,
    /// Migrations are waiting to be applied (degraded; not ready).
    Pending,
    /// A migration is recorded as failed, or stopped midway (unhealthy).
    Failed,
    /// An applied migration's file changed since (degraded; not ready).
    Edited,
    /// An applied migration's file is gone (degraded; not ready).
    Missing,
    /// A migration older than the current version was never applied (degraded; not ready).
    OutOfOrder,
    /// The state could not be read (degraded; not ready): see `error`.
    Unknown,
    /// No migrations are configured for this database, or there was no connection to
    /// read them with.
    NotChecked,
}

impl SchemaState {
    /// The state of `status`, the most serious first: failed, edited, missing, out of
    /// order, pending, up to date.
    pub fn of(status: &MigrationStatus) -> SchemaState {
        if !status.failed.is_empty() {
            SchemaState::Failed
        } else if !status.edited.is_empty() {
            SchemaState::Edited
        } else if !status.missing.is_empty() {
            SchemaState::Missing
        } else if !status.out_of_order.is_empty() {
            SchemaState::OutOfOrder
        } else if !status.pending.is_empty() {
            SchemaState::Pending
        } else {
            SchemaState::UpToDate
        }
    }

    /// Whether readiness accepts it: up to date, or nothing to check.
    pub fn is_ready(self) -> bool {
        matches!(self, SchemaState::UpToDate | SchemaState::NotChecked)
    }
}

/// Migration facts of a check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MigrationDetails {
    /// The applied version.
    pub current_version: Option<String>,
    /// Versions `migrate` would apply, in order.
    pub pending: Vec<String>,
    /// What `validate` reports (failed, edited, missing, out-of-order migrations).
    pub problems: Vec<String>,
}

/// The health of one database. The field names are those of the seed system's report
/// (`database_name`, `status`, `connection`, `query_test`, `migration_status`,
/// `response_time_ms`, `timestamp`, `error`); the rest is detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DatabaseHealth {
    /// The database's configured name.
    pub database_name: String,
    /// Its status, by the rules of [`HealthSettings`].
    pub status: Status,
    /// Whether an unhealthy status fails the overall status (`required = true`, the
    /// default) or only degrades it.
    pub required: bool,
    /// OpenTelemetry `db.system`: `sqlite`, `postgresql`, `mssql`.
    pub backend: &'static str,
    /// A connection was checked out and answered a ping.
    pub connection: bool,
    /// `SELECT 1` returned 1.
    pub query_test: bool,
    /// Where the migrations stand.
    pub migration_status: SchemaState,
    /// Checkout, ping and test query, in milliseconds.
    pub response_time_ms: f64,
    /// Connections in use as a share of the pool's maximum, in percent.
    pub pool_utilization_percent: f64,
    /// When the check ran: RFC 3339, UTC, `Z`.
    pub timestamp: String,
    /// The first error met, naming the database and the operation; never a password.
    pub error: Option<String>,
    /// Why the status is not `healthy`, one sentence each.
    pub reasons: Vec<String>,
    /// The pool after the check.
    pub pool: PoolStatus,
    /// Migration facts, when they could be read.
    pub migrations: Option<MigrationDetails>,
}

impl DatabaseHealth {
    /// Whether readiness accepts this database: it is reachable and its migrations are up
    /// to date (or none are configured).
    pub fn is_ready(&self) -> bool {
        self.connection && self.migration_status.is_ready()
    }
}

/// The stage a check reached, kept outside the timed future so a timeout can say where it
/// stopped and what was already known.
#[derive(Default)]
struct Progress {
    stage: &'static str,
    connection: bool,
    query_test: bool,
    response_time: Option<Duration>,
    migration_status: Option<SchemaState>,
    migrations: Option<MigrationDetails>,
    error: Option<String>,
}

/// Checks one database: checks out a connection, pings it, runs `SELECT 1 AS ok`, reads
/// the migration status with `migrator` if given, and decides the status. Never panics;
/// never takes longer than `settings.timeout` (the running statement is then dropped,
/// which cancels it).
///
/// ```
/// use dbm_health::{check_database, HealthSettings, Status};
/// # async fn demo(db: &dyn dbm_core::Database) {
/// let h = check_database(db, None, &HealthSettings::default()).await;
/// if h.status != Status::Healthy {
///     eprintln!("{}: {}", h.database_name, h.reasons.join("; "));
/// }
/// # }
/// ```
pub async fn check_database(
    db: &dyn Database,
    migrator: Option<&Migrator>,
    settings: &HealthSettings,
) -> DatabaseHealth {
    let name = db.name().to_owned();
    let mut p = Progress::default();
    let started = Instant::now();
    let finished = tokio::time::timeout(settings.timeout, run(db, migrator, &mut p, started)).await;
    let mut timed_out = None;
    if finished.is_err() {
        timed_out = Some(format!(
            "the health check of database `{name}` did not finish within {} ms (it was at: {}); \
             the database or its pool is not answering in time: raise [health] timeout_ms if it \
             is only slow",
            settings.timeout.as_millis(),
            p.stage
        ));
    }
    let pool = db.pool_status();
    let mut h = DatabaseHealth {
        database_name: name,
        status: Status::Healthy,
        required: true,
        backend: db.backend().db_system(),
        connection: p.connection,
        query_test: p.query_test,
        migration_status: p.migration_status.unwrap_or(SchemaState::NotChecked),
        response_time_ms: p
            .response_time
            .unwrap_or_else(|| started.elapsed())
            .as_secs_f64()
            * 1000.0,
        pool_utilization_percent: pool.utilization_percent,
        timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        error: timed_out.clone().or(p.error),
        reasons: Vec::new(),
        pool,
        migrations: p.migrations,
    };
    let (status, reasons) = decide(&h, timed_out.is_some(), settings);
    h.status = status;
    h.reasons = reasons;
    h
}

async fn run(db: &dyn Database, migrator: Option<&Migrator>, p: &mut Progress, started: Instant) {
    p.stage = "connection checkout";
    let mut conn = match db.acquire().await {
        Ok(c) => c,
        Err(e) => {
            p.error = Some(e.to_string());
            return;
        }
    };
    p.stage = "ping";
    if let Err(e) = conn.ping().await {
        p.error = Some(e.with_database(db.name()).to_string());
        return;
    }
    p.connection = true;
    p.stage = "test query";
    // No parameters: straight to the driver, no binding.
    match conn.query_raw("SELECT 1 AS ok", &[]).await {
        Ok(rows) => {
            p.query_test = rows.first().and_then(|r| r.get::<i64>("ok").ok()) == Some(1);
            if !p.query_test {
                p.error = Some(format!(
                    "database `{}`, test query: `SELECT 1 AS ok` did not return 1",
                    db.name()
                ));
            }
        }
        Err(e) => {
            p.error = Some(
                e.with_database(db.name())
                    .with_operation("health test query")
                    .to_string(),
            )
        }
    }
    p.response_time = Some(started.elapsed());
    let Some(migrator) = migrator else {
        return;
    };
    p.stage = "migration status";
    match migrator.status(conn.as_mut()).await {
        Ok(status) => {
            p.migration_status = Some(SchemaState::of(&status));
            p.migrations = Some(MigrationDetails {
                current_version: status.current_version.clone(),
                pending: status.pending.iter().map(|m| m.version.clone()).collect(),
                problems: status.problems().iter().map(ToString::to_string).collect(),
            });
        }
        Err(e) => {
            p.migration_status = Some(SchemaState::Unknown);
            p.error.get_or_insert(e.to_string());
        }
    }
}

/// The status rules: unhealthy without a connection, after a timeout, or with a failed
/// migration; degraded when slow, when the pool is busier than the threshold, when the test
/// query failed, or when migrations are pending, edited, missing, out of order or unknown.
pub(crate) fn decide(
    h: &DatabaseHealth,
    timed_out: bool,
    s: &HealthSettings,
) -> (Status, Vec<String>) {
    let mut status = Status::Healthy;
    let mut reasons = Vec::new();
    let mut note = |st: Status, why: String| {
        status = status.max(st);
        reasons.push(why);
    };
    if timed_out {
        note(
            Status::Unhealthy,
            format!(
                "the check did not finish within {} ms",
                s.timeout.as_millis()
            ),
        );
    } else if !h.connection {
        note(Status::Unhealthy, "no connection".to_owned());
    }
    if h.connection && !h.query_test {
        note(
            Status::Degraded,
            "connected, but the test query failed".to_owned(),
        );
    }
    let slow_ms = s.slow.as_secs_f64() * 1000.0;
    if h.connection && h.response_time_ms > slow_ms {
        note(
            Status::Degraded,
            format!(
                "slow: {:.1} ms, above slow_ms = {}",
                h.response_time_ms,
                s.slow.as_millis()
            ),
        );
    }
    if h.pool_utilization_percent > s.pool_degraded_percent {
        note(
            Status::Degraded,
            format!(
                "pool {:.0}% in use, above pool_degraded_percent = {}",
                h.pool_utilization_percent, s.pool_degraded_percent
            ),
        );
    }
    let pending = h.migrations.as_ref().map_or(0, |m| m.pending.len());
    match h.migration_status {
        SchemaState::UpToDate | SchemaState::NotChecked => {}
        SchemaState::Failed => note(
            Status::Unhealthy,
            "a migration failed or stopped midway: the schema is in a state no release expects"
                .to_owned(),
        ),
        SchemaState::Pending => note(
            Status::Degraded,
            format!("{pending} pending migration(s): run `migrate`"),
        ),
        SchemaState::Edited => note(
            Status::Degraded,
            "an applied migration was edited".to_owned(),
        ),
        SchemaState::Missing => note(
            Status::Degraded,
            "an applied migration's file is missing".to_owned(),
        ),
        SchemaState::OutOfOrder => note(
            Status::Degraded,
            "a migration older than the current version was never applied".to_owned(),
        ),
        SchemaState::Unknown => note(
            Status::Degraded,
            "the migration status could not be read".to_owned(),
        ),
    }
    (status, reasons)
}
