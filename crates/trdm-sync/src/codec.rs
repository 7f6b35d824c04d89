//! Streaming CSV ⇄ Arrow for TitanRDM files (protocol part A §7), in both directions.
//!
//! Why it is built this way:
//!
//! * **One grammar.** Values are read with `trdm_format`'s [`ColumnType::parse`] and written with
//!   [`ColumnType::format`] (or the `temporal` formatters it uses), the same code the emulator uses to
//!   validate imports and write exports, so the engine and the service cannot disagree about a single
//!   value. This module only moves values between that grammar and Arrow arrays; it parses nothing itself.
//!   When an input array already has the Arrow type its column maps to, the encoders write the canonical
//!   text straight from the value instead of formatting, parsing and formatting again (three times faster);
//!   they do so only where the result is the same by construction, and fall back to the full path for any
//!   value out of the column's range, so messages come from the grammar too.
//! * **Types come from TitanRDM.** The decoder reads each column with its column definition's type (from the
//!   [`TableDef`], or the fixed type of a system column) into the Arrow type [`schema`] maps
//!   it to. Nothing is inferred from the data, so `"007"` stays text and `12.50` stays `decimal(14,2)`.
//! * **Lossless.** A value is accepted only when it survives the trip exactly: [`encode_csv`] followed by
//!   [`CsvDecoder`] gives back the same batches, and [`encode_upload`] rejects input values that would change
//!   on the way into a column (`7.5` into `integer`, `300` into `smallint`, a double into `real` that is
//!   not exactly representable there, nanoseconds into a microsecond timestamp).
//! * **Streaming.** Rows are read and written one at a time with reused buffers; memory is bounded by one
//!   batch, except for [`encode_upload`]'s set of primary keys seen so far (needed to reject a duplicate key
//!   before the file is sent, as the service would).
//!
//! Row numbers in messages count data rows from 1, after the header (the emulator's convention).

use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::fmt::{Display, Write as _};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::{Read, Write};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type,
    Decimal256Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::{NullBuffer, i256};
use arrow_schema::{DataType as ArrowType, SchemaRef, TimeUnit};
use trdm_format::csv::{CsvError, CsvReader, CsvWriter, Record};
use trdm_format::temporal::{self, MICROS_PER_DAY, MICROS_PER_SECOND};
use trdm_format::value::{ColumnType, DataType, ParseOptions, Value};

use crate::error::{Error, Result};
use crate::schema::{self, SYSTEM_COLUMNS, TRAN_CODE_COLUMN, TableDef};

// ---------------------------------------------------------------------------------------------------------
// Messages

/// Values longer than this are cut in messages; an over-long text should not produce a megabyte of error.
const MAX_SHOWN_CHARS: usize = 100;

/// A value as messages show it: quoted and escaped like a Rust string literal, cut when very long.
fn shown(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} characters)", &text[..cut], text.chars().count()),
    }
}

/// `[table T, ]column C, row N: <what>`.
fn row_error(table: Option<&str>, column: &str, row: u64, what: impl Display) -> Error {
    let table = table.map(|t| format!("table {t}, ")).unwrap_or_default();
    Error::Invalid(format!("{table}column {column}, row {row}: {what}"))
}

fn value_error(table: Option<&str>, column: &str, row: u64, value: &str, reason: &str) -> Error {
    row_error(
        table,
        column,
        row,
        format_args!("value {} {reason}", shown(value)),
    )
}

fn csv_error(error: CsvError) -> Error {
    match error {
        CsvError::Io(error) => Error::Io(error),
        other => Error::Invalid(format!("the file is not valid CSV: {other}")),
    }
}

/// The TitanRDM type of a file column: a user column of `table`, else a system column.
fn column_type_of(table: &TableDef, name: &str) -> Option<ColumnType> {
    table
        .column(name)
        .map(|c| c.column_type())
        .or_else(|| schema::system_column_type(name))
}

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
fn unscaled_digits(
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

// ---------------------------------------------------------------------------------------------------------
// Arrow values as text (the input side of both encoders)

/// What an input column holds, for the exactness check on float targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Strings: read exactly as the service would read the text.
    Text,
    /// Integers and decimals: exact numbers.
    Exact,
    /// 16- or 32-bit floats: their shortest text is exact in `real` and `double`.
    Float32,
    /// 64-bit floats: exact in `double` only.
    Float64,
    /// Booleans, dates, times, timestamps.
    Other,
}

/// Writes the value at a row as text into the buffer (cleared first). On error the buffer holds the raw
/// value for the message and the error is the reason.
type Render<'a> = Box<dyn Fn(usize, &mut String) -> std::result::Result<(), &'static str> + 'a>;

/// One input column of one batch, ready to give each value as the text the service would accept for it.
struct Source<'a> {
    nulls: Option<NullBuffer>,
    kind: Kind,
    render: Render<'a>,
    /// Writes the target column's canonical text straight from the Arrow value, when the array already has
    /// the column's mapped type; its errors only mean "take the general path" (see [`direct`]).
    direct: Option<Render<'a>>,
}

impl<'a> Source<'a> {
    /// `target` is the column the values go to, if any. None when the Arrow type has no text form a TitanRDM
    /// column could take (binary, lists, ...).
    fn new(array: &'a dyn Array, target: Option<&ColumnType>) -> Option<Self> {
        let nulls = array.logical_nulls();
        let (kind, render): (Kind, Render<'a>) = match array.data_type() {
            ArrowType::Null => (Kind::Other, Box::new(|_, _| Ok(()))),
            ArrowType::Utf8 => {
                let a = array.as_string::<i32>();
                (
                    Kind::Text,
                    Box::new(move |row, out| text(out, a.value(row))),
                )
            }
            ArrowType::LargeUtf8 => {
                let a = array.as_string::<i64>();
                (
                    Kind::Text,
                    Box::new(move |row, out| text(out, a.value(row))),
                )
            }
            ArrowType::Utf8View => {
                let a = array.as_string_view();
                (
                    Kind::Text,
                    Box::new(move |row, out| text(out, a.value(row))),
                )
            }
            ArrowType::Boolean => {
                let a = array.as_boolean();
                let render = move |row, out: &mut String| {
                    text(out, if a.value(row) { "true" } else { "false" })
                };
                (Kind::Other, Box::new(render))
            }
            ArrowType::Int8 => (Kind::Exact, display::<Int8Type>(array)),
            ArrowType::Int16 => (Kind::Exact, display::<Int16Type>(array)),
            ArrowType::Int32 => (Kind::Exact, display::<Int32Type>(array)),
            ArrowType::Int64 => (Kind::Exact, display::<Int64Type>(array)),
            ArrowType::UInt8 => (Kind::Exact, display::<UInt8Type>(array)),
            ArrowType::UInt16 => (Kind::Exact, display::<UInt16Type>(array)),
            ArrowType::UInt32 => (Kind::Exact, display::<UInt32Type>(array)),
            ArrowType::UInt64 => (Kind::Exact, display::<UInt64Type>(array)),
            ArrowType::Float16 => {
                let values = array.as_primitive::<Float16Type>().values();
                let render = move |row: usize, out: &mut String| {
                    float(out, f64::from(values[row].to_f32()), DataType::Real)
                };
                (Kind::Float32, Box::new(render))
            }
            ArrowType::Float32 => {
                let values = array.as_primitive::<Float32Type>().values();
                let render = move |row: usize, out: &mut String| {
                    float(out, f64::from(values[row]), DataType::Real)
                };
                (Kind::Float32, Box::new(render))
            }
            ArrowType::Float64 => {
                let values = array.as_primitive::<Float64Type>().values();
                let render =
                    move |row: usize, out: &mut String| float(out, values[row], DataType::Double);
                (Kind::Float64, Box::new(render))
            }
            ArrowType::Decimal32(_, scale) => {
                (Kind::Exact, decimal::<Decimal32Type>(array, *scale))
            }
            ArrowType::Decimal64(_, scale) => {
                (Kind::Exact, decimal::<Decimal64Type>(array, *scale))
            }
            ArrowType::Decimal128(_, scale) => {
                (Kind::Exact, decimal::<Decimal128Type>(array, *scale))
            }
            ArrowType::Decimal256(_, scale) => {
                (Kind::Exact, decimal::<Decimal256Type>(array, *scale))
            }
            ArrowType::Date32 => {
                let values = array.as_primitive::<Date32Type>().values();
                let render = move |row: usize, out: &mut String| {
                    temporal::format_date(values[row], out);
                    Ok(())
                };
                (Kind::Other, Box::new(render))
            }
            ArrowType::Date64 => {
                let values = array.as_primitive::<Date64Type>().values();
                (
                    Kind::Other,
                    Box::new(move |row, out| date64(out, values[row])),
                )
            }
            ArrowType::Time32(unit) => {
                let render: Render<'a> = match unit {
                    TimeUnit::Second => {
                        let values = array.as_primitive::<Time32SecondType>().values();
                        Box::new(move |row, out| time(out, values[row].into(), 1))
                    }
                    TimeUnit::Millisecond => {
                        let values = array.as_primitive::<Time32MillisecondType>().values();
                        Box::new(move |row, out| time(out, values[row].into(), 1_000))
                    }
                    _ => return None,
                };
                (Kind::Other, render)
            }
            ArrowType::Time64(unit) => {
                let render: Render<'a> = match unit {
                    TimeUnit::Microsecond => {
                        let values = array.as_primitive::<Time64MicrosecondType>().values();
                        Box::new(move |row, out| time(out, values[row], 1_000_000))
                    }
                    TimeUnit::Nanosecond => {
                        let values = array.as_primitive::<Time64NanosecondType>().values();
                        Box::new(move |row, out| time(out, values[row], 1_000_000_000))
                    }
                    _ => return None,
                };
                (Kind::Other, render)
            }
            ArrowType::Timestamp(unit, zone) => {
                let zoned = zone.is_some();
                let (values, per_second) = match unit {
                    TimeUnit::Second => (
                        array
                            .as_primitive::<TimestampSecondType>()
                            .values()
                            .as_ref(),
                        1,
                    ),
                    TimeUnit::Millisecond => (
                        array
                            .as_primitive::<TimestampMillisecondType>()
                            .values()
                            .as_ref(),
                        1_000,
                    ),
                    TimeUnit::Microsecond => (
                        array
                            .as_primitive::<TimestampMicrosecondType>()
                            .values()
                            .as_ref(),
                        1_000_000,
                    ),
                    TimeUnit::Nanosecond => (
                        array
                            .as_primitive::<TimestampNanosecondType>()
                            .values()
                            .as_ref(),
                        1_000_000_000,
                    ),
                };
                let render = move |row: usize, out: &mut String| {
                    timestamp(out, values[row], per_second, zoned)
                };
                (Kind::Other, Box::new(render))
            }
            _ => return None,
        };
        Some(Source {
            nulls,
            kind,
            render,
            direct: target.and_then(|target| direct(array, target)),
        })
    }

    fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(row))
    }

    /// The value's text, into `out`.
    fn text(&self, row: usize, out: &mut String) -> std::result::Result<(), &'static str> {
        out.clear();
        (self.render)(row, out)
    }

    /// The canonical text of the (non-null) value at `row` in the `target` column, into `out`. On error,
    /// returns the reason, and `text` holds the value as given for the message.
    fn canonical(
        &self,
        row: usize,
        target: &ColumnType,
        text: &mut String,
        out: &mut String,
    ) -> std::result::Result<(), String> {
        if let Some(direct) = &self.direct {
            out.clear();
            if direct(row, out).is_ok() {
                return Ok(());
            }
        }
        self.text(row, text).map_err(str::to_owned)?;
        convert(target, self.kind, text, out)
    }
}

/// First and last day and microsecond that the wire format can spell (years 0001-9999).
const MIN_DAYS: i32 = temporal::days_from_civil(1, 1, 1);
const MAX_DAYS: i32 = temporal::days_from_civil(9999, 12, 31);
const MIN_MICROS: i64 = MIN_DAYS as i64 * MICROS_PER_DAY;
const MAX_MICROS: i64 = (MAX_DAYS as i64 + 1) * MICROS_PER_DAY - 1;

/// The fast path for an array whose type is exactly the one [`schema::arrow_type`] maps `target` to: the
/// value is written in its canonical text directly, without the text → parse → format round trip. Only
/// where that text is provably what the round trip would give; a value outside the column's range returns
/// an error so that the general path rejects it with the grammar's own message.
fn direct<'a>(array: &'a dyn Array, target: &ColumnType) -> Option<Render<'a>> {
    const GENERAL: &str = "needs the general path";
    if *array.data_type() != schema::arrow_type(target) {
        return None;
    }
    let render: Render<'a> = match array.data_type() {
        // Every value of these Arrow types is valid in the mapped column, and the source text (integer
        // digits, the float type's canonical spelling, true/false) is the canonical text.
        ArrowType::Int16 => display::<Int16Type>(array),
        ArrowType::Int32 => display::<Int32Type>(array),
        ArrowType::Int64 => display::<Int64Type>(array),
        ArrowType::Float32 | ArrowType::Float64 | ArrowType::Boolean => {
            Source::new(array, None)?.render
        }
        ArrowType::Date32 => {
            let values = array.as_primitive::<Date32Type>().values();
            Box::new(move |row, out| {
                let days = values[row];
                if !(MIN_DAYS..=MAX_DAYS).contains(&days) {
                    return Err(GENERAL);
                }
                temporal::format_date(days, out);
                Ok(())
            })
        }
        ArrowType::Time64(TimeUnit::Microsecond) => {
            let values = array.as_primitive::<Time64MicrosecondType>().values();
            Box::new(move |row, out| {
                let micros = values[row];
                if !(0..=MICROS_PER_DAY).contains(&micros) {
                    return Err(GENERAL);
                }
                temporal::format_time(micros, out);
                Ok(())
            })
        }
        ArrowType::Timestamp(TimeUnit::Microsecond, zone) => {
            let values = array.as_primitive::<TimestampMicrosecondType>().values();
            let zoned = zone.is_some();
            Box::new(move |row, out| {
                let micros = values[row];
                if !(MIN_MICROS..=MAX_MICROS).contains(&micros) {
                    return Err(GENERAL);
                }
                if zoned {
                    temporal::format_timestamptz(micros, out);
                } else {
                    temporal::format_timestamp(micros, out);
                }
                Ok(())
            })
        }
        // Same precision and scale: the plain text at the scale is canonical (exactly `scale` decimals, no
        // leading zeros, no `-0`), provided the value has no more digits than the precision.
        ArrowType::Decimal128(precision, _) | ArrowType::Decimal256(precision, _) => {
            let render = Source::new(array, None)?.render;
            let precision = usize::from(*precision);
            Box::new(move |row, out| {
                render(row, out)?;
                let digits = out
                    .bytes()
                    .filter(u8::is_ascii_digit)
                    .skip_while(|&b| b == b'0')
                    .count();
                if digits > precision {
                    return Err(GENERAL);
                }
                Ok(())
            })
        }
        // Text and unlimited varchar accept any string unchanged.
        ArrowType::Utf8
            if target.data_type == DataType::Text
                || (target.data_type == DataType::Varchar && target.length.is_none()) =>
        {
            let a = array.as_string::<i32>();
            Box::new(move |row, out| text(out, a.value(row)))
        }
        _ => return None,
    };
    Some(render)
}

fn text(out: &mut String, value: &str) -> std::result::Result<(), &'static str> {
    out.push_str(value);
    Ok(())
}

fn display<'a, T: ArrowPrimitiveType>(array: &'a dyn Array) -> Render<'a>
where
    T::Native: Display,
{
    let values = array.as_primitive::<T>().values();
    Box::new(move |row, out| {
        _ = write!(out, "{}", values[row]);
        Ok(())
    })
}

/// Floats in the canonical spelling of the float type they are (`NaN`, `Infinity`, shortest digits).
fn float(
    out: &mut String,
    value: f64,
    data_type: DataType,
) -> std::result::Result<(), &'static str> {
    let column_type = ColumnType {
        data_type,
        length: None,
        scale: None,
    };
    column_type.format(&Value::Float(value), out);
    Ok(())
}

fn decimal<'a, T: ArrowPrimitiveType>(array: &'a dyn Array, scale: i8) -> Render<'a>
where
    T::Native: Display,
{
    let values = array.as_primitive::<T>().values();
    Box::new(move |row, out| {
        _ = write!(out, "{}", values[row]);
        place_decimal_point(out, scale);
        Ok(())
    })
}

/// Turns the unscaled integer text in `out` into plain decimal text at `scale`: `-5` at 2 → `-0.05`.
fn place_decimal_point(out: &mut String, scale: i8) {
    let scale = i32::from(scale);
    if scale < 0 {
        out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        return;
    }
    let scale = scale as usize;
    if scale == 0 {
        return;
    }
    let sign = usize::from(out.starts_with('-'));
    let digits = out.len() - sign;
    if digits <= scale {
        let mut zeros = String::from("0.");
        zeros.extend(std::iter::repeat_n('0', scale - digits));
        out.insert_str(sign, &zeros);
    } else {
        out.insert(out.len() - scale, '.');
    }
}

fn date64(out: &mut String, millis: i64) -> std::result::Result<(), &'static str> {
    const MILLIS_PER_DAY: i64 = 86_400_000;
    if millis % MILLIS_PER_DAY == 0
        && let Ok(days) = i32::try_from(millis / MILLIS_PER_DAY)
    {
        temporal::format_date(days, out);
        return Ok(());
    }
    // Not a whole day: written as a timestamp, which a date column then rejects as having a time of day.
    timestamp(out, millis, 1_000, false)
}

/// `count` units since midnight, `per_second` units a second.
fn time(out: &mut String, count: i64, per_second: i64) -> std::result::Result<(), &'static str> {
    let in_range = count >= 0 && count <= MICROS_PER_DAY / MICROS_PER_SECOND * per_second;
    if !in_range {
        _ = write!(out, "{count}");
        return Err("is out of range for a time of day");
    }
    let seconds = count / per_second;
    let fraction = count % per_second;
    if per_second <= MICROS_PER_SECOND {
        temporal::format_time(
            seconds * MICROS_PER_SECOND + fraction * (MICROS_PER_SECOND / per_second),
            out,
        );
    } else {
        temporal::format_time(seconds * MICROS_PER_SECOND, out);
        push_nanos(out, fraction);
    }
    Ok(())
}

/// `count` units since the epoch, `per_second` units a second; `zoned` adds the `+00` of UTC.
fn timestamp(
    out: &mut String,
    count: i64,
    per_second: i64,
    zoned: bool,
) -> std::result::Result<(), &'static str> {
    let seconds = count.div_euclid(per_second);
    let fraction = count.rem_euclid(per_second);
    let Some(micros) = seconds.checked_mul(MICROS_PER_SECOND) else {
        _ = write!(out, "{count}");
        return Err("is out of range for a timestamp");
    };
    if per_second <= MICROS_PER_SECOND {
        temporal::format_timestamp(micros + fraction * (MICROS_PER_SECOND / per_second), out);
    } else {
        temporal::format_timestamp(micros, out);
        push_nanos(out, fraction);
    }
    if zoned {
        out.push_str("+00");
    }
    Ok(())
}

/// Appends a nanosecond fraction to a whole-second time. Sub-microsecond digits are kept, so that the
/// column's parser rejects them ("more than 6 fractional second digits") instead of them being dropped.
fn push_nanos(out: &mut String, nanos: i64) {
    if nanos == 0 {
        return;
    }
    _ = write!(out, ".{nanos:09}");
    while out.ends_with('0') {
        out.pop();
    }
}

/// Converts one value's text into the canonical text of `target`, into `out`. Returns the reason when the
/// value is not valid for the column or would not arrive exactly.
fn convert(
    target: &ColumnType,
    kind: Kind,
    text: &str,
    out: &mut String,
) -> std::result::Result<(), String> {
    // A non-null Arrow value is never NULL: an empty string is the empty string, as `""` is in a file.
    let value = target
        .parse(text, true, &ParseOptions::default())
        .map_err(|e| e.reason)?;
    out.clear();
    target.format(&value, out);
    let exact = match (kind, target.data_type, &value) {
        // Decimal exactness: 16777217 does not fit a real, 0.1 (as a decimal) does.
        (Kind::Exact, DataType::Real | DataType::Double, _) => same_number(text, out),
        // A double fits a real if the real is the same binary number (a widened real), or the same shortest
        // decimal (0.1 as a double is 0.1 as a real).
        (Kind::Float64, DataType::Real, Value::Float(real)) => {
            text.parse::<f64>().is_ok_and(|double| double == *real) || same_number(text, out)
        }
        _ => true,
    };
    if !exact {
        return Err(format!(
            "cannot be stored in a {} column without losing precision (it would become {out})",
            target.data_type.as_str()
        ));
    }
    Ok(())
}

/// Whether two number texts denote the same decimal value (non-numbers such as `NaN` compare as text).
fn same_number(a: &str, b: &str) -> bool {
    let exact = ColumnType {
        data_type: DataType::Decimal,
        length: None,
        scale: None,
    };
    let options = ParseOptions::default();
    match (
        exact.canonicalize(a, true, &options),
        exact.canonicalize(b, true, &options),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Dictionary columns are unpacked to their value type (lossless); everything else is used as it is.
fn unpack(array: &ArrayRef) -> Result<ArrayRef> {
    match array.data_type() {
        ArrowType::Dictionary(_, value_type) => Ok(arrow_cast::cast(array, value_type)?),
        _ => Ok(Arc::clone(array)),
    }
}

fn sources<'a>(
    table: &TableDef,
    arrays: &'a [ArrayRef],
    names: &[String],
    targets: &[Option<ColumnType>],
) -> Result<Vec<Source<'a>>> {
    arrays
        .iter()
        .zip(names)
        .zip(targets)
        .map(|((array, name), target)| {
            let source = target
                .as_ref()
                .is_none_or(|t| same_family(array.data_type(), t.data_type))
                .then(|| Source::new(array.as_ref(), target.as_ref()))
                .flatten();
            source.ok_or_else(|| {
                let target = target
                    .as_ref()
                    .map(schema::type_text)
                    .unwrap_or_else(|| "text".into());
                Error::SchemaMismatch(format!(
                    "table {}, column {name}: Arrow type {} cannot be converted to {target}",
                    table.database_table_name,
                    array.data_type()
                ))
            })
        })
        .collect()
}

/// Whether values of Arrow type `source` can ever be values of a `target` column: text goes anywhere (it is
/// parsed) and anything with a text form goes into text, but a boolean is no number (0 and 1 are booleans,
/// though) and a number no date. A
/// source column of the wrong family (a Spark table whose column was retyped) is one error naming both
/// types, not one per value.
fn same_family(source: &ArrowType, target: DataType) -> bool {
    use DataType as D;
    let numeric = matches!(
        target,
        D::Smallint | D::Integer | D::Bigint | D::Decimal | D::Real | D::Double
    );
    let temporal = matches!(target, D::Date | D::Timestamp | D::Timestamptz);
    match source {
        _ if matches!(target, D::Varchar | D::Character | D::Text) => true,
        ArrowType::Boolean => target == D::Boolean,
        t if t.is_numeric() => numeric || target == D::Boolean,
        ArrowType::Date32 | ArrowType::Date64 | ArrowType::Timestamp(..) => temporal,
        ArrowType::Time32(_) | ArrowType::Time64(_) => matches!(target, D::Time | D::Timetz),
        _ => true,
    }
}

/// What an encoder wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeSummary {
    /// Data rows written (the header not counted).
    pub rows: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}

// ---------------------------------------------------------------------------------------------------------
// Arrow → CSV: exports

/// Encodes batches of `schema` as CSV in the canonical text of the export format: a header of the schema's
/// field names, then one row per input row; NULL is an empty unquoted field, the empty string `""`.
///
/// Every field must be a user column of `table` or a system column; its values are written in the
/// canonical spelling of that column's TitanRDM type, converted as [`encode_upload`] converts them (a value
/// the column cannot hold, such as a `Date32` in the year 10000, is an [`Error::Invalid`] naming table,
/// column, row and value), so the file reads back with [`CsvDecoder`] into equal batches. Nothing else is
/// checked: keys, required values and transaction codes are the data's own. Batches must have the schema's
/// field names in its order; their Arrow types may vary as [`encode_upload`] allows.
pub fn encode_csv(
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch>>,
    table: &TableDef,
    out: impl Write,
) -> Result<EncodeSummary> {
    let t = table.database_table_name.as_str();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let targets = names
        .iter()
        .map(|name| {
            column_type_of(table, name).ok_or_else(|| {
                Error::SchemaMismatch(format!(
                    "table {t}: column {name} is neither a column of the table nor a system column"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let optional_targets: Vec<_> = targets.iter().cloned().map(Some).collect();
    let mut writer = CsvWriter::new(out);
    writer.write_record(names.iter().map(|n| Some(n.as_str())))?;
    let (mut text, mut canonical) = (String::new(), String::new());
    let mut rows = 0u64;
    for batch in batches {
        let batch = batch?;
        let batch_names = batch.schema_ref().fields().iter().map(|f| f.name().clone());
        if !batch_names.eq(names.iter().cloned()) {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: a batch's columns differ from the schema's"
            )));
        }
        let arrays = batch
            .columns()
            .iter()
            .map(unpack)
            .collect::<Result<Vec<_>>>()?;
        let sources = sources(table, &arrays, &names, &optional_targets)?;
        for row in 0..batch.num_rows() {
            rows += 1;
            for ((source, target), name) in sources.iter().zip(&targets).zip(&names) {
                if source.is_null(row) {
                    writer.write_field(None)?;
                    continue;
                }
                source
                    .canonical(row, target, &mut text, &mut canonical)
                    .map_err(|reason| value_error(Some(t), name, rows, &text, &reason))?;
                writer.write_field(Some(&canonical))?;
            }
            writer.end_record()?;
        }
    }
    let bytes = writer.bytes_written();
    writer.into_inner()?;
    Ok(EncodeSummary { rows, bytes })
}

// ---------------------------------------------------------------------------------------------------------
// Arrow → CSV: uploads

/// How an import applies a file (protocol B §7.2); defined once, in `trdm-format`.
pub use trdm_format::ImportPattern;

/// Where each input column goes, decided from the first batch's schema.
struct UploadPlan {
    /// Input field names, which every batch must repeat.
    input_names: Vec<String>,
    /// Per input column: the target type for user columns, None for the others.
    input_targets: Vec<Option<ColumnType>>,
    /// Per output column, in table order: (table column index, input column index).
    outputs: Vec<(usize, usize)>,
    /// Input index of `trdm_tran_code`.
    tran_code: Option<usize>,
    /// Output positions of the primary-key columns.
    key_outputs: Vec<usize>,
    /// Table columns absent from the input (only `d` rows of `incremental_with_delete` may lack them).
    absent: Vec<usize>,
}

/// Why an input may not lack a table column.
fn missing_column(table: &str, column: &str) -> String {
    format!(
        "table {table}: column {column} is missing from the input; TitanRDM would set it to NULL in every \
         record written (add the column, with its current values to keep them)"
    )
}

fn plan_upload(table: &TableDef, pattern: ImportPattern, schema: &SchemaRef) -> Result<UploadPlan> {
    let t = &table.database_table_name;
    let mut input_of = vec![None; table.columns.len()];
    let mut input_targets = Vec::with_capacity(schema.fields().len());
    let mut tran_code = None;
    let mut input_names = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name().as_str();
        if input_names.iter().any(|n| n == name) {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: the input has column {name} twice"
            )));
        }
        input_names.push(name.to_owned());
        if let Some(k) = table.columns.iter().position(|c| c.name == name) {
            input_of[k] = Some(i);
            input_targets.push(Some(table.columns[k].column_type()));
        } else if name == TRAN_CODE_COLUMN {
            tran_code = Some(i);
            input_targets.push(None);
        } else if SYSTEM_COLUMNS.contains(&name) {
            // Written by the service, never read from an import: a downloaded table uploads unchanged.
            input_targets.push(None);
        } else {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: input column {name} is neither a column of the table nor a system column"
            )));
        }
    }
    for (k, column) in table.columns.iter().enumerate() {
        if column.is_primary_key && input_of[k].is_none() {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: primary key column {} is missing from the input",
                column.name
            )));
        }
    }
    // In a downloaded table (it has the export's system columns) the codes say how each version came to
    // be, not what to do with it: with a pattern that takes no codes they are dropped like the rest.
    let downloaded = schema
        .fields()
        .iter()
        .any(|f| f.name() != TRAN_CODE_COLUMN && SYSTEM_COLUMNS.contains(&f.name().as_str()));
    if downloaded && !pattern.uses_tran_code() {
        tran_code = None;
    }
    if pattern.uses_tran_code() && tran_code.is_none() {
        return Err(Error::SchemaMismatch(format!(
            "table {t}: pattern {pattern} needs a {TRAN_CODE_COLUMN} column"
        )));
    }
    let outputs: Vec<(usize, usize)> = input_of
        .iter()
        .enumerate()
        .filter_map(|(k, i)| i.map(|i| (k, i)))
        .collect();
    let key_outputs = outputs
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| table.columns[*k].is_primary_key)
        .map(|(o, _)| o)
        .collect();
    // TitanRDM sets a column the file lacks to NULL in every record it writes, so an absent column would
    // clear it for the whole table. Only rows that delete (`d`, which need just their key) may lack it.
    let absent: Vec<usize> = (0..table.columns.len())
        .filter(|&k| input_of[k].is_none())
        .collect();
    // (A required one is reported at the first row that needs it, like a NULL in it.)
    if !pattern.uses_tran_code()
        && let Some(&k) = absent.iter().find(|&&k| !table.columns[k].is_required)
    {
        return Err(Error::SchemaMismatch(missing_column(
            t,
            &table.columns[k].name,
        )));
    }
    Ok(UploadPlan {
        input_names,
        input_targets,
        outputs,
        tran_code,
        key_outputs,
        absent,
    })
}

/// Validates batches read from a catalog against the table's column definitions and writes the upload file
/// for `pattern`.
///
/// Input columns are matched by name (exactly). User columns convert from any Arrow type with a text form:
/// strings (`Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of them) are read with the column type's import
/// grammar, exactly as the service would read them (`"007"` stays `007` in a `varchar`, `"12.5"` becomes
/// `12.50` in a `decimal(14,2)`); numbers, booleans, dates, times and timestamps convert directly, and only
/// when exact (`7.0` into `integer` is fine, `7.5` and `300` into `smallint` are not; a double goes into
/// `real` only if the `real` reads back as the same number; a `Timestamp` without zone into `timestamptz`
/// means UTC, a zoned one into a `timestamp` column is rejected as having an offset). Values are written in
/// the column's canonical text.
///
/// The file has the table's user columns that the input has, in table order, then `trdm_tran_code` when
/// the pattern uses it (normalised to `i`, `u` or `d`). Every check below happens before `Ok` is returned;
/// on an error, part of the file may already be written and must be discarded. Errors name the table
/// (`database_table_name`), column, row (counted from 1 over all batches) and value:
///
/// * an input column that is not a user column, a system column or `trdm_tran_code`
///   ([`Error::SchemaMismatch`]); the system columns `trdm_sk`..`trdm_actor_id` are dropped silently, so a
///   downloaded table uploads unchanged;
/// * a missing primary-key column (schema mismatch) or value; a missing required value, where a required
///   column absent from the input counts (rows deleted with `d` need only their key, as on the service);
/// * a value that does not convert, text longer than the column's length, decimals beyond precision or
///   scale;
/// * a primary key seen on an earlier row (the message names that row);
/// * `trdm_tran_code`: required with [`ImportPattern::IncrementalWithDelete`], each value `i`, `u` or `d`
///   after trimming and lower-casing; with the other patterns a column of only NULLs is dropped (a plain full
///   download has it empty) and any value is an error, except in a downloaded table (one that also has
///   system columns, e.g. merged from incremental exports), whose codes record history and are dropped.
///
/// Memory stays bounded by one batch except for the set of primary keys seen, which grows with the number
/// of rows (their canonical key texts and row numbers). With no batches at all, the file has only a header
/// of every user column (and `trdm_tran_code` when the pattern uses it).
pub fn encode_upload(
    table: &TableDef,
    pattern: ImportPattern,
    batches: impl IntoIterator<Item = Result<RecordBatch>>,
    out: impl Write,
) -> Result<EncodeSummary> {
    let t = table.database_table_name.as_str();
    let mut batches = batches.into_iter();
    let mut writer = CsvWriter::new(out);
    let Some(first) = batches.next().transpose()? else {
        let names = table.columns.iter().map(|c| c.name.as_str());
        let tran_code = pattern.uses_tran_code().then_some(TRAN_CODE_COLUMN);
        writer.write_record(names.chain(tran_code).map(Some))?;
        let bytes = writer.bytes_written();
        writer.into_inner()?;
        return Ok(EncodeSummary { rows: 0, bytes });
    };
    let plan = plan_upload(table, pattern, &first.schema())?;
    let header = plan
        .outputs
        .iter()
        .map(|&(k, _)| table.columns[k].name.as_str())
        .chain(pattern.uses_tran_code().then_some(TRAN_CODE_COLUMN));
    writer.write_record(header.map(Some))?;

    let mut cells: Vec<String> = vec![String::new(); plan.outputs.len()];
    let mut present = vec![false; plan.outputs.len()];
    let mut text = String::new();
    let mut key = String::new();
    let mut seen = SeenKeys::default();
    let mut rows = 0u64;
    for batch in std::iter::once(Ok(first)).chain(batches) {
        let batch = batch?;
        let names = batch.schema_ref().fields().iter().map(|f| f.name().clone());
        if !names.eq(plan.input_names.iter().cloned()) {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: a batch's columns differ from the first batch's"
            )));
        }
        let arrays = batch
            .columns()
            .iter()
            .map(unpack)
            .collect::<Result<Vec<_>>>()?;
        let sources = sources(table, &arrays, &plan.input_names, &plan.input_targets)?;
        for row in 0..batch.num_rows() {
            rows += 1;
            let code = match plan.tran_code {
                Some(i) => tran_code(t, pattern, &sources[i], row, rows, &mut text)?,
                None => None,
            };
            let is_delete = code == Some("d");
            for (o, &(k, i)) in plan.outputs.iter().enumerate() {
                let column = &table.columns[k];
                let source = &sources[i];
                present[o] = !source.is_null(row);
                if !present[o] {
                    let why = if column.is_primary_key {
                        Some("value NULL is not allowed: the column is part of the primary key")
                    } else if column.is_required && !is_delete {
                        Some("value NULL is not allowed: the column is required")
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        return Err(row_error(Some(t), &column.name, rows, why));
                    }
                    continue;
                }
                let Some(target) = &plan.input_targets[i] else {
                    unreachable!("output columns are user columns");
                };
                source
                    .canonical(row, target, &mut text, &mut cells[o])
                    .map_err(|reason| value_error(Some(t), &column.name, rows, &text, &reason))?;
            }
            if !is_delete && let Some(&k) = plan.absent.first() {
                let column = &table.columns[k];
                if column.is_required {
                    return Err(row_error(
                        Some(t),
                        &column.name,
                        rows,
                        "no value: the column is required but missing from the input",
                    ));
                }
                return Err(Error::SchemaMismatch(format!(
                    "{} (row {rows} has code {})",
                    missing_column(t, &column.name),
                    code.unwrap_or("i")
                )));
            }
            if !plan.key_outputs.is_empty() {
                key.clear();
                for &o in &plan.key_outputs {
                    // Length-prefixed, so no text can imitate a boundary between key parts.
                    _ = write!(key, "{}:{}", cells[o].len(), cells[o]);
                }
                if let Some(first_row) = seen.insert(&key, rows) {
                    return Err(duplicate_key(table, &plan, &cells, rows, first_row));
                }
            }
            for (o, cell) in cells.iter().enumerate() {
                writer.write_field(present[o].then_some(cell.as_str()))?;
            }
            if pattern.uses_tran_code() {
                writer.write_field(code)?;
            }
            writer.end_record()?;
        }
    }
    let bytes = writer.bytes_written();
    writer.into_inner()?;
    Ok(EncodeSummary { rows, bytes })
}

/// Checks a row's transaction code; returns the normalised code to write, if the pattern writes one.
fn tran_code(
    t: &str,
    pattern: ImportPattern,
    source: &Source<'_>,
    row: usize,
    row_number: u64,
    text: &mut String,
) -> Result<Option<&'static str>> {
    let error = |what: String| row_error(Some(t), TRAN_CODE_COLUMN, row_number, what);
    if source.is_null(row) {
        return if pattern.uses_tran_code() {
            Err(error(
                "value NULL is not a transaction code (expected i, u or d)".into(),
            ))
        } else {
            Ok(None)
        };
    }
    source
        .text(row, text)
        .map_err(|reason| value_error(Some(t), TRAN_CODE_COLUMN, row_number, text, reason))?;
    if !pattern.uses_tran_code() {
        return Err(error(format!(
            "value {} is not allowed: {TRAN_CODE_COLUMN} is only used by pattern incremental_with_delete, \
             not {pattern}",
            shown(text)
        )));
    }
    match text.trim().to_ascii_lowercase().as_str() {
        "i" => Ok(Some("i")),
        "u" => Ok(Some("u")),
        "d" => Ok(Some("d")),
        _ => Err(error(format!(
            "value {} is not a transaction code (expected i, u or d)",
            shown(text)
        ))),
    }
}

/// The primary keys seen so far (canonical key texts) and the row of each: the one structure of
/// [`encode_upload`] that grows with the input, by about the key text plus 40 bytes a row.
///
/// The key texts live end to end in one arena (no allocation per key), and the table is keyed by a 64-bit
/// hash computed once per key, so growing it moves plain integers instead of rehashing texts. The texts
/// are compared on a hash match, so a hash collision between different keys is never taken for a
/// duplicate.
#[derive(Default)]
struct SeenKeys {
    hasher: RandomState,
    /// Every key text recorded, concatenated.
    arena: String,
    /// Hash → (start of the first key with that hash in `arena`, its length, its row).
    by_hash: HashMap<u64, (usize, usize, u64), BuildHasherDefault<PrehashedKey>>,
    /// Keys whose hash collided with a different key's (almost always empty).
    collided: HashMap<Box<str>, u64>,
}

impl SeenKeys {
    /// Records `key` at `row`; if it was seen before, returns that earlier row instead.
    fn insert(&mut self, key: &str, row: u64) -> Option<u64> {
        match self.by_hash.entry(self.hasher.hash_one(key)) {
            Entry::Vacant(slot) => {
                slot.insert((self.arena.len(), key.len(), row));
                self.arena.push_str(key);
                None
            }
            Entry::Occupied(slot) => {
                let &(start, len, first_row) = slot.get();
                if &self.arena[start..start + len] == key {
                    return Some(first_row);
                }
                match self.collided.entry(key.into()) {
                    Entry::Occupied(slot) => Some(*slot.get()),
                    Entry::Vacant(slot) => {
                        slot.insert(row);
                        None
                    }
                }
            }
        }
    }
}

/// A hasher for keys that are already hashes: passes the `u64` through.
#[derive(Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for `u64` keys; this keeps the hasher correct for anything else.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

fn duplicate_key(
    table: &TableDef,
    plan: &UploadPlan,
    cells: &[String],
    row: u64,
    first_row: u64,
) -> Error {
    let names: Vec<&str> = plan
        .key_outputs
        .iter()
        .map(|&o| table.columns[plan.outputs[o].0].name.as_str())
        .collect();
    let shown_values: Vec<String> = plan.key_outputs.iter().map(|&o| shown(&cells[o])).collect();
    let (columns, values, verb) = if names.len() == 1 {
        ("column", "value", "repeats")
    } else {
        ("columns", "values", "repeat")
    };
    Error::Invalid(format!(
        "table {}, {columns} {}, row {row}: {values} {} {verb} the primary key of row {first_row}",
        table.database_table_name,
        names.join(", "),
        shown_values.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use arrow_array::{
        BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array, Decimal256Array,
        DictionaryArray, Float16Array, Float32Array, Float64Array, Int8Array, Int32Array,
        Int64Array, LargeStringArray, NullArray, StringArray, StringViewArray,
        Time32MillisecondArray, Time32SecondArray, Time64MicrosecondArray, Time64NanosecondArray,
        TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
        TimestampSecondArray, UInt64Array,
    };
    use arrow_schema::{Field, Schema};
    use trdm_format::temporal::days_from_civil;

    use super::*;
    use crate::schema::{ColumnDef, export_schema, user_schema};

    fn col(name: &str, data_type: DataType, length: Option<u32>, scale: Option<u32>) -> ColumnDef {
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

    fn key(column: ColumnDef) -> ColumnDef {
        ColumnDef {
            is_primary_key: true,
            ..column
        }
    }

    fn required(column: ColumnDef) -> ColumnDef {
        ColumnDef {
            is_required: true,
            ..column
        }
    }

    fn table(columns: Vec<ColumnDef>) -> TableDef {
        TableDef {
            name: "Items".into(),
            database_table_name: "items".into(),
            columns,
        }
    }

    fn decode(
        table: &TableDef,
        schema: SchemaRef,
        csv: &str,
        size: usize,
    ) -> Result<Vec<RecordBatch>> {
        CsvDecoder::new(csv.as_bytes(), table, schema, size)?.collect()
    }

    fn decode_error(table: &TableDef, schema: SchemaRef, csv: &str) -> String {
        decode(table, schema, csv, 1024).unwrap_err().to_string()
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn upload(
        table: &TableDef,
        pattern: ImportPattern,
        batches: Vec<RecordBatch>,
    ) -> Result<String> {
        let mut out = Vec::new();
        let summary = encode_upload(table, pattern, batches.into_iter().map(Ok), &mut out)?;
        assert_eq!(summary.bytes, out.len() as u64);
        Ok(String::from_utf8(out).unwrap())
    }

    fn upload_error(table: &TableDef, pattern: ImportPattern, batches: Vec<RecordBatch>) -> String {
        upload(table, pattern, batches).unwrap_err().to_string()
    }

    fn arc(array: impl Array + 'static) -> ArrayRef {
        Arc::new(array)
    }

    fn micros(y: i32, mo: u32, d: u32, h: i64, mi: i64, s: i64, us: i64) -> i64 {
        i64::from(days_from_civil(y, mo, d)) * MICROS_PER_DAY
            + ((h * 60 + mi) * 60 + s) * MICROS_PER_SECOND
            + us
    }

    fn every_type() -> TableDef {
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

    const EVERY_HEADER: &str = "code,name,ch,small,int,big,amount,wide,huge,free,r,d,flag,day,at,attz,ts,tstz,\
        trdm_sk,trdm_record_id,trdm_state,trdm_created_at,trdm_effective_from,trdm_effective_to,\
        trdm_is_deleted,trdm_actor_type,trdm_actor_id,trdm_tran_code";

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

    #[test]
    fn encode_csv_writes_canonical_text() {
        let t = table(vec![
            key(col("code", DataType::Varchar, Some(6), None)),
            col("n", DataType::Integer, None, None),
            col("amount", DataType::Decimal, Some(14), Some(2)),
            col("r", DataType::Real, None, None),
            col("ch", DataType::Character, Some(3), None),
        ]);
        let mut fields: Vec<Field> = user_schema(&t)
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(schema::system_field("trdm_created_at").unwrap());
        fields.push(schema::system_field(TRAN_CODE_COLUMN).unwrap());
        let schema = Arc::new(Schema::new(fields));
        let columns: Vec<ArrayRef> = vec![
            arc(StringArray::from(vec!["007", "", "a,\"b\"\n"])),
            arc(Int32Array::from(vec![Some(7), None, Some(-1)])),
            arc(Decimal128Array::from(vec![Some(1250), Some(-5), None])
                .with_precision_and_scale(14, 2)
                .unwrap()),
            arc(Float32Array::from(vec![0.1, f32::NAN, -0.0])),
            arc(StringArray::from(vec![Some("ab"), None, Some("xyz")])),
            arc(
                TimestampMicrosecondArray::from(vec![0, 1, micros(9999, 12, 31, 0, 0, 0, 0)])
                    .with_timezone("UTC"),
            ),
            arc(StringArray::from(vec![None, Some("i"), Some("")])),
        ];
        let b = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
        let mut out = Vec::new();
        let summary = encode_csv(&schema, [Ok(b.clone())], &t, &mut out).unwrap();
        let csv = String::from_utf8(out).unwrap();
        assert_eq!(
            csv,
            "code,n,amount,r,ch,trdm_created_at,trdm_tran_code\n\
             007,7,12.50,0.1,ab ,1970-01-01T00:00:00+00,\n\
             \"\",,-0.05,NaN,,1970-01-01T00:00:00.000001+00,i\n\
             \"a,\"\"b\"\"\n\",-1,,-0,xyz,9999-12-31T00:00:00+00,\"\"\n"
        );
        assert_eq!(
            summary,
            EncodeSummary {
                rows: 3,
                bytes: csv.len() as u64
            }
        );
        // And back: equal except for the space padding of `character`, which is canonical.
        let back = decode(&t, Arc::clone(&schema), &csv, 10).unwrap();
        assert_eq!(back[0].column(0), b.column(0));
        assert_eq!(back[0].column(2), b.column(2));
        assert_eq!(back[0].column(4).as_string::<i32>().value(0), "ab ");
        assert_eq!(back[0].column(5), b.column(5));
        assert_eq!(back[0].column(6), b.column(6));
    }

    #[test]
    fn encode_csv_errors() {
        let t = table(vec![col("day", DataType::Date, None, None)]);
        let schema = user_schema(&t);
        let b = batch(vec![(
            "day",
            arc(Date32Array::from(vec![0, days_from_civil(10000, 1, 1)])),
        )]);
        let err = encode_csv(&schema, [Ok(b)], &t, Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "table items, column day, row 2: value \"10000-01-01\" is not a valid date (expected YYYY-MM-DD)"
        );
        let other = Arc::new(Schema::new(vec![Field::new(
            "other",
            ArrowType::Utf8,
            true,
        )]));
        let err = encode_csv(&other, [], &t, Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "schema mismatch: table items: column other is neither a column of the table nor a system column"
        );
        let b = batch(vec![("when", arc(Date32Array::from(vec![0])))]);
        let err = encode_csv(&schema, [Ok(b)], &t, Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "schema mismatch: table items: a batch's columns differ from the schema's"
        );
        let err = encode_csv(
            &schema,
            [Err(Error::Invalid("boom".into()))],
            &t,
            Vec::new(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "boom");
        let mut out = Vec::new();
        let summary = encode_csv(&schema, [], &t, &mut out).unwrap();
        assert_eq!(out, b"day\n");
        assert_eq!(summary, EncodeSummary { rows: 0, bytes: 4 });
    }

    fn one(data_type: DataType, length: Option<u32>, scale: Option<u32>) -> TableDef {
        table(vec![col("c", data_type, length, scale)])
    }

    /// The canonical text an upload writes for a single value.
    fn converted(target: &TableDef, array: ArrayRef) -> Result<String> {
        let csv = upload(target, ImportPattern::Full, vec![batch(vec![("c", array)])])?;
        Ok(csv
            .strip_prefix("c\n")
            .unwrap()
            .trim_end_matches('\n')
            .to_owned())
    }

    #[test]
    fn upload_converts_exactly() {
        use DataType as D;
        let ts = micros(2024, 1, 2, 3, 4, 5, 0);
        let midnight = micros(2024, 2, 29, 0, 0, 0, 0);
        let dict: DictionaryArray<Int32Type> = vec!["x", "y"].into_iter().collect();
        let cases: Vec<(TableDef, ArrayRef, &str)> = vec![
            (
                one(D::Integer, None, None),
                arc(Float64Array::from(vec![7.0])),
                "7",
            ),
            (
                one(D::Integer, None, None),
                arc(Float64Array::from(vec![-0.0])),
                "0",
            ),
            (
                one(D::Integer, None, None),
                arc(Int8Array::from(vec![-5])),
                "-5",
            ),
            (
                one(D::Integer, None, None),
                arc(UInt64Array::from(vec![42])),
                "42",
            ),
            (
                one(D::Integer, None, None),
                arc(StringArray::from(vec![" 12 "])),
                "12",
            ),
            (
                one(D::Integer, None, None),
                arc(Decimal128Array::from(vec![700])
                    .with_precision_and_scale(5, 2)
                    .unwrap()),
                "7",
            ),
            (
                one(D::Smallint, None, None),
                arc(Int64Array::from(vec![-32768])),
                "-32768",
            ),
            (
                one(D::Bigint, None, None),
                arc(StringArray::from(vec!["007"])),
                "7",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(StringArray::from(vec!["12.5"])),
                "12.50",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Int32Array::from(vec![3])),
                "3.00",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Float64Array::from(vec![0.1])),
                "0.10",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Decimal128Array::from(vec![1500])
                    .with_precision_and_scale(10, 3)
                    .unwrap()),
                "1.50",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Decimal128Array::from(vec![3])
                    .with_precision_and_scale(5, -2)
                    .unwrap()),
                "300.00",
            ),
            (
                one(D::Decimal, Some(50), Some(0)),
                arc(
                    Decimal256Array::from(vec![i256::from_i128(-10).wrapping_pow(45)])
                        .with_precision_and_scale(50, 0)
                        .unwrap(),
                ),
                "-1000000000000000000000000000000000000000000000",
            ),
            (
                one(D::Decimal, None, None),
                arc(StringArray::from(vec!["1e3"])),
                "1000",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![0.1])),
                "0.1",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![f64::from(0.1f32)])),
                "0.1",
            ),
            (
                one(D::Real, None, None),
                arc(Float32Array::from(vec![0.1])),
                "0.1",
            ),
            (
                one(D::Real, None, None),
                arc(Float16Array::from(vec![half_one()])),
                "1",
            ),
            (
                one(D::Real, None, None),
                arc(Int32Array::from(vec![16_777_216])),
                "16777216",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![f64::NAN])),
                "NaN",
            ),
            (
                one(D::Double, None, None),
                arc(Float32Array::from(vec![0.1])),
                "0.1",
            ),
            (
                one(D::Double, None, None),
                arc(Int64Array::from(vec![1 << 53])),
                "9007199254740992",
            ),
            (
                one(D::Double, None, None),
                arc(Float64Array::from(vec![f64::NEG_INFINITY])),
                "-Infinity",
            ),
            (
                one(D::Varchar, Some(3), None),
                arc(StringArray::from(vec!["007"])),
                "007",
            ),
            (
                one(D::Varchar, Some(3), None),
                arc(Int32Array::from(vec![7])),
                "7",
            ),
            (
                one(D::Varchar, None, None),
                arc(LargeStringArray::from(vec!["é,"])),
                "\"é,\"",
            ),
            (
                one(D::Varchar, None, None),
                arc(StringViewArray::from(vec![""])),
                "\"\"",
            ),
            (one(D::Varchar, None, None), arc(dict), "x\ny"),
            (
                one(D::Character, Some(3), None),
                arc(StringArray::from(vec!["ab"])),
                "ab ",
            ),
            (
                one(D::Boolean, None, None),
                arc(BooleanArray::from(vec![true])),
                "true",
            ),
            (
                one(D::Boolean, None, None),
                arc(StringArray::from(vec!["Y"])),
                "true",
            ),
            (
                one(D::Boolean, None, None),
                arc(Int32Array::from(vec![0])),
                "false",
            ),
            (
                one(D::Date, None, None),
                arc(Date32Array::from(vec![days_from_civil(2024, 2, 29)])),
                "2024-02-29",
            ),
            (
                one(D::Date, None, None),
                arc(Date64Array::from(vec![midnight / 1000])),
                "2024-02-29",
            ),
            (
                one(D::Date, None, None),
                arc(TimestampSecondArray::from(vec![midnight / 1_000_000])),
                "2024-02-29",
            ),
            (
                one(D::Date, None, None),
                arc(StringArray::from(vec!["03/04/2024"])),
                "2024-03-04",
            ),
            (
                one(D::Time, None, None),
                arc(Time32SecondArray::from(vec![3661])),
                "01:01:01",
            ),
            (
                one(D::Time, None, None),
                arc(Time32MillisecondArray::from(vec![1_500])),
                "00:00:01.5",
            ),
            (
                one(D::Time, None, None),
                arc(Time64MicrosecondArray::from(vec![MICROS_PER_DAY])),
                "24:00:00",
            ),
            (
                one(D::Time, None, None),
                arc(Time64NanosecondArray::from(vec![1_000_001_000])),
                "00:00:01.000001",
            ),
            (
                one(D::Timetz, None, None),
                arc(StringArray::from(vec!["10:30+02"])),
                "10:30:00+02",
            ),
            (
                one(D::Timestamp, None, None),
                arc(TimestampMillisecondArray::from(vec![ts / 1000 + 5])),
                "2024-01-02T03:04:05.005",
            ),
            (
                one(D::Timestamp, None, None),
                arc(StringArray::from(vec!["2024-01-02 03:04"])),
                "2024-01-02T03:04:00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampMicrosecondArray::from(vec![ts])),
                "2024-01-02T03:04:05+00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampSecondArray::from(vec![ts / 1_000_000]).with_timezone("Europe/Paris")),
                "2024-01-02T03:04:05+00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampNanosecondArray::from(vec![ts * 1000 - 1000])),
                "2024-01-02T03:04:04.999999+00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(StringArray::from(vec!["2024-01-02T05:04:05+02"])),
                "2024-01-02T03:04:05+00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(Date32Array::from(vec![days_from_civil(2024, 1, 2)])),
                "2024-01-02T00:00:00+00",
            ),
            (one(D::Text, None, None), arc(NullArray::new(1)), ""),
            (
                one(D::Integer, None, None),
                arc(Int32Array::from(vec![None])),
                "",
            ),
        ];
        for (target, array, expected) in cases {
            let what = format!(
                "{} <- {}",
                schema::type_text(&target.columns[0].column_type()),
                array.data_type()
            );
            assert_eq!(converted(&target, array).unwrap(), expected, "{what}");
        }
    }

    fn half_one() -> <Float16Type as ArrowPrimitiveType>::Native {
        <Float16Type as ArrowPrimitiveType>::Native::ONE
    }

    #[test]
    fn upload_rejects_what_does_not_convert_exactly() {
        use DataType as D;
        let ts = micros(2024, 1, 2, 3, 4, 5, 0);
        let cases: Vec<(TableDef, ArrayRef, &str)> = vec![
            (
                one(D::Integer, None, None),
                arc(Float64Array::from(vec![7.5])),
                "value \"7.5\" is not a valid integer",
            ),
            (
                one(D::Integer, None, None),
                arc(StringArray::from(vec!["abc"])),
                "value \"abc\" is not a valid integer",
            ),
            (
                one(D::Integer, None, None),
                arc(StringArray::from(vec![""])),
                "value \"\" is not a valid integer",
            ),
            (
                one(D::Integer, None, None),
                arc(Float64Array::from(vec![f64::NAN])),
                "value \"NaN\" is not a valid integer",
            ),
            (
                one(D::Smallint, None, None),
                arc(Int64Array::from(vec![300_000])),
                "value \"300000\" is out of range for smallint",
            ),
            (
                one(D::Smallint, None, None),
                arc(Int32Array::from(vec![32768])),
                "value \"32768\" is out of range for smallint",
            ),
            (
                one(D::Bigint, None, None),
                arc(UInt64Array::from(vec![u64::MAX])),
                "value \"18446744073709551615\" is out of range for bigint",
            ),
            (
                one(D::Varchar, Some(3), None),
                arc(StringArray::from(vec!["abcde"])),
                "value \"abcde\" is longer than 3 characters (5)",
            ),
            (
                one(D::Character, Some(1), None),
                arc(StringArray::from(vec!["ab"])),
                "value \"ab\" is longer than 1 characters (2)",
            ),
            (
                one(D::Decimal, Some(4), Some(2)),
                arc(StringArray::from(vec!["123.4"])),
                "value \"123.4\" exceeds precision 4",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Decimal128Array::from(vec![1505])
                    .with_precision_and_scale(10, 3)
                    .unwrap()),
                "value \"1.505\" has more than 2 decimal places",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Float64Array::from(vec![f64::INFINITY])),
                "value \"Infinity\" is not a valid decimal number",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![1.000_000_01])),
                "value \"1.00000001\" cannot be stored in a real column without losing precision (it would become 1)",
            ),
            (
                one(D::Real, None, None),
                arc(Int64Array::from(vec![16_777_217])),
                "value \"16777217\" cannot be stored in a real column without losing precision (it would become 16777216)",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![1e39])),
                "value \"1000000000000000000000000000000000000000\" is out of range for real",
            ),
            (
                one(D::Double, None, None),
                arc(Decimal128Array::from(vec![12_345_678_901_234_567_890])
                    .with_precision_and_scale(30, 20)
                    .unwrap()),
                "value \"0.12345678901234567890\" cannot be stored in a double column without losing precision (it would become 0.12345678901234568)",
            ),
            (
                one(D::Boolean, None, None),
                arc(StringArray::from(vec!["maybe"])),
                "value \"maybe\" is not a valid boolean (expected true/false)",
            ),
            (
                one(D::Boolean, None, None),
                arc(Int32Array::from(vec![2])),
                "value \"2\" is not a valid boolean (expected true/false)",
            ),
            (
                one(D::Timestamp, None, None),
                arc(TimestampMicrosecondArray::from(vec![ts]).with_timezone("UTC")),
                "value \"2024-01-02T03:04:05+00\" has a time zone offset but the column is timestamp without time zone",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampNanosecondArray::from(vec![1])),
                "value \"1970-01-01T00:00:00.000000001\" has more than 6 fractional second digits",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampSecondArray::from(vec![i64::MAX])),
                "value \"9223372036854775807\" is out of range for a timestamp",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampMicrosecondArray::from(vec![
                    micros(1, 1, 1, 0, 0, 0, 0) - 1,
                ])),
                "value \"0000-12-31T23:59:59.999999\" is out of range for timestamptz",
            ),
            (
                one(D::Date, None, None),
                arc(TimestampMicrosecondArray::from(vec![ts])),
                "value \"2024-01-02T03:04:05\" is not a valid date (it has a time of day)",
            ),
            (
                one(D::Date, None, None),
                arc(Date64Array::from(vec![1])),
                "value \"1970-01-01T00:00:00.001\" is not a valid date (it has a time of day)",
            ),
            (
                one(D::Time, None, None),
                arc(Time64NanosecondArray::from(vec![MICROS_PER_DAY * 1000 + 1])),
                "value \"86400000000001\" is out of range for a time of day",
            ),
            (
                one(D::Time, None, None),
                arc(Time64NanosecondArray::from(vec![1])),
                "value \"00:00:00.000000001\" has more than 6 fractional second digits",
            ),
            (
                one(D::Time, None, None),
                arc(Time32SecondArray::from(vec![-1])),
                "value \"-1\" is out of range for a time of day",
            ),
            (
                one(D::Timetz, None, None),
                arc(StringArray::from(vec!["10:30 CET"])),
                "value \"10:30 CET\" is not a valid time with time zone (expected HH:MM:SS+HH:MM)",
            ),
        ];
        for (target, array, expected) in cases {
            let what = format!(
                "{} <- {}",
                schema::type_text(&target.columns[0].column_type()),
                array.data_type()
            );
            let err = converted(&target, array).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("table items, column c, row 1: {expected}"),
                "{what}"
            );
        }
        let err = converted(
            &one(D::Integer, None, None),
            arc(BinaryArray::from(vec![&b"x"[..]])),
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "schema mismatch: table items, column c: Arrow type Binary cannot be converted to integer"
        );
    }

    #[test]
    fn a_source_column_of_another_type_family_is_one_error_naming_both_types() {
        let cases: Vec<(DataType, ArrayRef, &str)> = vec![
            (
                DataType::Integer,
                arc(BooleanArray::from(vec![true])),
                "Boolean cannot be converted to integer",
            ),
            (
                DataType::Date,
                arc(Int32Array::from(vec![20240101])),
                "Int32 cannot be converted to date",
            ),
            (
                DataType::Decimal,
                arc(Date32Array::from(vec![1])),
                "Date32 cannot be converted to decimal",
            ),
        ];
        for (data_type, array, expected) in cases {
            let err = converted(&one(data_type, None, None), array).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("schema mismatch: table items, column c: Arrow type {expected}")
            );
        }
        // Text still goes anywhere it parses, and anything into text.
        assert!(
            converted(
                &one(DataType::Text, None, None),
                arc(BooleanArray::from(vec![true]))
            )
            .is_ok()
        );
    }

    fn items() -> TableDef {
        table(vec![
            key(col("id", DataType::Bigint, None, None)),
            required(col("name", DataType::Varchar, Some(10), None)),
            col("note", DataType::Text, None, None),
            col("price", DataType::Decimal, Some(10), Some(2)),
        ])
    }

    /// `items` without `note` and `price`: what most upload tests need.
    fn pair() -> TableDef {
        table(vec![
            key(col("id", DataType::Bigint, None, None)),
            required(col("name", DataType::Varchar, Some(10), None)),
        ])
    }

    #[test]
    fn upload_writes_table_order_and_drops_system_columns() {
        let t = table(vec![
            key(col("id", DataType::Bigint, None, None)),
            required(col("name", DataType::Varchar, Some(10), None)),
            col("price", DataType::Decimal, Some(10), Some(2)),
        ]);
        let b = batch(vec![
            ("trdm_sk", arc(Int64Array::from(vec![5, 6]))),
            ("price", arc(StringArray::from(vec![Some("1"), None]))),
            ("name", arc(StringArray::from(vec!["a", "b"]))),
            ("id", arc(Int32Array::from(vec![1, 2]))),
            ("trdm_state", arc(StringArray::from(vec!["C", "C"]))),
            ("trdm_actor_id", arc(Int64Array::from(vec![None, None]))),
            (
                TRAN_CODE_COLUMN,
                arc(StringArray::from(vec![None::<&str>, None])),
            ),
        ]);
        for pattern in [ImportPattern::Full, ImportPattern::IncrementalUpsertOnly] {
            assert_eq!(
                upload(&t, pattern, vec![b.clone()]).unwrap(),
                "id,name,price\n1,a,1.00\n2,b,\n"
            );
        }
        // A downloaded table merged from incremental exports carries the codes of its history: dropped too.
        let merged = batch(vec![
            ("id", arc(Int32Array::from(vec![1, 2]))),
            ("name", arc(StringArray::from(vec!["a", "b"]))),
            ("trdm_record_id", arc(Int64Array::from(vec![7, 8]))),
            (
                TRAN_CODE_COLUMN,
                arc(StringArray::from(vec![Some("u"), None])),
            ),
        ]);
        assert_eq!(
            upload(&pair(), ImportPattern::Full, vec![merged]).unwrap(),
            "id,name\n1,a\n2,b\n"
        );
        // Without system columns the codes are the user's instructions, and the wrong pattern is an error.
        let handmade = batch(vec![
            ("id", arc(Int32Array::from(vec![1]))),
            ("name", arc(StringArray::from(vec!["a"]))),
            (TRAN_CODE_COLUMN, arc(StringArray::from(vec!["d"]))),
        ]);
        let err = upload(&pair(), ImportPattern::Full, vec![handmade])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trdm_tran_code") && err.contains("row 1"),
            "{err}"
        );
        // A NullArray tran code column (as some catalogs store an all-empty column) is dropped too.
        let b = batch(vec![
            ("id", arc(Int32Array::from(vec![1]))),
            ("name", arc(StringArray::from(vec!["a"]))),
            (TRAN_CODE_COLUMN, arc(NullArray::new(1))),
        ]);
        assert_eq!(
            upload(&pair(), ImportPattern::Full, vec![b]).unwrap(),
            "id,name\n1,a\n"
        );
        // No batches at all: a header of every column.
        assert_eq!(
            upload(&items(), ImportPattern::Full, vec![]).unwrap(),
            "id,name,note,price\n"
        );
        assert_eq!(
            upload(&items(), ImportPattern::IncrementalWithDelete, vec![]).unwrap(),
            "id,name,note,price,trdm_tran_code\n"
        );
    }

    #[test]
    fn upload_with_delete_normalises_tran_codes() {
        let t = pair();
        let b = batch(vec![
            ("id", arc(Int64Array::from(vec![1, 2, 3]))),
            (
                "name",
                arc(StringArray::from(vec![Some("a"), None, Some("c")])),
            ),
            (
                TRAN_CODE_COLUMN,
                arc(StringArray::from(vec!["I", " d ", "u"])),
            ),
        ]);
        assert_eq!(
            upload(&t, ImportPattern::IncrementalWithDelete, vec![b]).unwrap(),
            "id,name,trdm_tran_code\n1,a,i\n2,,d\n3,c,u\n"
        );
        // A delete needs only its key, even when a required column is absent.
        let b = batch(vec![
            ("id", arc(Int64Array::from(vec![1]))),
            (TRAN_CODE_COLUMN, arc(StringArray::from(vec!["D"]))),
        ]);
        assert_eq!(
            upload(&t, ImportPattern::IncrementalWithDelete, vec![b]).unwrap(),
            "id,trdm_tran_code\n1,d\n"
        );
    }

    #[test]
    fn upload_validation_errors() {
        use ImportPattern::{Full, IncrementalWithDelete as WithDelete};
        let t = pair();
        let ids = |v: Vec<i64>| -> ArrayRef { arc(Int64Array::from(v)) };
        let names = |v: Vec<Option<&str>>| -> ArrayRef { arc(StringArray::from(v)) };
        let codes = |v: Vec<Option<&str>>| -> ArrayRef { arc(StringArray::from(v)) };
        let cases: Vec<(ImportPattern, Vec<RecordBatch>, &str)> = vec![
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                    ("colour", names(vec![None])),
                ])],
                "schema mismatch: table items: input column colour is neither a column of the table nor a system column",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                ])],
                "schema mismatch: table items: the input has column id twice",
            ),
            (
                Full,
                vec![batch(vec![("name", names(vec![Some("a")]))])],
                "schema mismatch: table items: primary key column id is missing from the input",
            ),
            (
                Full,
                vec![batch(vec![("id", ids(vec![1]))])],
                "table items, column name, row 1: no value: the column is required but missing from the input",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", arc(Int64Array::from(vec![Some(1), None]))),
                    ("name", names(vec![Some("a"), Some("b")])),
                ])],
                "table items, column id, row 2: value NULL is not allowed: the column is part of the primary key",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1, 2])),
                    ("name", names(vec![Some("a"), None])),
                ])],
                "table items, column name, row 2: value NULL is not allowed: the column is required",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1, 2])),
                    ("name", names(vec![Some("a"), Some("this is too long")])),
                ])],
                "table items, column name, row 2: value \"this is too long\" is longer than 10 characters (16)",
            ),
            (
                Full,
                vec![
                    batch(vec![
                        ("id", ids(vec![7, 8])),
                        ("name", names(vec![Some("a"), Some("b")])),
                    ]),
                    batch(vec![
                        ("id", arc(StringArray::from(vec!["9", "007.0"]))),
                        ("name", names(vec![Some("c"), Some("d")])),
                    ]),
                ],
                "table items, column id, row 4: value \"7\" repeats the primary key of row 1",
            ),
            (
                Full,
                vec![
                    batch(vec![("id", ids(vec![1])), ("name", names(vec![Some("a")]))]),
                    batch(vec![("name", names(vec![Some("a")])), ("id", ids(vec![1]))]),
                ],
                "schema mismatch: table items: a batch's columns differ from the first batch's",
            ),
            (
                Full,
                vec![
                    batch(vec![("id", ids(vec![1])), ("name", names(vec![Some("a")]))]),
                    batch(vec![
                        ("id", ids(vec![2])),
                        ("name", names(vec![Some("b")])),
                        ("price", names(vec![Some("x")])),
                    ]),
                ],
                "schema mismatch: table items: a batch's columns differ from the first batch's",
            ),
            (
                Full,
                vec![
                    batch(vec![
                        ("id", ids(vec![1, 2])),
                        ("name", names(vec![Some("a"), Some("b")])),
                    ]),
                    batch(vec![("id", ids(vec![3])), ("name", names(vec![Some("c")]))]),
                    batch(vec![
                        ("id", arc(StringArray::from(vec!["x"]))),
                        ("name", names(vec![Some("d")])),
                    ]),
                ],
                "table items, column id, row 4: value \"x\" is not a valid integer",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                ])],
                "schema mismatch: table items: pattern incremental_with_delete needs a trdm_tran_code column",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1, 2])),
                    ("name", names(vec![Some("a"), Some("b")])),
                    (TRAN_CODE_COLUMN, codes(vec![Some("i"), Some("x")])),
                ])],
                "table items, column trdm_tran_code, row 2: value \"x\" is not a transaction code (expected i, u or d)",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                    (TRAN_CODE_COLUMN, codes(vec![None])),
                ])],
                "table items, column trdm_tran_code, row 1: value NULL is not a transaction code (expected i, u or d)",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1, 1])),
                    ("name", names(vec![Some("a"), None])),
                    (TRAN_CODE_COLUMN, codes(vec![Some("u"), Some("d")])),
                ])],
                "table items, column id, row 2: value \"1\" repeats the primary key of row 1",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1, 2])),
                    ("name", names(vec![Some("a"), Some("b")])),
                    (TRAN_CODE_COLUMN, codes(vec![None, Some("u")])),
                ])],
                "table items, column trdm_tran_code, row 2: value \"u\" is not allowed: trdm_tran_code is only used by \
                 pattern incremental_with_delete, not full",
            ),
            (
                ImportPattern::IncrementalUpsertOnly,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                    (TRAN_CODE_COLUMN, codes(vec![Some("")])),
                ])],
                "table items, column trdm_tran_code, row 1: value \"\" is not allowed: trdm_tran_code is only used by \
                 pattern incremental_with_delete, not incremental_upsert_only",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    (TRAN_CODE_COLUMN, arc(BinaryArray::from(vec![&b"i"[..]]))),
                ])],
                "schema mismatch: table items, column trdm_tran_code: Arrow type Binary cannot be converted to text",
            ),
        ];
        for (pattern, batches, expected) in cases {
            assert_eq!(upload_error(&t, pattern, batches), expected);
        }
        // A nullable column the input lacks would be NULL in every record TitanRDM writes.
        let missing = "schema mismatch: table items: column note is missing from the input; TitanRDM would \
                       set it to NULL in every record written (add the column, with its current values to \
                       keep them)";
        let price = || ("price", names(vec![Some("1")]));
        for pattern in [Full, ImportPattern::IncrementalUpsertOnly] {
            let b = batch(vec![
                ("id", ids(vec![1])),
                ("name", names(vec![Some("a")])),
                price(),
            ]);
            assert_eq!(upload_error(&items(), pattern, vec![b]), missing);
        }
        // With deletes, only the rows that upsert need it.
        let deletes = batch(vec![
            ("id", ids(vec![1])),
            ("name", names(vec![None])),
            price(),
            (TRAN_CODE_COLUMN, codes(vec![Some("d")])),
        ]);
        assert!(upload(&items(), WithDelete, vec![deletes]).is_ok());
        let upsert = batch(vec![
            ("id", ids(vec![1, 2])),
            ("name", names(vec![None, Some("b")])),
            ("price", names(vec![None, Some("1")])),
            (TRAN_CODE_COLUMN, codes(vec![Some("d"), Some("u")])),
        ]);
        assert_eq!(
            upload_error(&items(), WithDelete, vec![upsert]),
            format!("{missing} (row 2 has code u)")
        );
        let failing = [Err(Error::Invalid("read failed".into()))];
        let err = encode_upload(&t, Full, failing, Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "read failed");
    }

    #[test]
    fn upload_composite_keys() {
        let t = table(vec![
            key(col("a", DataType::Varchar, None, None)),
            key(col("b", DataType::Integer, None, None)),
        ]);
        let b = batch(vec![
            ("a", arc(StringArray::from(vec!["x", "x", "x:", "1:x"]))),
            ("b", arc(Int32Array::from(vec![1, 2, 1, 1]))),
        ]);
        assert_eq!(
            upload(&t, ImportPattern::Full, vec![b]).unwrap(),
            "a,b\nx,1\nx,2\nx:,1\n1:x,1\n"
        );
        let b = batch(vec![
            ("a", arc(StringArray::from(vec!["x", "y", "x"]))),
            ("b", arc(StringArray::from(vec!["1", "1", "1.0"]))),
        ]);
        assert_eq!(
            upload_error(&t, ImportPattern::Full, vec![b]),
            "table items, columns a, b, row 3: values \"x\", \"1\" repeat the primary key of row 1"
        );
        // Without a primary key nothing is a duplicate.
        let t = table(vec![col("a", DataType::Text, None, None)]);
        let b = batch(vec![("a", arc(StringArray::from(vec!["x", "x"])))]);
        assert_eq!(
            upload(&t, ImportPattern::Full, vec![b]).unwrap(),
            "a\nx\nx\n"
        );
    }

    #[test]
    fn import_patterns() {
        for pattern in [
            ImportPattern::Full,
            ImportPattern::IncrementalUpsertOnly,
            ImportPattern::IncrementalWithDelete,
        ] {
            assert_eq!(pattern.as_str().parse::<ImportPattern>().unwrap(), pattern);
            assert_eq!(pattern.to_string(), pattern.as_str());
        }
        assert_eq!(
            "incremental".parse::<ImportPattern>().unwrap(),
            ImportPattern::IncrementalUpsertOnly
        );
        assert_eq!(
            " FULL ".parse::<ImportPattern>().unwrap(),
            ImportPattern::Full
        );
        assert_eq!(
            "merge".parse::<ImportPattern>().unwrap_err().to_string(),
            "unknown import pattern \"merge\" (expected full, incremental_upsert_only, \
             incremental_with_delete or incremental)"
        );
        assert!(ImportPattern::IncrementalWithDelete.uses_tran_code());
        assert!(!ImportPattern::Full.uses_tran_code());
    }

    #[test]
    fn seen_keys_tell_collisions_from_duplicates() {
        let mut seen = SeenKeys::default();
        assert_eq!(seen.insert("1:a", 1), None);
        assert_eq!(seen.insert("1:b", 2), None);
        assert_eq!(seen.insert("1:a", 3), Some(1));
        // Force a collision: a different key filed under the hash of "1:a".
        let hash = seen.hasher.hash_one("1:a");
        let start = seen.arena.len();
        seen.arena.push_str("1:z");
        seen.by_hash.insert(hash, (start, 3, 9));
        assert_eq!(seen.insert("1:a", 4), None);
        assert_eq!(seen.insert("1:a", 5), Some(4));
        let mut hasher = PrehashedKey::default();
        hasher.write_u64(42);
        assert_eq!(hasher.finish(), 42);
        hasher.write(&[1]);
        assert_ne!(hasher.finish(), 42);
    }

    #[test]
    fn decimal_points() {
        let cases = [
            ("5", 2, "0.05"),
            ("-5", 2, "-0.05"),
            ("125", 2, "1.25"),
            ("-125", 3, "-0.125"),
            ("0", 2, "0.00"),
            ("7", 0, "7"),
            ("7", -3, "7000"),
        ];
        for (digits, scale, expected) in cases {
            let mut s = digits.to_owned();
            place_decimal_point(&mut s, scale);
            assert_eq!(s, expected);
        }
        let mut out = String::new();
        unscaled_digits("-1.5", 3, &mut out).unwrap();
        assert_eq!(out, "-1500");
        assert!(unscaled_digits("1.555", 2, &mut out).is_err());
    }
}
