//! The standard row format: column metadata held once, values per row.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::value::{FromValue, Value, drop_values};

/// One result column: its name and the database's name for its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    name: String,
    type_name: String,
}

impl Column {
    /// A column named `name` whose database type is `type_name` (empty when unknown).
    pub fn new(name: impl Into<String>, type_name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            type_name: type_name.into(),
        }
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database's type name (e.g. `int8`, `TEXT`), empty when the database gave none.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }
}

/// The columns of a result, shared by all its rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Columns(Arc<[Column]>);

impl Columns {
    /// Columns from a list.
    pub fn new(columns: Vec<Column>) -> Self {
        Columns(columns.into())
    }

    /// The index of the first column named `name` (exact match first, then case-insensitive).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|c| c.name == name).or_else(|| {
            self.0
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        })
    }

    /// The columns as a slice.
    pub fn as_slice(&self) -> &[Column] {
        &self.0
    }

    /// How many columns there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A way to name a column: by name (`&str`) or by position (`usize`).
pub trait ColumnIndex: fmt::Display {
    /// Resolves to a position in `columns`.
    fn resolve(&self, columns: &Columns) -> Option<usize>;
}

impl ColumnIndex for &str {
    fn resolve(&self, columns: &Columns) -> Option<usize> {
        columns.index_of(self)
    }
}

impl ColumnIndex for usize {
    fn resolve(&self, columns: &Columns) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

/// One row, owning its values: what [`Rows`](crate::Rows) gives by value (`into_iter`),
/// what `fetch_one` returns and what a stream yields. [`RowRef`] is the same row borrowed
/// from a [`Rows`](crate::Rows), with the same accessors.
///
/// ```
/// use dbm_core::{Column, Columns, Row, Value};
/// let cols = Columns::new(vec![Column::new("id", "INTEGER"), Column::new("name", "TEXT")]);
/// let row = Row::new(cols, vec![Value::Int(7), Value::from("ada")]);
/// assert_eq!(row.get::<i64>("id").unwrap(), 7);
/// assert_eq!(row.get::<String>(1).unwrap(), "ada");
/// let err = row.get::<i64>("name").unwrap_err();
/// assert!(err.to_string().contains("column `name`"));
/// ```
#[derive(Clone, PartialEq)]
pub struct Row {
    columns: Columns,
    values: Vec<Value>,
}

impl Row {
    /// A row. `values` must have one value per column.
    pub fn new(columns: Columns, values: Vec<Value>) -> Self {
        debug_assert_eq!(columns.len(), values.len());
        Row { columns, values }
    }

    /// The row borrowed, as [`Rows`](crate::Rows) hands out its rows: code that reads rows
    /// can take a [`RowRef`] and serve both.
    ///
    /// ```
    /// use dbm_core::{Column, Columns, Row, RowRef, Value};
    /// fn id(r: RowRef<'_>) -> i64 { r.get("id").unwrap() }
    /// let row = Row::new(Columns::new(vec![Column::new("id", "")]), vec![Value::Int(4)]);
    /// assert_eq!(id(row.view()), 4);
    /// ```
    pub fn view(&self) -> RowRef<'_> {
        RowRef {
            columns: &self.columns,
            values: &self.values,
        }
    }

    /// The row's columns.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The row's values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Takes the values out of the row.
    pub fn into_values(mut self) -> Vec<Value> {
        std::mem::take(&mut self.values)
    }

    /// The raw value of a column, by name or position.
    pub fn value(&self, index: impl ColumnIndex) -> Result<&Value> {
        self.view().value(index)
    }

    /// A column converted to `T`; a mismatch names the column and both types.
    pub fn get<T: FromValue>(&self, index: impl ColumnIndex) -> Result<T> {
        self.view().get(index)
    }

    /// The row as a map from column name to value (the "dictionary" view).
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.view().to_map()
    }
}

impl Drop for Row {
    fn drop(&mut self) {
        drop_values(self.values.drain(..));
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.view().serialize(serializer)
    }
}

/// One row of a [`Rows`](crate::Rows), borrowed: the result's columns and this row's
/// values. It is `Copy`; [`RowRef::to_row`] makes an owned [`Row`].
///
/// ```
/// use dbm_core::{Column, Columns, Rows, Value};
/// let mut rows = Rows::new(Columns::new(vec![Column::new("id", "INTEGER")]));
/// rows.push(vec![Value::Int(7)]);
/// let row = rows.row(0);
/// assert_eq!(row.get::<i64>("id").unwrap(), 7);
/// assert_eq!(row.values(), &[Value::Int(7)]);
/// let owned = row.to_row();
/// assert_eq!(owned.get::<i64>(0).unwrap(), 7);
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct RowRef<'a> {
    columns: &'a Columns,
    values: &'a [Value],
}

impl<'a> RowRef<'a> {
    /// A row of `values` (one per column) under `columns`.
    pub(crate) fn new(columns: &'a Columns, values: &'a [Value]) -> Self {
        RowRef { columns, values }
    }

    /// The row's columns.
    pub fn columns(self) -> &'a Columns {
        self.columns
    }

    /// The row's values, in column order.
    pub fn values(self) -> &'a [Value] {
        self.values
    }

    /// The row as an owned [`Row`] (its values cloned).
    pub fn to_row(self) -> Row {
        Row::new(self.columns.clone(), self.values.to_vec())
    }

    /// The raw value of a column, by name or position.
    pub fn value(self, index: impl ColumnIndex) -> Result<&'a Value> {
        let i = index.resolve(self.columns).ok_or_else(|| {
            let names: Vec<&str> = self.columns.0.iter().map(|c| c.name()).collect();
            Error::conversion(format!(
                "no column `{index}` in this row (columns: {})",
                names.join(", ")
            ))
        })?;
        Ok(&self.values[i])
    }

    /// A column converted to `T`; a mismatch names the column and both types.
    pub fn get<T: FromValue>(self, index: impl ColumnIndex) -> Result<T> {
        let value = self.value(&index)?;
        if value.is_null() && !T::accepts_null() {
            return Err(Error::conversion(format!(
                "column `{index}` is NULL; read it as Option<{}>",
                T::TYPE_NAME
            )));
        }
        T::from_value(value).ok_or_else(|| {
            Error::conversion(format!(
                "column `{index}` holds {} ({}), which does not convert to {}",
                value.type_name(),
                self.type_name_of(&index),
                T::TYPE_NAME
            ))
        })
    }

    fn type_name_of(self, index: &impl ColumnIndex) -> &'a str {
        index
            .resolve(self.columns)
            .map_or("", |i| self.columns.0[i].type_name())
    }

    /// The row as a map from column name to value (the "dictionary" view).
    pub fn to_map(self) -> BTreeMap<String, Value> {
        self.columns
            .0
            .iter()
            .zip(self.values)
            .map(|(c, v)| (c.name.clone(), v.clone()))
            .collect()
    }
}

impl<I: ColumnIndex> ColumnIndex for &I {
    fn resolve(&self, columns: &Columns) -> Option<usize> {
        (*self).resolve(columns)
    }
}

impl fmt::Debug for RowRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (c, v) in self.columns.0.iter().zip(self.values) {
            m.entry(&c.name, v);
        }
        m.finish()
    }
}

impl Serialize for RowRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.values.len()))?;
        for (c, v) in self.columns.0.iter().zip(self.values) {
            map.serialize_entry(&c.name, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rows;

    fn sample() -> Rows {
        let mut rows = Rows::new(Columns::new(vec![
            Column::new("id", "INTEGER"),
            Column::new("Name", "TEXT"),
        ]));
        rows.push(vec![Value::Int(1), Value::Null]);
        rows
    }

    #[test]
    fn lookup_by_name_is_exact_then_case_insensitive() {
        let rows = sample();
        let row = rows.first().unwrap();
        assert_eq!(row.get::<i64>("ID").unwrap(), 1);
        assert_eq!(row.get::<Option<String>>("name").unwrap(), None);
    }

    #[test]
    fn errors_name_the_column_and_types() {
        let rows = sample();
        let row = rows.first().unwrap();
        let e = row.get::<String>("id").unwrap_err().to_string();
        assert!(e.contains("column `id` holds integer (INTEGER)"), "{e}");
        assert!(e.contains("String"), "{e}");
        let e = row.get::<String>("Name").unwrap_err().to_string();
        assert!(e.contains("is NULL; read it as Option<String>"), "{e}");
        let e = row.get::<i64>("missing").unwrap_err().to_string();
        assert!(
            e.contains("no column `missing`") && e.contains("id, Name"),
            "{e}"
        );
        assert!(row.get::<i64>(5).is_err());
    }

    #[test]
    fn rows_convert_to_maps_and_json() {
        let rows = sample();
        let maps = rows.to_maps();
        assert_eq!(maps[0]["id"], Value::Int(1));
        assert_eq!(
            serde_json::to_value(&rows).unwrap(),
            serde_json::json!([{"id": 1, "Name": null}])
        );
    }
}
