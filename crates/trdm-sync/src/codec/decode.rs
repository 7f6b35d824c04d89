//! CSV → Arrow: an export file read into record batches with each column's TitanRDM type, so that nothing
//! is inferred from the data.

use std::io::Read;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::i256;
use arrow_schema::{DataType as ArrowType, SchemaRef, TimeUnit};
use trdm_format::csv::{CsvReader, Record};
use trdm_format::value::{ColumnType, DataType, ParseOptions, Value};

use super::{column_type_of, csv_error, row_error, value_error};
use crate::error::{Error, Result};
use crate::schema::{self, TableDef};

// ---------------------------------------------------------------------------------------------------------
// CSV → Arrow

/// Decodes an export file (header + rows) into record batches of a given schema (usually
/// [`export_schema`](crate::schema::export_schema)), `batch_size` rows at a time.
///
/// Columns are matched by header name, so the file's column order does not matter; a header column that the
/// schema lacks, or a schema column missing from the header, is [`Error::SchemaMismatch`] naming it. Each
/// schema field must have exactly the Arrow type its TitanRDM type maps to. Values parse with the column's
/// TitanRDM type (system columns with theirs: timestamps like `2024-01-02T03:04:05.5+00`, booleans
/// `true`/`false`); an empty unquoted field is NULL and `""` the empty string. A bad value is
/// `Error::Invalid("column X, row N: value \"V\" <reason>")`, rows counted from 1 after the header.
///
/// The iterator yields no batch for a file with only a header, and stops after the first error.
pub struct CsvDecoder<R: Read> {
    reader: CsvReader<R>,
    record: Record,
    schema: SchemaRef,
    columns: Vec<DecodeColumn>,
    header_len: usize,
    batch_size: usize,
    /// Data rows read so far.
    rows: u64,
    done: bool,
    scratch: String,
}

/// One schema field and where its values come from.
struct DecodeColumn {
    name: String,
    column_type: ColumnType,
    /// Index of the column in the file.
    position: usize,
    nullable: bool,
    /// For `text` and `varchar` columns, the longest value in bytes that [`ColumnType::parse`] accepts as
    /// it is without counting characters (`usize::MAX` when unbounded): such a non-NULL value is appended
    /// directly, saving the `String` that `Value::Text` would allocate. Longer values, and other types,
    /// take the full path.
    verbatim_up_to: Option<usize>,
    builder: ColumnBuilder,
}

/// See [`DecodeColumn::verbatim_up_to`]. `varchar(n)` accepts any text of at most `n` bytes unchanged (bytes
/// bound characters from above); `text` and unbounded `varchar` accept any text unchanged.
fn verbatim_up_to(column_type: &ColumnType) -> Option<usize> {
    match (column_type.data_type, column_type.length) {
        (DataType::Text, _) | (DataType::Varchar, None) => Some(usize::MAX),
        (DataType::Varchar, Some(max)) => Some(max as usize),
        _ => None,
    }
}

impl<R: Read> CsvDecoder<R> {
    /// Reads the header of `input` and checks it against `schema` and `table`. A `batch_size` of 0 is
    /// taken as 1.
    pub fn new(input: R, table: &TableDef, schema: SchemaRef, batch_size: usize) -> Result<Self> {
        let mut reader = CsvReader::new(input);
        let mut header = Record::new();
        if !reader.read_record(&mut header).map_err(csv_error)? {
            return Err(Error::SchemaMismatch(
                "the file is empty: it has no header row".into(),
            ));
        }
        let names: Vec<&str> = header.iter().map(|f| f.text).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(Error::SchemaMismatch(format!(
                    "column {name} appears twice in the file header"
                )));
            }
            if schema.column_with_name(name).is_none() {
                return Err(Error::SchemaMismatch(format!(
                    "the file has column {name}, which the schema does not have"
                )));
            }
        }
        let batch_size = batch_size.max(1);
        let mut columns = Vec::with_capacity(schema.fields().len());
        for (i, field) in schema.fields().iter().enumerate() {
            let name = field.name();
            if schema.fields()[..i].iter().any(|f| f.name() == name) {
                return Err(Error::SchemaMismatch(format!(
                    "column {name} appears twice in the schema"
                )));
            }
            let position = names.iter().position(|n| n == name).ok_or_else(|| {
                Error::SchemaMismatch(format!("column {name} is missing from the file header"))
            })?;
            let column_type = column_type_of(table, name).ok_or_else(|| {
                Error::SchemaMismatch(format!(
                    "column {name} is neither a column of table {} nor a system column",
                    table.database_table_name
                ))
            })?;
            let expected = schema::arrow_type(&column_type);
            if field.data_type() != &expected {
                return Err(Error::SchemaMismatch(format!(
                    "column {name} is {} (Arrow {expected}) but the schema says {}",
                    schema::type_text(&column_type),
                    field.data_type()
                )));
            }
            columns.push(DecodeColumn {
                name: name.clone(),
                position,
                nullable: field.is_nullable(),
                verbatim_up_to: verbatim_up_to(&column_type),
                builder: ColumnBuilder::new(field.data_type(), batch_size)?,
                column_type,
            });
        }
        Ok(CsvDecoder {
            reader,
            record: Record::new(),
            schema,
            columns,
            header_len: names.len(),
            batch_size,
            rows: 0,
            done: false,
            scratch: String::new(),
        })
    }

    /// The schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Data rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    fn read_batch(&mut self) -> Result<Option<RecordBatch>> {
        let options = ParseOptions::default();
        let mut rows = 0;
        while rows < self.batch_size {
            if !self
                .reader
                .read_record(&mut self.record)
                .map_err(csv_error)?
            {
                self.done = true;
                break;
            }
            self.rows += 1;
            let row = self.rows;
            if self.record.len() != self.header_len {
                return Err(Error::Invalid(format!(
                    "row {row} has {} fields but the header has {}",
                    self.record.len(),
                    self.header_len
                )));
            }
            for column in &mut self.columns {
                let Some(field) = self.record.get(column.position) else {
                    unreachable!("the record has as many fields as the header");
                };
                // The same value `parse` would give (`Value::Text(field.text)`), without the allocation.
                if let (Some(max), ColumnBuilder::Utf8(b)) =
                    (column.verbatim_up_to, &mut column.builder)
                    && field.text.len() <= max
                    && (field.quoted || !field.text.is_empty())
                {
                    b.append_value(field.text);
                    continue;
                }
                let value = column
                    .column_type
                    .parse(field.text, field.quoted, &options)
                    .map_err(|e| value_error(None, &column.name, row, field.text, &e.reason))?;
                if matches!(value, Value::Null) && !column.nullable {
                    return Err(row_error(
                        None,
                        &column.name,
                        row,
                        "value NULL is not allowed: the column is required",
                    ));
                }
                column
                    .builder
                    .append(&column.column_type, value, &mut self.scratch)
                    .map_err(|reason| value_error(None, &column.name, row, field.text, reason))?;
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        // Each column starts the next batch with a builder sized for a whole batch: a finished arrow
        // builder keeps no capacity and would otherwise regrow from nothing, batch after batch.
        let mut arrays = Vec::with_capacity(self.columns.len());
        for (column, field) in self.columns.iter_mut().zip(self.schema.fields()) {
            let next = ColumnBuilder::new(field.data_type(), self.batch_size)?;
            arrays.push(std::mem::replace(&mut column.builder, next).finish());
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(Some(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            arrays,
            &options,
        )?))
    }
}

impl<R: Read> Iterator for CsvDecoder<R> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

/// An Arrow builder for one of the types [`schema::arrow_type`] produces.
enum ColumnBuilder {
    Utf8(StringBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Date32(Date32Builder),
    Time64(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    /// With the column's scale.
    Decimal128(Decimal128Builder, u32),
    /// With the column's scale.
    Decimal256(Decimal256Builder, u32),
}

impl ColumnBuilder {
    fn new(data_type: &ArrowType, capacity: usize) -> Result<Self> {
        Ok(match data_type {
            ArrowType::Utf8 => Self::Utf8(StringBuilder::with_capacity(capacity, capacity * 16)),
            ArrowType::Int16 => Self::Int16(Int16Builder::with_capacity(capacity)),
            ArrowType::Int32 => Self::Int32(Int32Builder::with_capacity(capacity)),
            ArrowType::Int64 => Self::Int64(Int64Builder::with_capacity(capacity)),
            ArrowType::Float32 => Self::Float32(Float32Builder::with_capacity(capacity)),
            ArrowType::Float64 => Self::Float64(Float64Builder::with_capacity(capacity)),
            ArrowType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(capacity)),
            ArrowType::Date32 => Self::Date32(Date32Builder::with_capacity(capacity)),
            ArrowType::Time64(TimeUnit::Microsecond) => {
                Self::Time64(Time64MicrosecondBuilder::with_capacity(capacity))
            }
            ArrowType::Timestamp(TimeUnit::Microsecond, zone) => Self::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity)
                    .with_timezone_opt(zone.clone()),
            ),
            ArrowType::Decimal128(precision, scale) => Self::Decimal128(
                Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(*precision, *scale)?,
                u32::try_from(*scale).unwrap_or(0),
            ),
            ArrowType::Decimal256(precision, scale) => Self::Decimal256(
                Decimal256Builder::with_capacity(capacity)
                    .with_precision_and_scale(*precision, *scale)?,
                u32::try_from(*scale).unwrap_or(0),
            ),
            other => {
                return Err(Error::SchemaMismatch(format!(
                    "Arrow type {other} is not one that a TitanRDM type maps to"
                )));
            }
        })
    }

    /// Appends a parsed value. The column's type decides the Value kind, and the schema check in
    /// [`CsvDecoder::new`] that the builder fits it, so a mismatch here is a bug reported as an error.
    fn append(
        &mut self,
        column_type: &ColumnType,
        value: Value,
        scratch: &mut String,
    ) -> std::result::Result<(), &'static str> {
        if matches!(value, Value::Null) {
            self.append_null();
            return Ok(());
        }
        let out_of_range = "is out of range for the column's Arrow type";
        match (self, value) {
            (Self::Utf8(b), Value::Text(text)) => b.append_value(text),
            (Self::Utf8(b), value) => {
                scratch.clear();
                column_type.format(&value, scratch);
                b.append_value(&scratch);
            }
            (Self::Int16(b), Value::Int(i)) => {
                b.append_value(i16::try_from(i).map_err(|_| out_of_range)?)
            }
            (Self::Int32(b), Value::Int(i)) => {
                b.append_value(i32::try_from(i).map_err(|_| out_of_range)?)
            }
            (Self::Int64(b), Value::Int(i)) => b.append_value(i),
            // A real holds the f64 of its f32, so the narrowing is exact; NaN gets the one canonical f32 NaN.
            (Self::Float32(b), Value::Float(f)) => {
                b.append_value(if f.is_nan() { f32::NAN } else { f as f32 })
            }
            (Self::Float64(b), Value::Float(f)) => b.append_value(f),
            (Self::Boolean(b), Value::Bool(v)) => b.append_value(v),
            (Self::Date32(b), Value::Date(days)) => b.append_value(days),
            (Self::Time64(b), Value::Time(micros)) => b.append_value(micros),
            (Self::Timestamp(b), Value::Timestamp(micros) | Value::TimestampTz(micros)) => {
                b.append_value(micros)
            }
            (Self::Decimal128(b, scale), Value::Decimal(text)) => {
                unscaled_digits(&text, *scale, scratch)?;
                b.append_value(scratch.parse::<i128>().map_err(|_| out_of_range)?);
            }
            (Self::Decimal256(b, scale), Value::Decimal(text)) => {
                unscaled_digits(&text, *scale, scratch)?;
                b.append_value(scratch.parse::<i256>().map_err(|_| out_of_range)?);
            }
            _ => return Err("does not fit the column's Arrow type"),
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Self::Utf8(b) => b.append_null(),
            Self::Int16(b) => b.append_null(),
            Self::Int32(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::Float32(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Boolean(b) => b.append_null(),
            Self::Date32(b) => b.append_null(),
            Self::Time64(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Decimal128(b, _) => b.append_null(),
            Self::Decimal256(b, _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Int16(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Date32(b) => Arc::new(b.finish()),
            Self::Time64(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::Decimal128(b, _) => Arc::new(b.finish()),
            Self::Decimal256(b, _) => Arc::new(b.finish()),
        }
    }
}

/// The unscaled integer of a canonical decimal text at `scale`: `-12.5` at scale 2 → `-1250`, into `out`.
pub(super) fn unscaled_digits(
    text: &str,
    scale: u32,
    out: &mut String,
) -> std::result::Result<(), &'static str> {
    let (integer, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > scale as usize {
        return Err("has more decimal places than the column's scale");
    }
    out.clear();
    out.push_str(integer);
    out.push_str(fraction);
    out.extend(std::iter::repeat_n('0', scale as usize - fraction.len()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type,
        Int64Type, Time64MicrosecondType, TimestampMicrosecondType,
    };
    use arrow_buffer::i256;
    use arrow_schema::{DataType as ArrowType, Field, Schema};
    use trdm_format::csv::{CsvReader, Record};
    use trdm_format::temporal::{self, MICROS_PER_DAY, days_from_civil};
    use trdm_format::value::{DataType, ParseOptions};

    use super::*;
    use crate::codec::shown;
    use crate::codec::test_fixtures::*;
    use crate::schema::{export_schema, user_schema};

    #[test]
    fn decodes_every_type_and_the_system_columns() {
        let t = every_type();
        let csv = format!(
            "{EVERY_HEADER}\n\
             007,\"\",a,-32768,7,9223372036854775807,12.50,-1.500,123.4,0.001,0.1,NaN,true,2024-02-29,\
             24:00:00,10:30:00+05:30,2024-01-02T03:04:05.5,2024-01-02T03:04:05.000001+00,\
             1,10,C,2024-01-02T03:04:05.5+00,2024-01-02T03:04:05.5+00,9999-12-31T00:00:00+00,false,I,42,\n\
             x,,,,,,,,,,,,,,,,,,2,11,H,2024-01-02T00:00:00+00,2024-01-02T00:00:00+00,2024-01-03T00:00:00+00,\
             true,U,,d\n"
        );
        let batches = decode(&t, export_schema(&t), &csv, 1024).unwrap();
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema(), export_schema(&t));
        let text = |name: &str| b.column_by_name(name).unwrap().as_string::<i32>().clone();
        assert_eq!(text("code").value(0), "007");
        assert_eq!(text("name").value(0), "");
        assert!(text("name").is_null(1));
        assert_eq!(text("ch").value(0), "a  ");
        let column = |name: &str| Arc::clone(b.column_by_name(name).unwrap());
        assert_eq!(column("small").as_primitive::<Int16Type>().value(0), -32768);
        assert_eq!(column("int").as_primitive::<Int32Type>().value(0), 7);
        assert_eq!(column("big").as_primitive::<Int64Type>().value(0), i64::MAX);
        assert_eq!(
            column("amount").as_primitive::<Decimal128Type>().value(0),
            1250
        );
        assert_eq!(
            column("wide").as_primitive::<Decimal256Type>().value(0),
            i256::from_i128(-1500)
        );
        assert_eq!(text("huge").value(0), "123.4");
        assert_eq!(text("free").value(0), "0.001");
        assert_eq!(column("r").as_primitive::<Float32Type>().value(0), 0.1f32);
        assert!(column("d").as_primitive::<Float64Type>().value(0).is_nan());
        assert!(column("flag").as_boolean().value(0));
        assert_eq!(
            column("day").as_primitive::<Date32Type>().value(0),
            days_from_civil(2024, 2, 29)
        );
        assert_eq!(
            column("at")
                .as_primitive::<Time64MicrosecondType>()
                .value(0),
            MICROS_PER_DAY
        );
        assert_eq!(text("attz").value(0), "10:30:00+05:30");
        assert_eq!(
            column("ts")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            micros(2024, 1, 2, 3, 4, 5, 500_000)
        );
        assert_eq!(
            column("tstz")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            micros(2024, 1, 2, 3, 4, 5, 1)
        );
        for name in [
            "small", "amount", "wide", "huge", "r", "d", "flag", "day", "at", "ts", "tstz",
        ] {
            assert!(column(name).is_null(1), "{name}");
        }
        assert_eq!(column("trdm_sk").as_primitive::<Int64Type>().value(1), 2);
        assert_eq!(text("trdm_state").value(1), "H");
        assert_eq!(
            column("trdm_effective_to")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            temporal::HIGH_DATE_MICROS
        );
        assert!(column("trdm_is_deleted").as_boolean().value(1));
        assert_eq!(
            column("trdm_actor_id").as_primitive::<Int64Type>().value(0),
            42
        );
        assert!(column("trdm_actor_id").is_null(1));
        assert!(text("trdm_tran_code").is_null(0));
        assert_eq!(text("trdm_tran_code").value(1), "d");
    }

    #[test]
    fn decoder_matches_columns_by_name_and_splits_batches() {
        let t = table(vec![
            key(col("id", DataType::Integer, None, None)),
            col("name", DataType::Varchar, None, None),
        ]);
        let csv = "name,id\na,1\nb,2\n\"c,\"\"d\"\"\",3\nd\ne,4\n,5\n";
        // "d" alone is a short row; use a valid file for the happy path.
        let csv_ok = csv.replace("d\ne,4\n", "e,4\n");
        let batches = decode(&t, user_schema(&t), &csv_ok, 2).unwrap();
        assert_eq!(
            batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let names: Vec<_> = batches
            .iter()
            .flat_map(|b| {
                let a = b.column(1).as_string::<i32>().clone();
                (0..a.len())
                    .map(|i| a.is_valid(i).then(|| a.value(i).to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            names,
            [
                Some("a".into()),
                Some("b".into()),
                Some("c,\"d\"".into()),
                Some("e".into()),
                None
            ]
        );
        let mut decoder = CsvDecoder::new(csv.as_bytes(), &t, user_schema(&t), 2).unwrap();
        assert_eq!(decoder.schema(), user_schema(&t));
        assert_eq!(decoder.next().unwrap().unwrap().num_rows(), 2);
        assert_eq!(
            decoder.next().unwrap().unwrap_err().to_string(),
            "row 4 has 1 fields but the header has 2"
        );
        assert!(decoder.next().is_none());
        assert_eq!(decoder.rows_read(), 4);
        // Only a header: no batches. A batch size of 0 is 1.
        assert!(
            decode(&t, user_schema(&t), "id,name\n", 0)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            decode(&t, user_schema(&t), "id,name\n1,a\n2,b", 0)
                .unwrap()
                .len(),
            2
        );
    }

    /// Text values appended without `parse` (see `DecodeColumn::verbatim_up_to`) come out exactly as
    /// `parse` gives them, across batch boundaries, and values beyond the byte bound still take the full
    /// path (accepted when their characters fit, rejected otherwise).
    #[test]
    fn decoder_text_fast_path_matches_parse() {
        let t = table(vec![
            col("v3", DataType::Varchar, Some(3), None),
            col("v", DataType::Varchar, None, None),
            col("t", DataType::Text, None, None),
            col("ch", DataType::Character, Some(3), None),
        ]);
        let schema = user_schema(&t);
        let csv = "v3,v,t,ch\nabc,x, y ,a\n\"\",\"\",\"\",\"\"\n,,,\nhéé,é,\"a,b\",b\n";
        let batches = decode(&t, Arc::clone(&schema), csv, 1).unwrap();
        assert_eq!(batches.len(), 4);
        let column = |c: usize| -> Vec<Option<String>> {
            batches
                .iter()
                .flat_map(|b| {
                    let a = b.column(c).as_string::<i32>().clone();
                    (0..a.len())
                        .map(|i| a.is_valid(i).then(|| a.value(i).to_owned()))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let expected = |rows: [Option<&str>; 4]| -> Vec<Option<String>> {
            rows.iter().map(|r| r.map(str::to_owned)).collect()
        };
        for c in 0..4 {
            let mut want = Vec::new();
            for row in 0..4 {
                let batch = &batches[row];
                let field = t.columns[c].column_type();
                let text = [
                    "abc,x, y ,a",
                    "\"\",\"\",\"\",\"\"",
                    ",,,",
                    "héé,é,\"a,b\",b",
                ][row];
                let mut reader = CsvReader::new(text.as_bytes());
                let mut record = Record::new();
                reader.read_record(&mut record).unwrap();
                let f = record.get(c).unwrap();
                let mut canonical = String::new();
                let value = field
                    .parse(f.text, f.quoted, &ParseOptions::default())
                    .unwrap();
                want.push(field.format(&value, &mut canonical).then_some(canonical));
                assert_eq!(batch.num_rows(), 1);
            }
            assert_eq!(column(c), want, "column {c}");
        }
        assert_eq!(
            column(0),
            expected([Some("abc"), Some(""), None, Some("héé")])
        );
        assert_eq!(
            column(2),
            expected([Some(" y "), Some(""), None, Some("a,b")])
        );
        assert_eq!(
            column(3),
            expected([Some("a  "), Some("   "), None, Some("b  ")])
        );
        assert_eq!(
            decode_error(&t, schema, "v3,v,t,ch\nabcd,,,\n"),
            "column v3, row 1: value \"abcd\" is longer than 3 characters (4)"
        );
    }

    #[test]
    fn decoder_header_errors() {
        let t = table(vec![
            key(col("code", DataType::Varchar, Some(5), None)),
            col("name", DataType::Text, None, None),
        ]);
        let schema = user_schema(&t);
        assert_eq!(
            decode_error(&t, Arc::clone(&schema), "code,name,extra\n"),
            "schema mismatch: the file has column extra, which the schema does not have"
        );
        assert_eq!(
            decode_error(&t, Arc::clone(&schema), "code\n"),
            "schema mismatch: column name is missing from the file header"
        );
        assert_eq!(
            decode_error(&t, Arc::clone(&schema), "code,name,code\n"),
            "schema mismatch: column code appears twice in the file header"
        );
        assert_eq!(
            decode_error(&t, Arc::clone(&schema), ""),
            "schema mismatch: the file is empty: it has no header row"
        );
        let wrong = Arc::new(Schema::new(vec![
            Field::new("code", ArrowType::Int64, false),
            Field::new("name", ArrowType::Utf8, true),
        ]));
        assert_eq!(
            decode_error(&t, wrong, "code,name\n"),
            "schema mismatch: column code is varchar(5) (Arrow Utf8) but the schema says Int64"
        );
        let stranger = Arc::new(Schema::new(vec![Field::new(
            "other",
            ArrowType::Utf8,
            true,
        )]));
        assert_eq!(
            decode_error(&t, stranger, "other\n"),
            "schema mismatch: column other is neither a column of table items nor a system column"
        );
        let twice = Arc::new(Schema::new(vec![
            Field::new("name", ArrowType::Utf8, true),
            Field::new("name", ArrowType::Utf8, true),
        ]));
        assert_eq!(
            decode_error(&t, twice, "name\n"),
            "schema mismatch: column name appears twice in the schema"
        );
    }

    #[test]
    fn decoder_value_errors() {
        let t = table(vec![
            key(col("code", DataType::Varchar, Some(5), None)),
            col("small", DataType::Smallint, None, None),
            col("at", DataType::Timestamptz, None, None),
        ]);
        let schema = user_schema(&t);
        let cases = [
            (
                "a,1,\nb,40000,\n",
                "column small, row 2: value \"40000\" is out of range for smallint",
            ),
            (
                ",1,\n",
                "column code, row 1: value NULL is not allowed: the column is required",
            ),
            (
                "abcdef,1,\n",
                "column code, row 1: value \"abcdef\" is longer than 5 characters (6)",
            ),
            (
                "a,\"\",\n",
                "column small, row 1: value \"\" is not a valid integer",
            ),
            (
                "a,1,2024-13-01T00:00:00+00\n",
                "column at, row 1: value \"2024-13-01T00:00:00+00\" is not a valid timestamp with \
                 time zone (month must be between 01 and 12)",
            ),
            ("a,1\n", "row 1 has 2 fields but the header has 3"),
            (
                "a,1,\n\"b,2,\n",
                "the file is not valid CSV: line 3: unterminated quoted field (field 1)",
            ),
        ];
        for (rows, expected) in cases {
            let csv = format!("code,small,at\n{rows}");
            assert_eq!(
                decode_error(&t, Arc::clone(&schema), &csv),
                expected,
                "{rows:?}"
            );
        }
        // Rows count over the whole file, across batches.
        let csv = "code,small,at\na,1,\nb,2,\nc,x,\n";
        let results: Vec<_> = CsvDecoder::new(csv.as_bytes(), &t, schema, 1)
            .unwrap()
            .collect();
        assert_eq!(results.len(), 3);
        assert_eq!(
            results[2].as_ref().unwrap_err().to_string(),
            "column small, row 3: value \"x\" is not a valid integer"
        );
        let long = "x".repeat(150);
        assert_eq!(
            shown(&long),
            format!("\"{}\"… (150 characters)", "x".repeat(100))
        );
        assert_eq!(shown("a\"b\nc"), "\"a\\\"b\\nc\"");
    }
}
