use super::*;

fn pg<'a>(sql: &'a str, p: &Params) -> Result<BoundSql<'a>> {
    bind_named(sql, p, PlaceholderStyle::Dollar, &SqlSyntax::POSTGRES)
}

#[test]
fn rewrite_table() {
    let p = params! { "a" => 1, "b" => "x" };
    // (sql, postgres, sql server, sqlite)
    let cases = [
        (
            "SELECT :a, :b",
            "SELECT $1, $2",
            "SELECT @P1, @P2",
            "SELECT ?1, ?2",
        ),
        (
            "SELECT :b WHERE x = :a OR y = :b",
            "SELECT $1 WHERE x = $2 OR y = $1",
            "SELECT @P1 WHERE x = @P2 OR y = @P1",
            "SELECT ?1 WHERE x = ?2 OR y = ?1",
        ),
        (
            "SELECT ':a', :a, \":b\", :b",
            "SELECT ':a', $1, \":b\", $2",
            "SELECT ':a', @P1, \":b\", @P2",
            "SELECT ':a', ?1, \":b\", ?2",
        ),
        (
            "SELECT :a -- :b\n, /* :b */ :b",
            "SELECT $1 -- :b\n, /* :b */ $2",
            "SELECT @P1 -- :b\n, /* :b */ @P2",
            "SELECT ?1 -- :b\n, /* :b */ ?2",
        ),
        (
            "SELECT 'it''s :a', :a,:b",
            "SELECT 'it''s :a', $1,$2",
            "SELECT 'it''s :a', @P1,@P2",
            "SELECT 'it''s :a', ?1,?2",
        ),
    ];
    for (sql, want_pg, want_ms, want_lite) in cases {
        assert_eq!(pg(sql, &p).unwrap().sql, want_pg, "{sql}");
        let ms = bind_named(sql, &p, PlaceholderStyle::AtP, &SqlSyntax::MSSQL).unwrap();
        assert_eq!(ms.sql, want_ms, "{sql}");
        let lite = bind_named(
            sql,
            &p,
            PlaceholderStyle::QuestionNumbered,
            &SqlSyntax::SQLITE,
        )
        .unwrap();
        assert_eq!(lite.sql, want_lite, "{sql}");
    }
}

#[test]
fn values_follow_first_use_order_and_repeats_bind_once() {
    let p = params! { "a" => 1, "b" => 2 };
    let b = pg("SELECT :b, :a, :b", &p).unwrap();
    assert_eq!(b.values, vec![Value::Int(2), Value::Int(1)]);
}

#[test]
fn postgres_specific_regions() {
    let p = params! { "x" => 1 };
    assert_eq!(
        pg("SELECT :x::text, now()::date", &p).unwrap().sql,
        "SELECT $1::text, now()::date"
    );
    assert_eq!(
        pg("SELECT $f$ :nope $f$, :x", &p).unwrap().sql,
        "SELECT $f$ :nope $f$, $1"
    );
    assert_eq!(
        pg("SELECT E'\\' :nope', :x", &p).unwrap().sql,
        "SELECT E'\\' :nope', $1"
    );
    assert_eq!(
        pg("SELECT arr[:x], /* /* :n */ :n */ 1", &p).unwrap().sql,
        "SELECT arr[$1], /* /* :n */ :n */ 1"
    );
}

#[test]
fn mssql_brackets_and_escaped_colon() {
    let p = params! { "x" => 1 };
    let b = bind_named(
        "SELECT [a:nope], '10\\:30', \\:lit, :x",
        &p,
        PlaceholderStyle::AtP,
        &SqlSyntax::MSSQL,
    )
    .unwrap();
    assert_eq!(b.sql, "SELECT [a:nope], '10\\:30', :lit, @P1");
}

#[test]
fn times_and_identifiers_with_colons_are_not_parameters() {
    let p = Params::new();
    assert_eq!(
        pg("SELECT '12:30:00'", &p).unwrap().sql,
        "SELECT '12:30:00'"
    );
    // A colon right after an identifier character (`a:b`) is not a marker.
    assert_eq!(pg("SELECT a:b", &p).unwrap().sql, "SELECT a:b");
    assert_eq!(pg("SELECT :1", &p).unwrap().sql, "SELECT :1");
}

#[test]
fn missing_parameter_is_an_error_naming_it() {
    let e = pg("SELECT :a, :b, :c", &params! { "a" => 1 }).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::Parameter);
    let msg = e.to_string();
    assert!(msg.contains("parameters :b, :c"), "{msg}");
    assert!(msg.contains("(given: a)"), "{msg}");
}

#[test]
fn unused_parameter_is_an_error_naming_it() {
    let e = pg("SELECT :a", &params! { "a" => 1, "id" => 2 }).unwrap_err();
    assert!(
        e.to_string().contains("parameter :id given but not used"),
        "{e}"
    );
    // A name that only appears inside a literal is unused.
    assert!(pg("SELECT ':id'", &params! { "id" => 2 }).is_err());
}

#[test]
fn empty_sql_is_an_error() {
    for sql in ["", "   \n", "-- nothing\n", "/* */ ;"] {
        let e = pg(sql, &Params::new()).unwrap_err();
        assert!(e.to_string().contains("the SQL is empty"), "{sql:?}: {e}");
    }
    assert!(pg("'x'", &Params::new()).is_ok());
}

#[test]
fn insert_strips_colon_and_replaces() {
    let mut p = Params::new();
    p.insert(":a", 1);
    p.insert("a", 2);
    assert_eq!(p.len(), 1);
    assert_eq!(p.get("a"), Some(&Value::Int(2)));
    assert_eq!(format!("{p:?}"), r#"{"a": "integer"}"#);
}

#[test]
fn many_parameters_bind_in_order_with_the_index() {
    let n = 2_000;
    let mut p = Params::new();
    let mut sql = String::from("SELECT ");
    for i in 0..n {
        p.insert(format!("p{i}"), i as i64);
        sql.push_str(&format!(":p{i}, "));
    }
    // Replacing through the index keeps one entry per name.
    p.insert(":p7", -7);
    assert_eq!(p.len(), n);
    assert_eq!(p.get("p7"), Some(&Value::Int(-7)));
    sql.push_str(":p0");
    let b = pg(&sql, &p).unwrap();
    assert_eq!(b.values.len(), n);
    assert_eq!(b.values[1999], Value::Int(1999));
    assert!(
        b.sql.ends_with("$2000, $1"),
        "{}",
        &b.sql[b.sql.len() - 20..]
    );
    // Used in another order than bound: found through the index.
    let reversed: Vec<String> = (0..n).rev().map(|i| format!(":p{i}")).collect();
    let sql = format!("SELECT {}", reversed.join(", "));
    let b = pg(&sql, &p).unwrap();
    assert_eq!(b.values[0], Value::Int(1999));
    assert_eq!(b.values[1992], Value::Int(-7));
    p.insert("extra", 1);
    let e = pg(&sql, &p).unwrap_err();
    assert!(
        e.to_string()
            .contains("parameter :extra given but not used"),
        "{e}"
    );
    let mut q = p.clone();
    q.insert("p3", 33);
    assert!(p == p.clone());
    assert!(p != q);
}

fn sqlite<'a>(sql: &'a str, p: &Params) -> Result<BoundSql<'a>> {
    bind_named(
        sql,
        p,
        PlaceholderStyle::QuestionNumbered,
        &SqlSyntax::SQLITE,
    )
}

fn mssql<'a>(sql: &'a str, p: &Params) -> Result<BoundSql<'a>> {
    bind_named(sql, p, PlaceholderStyle::AtP, &SqlSyntax::MSSQL)
}

#[test]
fn a_list_in_in_expands_to_one_placeholder_per_element_on_every_dialect() {
    let p = params! { "state" => "done", "ids" => vec![3i64, 5, 8] };
    let sql = "SELECT * FROM jobs WHERE state = :state AND id IN ( :ids ) OR id in(:ids)";
    assert_eq!(
        pg(sql, &p).unwrap().sql,
        "SELECT * FROM jobs WHERE state = $1 AND id IN ( $2, $3, $4 ) OR id in($2, $3, $4)"
    );
    assert_eq!(
        sqlite(sql, &p).unwrap().sql,
        "SELECT * FROM jobs WHERE state = ?1 AND id IN ( ?2, ?3, ?4 ) OR id in(?2, ?3, ?4)"
    );
    let b = mssql(sql, &p).unwrap();
    assert_eq!(
        b.sql,
        "SELECT * FROM jobs WHERE state = @P1 AND id IN ( @P2, @P3, @P4 ) OR id in(@P2, @P3, @P4)"
    );
    assert_eq!(
        b.values,
        [
            Value::Text("done".into()),
            Value::Int(3),
            Value::Int(5),
            Value::Int(8)
        ]
    );
    // Slices and arrays too; outside IN it stays one array value (PostgreSQL `= ANY`).
    let ids: &[i64] = &[1, 2];
    let b = pg("SELECT 1 WHERE 2 = ANY(:ids)", &params! { "ids" => ids }).unwrap();
    assert_eq!(b.sql, "SELECT 1 WHERE 2 = ANY($1)");
    assert_eq!(b.values, [Value::Array(vec![Value::Int(1), Value::Int(2)])]);
    let b = sqlite(
        "SELECT 1 WHERE 'b' IN (:names)",
        &params! { "names" => ["a", "b"] },
    )
    .unwrap();
    assert_eq!(b.sql, "SELECT 1 WHERE 'b' IN (?1, ?2)");
    // `pin (:x)` is not `IN (`.
    let b = pg("SELECT pin (:ids)", &params! { "ids" => vec![1i64] }).unwrap();
    assert_eq!(b.sql, "SELECT pin ($1)");
}

#[test]
fn list_misuse_and_wide_integers_are_errors_naming_the_parameter() {
    let e = pg(
        "SELECT 1 WHERE id IN (:ids)",
        &params! { "ids" => Vec::<i64>::new() },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("parameter :ids is an empty list"), "{e}");
    let e = pg(
        "SELECT 1 WHERE id IN (:ids) AND :ids IS NOT NULL",
        &params! { "ids" => vec![1i64] },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("used both inside `IN (...)`"), "{e}");
    let e = pg("SELECT :n", &params! { "n" => u64::MAX })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("parameter :n: 18446744073709551615 (u64) does not fit a 64-bit signed integer"),
        "{e}"
    );
    let e = pg("SELECT :n", &params! { "n" => vec![1u64, u64::MAX] })
        .unwrap_err()
        .to_string();
    assert!(e.contains("parameter :n: 18446744073709551615"), "{e}");
    // In range they bind as integers.
    let b = pg(
        "SELECT :a, :b, :c, :d, :e",
        &params! { "a" => 5u64, "b" => 6usize, "c" => 7u32, "d" => -8i16, "e" => 1.5f32 },
    )
    .unwrap();
    assert_eq!(
        b.values,
        [
            Value::Int(5),
            Value::Int(6),
            Value::Int(7),
            Value::Int(-8),
            Value::Float(1.5)
        ]
    );
}

#[test]
fn sql_needing_no_rewrite_is_borrowed_not_copied() {
    use std::borrow::Cow;
    let none = Params::new();
    for sql in ["SELECT 1", "SELECT '::'", "SELECT 1::int", "SELECT 1 -- :x"] {
        let b = pg(sql, &none).unwrap();
        assert!(matches!(b.sql, Cow::Borrowed(s) if s == sql), "{sql}");
    }
    let b = pg("SELECT :a", &params! { "a" => 1 }).unwrap();
    assert!(matches!(b.sql, Cow::Owned(ref s) if s == "SELECT $1"));
    let b = pg("SELECT a[1\\:2]", &none).unwrap();
    assert_eq!(b.sql, "SELECT a[1:2]", "an escaped colon is a rewrite");
    // The quick path keeps the checks of the full one.
    for empty in ["", "  ;  ", "-- only a comment", "/* c */ ;"] {
        assert!(
            pg(empty, &none).unwrap_err().to_string().contains("empty"),
            "{empty:?}"
        );
    }
    assert!(pg("SELECT :a", &none).is_err());
}
