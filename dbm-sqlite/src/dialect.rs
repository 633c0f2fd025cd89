//! SQLite's SQL dialect.

use dbm_core::{Backend, Dialect, PlaceholderStyle, ScriptSplit, SqlSyntax};

/// SQLite: `?1` placeholders, `[x]` and `` `x` `` identifiers, scripts split on `;`.
///
/// ```
/// use dbm_core::{params, Dialect};
/// let b = dbm_sqlite::SqliteDialect.bind("SELECT :a, :a", &params! { "a" => 1 }).unwrap();
/// assert_eq!(b.sql, "SELECT ?1, ?1");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn placeholder_style(&self) -> PlaceholderStyle {
        PlaceholderStyle::QuestionNumbered
    }

    fn syntax(&self) -> SqlSyntax {
        SqlSyntax::SQLITE
    }

    fn script_split(&self) -> ScriptSplit {
        ScriptSplit::Semicolon
    }

    fn table_exists_query(&self) -> String {
        "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = :table".to_owned()
    }

    fn schema_version_ddl(&self, table: &str) -> String {
        let t = self.quote_identifier(table);
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (
    installed_rank INTEGER NOT NULL PRIMARY KEY,
    version TEXT,
    description TEXT NOT NULL,
    type TEXT NOT NULL,
    script TEXT NOT NULL,
    checksum INTEGER,
    installed_by TEXT NOT NULL,
    installed_on TEXT NOT NULL,
    execution_time_ms INTEGER NOT NULL,
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
    fn schema_version_ddl_is_exact() {
        let ddl = SqliteDialect.schema_version_ddl("schema_version");
        assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS \"schema_version\" (\n"));
        for col in [
            "installed_rank INTEGER NOT NULL PRIMARY KEY",
            "version TEXT,",
            "checksum INTEGER,",
            "success BOOLEAN NOT NULL,",
            "statements_done INTEGER\n)",
        ] {
            assert!(ddl.contains(col), "{col}");
        }
    }
}
