//! SQL Server's dialect: `@P1` placeholders, `[bracketed]` identifiers, scripts in `GO`
//! batches, the history table in T-SQL types.

use dbm_core::{Backend, Dialect, PlaceholderStyle, ScriptSplit, SqlSyntax};

/// T-SQL.
///
/// ```
/// use dbm_core::{params, Dialect};
/// let b = dbm_mssql::MssqlDialect
///     .bind("SELECT :id AS id, N':no' AS t, [:no]", &params! { "id" => 1 })
///     .unwrap();
/// assert_eq!(b.sql, "SELECT @P1 AS id, N':no' AS t, [:no]");
/// assert_eq!(dbm_mssql::MssqlDialect.split("CREATE TABLE t (x INT)\nGO\nCREATE VIEW v AS SELECT x FROM t\n").len(), 2);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MssqlDialect;

impl Dialect for MssqlDialect {
    fn backend(&self) -> Backend {
        Backend::Mssql
    }

    fn placeholder_style(&self) -> PlaceholderStyle {
        PlaceholderStyle::AtP
    }

    fn syntax(&self) -> SqlSyntax {
        SqlSyntax::MSSQL
    }

    fn script_split(&self) -> ScriptSplit {
        ScriptSplit::GoBatches
    }

    fn quote_identifier(&self, ident: &str) -> String {
        format!("[{}]", ident.replace(']', "]]"))
    }

    fn add_column_ddl(&self, table: &str, column: &str, sql_type: &str) -> String {
        // T-SQL has no COLUMN keyword here.
        format!(
            "ALTER TABLE {} ADD {column} {sql_type} NULL",
            self.quote_identifier(table)
        )
    }

    fn table_exists_query(&self) -> String {
        "SELECT 1 AS present FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = SCHEMA_NAME() AND TABLE_NAME = :table".to_owned()
    }

    fn schema_version_ddl(&self, table: &str) -> String {
        let t = self.quote_identifier(table);
        let literal = t.replace('\'', "''");
        format!(
            "IF OBJECT_ID(N'{literal}', N'U') IS NULL CREATE TABLE {t} (
    installed_rank INT NOT NULL PRIMARY KEY,
    version NVARCHAR(50) NULL,
    description NVARCHAR(200) NOT NULL,
    type NVARCHAR(20) NOT NULL,
    script NVARCHAR(1000) NOT NULL,
    checksum BIGINT NULL,
    installed_by NVARCHAR(100) NOT NULL,
    installed_on DATETIMEOFFSET(3) NOT NULL DEFAULT SYSDATETIMEOFFSET(),
    execution_time_ms BIGINT NOT NULL,
    success BIT NOT NULL,
    statements_done INT NULL
)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_is_exact_t_sql() {
        let ddl = MssqlDialect.schema_version_ddl("schema_version");
        assert!(ddl.starts_with("IF OBJECT_ID(N'[schema_version]', N'U') IS NULL CREATE TABLE [schema_version] (\n    installed_rank INT NOT NULL PRIMARY KEY,\n"), "{ddl}");
        assert!(ddl.contains("    success BIT NOT NULL,\n"));
        let odd = MssqlDialect.schema_version_ddl("it's]");
        assert!(
            odd.starts_with("IF OBJECT_ID(N'[it''s]]]', N'U') IS NULL CREATE TABLE [it's]]]"),
            "{odd}"
        );
        assert_eq!(
            MssqlDialect.add_column_ddl("schema_version", "statements_done", "INTEGER"),
            "ALTER TABLE [schema_version] ADD statements_done INTEGER NULL"
        );
    }
}
