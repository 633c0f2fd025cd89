//! `Rows`: a complete result, its values in one row-major vector.
//!
//! One vector for the whole result instead of one per row: a result of n rows is one heap
//! block plus the blocks its values own (text, bytes), so building it allocates less and
//! dropping it frees less, and the allocator is not left with a row's worth of small blocks
//! to consolidate after a large result.

use std::collections::BTreeMap;
use std::fmt;
use std::iter::FusedIterator;

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use crate::row::{Columns, Row, RowRef};
use crate::value::{Value, drop_values};

/// A complete result: columns once, then rows. Serialises as a JSON list of objects.
///
/// Rows are read borrowed ([`RowRef`], from [`Rows::iter`], [`Rows::get`], [`Rows::row`])
/// or taken by value ([`Row`], from `into_iter`).
///
/// ```
/// use dbm_core::{Column, Columns, Rows, Value};
/// let mut rows = Rows::new(Columns::new(vec![Column::new("n", "")]));
/// rows.push(vec![Value::Int(1)]);
/// rows.push(vec![Value::Int(2)]);
/// assert_eq!(serde_json::to_string(&rows).unwrap(), r#"[{"n":1},{"n":2}]"#);
/// let total: i64 = rows.iter().map(|r| r.get::<i64>("n").unwrap()).sum();
/// assert_eq!(total, 3);
/// assert_eq!(rows.row(1).get::<i64>("n").unwrap(), 2);
/// ```
#[derive(Clone, PartialEq, Default)]
pub struct Rows {
    columns: Columns,
    /// Every row's values, row after row, `columns.len()` each.
    values: Vec<Value>,
    /// How many rows (kept apart: a result without columns can still have rows).
    len: usize,
}

impl Rows {
    /// An empty result with these columns.
    pub fn new(columns: Columns) -> Self {
        Rows {
            columns,
            values: Vec::new(),
            len: 0,
        }
    }

    /// Appends a row of values, one per column.
    ///
    /// # Panics
    /// When `values` does not have one value per column (a driver's mistake, which would
    /// otherwise shift every later row).
    pub fn push(&mut self, values: Vec<Value>) {
        self.check_width(values.len());
        self.values.extend(values);
        self.len += 1;
    }

    /// Appends a row from its values as they are decoded, without a vector of its own. At
    /// the first error nothing of the row is kept and the error is returned.
    ///
    /// ```
    /// use dbm_core::{Column, Columns, Rows, Value};
    /// let mut rows = Rows::new(Columns::new(vec![Column::new("a", ""), Column::new("b", "")]));
    /// rows.try_push([Ok::<_, String>(Value::Int(1)), Ok(Value::Int(2))]).unwrap();
    /// let e = rows.try_push([Ok(Value::Int(3)), Err("bad cell".to_string())]);
    /// assert_eq!(e.unwrap_err(), "bad cell");
    /// assert_eq!(rows.len(), 1);
    /// assert_eq!(rows.row(0).values(), &[Value::Int(1), Value::Int(2)]);
    /// ```
    ///
    /// # Panics
    /// When the values are all decoded but there is not one per column.
    pub fn try_push<E>(
        &mut self,
        values: impl IntoIterator<Item = std::result::Result<Value, E>>,
    ) -> std::result::Result<(), E> {
        let start = self.values.len();
        for value in values {
            match value {
                Ok(v) => self.values.push(v),
                Err(e) => {
                    self.values.truncate(start);
                    return Err(e);
                }
            }
        }
        let pushed = self.values.len() - start;
        if pushed != self.columns.len() {
            self.values.truncate(start);
            self.check_width(pushed);
        }
        self.len += 1;
        Ok(())
    }

    fn check_width(&self, given: usize) {
        assert_eq!(
            given,
            self.columns.len(),
            "a row of {given} values pushed into a result of {} columns",
            self.columns.len()
        );
    }

    /// The result's columns.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Iterates over the rows, borrowed.
    pub fn iter(&self) -> RowsIter<'_> {
        RowsIter {
            columns: &self.columns,
            values: &self.values,
            width: self.columns.len(),
            front: 0,
            back: self.len,
        }
    }

    /// The row at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<RowRef<'_>> {
        (index < self.len).then(|| {
            let width = self.columns.len();
            let start = index * width;
            RowRef::new(&self.columns, &self.values[start..start + width])
        })
    }

    /// The row at `index`.
    ///
    /// # Panics
    /// When `index` is out of range, as indexing a slice does; [`Rows::get`] does not.
    pub fn row(&self, index: usize) -> RowRef<'_> {
        match self.get(index) {
            Some(row) => row,
            None => panic!(
                "row index {index} out of range for a result of {} rows",
                self.len
            ),
        }
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<RowRef<'_>> {
        self.get(0)
    }

    /// Keeps the first `len` rows and drops the others (nothing happens when there are
    /// not more than `len`).
    ///
    /// ```
    /// use dbm_core::{Column, Columns, Rows, Value};
    /// let mut rows = Rows::new(Columns::new(vec![Column::new("n", "")]));
    /// (0..3).for_each(|i| rows.push(vec![Value::Int(i)]));
    /// rows.truncate(1);
    /// assert_eq!(rows.len(), 1);
    /// assert_eq!(rows.row(0).get::<i64>(0).unwrap(), 0);
    /// ```
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            drop_values(self.values.drain(len * self.columns.len()..));
            self.len = len;
        }
    }

    /// The first row, owned, without copying its values; the other rows are dropped.
    pub(crate) fn into_first(mut self) -> Option<Row> {
        if self.len == 0 {
            return None;
        }
        let width = self.columns.len();
        self.truncate(1);
        let mut values = std::mem::take(&mut self.values);
        if values.capacity() > 2 * width.max(4) {
            values.shrink_to_fit();
        }
        Some(Row::new(self.columns.clone(), values))
    }

    /// Every row as a map (the seed system's "list of dictionaries").
    pub fn to_maps(&self) -> Vec<BTreeMap<String, Value>> {
        self.iter().map(RowRef::to_map).collect()
    }
}

/// The rows of a [`Rows`], borrowed; from [`Rows::iter`]. It knows its length and runs
/// from either end.
///
/// ```
/// use dbm_core::{Column, Columns, Rows, Value};
/// let mut rows = Rows::new(Columns::new(vec![Column::new("n", "")]));
/// (1..=3).for_each(|i| rows.push(vec![Value::Int(i)]));
/// let mut it = rows.iter();
/// assert_eq!(it.len(), 3);
/// assert_eq!(it.next_back().unwrap().get::<i64>("n").unwrap(), 3);
/// assert_eq!(it.map(|r| r.get::<i64>(0).unwrap()).sum::<i64>(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct RowsIter<'a> {
    columns: &'a Columns,
    values: &'a [Value],
    width: usize,
    front: usize,
    back: usize,
}

impl<'a> RowsIter<'a> {
    fn at(&self, index: usize) -> RowRef<'a> {
        let start = index * self.width;
        RowRef::new(self.columns, &self.values[start..start + self.width])
    }
}

impl<'a> Iterator for RowsIter<'a> {
    type Item = RowRef<'a>;

    fn next(&mut self) -> Option<RowRef<'a>> {
        (self.front < self.back).then(|| {
            self.front += 1;
            self.at(self.front - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for RowsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            self.at(self.back)
        })
    }
}

impl ExactSizeIterator for RowsIter<'_> {}
impl FusedIterator for RowsIter<'_> {}

/// The rows of a [`Rows`], owned; from `into_iter`. Each row gets a vector of its own
/// (values moved, not cloned).
///
/// ```
/// use dbm_core::{Column, Columns, Row, Rows, Value};
/// let mut rows = Rows::new(Columns::new(vec![Column::new("n", "")]));
/// rows.push(vec![Value::Int(1)]);
/// rows.push(vec![Value::Int(2)]);
/// let owned: Vec<Row> = rows.into_iter().collect();
/// assert_eq!(owned[1].get::<i64>("n").unwrap(), 2);
/// ```
#[derive(Debug)]
pub struct RowsIntoIter {
    columns: Columns,
    values: std::vec::IntoIter<Value>,
    remaining: usize,
}

impl Iterator for RowsIntoIter {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let values = self.values.by_ref().take(self.columns.len()).collect();
        Some(Row::new(self.columns.clone(), values))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for RowsIntoIter {}
impl FusedIterator for RowsIntoIter {}

impl IntoIterator for Rows {
    type Item = Row;
    type IntoIter = RowsIntoIter;
    fn into_iter(mut self) -> RowsIntoIter {
        RowsIntoIter {
            columns: self.columns.clone(),
            values: std::mem::take(&mut self.values).into_iter(),
            remaining: self.len,
        }
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = RowRef<'a>;
    type IntoIter = RowsIter<'a>;
    fn into_iter(self) -> RowsIter<'a> {
        self.iter()
    }
}

impl Drop for Rows {
    fn drop(&mut self) {
        drop_values(self.values.drain(..));
    }
}

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Rows {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for row in self {
            seq.serialize_element(&row)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::Column;

    fn two_columns(n: i64) -> Rows {
        let mut rows = Rows::new(Columns::new(vec![
            Column::new("n", "INTEGER"),
            Column::new("t", "TEXT"),
        ]));
        for i in 0..n {
            rows.push(vec![Value::Int(i), Value::Text(format!("r{i}"))]);
        }
        rows
    }

    #[test]
    fn rows_are_read_in_order_from_either_end_and_by_index() {
        let rows = two_columns(3);
        let n: Vec<i64> = rows.iter().map(|r| r.get("n").unwrap()).collect();
        assert_eq!(n, [0, 1, 2]);
        let back: Vec<String> = rows.iter().rev().map(|r| r.get("t").unwrap()).collect();
        assert_eq!(back, ["r2", "r1", "r0"]);
        assert_eq!(rows.iter().len(), 3);
        assert_eq!(rows.get(2).unwrap().get::<String>(1).unwrap(), "r2");
        assert!(rows.get(3).is_none());
        let owned: Vec<Row> = rows.clone().into_iter().collect();
        assert_eq!(owned.len(), 3);
        assert_eq!(owned[2], rows.row(2).to_row());
    }

    #[test]
    #[should_panic(expected = "row index 3 out of range for a result of 3 rows")]
    fn row_out_of_range_panics_with_the_sizes() {
        two_columns(3).row(3);
    }

    #[test]
    fn rows_without_columns_are_still_counted() {
        let mut rows = Rows::new(Columns::default());
        rows.push(Vec::new());
        rows.try_push(std::iter::empty::<Result<Value, ()>>())
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.iter().count(), 2);
        assert_eq!(rows.into_iter().count(), 2);
    }

    #[test]
    fn a_failed_row_leaves_nothing_behind() {
        let mut rows = two_columns(1);
        let e = rows.try_push([Ok(Value::Int(9)), Err("cell 2")]);
        assert_eq!(e, Err("cell 2"));
        rows.push(vec![Value::Int(1), Value::Null]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.row(1).get::<i64>("n").unwrap(), 1);
    }

    #[test]
    #[should_panic(expected = "a row of 1 values pushed into a result of 2 columns")]
    fn a_short_row_is_refused() {
        let mut rows = two_columns(0);
        let _ = rows.try_push([Ok::<_, ()>(Value::Int(1))]);
    }

    #[test]
    fn the_first_row_is_taken_without_the_rest() {
        let row = two_columns(1000).into_first().unwrap();
        assert_eq!(row.values(), &[Value::Int(0), Value::Text("r0".into())]);
        assert!(two_columns(0).into_first().is_none());
    }
}
