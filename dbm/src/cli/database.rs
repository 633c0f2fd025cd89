//! The commands that work on one database: migrate, status, validate, rollback, baseline,
//! repair and health.

use std::io::Write;

use dbm_core::Result;
use dbm_migrate::{MigrationInfo, MigrationState, MigrationStatus};

use super::{Options, emit, io, progress, table};
use crate::manager::DatabaseManager;

/// A command on one database, with its own arguments (parsed by clap: nothing is missing).
#[derive(Debug)]
pub(super) enum OnDatabase {
    Migrate {
        to: Option<String>,
        out_of_order: bool,
    },
    Status,
    Validate,
    Rollback {
        to: String,
    },
    Baseline {
        version: String,
    },
    Repair,
    Health,
}

impl OnDatabase {
    /// Runs the command on `db`.
    pub(super) async fn run(
        self,
        args: &Options,
        db: &DatabaseManager,
        out: &mut dyn Write,
    ) -> Result<u8> {
        let name = db.name().to_owned();
        match self {
            OnDatabase::Migrate { to, out_of_order } => {
                let mut conn = db.database().acquire().await?;
                let target = to.as_deref().map(str::parse).transpose()?;
                let report = db
                    .migrator()
                    .out_of_order(out_of_order)
                    .progress(std::sync::Arc::new(progress::Reporter::new()))
                    .migrate(conn.as_mut(), target.as_ref())
                    .await?;
                if args.json {
                    emit(out, &report)?;
                } else if report.applied.is_empty() {
                    writeln!(
                        out,
                        "{name}: up to date at version {}",
                        version(&report.current_version)
                    )
                    .map_err(io)?;
                } else {
                    writeln!(out, "{name}: applied {} migration(s)", report.applied.len())
                        .map_err(io)?;
                    let mut t = table::table(["VERSION", "DESCRIPTION", "TIME"]);
                    for a in &report.applied {
                        t.add_row([
                            a.version.clone(),
                            table::cut(&a.description, 50),
                            format!("{} ms", a.execution_time_ms),
                        ]);
                    }
                    writeln!(out, "{}", table::render(&t)).map_err(io)?;
                    writeln!(
                        out,
                        "{name}: now at version {}",
                        version(&report.current_version)
                    )
                    .map_err(io)?;
                }
            }
            OnDatabase::Status => {
                let status = db.migration_status().await?;
                if args.json {
                    emit(out, &status)?;
                } else {
                    print_status(out, &status)?;
                }
            }
            OnDatabase::Validate => {
                let status = db.validate_migrations().await?;
                if args.json {
                    emit(out, &status)?;
                } else {
                    writeln!(
                        out,
                        "{name}: valid ({} applied, {} pending)",
                        status.applied.len(),
                        status.pending.len()
                    )
                    .map_err(io)?;
                }
            }
            OnDatabase::Rollback { to } => {
                let to: dbm_migrate::Version = to.parse()?;
                let mut conn = db.database().acquire().await?;
                let report = db
                    .migrator()
                    .progress(std::sync::Arc::new(progress::Reporter::new()))
                    .rollback(conn.as_mut(), &to)
                    .await?;
                if args.json {
                    emit(out, &report)?;
                } else {
                    for a in &report.applied {
                        writeln!(out, "  undone {:<10} {}", a.version, a.script).map_err(io)?;
                    }
                    writeln!(
                        out,
                        "{name}: now at version {}",
                        version(&report.current_version)
                    )
                    .map_err(io)?;
                }
            }
            OnDatabase::Baseline { version: v } => {
                db.baseline(&v).await?;
                if args.json {
                    emit(out, &serde_json::json!({ "database": name, "baseline": v }))?;
                } else {
                    writeln!(out, "{name}: baselined at version {v}").map_err(io)?;
                }
            }
            OnDatabase::Repair => {
                let r = db.repair_migrations().await?;
                if args.json {
                    emit(out, &r)?;
                } else {
                    writeln!(
                        out,
                        "{name}: removed {} failed row(s), realigned {} checksum(s)",
                        r.removed_failed.len(),
                        r.realigned.len()
                    )
                    .map_err(io)?;
                    for m in &r.missing {
                        writeln!(out, "  still missing: {m}").map_err(io)?;
                    }
                }
            }
            OnDatabase::Health => return super::health::one(args, db, out).await,
        }
        Ok(0)
    }
}

fn version(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

fn print_status(out: &mut dyn Write, s: &MigrationStatus) -> Result<()> {
    use table::Tone;
    writeln!(
        out,
        "database: {}   current version: {}{}",
        s.database,
        version(&s.current_version),
        s.baseline
            .as_deref()
            .map(|b| format!("   baseline: {b}"))
            .unwrap_or_default()
    )
    .map_err(io)?;
    let mut all: Vec<&MigrationInfo> = s
        .applied
        .iter()
        .chain(&s.failed)
        .chain(&s.missing)
        .chain(&s.out_of_order)
        .chain(&s.pending)
        .collect();
    all.sort_by(|a, b| {
        let va: Option<dbm_migrate::Version> = a.version.parse().ok();
        let vb: Option<dbm_migrate::Version> = b.version.parse().ok();
        va.cmp(&vb)
    });
    let colour = table::colour();
    let mut t = table::table(["VERSION", "DESCRIPTION", "STATE", "INSTALLED ON", "SCRIPT"]);
    for m in all {
        let state = serde_json::to_value(m.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let tone = match m.state {
            MigrationState::Applied | MigrationState::Baseline => Tone::Good,
            MigrationState::Pending
            | MigrationState::OutOfOrder
            | MigrationState::BelowBaseline => Tone::Warn,
            _ => Tone::Bad,
        };
        t.add_row([
            m.version.clone(),
            table::cut(&m.description, 50),
            table::paint(&state, tone, colour),
            m.installed_on.clone().unwrap_or_else(|| "-".to_owned()),
            m.script.clone(),
        ]);
    }
    writeln!(out, "{}", table::render(&t)).map_err(io)?;
    writeln!(
        out,
        "{} applied, {} pending, {} failed, {} edited, {} missing, {} out of order",
        s.applied.len(),
        s.pending.len(),
        s.failed.len(),
        s.edited.len(),
        s.missing.len(),
        s.out_of_order.len()
    )
    .map_err(io)
}
