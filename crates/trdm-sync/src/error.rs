//! The crate's one error type.

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table the operation needs does not exist in the catalog.
    #[error("table {table} does not exist")]
    TableNotFound {
        /// `catalog.schema.table`.
        table: String,
    },
    /// Data does not fit the table's column definitions; names table, column, row and value where known.
    #[error("{0}")]
    Invalid(String),
    /// The data's schema does not match what the operation needs.
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),
    /// A catalog backend failed.
    #[error("{backend} catalog: {source}")]
    Catalog {
        /// Which backend (`memory`, `delta`, `spark`, ...).
        backend: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// TitanRDM answered with an error, or could not be reached.
    #[error(transparent)]
    Client(#[from] trdm_client::Error),
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An unknown import pattern name is invalid input, reported in the parser's words.
impl From<trdm_format::UnknownImportPattern> for Error {
    fn from(e: trdm_format::UnknownImportPattern) -> Self {
        Error::Invalid(e.to_string())
    }
}

/// An unknown export pattern name is invalid input, reported in the parser's words.
impl From<trdm_format::UnknownExportPattern> for Error {
    fn from(e: trdm_format::UnknownExportPattern) -> Self {
        Error::Invalid(e.to_string())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
