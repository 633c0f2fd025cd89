//! Following the session's transaction state through plain SQL (`execute("BEGIN")`), so
//! that a connection is never returned to the pool inside a transaction.

/// How a statement changes the session's transaction state: `Some(true)` opens one,
/// `Some(false)` ends one. SQL sent through `execute("BEGIN")` must be tracked too, or a
/// connection would go back to the pool inside a transaction.
///
/// Called for every statement, so the common case is cheap: SQL without a `;` before its
/// end is one statement, and only its first two words are read (no split, no allocation).
pub(crate) fn transaction_effect(sql: &str) -> Option<bool> {
    let body = sql.trim_end().trim_end_matches(';');
    if !body.contains(';') {
        return statement_effect(body);
    }
    let mut effect = None;
    for stmt in dbm_core::split_script(
        sql,
        &dbm_core::SqlSyntax::POSTGRES,
        dbm_core::ScriptSplit::Semicolon,
    ) {
        if let Some(e) = statement_effect(&stmt.sql) {
            effect = Some(e);
        }
    }
    effect
}

/// The transaction effect of one statement, from its first two words (comments skipped,
/// case ignored).
fn statement_effect(stmt: &str) -> Option<bool> {
    // Most statements are not about transactions: their first two letters say so (SELECT,
    // SET, INSERT, UPDATE ... are told apart from START, BEGIN, COMMIT, END ... here).
    let mut bytes = stmt.bytes().skip_while(u8::is_ascii_whitespace);
    let first = bytes.next()?.to_ascii_uppercase();
    let second = bytes.next().map(|b| b.to_ascii_uppercase());
    let maybe = match first {
        b'S' => second == Some(b'T'),
        b'B' | b'C' | b'E' | b'A' | b'R' | b'P' | b'-' | b'/' => true,
        _ => false,
    };
    if !maybe {
        return None;
    }
    let mut words = Words(stmt.as_bytes());
    let first = words.next()?;
    let is = |w: &[u8], k: &str| w.eq_ignore_ascii_case(k.as_bytes());
    if is(first, "BEGIN") || is(first, "START") {
        Some(true)
    } else if is(first, "COMMIT") || is(first, "END") || is(first, "ABORT") {
        Some(false)
    } else if is(first, "ROLLBACK") {
        // ROLLBACK TO SAVEPOINT keeps the transaction.
        (!words.next().is_some_and(|w| is(w, "TO"))).then_some(false)
    } else if is(first, "PREPARE") {
        words
            .next()
            .is_some_and(|w| is(w, "TRANSACTION"))
            .then_some(false)
    } else {
        None
    }
}

/// The words of SQL text: runs of bytes between ASCII white space, without `--` and
/// `/* */` comments and without a trailing `;`. Reads only as far as it is asked to.
struct Words<'a>(&'a [u8]);

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let b = self.0;
        let mut i = 0;
        loop {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b[i..].starts_with(b"--") {
                i += b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .unwrap_or(b.len() - i);
            } else if b[i..].starts_with(b"/*") {
                i += 2 + b[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(b.len() - i - 2, |p| p + 2);
            } else {
                break;
            }
        }
        if i >= b.len() {
            self.0 = &[];
            return None;
        }
        let mut end = i;
        while end < b.len()
            && !b[end].is_ascii_whitespace()
            && !b[end..].starts_with(b"--")
            && !b[end..].starts_with(b"/*")
        {
            end += 1;
        }
        self.0 = &b[end..];
        let mut word = &b[i..end];
        while let [rest @ .., b';'] = word {
            word = rest;
        }
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::transaction_effect;

    #[test]
    fn transaction_statements_are_recognised() {
        assert_eq!(transaction_effect("BEGIN"), Some(true));
        assert_eq!(
            transaction_effect("start transaction isolation level serializable"),
            Some(true)
        );
        assert_eq!(
            transaction_effect("BEGIN; INSERT INTO t VALUES (1); COMMIT;"),
            Some(false)
        );
        assert_eq!(transaction_effect("ROLLBACK TO SAVEPOINT a"), None);
        assert_eq!(transaction_effect("rollback"), Some(false));
        assert_eq!(transaction_effect("-- c\nEND"), Some(false));
        assert_eq!(transaction_effect("SELECT 'BEGIN'"), None);
        // The one-statement fast path: trailing `;` and white space, case, CASE ... END.
        assert_eq!(transaction_effect("  commit ;  \n"), Some(false));
        assert_eq!(transaction_effect("Begin;"), Some(true));
        assert_eq!(transaction_effect("SELECT CASE WHEN true THEN 1 END"), None);
        assert_eq!(transaction_effect("PREPARE TRANSACTION 'x'"), Some(false));
        assert_eq!(transaction_effect("PREPARE q AS SELECT 1"), None);
        assert_eq!(transaction_effect(""), None);
        assert_eq!(transaction_effect("  -- only a comment"), None);
        // Comments anywhere between the words, and glued to them.
        assert_eq!(transaction_effect("/* c; */ BEGIN"), Some(true));
        assert_eq!(transaction_effect("/* unterminated"), None);
        assert_eq!(transaction_effect("BEGIN--x"), Some(true));
        assert_eq!(transaction_effect("COMMIT/* x */"), Some(false));
        assert_eq!(transaction_effect("ROLLBACK -- why\n TO SAVEPOINT a"), None);
        assert_eq!(transaction_effect("ROLLBACK /* why */ TO a"), None);
        assert_eq!(transaction_effect("rollback;;"), Some(false));
        assert_eq!(transaction_effect("BEGINNING"), None);
        // A `;` inside a literal takes the splitting path, with the same answer.
        assert_eq!(transaction_effect("SELECT ';'"), None);
        assert_eq!(transaction_effect("COMMIT; SELECT ';'"), Some(false));
        assert_eq!(
            transaction_effect(
                "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql"
            ),
            None
        );
    }
}
