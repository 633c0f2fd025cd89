//! The small translation of T-SQL into SQLite that the engine mode needs: what the dbm
//! driver, its migrations and the conformance suite send, not T-SQL at large.

use super::types::{TdsType, TdsValue};

/// Whether `word` starts at byte `i` of `s` as a whole word, case-insensitively.
fn word_at(s: &str, i: usize, word: &str) -> bool {
    let b = s.as_bytes();
    let end = i + word.len();
    end <= b.len()
        && s.is_char_boundary(i)
        && s.is_char_boundary(end)
        && s[i..end].eq_ignore_ascii_case(word)
        && (i == 0 || !is_word(b[i - 1]))
        && (end == b.len() || !is_word(b[end]))
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@' || b == b'#'
}

/// Applies `f` to each stretch of `sql` outside string literals, quoted identifiers and
/// comments, copying those as they are; `f` is told whether a string literal follows.
fn outside_quotes(sql: &str, mut f: impl FnMut(&str, bool, &mut String)) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let close = match b[i] {
            b'\'' => Some(b'\''),
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        let comment = b[i] == b'-' && b.get(i + 1) == Some(&b'-');
        if close.is_none() && !comment {
            i += 1;
            continue;
        }
        f(&sql[start..i], b[i] == b'\'', &mut out);
        let mut j = i + 1;
        if comment {
            while j < b.len() && b[j] != b'\n' {
                j += 1;
            }
        } else {
            let c = close.unwrap_or(b'\'');
            while j < b.len() {
                if b[j] == c {
                    if b.get(j + 1) == Some(&c) {
                        j += 2;
                        continue;
                    }
                    j += 1;
                    break;
                }
                j += 1;
            }
        }
        out.push_str(&sql[i..j.min(b.len())]);
        start = j.min(b.len());
        i = start;
    }
    f(&sql[start..], false, &mut out);
    out
}

/// Replaces whole words (case-insensitive) outside quotes.
fn replace_words(sql: &str, pairs: &[(&str, &str)]) -> String {
    outside_quotes(sql, |part, _, out| {
        let mut i = 0;
        'scan: while i < part.len() {
            for (from, to) in pairs {
                if word_at(part, i, from) {
                    out.push_str(to);
                    i += from.len();
                    continue 'scan;
                }
            }
            let ch = part[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    })
}

const TABLES: &str = "(SELECT name AS TABLE_NAME, 'dbo' AS TABLE_SCHEMA, 'BASE TABLE' AS TABLE_TYPE, 'main' AS TABLE_CATALOG FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%')";

// Parenthesised, so that they also serve as a column DEFAULT.
const NOW: &str = "(strftime('%Y-%m-%d %H:%M:%f', 'now'))";
const NOW_TZ: &str = "(strftime('%Y-%m-%d %H:%M:%f', 'now') || ' +00:00')";

/// `IF XACT_STATE() <> 0 stmt` and `IF @@TRANCOUNT > 0 stmt`: `Some((condition, stmt))`.
pub(crate) fn transaction_condition(stmt: &str, in_tx: bool) -> Option<(bool, &str)> {
    let t = stmt.trim();
    let upper = t.to_ascii_uppercase();
    ["IF XACT_STATE() <> 0 ", "IF @@TRANCOUNT > 0 "]
        .iter()
        .find(|p| upper.starts_with(*p))
        .map(|p| (in_tx, t[p.len()..].trim()))
}

/// T-SQL to SQLite for one statement. `@Pn` become `?n`; `N'..'` strings lose their `N`;
/// `(max)` becomes a length; exact types keep text storage; `TOP n` becomes `LIMIT n`;
/// `IF OBJECT_ID(...) IS NULL CREATE TABLE` becomes `CREATE TABLE IF NOT EXISTS`;
/// `INFORMATION_SCHEMA.TABLES` reads `sqlite_master`; recursive CTEs say so.
pub(crate) fn to_sqlite(sql: &str, spid: u16, in_tx: bool) -> String {
    let mut s = sql.trim().trim_end_matches(';').to_owned();
    // IF OBJECT_ID(N'name', N'U') IS NULL CREATE TABLE ...
    if s.len() > 2 && s[..2].eq_ignore_ascii_case("IF") {
        let upper = s.to_ascii_uppercase();
        if let (Some(_), Some(p)) = (upper.find("OBJECT_ID"), upper.find("IS NULL")) {
            let rest = s[p + "IS NULL".len()..].trim_start();
            if rest.len() > 12 && rest[..12].eq_ignore_ascii_case("CREATE TABLE") {
                s = format!("CREATE TABLE IF NOT EXISTS{}", &rest[12..]);
            }
        }
    }
    let trancount = if in_tx { "1" } else { "0" };
    let spid = spid.to_string();
    s = outside_quotes(&s, |part, before_string, out| {
        let b = part.as_bytes();
        let mut i = 0;
        while i < b.len() {
            // @Pn -> ?n
            if (b[i] == b'@')
                && matches!(b.get(i + 1), Some(b'P' | b'p'))
                && b.get(i + 2).is_some_and(u8::is_ascii_digit)
            {
                let mut j = i + 2;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                out.push('?');
                out.push_str(&part[i + 2..j]);
                i = j;
                continue;
            }
            let special = [
                ("@@SPID", spid.as_str()),
                ("@@TRANCOUNT", trancount),
                ("XACT_STATE()", trancount),
            ]
            .into_iter()
            .find(|(from, _)| {
                part.len() >= i + from.len()
                    && part.is_char_boundary(i + from.len())
                    && part[i..i + from.len()].eq_ignore_ascii_case(from)
            });
            if let Some((from, to)) = special {
                out.push_str(to);
                i += from.len();
                continue;
            }
            // N'text' -> 'text'
            if before_string
                && i + 1 == b.len()
                && matches!(b[i], b'N' | b'n')
                && (i == 0 || !is_word(b[i - 1]))
            {
                i += 1;
                continue;
            }
            let ch = part[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    });
    s = replace_words(
        &s,
        &[
            ("INFORMATION_SCHEMA.TABLES", TABLES),
            ("GETDATE()", NOW),
            ("SYSDATETIME()", NOW),
            ("SYSUTCDATETIME()", NOW),
            ("GETUTCDATE()", NOW),
            ("SYSDATETIMEOFFSET()", NOW_TZ),
            ("SCHEMA_NAME()", "'dbo'"),
        ],
    );
    s = s
        .replace("(max)", "(2147483647)")
        .replace("(MAX)", "(2147483647)");
    let upper = s.to_ascii_uppercase();
    if upper.starts_with("CREATE TABLE") || upper.starts_with("ALTER TABLE") {
        // SQLite would turn exact decimals into floats (NUMERIC affinity): keep them as
        // text, with the T-SQL name still readable in the declared type.
        s = replace_words(
            &s,
            &[
                ("DECIMAL", "DECIMAL_TEXT"),
                ("NUMERIC", "NUMERIC_TEXT"),
                ("MONEY", "MONEY_TEXT"),
                ("SMALLMONEY", "SMALLMONEY_TEXT"),
            ],
        );
        s = replace_words(&s, &[("IDENTITY(1,1)", ""), ("IDENTITY", "")]);
    }
    // OPTION (MAXRECURSION n)
    if let Some(p) = s.to_ascii_uppercase().rfind("OPTION (MAXRECURSION") {
        s.truncate(p);
    }
    // WITH name(...) AS (... name ...) : SQLite needs RECURSIVE for self-reference.
    if s.len() > 5
        && s[..5].eq_ignore_ascii_case("WITH ")
        && !s.to_ascii_uppercase().starts_with("WITH RECURSIVE")
    {
        s = format!("WITH RECURSIVE {}", &s[5..]);
    }
    // SELECT TOP n / TOP (n) ... -> ... LIMIT n
    let upper = s.to_ascii_uppercase();
    if upper.starts_with("SELECT TOP") {
        let rest = s[10..].trim_start();
        let (n, after) = match rest.strip_prefix('(') {
            Some(r) => match r.split_once(')') {
                Some((n, a)) => (n.trim().to_owned(), a.to_owned()),
                None => (String::new(), rest.to_owned()),
            },
            None => match rest.split_once(char::is_whitespace) {
                Some((n, a)) => (n.to_owned(), a.to_owned()),
                None => (String::new(), rest.to_owned()),
            },
        };
        if !n.is_empty() {
            s = format!("SELECT {} LIMIT {n}", after.trim());
        }
    }
    s.trim().to_owned()
}

/// `EXEC sp_executesql N'stmt', N'@a INT, ...', @a = 1, ...` sent as a plain batch (as
/// FreeTDS `tsql` does): the statement with `@a` renamed `@P1`, and the values.
pub(crate) fn exec_sql(batch: &str) -> Option<Result<(String, Vec<TdsValue>), String>> {
    let t = batch.trim().trim_end_matches(';');
    let upper = t.to_ascii_uppercase();
    let rest = ["EXEC SP_EXECUTESQL", "EXECUTE SP_EXECUTESQL"]
        .iter()
        .find(|p| upper.starts_with(*p))
        .map(|p| &t[p.len()..])?;
    Some(exec_args(rest))
}

/// A literal argument: `N'..'`, `'..'`, `NULL`, an integer or a decimal.
fn literal(a: &str) -> Result<TdsValue, String> {
    let a = a.trim();
    let unquoted = a
        .strip_prefix(['N', 'n'])
        .filter(|r| r.starts_with('\''))
        .unwrap_or(a);
    if let Some(body) = unquoted
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
    {
        return Ok(TdsValue::Text(body.replace("''", "'")));
    }
    if a.eq_ignore_ascii_case("NULL") {
        return Ok(TdsValue::Null);
    }
    if let Ok(i) = a.parse::<i64>() {
        return Ok(TdsValue::Int(i));
    }
    if let Some((int, frac)) = a.split_once('.')
        && let Ok(v) = format!("{int}{frac}").parse::<i128>()
    {
        return Ok(TdsValue::Decimal {
            value: v,
            scale: frac.len() as u8,
        });
    }
    Err(format!(
        "sp_executesql argument `{a}` is not a literal the test server reads"
    ))
}

fn exec_args(rest: &str) -> Result<(String, Vec<TdsValue>), String> {
    // Arguments split on commas outside string literals.
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        if c == '\'' {
            quoted = !quoted; // a doubled quote toggles twice
        }
        if c == ',' && !quoted {
            args.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    args.push(current);
    let mut args = args.into_iter();
    let stmt = match literal(&args.next().unwrap_or_default())? {
        TdsValue::Text(s) => s,
        _ => return Err("sp_executesql expects the statement as its first argument".into()),
    };
    let _declarations = args.next();
    let mut names = Vec::new();
    let mut values = Vec::new();
    for a in args {
        let (name, value) = a.split_once('=').ok_or_else(|| {
            format!(
                "sp_executesql argument `{}` is not `@name = value`",
                a.trim()
            )
        })?;
        names.push(name.trim().to_owned());
        values.push(literal(value)?);
    }
    let renamed = outside_quotes(&stmt, |part, _, out| {
        let mut i = 0;
        'scan: while i < part.len() {
            for (k, name) in names.iter().enumerate() {
                if word_at(part, i, name) {
                    out.push_str(&format!("@P{}", k + 1));
                    i += name.len();
                    continue 'scan;
                }
            }
            let ch = part[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    });
    Ok((renamed, values))
}

/// `CAST(x AS type) AS alias` in a select list: the aliases with the types they were cast
/// to (SQLite forgets them), and the statement with exact casts (`DECIMAL`, `NUMERIC`,
/// `MONEY`) made casts to text, which SQLite keeps exact.
pub(crate) fn casts(stmt: &str) -> (String, Vec<(String, TdsType)>) {
    let upper = stmt.to_ascii_uppercase();
    let b = stmt.as_bytes();
    let mut out = String::with_capacity(stmt.len());
    let mut typed = Vec::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(p) = upper[from..].find("CAST(").map(|p| p + from) {
        // The matching `)`.
        let mut depth = 0;
        let mut end = None;
        for (i, &c) in b.iter().enumerate().skip(p + 4) {
            match c {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        let inner = &upper[p + 5..end];
        if let Some(a) = inner.rfind(" AS ") {
            let ty_start = p + 5 + a + 4;
            let ty_text = stmt[ty_start..end].trim();
            let exact = ["DECIMAL", "NUMERIC", "MONEY"]
                .iter()
                .any(|t| ty_text.to_ascii_uppercase().starts_with(t));
            let after = stmt[end + 1..].trim_start();
            if after.len() > 3 && after[..3].eq_ignore_ascii_case("AS ") {
                let alias: String = after[3..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if let Some(ty) = type_of_decl(ty_text)
                    && !alias.is_empty()
                {
                    typed.push((alias, ty));
                }
            }
            if exact {
                out.push_str(&stmt[copied..ty_start]);
                out.push_str("TEXT");
                copied = end;
            }
        }
        from = end;
    }
    out.push_str(&stmt[copied..]);
    (out, typed)
}

/// The TDS type of a column from its declared type (as the T-SQL DDL wrote it).
pub(crate) fn type_of_decl(decl: &str) -> Option<TdsType> {
    let d = decl.trim().to_ascii_uppercase();
    let (name, args) = match d.split_once('(') {
        Some((n, a)) => (n.trim().to_owned(), a.trim_end_matches(')').to_owned()),
        None => (d.clone(), String::new()),
    };
    let name = name.trim_end_matches("_TEXT");
    let nums: Vec<u32> = args
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    let n = |i: usize, default: u32| nums.get(i).copied().unwrap_or(default);
    Some(match name {
        "BIT" | "BOOLEAN" => TdsType::Bit,
        "TINYINT" => TdsType::TinyInt,
        "SMALLINT" => TdsType::SmallInt,
        "INT" | "INTEGER" => TdsType::Int,
        "BIGINT" => TdsType::BigInt,
        "REAL" => TdsType::Real,
        "FLOAT" | "DOUBLE PRECISION" | "DOUBLE" => TdsType::Float,
        "DECIMAL" | "NUMERIC" | "DEC" => TdsType::Decimal {
            precision: n(0, 18).min(38) as u8,
            scale: n(1, 0).min(38) as u8,
        },
        "MONEY" | "SMALLMONEY" => TdsType::Money,
        "NVARCHAR" | "NCHAR" | "VARCHAR" | "CHAR" | "NTEXT" | "TEXT" | "SYSNAME" => {
            TdsType::NVarChar {
                max: name == "NTEXT" || name == "TEXT" || n(0, 1) > 4000,
            }
        }
        "VARBINARY" | "BINARY" | "IMAGE" => TdsType::VarBinary {
            max: name == "IMAGE" || n(0, 1) > 8000,
        },
        "UNIQUEIDENTIFIER" => TdsType::Guid,
        "DATE" => TdsType::Date,
        "TIME" => TdsType::Time(n(0, 7).min(7) as u8),
        "DATETIME2" => TdsType::DateTime2(n(0, 7).min(7) as u8),
        "DATETIMEOFFSET" => TdsType::DateTimeOffset(n(0, 7).min(7) as u8),
        "DATETIME" | "SMALLDATETIME" => TdsType::DateTime,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_the_driver_and_suite_send() {
        for (tsql, sqlite) in [
            ("SELECT @P1 AS a, '@P2' AS b", "SELECT ?1 AS a, '@P2' AS b"),
            ("SELECT N'it''s' AS t", "SELECT 'it''s' AS t"),
            (
                "SELECT N'héllo' AS N, 'x' AS n",
                "SELECT 'héllo' AS N, 'x' AS n",
            ),
            ("SELECT @@SPID AS spid", "SELECT 52 AS spid"),
            ("SELECT SCHEMA_NAME() AS s", "SELECT 'dbo' AS s"),
            (
                "SELECT XACT_STATE() AS s, @@TRANCOUNT AS n",
                "SELECT 0 AS s, 0 AS n",
            ),
            (
                "SELECT TOP 5 n FROM t ORDER BY n",
                "SELECT n FROM t ORDER BY n LIMIT 5",
            ),
            (
                "IF OBJECT_ID(N'schema_version', N'U') IS NULL CREATE TABLE [schema_version] (x INT)",
                "CREATE TABLE IF NOT EXISTS [schema_version] (x INT)",
            ),
            (
                "CREATE TABLE m (a DECIMAL(38,10), b NVARCHAR(max), c MONEY)",
                "CREATE TABLE m (a DECIMAL_TEXT(38,10), b NVARCHAR(2147483647), c MONEY_TEXT)",
            ),
            (
                "WITH c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c OPTION (MAXRECURSION 0)",
                "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c",
            ),
        ] {
            assert_eq!(to_sqlite(tsql, 52, false), sqlite, "{tsql}");
        }
        assert!(
            to_sqlite("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES", 1, false)
                .contains("sqlite_master")
        );
    }

    #[test]
    fn exec_sp_executesql_in_a_batch() {
        let batch = "EXEC sp_executesql N'SELECT @id, @name, ''@id''', N'@id INT, @name NVARCHAR(9)', @id = 7, @name = N'o''k, x'";
        let (sql, values) = exec_sql(batch).expect("recognised").expect("parsed");
        assert_eq!(sql, "SELECT @P1, @P2, '@id'");
        assert_eq!(
            values,
            vec![TdsValue::Int(7), TdsValue::Text("o'k, x".into())]
        );
        assert!(exec_sql("SELECT 1").is_none());
        let bad = exec_sql("EXEC sp_executesql N'SELECT @a', N'@a INT', @a = foo");
        assert!(bad.expect("recognised").is_err());
    }

    #[test]
    fn casts_keep_their_types() {
        let (sql, typed) = casts(
            "SELECT CAST(m AS DECIMAL(19,4)) AS m, CAST(x AS NVARCHAR(10)) AS x, CAST(y AS INT) FROM t",
        );
        assert_eq!(
            sql,
            "SELECT CAST(m AS TEXT) AS m, CAST(x AS NVARCHAR(10)) AS x, CAST(y AS INT) FROM t"
        );
        assert_eq!(
            typed,
            vec![
                (
                    "m".to_owned(),
                    TdsType::Decimal {
                        precision: 19,
                        scale: 4
                    }
                ),
                ("x".to_owned(), TdsType::NVarChar { max: false }),
            ]
        );
    }

    #[test]
    fn declared_types() {
        assert_eq!(
            type_of_decl("DECIMAL_TEXT(38,10)"),
            Some(TdsType::Decimal {
                precision: 38,
                scale: 10
            })
        );
        assert_eq!(
            type_of_decl("nvarchar(200)"),
            Some(TdsType::NVarChar { max: false })
        );
        assert_eq!(
            type_of_decl("NVARCHAR(2147483647)"),
            Some(TdsType::NVarChar { max: true })
        );
        assert_eq!(type_of_decl("DATETIME2"), Some(TdsType::DateTime2(7)));
        assert_eq!(type_of_decl("whatever"), None);
    }
}
