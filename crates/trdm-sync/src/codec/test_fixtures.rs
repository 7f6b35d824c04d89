//! Tables, batches and shortcuts that the codec's unit tests share, so that each file's tests can stay
//! beside its code.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use trdm_format::temporal::{MICROS_PER_DAY, MICROS_PER_SECOND, days_from_civil};
use trdm_format::value::DataType;

use super::{CsvDecoder, ImportPattern, encode_upload};
use crate::error::Result;
use crate::schema::{ColumnDef, TableDef};

pub(super) fn col(
    name: &str,
    data_type: DataType,
    length: Option<u32>,
    scale: Option<u32>,
) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        data_type,
        length,
        scale,
        is_primary_key: false,
        is_required: false,
        description: None,
    }
}

pub(super) fn key(column: ColumnDef) -> ColumnDef {
    ColumnDef {
        is_primary_key: true,
        ..column
    }
}

pub(super) fn required(column: ColumnDef) -> ColumnDef {
    ColumnDef {
        is_required: true,
        ..column
    }
}

pub(super) fn table(columns: Vec<ColumnDef>) -> TableDef {
    TableDef {
        name: "Items".into(),
        database_table_name: "items".into(),
        columns,
    }
}

pub(super) fn decode(
    table: &TableDef,
    schema: SchemaRef,
    csv: &str,
    size: usize,
) -> Result<Vec<RecordBatch>> {
    CsvDecoder::new(csv.as_bytes(), table, schema, size)?.collect()
}

pub(super) fn decode_error(table: &TableDef, schema: SchemaRef, csv: &str) -> String {
    decode(table, schema, csv, 1024).unwrap_err().to_string()
}

pub(super) fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

pub(super) fn upload(
    table: &TableDef,
    pattern: ImportPattern,
    batches: Vec<RecordBatch>,
) -> Result<String> {
    let mut out = Vec::new();
    let summary = encode_upload(table, pattern, batches.into_iter().map(Ok), &mut out)?;
    assert_eq!(summary.bytes, out.len() as u64);
    Ok(String::from_utf8(out).unwrap())
}

pub(super) fn upload_error(
    table: &TableDef,
    pattern: ImportPattern,
    batches: Vec<RecordBatch>,
) -> String {
    upload(table, pattern, batches).unwrap_err().to_string()
}

pub(super) fn arc(array: impl Array + 'static) -> ArrayRef {
    Arc::new(array)
}

pub(super) fn micros(y: i32, mo: u32, d: u32, h: i64, mi: i64, s: i64, us: i64) -> i64 {
    i64::from(days_from_civil(y, mo, d)) * MICROS_PER_DAY
        + ((h * 60 + mi) * 60 + s) * MICROS_PER_SECOND
        + us
}

pub(super) fn every_type() -> TableDef {
    table(vec![
        key(col("code", DataType::Varchar, Some(5), None)),
        col("name", DataType::Text, None, None),
        col("ch", DataType::Character, Some(3), None),
        col("small", DataType::Smallint, None, None),
        col("int", DataType::Integer, None, None),
        col("big", DataType::Bigint, None, None),
        col("amount", DataType::Decimal, Some(14), Some(2)),
        col("wide", DataType::Decimal, Some(40), Some(3)),
        col("huge", DataType::Decimal, Some(100), Some(1)),
        col("free", DataType::Decimal, None, None),
        col("r", DataType::Real, None, None),
        col("d", DataType::Double, None, None),
        col("flag", DataType::Boolean, None, None),
        col("day", DataType::Date, None, None),
        col("at", DataType::Time, None, None),
        col("attz", DataType::Timetz, None, None),
        col("ts", DataType::Timestamp, None, None),
        col("tstz", DataType::Timestamptz, None, None),
    ])
}

pub(super) const EVERY_HEADER: &str = "code,name,ch,small,int,big,amount,wide,huge,free,r,d,flag,day,at,attz,ts,tstz,\
    trdm_sk,trdm_record_id,trdm_state,trdm_created_at,trdm_effective_from,trdm_effective_to,\
    trdm_is_deleted,trdm_actor_type,trdm_actor_id,trdm_tran_code";
