//! `health` (one database or `--all`) and `serve` (the HTTP probes and metrics).

use std::io::Write;

use dbm_core::Result;
use dbm_health::{DatabaseHealth, HealthSummary, SchemaState, Status};

use super::{Options, emit, io};
use crate::config::Config;
use crate::manager::DatabaseManager;

/// Exit code of a health command: 0 healthy or degraded, 1 unhealthy.
fn code(status: Status) -> u8 {
    u8::from(status == Status::Unhealthy)
}

/// `health`: one database.
pub(super) async fn one(args: &Options, db: &DatabaseManager, out: &mut dyn Write) -> Result<u8> {
    let h = db.health_check().await;
    if args.json {
        emit(out, &h)?;
    } else {
        print(out, &h)?;
    }
    Ok(code(h.status))
}

/// `health --all`: every configured database, checked concurrently.
pub(super) async fn all(args: &Options, config: &Config, out: &mut dyn Write) -> Result<u8> {
    let monitor = crate::health::health_monitor(config)?;
    let summary = monitor.check_now().await;
    for c in monitor.components() {
        c.database().close().await;
    }
    if args.json {
        emit(out, &summary)?;
    } else {
        print_summary(out, &summary)?;
    }
    Ok(code(summary.status))
}

fn print_summary(out: &mut dyn Write, s: &HealthSummary) -> Result<()> {
    writeln!(
        out,
        "overall: {} ({} database(s), checked at {})",
        s.status,
        s.components.len(),
        s.timestamp
    )
    .map_err(io)?;
    for h in s.components.values() {
        writeln!(out).map_err(io)?;
        print(out, h)?;
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "ok" } else { "FAILED" }
}

/// One database as a two-column table.
fn print(out: &mut dyn Write, h: &DatabaseHealth) -> Result<()> {
    let status = match h.status {
        Status::Unhealthy => "UNHEALTHY".to_owned(),
        s => s.to_string(),
    };
    let migrations = match (h.migration_status, &h.migrations) {
        (SchemaState::NotChecked, _) => "not checked".to_owned(),
        (SchemaState::UpToDate, Some(m)) => format!(
            "up to date at version {}",
            m.current_version.as_deref().unwrap_or("-")
        ),
        (SchemaState::Pending, Some(m)) => {
            format!("{} pending ({})", m.pending.len(), m.pending.join(", "))
        }
        (state, _) => serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
            .unwrap_or_default(),
    };
    let pool = match h.pool.max_connections {
        Some(max) => format!(
            "{} of {max} in use ({:.0}%), {} idle, {} waiting",
            h.pool.checked_out, h.pool_utilization_percent, h.pool.checked_in, h.pool.waiting
        ),
        None => format!(
            "{} in use, {} idle, {} waiting (no maximum)",
            h.pool.checked_out, h.pool.checked_in, h.pool.waiting
        ),
    };
    let mut rows = vec![
        ("connection", yes(h.connection).to_owned()),
        ("test query", yes(h.query_test).to_owned()),
        ("response time", format!("{:.1} ms", h.response_time_ms)),
        ("migrations", migrations),
        ("pool", pool),
        ("required", if h.required { "yes" } else { "no" }.to_owned()),
        ("checked at", h.timestamp.clone()),
    ];
    if let Some(m) = &h.migrations {
        rows.extend(m.problems.iter().map(|p| ("problem", p.clone())));
    }
    if !h.reasons.is_empty() {
        rows.push(("why", h.reasons.join("; ")));
    }
    if let Some(e) = &h.error {
        rows.push(("error", e.clone()));
    }
    writeln!(out, "{} ({}): {status}", h.database_name, h.backend).map_err(io)?;
    for (k, v) in rows {
        writeln!(out, "  {k:<14} {v}").map_err(io)?;
    }
    Ok(())
}

/// `serve`: the probe and metrics routes for every configured database, until SIGINT or
/// SIGTERM. The first line says where it listens (with the port chosen when `:0`).
#[cfg(feature = "http")]
pub(super) async fn serve(bind: &str, config: &Config, out: &mut dyn Write) -> Result<u8> {
    use std::sync::Arc;

    use dbm_core::{Error, ErrorKind};

    let monitor = Arc::new(crate::health::health_monitor(config)?);
    let names: Vec<String> = monitor
        .components()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
        Error::new(
            ErrorKind::Configuration,
            format!("cannot listen on {bind}: {e}"),
        )
        .with_operation("serve")
        .with_hint("choose another address with --bind (port 0 picks a free one)")
    })?;
    let addr = listener.local_addr().map_err(io)?;
    writeln!(
        out,
        "serving health of {} on http://{addr} (GET /health, /health/live, /health/ready, /health/NAME, /metrics)",
        names.join(", ")
    )
    .map_err(io)?;
    out.flush().map_err(io)?;
    let service = dbm_health::HealthService::new(monitor.clone(), dbm_health::Metrics::new());
    let served = dbm_health::serve(listener, service, dbm_health::shutdown_signal()).await;
    for c in monitor.components() {
        c.database().close().await;
    }
    served.map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("the HTTP server on {addr} failed: {e}"),
        )
        .with_operation("serve")
    })?;
    writeln!(out, "stopped").map_err(io)?;
    Ok(0)
}

/// `serve` in a build without the `http` feature.
#[cfg(not(feature = "http"))]
pub(super) async fn serve(_: &str, _: &Config, _: &mut dyn Write) -> Result<u8> {
    Err(dbm_core::Error::new(
        dbm_core::ErrorKind::Configuration,
        "this build of dbm has no HTTP server",
    )
    .with_operation("serve")
    .with_hint("build dbm with the `http` feature (cargo xtask has it)"))
}
