//! A small SQL lexer: finds the regions (literals, quoted identifiers, comments) in which
//! parameter markers, semicolons and `GO` lines mean nothing.

/// Which lexical features a SQL dialect has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlSyntax {
    /// PostgreSQL `$tag$ ... $tag$` bodies.
    pub dollar_quotes: bool,
    /// SQL Server and SQLite `[identifier]`.
    pub bracket_identifiers: bool,
    /// Whether `/* /* */ */` nests (PostgreSQL, SQL Server) or ends at the first `*/` (SQLite).
    pub nested_comments: bool,
    /// PostgreSQL `E'...'` strings with backslash escapes.
    pub escape_strings: bool,
    /// SQLite and MySQL `` `identifier` ``.
    pub backtick_identifiers: bool,
}

impl SqlSyntax {
    /// PostgreSQL.
    pub const POSTGRES: SqlSyntax = SqlSyntax {
        dollar_quotes: true,
        bracket_identifiers: false,
        nested_comments: true,
        escape_strings: true,
        backtick_identifiers: false,
    };
    /// SQL Server.
    pub const MSSQL: SqlSyntax = SqlSyntax {
        dollar_quotes: false,
        bracket_identifiers: true,
        nested_comments: true,
        escape_strings: false,
        backtick_identifiers: false,
    };
    /// SQLite.
    pub const SQLITE: SqlSyntax = SqlSyntax {
        dollar_quotes: false,
        bracket_identifiers: true,
        nested_comments: false,
        escape_strings: false,
        backtick_identifiers: true,
    };
}

pub(crate) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(crate) fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// If a string literal, quoted identifier or comment starts at `i`, returns the index just
/// past its end (the end of input when it is unterminated: the database reports that).
pub(crate) fn skip_region(b: &[u8], i: usize, syn: &SqlSyntax) -> Option<usize> {
    let c = b[i];
    let next = b.get(i + 1).copied();
    match c {
        b'\'' => {
            let escapes = syn.escape_strings
                && i > 0
                && matches!(b[i - 1], b'e' | b'E')
                && (i < 2 || !is_ident_char(b[i - 2]));
            Some(skip_quoted(b, i, b'\'', escapes))
        }
        b'"' => Some(skip_quoted(b, i, b'"', false)),
        b'`' if syn.backtick_identifiers => Some(skip_quoted(b, i, b'`', false)),
        b'[' if syn.bracket_identifiers => Some(skip_quoted(b, i, b']', false)),
        b'-' if next == Some(b'-') => Some(
            b[i..]
                .iter()
                .position(|&x| x == b'\n')
                .map_or(b.len(), |p| i + p + 1),
        ),
        b'/' if next == Some(b'*') => Some(skip_block_comment(b, i, syn.nested_comments)),
        b'$' if syn.dollar_quotes => skip_dollar_quote(b, i),
        _ => None,
    }
}

/// Skips `open ... close` where a doubled `close` is an escaped one.
fn skip_quoted(b: &[u8], start: usize, close: u8, backslash_escapes: bool) -> usize {
    let mut j = start + 1;
    while j < b.len() {
        if backslash_escapes && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == close {
            if b.get(j + 1) == Some(&close) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

fn skip_block_comment(b: &[u8], start: usize, nested: bool) -> usize {
    let mut depth = 1;
    let mut j = start + 2;
    while j + 1 < b.len() {
        if nested && b[j] == b'/' && b[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// `$$...$$` or `$tag$...$tag$`; `$1` (a positional parameter) is not a dollar quote.
fn skip_dollar_quote(b: &[u8], start: usize) -> Option<usize> {
    if start > 0 && is_ident_char(b[start - 1]) {
        return None; // part of an identifier such as `a$b`
    }
    let mut j = start + 1;
    if j < b.len() && is_ident_start(b[j]) {
        while j < b.len() && is_ident_char(b[j]) && b[j] != b'$' {
            j += 1;
        }
    }
    if b.get(j) != Some(&b'$') {
        return None;
    }
    let tag = &b[start..=j];
    let body = j + 1;
    let end = b[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(b.len(), |p| body + p + tag.len());
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(sql: &str, syn: SqlSyntax) -> Option<&str> {
        skip_region(sql.as_bytes(), 0, &syn).map(|end| &sql[..end])
    }

    #[test]
    fn regions() {
        let pg = SqlSyntax::POSTGRES;
        assert_eq!(region("'it''s' x", pg), Some("'it''s'"));
        assert_eq!(region("\"a\"\"b\" x", pg), Some("\"a\"\"b\""));
        assert_eq!(region("-- c\nx", pg), Some("-- c\n"));
        assert_eq!(region("/* a /* b */ c */ x", pg), Some("/* a /* b */ c */"));
        assert_eq!(
            region("/* a /* b */ c */ x", SqlSyntax::SQLITE),
            Some("/* a /* b */")
        );
        assert_eq!(region("$$ a ' b $$ x", pg), Some("$$ a ' b $$"));
        assert_eq!(region("$fn$ $$ $fn$ x", pg), Some("$fn$ $$ $fn$"));
        assert_eq!(region("$1 x", pg), None);
        assert_eq!(region("[a]]b] x", SqlSyntax::MSSQL), Some("[a]]b]"));
        assert_eq!(region("[1]", pg), None);
        assert_eq!(region("'open", pg), Some("'open"));
    }

    #[test]
    fn escape_strings_only_after_e_prefix() {
        let sql = "E'a\\'b' x";
        assert_eq!(
            skip_region(sql.as_bytes(), 1, &SqlSyntax::POSTGRES),
            Some(7)
        );
        let sql = "'a\\' x'";
        assert_eq!(
            skip_region(sql.as_bytes(), 0, &SqlSyntax::POSTGRES),
            Some(4)
        );
    }
}
