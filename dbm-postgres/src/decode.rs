//! Reading result cells into [`Value`]s: each column's decoder is chosen once per prepared
//! statement from its type, so a cell costs one `match` on an enum, not a comparison of the
//! type's name with every name dbm maps.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use dbm_core::{Column, Columns, Error, ErrorKind, Result, Value};
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgRow, PgTypeInfo, PgValueRef, Postgres};
use sqlx::{Decode, Row as _, Type, TypeInfo, ValueRef};
use uuid::Uuid;

use crate::error::map_err;
use crate::options::PgOptions;
use crate::types::decode_numeric;

const NUMERIC_ARRAY_OID: u32 = 1231;

type Json = sqlx::types::Json<serde_json::Value>;

/// How one column's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Bytes,
    Uuid,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Json,
    BoolArray,
    Int2Array,
    Int4Array,
    Int8Array,
    Float4Array,
    Float8Array,
    TextArray,
    UuidArray,
    DateArray,
    TimestampArray,
    TimestampTzArray,
    JsonArray,
    /// `numeric[]`: refused with a hint to cast.
    NumericArray,
    /// A type dbm does not map: refused, naming it.
    Unsupported,
}

impl Decoder {
    /// The decoder for a column of type `info`.
    pub(crate) fn for_type(info: &PgTypeInfo) -> Decoder {
        use Decoder as D;
        match info.name() {
            "BOOL" => D::Bool,
            "INT2" => D::Int2,
            "INT4" => D::Int4,
            "INT8" => D::Int8,
            "OID" => D::Oid,
            "FLOAT4" => D::Float4,
            "FLOAT8" => D::Float8,
            "NUMERIC" => D::Numeric,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "CITEXT" | "UNKNOWN" => D::Text,
            "BYTEA" => D::Bytes,
            "UUID" => D::Uuid,
            "DATE" => D::Date,
            "TIME" => D::Time,
            "TIMESTAMP" => D::Timestamp,
            "TIMESTAMPTZ" => D::TimestampTz,
            "JSON" | "JSONB" => D::Json,
            "BOOL[]" => D::BoolArray,
            "INT2[]" => D::Int2Array,
            "INT4[]" => D::Int4Array,
            "INT8[]" => D::Int8Array,
            "FLOAT4[]" => D::Float4Array,
            "FLOAT8[]" => D::Float8Array,
            "TEXT[]" | "VARCHAR[]" | "BPCHAR[]" | "NAME[]" => D::TextArray,
            "UUID[]" => D::UuidArray,
            "DATE[]" => D::DateArray,
            "TIMESTAMP[]" => D::TimestampArray,
            "TIMESTAMPTZ[]" => D::TimestampTzArray,
            "JSONB[]" | "JSON[]" => D::JsonArray,
            _ if info.oid() == Some(Oid(NUMERIC_ARRAY_OID)) => D::NumericArray,
            _ => D::Unsupported,
        }
    }

    /// One cell of `column` (whose type this decoder was chosen for).
    pub(crate) fn decode(self, v: PgValueRef<'_>, column: &Column) -> Result<Value> {
        use Decoder as D;
        if v.is_null() {
            return Ok(Value::Null);
        }
        let result: std::result::Result<Value, BoxDynError> = match self {
            D::Bool => dec::<bool>(v).map(Value::Bool),
            D::Int2 => dec::<i16>(v).map(|x| Value::Int(x.into())),
            D::Int4 => dec::<i32>(v).map(|x| Value::Int(x.into())),
            D::Int8 => dec::<i64>(v).map(Value::Int),
            D::Oid => dec::<Oid>(v).map(|x| Value::Int(x.0.into())),
            D::Float4 => dec::<f32>(v).map(|x| Value::Float(x.into())),
            D::Float8 => dec::<f64>(v).map(Value::Float),
            D::Numeric => v
                .as_bytes()
                .ok()
                .and_then(decode_numeric)
                .and_then(|s| s.parse().ok())
                .map(Value::Decimal)
                .ok_or_else(|| "malformed numeric".into()),
            D::Text => dec::<String>(v).map(Value::Text),
            D::Bytes => dec::<Vec<u8>>(v).map(Value::Bytes),
            D::Uuid => dec::<Uuid>(v).map(Value::Uuid),
            D::Date => dec::<NaiveDate>(v).map(Value::Date),
            D::Time => dec::<NaiveTime>(v).map(Value::Time),
            D::Timestamp => dec::<NaiveDateTime>(v).map(Value::Timestamp),
            D::TimestampTz => dec::<DateTime<Utc>>(v).map(Value::TimestampTz),
            D::Json => dec::<Json>(v).map(|j| Value::Json(j.0)),
            D::BoolArray => arr::<bool>(v, Value::Bool),
            D::Int2Array => arr::<i16>(v, |x| Value::Int(x.into())),
            D::Int4Array => arr::<i32>(v, |x| Value::Int(x.into())),
            D::Int8Array => arr::<i64>(v, Value::Int),
            D::Float4Array => arr::<f32>(v, |x| Value::Float(x.into())),
            D::Float8Array => arr::<f64>(v, Value::Float),
            D::TextArray => arr::<String>(v, Value::Text),
            D::UuidArray => arr::<Uuid>(v, Value::Uuid),
            D::DateArray => arr::<NaiveDate>(v, Value::Date),
            D::TimestampArray => arr::<NaiveDateTime>(v, Value::Timestamp),
            D::TimestampTzArray => arr::<DateTime<Utc>>(v, Value::TimestampTz),
            D::JsonArray => arr::<Json>(v, |j| Value::Json(j.0)),
            D::NumericArray => {
                return Err(unsupported(column).with_hint("cast to text[] or float8[]"));
            }
            D::Unsupported => return Err(unsupported(column)),
        };
        result.map_err(|e| {
            Error::conversion(format!(
                "cannot decode column `{}` of type {}: {e}",
                column.name(),
                column.type_name()
            ))
        })
    }
}

fn dec<'r, T: Decode<'r, Postgres>>(v: PgValueRef<'r>) -> std::result::Result<T, BoxDynError> {
    T::decode(v)
}

fn arr<'r, T: Decode<'r, Postgres> + Type<Postgres>>(
    v: PgValueRef<'r>,
    wrap: impl Fn(T) -> Value,
) -> std::result::Result<Value, BoxDynError>
where
    Vec<Option<T>>: Decode<'r, Postgres>,
{
    let items: Vec<Option<T>> = Decode::decode(v)?;
    Ok(Value::Array(
        items
            .into_iter()
            .map(|x| x.map_or(Value::Null, &wrap))
            .collect(),
    ))
}

fn unsupported(column: &Column) -> Error {
    let name = column.name();
    Error::new(
        ErrorKind::UnsupportedType,
        format!(
            "column `{name}` has type {}, which dbm does not map",
            column.type_name()
        ),
    )
    .with_hint(format!("cast it in SQL, e.g. `{name}::text`"))
}

/// The values of one result row, each cell read by its column's decoder.
pub(crate) fn decode_row(
    row: &PgRow,
    columns: &Columns,
    decoders: &[Decoder],
    options: &PgOptions,
) -> Result<Vec<Value>> {
    let mut values = Vec::with_capacity(decoders.len());
    for value in decode_cells(row, columns, decoders, options) {
        values.push(value?);
    }
    Ok(values)
}

/// The row's values as they are decoded, for [`dbm_core::Rows::try_push`].
pub(crate) fn decode_cells<'r>(
    row: &'r PgRow,
    columns: &'r Columns,
    decoders: &'r [Decoder],
    options: &'r PgOptions,
) -> impl Iterator<Item = Result<Value>> + 'r {
    columns
        .as_slice()
        .iter()
        .zip(decoders)
        .enumerate()
        .map(move |(i, (column, decoder))| {
            let raw = row.try_get_raw(i).map_err(|e| map_err(e, options))?;
            decoder.decode(raw, column)
        })
}

/// The result's columns and their decoders, built once per prepared statement.
pub(crate) fn columns_of(
    stmt: &sqlx::postgres::PgStatement,
) -> (dbm_core::Columns, std::sync::Arc<[Decoder]>) {
    use sqlx::Column as _;
    use sqlx::Statement as _;
    let cols = stmt.columns();
    let columns = Columns::new(
        cols.iter()
            .map(|c| Column::new(c.name(), c.type_info().name()))
            .collect(),
    );
    let decoders = cols
        .iter()
        .map(|c| Decoder::for_type(c.type_info()))
        .collect();
    (columns, decoders)
}
