//! Writing an export file: one SELECT over the physical table, streamed out as CSV.
//!
//! The work is split over two threads joined by a bounded queue. The calling thread owns the connection and
//! the statement: it steps SQLite and copies each row's raw values into a compact tape (a type tag, then the
//! integer's 8 bytes or the text's length and bytes). A second thread turns tapes into CSV and writes them.
//! The rows still come from ONE statement on ONE connection, so the file is one snapshot, and memory is a
//! few tapes and one output buffer whatever the table's size.
//!
//! The bytes are exactly those of `trdm_format::csv::CsvWriter` (part A §7): NULL is an empty unquoted
//! field, a text is quoted when it is empty or holds `"`, `,`, `\r` or `\n` (inner quotes doubled), records
//! end with `\n`. The tests in `records/tests.rs` compare every selection with a reference writer built on
//! `CsvWriter`.

use std::io::Write;
use std::sync::mpsc;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use trdm_format::SYSTEM_COLUMNS;
use trdm_format::temporal::format_timestamptz;
use trdm_format::value::DataType;

use super::{ApplyError, ExportSelection};
use crate::db::ident;
use crate::store::Table;

/// A tape is handed over once it holds this many bytes (about 1,000 rows of the benchmark table).
const TAPE_BYTES: usize = 256 * 1024;
/// Tapes queued between the threads; with the one being filled and the one being written, memory holds at
/// most `QUEUED_TAPES + 2` tapes.
const QUEUED_TAPES: usize = 2;
/// Output is written in chunks of at least this many bytes.
const OUT_BYTES: usize = 1024 * 1024;

/// Tape tags.
const NULL: u8 = 0;
const INT: u8 = 1;
const TEXT: u8 = 2;
const REAL: u8 = 3;

/// System column positions after the user columns (`SYSTEM_COLUMNS` order).
const SK: usize = 0;
const RECORD_ID: usize = 1;
const STATE: usize = 2;
const CREATED_AT: usize = 3;
const EFFECTIVE_TO: usize = 5;
const IS_DELETED: usize = 6;
const ACTOR_ID: usize = 8;
const TRAN_CODE: usize = 9;

/// Whether system column `k` is left out of the SELECT of a full export without history, which writes it
/// without reading it: its filter `trdm_state = 'C' AND trdm_is_deleted = 0` admits only the text `C` and the
/// integer 0 (a TEXT or BLOB never equals 0, and the INTEGER column stores 0.0 and '0' as 0), and its
/// trdm_tran_code is left empty.
fn pinned(k: usize, plain_full: bool) -> bool {
    plain_full && matches!(k, STATE | IS_DELETED | TRAN_CODE)
}

/// The SELECT of an export: user columns in display order, then the system columns (but the pinned ones), in
/// `trdm_sk` order. `?1` is the high-water mark when there is one.
pub(crate) fn export_sql(table: &Table, selection: ExportSelection) -> String {
    let t = ident(&table.physical_name);
    let cols: Vec<String> = table.columns.iter().map(|c| ident(&c.name)).collect();
    let filter = match (
        selection.high_water_mark.is_some(),
        selection.include_history,
    ) {
        (false, false) => "trdm_state = 'C' AND trdm_is_deleted = 0",
        (false, true) => "1",
        (true, false) => "trdm_state = 'C' AND trdm_created_at > ?1",
        (true, true) => "trdm_created_at > ?1",
    };
    let plain_full = selection.high_water_mark.is_none() && !selection.include_history;
    let system = SYSTEM_COLUMNS
        .iter()
        .enumerate()
        .filter(|&(k, _)| !pinned(k, plain_full))
        .map(|(_, name)| *name);
    let columns: Vec<String> = cols.into_iter().chain(system.map(str::to_owned)).collect();
    format!(
        "SELECT {} FROM {t} WHERE {filter} ORDER BY trdm_sk",
        columns.join(", ")
    )
}

/// Streams the rows of an export as CSV into `out`. Returns (rows, bytes).
pub(crate) fn write_export(
    conn: &Connection,
    table: &Table,
    selection: ExportSelection,
    out: impl Write + Send,
) -> Result<(i64, i64), ApplyError> {
    // A full export without history knows three system columns without reading them (see `pinned`).
    let plain_full = selection.high_water_mark.is_none() && !selection.include_history;
    let layout = Layout {
        bools: table
            .columns
            .iter()
            .map(|c| c.data_type == DataType::Boolean)
            .collect(),
        plain_full,
    };
    let mut stmt = conn.prepare(&export_sql(table, selection))?;
    let mut rows = match selection.high_water_mark {
        Some(hwm) => stmt.query([hwm])?,
        None => stmt.query([])?,
    };
    let header: Vec<&str> = table
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .chain(SYSTEM_COLUMNS.iter().copied())
        .collect();

    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(QUEUED_TAPES);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    let layout = &layout;
    let (read, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> std::io::Result<u64> {
            let mut csv = CsvOut::new(out);
            csv.header(&header)?;
            for tape in full_rx {
                csv.tape(layout, &tape)?;
                // The reader may have finished; then the tape is simply dropped.
                let _ = empty_tx.send(tape);
            }
            csv.finish()
        });
        let read = (|| -> rusqlite::Result<i64> {
            let n = layout.bools.len();
            let mut count = 0i64;
            let mut tape = Vec::with_capacity(TAPE_BYTES + 4096);
            while let Some(row) = rows.next()? {
                for i in 0..n {
                    push_value(&mut tape, row.get_ref(i)?);
                }
                let mut i = n;
                for k in 0..SYSTEM_COLUMNS.len() {
                    if pinned(k, plain_full) {
                        continue;
                    }
                    match k {
                        CREATED_AT..=EFFECTIVE_TO => push_int(&mut tape, row.get::<_, i64>(i)?),
                        IS_DELETED => push_int(&mut tape, i64::from(row.get::<_, bool>(i)?)),
                        _ => push_value(&mut tape, row.get_ref(i)?),
                    }
                    i += 1;
                }
                count += 1;
                if tape.len() >= TAPE_BYTES {
                    let next = empty_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(TAPE_BYTES + 4096));
                    if full_tx.send(std::mem::replace(&mut tape, next)).is_err() {
                        // The writer failed; its error is the one reported.
                        return Ok(count);
                    }
                    tape.clear();
                }
            }
            if !tape.is_empty() {
                let _ = full_tx.send(tape);
            }
            Ok(count)
        })();
        drop(full_tx);
        let written = writer.join().expect("export writer thread panicked");
        (read, written)
    });
    let bytes = written
        .map_err(|e| ApplyError::Rejected(format!("writing the export file failed: {e}")))?;
    let count = read?;
    Ok((count, bytes as i64))
}

fn push_int(tape: &mut Vec<u8>, v: i64) {
    tape.push(INT);
    tape.extend_from_slice(&v.to_le_bytes());
}

fn push_value(tape: &mut Vec<u8>, value: ValueRef<'_>) {
    match value {
        ValueRef::Null | ValueRef::Blob(_) => tape.push(NULL),
        ValueRef::Integer(v) => push_int(tape, v),
        ValueRef::Real(f) => {
            tape.push(REAL);
            tape.extend_from_slice(&f.to_le_bytes());
        }
        ValueRef::Text(s) => {
            // SQLite limits a value to under 2^31 bytes.
            tape.push(TEXT);
            tape.extend_from_slice(&(s.len() as u32).to_le_bytes());
            tape.extend_from_slice(s);
        }
    }
}

/// What the writer needs to know about the columns.
struct Layout {
    /// Per user column: holds booleans (stored as 0/1).
    bools: Vec<bool>,
    /// A full export without history: the pinned system columns are not on the tape.
    plain_full: bool,
}

/// One value read back from a tape.
enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a [u8]),
}

struct TapeReader<'a> {
    tape: &'a [u8],
    pos: usize,
}

impl<'a> TapeReader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.tape.len()
    }

    fn take(&mut self, len: usize) -> &'a [u8] {
        let bytes = &self.tape[self.pos..self.pos + len];
        self.pos += len;
        bytes
    }

    fn next(&mut self) -> Cell<'a> {
        let tag = self.tape[self.pos];
        self.pos += 1;
        match tag {
            INT => Cell::Int(i64::from_le_bytes(
                self.take(8).try_into().expect("8 bytes"),
            )),
            REAL => Cell::Real(f64::from_le_bytes(
                self.take(8).try_into().expect("8 bytes"),
            )),
            TEXT => {
                let len = u32::from_le_bytes(self.take(4).try_into().expect("4 bytes")) as usize;
                Cell::Text(self.take(len))
            }
            _ => Cell::Null,
        }
    }
}

/// A timestamp column's last value and its text: the rows of one change share their system timestamps.
struct StampMemo {
    micros: Option<i64>,
    text: Vec<u8>,
}

/// The CSV encoder of the writer thread.
struct CsvOut<W: Write> {
    inner: W,
    buf: Vec<u8>,
    written: u64,
    stamps: [StampMemo; 3],
    scratch: String,
}

impl<W: Write> CsvOut<W> {
    fn new(inner: W) -> Self {
        CsvOut {
            inner,
            buf: Vec::with_capacity(OUT_BYTES + 64 * 1024),
            written: 0,
            stamps: std::array::from_fn(|_| StampMemo {
                micros: None,
                text: Vec::new(),
            }),
            scratch: String::new(),
        }
    }

    fn header(&mut self, names: &[&str]) -> std::io::Result<()> {
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            // The very first field of a file is quoted when it starts with a byte order mark, which a reader
            // would otherwise drop.
            let bytes = name.as_bytes();
            if i == 0 && bytes.starts_with(b"\xEF\xBB\xBF") {
                push_quoted(&mut self.buf, bytes);
            } else {
                push_text(&mut self.buf, bytes);
            }
        }
        self.buf.push(b'\n');
        self.spill()
    }

    fn tape(&mut self, layout: &Layout, tape: &[u8]) -> std::io::Result<()> {
        let mut cells = TapeReader { tape, pos: 0 };
        while !cells.at_end() {
            self.row(layout, &mut cells);
            if self.buf.len() >= OUT_BYTES {
                self.spill()?;
            }
        }
        Ok(())
    }

    fn row(&mut self, layout: &Layout, cells: &mut TapeReader<'_>) {
        let buf = &mut self.buf;
        for &is_bool in &layout.bools {
            match cells.next() {
                Cell::Null => {}
                Cell::Int(v) if is_bool => {
                    buf.extend_from_slice(if v != 0 { b"true" } else { b"false" });
                }
                Cell::Int(v) => push_i64(buf, v),
                Cell::Text(s) => push_utf8(buf, s),
                Cell::Real(f) => {
                    self.scratch.clear();
                    use std::fmt::Write as _;
                    let _ = write!(self.scratch, "{f}");
                    push_text(buf, self.scratch.as_bytes());
                }
            }
            buf.push(b',');
        }
        for k in 0..SYSTEM_COLUMNS.len() {
            if pinned(k, layout.plain_full) {
                match k {
                    STATE => buf.push(b'C'),
                    IS_DELETED => buf.extend_from_slice(b"false"),
                    // trdm_tran_code: left empty (NULL); the delimiter before it is written.
                    _ => {}
                }
                if k + 1 < SYSTEM_COLUMNS.len() {
                    buf.push(b',');
                }
                continue;
            }
            let cell = cells.next();
            match k {
                SK | RECORD_ID | ACTOR_ID => {
                    if let Cell::Int(v) = cell {
                        push_i64(buf, v);
                    }
                }
                CREATED_AT..=EFFECTIVE_TO => {
                    if let Cell::Int(v) = cell {
                        let memo = &mut self.stamps[k - CREATED_AT];
                        if memo.micros != Some(v) {
                            self.scratch.clear();
                            format_timestamptz(v, &mut self.scratch);
                            memo.text.clear();
                            push_text(&mut memo.text, self.scratch.as_bytes());
                            memo.micros = Some(v);
                        }
                        buf.extend_from_slice(&memo.text);
                    }
                }
                IS_DELETED => {
                    if let Cell::Int(v) = cell {
                        buf.extend_from_slice(if v != 0 { b"true" } else { b"false" });
                    }
                }
                _ => {
                    if let Cell::Text(s) = cell {
                        push_utf8(buf, s);
                    }
                }
            }
            if k + 1 < SYSTEM_COLUMNS.len() {
                buf.push(b',');
            }
        }
        buf.push(b'\n');
    }

    /// Writes out the buffer.
    fn spill(&mut self) -> std::io::Result<()> {
        self.inner.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes out the rest and flushes; returns the bytes written in all.
    fn finish(mut self) -> std::io::Result<u64> {
        self.spill()?;
        self.inner.flush()?;
        Ok(self.written)
    }
}

/// A stored text: invalid UTF-8 is written as the empty string, as `from_utf8(..).unwrap_or_default()` does.
fn push_utf8(buf: &mut Vec<u8>, s: &[u8]) {
    if std::str::from_utf8(s).is_ok() {
        push_text(buf, s);
    } else {
        buf.extend_from_slice(b"\"\"");
    }
}

/// Bytes that make a field need quotes (with the empty field).
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b',' as usize] = true;
    table[b'\r' as usize] = true;
    table[b'\n' as usize] = true;
    table
};

/// A non-NULL field: as is, or quoted when it is empty or holds a special byte.
fn push_text(buf: &mut Vec<u8>, s: &[u8]) {
    if s.is_empty() {
        buf.extend_from_slice(b"\"\"");
    } else if s.iter().any(|&b| SPECIAL[usize::from(b)]) {
        push_quoted(buf, s);
    } else {
        buf.extend_from_slice(s);
    }
}

fn push_quoted(buf: &mut Vec<u8>, s: &[u8]) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    let mut runs = s.split(|&b| b == b'"');
    if let Some(first) = runs.next() {
        buf.extend_from_slice(first);
    }
    for run in runs {
        buf.extend_from_slice(b"\"\"");
        buf.extend_from_slice(run);
    }
    buf.push(b'"');
}

const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `v` in decimal, as `Display` does.
fn push_i64(buf: &mut Vec<u8>, v: i64) {
    let mut digits = [0u8; 20];
    let mut pos = digits.len();
    let mut n = v.unsigned_abs();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        pos -= 2;
        digits[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        pos -= 2;
        digits[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        digits[pos] = b'0' + n as u8;
    }
    if v < 0 {
        buf.push(b'-');
    }
    buf.extend_from_slice(&digits[pos..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_print_as_display_does() {
        let mut values = vec![
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            0,
            -1,
            1,
            9,
            10,
            99,
            100,
            101,
            -100,
        ];
        let mut p = 1i64;
        for _ in 0..18 {
            p *= 10;
            values.extend([p - 1, p, p + 1, -p, -p + 1, -p - 1]);
        }
        for v in values {
            let mut buf = Vec::new();
            push_i64(&mut buf, v);
            assert_eq!(String::from_utf8(buf).unwrap(), v.to_string());
        }
    }

    #[test]
    fn texts_are_quoted_as_the_csv_writer_quotes_them() {
        for s in [
            "",
            "a",
            "a,b",
            "\"",
            "x\"y\"",
            "\r",
            "\n",
            "a\r\nb",
            " ",
            "é",
            "\u{feff}x",
            ";|\t",
        ] {
            let mut expected = trdm_format::csv::CsvWriter::new(Vec::new());
            expected.write_field(Some("first")).unwrap();
            expected.write_field(Some(s)).unwrap();
            let expected = expected.into_inner().unwrap();
            let mut actual = b"first,".to_vec();
            push_text(&mut actual, s.as_bytes());
            assert_eq!(actual, expected, "{s:?}");
        }
    }
}
