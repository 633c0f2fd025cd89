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
    /// Recorded as failed (a `-- dbm:no-transaction` migration stopped midway).
    Failed,
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

/// One migration in a status report.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

/// The state of a database's migrations.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Migrations recorded as failed.
    pub failed: Vec<MigrationInfo>,
    /// Applied migrations whose file changed.
    pub edited: Vec<MigrationInfo>,
    /// Applied migrations whose file is gone.
    pub missing: Vec<MigrationInfo>,
    /// Unapplied migrations older than the current version.
    pub out_of_order: Vec<MigrationInfo>,
}

impl MigrationStatus {
    /// No pending, failed, edited, missing or out-of-order migrations.
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty() && self.problems().is_empty()
    }

    /// What `validate` reports, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.failed {
            out.push(format!(
                "{} is recorded as failed: fix the database by hand, then run `repair`",
                m.script
            ));
        }
        for m in &self.edited {
            out.push(format!(
                "{} was edited after it was applied (checksum differs): restore the file, or run `repair` if the change is intended",
                m.script
            ));
        }
        for m in &self.missing {
            out.push(format!(
                "version {} ({}) is applied but its file is missing",
                m.version, m.script
            ));
        }
        for m in &self.out_of_order {
            out.push(format!(
                "{} is older than the current version {} and was never applied",
                m.script,
                self.current_version.as_deref().unwrap_or("-")
            ));
        }
        out
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
    }
}

fn info_from_row(r: &HistoryRow, state: MigrationState) -> MigrationInfo {
    MigrationInfo {
        version: r.version.clone().unwrap_or_default(),
        description: r.description.clone(),
        script: r.script.clone(),
        state,
        installed_on: Some(r.installed_on.clone()),
        execution_time_ms: Some(r.execution_time_ms),
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
