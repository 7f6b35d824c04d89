//! `RawSyncEngine`: the convention sync engine (`trdm-sync`) over a catalog, and `RawMemoryCatalog`, the
//! in-memory catalog it can run against (tables go in and out as Arrow through the PyCapsule interface).
//!
//! Results are dicts of [`TableResult`]'s one serialised shape: the incumbent's keys (`table`, `rows`,
//! `status` with its exact strings) plus ours, the same as the CLI's `--output json`.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use futures_util::{TryStreamExt, stream};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_arrow::PyTable;
use trdm_client::PollConfig;
use trdm_sync::catalog::{BatchStream, Properties};
use trdm_sync::{
    Catalog, DownloadRequest, ExportPattern, ImportPattern, InMemoryCatalog, SyncEngine, TableRef,
    TableResult, UploadChecks, UploadRequest,
};

use crate::catalog::PyCatalog;
use crate::client::RawClient;
use crate::convert::to_py;
use crate::error::sync_error;
use crate::runtime::block_on;

/// A catalog held in memory (the engine's reference implementation): for tests, notebooks and trying the
/// engine without a warehouse.
#[pyclass(module = "titan_rdm_sdk._internal", frozen)]
pub(crate) struct RawMemoryCatalog {
    inner: Arc<InMemoryCatalog>,
}

#[pymethods]
impl RawMemoryCatalog {
    #[new]
    fn new() -> Self {
        RawMemoryCatalog {
            inner: Arc::new(InMemoryCatalog::new()),
        }
    }

    /// Every table, as `catalog.schema.table`, sorted.
    fn tables(&self) -> Vec<String> {
        self.inner
            .tables()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Replaces (or creates) a table with any Arrow table-like object (`__arrow_c_stream__`).
    fn write_table(
        &self,
        py: Python<'_>,
        catalog: &str,
        schema: &str,
        table: &str,
        data: PyTable,
    ) -> PyResult<u64> {
        let (batches, arrow_schema) = data.into_inner();
        let target = TableRef::new(catalog, schema, table);
        let inner = self.inner.clone();
        let summary = block_on(py, move || async move {
            inner.create_schema(&target.catalog, &target.schema).await?;
            let data: BatchStream = Box::pin(stream::iter(batches.into_iter().map(Ok)));
            inner
                .overwrite(&target, arrow_schema, data, &Properties::new())
                .await
        })
        .map_err(sync_error)?;
        Ok(summary.rows_after)
    }

    /// A table as a `pyarrow.Table` (pyarrow must be installed).
    fn read_table<'py>(
        &self,
        py: Python<'py>,
        catalog: &str,
        schema: &str,
        table: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = TableRef::new(catalog, schema, table);
        let inner = self.inner.clone();
        let (arrow_schema, batches) = block_on(py, move || async move {
            let (schema, stream) = inner.read(&target).await?;
            let batches: Vec<RecordBatch> = stream.try_collect().await?;
            Ok::<_, trdm_sync::Error>((schema, batches))
        })
        .map_err(sync_error)?;
        PyTable::try_new(batches, arrow_schema)?.into_pyarrow(py)
    }

    /// A table's properties (sync state such as the high-water mark).
    fn properties(
        &self,
        py: Python<'_>,
        catalog: &str,
        schema: &str,
        table: &str,
    ) -> PyResult<Properties> {
        let target = TableRef::new(catalog, schema, table);
        let inner = self.inner.clone();
        block_on(py, move || async move { inner.properties(&target).await }).map_err(sync_error)
    }

    fn __repr__(&self) -> String {
        format!("RawMemoryCatalog({} tables)", self.inner.tables().len())
    }
}

/// The sync engine bound to a client and a catalog: a [`RawMemoryCatalog`], or any Python object with the
/// methods [`PyCatalog`] documents.
#[pyclass(module = "titan_rdm_sdk._internal", frozen)]
pub(crate) struct RawSyncEngine {
    inner: SyncEngine,
}

fn poll(poll_interval: f64, max_wait: f64) -> PyResult<PollConfig> {
    let seconds = |name: &str, value: f64| {
        Duration::try_from_secs_f64(value)
            .map_err(|_| PyValueError::new_err(format!("{name} must be >= 0, got {value}")))
    };
    Ok(PollConfig::ramped(
        seconds("poll_interval", poll_interval)?,
        seconds("max_wait", max_wait)?,
    ))
}

/// The results as a list of dicts: [`TableResult`]'s one serialised shape, the same keys and values as the
/// CLI's `--output json`.
fn results_list<'py>(py: Python<'py>, results: &[TableResult]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for r in results {
        list.append(to_py(py, r)?)?;
    }
    Ok(list)
}

#[pymethods]
impl RawSyncEngine {
    #[new]
    #[pyo3(signature = (client, catalog, concurrency=None))]
    fn new(client: &RawClient, catalog: &Bound<'_, PyAny>, concurrency: Option<usize>) -> Self {
        let catalog: Arc<dyn Catalog> = match catalog.cast::<RawMemoryCatalog>() {
            Ok(memory) => memory.get().inner.clone(),
            Err(_) => Arc::new(PyCatalog::new(catalog.clone().unbind())),
        };
        let mut inner = SyncEngine::new(client.inner.clone(), catalog);
        if let Some(n) = concurrency {
            inner = inner.with_concurrency(n.max(1));
        }
        RawSyncEngine { inner }
    }

    /// Downloads a domain's tables into `catalog.schema.{abbr}_{table}`; one result dict per table.
    #[pyo3(signature = (
        branch_id, catalog, schema, domain, tables=None, pattern="full", high_water_mark=None,
        include_history=false, correlation_code=None, dry_run=false, poll_interval=2.0, max_wait=300.0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn download<'py>(
        &self,
        py: Python<'py>,
        branch_id: i64,
        catalog: String,
        schema: String,
        domain: String,
        tables: Option<Vec<String>>,
        pattern: &str,
        high_water_mark: Option<String>,
        include_history: bool,
        correlation_code: Option<String>,
        dry_run: bool,
        poll_interval: f64,
        max_wait: f64,
    ) -> PyResult<Bound<'py, PyList>> {
        let pattern = pattern
            .parse::<ExportPattern>()
            .map_err(|e| sync_error(e.into()))?;
        let request = DownloadRequest {
            branch_id,
            catalog,
            schema,
            domain,
            tables,
            pattern,
            high_water_mark,
            include_history,
            correlation_code,
            poll: poll(poll_interval, max_wait)?,
            plan_only: dry_run,
        };
        let results = block_on(py, || self.inner.download(&request)).map_err(sync_error)?;
        results_list(py, &results)
    }

    /// Uploads a domain's tables from `catalog.schema.{abbr}_{table}` in one import batch. Returns
    /// `{"import_id", "import_status", "abandoned_import_id", "tables": [result dicts]}`.
    #[pyo3(signature = (
        branch_id, catalog, schema, domain, tables=None, pattern="full", description=None,
        correlation_code=None, allow_partial=false, dry_run=false, allow_mass_delete=false,
        upload_unchanged=false, poll_interval=2.0, max_wait=300.0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn upload<'py>(
        &self,
        py: Python<'py>,
        branch_id: i64,
        catalog: String,
        schema: String,
        domain: String,
        tables: Option<Vec<String>>,
        pattern: &str,
        description: Option<String>,
        correlation_code: Option<String>,
        allow_partial: bool,
        dry_run: bool,
        allow_mass_delete: bool,
        upload_unchanged: bool,
        poll_interval: f64,
        max_wait: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let pattern = pattern
            .parse::<ImportPattern>()
            .map_err(|e| sync_error(e.into()))?;
        let request = UploadRequest {
            branch_id,
            catalog,
            schema,
            domain,
            tables,
            pattern,
            description,
            correlation_code,
            allow_partial,
            checks: UploadChecks {
                plan_only: dry_run,
                allow_mass_delete,
                upload_unchanged,
            },
            poll: poll(poll_interval, max_wait)?,
        };
        let report = block_on(py, || self.inner.upload(&request)).map_err(sync_error)?;
        let d = PyDict::new(py);
        d.set_item("import_id", report.import_id)?;
        d.set_item("import_status", report.import_status.as_deref())?;
        d.set_item("abandoned_import_id", report.abandoned_import_id)?;
        d.set_item("tables", results_list(py, &report.tables)?)?;
        Ok(d)
    }
}
