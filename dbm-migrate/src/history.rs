//! The `schema_version` table, read and written through the core `Connection` trait only.

use chrono::{SubsecRound, Utc};
use dbm_core::{Connection, Params, Result, RowRef, Rows, Value, params};
use serde::Serialize;

/// What a history row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RowType {
    /// A forward migration (`SQL`).
    Sql,
    /// An undo migration (`UNDO_SQL`).
    UndoSql,
    /// A baseline marker (`BASELINE`).
    Baseline,
}

impl RowType {
    fn as_str(self) -> &'static str {
        match self {
            RowType::Sql => "SQL",
            RowType::UndoSql => "UNDO_SQL",
            RowType::Baseline => "BASELINE",
        }
    }

    fn parse(s: &str) -> RowType {
        match s {
            "UNDO_SQL" => RowType::UndoSql,
            "BASELINE" => RowType::Baseline,
            _ => RowType::Sql,
        }
    }
}

/// One row of `schema_version`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HistoryRow {
    /// Order of application, from 1.
    pub installed_rank: i64,
    /// The version, as written in the file name.
    pub version: Option<String>,
    /// The description.
    pub description: String,
    /// `SQL`, `UNDO_SQL` or `BASELINE`.
    #[serde(rename = "type")]
    pub row_type: RowType,
    /// The file name.
    pub script: String,
    /// The file's checksum when it ran.
    pub checksum: Option<i64>,
    /// Who ran it.
    pub installed_by: String,
    /// When it ran (as the database returns it).
    pub installed_on: String,
    /// How long it took; `-1` on the row of a `-- dbm:no-transaction` migration that
    /// started and never finished (its process died), see [`HistoryRow::is_incomplete`].
    pub execution_time_ms: i64,
    /// Whether it completed.
    pub success: bool,
    /// How many of its statements completed (`None` in rows written before dbm recorded
    /// it). A `-- dbm:no-transaction` migration updates it after every statement.
    pub statements_done: Option<i64>,
}

impl HistoryRow {
    /// A `-- dbm:no-transaction` migration whose run started (its row is written first)
    /// and never finished: the process stopped midway.
    pub fn is_incomplete(&self) -> bool {
        !self.success && self.execution_time_ms < 0
    }
}

/// Reads and writes one history table.
#[derive(Debug, Clone)]
pub(crate) struct History {
    table: String,
}

const COLUMNS: &str = "installed_rank, version, description, type, script, checksum, installed_by, installed_on, execution_time_ms, success, statements_done";

/// The column added after the first release; older tables get it from [`History::ensure`].
const PROGRESS_COLUMN: &str = "statements_done";

fn from_row(r: RowRef<'_>, has_progress: bool) -> Result<HistoryRow> {
    Ok(HistoryRow {
        installed_rank: r.get("installed_rank")?,
        version: r.get("version")?,
        description: r.get("description")?,
        row_type: RowType::parse(&r.get::<String>("type")?),
        script: r.get("script")?,
        checksum: r.get("checksum")?,
        installed_by: r.get("installed_by")?,
        installed_on: r.value("installed_on")?.to_string(),
        execution_time_ms: r.get("execution_time_ms")?,
        success: r.get("success")?,
        statements_done: if has_progress {
            r.get(PROGRESS_COLUMN)?
        } else {
            None
        },
    })
}

fn has_column(rows: &Rows, name: &str) -> bool {
    rows.columns()
        .as_slice()
        .iter()
        .any(|c| c.name().eq_ignore_ascii_case(name))
}

/// A row about to be written.
pub(crate) struct NewRow<'a> {
    pub version: Option<String>,
    pub description: &'a str,
    pub row_type: RowType,
    pub script: &'a str,
    pub checksum: Option<i64>,
    pub installed_by: &'a str,
    pub execution_time_ms: i64,
    pub success: bool,
    pub statements_done: Option<i64>,
}

impl History {
    pub(crate) fn new(table: &str) -> Self {
        History {
            table: table.to_owned(),
        }
    }

    fn quoted(&self, conn: &dyn Connection) -> String {
        conn.dialect().quote_identifier(&self.table)
    }

    pub(crate) async fn exists(&self, conn: &mut dyn Connection) -> Result<bool> {
        let sql = conn.dialect().table_exists_query();
        let rows = conn
            .query(&sql, &params! { "table" => self.table.as_str() })
            .await?;
        Ok(!rows.is_empty())
    }

    /// Creates the table, or adds the columns an older table lacks.
    pub(crate) async fn ensure(&self, conn: &mut dyn Connection) -> Result<()> {
        let ddl = conn.dialect().schema_version_ddl(&self.table);
        conn.execute_script(&ddl).await?;
        if !self.has_progress_column(conn).await? {
            let sql = conn
                .dialect()
                .add_column_ddl(&self.table, PROGRESS_COLUMN, "INTEGER");
            conn.execute_script(&sql).await?;
        }
        Ok(())
    }

    async fn has_progress_column(&self, conn: &mut dyn Connection) -> Result<bool> {
        let sql = format!("SELECT * FROM {} WHERE 1 = 0", self.quoted(conn));
        let rows = conn.query(&sql, &Params::new()).await?;
        Ok(has_column(&rows, PROGRESS_COLUMN))
    }

    /// Every row in rank order; empty when the table does not exist yet. Reads tables
    /// written by older versions (without `statements_done`) without changing them.
    pub(crate) async fn read(&self, conn: &mut dyn Connection) -> Result<Vec<HistoryRow>> {
        if !self.exists(conn).await? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM {} ORDER BY installed_rank",
            self.quoted(conn)
        );
        let rows = conn.query(&sql, &Params::new()).await?;
        let has_progress = has_column(&rows, PROGRESS_COLUMN);
        rows.iter().map(|r| from_row(r, has_progress)).collect()
    }

    /// Writes a row and returns its `installed_rank`.
    pub(crate) async fn insert(&self, conn: &mut dyn Connection, row: NewRow<'_>) -> Result<i64> {
        let table = self.quoted(conn);
        let next = conn
            .query(
                &format!("SELECT COALESCE(MAX(installed_rank), 0) + 1 AS next_rank FROM {table}"),
                &Params::new(),
            )
            .await?;
        let rank: i64 = next.first().map_or(Ok(1), |r| r.get("next_rank"))?;
        let sql = format!(
            "INSERT INTO {table} ({COLUMNS}) VALUES (:rank, :version, :description, :type, :script, :checksum, :installed_by, :installed_on, :ms, :success, :done)"
        );
        let p = params! {
            "rank" => rank,
            "version" => row.version,
            "description" => row.description,
            "type" => row.row_type.as_str(),
            "script" => row.script,
            "checksum" => row.checksum,
            "installed_by" => row.installed_by,
            "installed_on" => Value::TimestampTz(Utc::now().trunc_subsecs(3)),
            "ms" => row.execution_time_ms,
            "success" => row.success,
            "done" => row.statements_done,
        };
        conn.execute(&sql, &p).await.map(|_| rank)
    }

    /// Records that `done` statements of the run at `rank` completed.
    pub(crate) async fn progress(
        &self,
        conn: &mut dyn Connection,
        rank: i64,
        done: i64,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET statements_done = :done WHERE installed_rank = :rank",
            self.quoted(conn)
        );
        conn.execute(&sql, &params! { "done" => done, "rank" => rank })
            .await
            .map(|_| ())
    }

    /// Records how the run at `rank` ended.
    pub(crate) async fn finish(
        &self,
        conn: &mut dyn Connection,
        rank: i64,
        success: bool,
        execution_time_ms: i64,
        done: i64,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET success = :success, execution_time_ms = :ms, statements_done = :done WHERE installed_rank = :rank",
            self.quoted(conn)
        );
        let p = params! { "success" => success, "ms" => execution_time_ms, "done" => done, "rank" => rank };
        conn.execute(&sql, &p).await.map(|_| ())
    }

    pub(crate) async fn delete(&self, conn: &mut dyn Connection, rank: i64) -> Result<()> {
        let sql = format!(
            "DELETE FROM {} WHERE installed_rank = :rank",
            self.quoted(conn)
        );
        conn.execute(&sql, &params! { "rank" => rank })
            .await
            .map(|_| ())
    }

    pub(crate) async fn realign(
        &self,
        conn: &mut dyn Connection,
        rank: i64,
        checksum: i64,
        description: &str,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET checksum = :checksum, description = :description WHERE installed_rank = :rank",
            self.quoted(conn)
        );
        let p = params! { "checksum" => checksum, "description" => description, "rank" => rank };
        conn.execute(&sql, &p).await.map(|_| ())
    }
}
