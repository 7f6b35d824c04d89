//! The seam between the sync engine and wherever tables live: a Spark catalog, a local Delta Lake warehouse,
//! or memory. One trait, small on purpose, with a written contract that the conformance suite checks for
//! every backend.
//!
//! # Contract
//!
//! Implementations must guarantee:
//!
//! * **Names.** A [`TableRef`] is `catalog.schema.table`, compared exactly (no case folding).
//! * **Schemas are kept exactly.** A table written with an Arrow schema reads back with the same field names,
//!   order, data types (after the normalisations listed on [`Catalog::read`]), nullability and field metadata
//!   key `comment`. Nothing is inferred from data.
//! * **`overwrite` is atomic.** Readers see the whole old table or the whole new one, never a mix, and a
//!   failed overwrite leaves the old table (or no table) in place. The schema is replaced too (explicitly:
//!   an overwrite with a different schema is not an error). Properties given are set in the same commit.
//! * **`merge` is atomic** in the same way, and keyed: for each input row, the target rows with equal values
//!   in every key column (nulls equal to each other) are removed, then the input row is inserted unless its
//!   delete column is `true` (null is not `true`). Input keys are unique (the engine guarantees it); a merge
//!   into a missing table creates it. The input schema must equal the table's schema (names, order, data
//!   types, nullability and `comment`, as [`memory::check_same_schema`] compares them), else
//!   [`Error::SchemaMismatch`] and nothing changes.
//! * **Properties** are string pairs stored with the table (sync state such as the high-water mark), their
//!   keys in the namespace `trdm.`. They are set only by a successful write, and each successful write
//!   replaces the whole set with the properties it was given; `properties` of a missing table is
//!   [`Error::TableNotFound`]. Tables in shared catalogs carry properties of their own (Delta's `delta.*`,
//!   a team's), which a backend may keep but does not return.
//! * **Errors.** A missing table is always [`Error::TableNotFound`], never a generic backend error, so the
//!   engine can tell "no source data" from a failed read.
//!
//! Convenience lives outside the trait so wrappers cannot forget to forward a method.
//!
//! [`InMemoryCatalog`] is the reference implementation (and the engine's test double); its
//! [`memory::merge_batches`] is the merge semantics in executable form, shared by backends that merge by
//! rewriting. The `conformance` module (compiled for tests and with feature `conformance`) checks each
//! clause above for any backend.
//!
//! [`Error::SchemaMismatch`]: crate::Error::SchemaMismatch
//! [`Error::TableNotFound`]: crate::Error::TableNotFound

pub mod memory;
pub mod toolkit;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures_util::Stream;

use crate::error::Result;

pub use memory::InMemoryCatalog;

/// `catalog.schema.table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    /// First level, e.g. `dev`.
    pub catalog: String,
    /// Second level, e.g. `rdmin`.
    pub schema: String,
    /// The table, e.g. `clin_sites`.
    pub table: String,
}

impl TableRef {
    /// Builds a reference from its three parts.
    pub fn new(
        catalog: impl Into<String>,
        schema: impl Into<String>,
        table: impl Into<String>,
    ) -> Self {
        TableRef {
            catalog: catalog.into(),
            schema: schema.into(),
            table: table.into(),
        }
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.catalog, self.schema, self.table)
    }
}

/// A stream of record batches, all with one schema.
pub type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch>> + Send>>;

/// Table properties: sync state and provenance stored with a table.
pub type Properties = BTreeMap<String, String>;

/// Where a write's properties come from. Backends call [`PropertySource::properties`] once, after the data
/// stream is exhausted and before the commit, so properties derived from the data (the high-water mark is
/// the largest `trdm_created_at` the stream carried) are committed atomically with it. A plain
/// [`Properties`] map is a source too.
pub trait PropertySource: Send + Sync {
    /// The properties to commit.
    fn properties(&self) -> Properties;
}

impl PropertySource for Properties {
    fn properties(&self) -> Properties {
        self.clone()
    }
}

impl<F: Fn() -> Properties + Send + Sync> PropertySource for F {
    fn properties(&self) -> Properties {
        self()
    }
}

/// How [`Catalog::merge`] matches and deletes rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSpec {
    /// Columns whose values identify a row (e.g. `trdm_record_id`).
    pub key_columns: Vec<String>,
    /// A boolean column; input rows where it is `true` delete their key and are not inserted.
    pub delete_column: Option<String>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Rows in the table after the write.
    pub rows_after: u64,
    /// Input rows written (inserted or replacing).
    pub rows_written: u64,
    /// Target rows a merge removed by key, whether an input row replaced them or deleted them; 0 for an
    /// overwrite.
    pub rows_deleted: u64,
}

impl WriteSummary {
    /// A table replaced as a whole by `rows` rows: an overwrite, or a merge the backend did by itself and
    /// reports no finer counts for.
    pub fn replaced(rows: u64) -> Self {
        WriteSummary {
            rows_after: rows,
            rows_written: rows,
            rows_deleted: 0,
        }
    }
}

/// Where tables live. See the module docs for the contract.
#[async_trait::async_trait]
pub trait Catalog: Send + Sync + fmt::Debug {
    /// Short backend name used in errors (`memory`, `delta`, `spark`).
    fn backend(&self) -> &'static str;

    /// Whether the table exists.
    async fn table_exists(&self, table: &TableRef) -> Result<bool>;

    /// The table's schema and its rows as a stream. Backends may return dictionary or view string types
    /// internally but must hand out `Utf8` for strings, so schemas compare equal to what was written.
    async fn read(&self, table: &TableRef) -> Result<(SchemaRef, BatchStream)>;

    /// Creates `catalog.schema` if it does not exist.
    async fn create_schema(&self, catalog: &str, schema: &str) -> Result<()>;

    /// Replaces the table (content, schema and properties) with `data`, atomically; creates it if absent.
    async fn overwrite(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        data: BatchStream,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary>;

    /// Merges `data` into the table by key (see the contract), atomically, and sets `properties`.
    async fn merge(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        data: BatchStream,
        spec: &MergeSpec,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary>;

    /// The table's properties.
    async fn properties(&self, table: &TableRef) -> Result<Properties>;
}
