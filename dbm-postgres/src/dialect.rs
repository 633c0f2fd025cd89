//! PostgreSQL's SQL dialect.

use dbm_core::{Backend, Dialect, PlaceholderStyle, ScriptSplit, SqlSyntax};

/// PostgreSQL: `$1` placeholders, dollar quoting, nested comments, scripts split on `;`.
///
/// ```
/// use dbm_core::{params, Dialect};
/// let b = dbm_postgres::PgDialect
///     .bind("SELECT :id::int8, $$ :no $$", &params! { "id" => 1 })
///     .unwrap();
/// assert_eq!(b.sql, "SELECT $1::int8, $$ :no $$");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PgDialect;

impl Dialect for PgDialect {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn placeholder_style(&self) -> PlaceholderStyle {
        PlaceholderStyle::Dollar
    }

    fn syntax(&self) -> SqlSyntax {
        SqlSyntax::POSTGRES
    }

    fn script_split(&self) -> ScriptSplit {
        ScriptSplit::Semicolon
    }

    fn table_exists_query(&self) -> String {
        "SELECT 1 AS present FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = :table".to_owned()
    }

    fn schema_version_ddl(&self, table: &str) -> String {
        let t = self.quote_identifier(table);
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (
    installed_rank INTEGER NOT NULL PRIMARY KEY,
    version VARCHAR(50),
    description VARCHAR(200) NOT NULL,
    type VARCHAR(20) NOT NULL,
    script VARCHAR(1000) NOT NULL,
    checksum BIGINT,
    installed_by VARCHAR(100) NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    execution_time_ms BIGINT NOT NULL,
    success BOOLEAN NOT NULL,
    statements_done INTEGER
)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_and_exists_query_are_exact() {
        let ddl = PgDialect.schema_version_ddl("schema_version");
        assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS \"schema_version\" (\n    installed_rank INTEGER NOT NULL PRIMARY KEY,\n"));
        assert!(ddl.contains("installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),"));
        assert!(ddl.ends_with("success BOOLEAN NOT NULL,\n    statements_done INTEGER\n)"));
        assert_eq!(PgDialect.quote_identifier("we\"ird"), "\"we\"\"ird\"");
        assert!(PgDialect.table_exists_query().contains("current_schema()"));
    }
}
