//! A small SQL lexer: finds the regions (literals, quoted identifiers, comments) in which
//! parameter markers, semicolons and `GO` lines mean nothing. Every rule is per dialect:
//! one dialect's rules applied to another drop or merge statements.

/// How a dialect recognises statements that hold semicolons of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompoundRule {
    /// No such statements: every `;` outside literals and comments ends a statement.
    None,
    /// SQLite (`sqlite3_complete`): after `[EXPLAIN] CREATE [TEMP|TEMPORARY] TRIGGER`, a
    /// statement ends only at `; END ;`.
    SqliteTrigger,
    /// psql: in `CREATE [OR REPLACE] FUNCTION|PROCEDURE`, `BEGIN ... END` blocks (and the
    /// `CASE ... END` inside them) outside parentheses keep their semicolons, and no `;`
    /// inside parentheses ends a statement.
    PsqlBlocks,
}

/// Which lexical features a SQL dialect has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqlSyntax {
    /// PostgreSQL `$tag$ ... $tag$` bodies.
    pub dollar_quotes: bool,
    /// SQL Server and SQLite `[identifier]`.
    pub bracket_identifiers: bool,
    /// Whether `]]` inside `[...]` is an escaped `]` (SQL Server) or the identifier ends at
    /// the first `]` (SQLite).
    pub bracket_escapes: bool,
    /// Whether `/* /* */ */` nests (PostgreSQL, SQL Server) or ends at the first `*/` (SQLite).
    pub nested_comments: bool,
    /// PostgreSQL `E'...'` strings with backslash escapes.
    pub escape_strings: bool,
    /// SQLite and MySQL `` `identifier` ``.
    pub backtick_identifiers: bool,
    /// The bytes the dialect's tokenizer treats as white space. Anything else (U+00A0,
    /// U+000B, U+2028, ...) is left for the database to judge.
    pub whitespace: &'static [u8],
    /// How statements with semicolons inside them are kept whole.
    pub compound: CompoundRule,
}

impl SqlSyntax {
    /// PostgreSQL (the white space of `scan.l`).
    pub const POSTGRES: SqlSyntax = SqlSyntax {
        dollar_quotes: true,
        bracket_identifiers: false,
        bracket_escapes: false,
        nested_comments: true,
        escape_strings: true,
        backtick_identifiers: false,
        whitespace: b" \t\n\r\x0c",
        compound: CompoundRule::PsqlBlocks,
    };
    /// SQL Server.
    pub const MSSQL: SqlSyntax = SqlSyntax {
        dollar_quotes: false,
        bracket_identifiers: true,
        bracket_escapes: true,
        nested_comments: true,
        escape_strings: false,
        backtick_identifiers: false,
        whitespace: b" \t\n\r",
        compound: CompoundRule::None,
    };
    /// SQLite (the white space of `tokenize.c`; `\x0b` is an illegal token there).
    pub const SQLITE: SqlSyntax = SqlSyntax {
        dollar_quotes: false,
        bracket_identifiers: true,
        bracket_escapes: false,
        nested_comments: false,
        escape_strings: false,
        backtick_identifiers: true,
        whitespace: b" \t\n\x0c\r",
        compound: CompoundRule::SqliteTrigger,
    };

    /// Whether the dialect's tokenizer treats `b` as white space.
    ///
    /// ```
    /// use dbm_core::SqlSyntax;
    /// assert!(SqlSyntax::SQLITE.is_space(b'\x0c'));
    /// assert!(!SqlSyntax::SQLITE.is_space(b'\x0b'));
    /// assert!(!SqlSyntax::MSSQL.is_space(0xa0));
    /// ```
    pub fn is_space(&self, b: u8) -> bool {
        self.whitespace.contains(&b)
    }

    /// `text` without the dialect's white space at either end (Unicode spaces are kept).
    pub(crate) fn trim<'a>(&self, text: &'a str) -> &'a str {
        text.trim_matches(|c: char| c.is_ascii() && self.is_space(c as u8))
    }
}

pub(crate) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(crate) fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Whether a comment starts at `i`.
pub(crate) fn is_comment_start(b: &[u8], i: usize) -> bool {
    matches!(
        (b[i], b.get(i + 1)),
        (b'-', Some(b'-')) | (b'/', Some(b'*'))
    )
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
            Some(skip_quoted(b, i, b'\'', escapes, true))
        }
        b'"' => Some(skip_quoted(b, i, b'"', false, true)),
        b'`' if syn.backtick_identifiers => Some(skip_quoted(b, i, b'`', false, true)),
        b'[' if syn.bracket_identifiers => {
            Some(skip_quoted(b, i, b']', false, syn.bracket_escapes))
        }
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

/// Skips `open ... close`; with `doubling`, a doubled `close` is an escaped one.
fn skip_quoted(
    b: &[u8],
    start: usize,
    close: u8,
    backslash_escapes: bool,
    doubling: bool,
) -> usize {
    let mut j = start + 1;
    while j < b.len() {
        if backslash_escapes && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == close {
            if doubling && b.get(j + 1) == Some(&close) {
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
    let end = find(&b[body..], tag).map_or(b.len(), |p| body + p + tag.len());
    Some(end)
}

/// The first position of `needle` in `hay`, in time linear in `hay` for the short tags
/// dollar quotes use (the first byte is searched with `memchr`-like iteration).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(p) = hay[from..].iter().position(|&x| x == first) {
        let at = from + p;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
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
        // SQLite ends a bracket identifier at the first `]`.
        assert_eq!(region("[a]]b] x", SqlSyntax::SQLITE), Some("[a]"));
        assert_eq!(region("[1]", pg), None);
        assert_eq!(region("'open", pg), Some("'open"));
        assert_eq!(region("/* open", SqlSyntax::SQLITE), Some("/* open"));
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

    #[test]
    fn trim_keeps_unicode_spaces() {
        let s = SqlSyntax::SQLITE;
        assert_eq!(s.trim(" \n\u{a0}x\u{2028}\x0b\t"), "\u{a0}x\u{2028}\x0b");
        assert_eq!(s.trim("\x0c x \r"), "x");
        assert_eq!(SqlSyntax::MSSQL.trim("\x0cx"), "\x0cx");
    }
}
