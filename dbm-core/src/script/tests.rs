use super::*;

fn sqls(v: &[ScriptStatement]) -> Vec<&str> {
    v.iter().map(|s| s.sql.as_str()).collect()
}

fn lite(script: &str) -> Vec<ScriptStatement> {
    split_script(script, &SqlSyntax::SQLITE, ScriptSplit::Semicolon)
}

fn pg(script: &str) -> Vec<ScriptStatement> {
    split_script(script, &SqlSyntax::POSTGRES, ScriptSplit::Semicolon)
}

#[test]
fn semicolons_outside_literals_and_comments() {
    let script = "-- header; comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n/* ; */\nINSERT INTO a VALUES ('a;b'); INSERT INTO \"we;ird\" VALUES (1)\n";
    let s = lite(script);
    assert_eq!(
        sqls(&s),
        [
            "-- header; comment\nCREATE TABLE a (x TEXT DEFAULT ';')",
            "/* ; */\nINSERT INTO a VALUES ('a;b')",
            "INSERT INTO \"we;ird\" VALUES (1)"
        ]
    );
    assert_eq!(s.iter().map(|s| s.line).collect::<Vec<_>>(), [2, 4, 4]);
    assert_eq!(s[0].first_line(), "CREATE TABLE a (x TEXT DEFAULT ';')");
    assert_eq!(s[1].first_line(), "INSERT INTO a VALUES ('a;b')");
}

#[test]
fn sqlite_comments_do_not_nest_so_nothing_after_them_is_lost() {
    // The review's case: PostgreSQL's nesting rule hid the CREATE.
    let s = lite(
        "/* load /data/*.csv */\nCREATE TABLE staging (id INTEGER);\nINSERT INTO staging VALUES (1);",
    );
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[0].first_line(), "CREATE TABLE staging (id INTEGER)");
    assert_eq!(s[0].line, 2);
    // In PostgreSQL the same comment is still open: the rest is comment.
    assert!(pg("/* load /data/*.csv */\nSELECT 1;").is_empty());
    assert_eq!(pg("/* a /* b */ c */ SELECT 1;").len(), 1);
}

#[test]
fn only_the_dialects_own_white_space_is_empty() {
    // U+00A0, U+000B and U+2028 are not white space to SQLite: the database judges them.
    for odd in ["\u{a0}", "\u{b}", "\u{2028}", "\u{feff}"] {
        let s = lite(&format!("SELECT 1;{odd};SELECT 2"));
        assert_eq!(sqls(&s), ["SELECT 1", odd, "SELECT 2"], "{odd:?}");
    }
    // Form feed is white space to SQLite and PostgreSQL, not (here) to SQL Server.
    assert_eq!(lite("SELECT 1;\u{c};SELECT 2").len(), 2);
    assert_eq!(pg("SELECT 1;\u{c};SELECT 2").len(), 2);
    assert_eq!(
        split_script(
            "SELECT 1\nGO\n\u{c}\nGO\n",
            &SqlSyntax::MSSQL,
            ScriptSplit::GoBatches
        )
        .len(),
        2
    );
    // Statements keep Unicode spaces at their ends.
    assert_eq!(sqls(&lite(" SELECT 1\u{a0};")), ["SELECT 1\u{a0}"]);
}

#[test]
fn sqlite_triggers_end_at_semicolon_end_semicolon() {
    let script = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = CASE WHEN n > 0 THEN n + 1 ELSE 1 END;\n  DELETE FROM c;\nEND;\nSELECT 1;";
    let s = lite(script);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(s[0].sql.ends_with("END"));
    assert_eq!(s[1].sql, "SELECT 1");
    assert_eq!(s[1].line, 5);
    let s = lite("create temp trigger t after delete on a begin select 1; end ; select 2");
    assert_eq!(s.len(), 2, "{s:?}");
    let s =
        lite("EXPLAIN QUERY PLAN CREATE TRIGGER t AFTER DELETE ON a BEGIN SELECT 1; END; SELECT 2");
    assert_eq!(s.len(), 2, "{s:?}");
}

#[test]
fn begin_and_end_as_names_do_not_merge_statements() {
    let s = lite("CREATE TABLE t (begin INTEGER, x TEXT);\nINSERT INTO t VALUES (1, 'a');");
    assert_eq!(s.len(), 2, "{s:?}");
    let s = lite("BEGIN; SELECT 1; END;");
    assert_eq!(sqls(&s), ["BEGIN", "SELECT 1", "END"]);
    let s = pg("CREATE TABLE t (begin_at date, \"end\" int); SELECT 1;");
    assert_eq!(s.len(), 2, "{s:?}");
}

#[test]
fn postgres_bodies_stay_whole() {
    let script = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\nSELECT f();";
    let s = pg(script);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[1].line, 2);
    let atomic = "CREATE OR REPLACE PROCEDURE p(a int)\nLANGUAGE SQL\nBEGIN ATOMIC\n  INSERT INTO t VALUES (a);\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\nEND;\nCALL p(1);";
    let s = pg(atomic);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[1].sql, "CALL p(1)");
    // psql keeps a `;` inside parentheses in the statement.
    assert_eq!(pg("SELECT (1;2); SELECT 3").len(), 2);
}

#[test]
fn comment_only_pieces_are_the_only_ones_left_out() {
    assert_eq!(sqls(&lite("SELECT 1;\n-- the end\n")), ["SELECT 1"]);
    assert_eq!(
        sqls(&lite("SELECT 1;;  ;\n/* x */;SELECT 2")),
        ["SELECT 1", "SELECT 2"]
    );
    assert!(lite("/* never closed SELECT 1;").is_empty());
}

#[test]
fn first_line_skips_comments_and_directives() {
    let s = pg(
        "-- dbm:no-transaction\n-- why\n/* more\n */   CREATE INDEX CONCURRENTLY i\n  ON t (x);",
    );
    assert_eq!(s[0].first_line(), "CREATE INDEX CONCURRENTLY i");
    assert_eq!(s[0].line, 4);
}

#[test]
fn lines_are_counted_across_many_statements() {
    let script: String = (0..1000)
        .map(|i| format!("INSERT INTO t VALUES ({i});\n"))
        .collect();
    let s = lite(&script);
    assert_eq!(s.len(), 1000);
    assert!(s.iter().enumerate().all(|(i, st)| st.line == i + 1));
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
    // SQL Server nests comments: the GO inside the inner comment is still commented out.
    let s = split_script(
        "/* a /* b */\nGO\n*/ SELECT 1\nGO\nSELECT 2",
        &SqlSyntax::MSSQL,
        ScriptSplit::GoBatches,
    );
    assert_eq!(s.len(), 2, "{s:?}");
}
