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
//!
//! The code is split by direction, so that each part reads on its own: `decode` (CSV → Arrow), `encode`
//! (Arrow values as text, shared by both encoders, and exports) and `upload` (planning and validating an
//! upload file). This module holds the public surface and the message helpers all three use.

use std::fmt::Display;

use trdm_format::csv::CsvError;
use trdm_format::value::ColumnType;

use crate::error::Error;
use crate::schema::{self, TableDef};

mod decode;
mod encode;
#[cfg(test)]
mod test_fixtures;
mod upload;

pub use decode::CsvDecoder;
pub use encode::encode_csv;
pub use upload::encode_upload;

/// How an import applies a file (protocol B §7.2); defined once, in `trdm-format`.
pub use trdm_format::ImportPattern;

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

/// What an encoder wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeSummary {
    /// Data rows written (the header not counted).
    pub rows: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}
