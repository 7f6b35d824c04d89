//! trdm-format's CSV reader over arbitrary bytes: it never panics, the result does not depend on how the
//! input arrives in pieces, and what it reads survives the writer (write → read gives the same fields,
//! NULL and `""` kept apart).
//!
//! Input: byte 0 picks the delimiter, byte 1 how many of the next bytes are piece sizes, the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trdm_format::csv::{CsvReader, CsvWriter, Record};
use trdm_fuzz::Chunked;

/// Each record as `Option<text>` per field (None = NULL), and how reading ended.
type Outcome = (Vec<Vec<Option<String>>>, Option<String>);

fn read_all(reader: impl std::io::Read, delimiter: u8) -> Outcome {
    let mut reader = CsvReader::new(reader).with_delimiter(delimiter);
    let mut record = Record::new();
    let mut records = Vec::new();
    let mut last_line = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                assert!(!record.is_empty(), "a record read from input has a field");
                assert!(reader.line() > last_line, "line numbers grow");
                last_line = reader.line();
                records.push(
                    record
                        .iter()
                        .map(|f| (!f.is_null()).then(|| f.text.to_owned()))
                        .collect(),
                );
            }
            Ok(false) => return (records, None),
            Err(e) => return (records, Some(e.to_string())),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&d, rest)) = data.split_first() else {
        return;
    };
    let delimiter = match d % 8 {
        0 | 1 | 2 | 3 => b',',
        4 => b'|',
        5 => b'\t',
        6 => b';',
        // Any other byte the reader accepts.
        _ => match d & 0x7f {
            b'"' | b'\r' | b'\n' => b',',
            other => other,
        },
    };
    let Some((&n, rest)) = rest.split_first() else {
        return;
    };
    let (sizes, file) = rest.split_at(usize::from(n % 16).min(rest.len()));

    let whole = read_all(file, delimiter);
    let pieces = read_all(Chunked::new(file, sizes), delimiter);
    assert_eq!(whole, pieces, "the result depends on how the input arrives");

    // Round trip of what was read: the writer's output reads back as the same records.
    let (records, _) = whole;
    let mut writer = CsvWriter::new(Vec::new()).with_delimiter(delimiter);
    for r in &records {
        writer.write_record(r.iter().map(Option::as_deref)).unwrap();
    }
    let written = writer.into_inner().unwrap();
    let (again, error) = read_all(&written[..], delimiter);
    assert_eq!(error, None, "the writer's output is valid CSV: {written:?}");
    assert_eq!(
        again, records,
        "write → read changes the records: {written:?}"
    );
});
