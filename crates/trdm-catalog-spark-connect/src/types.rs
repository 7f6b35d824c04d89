//! Arrow schemas and batches as Spark takes them, exactly as the Python catalog
//! (`python/titan_rdm_sdk/_spark_catalog.py`: `spark_schema`, `_spark_ready`) prepares them, so that a table
//! written by the CLI and one written by `SparkSync` have the same column types, comments and text values.
//!
//! utf8 → string, int8/16/32/64 → byte/short/int/long, decimal(p ≤ 38, s) → decimal(p,s), float32/64 →
//! float/double, bool → boolean, date32 → date, timestamp(us, zone) → timestamp, timestamp(us) →
//! timestamp_ntz. Spark holds no time of day and no decimal past 38 digits: those (and anything else) are
//! sent as text in Arrow's (and pyarrow's) canonical form, `12:34:56.000001` and `-1.00000`, which the
//! stored schema turns back into their types on read. A field's `comment` metadata becomes the column's
//! comment.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde_json::{Map, Value, json};
use trdm_sync::{Error, Result};

/// The Spark SQL type of an Arrow type, in Spark's JSON schema spelling; `None` when Spark gets the column
/// as text.
fn spark_type(data_type: &DataType) -> Option<String> {
    Some(match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Int8 => "byte".into(),
        DataType::Int16 => "short".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "long".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *p <= 38 => {
            format!("decimal({p},{s})")
        }
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp".into(),
        DataType::Timestamp(_, None) => "timestamp_ntz".into(),
        _ => return None,
    })
}

/// The Arrow type a column is sent to Spark as: what Spark's Arrow reader maps to [`spark_type`].
fn wire_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Decimal256(p, s) if *p <= 38 => DataType::Decimal128(*p, *s),
        DataType::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
        t if spark_type(t).is_some() => t.clone(),
        _ => DataType::Utf8,
    }
}

/// The schema of the batches sent for `schema` (see [`spark_ready`]), with each field's metadata kept.
pub(crate) fn wire_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                Field::new(f.name(), wire_type(f.data_type()), f.is_nullable())
                    .with_metadata(f.metadata().clone())
            })
            .collect::<Vec<_>>(),
    ))
}

/// Spark's JSON schema (`StructType.json()`) for `schema`: what createDataFrame sends beside the data, so
/// the server takes names, types, nullability and comments from it.
pub(crate) fn spark_schema_json(schema: &Schema) -> String {
    let fields: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut metadata = Map::new();
            if let Some(comment) = f.metadata().get("comment") {
                metadata.insert("comment".into(), Value::String(comment.clone()));
            }
            json!({
                "name": f.name(),
                "type": spark_type(f.data_type()).unwrap_or_else(|| "string".into()),
                "nullable": f.is_nullable(),
                "metadata": metadata,
            })
        })
        .collect();
    json!({"type": "struct", "fields": fields}).to_string()
}

/// `batch` (whose schema is the engine's) with every column cast to its [`wire_type`]: time of day and wide
/// decimals as text, timestamps in microseconds. Fails naming the column that does not convert.
pub(crate) fn spark_ready(wire: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(wire.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                return Ok(column.clone());
            }
            if field.data_type() == &DataType::Utf8
                && spark_type(column.data_type()).is_none()
                && let Some(text) = time_text(column)
            {
                return Ok(text);
            }
            arrow_cast::cast(column, field.data_type()).map_err(|e| {
                Error::Invalid(format!(
                    "column `{}` ({}) cannot be sent to Spark as {}: {e}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ))
            })
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    RecordBatch::try_new(wire.clone(), columns).map_err(Error::from)
}

/// Time of day as text with every digit of its unit, as pyarrow (and Arrow C++) write it:
/// `12:34:56.000001` for microseconds. (arrow-rs drops zero fractions, `12:34:56`; the Python catalog's
/// tables hold the long form, and so must ours.)
fn time_text(column: &ArrayRef) -> Option<ArrayRef> {
    let (values, digits, per_second): (Vec<Option<i64>>, usize, i64) = match column.data_type() {
        DataType::Time64(TimeUnit::Microsecond) => (
            column
                .as_primitive::<Time64MicrosecondType>()
                .iter()
                .collect(),
            6,
            1_000_000,
        ),
        DataType::Time64(TimeUnit::Nanosecond) => (
            column
                .as_primitive::<Time64NanosecondType>()
                .iter()
                .collect(),
            9,
            1_000_000_000,
        ),
        DataType::Time32(TimeUnit::Millisecond) => (
            column
                .as_primitive::<Time32MillisecondType>()
                .iter()
                .map(|v| v.map(i64::from))
                .collect(),
            3,
            1_000,
        ),
        DataType::Time32(TimeUnit::Second) => (
            column
                .as_primitive::<Time32SecondType>()
                .iter()
                .map(|v| v.map(i64::from))
                .collect(),
            0,
            1,
        ),
        _ => return None,
    };
    let text: StringArray = values
        .into_iter()
        .map(|v| {
            v.map(|v| {
                let (seconds, fraction) = (v.div_euclid(per_second), v.rem_euclid(per_second));
                let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
                if digits == 0 {
                    format!("{h:02}:{m:02}:{s:02}")
                } else {
                    format!("{h:02}:{m:02}:{s:02}.{fraction:0digits$}")
                }
            })
        })
        .collect();
    debug_assert_eq!(text.len(), column.len());
    Some(Arc::new(text))
}

#[cfg(test)]
mod tests {
    use arrow_array::builder::{Decimal256Builder, Time64MicrosecondBuilder};
    use arrow_array::{Int64Array, TimestampMicrosecondArray};
    use arrow_buffer::i256;

    use super::*;

    fn comment(text: &str) -> std::collections::HashMap<String, String> {
        [("comment".to_owned(), text.to_owned())].into()
    }

    #[test]
    fn the_spark_schema_has_the_python_catalogs_types_and_comments() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false).with_metadata(comment("record id")),
            Field::new("amount", DataType::Decimal128(14, 2), true),
            Field::new("huge", DataType::Decimal256(40, 5), true),
            Field::new("opens_at", DataType::Time64(TimeUnit::Microsecond), true),
            Field::new(
                "utc",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new(
                "local",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
        ]);
        let json: Value = serde_json::from_str(&spark_schema_json(&schema)).unwrap();
        let types: Vec<&str> = json["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "long",
                "decimal(14,2)",
                "string",
                "string",
                "timestamp",
                "timestamp_ntz"
            ]
        );
        assert_eq!(json["fields"][0]["nullable"], false);
        assert_eq!(json["fields"][0]["metadata"]["comment"], "record id");
        assert_eq!(json["fields"][1]["metadata"], json!({}));
    }

    #[test]
    fn time_of_day_and_wide_decimals_are_sent_as_pyarrows_text() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("opens_at", DataType::Time64(TimeUnit::Microsecond), true),
            Field::new("huge", DataType::Decimal256(40, 5), true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        let mut opens = Time64MicrosecondBuilder::new();
        opens.append_slice(&[0, 45_296_000_001, 86_399_999_999]);
        let mut huge = Decimal256Builder::new()
            .with_precision_and_scale(40, 5)
            .unwrap();
        huge.append_value(i256::from_i128(-100_000));
        huge.append_null();
        huge.append_value(i256::from_i128(123_456_789));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(opens.finish()),
                Arc::new(huge.finish()),
                Arc::new(TimestampMicrosecondArray::from(vec![0, 1, 2]).with_timezone("UTC")),
            ],
        )
        .unwrap();
        let wire = wire_schema(&schema);
        let ready = spark_ready(&wire, &batch).unwrap();
        let text = |i: usize| -> Vec<Option<String>> {
            ready
                .column(i)
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect()
        };
        assert_eq!(
            text(1),
            [
                Some("00:00:00.000000".to_owned()),
                Some("12:34:56.000001".to_owned()),
                Some("23:59:59.999999".to_owned())
            ]
        );
        assert_eq!(
            text(2),
            [
                Some("-1.00000".to_owned()),
                None,
                Some("1234.56789".to_owned())
            ]
        );
        assert_eq!(ready.column(3).data_type(), schema.field(3).data_type());
    }
}
