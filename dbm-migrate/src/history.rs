//! The `schema_version` table, read and written through the core `Connection` trait only.

use chrono::{SubsecRound, Utc};
use dbm_core::{Connection, Params, Result, Row, Value, params};
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
    /// How long it took.
    pub execution_time_ms: i64,
    /// Whether it completed.
    pub success: bool,
}

/// Reads and writes one history table.
#[derive(Debug, Clone)]
pub(crate) struct History {
    table: String,
}

const COLUMNS: &str = "installed_rank, version, description, type, script, checksum, installed_by, installed_on, execution_time_ms, success";

fn from_row(r: &Row) -> Result<HistoryRow> {
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
    })
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

    pub(crate) async fn ensure(&self, conn: &mut dyn Connection) -> Result<()> {
        let ddl = conn.dialect().schema_version_ddl(&self.table);
        conn.execute_script(&ddl).await
    }

    /// Every row in rank order; empty when the table does not exist yet.
    pub(crate) async fn read(&self, conn: &mut dyn Connection) -> Result<Vec<HistoryRow>> {
        if !self.exists(conn).await? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM {} ORDER BY installed_rank",
            self.quoted(conn)
        );
        let rows = conn.query(&sql, &Params::new()).await?;
        rows.iter().map(from_row).collect()
    }

    pub(crate) async fn insert(&self, conn: &mut dyn Connection, row: NewRow<'_>) -> Result<()> {
        let table = self.quoted(conn);
        let next = conn
            .query(
                &format!("SELECT COALESCE(MAX(installed_rank), 0) + 1 AS next_rank FROM {table}"),
                &Params::new(),
            )
            .await?;
        let rank: i64 = next.first().map_or(Ok(1), |r| r.get("next_rank"))?;
        let sql = format!(
            "INSERT INTO {table} ({COLUMNS}) VALUES (:rank, :version, :description, :type, :script, :checksum, :installed_by, :installed_on, :ms, :success)"
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
        };
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
