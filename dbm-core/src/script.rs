//! Splitting SQL scripts (migration files) into the statements or batches a driver runs one
//! at a time, so that a failure can name the statement and its line.
//!
//! The splitter never drops a statement: a piece is left out only when it holds nothing
//! but the dialect's white space and comments. Anything else, even a lone U+00A0, is sent
//! to the database, which judges it. It runs in time linear in the script.

use crate::lex::{CompoundRule, SqlSyntax, is_comment_start, is_ident_char, skip_region};

/// How a dialect's scripts are divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptSplit {
    /// On `;` outside literals and comments, keeping whole the statements the dialect's
    /// [`CompoundRule`](crate::CompoundRule) describes (SQLite triggers, PostgreSQL
    /// `BEGIN ATOMIC` bodies).
    Semicolon,
    /// On lines holding only `GO` (SQL Server batches). Each batch runs as one unit.
    GoBatches,
}

/// One statement (or batch) of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScriptStatement {
    /// The statement text, without the dialect's white space at its ends and without its
    /// terminating `;` or `GO` line. Leading comments are kept (they are part of what runs).
    pub sql: String,
    /// The 1-based line of the script on which the statement's code starts (after any
    /// leading comments).
    pub line: usize,
    /// For `GO n`, how many times the batch runs (1 otherwise).
    pub repeat: u32,
    /// The byte offset in `sql` where the code starts, after leading comments.
    pub code_offset: usize,
}

impl ScriptStatement {
    /// The first line of the statement's code, leading comments (and directives such as
    /// `-- dbm:no-transaction`) left out: what an error message should quote.
    ///
    /// ```
    /// use dbm_core::{split_script, ScriptSplit, SqlSyntax};
    /// let s = split_script("-- dbm:no-transaction\n/* why */ CREATE INDEX i\n  ON t (x);", &SqlSyntax::POSTGRES, ScriptSplit::Semicolon);
    /// assert_eq!(s[0].first_line(), "CREATE INDEX i");
    /// assert_eq!(s[0].line, 2);
    /// ```
    pub fn first_line(&self) -> &str {
        let code = &self.sql[self.code_offset..];
        code.lines().next().unwrap_or("").trim_end()
    }
}

/// Splits `script` into statements, with the lexical rules of `syntax`.
///
/// ```
/// use dbm_core::{split_script, ScriptSplit, SqlSyntax};
/// let s = split_script("CREATE TABLE t(x);\n\nINSERT INTO t VALUES (';');\n", &SqlSyntax::SQLITE, ScriptSplit::Semicolon);
/// assert_eq!(s.len(), 2);
/// assert_eq!(s[1].sql, "INSERT INTO t VALUES (';')");
/// assert_eq!(s[1].line, 3);
/// // SQLite does not nest comments: the CREATE after this comment is kept.
/// let s = split_script("/* load /data/*.csv */\nCREATE TABLE staging (x)", &SqlSyntax::SQLITE, ScriptSplit::Semicolon);
/// assert_eq!(s[0].first_line(), "CREATE TABLE staging (x)");
/// ```
pub fn split_script(script: &str, syntax: &SqlSyntax, mode: ScriptSplit) -> Vec<ScriptStatement> {
    let mut out = Splitter {
        script,
        syntax,
        lines: LineCounter::default(),
        out: Vec::new(),
    };
    match mode {
        ScriptSplit::Semicolon => out.semicolons(),
        ScriptSplit::GoBatches => out.go_batches(),
    }
    out.out
}

/// Counts lines up to increasing offsets, so the whole script is scanned once.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: usize,
}

impl LineCounter {
    fn line_at(&mut self, script: &[u8], offset: usize) -> usize {
        debug_assert!(offset >= self.offset);
        self.line += script[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line + 1
    }
}

struct Splitter<'a> {
    script: &'a str,
    syntax: &'a SqlSyntax,
    lines: LineCounter,
    out: Vec<ScriptStatement>,
}

impl Splitter<'_> {
    /// Records `script[start..end]` unless it is only white space and comments.
    fn push(&mut self, start: usize, end: usize, repeat: u32) {
        let piece = &self.script[start..end];
        let Some(code) = first_code(piece, self.syntax) else {
            return;
        };
        let line = self.lines.line_at(self.script.as_bytes(), start + code);
        let sql = self.syntax.trim(piece);
        let leading = sql.as_ptr() as usize - piece.as_ptr() as usize;
        self.out.push(ScriptStatement {
            sql: sql.to_owned(),
            line,
            repeat,
            code_offset: code - leading,
        });
    }

    fn semicolons(&mut self) {
        let b = self.script.as_bytes();
        let syntax = *self.syntax;
        let mut start = 0;
        let mut i = 0;
        let mut compound = Compound::new(syntax.compound);
        while i < b.len() {
            if let Some(end) = skip_region(b, i, &syntax) {
                if !is_comment_start(b, i) {
                    compound.token(Token::Other);
                }
                i = end;
                continue;
            }
            let c = b[i];
            if syntax.is_space(c) {
                i += 1;
            } else if c == b';' {
                if compound.token(Token::Semicolon) {
                    self.push(start, i, 1);
                    start = i + 1;
                    compound = Compound::new(syntax.compound);
                }
                i += 1;
            } else if is_ident_char(c) || c == b'$' {
                let mut end = i + 1;
                while end < b.len() && (is_ident_char(b[end]) || b[end] == b'$') {
                    end += 1;
                }
                // Numbers and `$1`-style parameters are not words.
                let token = if c.is_ascii_digit() || c == b'$' {
                    Token::Other
                } else {
                    Token::Word(&b[i..end])
                };
                compound.token(token);
                i = end;
            } else {
                compound.token(match c {
                    b'(' => Token::Open,
                    b')' => Token::Close,
                    _ => Token::Other,
                });
                i += 1;
            }
        }
        self.push(start, b.len(), 1);
    }

    fn go_batches(&mut self) {
        let b = self.script.as_bytes();
        let syntax = *self.syntax;
        let mut start = 0;
        let mut i = 0;
        let mut line_start = true;
        while i < b.len() {
            if line_start && let Some((end, count)) = go_line(b, i, &syntax) {
                self.push(start, i, count);
                start = end;
                i = end;
                continue;
            }
            if let Some(end) = skip_region(b, i, &syntax) {
                // A region may swallow the newline (line comments do).
                line_start = b[end - 1] == b'\n';
                i = end;
                continue;
            }
            line_start = b[i] == b'\n';
            i += 1;
        }
        self.push(start, b.len(), 1);
    }
}

/// The offset of the first character that is neither the dialect's white space nor part
/// of a comment.
fn first_code(sql: &str, syntax: &SqlSyntax) -> Option<usize> {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if syntax.is_space(b[i]) {
            i += 1;
        } else if is_comment_start(b, i) {
            i = skip_region(b, i, syntax).unwrap_or(b.len());
        } else {
            return Some(i);
        }
    }
    None
}

/// If the line starting at `i` is a `GO [count]` separator (optionally followed by a `--`
/// comment), its end and the count.
fn go_line(b: &[u8], i: usize, syntax: &SqlSyntax) -> Option<(usize, u32)> {
    let end = b[i..]
        .iter()
        .position(|&x| x == b'\n')
        .map_or(b.len(), |p| i + p);
    let mut line = &b[i..end];
    if let Some(p) = line.windows(2).position(|w| w == b"--") {
        line = &line[..p];
    }
    let mut words = line
        .split(|&c| syntax.is_space(c))
        .filter(|w| !w.is_empty());
    let go = words.next()?;
    if !go.eq_ignore_ascii_case(b"GO") {
        return None;
    }
    let count = match words.next() {
        None => 1,
        Some(n) => std::str::from_utf8(n).ok()?.parse().ok()?,
    };
    words.next().is_none().then_some((end, count))
}

/// A token as the compound-statement rules see it.
#[derive(Clone, Copy)]
enum Token<'a> {
    Semicolon,
    Word(&'a [u8]),
    Open,
    Close,
    Other,
}

/// Tracks whether a `;` ends the current statement.
enum Compound {
    None,
    /// `sqlite3_complete`'s states: 1 start, 2 normal, 3 explain, 4 create, 5 trigger,
    /// 6 `;` inside a trigger, 7 `; END` inside a trigger.
    Sqlite(u8),
    /// psql's heuristic: the first words of the statement, `BEGIN` depth, parenthesis depth.
    Psql {
        words: [u8; 4],
        count: usize,
        begin_depth: u32,
        paren_depth: u32,
    },
}

impl Compound {
    fn new(rule: CompoundRule) -> Self {
        match rule {
            CompoundRule::SqliteTrigger => Compound::Sqlite(1),
            CompoundRule::PsqlBlocks => Compound::Psql {
                words: [0; 4],
                count: 0,
                begin_depth: 0,
                paren_depth: 0,
            },
            CompoundRule::None => Compound::None,
        }
    }

    /// Feeds one token; for a semicolon, returns whether it ends the statement.
    fn token(&mut self, token: Token<'_>) -> bool {
        match self {
            Compound::None => matches!(token, Token::Semicolon),
            Compound::Sqlite(state) => {
                let class = match token {
                    Token::Semicolon => 0,
                    Token::Word(w) if w.eq_ignore_ascii_case(b"explain") => 2,
                    Token::Word(w) if w.eq_ignore_ascii_case(b"create") => 3,
                    Token::Word(w)
                        if w.eq_ignore_ascii_case(b"temp")
                            || w.eq_ignore_ascii_case(b"temporary") =>
                    {
                        4
                    }
                    Token::Word(w) if w.eq_ignore_ascii_case(b"trigger") => 5,
                    Token::Word(w) if w.eq_ignore_ascii_case(b"end") => 6,
                    _ => 1,
                };
                // Rows: states 1..=7; columns: SEMI OTHER EXPLAIN CREATE TEMP TRIGGER END.
                const TRANS: [[u8; 7]; 7] = [
                    [1, 2, 3, 4, 2, 2, 2],
                    [1, 2, 2, 2, 2, 2, 2],
                    [1, 3, 2, 4, 2, 2, 2],
                    [1, 2, 2, 2, 4, 5, 2],
                    [6, 5, 5, 5, 5, 5, 5],
                    [6, 5, 5, 5, 5, 5, 7],
                    [1, 5, 5, 5, 5, 5, 5],
                ];
                *state = TRANS[usize::from(*state - 1)][class];
                class == 0 && *state == 1
            }
            Compound::Psql {
                words,
                count,
                begin_depth,
                paren_depth,
            } => match token {
                Token::Semicolon => *paren_depth == 0 && *begin_depth == 0,
                Token::Open => {
                    *paren_depth += 1;
                    false
                }
                Token::Close => {
                    *paren_depth = paren_depth.saturating_sub(1);
                    false
                }
                Token::Other => false,
                Token::Word(w) => {
                    if *count < words.len()
                        && ["create", "function", "procedure", "or", "replace"]
                            .iter()
                            .any(|k| w.eq_ignore_ascii_case(k.as_bytes()))
                    {
                        words[*count] = w[0].to_ascii_lowercase();
                    }
                    *count += 1;
                    let routine = words[0] == b'c'
                        && (matches!(words[1], b'f' | b'p')
                            || (words[1] == b'o'
                                && words[2] == b'r'
                                && matches!(words[3], b'f' | b'p')));
                    if routine && *paren_depth == 0 {
                        // CASE also ends with END; it only matters inside a BEGIN.
                        let case = w.eq_ignore_ascii_case(b"case") && *begin_depth >= 1;
                        if w.eq_ignore_ascii_case(b"begin") || case {
                            *begin_depth += 1;
                        } else if w.eq_ignore_ascii_case(b"end") {
                            *begin_depth = begin_depth.saturating_sub(1);
                        }
                    }
                    false
                }
            },
        }
    }
}

#[cfg(test)]
mod tests;
