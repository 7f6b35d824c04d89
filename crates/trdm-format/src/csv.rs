//! Streaming CSV reader and writer for TitanRDM files.
//!
//! A hand-written codec rather than a general CSV library, for two reasons. The service's
//! dialect distinguishes NULL (an empty *unquoted* field) from the empty string (`""`), so
//! every field has to remember whether it was quoted, which general libraries discard.
//! And files hold millions of values: the reader finds the next special byte with
//! `memchr`, copies whole runs into one reusable buffer per record and only falls back to
//! a byte-level state machine for quoted fields and lines that straddle its buffer.

use std::io::{self, BufWriter, Read, Write};

use memchr::{memchr, memchr_iter, memchr2, memchr3};

/// Big enough that refills (and the slow path they force on the straddling line) are rare.
const BUFFER_SIZE: usize = 64 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn check_delimiter(delimiter: u8) {
    // A non-ASCII delimiter could split a UTF-8 sequence; the others would make the
    // dialect ambiguous.
    assert!(
        delimiter.is_ascii() && !matches!(delimiter, b'"' | b'\r' | b'\n'),
        "CSV delimiter must be an ASCII byte other than '\"', CR and LF"
    );
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr_iter(b'\n', bytes).count() as u64
}

/// Reads RFC 4180 records from a byte stream, one [`Record`] at a time.
///
/// `\n` and `\r\n` both end a record; a quote in the middle of an unquoted field is kept
/// literally; a UTF-8 byte order mark at the very start is skipped. After an error the
/// position in the input is unspecified, so callers should stop reading.
pub struct CsvReader<R: Read> {
    inner: R,
    buf: Box<[u8]>,
    /// Next unread byte in `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// `inner` reported end of input; it is never read again.
    eof: bool,
    /// Nothing has been read yet, so a byte order mark may still be skipped.
    at_start: bool,
    delimiter: u8,
    /// Physical line number of the byte at `pos`.
    next_line: u64,
    /// Physical line number where the last returned record started.
    line: u64,
}

impl<R: Read> CsvReader<R> {
    /// A reader of comma-separated input.
    pub fn new(inner: R) -> Self {
        CsvReader {
            inner,
            buf: vec![0; BUFFER_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            at_start: true,
            delimiter: b',',
            next_line: 1,
            line: 0,
        }
    }

    /// Uses `delimiter` instead of `,` (import mappings allow `|`, tab, `;`).
    ///
    /// # Panics
    /// If `delimiter` is not ASCII or is `"`, `\r` or `\n`.
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        check_delimiter(delimiter);
        self.delimiter = delimiter;
        self
    }

    /// Reads the next record into `record` (cleared first). Ok(false) at end of input.
    /// A final line without a trailing newline is a record; a completely empty final line is not.
    /// An empty line in the middle of the file is a record with one empty unquoted field.
    pub fn read_record(&mut self, record: &mut Record) -> Result<bool, CsvError> {
        // The record's String is turned into bytes and back so its allocation is reused
        // and the whole record is UTF-8-checked in one pass instead of per field.
        let mut bytes = std::mem::take(&mut record.text).into_bytes();
        bytes.clear();
        record.spans.clear();
        let outcome = self.read_raw(&mut bytes, &mut record.spans);
        let (mut bytes, result) = match outcome {
            Ok(true) => match String::from_utf8(bytes) {
                Ok(text) => {
                    record.text = text;
                    return Ok(true);
                }
                Err(err) => {
                    let valid = err.utf8_error().valid_up_to();
                    let bytes = err.into_bytes();
                    // Only quoted fields keep newlines, and each one is a physical line.
                    let line = self.line + count_newlines(&bytes[..valid]);
                    (bytes, Err(CsvError::Utf8 { line }))
                }
            },
            other => (bytes, other),
        };
        bytes.clear();
        record.spans.clear();
        record.text = String::from_utf8(bytes).unwrap_or_default();
        result
    }

    /// 1-based number of the physical line where the last returned record started
    /// (0 before the first record).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Reads one record as raw bytes. Fields are separated by one delimiter byte in `out`
    /// (never adjacent), so a successful UTF-8 check of `out` also proves every span
    /// boundary is a char boundary.
    fn read_raw(&mut self, out: &mut Vec<u8>, spans: &mut Vec<Span>) -> Result<bool, CsvError> {
        if self.at_start {
            self.at_start = false;
            while self.end - self.pos < BOM.len() && !self.eof {
                self.read_more()?;
            }
            if self.buf[self.pos..self.end].starts_with(BOM) {
                self.pos += BOM.len();
            }
        }
        if self.pos == self.end && !self.refill()? {
            return Ok(false);
        }
        self.line = self.next_line;
        match self.simple_line()? {
            Some((len, consumed)) => {
                let mut line = &self.buf[self.pos..self.pos + len];
                if let [rest @ .., b'\r'] = line {
                    line = rest;
                }
                let delimiter = self.delimiter;
                out.extend_from_slice(line);
                let mut start = 0;
                for at in memchr_iter(delimiter, line) {
                    spans.push(Span {
                        start,
                        end: at,
                        quoted: false,
                    });
                    start = at + 1;
                }
                spans.push(Span {
                    start,
                    end: line.len(),
                    quoted: false,
                });
                self.pos += consumed;
                self.next_line += 1;
                Ok(true)
            }
            None => self.read_general(out, spans),
        }
    }

    /// When the record at `pos` is one line without any quote and the whole line is in
    /// the buffer, returns its length without the `\n` and the bytes it occupies.
    fn simple_line(&mut self) -> io::Result<Option<(usize, usize)>> {
        let mut refilled = false;
        loop {
            let available = &self.buf[self.pos..self.end];
            match memchr2(b'\n', b'"', available) {
                Some(at) if available[at] == b'\n' => return Ok(Some((at, at + 1))),
                Some(_) => return Ok(None),
                None if self.eof => return Ok(Some((available.len(), available.len()))),
                None => {
                    // One top-up catches lines cut by the end of the buffer; longer lines
                    // go to the general path, which streams.
                    if refilled || (self.pos == 0 && self.end == self.buf.len()) {
                        return Ok(None);
                    }
                    self.read_more()?;
                    refilled = true;
                }
            }
        }
    }

    /// The byte-level state machine: handles quotes, embedded newlines and records that
    /// cross buffer refills. Expects at least one unread byte.
    fn read_general(&mut self, out: &mut Vec<u8>, spans: &mut Vec<Span>) -> Result<bool, CsvError> {
        #[derive(Clone, Copy)]
        enum State {
            /// Before the first byte of a field.
            FieldStart,
            Unquoted,
            /// A `\r` in an unquoted field: a line end if `\n` follows, data otherwise.
            UnquotedCr,
            Quoted,
            /// A `"` inside a quoted field: an escaped quote or the closing quote.
            QuoteInQuoted,
            /// `\r` right after a closing quote, which only `\n` may follow.
            CrAfterQuote,
        }
        let delimiter = self.delimiter;
        let mut state = State::FieldStart;
        let mut field_start = out.len();
        let mut quote_line = self.next_line;
        let field_number = |spans: &Vec<Span>| spans.len() + 1;

        loop {
            if self.pos == self.end && !self.refill()? {
                return match state {
                    State::Quoted => Err(CsvError::Malformed {
                        line: quote_line,
                        message: format!(
                            "unterminated quoted field (field {})",
                            field_number(spans)
                        ),
                    }),
                    State::QuoteInQuoted | State::CrAfterQuote => {
                        spans.push(Span {
                            start: field_start,
                            end: out.len(),
                            quoted: true,
                        });
                        Ok(true)
                    }
                    State::FieldStart | State::Unquoted | State::UnquotedCr => {
                        spans.push(Span {
                            start: field_start,
                            end: out.len(),
                            quoted: false,
                        });
                        Ok(true)
                    }
                };
            }
            let available = &self.buf[self.pos..self.end];
            match state {
                State::FieldStart => {
                    if available[0] == b'"' {
                        self.pos += 1;
                        quote_line = self.next_line;
                        state = State::Quoted;
                    } else {
                        state = State::Unquoted;
                    }
                }
                State::Unquoted => match memchr3(delimiter, b'\n', b'\r', available) {
                    None => {
                        out.extend_from_slice(available);
                        self.pos = self.end;
                    }
                    Some(at) => {
                        out.extend_from_slice(&available[..at]);
                        let byte = available[at];
                        self.pos += at + 1;
                        if byte == b'\r' {
                            state = State::UnquotedCr;
                        } else {
                            spans.push(Span {
                                start: field_start,
                                end: out.len(),
                                quoted: false,
                            });
                            if byte == b'\n' {
                                self.next_line += 1;
                                return Ok(true);
                            }
                            out.push(delimiter);
                            field_start = out.len();
                            state = State::FieldStart;
                        }
                    }
                },
                State::UnquotedCr => {
                    if available[0] == b'\n' {
                        self.pos += 1;
                        self.next_line += 1;
                        spans.push(Span {
                            start: field_start,
                            end: out.len(),
                            quoted: false,
                        });
                        return Ok(true);
                    }
                    out.push(b'\r');
                    state = State::Unquoted;
                }
                State::Quoted => match memchr(b'"', available) {
                    None => {
                        self.next_line += count_newlines(available);
                        out.extend_from_slice(available);
                        self.pos = self.end;
                    }
                    Some(at) => {
                        self.next_line += count_newlines(&available[..at]);
                        out.extend_from_slice(&available[..at]);
                        self.pos += at + 1;
                        state = State::QuoteInQuoted;
                    }
                },
                State::QuoteInQuoted => {
                    let byte = available[0];
                    self.pos += 1;
                    if byte == b'"' {
                        out.push(b'"');
                        state = State::Quoted;
                    } else if byte == b'\r' {
                        state = State::CrAfterQuote;
                    } else if byte == delimiter || byte == b'\n' {
                        spans.push(Span {
                            start: field_start,
                            end: out.len(),
                            quoted: true,
                        });
                        if byte == b'\n' {
                            self.next_line += 1;
                            return Ok(true);
                        }
                        out.push(delimiter);
                        field_start = out.len();
                        state = State::FieldStart;
                    } else {
                        return Err(CsvError::Malformed {
                            line: self.next_line,
                            message: format!(
                                "unexpected text after the closing quote of field {}",
                                field_number(spans)
                            ),
                        });
                    }
                }
                State::CrAfterQuote => {
                    if available[0] != b'\n' {
                        return Err(CsvError::Malformed {
                            line: self.next_line,
                            message: format!(
                                "unexpected carriage return after the closing quote of field {}",
                                field_number(spans)
                            ),
                        });
                    }
                    self.pos += 1;
                    self.next_line += 1;
                    spans.push(Span {
                        start: field_start,
                        end: out.len(),
                        quoted: true,
                    });
                    return Ok(true);
                }
            }
        }
    }

    /// Starts a fresh buffer once everything in it is consumed. Returns false at end of input.
    fn refill(&mut self) -> io::Result<bool> {
        debug_assert_eq!(self.pos, self.end);
        self.pos = 0;
        self.end = 0;
        self.read_more()?;
        Ok(self.end > 0)
    }

    /// Moves the unread bytes to the front and reads once into the free space.
    fn read_more(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.eof || self.end == self.buf.len() {
            return Ok(());
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }
}

/// Where one field lives in [`Record`]'s buffer.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    quoted: bool,
}

/// One CSV record: all field texts in a single buffer plus their bounds and quoted flags,
/// so reading a record allocates nothing once the buffers have grown.
#[derive(Debug, Default, Clone)]
pub struct Record {
    text: String,
    spans: Vec<Span>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when the record has no fields (a record read from input always has one).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The field at `i` (0-based), if there is one.
    pub fn get(&self, i: usize) -> Option<Field<'_>> {
        self.spans.get(i).map(|span| self.field(span))
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = Field<'_>> {
        self.spans.iter().map(|span| self.field(span))
    }

    /// Removes all fields, keeping the allocations.
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Appends a field.
    pub fn push(&mut self, text: &str, quoted: bool) {
        let start = self.text.len();
        self.text.push_str(text);
        self.spans.push(Span {
            start,
            end: self.text.len(),
            quoted,
        });
    }

    fn field(&self, span: &Span) -> Field<'_> {
        Field {
            text: &self.text[span.start..span.end],
            quoted: span.quoted,
        }
    }
}

/// One field of a [`Record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field's content, with quotes removed and doubled quotes undoubled.
    pub text: &'a str,
    /// Whether the field was enclosed in quotes in the file.
    pub quoted: bool,
}

impl Field<'_> {
    /// true when the field is the NULL marker (empty and unquoted)
    pub fn is_null(&self) -> bool {
        self.text.is_empty() && !self.quoted
    }
}

/// Why a CSV file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The bytes break the CSV grammar (unterminated quote, text after a closing quote, ...).
    #[error("line {line}: {message}")]
    Malformed {
        /// Physical line (1-based) where the problem is; for an unterminated quote, the
        /// line where the quote opened.
        line: u64,
        /// What is wrong, without the line number.
        message: String,
    },
    /// A record contains bytes that are not UTF-8.
    #[error("line {line}: the file is not valid UTF-8")]
    Utf8 {
        /// Physical line (1-based) holding the first invalid byte.
        line: u64,
    },
    /// Reading the underlying stream failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Writes records in the TitanRDM dialect: `\n` line ends, NULL as an empty unquoted
/// field, quotes only where needed. Buffered; dropping it flushes on a best-effort basis,
/// so call [`CsvWriter::flush`] or [`CsvWriter::into_inner`] to see errors.
pub struct CsvWriter<W: Write> {
    out: BufWriter<W>,
    delimiter: u8,
    /// A field was written since the last `end_record`, so the next needs a delimiter.
    in_record: bool,
    bytes_written: u64,
}

impl<W: Write> CsvWriter<W> {
    /// A comma-separated writer.
    pub fn new(inner: W) -> Self {
        CsvWriter {
            out: BufWriter::with_capacity(BUFFER_SIZE, inner),
            delimiter: b',',
            in_record: false,
            bytes_written: 0,
        }
    }

    /// Uses `d` instead of `,`.
    ///
    /// # Panics
    /// If `d` is not ASCII or is `"`, `\r` or `\n`.
    pub fn with_delimiter(mut self, d: u8) -> Self {
        check_delimiter(d);
        self.delimiter = d;
        self
    }

    /// None = NULL (empty unquoted). Some("") = `""`. Quotes when the text contains the delimiter, `"`, `\r` or `\n`
    /// (doubling inner quotes), or is empty.
    ///
    /// The very first field of the output is also quoted when it starts with U+FEFF, which
    /// a reader would otherwise drop as a byte order mark.
    pub fn write_field(&mut self, value: Option<&str>) -> io::Result<()> {
        if self.in_record {
            self.put(&[self.delimiter])?;
        }
        self.in_record = true;
        let Some(text) = value else {
            return Ok(());
        };
        let bytes = text.as_bytes();
        let needs_quotes = bytes.is_empty()
            || memchr3(b'"', b'\n', b'\r', bytes).is_some()
            || memchr(self.delimiter, bytes).is_some()
            || (self.bytes_written == 0 && bytes.starts_with(BOM));
        if !needs_quotes {
            return self.put(bytes);
        }
        self.put(b"\"")?;
        let mut start = 0;
        for at in memchr_iter(b'"', bytes) {
            // Writing through the quote and starting the next run at it doubles it.
            self.put(&bytes[start..=at])?;
            start = at;
        }
        self.put(&bytes[start..])?;
        self.put(b"\"")
    }

    /// Ends the current record with `\n`.
    pub fn end_record(&mut self) -> io::Result<()> {
        self.in_record = false;
        self.put(b"\n")
    }

    /// Writes all fields of one record and ends it.
    pub fn write_record<'a>(
        &mut self,
        fields: impl IntoIterator<Item = Option<&'a str>>,
    ) -> io::Result<()> {
        for field in fields {
            self.write_field(field)?;
        }
        self.end_record()
    }

    /// Flushes the buffer and the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> io::Result<W> {
        let mut inner = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        inner.flush()?;
        Ok(inner)
    }

    /// Bytes written so far, including those still in the buffer.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `chunk` bytes per read, to exercise every buffer boundary.
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

    type Fields = Vec<(String, bool)>;

    fn collect<R: Read>(mut reader: CsvReader<R>) -> Result<Vec<(u64, Fields)>, CsvError> {
        let mut record = Record::new();
        let mut all = Vec::new();
        while reader.read_record(&mut record)? {
            let fields = record
                .iter()
                .map(|f| (f.text.to_owned(), f.quoted))
                .collect();
            all.push((reader.line(), fields));
        }
        Ok(all)
    }

    /// Reads `input` in one go and trickled in chunks of 1-7 bytes; all must agree.
    fn read_all(input: &str) -> Result<Vec<Fields>, CsvError> {
        let whole = collect(CsvReader::new(input.as_bytes()));
        for chunk in 1..8 {
            let trickled = collect(CsvReader::new(Trickle {
                data: input.as_bytes(),
                chunk,
            }));
            assert_eq!(
                format!("{whole:?}"),
                format!("{trickled:?}"),
                "chunk {chunk}: {input:?}"
            );
        }
        whole.map(|records| records.into_iter().map(|(_, f)| f).collect())
    }

    fn lines(input: &str) -> Vec<u64> {
        collect(CsvReader::new(input.as_bytes()))
            .unwrap()
            .into_iter()
            .map(|(l, _)| l)
            .collect()
    }

    fn plain(fields: &[&str]) -> Fields {
        fields.iter().map(|f| (f.to_string(), false)).collect()
    }

    fn malformed(input: &str) -> (u64, String) {
        match read_all(input) {
            Err(CsvError::Malformed { line, message }) => (line, message),
            other => panic!("expected Malformed for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn simple_records() {
        assert_eq!(
            read_all("a,b,c\n1,2,3\n").unwrap(),
            vec![plain(&["a", "b", "c"]), plain(&["1", "2", "3"])]
        );
        assert_eq!(
            read_all("a,b\r\n1,2\r\n").unwrap(),
            vec![plain(&["a", "b"]), plain(&["1", "2"])]
        );
        assert_eq!(read_all("a,,\n").unwrap(), vec![plain(&["a", "", ""])]);
        assert_eq!(read_all(",").unwrap(), vec![plain(&["", ""])]);
    }

    #[test]
    fn final_line_and_empty_lines() {
        assert_eq!(read_all("").unwrap(), Vec::<Fields>::new());
        assert_eq!(read_all("a,b").unwrap(), vec![plain(&["a", "b"])]);
        assert_eq!(read_all("a,b\r").unwrap(), vec![plain(&["a", "b"])]);
        assert_eq!(
            read_all("a\n\nb\n").unwrap(),
            vec![plain(&["a"]), plain(&[""]), plain(&["b"])]
        );
        assert_eq!(
            read_all("a\r\n\r\nb").unwrap(),
            vec![plain(&["a"]), plain(&[""]), plain(&["b"])]
        );
        assert_eq!(read_all("\n").unwrap(), vec![plain(&[""])]);
        assert_eq!(
            read_all("a\n\n").unwrap(),
            vec![plain(&["a"]), plain(&[""])]
        );
        assert_eq!(read_all("\"a\"").unwrap(), vec![vec![("a".into(), true)]]);
        assert_eq!(read_all("\"a\"\r").unwrap(), vec![vec![("a".into(), true)]]);
    }

    #[test]
    fn quoted_fields() {
        let got = read_all("\"a\"\"b\",\"x,y\",\"line1\nline2\",\"cr\rlf\r\n\",\"\"\n").unwrap();
        assert_eq!(
            got,
            vec![vec![
                ("a\"b".into(), true),
                ("x,y".into(), true),
                ("line1\nline2".into(), true),
                ("cr\rlf\r\n".into(), true),
                (String::new(), true),
            ]]
        );
        assert_eq!(
            read_all("\"\"\"\"").unwrap(),
            vec![vec![("\"".into(), true)]]
        );
        assert_eq!(
            read_all("\"a\"\r\nb").unwrap(),
            vec![vec![("a".into(), true)], plain(&["b"])]
        );
    }

    #[test]
    fn null_versus_empty_string() {
        let mut reader = CsvReader::new(&b",\"\",x\n"[..]);
        let mut record = Record::new();
        assert!(reader.read_record(&mut record).unwrap());
        assert_eq!(record.len(), 3);
        assert!(record.get(0).unwrap().is_null());
        assert!(!record.get(1).unwrap().is_null());
        assert_eq!(record.get(1).unwrap().text, "");
        assert!(!record.get(2).unwrap().is_null());
        assert_eq!(record.get(3), None);
        assert!(!reader.read_record(&mut record).unwrap());
        assert!(record.is_empty());
    }

    #[test]
    fn lenient_quotes_and_carriage_returns_in_unquoted_fields() {
        assert_eq!(
            read_all("ab\"c,d\"\n").unwrap(),
            vec![plain(&["ab\"c", "d\""])]
        );
        assert_eq!(
            read_all(" \"a\",b\n").unwrap(),
            vec![plain(&[" \"a\"", "b"])]
        );
        assert_eq!(read_all("a\rb,c\r\n").unwrap(), vec![plain(&["a\rb", "c"])]);
        assert_eq!(read_all("a\r\r\n").unwrap(), vec![plain(&["a\r"])]);
    }

    #[test]
    fn byte_order_mark() {
        assert_eq!(
            read_all("\u{FEFF}id,name\n1,x\n").unwrap(),
            vec![plain(&["id", "name"]), plain(&["1", "x"])]
        );
        assert_eq!(read_all("\u{FEFF}").unwrap(), Vec::<Fields>::new());
        assert_eq!(
            read_all("\u{FEFF}\"a\"\n").unwrap(),
            vec![vec![("a".into(), true)]]
        );
        // Only at the very start.
        assert_eq!(
            read_all("a\n\u{FEFF}b\n").unwrap(),
            vec![plain(&["a"]), plain(&["\u{FEFF}b"])]
        );
    }

    #[test]
    fn non_ascii() {
        assert_eq!(
            read_all("Zürich,\"東京,大阪\",😀\n").unwrap(),
            vec![vec![
                ("Zürich".into(), false),
                ("東京,大阪".into(), true),
                ("😀".into(), false)
            ]]
        );
    }

    #[test]
    fn other_delimiters() {
        let mut reader = CsvReader::new(&b"a|b,c|\"d|e\"\n"[..]).with_delimiter(b'|');
        let mut record = Record::new();
        assert!(reader.read_record(&mut record).unwrap());
        let fields: Vec<_> = record.iter().map(|f| f.text).collect();
        assert_eq!(fields, ["a", "b,c", "d|e"]);
        let mut reader = CsvReader::new(&b"a\tb\n"[..]).with_delimiter(b'\t');
        assert!(reader.read_record(&mut record).unwrap());
        assert_eq!(record.len(), 2);
    }

    #[test]
    #[should_panic(expected = "delimiter")]
    fn quote_is_not_a_delimiter() {
        let _ = CsvReader::new(&b""[..]).with_delimiter(b'"');
    }

    #[test]
    fn line_numbers() {
        assert_eq!(lines("a\nb\r\nc"), [1, 2, 3]);
        assert_eq!(lines("\"x\ny\nz\",1\nb\n\nc\n"), [1, 4, 5, 6]);
    }

    #[test]
    fn malformed_inputs() {
        assert_eq!(
            malformed("a\nb,\"open\nmore\n"),
            (2, "unterminated quoted field (field 2)".into())
        );
        assert_eq!(
            malformed("a\n\"x\"y,z\n"),
            (
                2,
                "unexpected text after the closing quote of field 1".into()
            )
        );
        assert_eq!(
            malformed("a\nb,\"x\ny\" ,z\n"),
            (
                3,
                "unexpected text after the closing quote of field 2".into()
            )
        );
        assert_eq!(
            malformed("a\n\"x\"\rz\n"),
            (
                2,
                "unexpected carriage return after the closing quote of field 1".into()
            )
        );
        let err = read_all("a\n\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: unterminated quoted field (field 1)"
        );
    }

    #[test]
    fn invalid_utf8() {
        let input = b"ok\n\"a\nb\xff\",c\n";
        match collect(CsvReader::new(&input[..])) {
            Err(CsvError::Utf8 { line }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        // Two halves of a character split by a delimiter must not join up.
        match collect(CsvReader::new(&b"\"\xc3\",\"\xa9\"\n"[..])) {
            Err(err @ CsvError::Utf8 { .. }) => {
                assert_eq!(err.to_string(), "line 1: the file is not valid UTF-8")
            }
            other => panic!("{other:?}"),
        }
        match collect(CsvReader::new(&b"\xc3,\xa9\n"[..])) {
            Err(CsvError::Utf8 { line: 1 }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn io_errors_surface() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = CsvReader::new(Failing)
            .read_record(&mut Record::new())
            .unwrap_err();
        assert!(matches!(err, CsvError::Io(_)));
        assert_eq!(err.to_string(), "disk on fire");
    }

    #[test]
    fn long_lines_cross_the_buffer() {
        let long = "x".repeat(BUFFER_SIZE * 2 + 17);
        let input = format!("a,{long}\n\"{long}\"\"\",b\nlast");
        let records = collect(CsvReader::new(input.as_bytes())).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].1[1].0, long);
        assert_eq!(records[1].1[0].0, format!("{long}\""));
        assert_eq!(records[2].1, plain(&["last"]));
        // Many short lines so that some straddle each refill.
        let many: String = (0..50_000).map(|i| format!("{i},\"q{i}\",z\n")).collect();
        let records = collect(CsvReader::new(Trickle {
            data: many.as_bytes(),
            chunk: 40_000,
        }))
        .unwrap();
        assert_eq!(records.len(), 50_000);
        for (i, (line, fields)) in records.iter().enumerate() {
            assert_eq!(*line, i as u64 + 1);
            assert_eq!(fields[1], (format!("q{i}"), true));
        }
    }

    fn write(records: &[Vec<Option<&str>>]) -> String {
        let mut writer = CsvWriter::new(Vec::new());
        for record in records {
            writer.write_record(record.iter().copied()).unwrap();
        }
        let written = writer.bytes_written();
        let bytes = writer.into_inner().unwrap();
        assert_eq!(written, bytes.len() as u64);
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn writer_quotes_only_when_needed() {
        assert_eq!(
            write(&[
                vec![
                    Some("a"),
                    None,
                    Some(""),
                    Some("x,y"),
                    Some("say \"hi\""),
                    Some("l1\nl2"),
                    Some("cr\r")
                ],
                vec![None],
                vec![Some(" padded "), Some("ünï")],
            ]),
            "a,,\"\",\"x,y\",\"say \"\"hi\"\"\",\"l1\nl2\",\"cr\r\"\n\n padded ,ünï\n"
        );
    }

    #[test]
    fn writer_protects_a_leading_bom() {
        assert_eq!(
            write(&[vec![Some("\u{FEFF}x"), Some("\u{FEFF}y")]]),
            "\"\u{FEFF}x\",\u{FEFF}y\n"
        );
    }

    #[test]
    fn writer_other_delimiter_and_flush() {
        let mut writer = CsvWriter::new(Vec::new()).with_delimiter(b';');
        writer.write_field(Some("a;b")).unwrap();
        writer.write_field(Some("c,d")).unwrap();
        writer.end_record().unwrap();
        writer.flush().unwrap();
        assert_eq!(writer.bytes_written(), 10);
        assert_eq!(writer.into_inner().unwrap(), b"\"a;b\";c,d\n");
    }

    #[test]
    fn write_then_read() {
        let records = vec![
            vec![Some("id"), Some("note")],
            vec![Some("1"), None],
            vec![Some(""), Some("\"quoted\", with\r\nnewline")],
            vec![None],
            vec![Some("")],
        ];
        let text = write(&records);
        let back = read_all(&text).unwrap();
        let back: Vec<Vec<Option<String>>> = back
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|(t, q)| (!t.is_empty() || q).then_some(t))
                    .collect()
            })
            .collect();
        let expected: Vec<Vec<Option<String>>> = records
            .iter()
            .map(|r| r.iter().map(|f| f.map(str::to_owned)).collect())
            .collect();
        assert_eq!(back, expected);
    }
}
