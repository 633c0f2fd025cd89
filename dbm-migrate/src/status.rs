//! Comparing the files with the history: applied, pending, failed, edited, missing,
//! out of order.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{HistoryRow, RowType};
use crate::source::{Migration, MigrationSet};
use crate::version::Version;

/// Where one migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// Applied, and the file is unchanged.
    Applied,
    /// Not applied yet (or undone).
    Pending,
    /// Recorded as failed (a `-- dbm:no-transaction` migration stopped at an error).
    Failed,
    /// A `-- dbm:no-transaction` migration that started and never finished (its process
    /// died midway): some of its statements may have run.
    Incomplete,
    /// Applied, but the file changed since.
    Edited,
    /// Applied, but the file is gone.
    Missing,
    /// Not applied, and older than the current version.
    OutOfOrder,
    /// At or below the baseline: never applied here.
    BelowBaseline,
    /// The baseline marker itself.
    Baseline,
}

/// Where a failed or incomplete migration stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StoppedAt {
    /// The 1-based number of the statement that failed or was running.
    pub statement: usize,
    /// How many statements the file has.
    pub of: usize,
    /// The line of the file it starts on.
    pub line: usize,
    /// Its first line of code.
    pub sql: String,
}

/// One migration in a status report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MigrationInfo {
    /// Its version.
    pub version: String,
    /// Its description.
    pub description: String,
    /// Its file name.
    pub script: String,
    /// Where it stands.
    pub state: MigrationState,
    /// When it was applied (as the database returns it).
    pub installed_on: Option<String>,
    /// How long it took to apply.
    pub execution_time_ms: Option<i64>,
    /// For a failed or incomplete migration: how many statements completed.
    pub statements_done: Option<i64>,
    /// For a failed or incomplete migration whose file is unchanged: the statement it
    /// stopped at.
    pub stopped_at: Option<StoppedAt>,
}

/// The state of a database's migrations.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MigrationStatus {
    /// The database name.
    pub database: String,
    /// The highest applied version (baseline included).
    pub current_version: Option<String>,
    /// The baseline version, if one was set.
    pub baseline: Option<String>,
    /// Applied migrations (edited ones included), oldest first.
    pub applied: Vec<MigrationInfo>,
    /// Migrations `migrate` would apply, in order.
    pub pending: Vec<MigrationInfo>,
    /// Migrations recorded as failed, and `-- dbm:no-transaction` migrations that never
    /// finished (state [`MigrationState::Incomplete`]).
    pub failed: Vec<MigrationInfo>,
    /// Applied migrations whose file changed.
    pub edited: Vec<MigrationInfo>,
    /// Applied migrations whose file is gone.
    pub missing: Vec<MigrationInfo>,
    /// Unapplied migrations older than the current version.
    pub out_of_order: Vec<MigrationInfo>,
}

/// What kind of problem blocks `migrate` or fails `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A migration is recorded as failed.
    Failed,
    /// A migration started and never finished.
    Incomplete,
    /// An applied migration's file changed.
    Edited,
    /// An applied migration's file is gone.
    Missing,
    /// A migration older than the current version was never applied.
    OutOfOrder,
}

/// One problem, with the sentence `validate` prints for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The file (or history script) concerned.
    pub script: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl MigrationStatus {
    /// No pending, failed, edited, missing or out-of-order migrations.
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty() && self.problems().is_empty()
    }

    /// What `validate` reports, one problem each.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut push = |kind, m: &MigrationInfo, message: String| {
            out.push(Problem {
                kind,
                script: m.script.clone(),
                message,
            })
        };
        for m in &self.failed {
            let (kind, message) = stopped_message(m);
            push(kind, m, message);
        }
        for m in &self.edited {
            push(
                ProblemKind::Edited,
                m,
                format!(
                    "{} was edited after it was applied (checksum differs): restore the file, or run `repair` if the change is intended",
                    m.script
                ),
            );
        }
        for m in &self.missing {
            push(
                ProblemKind::Missing,
                m,
                format!(
                    "version {} ({}) is applied but its file is missing",
                    m.version, m.script
                ),
            );
        }
        for m in &self.out_of_order {
            push(
                ProblemKind::OutOfOrder,
                m,
                format!(
                    "{} is older than the current version {} and was never applied",
                    m.script,
                    self.current_version.as_deref().unwrap_or("-")
                ),
            );
        }
        out
    }
}

/// The sentence for a failed or incomplete migration: where it stopped and what to do.
fn stopped_message(m: &MigrationInfo) -> (ProblemKind, String) {
    let todo = "finish or undo its statements by hand, then run `repair` and `migrate` again";
    let done = m.statements_done.unwrap_or(0);
    let before = match done {
        0 => "no statement before it had completed".to_owned(),
        1 => "statement 1 stayed applied".to_owned(),
        n => format!("statements 1 to {n} stayed applied"),
    };
    let at = m.stopped_at.as_ref().map(|s| {
        format!(
            "statement {} of {} (line {}: `{}`)",
            s.statement, s.of, s.line, s.sql
        )
    });
    if m.state == MigrationState::Incomplete {
        let at = at.unwrap_or_else(|| format!("statement {}", done + 1));
        (
            ProblemKind::Incomplete,
            format!(
                "{} did not finish: the process running it stopped during {at}, whose effect is unknown, and {before} (it runs outside a transaction): {todo}",
                m.script
            ),
        )
    } else {
        let message = match (at, m.statements_done) {
            (Some(at), _) => format!(
                "{} failed at {at} and {before} (it runs outside a transaction): {todo}",
                m.script
            ),
            (None, Some(_)) => format!(
                "{} failed after {done} statements (the file changed since, so the statement cannot be shown): {todo}",
                m.script
            ),
            (None, None) => format!(
                "{} is recorded as failed: fix the database by hand, then run `repair`",
                m.script
            ),
        };
        (ProblemKind::Failed, message)
    }
}

/// Fills in where each failed or incomplete migration stopped, from its file when the
/// file is the one that ran (same checksum).
pub(crate) fn locate_stops(
    status: &mut MigrationStatus,
    set: &MigrationSet,
    history: &[HistoryRow],
    split: impl Fn(&str) -> Vec<dbm_core::ScriptStatement>,
) {
    for info in &mut status.failed {
        let Ok(v) = info.version.parse::<Version>() else {
            continue;
        };
        let file = set
            .get(&v)
            .filter(|m| m.script == info.script)
            .or_else(|| set.undo.get(&v).filter(|m| m.script == info.script));
        let row = history.iter().rev().find(|r| r.script == info.script);
        let (Some(file), Some(row)) = (file, row) else {
            continue;
        };
        if row.checksum != Some(file.checksum) {
            continue;
        }
        let statements = split(&file.sql);
        let index = usize::try_from(row.statements_done.unwrap_or(0)).unwrap_or(0);
        if let Some(s) = statements.get(index) {
            info.stopped_at = Some(StoppedAt {
                statement: index + 1,
                of: statements.len(),
                line: s.line,
                sql: s.first_line().chars().take(80).collect(),
            });
        }
    }
}

fn info(m: &Migration, state: MigrationState, row: Option<&HistoryRow>) -> MigrationInfo {
    MigrationInfo {
        version: m.version.to_string(),
        description: m.description.clone(),
        script: m.script.clone(),
        state,
        installed_on: row.map(|r| r.installed_on.clone()),
        execution_time_ms: row.map(|r| r.execution_time_ms),
        statements_done: None,
        stopped_at: None,
    }
}

fn info_from_row(r: &HistoryRow, state: MigrationState) -> MigrationInfo {
    MigrationInfo {
        version: r.version.clone().unwrap_or_default(),
        description: r.description.clone(),
        script: r.script.clone(),
        state,
        installed_on: Some(r.installed_on.clone()),
        execution_time_ms: (r.execution_time_ms >= 0).then_some(r.execution_time_ms),
        statements_done: r.statements_done,
        stopped_at: None,
    }
}

/// The latest row of each version, in version order.
pub(crate) fn effective(history: &[HistoryRow]) -> BTreeMap<Version, HistoryRow> {
    let mut map = BTreeMap::new();
    for r in history {
        if let Some(v) = r.version.as_deref().and_then(|v| v.parse::<Version>().ok()) {
            map.insert(v, r.clone());
        }
    }
    map
}

pub(crate) fn compute(
    database: &str,
    set: &MigrationSet,
    history: &[HistoryRow],
) -> MigrationStatus {
    let eff = effective(history);
    let is_applied = |r: &HistoryRow| r.success && r.row_type != RowType::UndoSql;
    let baseline = eff
        .iter()
        .filter(|(_, r)| r.row_type == RowType::Baseline && r.success)
        .map(|(v, _)| v.clone())
        .next_back();
    let current = eff
        .iter()
        .filter(|(_, r)| is_applied(r))
        .map(|(v, _)| v.clone())
        .next_back();
    let mut st = MigrationStatus {
        database: database.to_owned(),
        current_version: current.as_ref().map(ToString::to_string),
        baseline: baseline.as_ref().map(ToString::to_string),
        applied: Vec::new(),
        pending: Vec::new(),
        failed: Vec::new(),
        edited: Vec::new(),
        missing: Vec::new(),
        out_of_order: Vec::new(),
    };
    for (v, r) in &eff {
        match (r.row_type, set.get(v)) {
            (RowType::Baseline, _) if r.success => {
                st.applied.push(info_from_row(r, MigrationState::Baseline))
            }
            (_, _) if r.is_incomplete() => {
                st.failed.push(info_from_row(r, MigrationState::Incomplete))
            }
            (_, _) if !r.success => st.failed.push(info_from_row(r, MigrationState::Failed)),
            (RowType::Sql, None) => st.missing.push(info_from_row(r, MigrationState::Missing)),
            (RowType::Sql, Some(m)) if r.checksum != Some(m.checksum) => {
                let i = info(m, MigrationState::Edited, Some(r));
                st.applied.push(i.clone());
                st.edited.push(i);
            }
            (RowType::Sql, Some(m)) => st.applied.push(info(m, MigrationState::Applied, Some(r))),
            _ => {} // undone: the file (if any) shows as pending below
        }
    }
    for m in &set.forward {
        let row = eff.get(&m.version);
        if row.is_some_and(|r| is_applied(r) || !r.success) {
            continue;
        }
        if baseline.as_ref().is_some_and(|b| &m.version <= b) {
            continue; // below the baseline: never to be applied here
        }
        if current.as_ref().is_some_and(|c| &m.version < c) {
            st.out_of_order
                .push(info(m, MigrationState::OutOfOrder, None));
        } else {
            st.pending.push(info(m, MigrationState::Pending, None));
        }
    }
    st
}
