//! Dropping rows frees every value's heap memory: `Rows` and `Row` skip the drop glue for
//! values that own none, and this proves the others are still freed. A counting global
//! allocator (this test binary only) tracks the bytes outstanding; one test, so no other
//! test allocates at the same time.

use std::alloc::System;

use dbm_core::{Column, Columns, Decimal, Row, Rows, Value};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One value of every kind, the heap-owning ones included.
fn every_kind(i: i64) -> Vec<Value> {
    vec![
        Value::Null,
        Value::Bool(true),
        Value::Int(i),
        Value::Float(1.5),
        "12.50".parse::<Decimal>().map(Value::Decimal).unwrap(),
        Value::Text(format!("text {i}")),
        Value::Bytes(vec![1, 2, 3]),
        Value::Uuid(uuid::Uuid::nil()),
        Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()),
        Value::Json(serde_json::json!({"k": [i, "v"]})),
        Value::Array(vec![Value::Text("in an array".into()), Value::Int(i)]),
    ]
}

fn columns() -> Columns {
    Columns::new((0..11).map(|i| Column::new(format!("c{i}"), "")).collect())
}

#[test]
fn dropping_rows_frees_all_they_own() {
    let columns = columns();
    let region = Region::new(GLOBAL);
    {
        let mut rows = Rows::new(columns.clone());
        for i in 0..100 {
            rows.push(every_kind(i));
        }
        rows.truncate(40);
        let owned: Vec<Row> = rows.clone().into_iter().collect();
        let values = owned[3].clone().into_values();
        assert_eq!(values.len(), 11);
        drop((rows, owned, values));
        let one = Row::new(columns.clone(), every_kind(7));
        drop(one);
    }
    let change = region.change();
    assert!(change.allocations > 1000, "{change:?}");
    assert_eq!(
        change.bytes_allocated as isize - change.bytes_deallocated as isize,
        0,
        "bytes still allocated after the drop: {change:?}"
    );
}
