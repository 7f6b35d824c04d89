//! Arrow types that Delta cannot store, and how they are stored instead.
//!
//! The contract promises that a table reads back with exactly the Arrow schema it was written with, but a
//! Delta schema has fewer types than Arrow (no unsigned integers, no time of day, decimals up to 38 digits,
//! microsecond timestamps only, one string and one binary type). So each column is written with a Delta type
//! that holds its values losslessly, and when that differs from what Delta would hand back by itself, the
//! field's metadata records the original Arrow type under [`ARROW_TYPE_KEY`], as Arrow's own type syntax.
//! Reading casts each column back to that type and removes the key. Other readers (Spark, DuckDB, Polars)
//! see the stored type, which is always the plainest faithful one (a time of day is an `HH:MM:SS.ffffff`
//! string, a 40-digit decimal its decimal text).
//!
//! | Arrow type written | Delta type stored |
//! |---|---|
//! | Boolean, Int8/16/32/64, Float32/64, Utf8, Binary, Date32 | same (no key) |
//! | Decimal128(p ≤ 38, 0 ≤ s ≤ p) | decimal(p, s) (no key) |
//! | Timestamp(µs, None) / Timestamp(µs, "UTC") | timestamp_ntz / timestamp (no key) |
//! | Timestamp(µs, other zone) | timestamp (the instant); zone restored |
//! | Timestamp(s or ms, zone or not) | timestamp / timestamp_ntz in µs |
//! | Timestamp(ns, …), Time32, Time64 | string (Arrow's text form, full precision) |
//! | Decimal32/64, Decimal256 with p ≤ 38 | decimal(p, s) |
//! | Decimal256 with p > 38, decimals with negative scale | string (decimal text) |
//! | UInt8 / UInt16 / UInt32 / UInt64 | short / int / long / decimal(20, 0) |
//! | Float16 | float |
//! | Date64, Duration | long (the raw value) |
//! | LargeUtf8, Utf8View, Dictionary of strings | string |
//! | LargeBinary, BinaryView, FixedSizeBinary | binary |
//! | List, LargeList, FixedSizeList, Struct | array / struct of the stored child types |
//!
//! Anything else (intervals, maps, unions, ...) is rejected with [`Error::Invalid`] before anything is
//! written. Casts use `safe: false`, so a value that does not fit fails the write instead of becoming null.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_cast::{CastOptions, cast_with_options};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use trdm_sync::{Error, Result};

/// Field metadata key holding the Arrow type a column was written with, when Delta stores another.
pub const ARROW_TYPE_KEY: &str = "trdm.arrow_type";

const UTC: &str = "UTC";

const STRICT: CastOptions<'static> = CastOptions {
    safe: false,
    format_options: arrow_cast::display::FormatOptions::new(),
};

/// The schema to write to Delta for `schema`: each field with its stored type, tagged with
/// [`ARROW_TYPE_KEY`] where reading back needs it. Field names, order, nullability and other metadata are
/// kept; schema-level metadata is not (Delta has no place for it).
pub(crate) fn stored_schema(schema: &Schema) -> Result<SchemaRef> {
    let fields = schema
        .fields()
        .iter()
        .map(|field| {
            let stored = stored_type(field.data_type()).ok_or_else(|| {
                Error::Invalid(format!(
                    "column `{}`: Arrow type {} cannot be stored in a Delta table",
                    field.name(),
                    field.data_type()
                ))
            })?;
            let mut metadata = field.metadata().clone();
            metadata.remove(ARROW_TYPE_KEY);
            if !is_native(field.data_type()) {
                metadata.insert(ARROW_TYPE_KEY.to_owned(), field.data_type().to_string());
            }
            Ok(Field::new(field.name(), stored, field.is_nullable()).with_metadata(metadata))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// The schema readers get for a table whose Delta schema, as Arrow, is `delta`: tagged fields get their
/// original type back and lose the tag.
pub(crate) fn logical_schema(delta: &Schema) -> Result<SchemaRef> {
    let fields = delta
        .fields()
        .iter()
        .map(|field| {
            let mut metadata = field.metadata().clone();
            let data_type = match metadata.remove(ARROW_TYPE_KEY) {
                Some(text) => text.parse::<DataType>().map_err(|e| {
                    Error::Invalid(format!(
                        "column `{}`: unreadable {ARROW_TYPE_KEY} {text:?}: {e}",
                        field.name()
                    ))
                })?,
                None => field.data_type().clone(),
            };
            Ok(Field::new(field.name(), data_type, field.is_nullable()).with_metadata(metadata))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// Casts `batch` (which has the writer's logical schema) to `schema` (stored or logical) column by column,
/// matching columns by name, and labels the result with `schema`.
pub(crate) fn cast_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = batch
                .column_by_name(field.name())
                .ok_or_else(|| Error::Catalog {
                    backend: "delta",
                    source: format!("a batch has no column `{}`", field.name()).into(),
                })?;
            cast_column(column, field)
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}

fn cast_column(column: &ArrayRef, field: &FieldRef) -> Result<ArrayRef> {
    if column.data_type() == field.data_type() {
        return Ok(column.clone());
    }
    cast_with_options(column, field.data_type(), &STRICT).map_err(|e| {
        Error::Invalid(format!(
            "column `{}`: cannot convert {} to {}: {e}",
            field.name(),
            column.data_type(),
            field.data_type()
        ))
    })
}

/// Types that Delta stores and hands back unchanged, so need no tag.
fn is_native(data_type: &DataType) -> bool {
    match data_type {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::Binary
        | DataType::Date32
        | DataType::Timestamp(TimeUnit::Microsecond, None) => true,
        DataType::Timestamp(TimeUnit::Microsecond, Some(zone)) => zone.as_ref() == UTC,
        DataType::Decimal128(precision, scale) => delta_decimal(*precision, *scale),
        _ => false,
    }
}

fn delta_decimal(precision: u8, scale: i8) -> bool {
    (1..=38).contains(&precision) && scale >= 0 && scale as u8 <= precision
}

/// The Delta-storable Arrow type that holds every value of `data_type`, or `None` if there is none.
fn stored_type(data_type: &DataType) -> Option<DataType> {
    use DataType::*;
    Some(match data_type {
        Boolean | Int8 | Int16 | Int32 | Int64 | Float32 | Float64 | Utf8 | Binary | Date32 => {
            data_type.clone()
        }
        UInt8 => Int16,
        UInt16 => Int32,
        UInt32 => Int64,
        UInt64 => Decimal128(20, 0),
        Float16 => Float32,
        Decimal32(p, s) | Decimal64(p, s) | Decimal128(p, s) | Decimal256(p, s) => {
            if delta_decimal(*p, *s) {
                Decimal128(*p, *s)
            } else {
                Utf8
            }
        }
        Timestamp(TimeUnit::Nanosecond, _) | Time32(_) | Time64(_) => Utf8,
        Timestamp(_, None) => Timestamp(TimeUnit::Microsecond, None),
        Timestamp(_, Some(_)) => Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        Date64 | Duration(_) => Int64,
        LargeUtf8 | Utf8View => Utf8,
        LargeBinary | BinaryView | FixedSizeBinary(_) => Binary,
        Dictionary(_, values) => stored_type(values)?,
        List(child) | LargeList(child) | FixedSizeList(child, _) => List(Arc::new(Field::new(
            "element",
            stored_type(child.data_type())?,
            child.is_nullable(),
        ))),
        Struct(children) => Struct(
            children
                .iter()
                .map(|child| {
                    Some(
                        Field::new(
                            child.name(),
                            stored_type(child.data_type())?,
                            child.is_nullable(),
                        )
                        .with_metadata(child.metadata().clone()),
                    )
                })
                .collect::<Option<Fields>>()?,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::UInt64Array;
    use arrow_array::builder::{
        Decimal256Builder, Time64MicrosecondBuilder, TimestampNanosecondBuilder,
    };
    use arrow_buffer::i256;

    /// Each odd type survives stored → logical, values included.
    fn round_trip(column: ArrayRef) {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "c",
            column.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![column.clone()]).unwrap();
        let stored = stored_schema(&schema).unwrap();
        let written = cast_batch(&batch, &stored).unwrap();
        // What Delta hands back: the stored schema, tag included.
        let logical = logical_schema(&stored).unwrap();
        assert_eq!(logical, schema, "schema of {}", column.data_type());
        let read = cast_batch(&written, &logical).unwrap();
        assert_eq!(read.column(0), &column, "values of {}", column.data_type());
    }

    #[test]
    fn odd_types_round_trip() {
        let mut time = Time64MicrosecondBuilder::new();
        time.append_slice(&[0, 45_296_000_001, 86_399_999_999]);
        time.append_null();
        round_trip(Arc::new(time.finish()));

        let mut huge = Decimal256Builder::new()
            .with_precision_and_scale(40, 5)
            .unwrap();
        let nines = i256::from_string("9999999999999999999999999999999999999999").unwrap();
        huge.append_slice(&[nines, nines.wrapping_neg(), i256::ZERO, i256::from_i128(-1)]);
        round_trip(Arc::new(huge.finish()));

        let mut small = Decimal256Builder::new()
            .with_precision_and_scale(38, 0)
            .unwrap();
        small.append_value(i256::from_i128(-12345678901234567890123456789012345678));
        round_trip(Arc::new(small.finish()));

        let mut nanos = TimestampNanosecondBuilder::new().with_timezone("+02:00");
        nanos.append_slice(&[1, -1_000_000_001, i64::MAX]);
        round_trip(Arc::new(nanos.finish()));
        let mut nanos = TimestampNanosecondBuilder::new();
        nanos.append_slice(&[1, -1_000_000_001, i64::MIN]);
        round_trip(Arc::new(nanos.finish()));

        round_trip(Arc::new(UInt64Array::from(vec![0, u64::MAX])));
        round_trip(Arc::new(arrow_array::UInt8Array::from(vec![0, 255])));
        round_trip(Arc::new(arrow_array::LargeStringArray::from(vec![
            "a", "ü",
        ])));
        round_trip(Arc::new(arrow_array::StringViewArray::from(vec![
            Some("a long string, more than twelve bytes"),
            None,
        ])));
        round_trip(Arc::new(arrow_array::Date64Array::from(vec![1_234_567])));
        round_trip(Arc::new(
            arrow_array::TimestampMillisecondArray::from(vec![1_234_567])
                .with_timezone("Europe/Zurich"),
        ));
        round_trip(Arc::new(arrow_array::TimestampSecondArray::from(vec![
            -1_234_567,
        ])));
        round_trip(Arc::new(arrow_array::Time32SecondArray::from(vec![
            0, 86_399,
        ])));
        round_trip(Arc::new(arrow_array::DurationMicrosecondArray::from(vec![
            -5, 5,
        ])));
        round_trip(Arc::new(
            arrow_array::FixedSizeBinaryArray::try_from_iter([[1u8, 2], [3, 4]].into_iter())
                .unwrap(),
        ));
        let dictionary: arrow_array::DictionaryArray<arrow_array::types::Int32Type> =
            vec!["x", "y", "x"].into_iter().collect();
        round_trip(Arc::new(dictionary));
        let list = arrow_array::ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(
            vec![Some(vec![Some(1), None]), None],
        );
        round_trip(Arc::new(list));
    }

    #[test]
    fn native_types_are_not_tagged_and_unsupported_types_are_rejected() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Decimal128(14, 2), true),
            Field::new(
                "b",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]);
        let stored = stored_schema(&schema).unwrap();
        assert!(stored.fields().iter().all(|f| f.metadata().is_empty()));
        let bad = Schema::new(vec![Field::new(
            "i",
            DataType::Interval(arrow_schema::IntervalUnit::DayTime),
            true,
        )]);
        assert!(matches!(stored_schema(&bad), Err(Error::Invalid(_))));
    }
}
