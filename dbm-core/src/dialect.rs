//! What differs between databases: placeholders, lexical syntax, script splitting, DDL.

use std::fmt;

use serde::Serialize;

use crate::error::Result;
use crate::lex::SqlSyntax;
use crate::params::{BoundSql, Params, PlaceholderStyle, bind_named};
use crate::script::{ScriptSplit, ScriptStatement, split_script};

/// The database products dbm talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// Microsoft SQL Server.
    Mssql,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// The OpenTelemetry `db.system` name: `postgresql`, `mssql`, `sqlite`.
    ///
    /// ```
    /// assert_eq!(dbm_core::Backend::Postgres.db_system(), "postgresql");
    /// ```
    pub fn db_system(self) -> &'static str {
        match self {
            Backend::Postgres => "postgresql",
            Backend::Mssql => "mssql",
            Backend::Sqlite => "sqlite",
        }
    }
}

impl Backend {
    /// The product's name as people write it: `PostgreSQL`, `SQL Server`, `SQLite`.
    ///
    /// ```
    /// assert_eq!(dbm_core::Backend::Mssql.product(), "SQL Server");
    /// ```
    pub fn product(self) -> &'static str {
        match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Mssql => "SQL Server",
            Backend::Sqlite => "SQLite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.db_system())
    }
}

/// Driver-specific SQL, so that code above the drivers never writes dialect SQL itself.
pub trait Dialect: Send + Sync + fmt::Debug {
    /// The product.
    fn backend(&self) -> Backend;

    /// How positional placeholders are written.
    fn placeholder_style(&self) -> PlaceholderStyle;

    /// The lexical features the parameter rewriter and script splitter must respect.
    fn syntax(&self) -> SqlSyntax;

    /// How migration scripts are divided into statements or batches.
    fn script_split(&self) -> ScriptSplit;

    /// `CREATE TABLE IF NOT EXISTS` (or equivalent) for the migration history table, with the
    /// columns `installed_rank`, `version`, `description`, `type`, `script`, `checksum`,
    /// `installed_by`, `installed_on`, `execution_time_ms`, `success`, `statements_done`.
    fn schema_version_ddl(&self, table: &str) -> String;

    /// `ALTER TABLE` adding a nullable column (used to bring an older history table up to
    /// date).
    ///
    /// ```
    /// # #[derive(Debug)] struct D;
    /// # impl dbm_core::Dialect for D {
    /// #     fn backend(&self) -> dbm_core::Backend { dbm_core::Backend::Sqlite }
    /// #     fn placeholder_style(&self) -> dbm_core::PlaceholderStyle { dbm_core::PlaceholderStyle::QuestionNumbered }
    /// #     fn syntax(&self) -> dbm_core::SqlSyntax { dbm_core::SqlSyntax::SQLITE }
    /// #     fn script_split(&self) -> dbm_core::ScriptSplit { dbm_core::ScriptSplit::Semicolon }
    /// #     fn schema_version_ddl(&self, _: &str) -> String { String::new() }
    /// # }
    /// use dbm_core::Dialect;
    /// assert_eq!(D.add_column_ddl("schema_version", "statements_done", "INTEGER"),
    ///     "ALTER TABLE \"schema_version\" ADD COLUMN statements_done INTEGER");
    /// ```
    fn add_column_ddl(&self, table: &str, column: &str, sql_type: &str) -> String {
        format!(
            "ALTER TABLE {} ADD COLUMN {column} {sql_type}",
            self.quote_identifier(table)
        )
    }

    /// A query with one `:table` parameter that returns a row when that table exists in
    /// the current schema.
    fn table_exists_query(&self) -> String {
        "SELECT 1 AS present FROM information_schema.tables WHERE table_name = :table".to_owned()
    }

    /// Quotes an identifier (`"name"` by default, doubling embedded quotes).
    fn quote_identifier(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    /// Rewrites `:name` parameters into this dialect's placeholders.
    fn bind<'a>(&self, sql: &'a str, params: &Params) -> Result<BoundSql<'a>> {
        bind_named(sql, params, self.placeholder_style(), &self.syntax())
    }

    /// Splits a script into the statements or batches to run one at a time.
    fn split(&self, script: &str) -> Vec<ScriptStatement> {
        split_script(script, &self.syntax(), self.script_split())
    }
}
