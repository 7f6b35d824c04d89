//! trdm-format's value grammar for every column type: parsing never panics, and a parsed value's canonical
//! text parses back to the same value and the same text (parse → format → parse is a fixed point).
//!
//! Input: byte 0 picks the type, bytes 1-2 its length/precision and scale, byte 3 flags (quoted, day-first
//! dates, a `to_date` pattern). With a pattern, the text before the first NUL byte is the pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trdm_format::temporal;
use trdm_format::value::{ColumnType, DataType, DateStyle, ParseOptions, Value};

fn size(byte: u8) -> Option<u32> {
    match byte {
        0 => None,
        // Mostly small sizes, sometimes the largest decimals allow (1000 digits).
        1..=200 => Some(u32::from(byte % 50)),
        _ => Some(u32::from(byte) * 4 - 20),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let data_type = DataType::ALL[usize::from(data[0]) % DataType::ALL.len()];
    let column = ColumnType {
        data_type,
        length: size(data[1]),
        scale: size(data[2]),
    };
    let flags = data[3];
    let Ok(rest) = std::str::from_utf8(&data[4..]) else {
        return;
    };
    let (format, text) = match (flags & 4 != 0).then(|| rest.split_once('\0')).flatten() {
        Some((format, text)) => (Some(format), text),
        None => (None, rest),
    };
    let opts = ParseOptions {
        date_style: if flags & 2 != 0 {
            DateStyle::Dmy
        } else {
            DateStyle::Mdy
        },
        format,
    };
    let quoted = flags & 1 != 0;

    // The other entry points of the grammar, on the same text.
    let _ = text.parse::<DataType>();
    let _ = text.parse::<DateStyle>();
    if let Some(micros) = temporal::parse_timestamptz(text) {
        let mut canonical = String::new();
        temporal::format_timestamptz(micros, &mut canonical);
        assert_eq!(
            temporal::parse_timestamptz(&canonical),
            Some(micros),
            "{text:?} → {canonical:?}"
        );
    }

    let Ok(value) = column.parse(text, quoted, &opts) else {
        return;
    };
    let mut canonical = String::new();
    if !column.format(&value, &mut canonical) {
        assert_eq!(value, Value::Null);
        return;
    }
    // The canonical text is what exports carry: read back with default options, quoted when empty (the writer
    // quotes an empty string).
    let again = column
        .parse(&canonical, canonical.is_empty(), &ParseOptions::default())
        .unwrap_or_else(|e| {
            panic!("{column:?}: {text:?} → {canonical:?} does not parse back: {e}")
        });
    let same = match (&value, &again) {
        (Value::Float(a), Value::Float(b)) => {
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
        }
        (a, b) => a == b,
    };
    assert!(
        same,
        "{column:?}: {text:?} → {value:?} → {canonical:?} → {again:?}"
    );
    let mut twice = String::new();
    column.format(&again, &mut twice);
    assert_eq!(
        canonical, twice,
        "{column:?}: the canonical text of {text:?} is not stable"
    );
});
