//! Splitting SQL scripts (migration files) into the statements or batches a driver runs one
//! at a time, so that a failure can name the statement and its line.

use crate::lex::{SqlSyntax, is_ident_char, skip_region};

/// How a dialect's scripts are divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptSplit {
    /// On `;` outside literals and comments; `CREATE` statements with `BEGIN ... END` or
    /// `CASE ... END` blocks (SQLite triggers) are kept whole.
    Semicolon,
    /// On lines holding only `GO` (SQL Server batches). Each batch runs as one unit.
    GoBatches,
}

/// One statement (or batch) of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// The statement text, trimmed, without its terminating `;` or `GO` line.
    pub sql: String,
    /// The 1-based line of the script on which the statement starts.
    pub line: usize,
    /// For `GO n`, how many times the batch runs (1 otherwise).
    pub repeat: u32,
}

/// Splits `script` into statements.
///
/// ```
/// use dbm_core::{split_script, ScriptSplit, SqlSyntax};
/// let s = split_script("CREATE TABLE t(x);\n\nINSERT INTO t VALUES (';');\n", &SqlSyntax::SQLITE, ScriptSplit::Semicolon);
/// assert_eq!(s.len(), 2);
/// assert_eq!(s[1].sql, "INSERT INTO t VALUES (';')");
/// assert_eq!(s[1].line, 3);
/// ```
pub fn split_script(script: &str, syntax: &SqlSyntax, mode: ScriptSplit) -> Vec<ScriptStatement> {
    match mode {
        ScriptSplit::Semicolon => split_semicolons(script, syntax),
        ScriptSplit::GoBatches => split_go(script, syntax),
    }
}

fn push_statement(
    out: &mut Vec<ScriptStatement>,
    script: &str,
    start: usize,
    end: usize,
    repeat: u32,
) {
    let piece = &script[start..end];
    let Some(code) = first_code(piece) else {
        return; // only whitespace and comments
    };
    let line = script[..start + code]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1;
    out.push(ScriptStatement {
        sql: piece.trim().to_owned(),
        line,
        repeat,
    });
}

/// The offset of the first character that is neither white space nor part of a comment.
fn first_code(sql: &str) -> Option<usize> {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let comment = (b[i] == b'-' && b.get(i + 1) == Some(&b'-'))
            || (b[i] == b'/' && b.get(i + 1) == Some(&b'*'));
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if comment {
            i = skip_region(b, i, &SqlSyntax::POSTGRES).unwrap_or(b.len());
        } else {
            return Some(i);
        }
    }
    None
}

fn split_semicolons(script: &str, syntax: &SqlSyntax) -> Vec<ScriptStatement> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut first_word: Option<String> = None;
    let mut depth: i32 = 0;
    while i < b.len() {
        if let Some(end) = skip_region(b, i, syntax) {
            i = end;
            continue;
        }
        let c = b[i];
        if c.is_ascii_alphabetic() && (i == 0 || !is_ident_char(b[i - 1])) {
            let mut end = i;
            while end < b.len() && is_ident_char(b[end]) {
                end += 1;
            }
            let word = script[i..end].to_ascii_uppercase();
            match &first_word {
                None => first_word = Some(word),
                Some(first) if first == "CREATE" => match word.as_str() {
                    "BEGIN" | "CASE" => depth += 1,
                    "END" => depth -= 1,
                    _ => {}
                },
                Some(_) => {}
            }
            i = end;
            continue;
        }
        if c == b';' && depth <= 0 {
            push_statement(&mut out, script, start, i, 1);
            start = i + 1;
            first_word = None;
            depth = 0;
        }
        i += 1;
    }
    push_statement(&mut out, script, start, b.len(), 1);
    out
}

/// If the line starting at `i` is a `GO [count]` separator, its end and the count.
fn go_line(b: &[u8], i: usize) -> Option<(usize, u32)> {
    let end = b[i..]
        .iter()
        .position(|&x| x == b'\n')
        .map_or(b.len(), |p| i + p);
    let line = std::str::from_utf8(&b[i..end]).ok()?;
    let line = match line.find("--") {
        Some(p) => &line[..p],
        None => line,
    };
    let mut words = line.split_whitespace();
    let go = words.next()?;
    if !go.eq_ignore_ascii_case("GO") {
        return None;
    }
    let count = match words.next() {
        None => 1,
        Some(n) => n.parse().ok()?,
    };
    words.next().is_none().then_some((end, count))
}

fn split_go(script: &str, syntax: &SqlSyntax) -> Vec<ScriptStatement> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        if line_start && let Some((end, count)) = go_line(b, i) {
            push_statement(&mut out, script, start, i, count);
            start = end;
            i = end;
            continue;
        }
        if let Some(end) = skip_region(b, i, syntax) {
            // A region may swallow the newline (line comments do).
            line_start = b[end - 1] == b'\n';
            i = end;
            continue;
        }
        line_start = b[i] == b'\n';
        i += 1;
    }
    push_statement(&mut out, script, start, b.len(), 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(v: &[ScriptStatement]) -> Vec<&str> {
        v.iter().map(|s| s.sql.as_str()).collect()
    }

    #[test]
    fn semicolons_outside_literals_and_comments() {
        let script = "-- header; comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n/* ; */\nINSERT INTO a VALUES ('a;b'); INSERT INTO \"we;ird\" VALUES (1)\n";
        let s = split_script(script, &SqlSyntax::SQLITE, ScriptSplit::Semicolon);
        assert_eq!(
            sqls(&s),
            [
                "-- header; comment\nCREATE TABLE a (x TEXT DEFAULT ';')",
                "/* ; */\nINSERT INTO a VALUES ('a;b')",
                "INSERT INTO \"we;ird\" VALUES (1)"
            ]
        );
        assert_eq!(s.iter().map(|s| s.line).collect::<Vec<_>>(), [2, 4, 4]);
    }

    #[test]
    fn trigger_bodies_stay_whole() {
        let script = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = CASE WHEN n > 0 THEN n + 1 ELSE 1 END;\n  DELETE FROM c;\nEND;\nSELECT 1;";
        let s = split_script(script, &SqlSyntax::SQLITE, ScriptSplit::Semicolon);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].sql.ends_with("END"));
        assert_eq!(s[1].sql, "SELECT 1");
        assert_eq!(s[1].line, 5);
    }

    #[test]
    fn transaction_begin_is_not_a_block() {
        let s = split_script(
            "BEGIN; SELECT 1; END;",
            &SqlSyntax::SQLITE,
            ScriptSplit::Semicolon,
        );
        assert_eq!(sqls(&s), ["BEGIN", "SELECT 1", "END"]);
    }

    #[test]
    fn dollar_bodies_stay_whole_in_postgres() {
        let script = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\nSELECT f();";
        let s = split_script(script, &SqlSyntax::POSTGRES, ScriptSplit::Semicolon);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[1].line, 2);
    }

    #[test]
    fn comment_only_tail_is_dropped() {
        let s = split_script(
            "SELECT 1;\n-- the end\n",
            &SqlSyntax::SQLITE,
            ScriptSplit::Semicolon,
        );
        assert_eq!(sqls(&s), ["SELECT 1"]);
    }

    #[test]
    fn go_batches() {
        let script = "CREATE TABLE a (x int);\nINSERT INTO a VALUES (1);\nGO\nPRINT 'GO'\n/*\nGO\n*/\ngo 3\n  GO  -- trailing comment\nSELECT [GO\n] FROM a\n";
        let s = split_script(script, &SqlSyntax::MSSQL, ScriptSplit::GoBatches);
        assert_eq!(
            sqls(&s),
            [
                "CREATE TABLE a (x int);\nINSERT INTO a VALUES (1);",
                "PRINT 'GO'\n/*\nGO\n*/",
                "SELECT [GO\n] FROM a"
            ]
        );
        assert_eq!(s[1].repeat, 3);
        assert_eq!(s.iter().map(|s| s.line).collect::<Vec<_>>(), [1, 4, 10]);
    }

    #[test]
    fn go_inside_a_word_or_string_is_not_a_separator() {
        let script = "SELECT 'a\nGO\nb';\nGOTO x\n";
        let s = split_script(script, &SqlSyntax::MSSQL, ScriptSplit::GoBatches);
        assert_eq!(s.len(), 1);
    }
}
