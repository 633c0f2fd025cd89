//! Named parameters (`:name`) and their rewriting into each dialect's placeholders.

use std::fmt;

use crate::error::{Error, Result};
use crate::lex::{SqlSyntax, is_ident_char, is_ident_start, skip_region};
use crate::value::Value;

/// How a dialect writes the n-th positional placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaceholderStyle {
    /// PostgreSQL: `$1`.
    Dollar,
    /// SQL Server: `@P1`.
    AtP,
    /// SQLite: `?1`.
    QuestionNumbered,
}

impl PlaceholderStyle {
    /// The placeholder for the 1-based `index`.
    ///
    /// ```
    /// use dbm_core::PlaceholderStyle;
    /// assert_eq!(PlaceholderStyle::AtP.placeholder(3), "@P3");
    /// ```
    pub fn placeholder(self, index: usize) -> String {
        match self {
            PlaceholderStyle::Dollar => format!("${index}"),
            PlaceholderStyle::AtP => format!("@P{index}"),
            PlaceholderStyle::QuestionNumbered => format!("?{index}"),
        }
    }
}

/// Named parameter values. Names are given without the colon.
///
/// ```
/// use dbm_core::{params, Params, Value};
/// let p = params! { "id" => 7, "name" => "ada", "note" => None::<String> };
/// assert_eq!(p.get("id"), Some(&Value::Int(7)));
/// assert_eq!(p.len(), 3);
/// let same = Params::new().bind("id", 7).bind("name", "ada").bind("note", None::<String>);
/// assert_eq!(p, same);
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Params {
    entries: Vec<(String, Value)>,
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a parameter, builder style.
    pub fn bind(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds (or replaces) a parameter.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let name = name.strip_prefix(':').map(str::to_owned).unwrap_or(name);
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The value of a parameter.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The parameter names, in the order they were bound.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }
}

/// Parameter values are data: `Debug` shows names and types only, never values, so that
/// logging a call cannot leak what it bound.
impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(n, v)| (n, v.type_name())))
            .finish()
    }
}

/// Builds [`Params`]: `params! { "id" => 1, "name" => "x" }`.
#[macro_export]
macro_rules! params {
    () => { $crate::Params::new() };
    ($($name:expr => $value:expr),+ $(,)?) => {
        $crate::Params::new()$(.bind($name, $value))+
    };
}

/// SQL rewritten for one dialect, with its values in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundSql {
    /// The SQL text with dialect placeholders.
    pub sql: String,
    /// One value per placeholder index (a name used twice is bound once).
    pub values: Vec<Value>,
}

/// Rewrites `:name` markers into `style` placeholders and orders the values to match.
///
/// Markers inside string literals, quoted identifiers, comments and dollar-quoted bodies are
/// left alone, as are PostgreSQL `::` casts; `\:` writes a literal colon. A name used in the
/// SQL but not given, or given but not used, is an error; so is SQL with no statement in it.
///
/// ```
/// use dbm_core::{bind_named, params, PlaceholderStyle, SqlSyntax};
/// let b = bind_named(
///     "SELECT :a::int, ':a', :b, :a",
///     &params! { "a" => 1, "b" => 2 },
///     PlaceholderStyle::Dollar,
///     &SqlSyntax::POSTGRES,
/// ).unwrap();
/// assert_eq!(b.sql, "SELECT $1::int, ':a', $2, $1");
/// assert_eq!(b.values.len(), 2);
/// ```
pub fn bind_named(
    sql: &str,
    params: &Params,
    style: PlaceholderStyle,
    syntax: &SqlSyntax,
) -> Result<BoundSql> {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut order: Vec<&str> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    let mut has_code = false;
    let mut copied = 0; // bytes of `sql` already written to `out`
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = skip_region(b, i, syntax) {
            if !(b[i] == b'-' || b[i] == b'/') {
                has_code = true; // a literal or quoted identifier is a statement's content
            }
            i = end;
            continue;
        }
        let c = b[i];
        if !c.is_ascii_whitespace() && c != b';' {
            has_code = true;
        }
        if c == b':' && b.get(i + 1) == Some(&b':') {
            i += 2; // `::` cast
            continue;
        }
        if c == b'\\' && b.get(i + 1) == Some(&b':') {
            out.push_str(&sql[copied..i]);
            copied = i + 1; // drop the backslash, keep the colon
            i += 2;
            continue;
        }
        if c == b':'
            && b.get(i + 1).is_some_and(|&n| is_ident_start(n))
            && (i == 0 || !is_ident_char(b[i - 1]))
        {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && is_ident_char(b[end]) {
                end += 1;
            }
            let name = &sql[start..end];
            out.push_str(&sql[copied..i]);
            let index = match order.iter().position(|n| *n == name) {
                Some(p) => p + 1,
                None => {
                    order.push(name);
                    if params.get(name).is_none() && !missing.iter().any(|m| m == name) {
                        missing.push(name.to_owned());
                    }
                    order.len()
                }
            };
            out.push_str(&style.placeholder(index));
            copied = end;
            i = end;
            continue;
        }
        i += 1;
    }
    out.push_str(&sql[copied..]);

    if !has_code {
        return Err(Error::parameter(
            "the SQL is empty (nothing but whitespace or comments)",
        ));
    }
    if !missing.is_empty() {
        let given: Vec<&str> = params.names().collect();
        return Err(Error::parameter(format!(
            "the SQL uses {} but no value was given (given: {})",
            list(&missing),
            if given.is_empty() {
                "none".to_owned()
            } else {
                given.join(", ")
            }
        ))
        .with_hint("bind every `:name` the SQL uses, e.g. params! { \"name\" => value }"));
    }
    let unused: Vec<String> = params
        .names()
        .filter(|n| !order.contains(n))
        .map(str::to_owned)
        .collect();
    if !unused.is_empty() {
        return Err(
            Error::parameter(format!("{} given but not used by the SQL", list(&unused)))
                .with_hint("check the spelling of the `:name` markers, or remove the extra values"),
        );
    }
    let values = order
        .iter()
        .map(|n| params.get(n).cloned().unwrap_or(Value::Null))
        .collect();
    Ok(BoundSql { sql: out, values })
}

fn list(names: &[String]) -> String {
    let marked: Vec<String> = names.iter().map(|n| format!(":{n}")).collect();
    let noun = if names.len() == 1 {
        "parameter"
    } else {
        "parameters"
    };
    format!("{noun} {}", marked.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str, p: &Params) -> Result<BoundSql> {
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
}
