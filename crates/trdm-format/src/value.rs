//! TitanRDM column types and the text grammar of their values.
//!
//! An import is only accepted when every field parses as its column's type, and an export
//! must spell each value in exactly one canonical way so that files compare byte for byte
//! and survive any number of export → import round trips. Both directions live here, next
//! to each other, so the emulator (which validates imports and writes exports) and the
//! sync engine (which reads exports and writes imports) can never disagree about a value.
//! Input is liberal (what pandas, spreadsheets and PostgreSQL produce); output is exact.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::temporal::{
    self, Cursor, MAX_MICROS, MICROS_PER_DAY, MICROS_PER_SECOND, MIN_MICROS, TemporalError,
};

/// A TitanRDM column data type (each maps to a PostgreSQL type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// Variable-length text, optionally limited to `length` characters.
    Varchar,
    /// Fixed-length text, space-padded to `length` characters (default 1).
    Character,
    /// Unlimited text.
    Text,
    /// 16-bit integer.
    Smallint,
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    Bigint,
    /// Exact decimal number with optional precision (`length`) and scale.
    Decimal,
    /// 32-bit binary floating point.
    Real,
    /// 64-bit binary floating point.
    Double,
    /// true or false.
    Boolean,
    /// Calendar date.
    Date,
    /// Time of day without a zone.
    Time,
    /// Time of day with a UTC offset.
    Timetz,
    /// Date and time without a zone.
    Timestamp,
    /// An instant, exchanged in UTC.
    Timestamptz,
}

impl DataType {
    /// Every data type, in declaration order.
    pub const ALL: [DataType; 15] = [
        DataType::Varchar,
        DataType::Character,
        DataType::Text,
        DataType::Smallint,
        DataType::Integer,
        DataType::Bigint,
        DataType::Decimal,
        DataType::Real,
        DataType::Double,
        DataType::Boolean,
        DataType::Date,
        DataType::Time,
        DataType::Timetz,
        DataType::Timestamp,
        DataType::Timestamptz,
    ];

    /// The type's name as the TitanRDM API spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            DataType::Varchar => "varchar",
            DataType::Character => "character",
            DataType::Text => "text",
            DataType::Smallint => "smallint",
            DataType::Integer => "integer",
            DataType::Bigint => "bigint",
            DataType::Decimal => "decimal",
            DataType::Real => "real",
            DataType::Double => "double",
            DataType::Boolean => "boolean",
            DataType::Date => "date",
            DataType::Time => "time",
            DataType::Timetz => "timetz",
            DataType::Timestamp => "timestamp",
            DataType::Timestamptz => "timestamptz",
        }
    }
}

/// A data type name that is neither a TitanRDM type nor a known PostgreSQL alias.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data type {0:?}")]
pub struct UnknownDataType(pub String);

impl FromStr for DataType {
    type Err = UnknownDataType;

    /// The API names, case-insensitive, plus the PostgreSQL aliases the service may report.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        let data_type = match name.as_str() {
            "varchar" | "character varying" => DataType::Varchar,
            "character" | "char" => DataType::Character,
            "text" => DataType::Text,
            "smallint" | "int2" => DataType::Smallint,
            "integer" | "int" | "int4" => DataType::Integer,
            "bigint" | "int8" => DataType::Bigint,
            "decimal" | "numeric" => DataType::Decimal,
            "real" | "float4" => DataType::Real,
            "double" | "float8" | "double precision" => DataType::Double,
            "boolean" | "bool" => DataType::Boolean,
            "date" => DataType::Date,
            "time" | "time without time zone" => DataType::Time,
            "timetz" | "time with time zone" => DataType::Timetz,
            "timestamp" | "timestamp without time zone" => DataType::Timestamp,
            "timestamptz" | "timestamp with time zone" => DataType::Timestamptz,
            _ => return Err(UnknownDataType(s.to_owned())),
        };
        Ok(data_type)
    }
}

/// A column's type with its size parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    /// The base type.
    pub data_type: DataType,
    /// Max characters for varchar (None = unlimited) and character (None = 1); precision
    /// for decimal (None = unconstrained numeric). Ignored by other types.
    pub length: Option<u32>,
    /// Digits after the decimal point for decimal (None = 0 when a precision is given,
    /// unconstrained otherwise). Ignored by other types.
    pub scale: Option<u32>,
}

/// How to read ambiguous `nn/nn/yyyy` dates (an import mapping setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateStyle {
    /// Month first: `03/04/2024` is 4 March.
    #[default]
    Mdy,
    /// Day first: `03/04/2024` is 3 April.
    Dmy,
}

impl FromStr for DateStyle {
    type Err = ValueError;

    /// `MDY` or `DMY`, case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("mdy") {
            Ok(DateStyle::Mdy)
        } else if s.eq_ignore_ascii_case("dmy") {
            Ok(DateStyle::Dmy)
        } else {
            Err(invalid("is not a valid date style (expected MDY or DMY)"))
        }
    }
}

/// Import-mapping settings that change how a field is read.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions<'a> {
    /// Order of day and month in `nn/nn/yyyy` dates.
    pub date_style: DateStyle,
    /// A PostgreSQL `to_date`/`to_timestamp` pattern for date, timestamp and timestamptz
    /// columns (tokens YYYY, MM, DD, HH24, HH12/HH with AM/PM, MI, SS, MS, US, TZH, TZM;
    /// `"..."` for literal text). When set, the value must match it exactly.
    pub format: Option<&'a str>,
}

/// A validated value. Text-like kinds hold the canonical text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// The NULL marker.
    Null,
    /// varchar/text as given; character padded with spaces to its length.
    Text(String),
    /// smallint/integer/bigint (range-checked).
    Int(i64),
    /// boolean.
    Bool(bool),
    /// Canonical decimal text: optional `-`, integer digits without leading zeros (at least
    /// one), then `.` and exactly `scale` digits when the scale is known and positive;
    /// unconstrained numerics drop trailing fraction zeros. Never an exponent, never `-0`.
    Decimal(String),
    /// real/double; a real holds the f64 of its f32.
    Float(f64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since midnight and the offset in seconds east of UTC.
    TimeTz(i64, i32),
    /// Microseconds since 1970-01-01T00:00:00 (no zone).
    Timestamp(i64),
    /// Microseconds since the epoch, UTC.
    TimestampTz(i64),
}

/// Why a field is not a valid value of its column type.
///
/// The reason leaves out the value and the column (e.g. "is not a valid integer") so
/// callers can wrap it as "column `x`, row 7: value `abc` is not a valid integer".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ValueError {
    /// The reason, phrased to follow the value.
    pub reason: String,
}

fn invalid(reason: impl Into<String>) -> ValueError {
    ValueError {
        reason: reason.into(),
    }
}

impl ColumnType {
    /// Parses one CSV field. `quoted` tells an empty quoted field ("" = empty string) from NULL (empty unquoted).
    /// Empty unquoted → Value::Null for every type. Empty quoted → Text("") for text types, an error for others.
    /// Non-text types trim surrounding ASCII whitespace first; text types keep it.
    pub fn parse(
        &self,
        text: &str,
        quoted: bool,
        opts: &ParseOptions<'_>,
    ) -> Result<Value, ValueError> {
        if text.is_empty() && !quoted {
            return Ok(Value::Null);
        }
        let trimmed = text.trim_ascii();
        match self.data_type {
            DataType::Varchar => {
                if let Some(max) = self.length {
                    check_length(text, max)?;
                }
                Ok(Value::Text(text.to_owned()))
            }
            DataType::Text => Ok(Value::Text(text.to_owned())),
            DataType::Character => parse_character(text, self.length.unwrap_or(1)).map(Value::Text),
            DataType::Smallint => parse_int(trimmed, i16::MIN.into(), i16::MAX.into(), "smallint"),
            DataType::Integer => parse_int(trimmed, i32::MIN.into(), i32::MAX.into(), "integer"),
            DataType::Bigint => parse_int(trimmed, i64::MIN, i64::MAX, "bigint"),
            DataType::Decimal => {
                parse_decimal(trimmed, self.length, self.scale).map(Value::Decimal)
            }
            DataType::Real => parse_real(trimmed).map(Value::Float),
            DataType::Double => parse_double(trimmed).map(Value::Float),
            DataType::Boolean => parse_bool(trimmed).map(Value::Bool),
            DataType::Date => parse_date(trimmed, opts).map(Value::Date),
            DataType::Time => parse_time(trimmed).map(Value::Time),
            DataType::Timetz => parse_timetz(trimmed).map(|(t, o)| Value::TimeTz(t, o)),
            DataType::Timestamp => parse_timestamp(trimmed, opts).map(Value::Timestamp),
            DataType::Timestamptz => parse_timestamptz(trimmed, opts).map(Value::TimestampTz),
        }
    }

    /// The canonical export text of a value of this column (None for Null). Appends to `out` and returns whether non-null.
    ///
    /// The spelling follows the value's kind; the column only decides that a
    /// [`Value::Float`] of a real column is printed as the f32 it holds.
    pub fn format(&self, value: &Value, out: &mut String) -> bool {
        match value {
            Value::Null => return false,
            Value::Text(text) | Value::Decimal(text) => out.push_str(text),
            // Writing into a String cannot fail.
            Value::Int(i) => _ = write!(out, "{i}"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Float(f) => push_float(*f, self.data_type == DataType::Real, out),
            Value::Date(days) => temporal::format_date(*days, out),
            Value::Time(micros) => temporal::format_time(*micros, out),
            Value::TimeTz(micros, offset) => {
                temporal::format_time(*micros, out);
                temporal::push_offset(*offset, out);
            }
            Value::Timestamp(micros) => temporal::format_timestamp(*micros, out),
            Value::TimestampTz(micros) => temporal::format_timestamptz(*micros, out),
        }
        true
    }

    /// Convenience: parse then format (canonical text, None for NULL).
    pub fn canonicalize(
        &self,
        text: &str,
        quoted: bool,
        opts: &ParseOptions<'_>,
    ) -> Result<Option<String>, ValueError> {
        let value = self.parse(text, quoted, opts)?;
        let mut out = String::new();
        Ok(self.format(&value, &mut out).then_some(out))
    }
}

// ---------------------------------------------------------------------------------------
// Text

fn check_length(text: &str, max: u32) -> Result<(), ValueError> {
    // Bytes bound chars from above, so the count is only needed for long or non-ASCII text.
    if text.len() <= max as usize {
        return Ok(());
    }
    let count = text.chars().count();
    if count > max as usize {
        return Err(invalid(format!(
            "is longer than {max} characters ({count})"
        )));
    }
    Ok(())
}

/// PostgreSQL `character(n)` semantics: trailing spaces are padding, not content.
fn parse_character(text: &str, length: u32) -> Result<String, ValueError> {
    let content = text.trim_end_matches(' ');
    check_length(content, length)?;
    let pad = length as usize - content.chars().count();
    let mut padded = String::with_capacity(content.len() + pad);
    padded.push_str(content);
    padded.extend(std::iter::repeat_n(' ', pad));
    Ok(padded)
}

// ---------------------------------------------------------------------------------------
// Numbers

fn parse_int(text: &str, min: i64, max: i64, type_name: &str) -> Result<Value, ValueError> {
    let not_integer = || invalid("is not a valid integer");
    let bytes = text.as_bytes();
    let (negative, unsigned) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let digits = unsigned.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(not_integer());
    }
    // pandas writes integer columns that contain nulls as floats: "7.0" or "7." is 7.
    match &unsigned[digits..] {
        [] => {}
        [b'.', zeros @ ..] if zeros.iter().all(|&b| b == b'0') => {}
        _ => return Err(not_integer()),
    }
    let out_of_range = || invalid(format!("is out of range for {type_name}"));
    let mut magnitude: u64 = 0;
    for &d in &unsigned[..digits] {
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(d - b'0')))
            .ok_or_else(out_of_range)?;
    }
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    if value < i128::from(min) || value > i128::from(max) {
        return Err(out_of_range());
    }
    Ok(Value::Int(value as i64))
}

/// PostgreSQL's limits for an unconstrained numeric.
const MAX_NUMERIC_INTEGER_DIGITS: i64 = 131_072;
const MAX_NUMERIC_FRACTION_DIGITS: i64 = 16_383;

/// Decimal arithmetic on digit strings: precision may be up to 1000 digits, far beyond
/// any machine number, and a float would not be exact anyway.
fn parse_decimal(
    text: &str,
    precision: Option<u32>,
    scale: Option<u32>,
) -> Result<String, ValueError> {
    let bytes = text.as_bytes();
    let (negative, unsigned) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    parse_unsigned_decimal(unsigned, negative, precision, scale)
}

fn parse_unsigned_decimal(
    bytes: &[u8],
    negative: bool,
    precision: Option<u32>,
    scale: Option<u32>,
) -> Result<String, ValueError> {
    let not_decimal = || invalid("is not a valid decimal number");
    let out_of_range = || invalid("is out of range for decimal");
    let int_len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let int_digits = &bytes[..int_len];
    let mut rest = &bytes[int_len..];
    let mut frac_digits: &[u8] = &[];
    if let [b'.', after @ ..] = rest {
        let frac_len = after.iter().take_while(|b| b.is_ascii_digit()).count();
        frac_digits = &after[..frac_len];
        rest = &after[frac_len..];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(not_decimal());
    }
    let mut exponent: i64 = 0;
    if let [b'e' | b'E', after @ ..] = rest {
        let (exp_negative, after) = match after {
            [b'-', tail @ ..] => (true, tail),
            [b'+', tail @ ..] => (false, tail),
            _ => (false, after),
        };
        let exp_len = after.iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_len == 0 {
            return Err(not_decimal());
        }
        for &d in &after[..exp_len] {
            // Saturate: anything this large is out of range whatever the digits are.
            exponent = (exponent * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        if exp_negative {
            exponent = -exponent;
        }
        rest = &after[exp_len..];
    }
    if !rest.is_empty() {
        return Err(not_decimal());
    }

    let constrained = precision.is_some() || scale.is_some();
    let scale = scale.unwrap_or(0) as usize;
    let digit = |k: usize| {
        if k < int_digits.len() {
            int_digits[k]
        } else {
            frac_digits[k - int_digits.len()]
        }
    };
    let total = int_digits.len() + frac_digits.len();
    let Some(first) = (0..total).find(|&k| digit(k) != b'0') else {
        let mut zero = String::from("0");
        if constrained && scale > 0 {
            zero.push('.');
            zero.extend(std::iter::repeat_n('0', scale));
        }
        return Ok(zero);
    };
    let last = (0..total)
        .rev()
        .find(|&k| digit(k) != b'0')
        .unwrap_or(first);
    let significant = (last - first + 1) as i64;
    // The value is 0.d1d2...dn × 10^point, where d1..dn are the significant digits.
    let point = int_digits.len() as i64 + exponent - first as i64;
    let integer_len = point.max(0);
    let fraction_len = (significant - point).max(0);

    if constrained {
        if fraction_len > scale as i64 {
            return Err(invalid(format!("has more than {scale} decimal places")));
        }
        if let Some(precision) = precision
            && integer_len > i64::from(precision).saturating_sub(scale as i64)
        {
            return Err(invalid(format!("exceeds precision {precision}")));
        }
    }
    if integer_len > MAX_NUMERIC_INTEGER_DIGITS || fraction_len > MAX_NUMERIC_FRACTION_DIGITS {
        return Err(out_of_range());
    }

    let significant_digit = |index: i64| {
        if (0..significant).contains(&index) {
            char::from(digit(first + index as usize))
        } else {
            '0'
        }
    };
    let fraction_out = if constrained {
        scale as i64
    } else {
        fraction_len
    };
    let mut out = String::with_capacity((integer_len + fraction_out + 3) as usize);
    if negative {
        out.push('-');
    }
    if integer_len == 0 {
        out.push('0');
    }
    out.extend((0..integer_len).map(significant_digit));
    if fraction_out > 0 {
        out.push('.');
        out.extend((point..point + fraction_out).map(significant_digit));
    }
    Ok(out)
}

/// Whether a float text spelled an infinity, so an overflow to infinity can be told
/// apart from one that was asked for.
fn names_infinity(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity")
}

fn parse_real(text: &str) -> Result<f64, ValueError> {
    // Parsed straight as f32: going through f64 first could round twice.
    let value: f32 = text
        .parse()
        .map_err(|_| invalid("is not a valid floating-point number"))?;
    if value.is_infinite() && !names_infinity(text) {
        return Err(invalid("is out of range for real"));
    }
    Ok(if value.is_nan() {
        f64::NAN
    } else {
        f64::from(value)
    })
}

fn parse_double(text: &str) -> Result<f64, ValueError> {
    let value: f64 = text
        .parse()
        .map_err(|_| invalid("is not a valid floating-point number"))?;
    if value.is_infinite() && !names_infinity(text) {
        return Err(invalid("is out of range for double"));
    }
    // One NaN bit pattern, so equal inputs give bitwise-equal values.
    Ok(if value.is_nan() { f64::NAN } else { value })
}

fn push_float(value: f64, is_real: bool, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else if is_real {
        // Display prints the shortest text that parses back to the same f32.
        _ = write!(out, "{}", value as f32);
    } else {
        _ = write!(out, "{value}");
    }
}

fn parse_bool(text: &str) -> Result<bool, ValueError> {
    const TRUE: [&str; 5] = ["true", "t", "1", "yes", "y"];
    const FALSE: [&str; 5] = ["false", "f", "0", "no", "n"];
    if TRUE.iter().any(|t| text.eq_ignore_ascii_case(t)) {
        Ok(true)
    } else if FALSE.iter().any(|f| text.eq_ignore_ascii_case(f)) {
        Ok(false)
    } else {
        Err(invalid("is not a valid boolean (expected true/false)"))
    }
}

// ---------------------------------------------------------------------------------------
// Dates and times

/// How a temporal column names itself in error messages.
struct TemporalKind {
    /// "is not a valid {what}".
    what: &'static str,
    /// The shape shown after "expected".
    shape: &'static str,
    /// "is out of range for {type_name}".
    type_name: &'static str,
}

const DATE: TemporalKind = TemporalKind {
    what: "date",
    shape: "YYYY-MM-DD",
    type_name: "date",
};
const TIME: TemporalKind = TemporalKind {
    what: "time",
    shape: "HH:MM:SS",
    type_name: "time",
};
const TIMETZ: TemporalKind = TemporalKind {
    what: "time with time zone",
    shape: "HH:MM:SS+HH:MM",
    type_name: "timetz",
};
const TIMESTAMP: TemporalKind = TemporalKind {
    what: "timestamp",
    shape: "YYYY-MM-DDTHH:MM:SS",
    type_name: "timestamp",
};
const TIMESTAMPTZ: TemporalKind = TemporalKind {
    what: "timestamp with time zone",
    shape: "YYYY-MM-DDTHH:MM:SS+HH:MM",
    type_name: "timestamptz",
};

fn temporal_error(error: TemporalError, kind: &TemporalKind) -> ValueError {
    match error {
        TemporalError::Syntax => invalid(format!(
            "is not a valid {} (expected {})",
            kind.what, kind.shape
        )),
        TemporalError::Invalid(detail) => {
            invalid(format!("is not a valid {} ({detail})", kind.what))
        }
        TemporalError::TooManyFractionDigits => invalid("has more than 6 fractional second digits"),
        TemporalError::OutOfRange => invalid(format!("is out of range for {}", kind.type_name)),
        TemporalError::UnexpectedOffset => {
            invalid("has a time zone offset but the column is timestamp without time zone")
        }
    }
}

fn parse_date(text: &str, opts: &ParseOptions<'_>) -> Result<i32, ValueError> {
    if let Some(format) = opts.format {
        return parse_with_format(text, format, &DATE).map(|parts| parts.days);
    }
    let mut c = Cursor::new(text);
    let days = temporal::parse_date_part(&mut c, Some(opts.date_style))
        .map_err(|e| temporal_error(e, &DATE))?;
    if c.at_end() {
        return Ok(days);
    }
    // pandas writes a datetime column of dates as "2024-01-15 00:00:00"; that is still
    // exactly a date, but any other time of day would be silently lost.
    match temporal::parse_datetime(text, Some(opts.date_style)) {
        Ok((micros, None)) if micros.rem_euclid(MICROS_PER_DAY) == 0 => Ok(days),
        Ok((_, None)) => Err(invalid("is not a valid date (it has a time of day)")),
        _ => Err(temporal_error(TemporalError::Syntax, &DATE)),
    }
}

fn parse_time(text: &str) -> Result<i64, ValueError> {
    let mut c = Cursor::new(text);
    let time = temporal::parse_time_part(&mut c, true).map_err(|e| temporal_error(e, &TIME))?;
    if !c.at_end() {
        let has_offset = matches!(temporal::parse_offset_part(&mut c), Ok(Some(_))) && c.at_end();
        return Err(if has_offset {
            invalid("has a time zone offset but the column is time without time zone")
        } else {
            temporal_error(TemporalError::Syntax, &TIME)
        });
    }
    Ok(time)
}

/// No offset means UTC, as for timestamptz.
fn parse_timetz(text: &str) -> Result<(i64, i32), ValueError> {
    let mut c = Cursor::new(text);
    let parsed = temporal::parse_time_part(&mut c, true).and_then(|time| {
        let offset = temporal::parse_offset_part(&mut c)?;
        if c.at_end() {
            Ok((time, offset.unwrap_or(0)))
        } else {
            Err(TemporalError::Syntax)
        }
    });
    parsed.map_err(|e| temporal_error(e, &TIMETZ))
}

fn parse_timestamp(text: &str, opts: &ParseOptions<'_>) -> Result<i64, ValueError> {
    let (micros, offset) = match opts.format {
        Some(format) => {
            let parts = parse_with_format(text, format, &TIMESTAMP)?;
            (parts.local_micros(), parts.offset)
        }
        None => temporal::parse_datetime(text, Some(opts.date_style))
            .map_err(|e| temporal_error(e, &TIMESTAMP))?,
    };
    if offset.is_some() {
        return Err(temporal_error(TemporalError::UnexpectedOffset, &TIMESTAMP));
    }
    Ok(micros)
}

fn parse_timestamptz(text: &str, opts: &ParseOptions<'_>) -> Result<i64, ValueError> {
    let (local, offset) = match opts.format {
        Some(format) => {
            let parts = parse_with_format(text, format, &TIMESTAMPTZ)?;
            (parts.local_micros(), parts.offset)
        }
        None => temporal::parse_datetime(text, Some(opts.date_style))
            .map_err(|e| temporal_error(e, &TIMESTAMPTZ))?,
    };
    let utc = local - i64::from(offset.unwrap_or(0)) * MICROS_PER_SECOND;
    // Converting to UTC can leave the years the canonical form can spell.
    if !(MIN_MICROS..=MAX_MICROS).contains(&utc) {
        return Err(temporal_error(TemporalError::OutOfRange, &TIMESTAMPTZ));
    }
    Ok(utc)
}

/// What a `to_timestamp` pattern extracted.
struct FormatParts {
    days: i32,
    time: i64,
    offset: Option<i32>,
}

impl FormatParts {
    fn local_micros(&self) -> i64 {
        i64::from(self.days) * MICROS_PER_DAY + self.time
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Year,
    Month,
    Day,
    Hour24,
    Hour12,
    Minute,
    Second,
    Millis,
    Micros,
    TzHour,
    TzMinute,
    Meridiem,
}

/// Longer and more specific tokens first, so `HH24` is not read as `HH` then `24`.
const TOKENS: [(&str, Token); 16] = [
    ("YYYY", Token::Year),
    ("HH24", Token::Hour24),
    ("HH12", Token::Hour12),
    ("HH", Token::Hour12),
    ("MI", Token::Minute),
    ("MS", Token::Millis),
    ("MM", Token::Month),
    ("DD", Token::Day),
    ("SS", Token::Second),
    ("US", Token::Micros),
    ("TZH", Token::TzHour),
    ("TZM", Token::TzMinute),
    ("A.M.", Token::Meridiem),
    ("P.M.", Token::Meridiem),
    ("AM", Token::Meridiem),
    ("PM", Token::Meridiem),
];

/// Matches `text` against a PostgreSQL `to_date`/`to_timestamp` pattern. Unlike
/// PostgreSQL, which skips over much of what does not fit, every character has to match:
/// a mapping that reads the wrong thing silently is worse than one that fails loudly.
fn parse_with_format(
    text: &str,
    format: &str,
    kind: &TemporalKind,
) -> Result<FormatParts, ValueError> {
    let mismatch = || invalid(format!("does not match the format {format:?}"));
    let mut input = Cursor::new(text);
    let pattern = format.as_bytes();
    let mut p = 0;

    let mut year = None;
    let (mut month, mut day) = (1, 1);
    let (mut hour, mut minute, mut second, mut fraction) = (0, 0, 0, 0);
    let mut twelve_hour = false;
    let mut pm = false;
    let mut tz: Option<(bool, u32, u32)> = None;

    while p < pattern.len() {
        let rest = &pattern[p..];
        if rest[0] == b'"' {
            let literal_len = memchr::memchr(b'"', &rest[1..]).unwrap_or(rest.len() - 1);
            let literal = &rest[1..1 + literal_len];
            if !input.rest().starts_with(literal) {
                return Err(mismatch());
            }
            input.advance(literal.len());
            p += literal_len + 2;
            continue;
        }
        let token = TOKENS.iter().find(|(name, _)| {
            rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        });
        let Some(&(name, token)) = token else {
            let wanted = rest[0];
            if wanted == b' ' {
                // One pattern space stands for any run of spaces.
                let spaces = input
                    .rest()
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
                if spaces == 0 {
                    return Err(mismatch());
                }
                input.advance(spaces);
            } else if input
                .peek()
                .is_some_and(|b| b.eq_ignore_ascii_case(&wanted))
            {
                input.advance(1);
            } else {
                return Err(mismatch());
            }
            p += 1;
            continue;
        };
        p += name.len();
        let number = |input: &mut Cursor<'_>, max: usize| match input.digits(max) {
            (_, 0) => Err(mismatch()),
            (value, _) => Ok(value),
        };
        match token {
            Token::Year => year = Some(number(&mut input, 4)?),
            Token::Month => month = number(&mut input, 2)?,
            Token::Day => day = number(&mut input, 2)?,
            Token::Hour24 => hour = number(&mut input, 2)?,
            Token::Hour12 => {
                hour = number(&mut input, 2)?;
                twelve_hour = true;
            }
            Token::Minute => minute = number(&mut input, 2)?,
            Token::Second => second = number(&mut input, 2)?,
            // As in PostgreSQL, MS and US digits are a fraction: "SS.MS" reads 12.3 as 12.300.
            Token::Millis | Token::Micros => {
                let max = if token == Token::Millis { 3 } else { 6 };
                let (value, len) = input.digits(max);
                if len == 0 {
                    return Err(mismatch());
                }
                fraction += value * 10u32.pow((6 - len) as u32);
            }
            Token::TzHour => {
                let negative = match input.peek() {
                    Some(b'-') => true,
                    Some(b'+') => false,
                    _ => return Err(mismatch()),
                };
                input.advance(1);
                tz = Some((negative, number(&mut input, 2)?, 0));
            }
            Token::TzMinute => {
                let (value, len) = input.digits(2);
                let Some(tz) = tz.as_mut().filter(|_| len == 2) else {
                    return Err(mismatch());
                };
                tz.2 = value;
            }
            Token::Meridiem => {
                let word = ["AM", "PM", "A.M.", "P.M."].into_iter().find(|w| {
                    input.rest().len() >= w.len()
                        && input.rest()[..w.len()].eq_ignore_ascii_case(w.as_bytes())
                });
                let Some(word) = word else {
                    return Err(mismatch());
                };
                pm = word.starts_with('P');
                input.advance(word.len());
            }
        }
    }
    if !input.at_end() {
        return Err(mismatch());
    }
    let Some(year) = year else {
        return Err(invalid(format!(
            "cannot be read with the format {format:?}, which has no YYYY"
        )));
    };
    if twelve_hour {
        if !(1..=12).contains(&hour) {
            return Err(temporal_error(
                TemporalError::Invalid("hour must be between 1 and 12 with AM/PM"),
                kind,
            ));
        }
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
    }
    let days = temporal::date_from_ymd(year, month, day).map_err(|e| temporal_error(e, kind))?;
    let time = temporal::time_from_hms(hour, minute, second, fraction, false)
        .map_err(|e| temporal_error(e, kind))?;
    let offset = match tz {
        Some((negative, hours, minutes)) => Some(
            temporal::offset_from_hm(negative, hours, minutes)
                .map_err(|e| temporal_error(e, kind))?,
        ),
        None => None,
    };
    Ok(FormatParts { days, time, offset })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temporal::days_from_civil;

    fn col(data_type: DataType) -> ColumnType {
        ColumnType {
            data_type,
            length: None,
            scale: None,
        }
    }

    fn sized(data_type: DataType, length: u32) -> ColumnType {
        ColumnType {
            data_type,
            length: Some(length),
            scale: None,
        }
    }

    fn decimal(precision: Option<u32>, scale: Option<u32>) -> ColumnType {
        ColumnType {
            data_type: DataType::Decimal,
            length: precision,
            scale,
        }
    }

    fn canon(column: &ColumnType, text: &str) -> Result<Option<String>, String> {
        canon_with(column, text, &ParseOptions::default())
    }

    fn canon_with(
        column: &ColumnType,
        text: &str,
        opts: &ParseOptions<'_>,
    ) -> Result<Option<String>, String> {
        let quoted = text.is_empty();
        column
            .canonicalize(text, quoted, opts)
            .map_err(|e| e.reason)
    }

    /// Asserts each `(input, canonical)` pair, and that the canonical text is a fixed point.
    fn check(column: &ColumnType, cases: &[(&str, &str)]) {
        check_with(column, &ParseOptions::default(), cases);
    }

    fn check_with(column: &ColumnType, opts: &ParseOptions<'_>, cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            let got = canon_with(column, input, opts);
            assert_eq!(
                got,
                Ok(Some(expected.to_string())),
                "{:?} {input:?}",
                column.data_type
            );
            let again = canon(column, expected);
            assert_eq!(
                again,
                Ok(Some(expected.to_string())),
                "not a fixed point: {expected:?}"
            );
        }
    }

    fn reject(column: &ColumnType, cases: &[(&str, &str)]) {
        reject_with(column, &ParseOptions::default(), cases);
    }

    fn reject_with(column: &ColumnType, opts: &ParseOptions<'_>, cases: &[(&str, &str)]) {
        for (input, reason) in cases {
            assert_eq!(
                canon_with(column, input, opts),
                Err(reason.to_string()),
                "{:?} {input:?}",
                column.data_type
            );
        }
    }

    #[test]
    fn data_type_names() {
        for data_type in DataType::ALL {
            assert_eq!(data_type.as_str().parse::<DataType>(), Ok(data_type));
            assert_eq!(
                data_type.as_str().to_uppercase().parse::<DataType>(),
                Ok(data_type)
            );
        }
        let aliases = [
            ("character varying", DataType::Varchar),
            ("char", DataType::Character),
            ("int2", DataType::Smallint),
            ("int", DataType::Integer),
            ("INT4", DataType::Integer),
            ("int8", DataType::Bigint),
            ("numeric", DataType::Decimal),
            ("float4", DataType::Real),
            ("float8", DataType::Double),
            ("Double Precision", DataType::Double),
            ("bool", DataType::Boolean),
            ("timestamp with time zone", DataType::Timestamptz),
            ("timestamp without time zone", DataType::Timestamp),
            ("time with time zone", DataType::Timetz),
            (" text ", DataType::Text),
        ];
        for (name, data_type) in aliases {
            assert_eq!(name.parse::<DataType>(), Ok(data_type), "{name}");
        }
        let err = "money".parse::<DataType>().unwrap_err();
        assert_eq!(err, UnknownDataType("money".into()));
        assert_eq!(err.to_string(), "unknown data type \"money\"");
    }

    #[test]
    fn date_style_names() {
        assert_eq!("MDY".parse::<DateStyle>(), Ok(DateStyle::Mdy));
        assert_eq!("dmy".parse::<DateStyle>(), Ok(DateStyle::Dmy));
        assert_eq!(
            "ymd".parse::<DateStyle>().unwrap_err().reason,
            "is not a valid date style (expected MDY or DMY)"
        );
        assert_eq!(DateStyle::default(), DateStyle::Mdy);
    }

    #[test]
    fn null_and_empty_string() {
        for data_type in DataType::ALL {
            let column = col(data_type);
            let opts = ParseOptions::default();
            assert_eq!(
                column.parse("", false, &opts),
                Ok(Value::Null),
                "{data_type:?}"
            );
            assert_eq!(column.canonicalize("", false, &opts), Ok(None));
            let mut out = String::from("x");
            assert!(!column.format(&Value::Null, &mut out));
            assert_eq!(out, "x");
            let empty = column.parse("", true, &opts);
            match data_type {
                DataType::Varchar | DataType::Text => {
                    assert_eq!(empty, Ok(Value::Text(String::new())))
                }
                DataType::Character => assert_eq!(empty, Ok(Value::Text(" ".into()))),
                _ => assert!(empty.is_err(), "{data_type:?}"),
            }
        }
        assert_eq!(
            col(DataType::Integer)
                .parse("", true, &ParseOptions::default())
                .unwrap_err()
                .reason,
            "is not a valid integer"
        );
        assert_eq!(
            col(DataType::Date)
                .parse("  ", false, &ParseOptions::default())
                .unwrap_err()
                .reason,
            "is not a valid date (expected YYYY-MM-DD)"
        );
    }

    #[test]
    fn text_types() {
        check(
            &col(DataType::Text),
            &[
                (" keep  spaces ", " keep  spaces "),
                ("ünïcödé 😀", "ünïcödé 😀"),
            ],
        );
        check(
            &sized(DataType::Varchar, 3),
            &[("abc", "abc"), ("äöü", "äöü"), (" a ", " a ")],
        );
        check(
            &col(DataType::Varchar),
            &[(&"x".repeat(10_000), &"x".repeat(10_000))],
        );
        reject(
            &sized(DataType::Varchar, 10),
            &[("abcdefghijkl", "is longer than 10 characters (12)")],
        );
        reject(
            &sized(DataType::Varchar, 2),
            &[
                ("äöü", "is longer than 2 characters (3)"),
                ("ab ", "is longer than 2 characters (3)"),
            ],
        );
        assert_eq!(
            canon(&sized(DataType::Varchar, 3), ""),
            Ok(Some(String::new()))
        );
    }

    #[test]
    fn character_pads() {
        check(
            &sized(DataType::Character, 4),
            &[
                ("ab", "ab  "),
                ("ab      ", "ab  "),
                ("  ab", "  ab"),
                ("é", "é   "),
                ("", "    "),
            ],
        );
        check(&col(DataType::Character), &[("x", "x"), ("x   ", "x")]);
        reject(
            &sized(DataType::Character, 2),
            &[("abc", "is longer than 2 characters (3)")],
        );
        assert_eq!(
            col(DataType::Character).parse("y", false, &ParseOptions::default()),
            Ok(Value::Text("y".into()))
        );
    }

    #[test]
    fn integers() {
        check(
            &col(DataType::Integer),
            &[
                ("42", "42"),
                ("-7", "-7"),
                ("+7", "7"),
                ("007", "7"),
                ("7.0", "7"),
                ("7.", "7"),
                ("-0", "0"),
                (" 12 \t", "12"),
                ("-3.000", "-3"),
            ],
        );
        check(
            &col(DataType::Smallint),
            &[("-32768", "-32768"), ("32767", "32767")],
        );
        check(
            &col(DataType::Integer),
            &[("-2147483648", "-2147483648"), ("2147483647", "2147483647")],
        );
        check(
            &col(DataType::Bigint),
            &[
                ("-9223372036854775808", "-9223372036854775808"),
                ("9223372036854775807", "9223372036854775807"),
                ("0000000000000000000000001", "1"),
            ],
        );
        for bad in [
            "7.5", "1e3", "abc", "", "-", "+", ".0", "1,000", "0x10", "7.0.0", "--1", "1 2", "٣",
        ] {
            reject(&col(DataType::Integer), &[(bad, "is not a valid integer")]);
        }
        reject(
            &col(DataType::Smallint),
            &[
                ("32768", "is out of range for smallint"),
                ("-32769", "is out of range for smallint"),
            ],
        );
        reject(
            &col(DataType::Integer),
            &[("2147483648", "is out of range for integer")],
        );
        reject(
            &col(DataType::Bigint),
            &[
                ("9223372036854775808", "is out of range for bigint"),
                ("-9223372036854775809", "is out of range for bigint"),
                ("99999999999999999999999", "is out of range for bigint"),
            ],
        );
        assert_eq!(
            col(DataType::Smallint).parse("5", false, &ParseOptions::default()),
            Ok(Value::Int(5))
        );
    }

    #[test]
    fn decimals_with_scale() {
        let money = decimal(Some(10), Some(2));
        check(
            &money,
            &[
                ("1", "1.00"),
                ("1.5", "1.50"),
                ("-1.5", "-1.50"),
                ("+001.50", "1.50"),
                ("-0", "0.00"),
                ("-0.00", "0.00"),
                (".5", "0.50"),
                ("5.", "5.00"),
                ("1.2300", "1.23"),
                ("12345678.99", "12345678.99"),
                ("1.5e2", "150.00"),
                ("15E-1", "1.50"),
                ("0.0001e4", "1.00"),
                ("  3.25  ", "3.25"),
                ("000000000000000000000012.10", "12.10"),
            ],
        );
        reject(
            &money,
            &[
                ("1.234", "has more than 2 decimal places"),
                ("1.2341e1", "has more than 2 decimal places"),
                ("123456789", "exceeds precision 10"),
                ("1e8", "exceeds precision 10"),
                ("abc", "is not a valid decimal number"),
                (".", "is not a valid decimal number"),
                ("1e", "is not a valid decimal number"),
                ("1.2.3", "is not a valid decimal number"),
                ("--1", "is not a valid decimal number"),
                ("1,5", "is not a valid decimal number"),
                ("NaN", "is not a valid decimal number"),
                ("", "is not a valid decimal number"),
            ],
        );
        check(
            &decimal(Some(5), None),
            &[("12345", "12345"), ("12345.000", "12345"), ("-0.0", "0")],
        );
        reject(
            &decimal(Some(5), None),
            &[
                ("1.5", "has more than 0 decimal places"),
                ("123456", "exceeds precision 5"),
            ],
        );
        check(
            &decimal(Some(3), Some(3)),
            &[("0.123", "0.123"), ("-.5", "-0.500")],
        );
        reject(
            &decimal(Some(3), Some(3)),
            &[("1.5", "exceeds precision 3")],
        );
    }

    #[test]
    fn unconstrained_decimals() {
        check(
            &col(DataType::Decimal),
            &[
                ("1.500", "1.5"),
                ("100", "100"),
                ("100.", "100"),
                ("-0.000", "0"),
                ("0.000001", "0.000001"),
                ("1e-7", "0.0000001"),
                ("-1.25E+3", "-1250"),
                ("12e0", "12"),
                ("0.00e99999999999", "0"),
                (
                    "123456789012345678901234567890.123456789",
                    "123456789012345678901234567890.123456789",
                ),
            ],
        );
        reject(
            &col(DataType::Decimal),
            &[
                ("1e200000", "is out of range for decimal"),
                ("1e-20000", "is out of range for decimal"),
                ("1e99999999999999999999", "is out of range for decimal"),
            ],
        );
        let wide = decimal(Some(1000), Some(500));
        let text = format!("{}.{}", "9".repeat(500), "1".repeat(500));
        check(&wide, &[(&text, &text)]);
        reject(&wide, &[(&format!("1{text}"), "exceeds precision 1000")]);
    }

    #[test]
    fn floats() {
        check(
            &col(DataType::Double),
            &[
                ("1.5", "1.5"),
                ("1e3", "1000"),
                ("0.1", "0.1"),
                ("-0", "-0"),
                ("NaN", "NaN"),
                ("nan", "NaN"),
                ("Infinity", "Infinity"),
                ("-Infinity", "-Infinity"),
                ("inf", "Infinity"),
                ("-INF", "-Infinity"),
                (" 2.5 ", "2.5"),
                ("1.7976931348623157e308", &f64::MAX.to_string()),
            ],
        );
        check(
            &col(DataType::Real),
            &[
                ("0.1", "0.1"),
                ("3.14159274", "3.1415927"),
                ("16777217", "16777216"),
                ("nan", "NaN"),
                ("-inf", "-Infinity"),
            ],
        );
        let real = col(DataType::Real)
            .parse("0.1", false, &ParseOptions::default())
            .unwrap();
        assert_eq!(real, Value::Float(f64::from(0.1f32)));
        reject(
            &col(DataType::Double),
            &[
                ("1e400", "is out of range for double"),
                ("abc", "is not a valid floating-point number"),
                ("1,5", "is not a valid floating-point number"),
            ],
        );
        reject(
            &col(DataType::Real),
            &[
                ("1e39", "is out of range for real"),
                ("", "is not a valid floating-point number"),
            ],
        );
        let nan = col(DataType::Double)
            .parse("-nan", false, &ParseOptions::default())
            .unwrap();
        let Value::Float(nan) = nan else { panic!() };
        assert_eq!(nan.to_bits(), f64::NAN.to_bits());
    }

    #[test]
    fn booleans() {
        let column = col(DataType::Boolean);
        for t in ["true", "TRUE", "t", "T", "1", "yes", "Yes", "y", " Y "] {
            check(&column, &[(t, "true")]);
        }
        for f in ["false", "False", "f", "0", "no", "NO", "n", "N"] {
            check(&column, &[(f, "false")]);
        }
        for bad in ["2", "on", "tru", "ja", ""] {
            reject(
                &column,
                &[(bad, "is not a valid boolean (expected true/false)")],
            );
        }
    }

    #[test]
    fn dates() {
        let column = col(DataType::Date);
        check(
            &column,
            &[
                ("2024-03-04", "2024-03-04"),
                ("2024-3-4", "2024-03-04"),
                ("2024/03/04", "2024-03-04"),
                ("03/04/2024", "2024-03-04"),
                ("3-4-2024", "2024-03-04"),
                ("03.04.2024", "2024-03-04"),
                ("2024-02-29", "2024-02-29"),
                ("0001-01-01", "0001-01-01"),
                ("9999-12-31", "9999-12-31"),
                (" 2024-03-04 ", "2024-03-04"),
                ("2024-03-04 00:00:00", "2024-03-04"),
                ("2024-03-04T00:00", "2024-03-04"),
            ],
        );
        let dmy = ParseOptions {
            date_style: DateStyle::Dmy,
            format: None,
        };
        check_with(
            &column,
            &dmy,
            &[
                ("03/04/2024", "2024-04-03"),
                ("31.12.1999", "1999-12-31"),
                ("2024-03-04", "2024-03-04"),
            ],
        );
        reject_with(
            &column,
            &dmy,
            &[(
                "12/31/1999",
                "is not a valid date (month must be between 01 and 12)",
            )],
        );
        reject(
            &column,
            &[
                (
                    "2023-02-29",
                    "is not a valid date (day does not exist in that month)",
                ),
                (
                    "2024-04-31",
                    "is not a valid date (day does not exist in that month)",
                ),
                (
                    "2024-00-10",
                    "is not a valid date (month must be between 01 and 12)",
                ),
                (
                    "31/12/1999",
                    "is not a valid date (month must be between 01 and 12)",
                ),
                ("0000-01-01", "is out of range for date"),
                ("10000-01-01", "is not a valid date (expected YYYY-MM-DD)"),
                ("24-03-04", "is not a valid date (expected YYYY-MM-DD)"),
                ("20240304", "is not a valid date (expected YYYY-MM-DD)"),
                ("2024-03-04x", "is not a valid date (expected YYYY-MM-DD)"),
                (
                    "2024-03-04T10:00",
                    "is not a valid date (it has a time of day)",
                ),
                (
                    "2024-03-04T00:00+01",
                    "is not a valid date (expected YYYY-MM-DD)",
                ),
                ("March 4, 2024", "is not a valid date (expected YYYY-MM-DD)"),
            ],
        );
        assert_eq!(
            column.parse("1970-01-02", false, &ParseOptions::default()),
            Ok(Value::Date(1))
        );
    }

    #[test]
    fn times() {
        let column = col(DataType::Time);
        check(
            &column,
            &[
                ("10:30", "10:30:00"),
                ("9:05", "09:05:00"),
                ("10:30:15", "10:30:15"),
                ("10:30:15.5", "10:30:15.5"),
                ("10:30:15.120", "10:30:15.12"),
                ("10:30:15.000000", "10:30:15"),
                ("23:59:59.999999", "23:59:59.999999"),
                ("00:00:00.000001", "00:00:00.000001"),
                ("24:00:00", "24:00:00"),
            ],
        );
        reject(
            &column,
            &[
                (
                    "10:30:15.1234567",
                    "has more than 6 fractional second digits",
                ),
                (
                    "25:00",
                    "is not a valid time (hour must be between 00 and 23)",
                ),
                (
                    "24:00:01",
                    "is not a valid time (hour must be between 00 and 23)",
                ),
                (
                    "10:60",
                    "is not a valid time (minute must be between 00 and 59)",
                ),
                (
                    "10:30:60",
                    "is not a valid time (second must be between 00 and 59)",
                ),
                ("10", "is not a valid time (expected HH:MM:SS)"),
                ("10:3", "is not a valid time (expected HH:MM:SS)"),
                ("10:30:15.", "is not a valid time (expected HH:MM:SS)"),
                ("10:30 pm", "is not a valid time (expected HH:MM:SS)"),
                (
                    "10:30:00+02",
                    "has a time zone offset but the column is time without time zone",
                ),
            ],
        );
        assert_eq!(
            column.parse("00:00:01.5", false, &ParseOptions::default()),
            Ok(Value::Time(1_500_000))
        );
    }

    #[test]
    fn times_with_zone() {
        let column = col(DataType::Timetz);
        check(
            &column,
            &[
                ("10:30:00+02", "10:30:00+02"),
                ("10:30:00+02:00", "10:30:00+02"),
                ("10:30:00+0530", "10:30:00+05:30"),
                ("10:30:00.25-03:30", "10:30:00.25-03:30"),
                ("10:30Z", "10:30:00+00"),
                ("10:30:00 -08", "10:30:00-08"),
                ("10:30:00", "10:30:00+00"),
                ("10:30:00-00:30", "10:30:00-00:30"),
            ],
        );
        reject(
            &column,
            &[
                (
                    "10:30:00+16",
                    "is not a valid time with time zone (time zone offset must be between -15:59 and +15:59)",
                ),
                (
                    "10:30:00+02:60",
                    "is not a valid time with time zone (time zone offset must be between -15:59 and +15:59)",
                ),
                (
                    "10:30:00 CET",
                    "is not a valid time with time zone (expected HH:MM:SS+HH:MM)",
                ),
                (
                    "10:30:00+2:3",
                    "is not a valid time with time zone (expected HH:MM:SS+HH:MM)",
                ),
                (
                    "10:30:00.0000001Z",
                    "has more than 6 fractional second digits",
                ),
            ],
        );
        assert_eq!(
            column.parse("01:00-05:30", false, &ParseOptions::default()),
            Ok(Value::TimeTz(3_600_000_000, -19_800))
        );
    }

    #[test]
    fn timestamps() {
        let column = col(DataType::Timestamp);
        check(
            &column,
            &[
                ("2024-03-04T10:30:00", "2024-03-04T10:30:00"),
                ("2024-03-04 10:30", "2024-03-04T10:30:00"),
                ("2024-03-04t10:30:00.100", "2024-03-04T10:30:00.1"),
                ("2024-03-04", "2024-03-04T00:00:00"),
                ("03/04/2024 10:30:00", "2024-03-04T10:30:00"),
                ("0001-01-01T00:00:00", "0001-01-01T00:00:00"),
                ("9999-12-31T23:59:59.999999", "9999-12-31T23:59:59.999999"),
            ],
        );
        let offset = "has a time zone offset but the column is timestamp without time zone";
        reject(
            &column,
            &[
                ("2024-03-04T10:30:00Z", offset),
                ("2024-03-04T10:30:00+02:00", offset),
                ("2024-03-04 10:30:00 -0500", offset),
                (
                    "2024-03-04T24:00:00",
                    "is not a valid timestamp (hour must be between 00 and 23)",
                ),
                (
                    "2024-02-30T10:00:00",
                    "is not a valid timestamp (day does not exist in that month)",
                ),
                (
                    "2024-03-04T10:30:00.1234567",
                    "has more than 6 fractional second digits",
                ),
                (
                    "2024-03-04T10",
                    "is not a valid timestamp (expected YYYY-MM-DDTHH:MM:SS)",
                ),
                (
                    "2024-03-04X10:30",
                    "is not a valid timestamp (expected YYYY-MM-DDTHH:MM:SS)",
                ),
                (
                    "2024-03-04T10:30:00+",
                    "is not a valid timestamp (expected YYYY-MM-DDTHH:MM:SS)",
                ),
            ],
        );
        assert_eq!(
            column.parse("1970-01-01T00:00:01", false, &ParseOptions::default()),
            Ok(Value::Timestamp(1_000_000))
        );
    }

    #[test]
    fn timestamps_with_zone() {
        let column = col(DataType::Timestamptz);
        check(
            &column,
            &[
                ("2024-03-04T10:30:00Z", "2024-03-04T10:30:00+00"),
                ("2024-03-04T10:30:00", "2024-03-04T10:30:00+00"),
                ("2024-03-04T12:30:00+02", "2024-03-04T10:30:00+00"),
                ("2024-03-04T12:30:00+0200", "2024-03-04T10:30:00+00"),
                ("2024-03-04 05:00:00.5-05:30", "2024-03-04T10:30:00.5+00"),
                ("2024-03-04T01:00:00+02:00", "2024-03-03T23:00:00+00"),
                ("2024-03-04", "2024-03-04T00:00:00+00"),
                ("9999-12-31T00:00:00+00", "9999-12-31T00:00:00+00"),
                ("0001-01-01T02:00:00+01", "0001-01-01T01:00:00+00"),
            ],
        );
        reject(
            &column,
            &[
                ("0001-01-01T00:00:00+01", "is out of range for timestamptz"),
                ("9999-12-31T23:00:00-02", "is out of range for timestamptz"),
                (
                    "2024-03-04T10:30:00 Europe/Paris",
                    "is not a valid timestamp with time zone (expected YYYY-MM-DDTHH:MM:SS+HH:MM)",
                ),
                (
                    "2024-13-04T10:30:00Z",
                    "is not a valid timestamp with time zone (month must be between 01 and 12)",
                ),
            ],
        );
        let epoch = days_from_civil(2024, 3, 4) as i64 * MICROS_PER_DAY;
        assert_eq!(
            column.parse("2024-03-04T01:00:00+01", false, &ParseOptions::default()),
            Ok(Value::TimestampTz(epoch))
        );
    }

    #[test]
    fn format_patterns() {
        let with = |format| ParseOptions {
            date_style: DateStyle::Mdy,
            format: Some(format),
        };
        check_with(
            &col(DataType::Date),
            &with("DD/MM/YYYY"),
            &[("04/03/2024", "2024-03-04"), ("4/3/2024", "2024-03-04")],
        );
        check_with(
            &col(DataType::Date),
            &with("YYYYMMDD"),
            &[("20240304", "2024-03-04")],
        );
        check_with(
            &col(DataType::Date),
            &with("yyyy-mm"),
            &[("2024-03", "2024-03-01")],
        );
        check_with(
            &col(DataType::Date),
            &with("DD \"of\" MM, YYYY"),
            &[("4 of 03, 2024", "2024-03-04")],
        );
        check_with(
            &col(DataType::Date),
            &with("DD/MM/YYYY HH24:MI"),
            &[("04/03/2024 10:30", "2024-03-04")],
        );
        check_with(
            &col(DataType::Timestamp),
            &with("MM-DD-YYYY HH24:MI:SS"),
            &[
                ("03-04-2024 10:30:15", "2024-03-04T10:30:15"),
                ("03-04-2024   10:30:15", "2024-03-04T10:30:15"),
            ],
        );
        check_with(
            &col(DataType::Timestamp),
            &with("DD.MM.YYYY HH12:MI AM"),
            &[
                ("04.03.2024 10:30 PM", "2024-03-04T22:30:00"),
                ("04.03.2024 12:05 am", "2024-03-04T00:05:00"),
                ("04.03.2024 12:05 P.M.", "2024-03-04T12:05:00"),
            ],
        );
        check_with(
            &col(DataType::Timestamp),
            &with("HH:MI YYYY-MM-DD"),
            &[("12:00 2024-03-04", "2024-03-04T00:00:00")],
        );
        check_with(
            &col(DataType::Timestamp),
            &with("YYYY-MM-DD\"T\"HH24:MI:SS.MS"),
            &[
                ("2024-03-04T10:30:15.5", "2024-03-04T10:30:15.5"),
                ("2024-03-04T10:30:15.020", "2024-03-04T10:30:15.02"),
            ],
        );
        check_with(
            &col(DataType::Timestamp),
            &with("YYYY-MM-DD HH24:MI:SS.US"),
            &[("2024-03-04 10:30:15.000123", "2024-03-04T10:30:15.000123")],
        );
        check_with(
            &col(DataType::Timestamptz),
            &with("YYYY-MM-DD HH24:MI:SSTZH:TZM"),
            &[
                ("2024-03-04 12:30:00+02:00", "2024-03-04T10:30:00+00"),
                ("2024-03-04 10:00:00-00:30", "2024-03-04T10:30:00+00"),
            ],
        );
        check_with(
            &col(DataType::Timestamptz),
            &with("YYYY-MM-DD HH24TZH"),
            &[("2024-03-04 12-03", "2024-03-04T15:00:00+00")],
        );
        check_with(
            &col(DataType::Timestamptz),
            &with("DD/MM/YYYY"),
            &[("04/03/2024", "2024-03-04T00:00:00+00")],
        );
        // Other types ignore the format.
        check_with(&col(DataType::Integer), &with("DD/MM/YYYY"), &[("7", "7")]);

        let mismatch = "does not match the format \"DD/MM/YYYY\"";
        reject_with(
            &col(DataType::Date),
            &with("DD/MM/YYYY"),
            &[
                ("2024-03-04", mismatch),
                ("04/03/2024x", mismatch),
                ("04-03-2024", mismatch),
                ("04/03/", mismatch),
            ],
        );
        reject_with(
            &col(DataType::Date),
            &with("DD/MM/YYYY"),
            &[(
                "31/02/2024",
                "is not a valid date (day does not exist in that month)",
            )],
        );
        reject_with(
            &col(DataType::Timestamp),
            &with("YYYY-MM-DD HH24:MITZH"),
            &[(
                "2024-03-04 10:30+02",
                "has a time zone offset but the column is timestamp without time zone",
            )],
        );
        reject_with(
            &col(DataType::Timestamp),
            &with("YYYY-MM-DD HH12:MI AM"),
            &[
                (
                    "2024-03-04 13:30 PM",
                    "is not a valid timestamp (hour must be between 1 and 12 with AM/PM)",
                ),
                (
                    "2024-03-04 10:30 XM",
                    "does not match the format \"YYYY-MM-DD HH12:MI AM\"",
                ),
            ],
        );
        reject_with(
            &col(DataType::Timestamp),
            &with("YYYY-MM-DD HH24:MI"),
            &[
                (
                    "2024-03-04 24:00",
                    "is not a valid timestamp (hour must be between 00 and 23)",
                ),
                (
                    "2024-03-04 10:30:00",
                    "does not match the format \"YYYY-MM-DD HH24:MI\"",
                ),
            ],
        );
        reject_with(
            &col(DataType::Date),
            &with("DD/MM"),
            &[(
                "04/03",
                "cannot be read with the format \"DD/MM\", which has no YYYY",
            )],
        );
        reject_with(
            &col(DataType::Timestamptz),
            &with("YYYY-MM-DD HH24TZH"),
            &[
                (
                    "2024-03-04 12+16",
                    "is not a valid timestamp with time zone (time zone offset must be between -15:59 and +15:59)",
                ),
                (
                    "2024-03-04 12 03",
                    "does not match the format \"YYYY-MM-DD HH24TZH\"",
                ),
            ],
        );
    }

    #[test]
    fn format_writes_each_kind() {
        let mut out = String::new();
        let cases = [
            (col(DataType::Integer), Value::Int(-12)),
            (col(DataType::Boolean), Value::Bool(true)),
            (col(DataType::Real), Value::Float(f64::from(0.1f32))),
            (col(DataType::Double), Value::Float(f64::from(0.1f32))),
            (col(DataType::Double), Value::Float(f64::NEG_INFINITY)),
            (col(DataType::Decimal), Value::Decimal("1.50".into())),
            (col(DataType::Date), Value::Date(0)),
            (col(DataType::Time), Value::Time(1)),
            (col(DataType::Timetz), Value::TimeTz(0, -3600)),
            (col(DataType::Timestamp), Value::Timestamp(0)),
            (col(DataType::Timestamptz), Value::TimestampTz(0)),
            (col(DataType::Text), Value::Text("x".into())),
        ];
        for (column, value) in &cases {
            assert!(column.format(value, &mut out));
            out.push('|');
        }
        assert_eq!(
            out,
            "-12|true|0.1|0.10000000149011612|-Infinity|1.50|1970-01-01|00:00:00.000001|00:00:00-01|1970-01-01T00:00:00|1970-01-01T00:00:00+00|x|"
        );
        let err = ValueError {
            reason: "is not a valid integer".into(),
        };
        assert_eq!(err.to_string(), "is not a valid integer");
    }
}
