//! Arrow → CSV: every input value turned into the canonical text of its column (the input side of both
//! encoders), and the export encoder built on it.

use std::fmt::{Display, Write as _};
use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type,
    Decimal256Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType as ArrowType, SchemaRef, TimeUnit};
use trdm_format::csv::CsvWriter;
use trdm_format::temporal::{self, MICROS_PER_DAY, MICROS_PER_SECOND};
use trdm_format::value::{ColumnType, DataType, ParseOptions, Value};

use super::{EncodeSummary, column_type_of, value_error};
use crate::error::{Error, Result};
use crate::schema::{self, TableDef};

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
pub(super) struct Source<'a> {
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

    pub(super) fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(row))
    }

    /// The value's text, into `out`.
    pub(super) fn text(
        &self,
        row: usize,
        out: &mut String,
    ) -> std::result::Result<(), &'static str> {
        out.clear();
        (self.render)(row, out)
    }

    /// The canonical text of the (non-null) value at `row` in the `target` column, into `out`. On error,
    /// returns the reason, and `text` holds the value as given for the message.
    pub(super) fn canonical(
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
pub(super) fn unpack(array: &ArrayRef) -> Result<ArrayRef> {
    match array.data_type() {
        ArrowType::Dictionary(_, value_type) => Ok(arrow_cast::cast(array, value_type)?),
        _ => Ok(Arc::clone(array)),
    }
}

pub(super) fn sources<'a>(
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

// ---------------------------------------------------------------------------------------------------------
// Arrow → CSV: exports

/// Encodes batches of `schema` as CSV in the canonical text of the export format: a header of the schema's
/// field names, then one row per input row; NULL is an empty unquoted field, the empty string `""`.
///
/// Every field must be a user column of `table` or a system column; its values are written in the
/// canonical spelling of that column's TitanRDM type, converted as [`encode_upload`](super::encode_upload) converts them (a value
/// the column cannot hold, such as a `Date32` in the year 10000, is an [`Error::Invalid`] naming table,
/// column, row and value), so the file reads back with [`CsvDecoder`](super::CsvDecoder) into equal batches. Nothing else is
/// checked: keys, required values and transaction codes are the data's own. Batches must have the schema's
/// field names in its order; their Arrow types may vary as [`encode_upload`](super::encode_upload) allows.
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::{
        ArrayRef, Date32Array, Decimal128Array, Float32Array, Int32Array, RecordBatch, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow_schema::{DataType as ArrowType, Field, Schema};
    use trdm_format::temporal::days_from_civil;
    use trdm_format::value::DataType;

    use super::*;
    use crate::codec::decode::unscaled_digits;
    use crate::codec::test_fixtures::*;
    use crate::error::Error;
    use crate::schema::user_schema;
    use crate::schema::{self, TRAN_CODE_COLUMN};

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
