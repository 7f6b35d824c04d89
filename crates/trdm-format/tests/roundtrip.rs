//! Property tests for the two promises the crate makes to its users: whatever the writer
//! writes, the reader gives back unchanged (text and NULL-ness), and every value's
//! canonical text parses back to the same value and prints the same way again.

use std::io::{self, Read};

use proptest::prelude::*;
use trdm_format::temporal::{self, MICROS_PER_DAY, days_from_civil};
use trdm_format::{
    ColumnType, CsvError, CsvReader, CsvWriter, DataType, ParseOptions, Record, Value,
};

/// Hands out at most `chunk` bytes per read, so records straddle refills everywhere.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

type Rows = Vec<Vec<Option<String>>>;

fn read_rows<R: Read>(mut reader: CsvReader<R>) -> Result<Rows, CsvError> {
    let mut record = Record::new();
    let mut rows = Vec::new();
    while reader.read_record(&mut record)? {
        rows.push(
            record
                .iter()
                .map(|f| (!f.is_null()).then(|| f.text.to_owned()))
                .collect(),
        );
    }
    Ok(rows)
}

fn field() -> impl Strategy<Value = Option<String>> {
    let text = prop_oneof![
        4 => "[a-c,;|\t\"\r\n é€😀\u{FEFF}]{0,8}",
        1 => any::<String>(),
    ];
    prop::option::weighted(0.8, text)
}

fn rows() -> impl Strategy<Value = Rows> {
    prop::collection::vec(prop::collection::vec(field(), 1..6), 0..20)
}

fn delimiter() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b','), Just(b';'), Just(b'\t'), Just(b'|')]
}

/// Value equality where floats compare bitwise and any NaN equals any NaN.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        _ => a == b,
    }
}

fn column(data_type: DataType, length: Option<u32>, scale: Option<u32>) -> ColumnType {
    ColumnType {
        data_type,
        length,
        scale,
    }
}

/// format → parse → format: the value survives and the text is stable.
fn assert_stable(column: &ColumnType, value: &Value) -> Result<(), TestCaseError> {
    let opts = ParseOptions::default();
    let mut first = String::new();
    prop_assert!(column.format(value, &mut first));
    // The CSV layer quotes exactly the empty text, so that is what parse sees as quoted.
    let parsed = column.parse(&first, first.is_empty(), &opts);
    let parsed = match parsed {
        Ok(v) => v,
        Err(e) => return Err(TestCaseError::fail(format!("{first:?} {}", e.reason))),
    };
    prop_assert!(
        same(&parsed, value),
        "{:?}: {:?} -> {:?} -> {:?}",
        column.data_type,
        value,
        first,
        parsed
    );
    let mut second = String::new();
    column.format(&parsed, &mut second);
    prop_assert_eq!(first, second);
    Ok(())
}

fn min_micros() -> i64 {
    i64::from(days_from_civil(1, 1, 1)) * MICROS_PER_DAY
}

fn max_micros() -> i64 {
    (i64::from(days_from_civil(9999, 12, 31)) + 1) * MICROS_PER_DAY - 1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn csv_write_then_read_is_lossless(rows in rows(), delimiter in delimiter(), chunk in 1usize..40) {
        let mut writer = CsvWriter::new(Vec::new()).with_delimiter(delimiter);
        for row in &rows {
            writer.write_record(row.iter().map(Option::as_deref)).unwrap();
        }
        let written = writer.bytes_written();
        let bytes = writer.into_inner().unwrap();
        prop_assert_eq!(written, bytes.len() as u64);
        let whole = read_rows(CsvReader::new(&bytes[..]).with_delimiter(delimiter)).unwrap();
        prop_assert_eq!(&whole, &rows);
        let trickled = read_rows(CsvReader::new(Trickle { data: &bytes, chunk }).with_delimiter(delimiter)).unwrap();
        prop_assert_eq!(&trickled, &rows);
    }

    #[test]
    fn csv_reader_never_panics_and_ignores_chunking(
        bytes in prop::collection::vec(prop_oneof![Just(b'"'), Just(b','), Just(b'\n'), Just(b'\r'), Just(b'a'), Just(0xC3u8), Just(0xA9u8)], 0..64),
        chunk in 1usize..8,
    ) {
        let whole = format!("{:?}", read_rows(CsvReader::new(&bytes[..])));
        let trickled = format!("{:?}", read_rows(CsvReader::new(Trickle { data: &bytes, chunk })));
        prop_assert_eq!(whole, trickled);
    }

    #[test]
    fn text_values(s in any::<String>(), n in 1u32..12) {
        assert_stable(&column(DataType::Text, None, None), &Value::Text(s.clone()))?;
        assert_stable(&column(DataType::Varchar, None, None), &Value::Text(s.clone()))?;
        let character = column(DataType::Character, Some(n), None);
        let short: String = s.chars().take(n as usize).collect();
        let value = character.parse(&short, true, &ParseOptions::default()).unwrap();
        assert_stable(&character, &value)?;
    }

    #[test]
    fn integer_values(a in any::<i16>(), b in any::<i32>(), c in any::<i64>()) {
        assert_stable(&column(DataType::Smallint, None, None), &Value::Int(a.into()))?;
        assert_stable(&column(DataType::Integer, None, None), &Value::Int(b.into()))?;
        assert_stable(&column(DataType::Bigint, None, None), &Value::Int(c))?;
    }

    #[test]
    fn decimal_values(
        (precision, scale, int_digits, frac_digits) in (1u32..60)
            .prop_flat_map(|p| (Just(p), 0..=p))
            .prop_flat_map(|(p, s)| (Just(p), Just(s), proptest::string::string_regex(&format!("[0-9]{{0,{}}}", p - s)).unwrap(), proptest::string::string_regex(&format!("[0-9]{{0,{s}}}")).unwrap())),
        negative in any::<bool>(),
        mantissa in "[0-9]{1,30}",
        exponent in -40i32..40,
    ) {
        let sign = if negative { "-" } else { "" };
        let text = format!("{sign}{int_digits}.{frac_digits}");
        let constrained = column(DataType::Decimal, Some(precision), Some(scale));
        if text.len() > sign.len() + 1 {
            let value = constrained.parse(&text, false, &ParseOptions::default());
            prop_assert!(value.is_ok(), "{text} in ({precision},{scale}): {value:?}");
            assert_stable(&constrained, &value.unwrap())?;
        }
        let free = column(DataType::Decimal, None, None);
        let value = free.parse(&format!("{sign}{mantissa}e{exponent}"), false, &ParseOptions::default()).unwrap();
        assert_stable(&free, &value)?;
    }

    #[test]
    fn float_values(r in any::<f32>(), d in any::<f64>()) {
        let r = if r.is_nan() { f64::NAN } else { f64::from(r) };
        assert_stable(&column(DataType::Real, None, None), &Value::Float(r))?;
        assert_stable(&column(DataType::Double, None, None), &Value::Float(d))?;
    }

    #[test]
    fn boolean_values(b in any::<bool>()) {
        assert_stable(&column(DataType::Boolean, None, None), &Value::Bool(b))?;
    }

    #[test]
    fn temporal_values(
        days in days_from_civil(1, 1, 1)..=days_from_civil(9999, 12, 31),
        time in prop_oneof![0..MICROS_PER_DAY, Just(MICROS_PER_DAY), Just(0), (0i64..86_400).prop_map(|s| s * 1_000_000)],
        offset_minutes in -959i32..=959,
        instant in min_micros()..=max_micros(),
    ) {
        assert_stable(&column(DataType::Date, None, None), &Value::Date(days))?;
        assert_stable(&column(DataType::Time, None, None), &Value::Time(time))?;
        assert_stable(&column(DataType::Timetz, None, None), &Value::TimeTz(time, offset_minutes * 60))?;
        assert_stable(&column(DataType::Timestamp, None, None), &Value::Timestamp(instant))?;
        assert_stable(&column(DataType::Timestamptz, None, None), &Value::TimestampTz(instant))?;
        let mut text = String::new();
        temporal::format_timestamptz(instant, &mut text);
        prop_assert_eq!(temporal::parse_timestamptz(&text), Some(instant));
    }

    /// Whatever the liberal grammar accepts must come out canonical: a fixed point.
    #[test]
    fn accepted_input_canonicalizes_to_a_fixed_point(
        text in prop_oneof![
            "[0-9+\\-.:eEtTzZ /]{0,28}",
            "[0-9]{4}-(0?[1-9]|1[0-2])-(0?[1-9]|1[0-9]|2[0-8])([T ]([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,7})?)?)?( ?[zZ]| ?[+-][01][0-9](:?[0-5][0-9])?)?",
            "([01]?[0-9]|2[0-4]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,7})?)?( ?[zZ]| ?[+-][01][0-9](:?[0-5][0-9])?)?",
            "(0?[1-9]|1[0-2])[/.-](0?[1-9]|1[0-9]|2[0-8])[/.-][0-9]{4}( [0-2][0-9]:[0-5][0-9])?",
            "(?i)(t|f|true|false|yes|no|y|n|0|1|nan|-?inf|-?infinity)",
            "[+-]?[0-9]{0,6}(\\.[0-9]{0,6})?([eE][+-]?[0-9]{1,3})?",
            any::<String>(),
        ],
        quoted in any::<bool>(),
        data_type in prop::sample::select(DataType::ALL.to_vec()),
        length in prop::option::of(1u32..12),
        scale in prop::option::of(0u32..6),
        format in prop::option::of(prop::sample::select(vec![
            "YYYY-MM-DD", "DD/MM/YYYY HH24:MI:SS", "YYYYMMDD HH12:MI AM", "YYYY-MM-DD HH24:MI:SS.USTZH:TZM", "MM-DD-YYYY\"T\"HH24:MI:SS.MS",
        ])),
    ) {
        let scale = scale.map(|s| s.min(length.unwrap_or(s)));
        let col = column(data_type, length, scale);
        let opts = ParseOptions { format, ..ParseOptions::default() };
        if let Ok(value) = col.parse(&text, quoted, &opts)
            && value != Value::Null
        {
            assert_stable(&col, &value)?;
        }
    }
}

/// Rough throughput check: `cargo test --release -p trdm-format --test roundtrip -- --ignored --nocapture`
#[test]
#[ignore]
#[allow(clippy::print_stderr)]
fn read_a_million_rows_of_twelve_fields() {
    use std::time::Instant;

    const ROWS: usize = 1_000_000;
    let mut writer = CsvWriter::new(Vec::with_capacity(140 * ROWS));
    writer
        .write_record(
            [
                "id",
                "code",
                "name",
                "amount",
                "rate",
                "active",
                "valid_from",
                "created_at",
                "qty",
                "note",
                "region",
                "ref",
            ]
            .map(Some),
        )
        .unwrap();
    let mut timestamp = String::new();
    for i in 0..ROWS {
        timestamp.clear();
        temporal::format_timestamptz(1_700_000_000_000_000 + i as i64 * 1_234_567, &mut timestamp);
        let id = i.to_string();
        let code = format!("C{:06}", i % 100_000);
        let amount = format!("{}.{:02}", i % 10_000, i % 100);
        let note = if i % 10 == 0 {
            Some("has, a comma and \"quotes\"")
        } else if i % 7 == 0 {
            None
        } else {
            Some("plain note")
        };
        let fields = [
            Some(id.as_str()),
            Some(code.as_str()),
            Some("Zürich Hauptbahnhof"),
            Some(amount.as_str()),
            Some("0.0125"),
            Some(if i % 2 == 0 { "true" } else { "false" }),
            Some("2024-03-04"),
            Some(timestamp.as_str()),
            Some("42"),
            note,
            Some("EMEA"),
            Some(""),
        ];
        writer.write_record(fields).unwrap();
    }
    let data = writer.into_inner().unwrap();

    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let mut reader = CsvReader::new(&data[..]);
        let mut record = Record::new();
        let (mut rows, mut fields) = (0usize, 0usize);
        while reader.read_record(&mut record).unwrap() {
            rows += 1;
            fields += record.len();
        }
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!((rows, fields), (ROWS + 1, 12 * (ROWS + 1)));
    }
    eprintln!(
        "read {ROWS} rows x 12 fields ({:.0} MB): best of 3 = {:.0} ms ({:.0} MB/s)",
        data.len() as f64 / 1e6,
        best * 1e3,
        data.len() as f64 / 1e6 / best
    );
}
