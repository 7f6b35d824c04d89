//! Calendar arithmetic and the date/time text grammar.
//!
//! TitanRDM moves dates and timestamps as text, while the emulator and the sync engine
//! compare, sort and store them as integer day and microsecond counts. This module is the
//! one place that converts between the two, so that system columns, high-water marks and
//! user columns all agree to the microsecond. It avoids a date library on purpose: the
//! output must be byte-exact (PostgreSQL-style `+00`, trimmed fractions) and exports
//! format millions of values, so digits are written directly instead of via `format!`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::value::DateStyle;

/// Microseconds in one second.
pub const MICROS_PER_SECOND: i64 = 1_000_000;

/// Microseconds in one (civil, leap-second free) day.
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The high date of current versions, 9999-12-31T00:00:00 UTC, in microseconds.
pub const HIGH_DATE_MICROS: i64 = days_from_civil(9999, 12, 31) as i64 * MICROS_PER_DAY;

/// Day number of 0001-01-01, the first date the wire format can spell.
pub(crate) const MIN_DAYS: i32 = days_from_civil(1, 1, 1);
/// Day number of 9999-12-31, the last date the wire format can spell.
pub(crate) const MAX_DAYS: i32 = days_from_civil(9999, 12, 31);
/// First microsecond whose four-digit-year spelling exists.
pub(crate) const MIN_MICROS: i64 = MIN_DAYS as i64 * MICROS_PER_DAY;
/// Last microsecond whose four-digit-year spelling exists.
pub(crate) const MAX_MICROS: i64 = (MAX_DAYS as i64 + 1) * MICROS_PER_DAY - 1;

const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
/// PostgreSQL rejects offsets beyond ±15:59, so accepting more would let through values
/// the real service refuses.
const MAX_OFFSET_HOURS: u32 = 15;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
///
/// `month` is 1-12 and `day` 1-31; the date is not validated. The result is exact for
/// any year whose day count fits in an `i32` (roughly ±5.8 million years).
pub const fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    // i64 throughout so that extreme years cannot overflow the intermediate products.
    let m = month as i64;
    let y = year as i64 - if m <= 2 { 1 } else { 0 };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days as i64 + 719_468;
    let era = (if z >= 0 { z } else { z - 146_096 }) / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year as i32, month, day)
}

/// Formats micros since the epoch as `YYYY-MM-DDTHH:MM:SS[.ffffff]+00` (UTC; fraction
/// trimmed of trailing zeros and omitted when zero). Appends to `out`.
pub fn format_timestamptz(micros: i64, out: &mut String) {
    format_timestamp(micros, out);
    out.push_str("+00");
}

/// Formats micros since 1970-01-01T00:00:00 as `YYYY-MM-DDTHH:MM:SS[.ffffff]` (no zone).
/// Appends to `out`.
pub fn format_timestamp(micros: i64, out: &mut String) {
    let days = micros.div_euclid(MICROS_PER_DAY);
    out.reserve(26);
    // i64 micros span fewer than 2^27 days, so the narrowing cannot truncate.
    push_date(days as i32, out);
    out.push('T');
    push_clock(micros.rem_euclid(MICROS_PER_DAY), out);
}

/// Formats days since 1970-01-01 as `YYYY-MM-DD`. Appends to `out`.
///
/// Years outside 0000-9999 get more digits or a leading `-`; the wire format never
/// contains them because the parsers reject them.
pub fn format_date(days: i32, out: &mut String) {
    out.reserve(10);
    push_date(days, out);
}

/// Formats micros since midnight as `HH:MM:SS[.ffffff]` (fraction trimmed). Appends to `out`.
///
/// Exactly one day formats as `24:00:00`, which PostgreSQL accepts as a time of day;
/// other values outside a day are wrapped into it.
pub fn format_time(micros: i64, out: &mut String) {
    let micros = if (0..=MICROS_PER_DAY).contains(&micros) {
        micros
    } else {
        micros.rem_euclid(MICROS_PER_DAY)
    };
    out.reserve(15);
    push_clock(micros, out);
}

/// Parses an ISO 8601 timestamp with an optional offset (naive = UTC) into UTC micros.
/// Used for high-water marks.
///
/// Accepts `YYYY-MM-DD`, then `T`, `t` or a space, then `HH:MM[:SS[.ffffff]]`, then
/// optionally `Z`, `+HH`, `+HHMM` or `+HH:MM` (or `-`); a date alone means midnight.
/// More than six fraction digits is an error rather than a silent rounding, because a
/// high-water mark that moved by a fraction of a microsecond would skip or repeat rows.
/// An instant outside years 1 to 9999 in UTC (`9999-12-31T23:00:00-09`) is `None` too: its
/// canonical text would not parse back, so a mark stored as text would be lost.
pub fn parse_timestamptz(text: &str) -> Option<i64> {
    let (local, offset) = parse_datetime(text.trim_ascii(), None).ok()?;
    let utc = local - i64::from(offset.unwrap_or(0)) * MICROS_PER_SECOND;
    (MIN_MICROS..=MAX_MICROS).contains(&utc).then_some(utc)
}

/// Current time in UTC micros.
pub fn now_micros() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

// ---------------------------------------------------------------------------------------
// Digit output. Pushing ASCII chars into a reserved String is the fastest safe option.

fn push_padded(out: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while value > 0 {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    let start = start.min(digits.len() - width);
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
}

fn push_date(days: i32, out: &mut String) {
    let (year, month, day) = civil_from_days(days);
    if year < 0 {
        out.push('-');
    }
    push_padded(out, u64::from(year.unsigned_abs()), 4);
    out.push('-');
    push_padded(out, u64::from(month), 2);
    out.push('-');
    push_padded(out, u64::from(day), 2);
}

/// `HH:MM:SS[.ffffff]` for `0 <= micros <= MICROS_PER_DAY`.
fn push_clock(micros: i64, out: &mut String) {
    let secs = (micros / MICROS_PER_SECOND) as u64;
    push_padded(out, secs / 3600, 2);
    out.push(':');
    push_padded(out, secs / 60 % 60, 2);
    out.push(':');
    push_padded(out, secs % 60, 2);
    let mut frac = (micros % MICROS_PER_SECOND) as u64;
    if frac != 0 {
        let mut width = 6;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        out.push('.');
        push_padded(out, frac, width);
    }
}

/// `+HH` or `+HH:MM` (sign always present), as PostgreSQL prints offsets.
pub(crate) fn push_offset(offset_seconds: i32, out: &mut String) {
    out.push(if offset_seconds < 0 { '-' } else { '+' });
    let minutes = offset_seconds.unsigned_abs() / 60;
    push_padded(out, u64::from(minutes / 60), 2);
    if !minutes.is_multiple_of(60) {
        out.push(':');
        push_padded(out, u64::from(minutes % 60), 2);
    }
}

// ---------------------------------------------------------------------------------------
// Input grammar, shared by `value` (column values) and `parse_timestamptz` (high-water
// marks) so that both accept exactly the same spellings.

/// Why a date/time text was rejected; `value` turns it into a message for its column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemporalError {
    /// The text does not have the expected shape.
    Syntax,
    /// The shape is right but a component is impossible (the detail says which).
    Invalid(&'static str),
    /// More than six fraction-of-second digits.
    TooManyFractionDigits,
    /// A year outside 0001-9999, before or after offset conversion.
    OutOfRange,
    /// An offset was given for a type that has no time zone.
    UnexpectedOffset,
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Validates a calendar date with a four-digit year and returns its day number.
pub(crate) fn date_from_ymd(year: u32, month: u32, day: u32) -> Result<i32, TemporalError> {
    if !(1..=12).contains(&month) {
        return Err(TemporalError::Invalid("month must be between 01 and 12"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(TemporalError::Invalid("day does not exist in that month"));
    }
    if !(1..=9999).contains(&year) {
        return Err(TemporalError::OutOfRange);
    }
    Ok(days_from_civil(year as i32, month, day))
}

/// Validates clock components and returns micros since midnight.
pub(crate) fn time_from_hms(
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
    allow_24: bool,
) -> Result<i64, TemporalError> {
    let is_24 = hour == 24 && minute == 0 && second == 0 && micros == 0;
    if hour > 23 && !(allow_24 && is_24) {
        return Err(TemporalError::Invalid("hour must be between 00 and 23"));
    }
    if minute > 59 {
        return Err(TemporalError::Invalid("minute must be between 00 and 59"));
    }
    if second > 59 {
        return Err(TemporalError::Invalid("second must be between 00 and 59"));
    }
    Ok(i64::from(hour) * MICROS_PER_HOUR
        + i64::from(minute) * MICROS_PER_MINUTE
        + i64::from(second) * MICROS_PER_SECOND
        + i64::from(micros))
}

/// Validates offset components and returns seconds east of UTC.
pub(crate) fn offset_from_hm(
    negative: bool,
    hours: u32,
    minutes: u32,
) -> Result<i32, TemporalError> {
    if hours > MAX_OFFSET_HOURS || minutes > 59 {
        return Err(TemporalError::Invalid(
            "time zone offset must be between -15:59 and +15:59",
        ));
    }
    let seconds = (hours * 3600 + minutes * 60) as i32;
    Ok(if negative { -seconds } else { seconds })
}

/// A forward-only position in ASCII input.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.pos += n;
    }

    pub(crate) fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads up to `max` (at most 9) ASCII digits; returns their value and count.
    pub(crate) fn digits(&mut self, max: usize) -> (u32, usize) {
        let mut value = 0u32;
        let mut count = 0;
        while count < max {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(d - b'0');
                    count += 1;
                    self.pos += 1;
                }
                _ => break,
            }
        }
        (value, count)
    }
}

/// Parses a date at the cursor: `YYYY-MM-DD` (also `/` or `.`), and, when a style is
/// given, `MM/DD/YYYY` or `DD/MM/YYYY` (also `-` or `.`). Month and day may have one digit.
pub(crate) fn parse_date_part(
    c: &mut Cursor<'_>,
    style: Option<DateStyle>,
) -> Result<i32, TemporalError> {
    let (first, first_len) = c.digits(4);
    let separator = match c.peek() {
        Some(s @ (b'-' | b'/' | b'.')) if first_len > 0 => s,
        _ => return Err(TemporalError::Syntax),
    };
    c.advance(1);
    let (second, second_len) = c.digits(2);
    if second_len == 0 || !c.eat(separator) {
        return Err(TemporalError::Syntax);
    }
    let (third, third_len) = c.digits(4);
    let (year, month, day) = match (first_len, third_len, style) {
        (4, 1 | 2, _) => (first, second, third),
        (1 | 2, 4, Some(DateStyle::Mdy)) => (third, first, second),
        (1 | 2, 4, Some(DateStyle::Dmy)) => (third, second, first),
        _ => return Err(TemporalError::Syntax),
    };
    date_from_ymd(year, month, day)
}

/// Parses `HH:MM[:SS[.ffffff]]` at the cursor (one-digit hours allowed; `,` also
/// accepted as the decimal mark, as ISO 8601 allows).
pub(crate) fn parse_time_part(c: &mut Cursor<'_>, allow_24: bool) -> Result<i64, TemporalError> {
    let (hour, hour_len) = c.digits(2);
    if hour_len == 0 || !c.eat(b':') {
        return Err(TemporalError::Syntax);
    }
    let (minute, minute_len) = c.digits(2);
    if minute_len != 2 {
        return Err(TemporalError::Syntax);
    }
    let (mut second, mut micros) = (0, 0);
    if c.eat(b':') {
        let (s, second_len) = c.digits(2);
        if second_len != 2 {
            return Err(TemporalError::Syntax);
        }
        second = s;
        if matches!(c.peek(), Some(b'.' | b',')) {
            c.advance(1);
            let digits = c.rest().iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return Err(TemporalError::Syntax);
            }
            if digits > 6 {
                return Err(TemporalError::TooManyFractionDigits);
            }
            let (value, _) = c.digits(digits);
            micros = value * 10u32.pow((6 - digits) as u32);
        }
    }
    time_from_hms(hour, minute, second, micros, allow_24)
}

/// Parses an optional offset at the cursor: nothing, `Z`, `+HH`, `+HHMM` or `+HH:MM`
/// (or `-`), optionally after one space. Returns seconds east of UTC.
pub(crate) fn parse_offset_part(c: &mut Cursor<'_>) -> Result<Option<i32>, TemporalError> {
    if c.at_end() {
        return Ok(None);
    }
    c.eat(b' ');
    let negative = match c.peek() {
        Some(b'Z' | b'z') => {
            c.advance(1);
            return Ok(Some(0));
        }
        Some(b'+') => false,
        Some(b'-') => true,
        _ => return Err(TemporalError::Syntax),
    };
    c.advance(1);
    let (hours, hours_len) = c.digits(2);
    if hours_len == 0 {
        return Err(TemporalError::Syntax);
    }
    let colon = c.eat(b':');
    let (minutes, minutes_len) = c.digits(2);
    if minutes_len == 1 || (colon && minutes_len == 0) {
        return Err(TemporalError::Syntax);
    }
    offset_from_hm(negative, hours, minutes).map(Some)
}

/// Parses a whole `date[(T| )time[offset]]` text into local micros and the offset.
pub(crate) fn parse_datetime(
    text: &str,
    style: Option<DateStyle>,
) -> Result<(i64, Option<i32>), TemporalError> {
    let mut c = Cursor::new(text);
    let days = parse_date_part(&mut c, style)?;
    let midnight = i64::from(days) * MICROS_PER_DAY;
    if c.at_end() {
        return Ok((midnight, None));
    }
    if !matches!(c.peek(), Some(b'T' | b't' | b' ')) {
        return Err(TemporalError::Syntax);
    }
    c.advance(1);
    let time = parse_time_part(&mut c, false)?;
    let offset = parse_offset_part(&mut c)?;
    if !c.at_end() {
        return Err(TemporalError::Syntax);
    }
    Ok((midnight + time, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(micros: i64) -> String {
        let mut s = String::new();
        format_timestamptz(micros, &mut s);
        s
    }

    #[test]
    fn civil_round_trip_over_the_whole_range() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(MIN_DAYS, -719_162);
        assert_eq!(MAX_DAYS, 2_932_896);
        for days in MIN_DAYS - 800..=MAX_DAYS + 800 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(
            civil_from_days(days_from_civil(-4713, 11, 24)),
            (-4713, 11, 24)
        );
    }

    #[test]
    fn a_mark_that_leaves_year_9999_in_utc_is_refused_not_unreadable_later() {
        // Found by fuzzing (fuzz/fuzz_targets/values.rs): the local time is in range, UTC is in year 10000,
        // and its canonical text `10000-01-01T08:59:29.999+00` did not parse back.
        assert_eq!(parse_timestamptz("9999-12-31 23:59:29.999-9"), None);
        assert_eq!(parse_timestamptz("0001-01-01T00:30:00+01"), None);
        let last = parse_timestamptz("9999-12-31T23:59:59.999999Z").unwrap();
        assert_eq!(last, MAX_MICROS);
        assert_eq!(parse_timestamptz(&ts(last)), Some(last));
        assert_eq!(
            parse_timestamptz("0001-01-01T00:00:00+00"),
            Some(MIN_MICROS)
        );
        assert_eq!(
            parse_timestamptz("9999-12-31T14:59:59-09"),
            Some(MAX_MICROS - 999_999)
        );
    }

    #[test]
    fn constants() {
        assert_eq!(MICROS_PER_DAY, 86_400_000_000);
        assert_eq!(HIGH_DATE_MICROS, 253_402_214_400_000_000);
        assert_eq!(ts(HIGH_DATE_MICROS), "9999-12-31T00:00:00+00");
    }

    #[test]
    fn formatting() {
        assert_eq!(ts(0), "1970-01-01T00:00:00+00");
        assert_eq!(ts(1), "1970-01-01T00:00:00.000001+00");
        assert_eq!(ts(-1), "1969-12-31T23:59:59.999999+00");
        assert_eq!(ts(1_500_000), "1970-01-01T00:00:01.5+00");
        assert_eq!(ts(MIN_MICROS), "0001-01-01T00:00:00+00");
        assert_eq!(ts(MAX_MICROS), "9999-12-31T23:59:59.999999+00");
        let mut s = String::new();
        format_timestamp(1_700_000_000_123_000, &mut s);
        assert_eq!(s, "2023-11-14T22:13:20.123");
        s.clear();
        format_date(days_from_civil(2024, 2, 29), &mut s);
        assert_eq!(s, "2024-02-29");
        s.clear();
        format_date(days_from_civil(-1, 1, 1), &mut s);
        assert_eq!(s, "-0001-01-01");
        s.clear();
        format_time(0, &mut s);
        s.push(' ');
        format_time(MICROS_PER_DAY, &mut s);
        s.push(' ');
        format_time(MICROS_PER_DAY - 10, &mut s);
        s.push(' ');
        format_time(-MICROS_PER_SECOND, &mut s);
        assert_eq!(s, "00:00:00 24:00:00 23:59:59.99999 23:59:59");
    }

    #[test]
    fn offsets() {
        let mut s = String::new();
        for offset in [0, 3600, -18_000, 19_800, -1800, 15 * 3600 + 59 * 60] {
            push_offset(offset, &mut s);
            s.push(' ');
        }
        assert_eq!(s, "+00 +01 -05 +05:30 -00:30 +15:59 ");
    }

    #[test]
    fn parse_high_water_marks() {
        let t = days_from_civil(2024, 1, 15) as i64 * MICROS_PER_DAY + 10 * MICROS_PER_HOUR;
        for text in [
            "2024-01-15T10:00:00",
            "2024-01-15 10:00:00",
            "2024-01-15t10:00",
            "2024-01-15T10:00:00Z",
            "2024-01-15T10:00:00z",
            "2024-01-15T10:00:00+00",
            "2024-01-15T12:00:00+02",
            "2024-01-15T12:30:00+0230",
            "2024-01-15T12:30:00+02:30",
            "2024-01-15T07:00:00-03:00",
            "2024-01-15T10:00:00.000000+00",
            "2024-01-15 10:00:00 +00:00",
            "  2024-01-15T10:00:00Z  ",
        ] {
            assert_eq!(parse_timestamptz(text), Some(t), "{text}");
        }
        assert_eq!(
            parse_timestamptz("2024-01-15"),
            Some(t - 10 * MICROS_PER_HOUR)
        );
        assert_eq!(
            parse_timestamptz("2024-01-15T10:00:00.5Z"),
            Some(t + 500_000)
        );
        assert_eq!(
            parse_timestamptz("2024-01-15T10:00:00,000001Z"),
            Some(t + 1)
        );
        assert_eq!(
            parse_timestamptz("9999-12-31T00:00:00+00"),
            Some(HIGH_DATE_MICROS)
        );
        for bad in [
            "",
            "2024-01-15T10:00:00.1234567Z",
            "2024-01-15T10:00:00.Z",
            "2024-02-30T10:00:00Z",
            "2024-01-15T24:00:00Z",
            "2024-01-15T10:00:00+16",
            "2024-01-15T10:00:00+123",
            "2024-01-15T10:00:00+01:",
            "2024-01-15T10:00:00 UTC",
            "2024-01-15X10:00",
            "01/15/2024 10:00",
            "2024-01-15T10",
            "0000-01-01",
            "20240115",
        ] {
            assert_eq!(parse_timestamptz(bad), None, "{bad}");
        }
    }

    #[test]
    fn now_is_recent() {
        let now = now_micros();
        assert!(now > days_from_civil(2024, 1, 1) as i64 * MICROS_PER_DAY);
        assert!(now < HIGH_DATE_MICROS);
    }

    #[test]
    fn date_grammar() {
        let parse = |s: &str, style| {
            let mut c = Cursor::new(s);
            let r = parse_date_part(&mut c, style);
            assert!(c.at_end() || r.is_err(), "{s}");
            r
        };
        let d = Ok(days_from_civil(2024, 3, 4));
        assert_eq!(parse("2024-03-04", None), d);
        assert_eq!(parse("2024/3/4", None), d);
        assert_eq!(parse("2024.03.04", None), d);
        assert_eq!(parse("03/04/2024", Some(DateStyle::Mdy)), d);
        assert_eq!(parse("3-4-2024", Some(DateStyle::Mdy)), d);
        assert_eq!(parse("04/03/2024", Some(DateStyle::Dmy)), d);
        assert_eq!(parse("04.03.2024", Some(DateStyle::Dmy)), d);
        assert_eq!(parse("03/04/2024", None), Err(TemporalError::Syntax));
        assert_eq!(parse("2024-03/04", None), Err(TemporalError::Syntax));
        assert_eq!(
            parse("24-03-04", Some(DateStyle::Mdy)),
            Err(TemporalError::Syntax)
        );
        assert_eq!(parse("2024-3-123", None), Err(TemporalError::Syntax));
        assert_eq!(
            parse("2023-02-29", None),
            Err(TemporalError::Invalid("day does not exist in that month"))
        );
        assert_eq!(parse("2024-02-29", None), Ok(days_from_civil(2024, 2, 29)));
        assert_eq!(parse("2000-02-29", None), Ok(days_from_civil(2000, 2, 29)));
        assert!(parse("1900-02-29", None).is_err());
        assert_eq!(
            parse("2024-13-01", None),
            Err(TemporalError::Invalid("month must be between 01 and 12"))
        );
        assert_eq!(parse("0000-01-01", None), Err(TemporalError::OutOfRange));
    }
}
