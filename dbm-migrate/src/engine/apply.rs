//! Running one migration file: its statements, its history row, and the error when it
//! fails (file, line, statement, what was applied before it, what to do).

use std::time::Instant;

use crate::progress::Progress;

use dbm_core::{Connection, Error, ErrorKind, Result, ScriptStatement};

use super::{AppliedMigration, Migrator};
use crate::history::{History, NewRow, RowType};
use crate::source::Migration;

impl Migrator {
    pub(super) fn report(&self, p: Progress<'_>) {
        if let Some(sink) = &self.progress {
            sink.report(&p);
        }
    }

    /// Applies (or undoes) one file of a run of `of`, reporting its start and end.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply_reported(
        &self,
        conn: &mut dyn Connection,
        history: &History,
        m: &Migration,
        row_type: RowType,
        before: &[AppliedMigration],
        current: Option<&str>,
        (index, of): (usize, usize),
    ) -> Result<i64> {
        self.report(Progress::Started {
            index,
            of,
            version: &m.version,
            description: &m.description,
            script: &m.script,
        });
        let started = Instant::now();
        let result = self
            .apply(conn, history, m, row_type, before, current)
            .await;
        self.report(Progress::Finished {
            index,
            of,
            version: &m.version,
            description: &m.description,
            duration: started.elapsed(),
            ok: result.is_ok(),
        });
        result
    }

    /// Runs one file and records it; returns its execution time, which includes reading
    /// its statements out of the file.
    pub(super) async fn apply(
        &self,
        conn: &mut dyn Connection,
        history: &History,
        m: &Migration,
        row_type: RowType,
        before: &[AppliedMigration],
        current: Option<&str>,
    ) -> Result<i64> {
        let started = Instant::now();
        let statements = conn.dialect().split(&m.sql);
        let count = statements.len() as i64;
        let record = |success: bool, ms: i64, done: i64| NewRow {
            version: Some(m.version.to_string()),
            description: &m.description,
            row_type,
            script: &m.script,
            checksum: Some(m.checksum),
            installed_by: &self.installed_by,
            execution_time_ms: ms,
            success,
            statements_done: Some(done),
        };
        let elapsed = || started.elapsed().as_millis() as i64;
        let fail = |stmt: Option<&ScriptStatement>, e: Error, transactional: bool| {
            tracing::error!(
                db.namespace = %self.database,
                script = %m.script,
                line = stmt.map(|s| s.line),
                error = %e,
                "migration failed"
            );
            failure(m, stmt, e, before, current, transactional)
        };
        if m.transactional {
            conn.begin().await?;
            let outcome = async {
                run_statements(conn, &statements, None).await?;
                let ms = elapsed();
                history
                    .insert(conn, record(true, ms, count))
                    .await
                    .map_err(|e| (count, None, e))?;
                Ok::<i64, Stop<'_>>(ms)
            }
            .await;
            match outcome {
                Ok(ms) => {
                    conn.commit().await?;
                    Ok(ms)
                }
                Err((_, stmt, e)) => {
                    if let Err(re) = conn.rollback().await {
                        tracing::warn!(error = %re, "rollback after a failed migration failed");
                    }
                    Err(fail(stmt, e, true))
                }
            }
        } else {
            // Outside a transaction every statement commits on its own: record the attempt
            // first (committed), then the progress after each statement, so that a process
            // killed midway leaves a row that says how far it got.
            let rank = history.insert(conn, record(false, -1, 0)).await?;
            match run_statements(conn, &statements, Some((history, rank))).await {
                Ok(()) => {
                    let ms = elapsed();
                    history.finish(conn, rank, true, ms, count).await?;
                    Ok(ms)
                }
                Err((done, stmt, e)) => {
                    if let Err(he) = history.finish(conn, rank, false, elapsed(), done).await {
                        tracing::error!(error = %he, script = %m.script, "could not record the failed migration; its row says it never finished");
                    }
                    Err(fail(stmt, e, false))
                }
            }
        }
    }
}

/// Why a run of statements stopped: how many had completed, the statement that failed
/// (`None` when recording progress failed), and the error.
type Stop<'s> = (i64, Option<&'s ScriptStatement>, Error);

/// Runs the statements in order; with `progress`, records after each one how many have
/// completed.
async fn run_statements<'s>(
    conn: &mut dyn Connection,
    statements: &'s [ScriptStatement],
    progress: Option<(&History, i64)>,
) -> std::result::Result<(), Stop<'s>> {
    for (i, s) in statements.iter().enumerate() {
        let done = i as i64;
        for _ in 0..s.repeat.max(1) {
            conn.execute_script(&s.sql)
                .await
                .map_err(|e| (done, Some(s), e))?;
        }
        if let Some((history, rank)) = progress {
            history
                .progress(conn, rank, done + 1)
                .await
                .map_err(|e| (done + 1, None, e))?;
        }
    }
    Ok(())
}

fn failure(
    m: &Migration,
    stmt: Option<&ScriptStatement>,
    e: Error,
    before: &[AppliedMigration],
    current: Option<&str>,
    transactional: bool,
) -> Error {
    let location = match stmt {
        Some(s) => {
            // A batch (SQL Server) fails on one of its lines, which the server names,
            // counting from the first line sent (leading comments included).
            let first_sent = s.line - s.sql[..s.code_offset].matches('\n').count();
            let within = e
                .line()
                .map(|l| l as usize)
                .filter(|&l| l >= 1 && first_sent + l - 1 > s.line)
                .and_then(|l| Some((first_sent + l - 1, s.sql.lines().nth(l - 1)?.trim())))
                .filter(|(_, text)| !text.is_empty());
            let (line, text) = within.unwrap_or((s.line, s.first_line()));
            let shown: String = text.chars().take(80).collect();
            format!("{} line {line}: statement `{shown}` failed", m.script)
        }
        None => format!("{}: recording it in the history failed", m.script),
    };
    let ran = if before.is_empty() {
        "none".to_owned()
    } else {
        before
            .iter()
            .map(|a| a.script.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let outcome = if transactional {
        format!(
            "it was rolled back and not recorded; the database is at version {}",
            current.unwrap_or("none")
        )
    } else {
        "it ran outside a transaction, so statements before the failing one stayed applied; it is recorded as failed".to_owned()
    };
    let mut err = Error::new(
        ErrorKind::Migration,
        format!(
            "{location}: {}. Applied before it in this run: {ran}. {outcome}",
            e.message()
        ),
    )
    .with_hint(match (e.hint(), transactional) {
        // The database's own advice comes first (e.g. SQL Server: "needs -- dbm:no-transaction").
        (Some(h), true) => format!("{h}; then run migrate again"),
        (None, true) => "fix the file and run migrate again".to_owned(),
        (Some(h), false) => format!(
            "{h}; repair the database by hand, run `repair` to clear the failed row, then migrate again"
        ),
        (None, false) => {
            "repair the database by hand, run `repair` to clear the failed row, then migrate again"
                .to_owned()
        }
    });
    if let Some(code) = e.code() {
        err = err.with_code(code.clone());
    }
    err.with_source(e)
}
