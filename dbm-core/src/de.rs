//! Rows into user structs through serde: `row.deserialize::<T>()`, `rows.deserialize::<T>()`.
//!
//! A row is a map from column name to value (a struct's fields are matched by name; columns
//! it does not name are ignored), or a sequence of values (a tuple). Values convert as
//! [`Row::get`](crate::Row::get) converts them: integers into any integer type that holds
//! them (never wrapped), `0`/`1` into `bool`, decimals (kept exact as text) into `String` or
//! a type that parses them, dates and times as ISO 8601 text (what chrono's types read),
//! JSON into any type it deserialises into, NULL into `Option`.

use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::error::{Error, Result};
use crate::row::{Row, RowRef};
use crate::rows::Rows;
use crate::value::Value;

/// A conversion failure inside serde, later given the column and the target type.
#[derive(Debug)]
struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

/// One value.
struct ValueDe<'a>(&'a Value);

impl<'de> de::Deserializer<'de> for ValueDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> std::result::Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_none(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => v.visit_i64(*i),
            Value::Float(f) => v.visit_f64(*f),
            Value::Decimal(d) => v.visit_str(d.as_str()),
            Value::Text(s) => v.visit_str(s),
            Value::Bytes(b) => v.visit_bytes(b),
            Value::Json(j) => {
                de::Deserializer::deserialize_any(j.clone(), v).map_err(de::Error::custom)
            }
            Value::Array(a) => v.visit_seq(de::value::SeqDeserializer::new(a.iter().map(ValueDe))),
            other => match other.to_json() {
                serde_json::Value::String(s) => v.visit_string(s),
                j => de::Deserializer::deserialize_any(j, v).map_err(de::Error::custom),
            },
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> std::result::Result<V::Value, DeError> {
        match self.0 {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> std::result::Result<V::Value, DeError> {
        match self.0 {
            // SQLite keeps booleans as 0 and 1.
            Value::Int(0) => v.visit_bool(false),
            Value::Int(1) => v.visit_bool(true),
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> std::result::Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> std::result::Result<V::Value, DeError> {
        match self.0 {
            Value::Text(s) => v.visit_enum(s.as_str().into_deserializer()),
            Value::Json(j) => j
                .clone()
                .deserialize_enum(name, variants, v)
                .map_err(de::Error::custom),
            other => Err(de::Error::custom(format!(
                "{} is not an enum variant name",
                other.type_name()
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, DeError> for ValueDe<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// A row: a map by column name, or a sequence for tuples.
struct RowDe<'a>(RowRef<'a>);

/// The row's columns as map entries; a value's error names its column.
struct Entries<'a> {
    row: RowRef<'a>,
    next: usize,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, DeError> {
        match self.row.columns().as_slice().get(self.next) {
            Some(c) => seed.deserialize(c.name().into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.value(seed)
    }
}

impl Entries<'_> {
    /// The next column's value; an error names the column and its types.
    fn value<'de, V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, DeError> {
        let i = self.next;
        self.next += 1;
        let column = &self.row.columns().as_slice()[i];
        let value = &self.row.values()[i];
        seed.deserialize(ValueDe(value)).map_err(|e| {
            DeError(format!(
                "column `{}` ({} {}): {e}",
                column.name(),
                value.type_name(),
                column.type_name()
            ))
        })
    }
}

/// The row's values in column order, for tuples.
impl<'de> de::SeqAccess<'de> for Entries<'_> {
    type Error = DeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, DeError> {
        if self.next < self.row.values().len() {
            self.value(seed).map(Some)
        } else {
            Ok(None)
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.values().len() - self.next)
    }
}

impl<'de> de::Deserializer<'de> for RowDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> std::result::Result<V::Value, DeError> {
        v.visit_map(Entries {
            row: self.0,
            next: 0,
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> std::result::Result<V::Value, DeError> {
        v.visit_seq(Entries {
            row: self.0,
            next: 0,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        v: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct map struct enum identifier ignored_any
    }
}

fn conversion<T>(e: DeError) -> Error {
    Error::conversion(format!(
        "cannot read the row as {}: {e}",
        std::any::type_name::<T>()
    ))
}

impl Row {
    /// The row as a `T` through serde: a struct's fields by column name (other columns
    /// ignored), or a tuple's elements in column order. An error names the column, its
    /// value's type and the target type.
    ///
    /// ```
    /// use dbm_core::{Column, Columns, Rows, Value};
    /// #[derive(serde::Deserialize, Debug, PartialEq)]
    /// struct Job { id: i32, name: String, done: bool, note: Option<String> }
    ///
    /// let mut rows = Rows::new(Columns::new(vec![
    ///     Column::new("id", "INTEGER"), Column::new("name", "TEXT"),
    ///     Column::new("done", "BOOLEAN"), Column::new("note", "TEXT"),
    /// ]));
    /// rows.push(vec![Value::Int(7), "load".into(), Value::Int(1), Value::Null]);
    /// let job: Job = rows.row(0).deserialize().unwrap();
    /// assert_eq!(job, Job { id: 7, name: "load".into(), done: true, note: None });
    /// let (id, name): (i64, String) = rows.row(0).deserialize().unwrap();
    /// assert_eq!((id, name.as_str()), (7, "load"));
    ///
    /// #[derive(serde::Deserialize, Debug)]
    /// struct Wrong { #[allow(dead_code)] name: i64 }
    /// let e = rows.row(0).deserialize::<Wrong>().unwrap_err().to_string();
    /// assert!(e.contains("column `name` (text TEXT): invalid type: string \"load\", expected i64"), "{e}");
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        self.view().deserialize()
    }
}

impl RowRef<'_> {
    /// The row as a `T`, as [`Row::deserialize`] does.
    ///
    /// ```
    /// use dbm_core::{Column, Columns, Rows, Value};
    /// let mut rows = Rows::new(Columns::new(vec![Column::new("id", "INTEGER")]));
    /// rows.push(vec![Value::Int(7)]);
    /// let (id,): (i64,) = rows.row(0).deserialize().unwrap();
    /// assert_eq!(id, 7);
    /// ```
    pub fn deserialize<T: DeserializeOwned>(self) -> Result<T> {
        T::deserialize(RowDe(self)).map_err(conversion::<T>)
    }
}

impl Rows {
    /// Every row as a `T` (see [`Row::deserialize`]); an error also names the row (from 0).
    ///
    /// ```
    /// use dbm_core::{Column, Columns, Rows, Value};
    /// let mut rows = Rows::new(Columns::new(vec![Column::new("n", "INTEGER")]));
    /// rows.push(vec![Value::Int(1)]);
    /// rows.push(vec![Value::Int(300)]);
    /// let small: dbm_core::Result<Vec<(u8,)>> = rows.deserialize();
    /// let e = small.unwrap_err().to_string();
    /// assert!(e.contains("row 1") && e.contains("column `n`"), "{e}");
    /// assert_eq!(rows.deserialize::<(u16,)>().unwrap(), [(1,), (300,)]);
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.iter()
            .enumerate()
            .map(|(i, r)| {
                T::deserialize(RowDe(r))
                    .map_err(|e| conversion::<T>(DeError(format!("row {i}, {e}"))))
            })
            .collect()
    }
}
