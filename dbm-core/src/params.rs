//! Named parameters (`:name`) and their rewriting into each dialect's placeholders.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use crate::error::{Error, Result};
use crate::lex::{SqlSyntax, is_comment_start, is_ident_char, is_ident_start, skip_region};
use crate::value::{IntoValue, Value};

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
        let mut s = String::new();
        self.write_placeholder(&mut s, index);
        s
    }

    fn write_placeholder(self, out: &mut String, index: usize) {
        use fmt::Write as _;
        let prefix = match self {
            PlaceholderStyle::Dollar => "$",
            PlaceholderStyle::AtP => "@P",
            PlaceholderStyle::QuestionNumbered => "?",
        };
        out.push_str(prefix);
        let _ = write!(out, "{index}");
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
#[derive(Clone, Default)]
pub struct Params {
    entries: Vec<(String, Value)>,
    /// The first value that could not be bound (`u64::MAX`), reported when the SQL is bound.
    error: Option<String>,
    /// Positions by name, built once there are more than [`INDEX_FROM`] entries, so that
    /// binding many parameters stays linear.
    index: Option<NameIndex>,
}

/// Below this many names a linear scan is cheaper than a hash table.
const INDEX_FROM: usize = 16;

/// Positions of names in a list, found by hash. The table holds positions only (the names
/// stay in the list), so a large index costs a few bytes per name.
#[derive(Clone, Default)]
struct NameIndex {
    table: HashTable<u32>,
    hasher: RandomState,
}

impl NameIndex {
    /// An index of `names[0..]`.
    fn build<'n>(names: impl ExactSizeIterator<Item = &'n str> + Clone) -> Self {
        let mut index = NameIndex {
            table: HashTable::with_capacity(names.len() * 2),
            hasher: RandomState::new(),
        };
        let all: Vec<&str> = names.collect();
        for (i, n) in all.iter().enumerate() {
            index.insert(n, i, |p| all[p]);
        }
        index
    }

    fn find<'n>(&self, name: &str, name_at: impl Fn(usize) -> &'n str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.table
            .find(hash, |&p| name_at(p as usize) == name)
            .map(|&p| p as usize)
    }

    fn insert<'n>(&mut self, name: &str, position: usize, name_at: impl Fn(usize) -> &'n str) {
        let hash = self.hasher.hash_one(name);
        let hasher = &self.hasher;
        self.table.insert_unique(hash, position as u32, |&p| {
            hasher.hash_one(name_at(p as usize))
        });
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Params {
    /// No parameters, shared (what `()` binds as).
    pub fn none() -> &'static Params {
        static NONE: Params = Params {
            entries: Vec::new(),
            error: None,
            index: None,
        };
        &NONE
    }

    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a parameter, builder style. A value that cannot be bound (an
    /// integer beyond 64 bits) makes binding the SQL fail with an error naming it.
    pub fn bind(mut self, name: impl Into<String>, value: impl IntoValue) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds (or replaces) a parameter.
    pub fn insert(&mut self, name: impl Into<String>, value: impl IntoValue) {
        let mut name = name.into();
        if name.starts_with(':') {
            name.remove(0);
        }
        let value = match value.into_value() {
            Ok(v) => v,
            Err(why) => {
                self.error
                    .get_or_insert_with(|| format!("parameter :{name}: {why}"));
                Value::Null
            }
        };
        match self.position(&name) {
            Some(p) => self.entries[p].1 = value,
            None => {
                let position = self.entries.len();
                self.entries.push((name, value));
                let entries = &self.entries;
                match &mut self.index {
                    Some(index) => {
                        index.insert(&entries[position].0, position, |p| &entries[p].0);
                    }
                    None if entries.len() > INDEX_FROM => {
                        self.index =
                            Some(NameIndex::build(entries.iter().map(|(n, _)| n.as_str())));
                    }
                    None => {}
                }
            }
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.find(name, |p| &self.entries[p].0),
            None => self.entries.iter().position(|(n, _)| n == name),
        }
    }

    /// The value of a parameter.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).map(|p| &self.entries[p].1)
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

/// SQL rewritten for one dialect, with its values in placeholder order. The text is
/// borrowed from the caller's SQL when there was nothing to rewrite.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BoundSql<'a> {
    /// The SQL text with dialect placeholders.
    pub sql: Cow<'a, str>,
    /// One value per placeholder index (a name used twice is bound once).
    pub values: Vec<Value>,
}

impl BoundSql<'_> {
    /// The same, owning its text (for work that outlives the caller's SQL).
    ///
    /// ```
    /// use dbm_core::{bind_named, Params, PlaceholderStyle, SqlSyntax};
    /// let sql = String::from("SELECT 1");
    /// let b = bind_named(&sql, &Params::new(), PlaceholderStyle::Dollar, &SqlSyntax::POSTGRES)
    ///     .unwrap()
    ///     .into_owned();
    /// drop(sql);
    /// assert_eq!(b.sql, "SELECT 1");
    /// ```
    pub fn into_owned(self) -> BoundSql<'static> {
        BoundSql {
            sql: Cow::Owned(self.sql.into_owned()),
            values: self.values,
        }
    }
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
pub fn bind_named<'a>(
    sql: &'a str,
    params: &Params,
    style: PlaceholderStyle,
    syntax: &SqlSyntax,
) -> Result<BoundSql<'a>> {
    if let Some(why) = &params.error {
        return Err(Error::parameter(why.clone())
            .with_hint("bind it as a type the database stores (i64, Decimal or text)"));
    }
    // The common case of a statement without parameters: with no `:` there is nothing to
    // rewrite, and with no comment every byte that is not white space or `;` is code.
    if params.is_empty()
        && let Some(has_code) = plain_has_code(sql.as_bytes(), syntax)
    {
        if has_code {
            return Ok(BoundSql {
                sql: Cow::Borrowed(sql),
                values: Vec::new(),
            });
        }
        return Err(empty_sql());
    }
    let b = sql.as_bytes();
    // Allocated at the first rewrite: SQL that needs none is returned as it is.
    let mut out = String::new();
    let mut order = Placeholders::new(params);
    let mut has_code = false;
    let mut copied = 0; // bytes of `sql` already written to `out`
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = skip_region(b, i, syntax) {
            if !is_comment_start(b, i) {
                has_code = true; // a literal or quoted identifier is a statement's content
            }
            i = end;
            continue;
        }
        let c = b[i];
        if !syntax.is_space(c) && c != b';' {
            has_code = true;
        }
        if c == b':' && b.get(i + 1) == Some(&b':') {
            i += 2; // `::` cast
            continue;
        }
        if c == b'\\' && b.get(i + 1) == Some(&b':') {
            if out.capacity() == 0 {
                out.reserve(sql.len() + 8);
            }
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
            if out.capacity() == 0 {
                out.reserve(sql.len() + 8);
            }
            out.push_str(&sql[copied..i]);
            let name = &sql[start..end];
            match params.get(name) {
                // `IN (:ids)`: one placeholder per element, on every dialect.
                Some(Value::Array(items)) if in_list(b, i, end, syntax) => {
                    let (first, n) = order.list_of(name, items.len());
                    for k in 0..n {
                        if k > 0 {
                            out.push_str(", ");
                        }
                        style.write_placeholder(&mut out, first + k);
                    }
                }
                _ => {
                    let index = order.index_of(name);
                    style.write_placeholder(&mut out, index);
                }
            }
            copied = end;
            i = end;
            continue;
        }
        i += 1;
    }
    let text = if copied == 0 {
        Cow::Borrowed(sql)
    } else {
        out.push_str(&sql[copied..]);
        Cow::Owned(out)
    };

    if !has_code {
        return Err(empty_sql());
    }
    if let Some(why) = order.list_error.take() {
        return Err(Error::parameter(why));
    }
    if !order.missing.is_empty() {
        let given: Vec<&str> = params.names().collect();
        let missing: Vec<String> = order.missing.iter().map(|n| (*n).to_owned()).collect();
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
    if params.len() > order.positions.len() {
        let unused: Vec<String> = params
            .entries
            .iter()
            .zip(&order.number_of)
            .filter(|(_, n)| **n == 0)
            .map(|((name, _), _)| name.clone())
            .collect();
        return Err(
            Error::parameter(format!("{} given but not used by the SQL", list(&unused)))
                .with_hint("check the spelling of the `:name` markers, or remove the extra values"),
        );
    }
    let values = order
        .positions
        .iter()
        .map(|&(p, element)| match (&params.entries[p].1, element) {
            (Value::Array(items), Some(k)) => items[k].clone(),
            (v, _) => v.clone(),
        })
        .collect();
    Ok(BoundSql { sql: text, values })
}

/// For SQL with no `:` and no comment (one pass): whether it has code, i.e. a byte that is
/// neither white space nor `;`. `None` when it needs the full lexer.
fn plain_has_code(b: &[u8], syntax: &SqlSyntax) -> Option<bool> {
    for (i, &c) in b.iter().enumerate() {
        if c == b':' || ((c == b'-' || c == b'/') && is_comment_start(b, i)) {
            return None;
        }
    }
    Some(b.iter().any(|&c| c != b';' && !syntax.is_space(c)))
}

fn empty_sql() -> Error {
    Error::parameter("the SQL is empty (nothing but whitespace or comments)")
}

/// Numbers the distinct names of a statement in first-use order. A name is known by its
/// position in the parameters, looked for first where the previous name was found plus
/// one: names bound in the order the SQL uses them need no hashing and are read in order,
/// so binding stays linear in time and kind to the cache for any number of parameters.
struct Placeholders<'a> {
    params: &'a Params,
    /// Per parameter position: its placeholder number (1-based), 0 while unused.
    number_of: Vec<u32>,
    /// Per placeholder: the parameter position it takes its value from, and for a list
    /// expanded in `IN (...)` the element.
    positions: Vec<(usize, Option<usize>)>,
    /// Per parameter position: whether it was expanded as a list (`Some(true)`) or bound
    /// whole (`Some(false)`).
    as_list: Vec<Option<bool>>,
    /// A list used both ways, or an empty list in `IN ()`.
    list_error: Option<String>,
    /// Where the next name is expected.
    cursor: usize,
    /// Names used but not given, in first-use order.
    missing: Vec<&'a str>,
    missing_seen: HashSet<&'a str>,
}

impl<'a> Placeholders<'a> {
    fn new(params: &'a Params) -> Self {
        Placeholders {
            params,
            number_of: vec![0; params.len()],
            positions: Vec::new(),
            as_list: vec![None; params.len()],
            list_error: None,
            cursor: 0,
            missing: Vec::new(),
            missing_seen: HashSet::new(),
        }
    }

    /// The placeholder number of `name` (an arbitrary one for a name not given: binding
    /// fails in that case).
    fn index_of(&mut self, name: &'a str) -> usize {
        let entries = &self.params.entries;
        let position = match entries.get(self.cursor) {
            Some((n, _)) if n == name => Some(self.cursor),
            _ => self.params.position(name),
        };
        let Some(p) = position else {
            if self.missing_seen.insert(name) {
                self.missing.push(name);
            }
            return self.positions.len() + self.missing.len();
        };
        self.cursor = p + 1;
        self.mark(p, false, name);
        if self.number_of[p] == 0 {
            self.positions.push((p, None));
            self.number_of[p] = self.positions.len() as u32;
        }
        self.number_of[p] as usize
    }

    /// The first placeholder number of the list `name` of `n` elements, expanded in place,
    /// and how many there are.
    fn list_of(&mut self, name: &'a str, n: usize) -> (usize, usize) {
        let p = match self.params.entries.get(self.cursor) {
            Some((e, _)) if e == name => self.cursor,
            _ => self.params.position(name).unwrap_or_default(),
        };
        self.cursor = p + 1;
        self.mark(p, true, name);
        if n == 0 && self.list_error.is_none() {
            self.list_error = Some(format!(
                "parameter :{name} is an empty list, and `IN ()` is not valid SQL: skip the query when there is nothing to look for"
            ));
        }
        if self.number_of[p] == 0 {
            self.number_of[p] = self.positions.len() as u32 + 1;
            self.positions.extend((0..n).map(|k| (p, Some(k))));
        }
        (self.number_of[p] as usize, n)
    }

    fn mark(&mut self, p: usize, list: bool, name: &str) {
        match self.as_list[p] {
            Some(was) if was != list && self.list_error.is_none() => {
                self.list_error = Some(format!(
                    "parameter :{name} is used both inside `IN (...)`, where a list is expanded, and elsewhere as one value: give the two uses different names"
                ));
            }
            _ => self.as_list[p] = Some(list),
        }
    }
}

/// Whether the marker `:name` (from `colon` to `end`) stands alone inside `IN ( ... )`:
/// `IN (` before it and `)` after, white space aside.
fn in_list(b: &[u8], colon: usize, end: usize, syntax: &SqlSyntax) -> bool {
    let mut j = colon;
    while j > 0 && syntax.is_space(b[j - 1]) {
        j -= 1;
    }
    if j == 0 || b[j - 1] != b'(' {
        return false;
    }
    j -= 1;
    while j > 0 && syntax.is_space(b[j - 1]) {
        j -= 1;
    }
    if j < 2 || !b[j - 2..j].eq_ignore_ascii_case(b"in") || (j > 2 && is_ident_char(b[j - 3])) {
        return false;
    }
    let mut k = end;
    while k < b.len() && syntax.is_space(b[k]) {
        k += 1;
    }
    b.get(k) == Some(&b')')
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
mod tests;
