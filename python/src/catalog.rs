//! `PyCatalog`: the [`Catalog`] trait implemented by any Python object with the methods below, so the sync
//! engine can write to and read from whatever Python can reach (a dict of DataFrames, a Spark session, a
//! warehouse client).
//!
//! ```text
//! table_exists(catalog, schema, table) -> bool
//! read(catalog, schema, table) -> Arrow table-like (__arrow_c_stream__); LookupError (KeyError) if missing
//! create_schema(catalog, schema) -> None
//! overwrite(catalog, schema, table, data, properties: dict[str, str]) -> None
//!     `data` exports __arrow_c_stream__ (`pyarrow.table(data)` takes it without copying)
//! properties(catalog, schema, table) -> dict[str, str]; LookupError if missing
//! merge(catalog, schema, table, data, key_columns: list[str], delete_column: str | None,
//!       properties: dict[str, str]) -> dict[str, int] | None | NotImplemented   (optional)
//! ```
//!
//! A catalog that can merge by itself (Spark's `MERGE INTO` on Delta) defines `merge`: input rows replace
//! the table's rows with the same key, rows whose `delete_column` is true delete theirs and are not
//! inserted. It returns the counts of [`WriteSummary`] (`rows_after`, `rows_written`, `rows_deleted`), or
//! `None` when it cannot tell (then the input rows count as written and nothing as removed). Without `merge`, or when it returns `NotImplemented` (a parquet table, say), the merge is done
//! here by the contract's own [`merge_batches`]: read the table, merge in memory, overwrite. So such merges
//! are as atomic as the catalog's `overwrite` (and hold the table in memory).
//!
//! Python catalogs may not keep everything of an Arrow schema (Spark's parquet tables make every column
//! nullable, return comments as their own metadata, and hold time of day and decimals past 38 digits as
//! text). So every write also stores the exact schema written, as JSON, in the table property
//! [`STORED_SCHEMA`]; a read restores it ([`restore_schema`]), and `properties` never shows it. A table
//! changed since (columns renamed, values that no longer parse) is read as the catalog returns it, and the
//! engine's validation names whatever no longer fits.
//!
//! Calls run on tokio's blocking pool with the GIL attached, never on a runtime worker. A catalog method
//! must not call back into the SDK's blocking API (that would start a runtime inside the runtime).

use std::fmt;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use futures_util::stream;
use pyo3::exceptions::PyLookupError;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;
use trdm_sync::catalog::memory::{
    check_same_schema, collect_input, conform_read, merge_batches, restore_schema, row_count,
};
use trdm_sync::catalog::toolkit::{STORED_SCHEMA, stored_schema, with_stored_schema};
use trdm_sync::catalog::{BatchStream, MergeSpec, Properties, PropertySource, WriteSummary};
use trdm_sync::{Catalog, Error, Result, TableRef};

/// The name used in errors.
const BACKEND: &str = "python";

/// Whether the Python catalog says `table` exists (a failing `table_exists` counts as yes: only a clear
/// "no" makes a table missing).
fn confirms_exists(obj: &Bound<'_, PyAny>, table: &TableRef) -> bool {
    obj.call_method1(
        "table_exists",
        (&table.catalog, &table.schema, &table.table),
    )
    .and_then(|answer| answer.extract::<bool>())
    .unwrap_or(true)
}

/// A catalog implemented in Python.
pub(crate) struct PyCatalog {
    obj: Arc<Py<PyAny>>,
}

impl PyCatalog {
    pub(crate) fn new(obj: Py<PyAny>) -> Self {
        PyCatalog { obj: Arc::new(obj) }
    }

    /// Runs `f` with the GIL on the blocking pool. A `LookupError` about `table` is
    /// [`Error::TableNotFound`] when the catalog confirms that the table does not exist (a `KeyError` from a
    /// bug in a catalog is a `LookupError` too, and must not turn a table into "no source data"); every
    /// other Python exception is a catalog error carrying it.
    async fn call<T, F>(&self, table: Option<&TableRef>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<T> + Send + 'static,
    {
        let obj = self.obj.clone();
        let table = table.cloned();
        tokio::task::spawn_blocking(move || {
            Python::attach(|py| {
                let obj = obj.bind(py);
                f(obj).map_err(|err| match table {
                    Some(table)
                        if err.is_instance_of::<PyLookupError>(py)
                            && !confirms_exists(obj, &table) =>
                    {
                        Error::TableNotFound {
                            table: table.to_string(),
                        }
                    }
                    _ => Error::Catalog {
                        backend: BACKEND,
                        source: Box::new(err),
                    },
                })
            })
        })
        .await
        .map_err(|e| Error::Catalog {
            backend: BACKEND,
            source: Box::new(e),
        })?
    }

    async fn read_all(&self, table: &TableRef) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let t = table.clone();
        let (schema, batches) = self
            .call(Some(table), move |obj| {
                let data: PyTable = obj
                    .call_method1("read", (&t.catalog, &t.schema, &t.table))?
                    .extract()?;
                let (batches, schema) = data.into_inner();
                Ok((schema, batches))
            })
            .await?;
        let Some(stored) = self.stored_schema(table).await? else {
            return Ok((schema, batches));
        };
        // A table changed since its last sync is read as the catalog returns it (cloning batches copies
        // only pointers): what no longer fits the column definitions is named by the engine's validation.
        let unrestored = batches.clone();
        Ok(restore_schema(&stored, &schema, batches).unwrap_or((schema, unrestored)))
    }

    /// All properties as the Python object returns them, the stored schema among them; `None` when the
    /// table exists but the catalog has none for it (a table put there by hand).
    async fn raw_properties(&self, table: &TableRef) -> Result<Option<Properties>> {
        let t = table.clone();
        self.call(Some(table), move |obj| {
            match obj.call_method1("properties", (&t.catalog, &t.schema, &t.table)) {
                Ok(properties) => properties.extract::<Properties>().map(Some),
                Err(e)
                    if e.is_instance_of::<PyLookupError>(obj.py()) && confirms_exists(obj, &t) =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The schema the last write stored with `table`, if it did and it parses.
    async fn stored_schema(&self, table: &TableRef) -> Result<Option<Schema>> {
        let properties = match self.raw_properties(table).await {
            Err(Error::TableNotFound { .. }) => None,
            other => other?,
        };
        Ok(properties.as_ref().and_then(stored_schema))
    }

    async fn write_all(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        properties: Properties,
    ) -> Result<()> {
        let t = table.clone();
        let properties = with_stored_schema(properties, &schema, BACKEND)?;
        self.call(None, move |obj| {
            let data = PyTable::try_new(batches, schema)?;
            obj.call_method1(
                "overwrite",
                (&t.catalog, &t.schema, &t.table, data, properties),
            )?;
            Ok(())
        })
        .await
    }
}

impl PyCatalog {
    /// Calls the catalog's own `merge` if it has one: `None` when it has none or declines
    /// (`NotImplemented`), else the counts it returned (see the module docs).
    async fn native_merge(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        spec: &MergeSpec,
        properties: Properties,
    ) -> Result<Option<WriteSummary>> {
        let t = table.clone();
        let rows = row_count(&batches);
        let keys = spec.key_columns.clone();
        let delete = spec.delete_column.clone();
        let properties = with_stored_schema(properties, &schema, BACKEND)?;
        self.call(None, move |obj| {
            if !obj.hasattr("merge")? {
                return Ok(None);
            }
            let data = PyTable::try_new(batches, schema)?;
            let done = obj.call_method1(
                "merge",
                (
                    &t.catalog, &t.schema, &t.table, data, keys, delete, properties,
                ),
            )?;
            if done.is(obj.py().NotImplemented()) {
                return Ok(None);
            }
            if done.is_none() {
                return Ok(Some(WriteSummary::replaced(rows)));
            }
            let count = |key: &str| -> PyResult<u64> { done.get_item(key)?.extract() };
            Ok(Some(WriteSummary {
                rows_after: count("rows_after")?,
                rows_written: count("rows_written")?,
                rows_deleted: count("rows_deleted")?,
            }))
        })
        .await
    }
}

impl fmt::Debug for PyCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyCatalog").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Catalog for PyCatalog {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn table_exists(&self, table: &TableRef) -> Result<bool> {
        let t = table.clone();
        self.call(None, move |obj| {
            obj.call_method1("table_exists", (&t.catalog, &t.schema, &t.table))?
                .extract::<bool>()
        })
        .await
    }

    async fn read(&self, table: &TableRef) -> Result<(SchemaRef, BatchStream)> {
        let (schema, batches) = self.read_all(table).await?;
        Ok((schema, Box::pin(stream::iter(batches.into_iter().map(Ok)))))
    }

    async fn create_schema(&self, catalog: &str, schema: &str) -> Result<()> {
        let (catalog, schema) = (catalog.to_owned(), schema.to_owned());
        self.call(None, move |obj| {
            obj.call_method1("create_schema", (catalog, schema))
                .map(drop)
        })
        .await
    }

    async fn overwrite(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        data: BatchStream,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary> {
        let batches = collect_input(&schema, data).await?;
        let written = row_count(&batches);
        self.write_all(table, schema, batches, properties.properties())
            .await?;
        Ok(WriteSummary::replaced(written))
    }

    async fn merge(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        data: BatchStream,
        spec: &MergeSpec,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary> {
        let input = collect_input(&schema, data).await?;
        if self.table_exists(table).await? {
            // What the table was written with, where the catalog could not keep it all itself.
            if let Some(stored) = self.stored_schema(table).await? {
                check_same_schema(&stored, &schema)?;
            }
        }
        if let Some(summary) = self
            .native_merge(
                table,
                schema.clone(),
                input.clone(),
                spec,
                properties.properties(),
            )
            .await?
        {
            return Ok(summary);
        }
        let target = if self.table_exists(table).await? {
            // Python catalogs (Spark above all) hand back their own idea of the schema: nullability,
            // comments, time zones and string encodings may differ from what was written.
            let (existing, batches) = self.read_all(table).await?;
            conform_read(&schema, &existing, batches)?
        } else {
            Vec::new()
        };
        let (batches, summary) = merge_batches(&schema, &target, &input, spec)?;
        self.write_all(table, schema, batches, properties.properties())
            .await?;
        Ok(summary)
    }

    async fn properties(&self, table: &TableRef) -> Result<Properties> {
        let mut properties = self.raw_properties(table).await?.unwrap_or_default();
        properties.remove(STORED_SCHEMA);
        Ok(properties)
    }
}
