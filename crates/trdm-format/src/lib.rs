//! The wire format of TitanRDM files (protocol part A §7), in one place.
//!
//! The emulator writes exports and validates imports; the sync engine reads exports and
//! writes imports. Both depend on this crate so that the two sides cannot drift apart on a
//! single byte. The format is:
//!
//! - RFC 4180 CSV, UTF-8, with a header row and `,` as the delimiter (import mappings may
//!   choose another one);
//! - `\n` line ends on output, `\r\n` also accepted on input;
//! - NULL is an empty *unquoted* field, the empty string is `""`;
//! - each column type has one canonical spelling on export and a liberal grammar on
//!   import ([`value`]), with dates and timestamps handled by [`temporal`].
//!
//! It also holds the one list of import pattern names ([`ImportPattern`]), which every crate reads.

/// The column TitanRDM reads transaction codes (`i`, `u`, `d`) from, and writes them to; always last.
pub const TRAN_CODE_COLUMN: &str = "trdm_tran_code";

/// The system columns of an export file, in file order (protocol part B §7.1), after the user columns.
pub const SYSTEM_COLUMNS: [&str; 10] = [
    "trdm_sk",
    "trdm_record_id",
    "trdm_state",
    "trdm_created_at",
    "trdm_effective_from",
    "trdm_effective_to",
    "trdm_is_deleted",
    "trdm_actor_type",
    "trdm_actor_id",
    TRAN_CODE_COLUMN,
];

pub mod csv;
pub mod pattern;
pub mod temporal;
pub mod value;

pub use csv::{CsvError, CsvReader, CsvWriter, Field, Record};
pub use pattern::{ExportPattern, ImportPattern, UnknownExportPattern, UnknownImportPattern};
pub use value::{
    ColumnType, DataType, DateStyle, ParseOptions, UnknownDataType, Value, ValueError,
};
