//! Exports and imports one table at a time: `RawDownload`, `RawUpload`, `RawTableUpload` (behind
//! `titan_rdm_sdk.Download`, `Upload` and `TableUpload`) and `RedactedUrl`, the presigned-URL holder that prints
//! redacted.
//!
//! Each class keeps the server's latest view of its job in Rust and hands Python plain dicts of it (from the
//! client's serde models, whose presigned URLs serialise redacted); the URLs themselves only leave Rust as
//! [`RedactedUrl`]s. The steps themselves are `trdm_sync::transfer`'s, the same the sync engine runs: export
//! files decoded into Arrow, typed by the table's column definitions; uploads validated and encoded into a
//! temporary file before anything is sent, then streamed to the presigned URL.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use arrow_array::RecordBatch;
use futures_util::TryStreamExt;
use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyTable;
use trdm_client::{
    Client, Export, ExportPattern, ExportStatus, Import, ImportRequest, ImportTable,
    ImportTableRequest, PollConfig, SafeUrl,
};
use trdm_sync::codec;
use trdm_sync::manifest::table_def;
use trdm_sync::schema::{TableDef, export_schema};
use trdm_sync::transfer;

use crate::client::RawClient;
use crate::convert::to_py;
use crate::error::{
    APIError, Context, ExportFailedError, ExportNotReadyError, UploadError, ValidationError,
    client_error, sync_error,
};
use crate::runtime::block_on;

/// Locks a state mutex; a panic while it was held cannot leave the plain data inside inconsistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A duration in seconds from Python, rejecting negative, NaN and infinite values.
fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        ValidationError::new_err(format!(
            "{name} must be a finite number of seconds >= 0, got {value}"
        ))
    })
}

/// A caller's optional text argument, with the empty string meaning "not given".
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// The deployed table `key` on `branch_id`, typed for the codec.
async fn typed_table(client: &Client, key: &str, branch_id: i64) -> Result<(i64, TableDef), PyErr> {
    let definition = client
        .deployed_table_definition(key, branch_id)
        .await
        .map_err(|e| client_error(e, Context::Call))?;
    let table = table_def(&definition).map_err(sync_error)?;
    Ok((definition.id, table))
}

// ---------------------------------------------------------------------------------------------------------
// RedactedUrl

/// A presigned URL that never prints: `str()` and `repr()` show scheme, host and path with the query (the
/// signature) and any credentials replaced by `<redacted>`. `expose()` returns the real URL.
#[pyclass(module = "titan_rdm_sdk._internal", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct RedactedUrl {
    url: String,
    shown: String,
}

impl RedactedUrl {
    fn new(url: &SafeUrl) -> Self {
        RedactedUrl {
            url: url.expose().as_str().to_owned(),
            shown: url.to_string(),
        }
    }
}

#[pymethods]
impl RedactedUrl {
    /// The full URL, signature included. Keep it out of logs.
    fn expose(&self) -> &str {
        &self.url
    }

    fn __str__(&self) -> &str {
        &self.shown
    }

    fn __repr__(&self) -> String {
        format!("RedactedUrl({:?})", self.shown)
    }

    fn __bool__(&self) -> bool {
        !self.url.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Downloads

/// One export of one table, created on construction.
#[pyclass(module = "titan_rdm_sdk._internal", frozen)]
pub(crate) struct RawDownload {
    client: Client,
    branch_id: i64,
    table_definition_key: String,
    export: Mutex<Export>,
}

impl RawDownload {
    fn current(&self) -> Export {
        lock(&self.export).clone()
    }

    fn store(&self, export: Export) {
        *lock(&self.export) = export;
    }

    /// Refreshes the export from the server unless it has completed already, and returns it if completed;
    /// otherwise `ExportFailedError` or `ExportNotReadyError`.
    fn completed(&self, py: Python<'_>) -> PyResult<Export> {
        let mut export = self.current();
        if export.status != ExportStatus::Completed {
            let client = &self.client;
            let id = export.id;
            export =
                block_on(py, || client.export(id)).map_err(|e| client_error(e, Context::Call))?;
            self.store(export.clone());
        }
        match &export.status {
            ExportStatus::Completed => Ok(export),
            ExportStatus::Failed => Err(ExportFailedError::new_err(format!(
                "export {} failed: {}",
                export.id,
                export
                    .message
                    .as_deref()
                    .filter(|m| !m.is_empty())
                    .unwrap_or("unknown error")
            ))),
            other => Err(ExportNotReadyError::new_err(format!(
                "export {} is not ready yet (status {other}); wait_until_ready() waits for it",
                export.id
            ))),
        }
    }
}

/// A failure while fetching and decoding an export file.
enum ReadFailure {
    Py(PyErr),
    Client(trdm_client::Error),
    Decode(trdm_sync::Error),
}

impl ReadFailure {
    fn into_py(self, table: &str) -> PyErr {
        match self {
            ReadFailure::Py(err) => err,
            ReadFailure::Client(err) => client_error(err, Context::Call),
            ReadFailure::Decode(trdm_sync::Error::Io(io)) => {
                let message = io.to_string();
                match io
                    .into_inner()
                    .map(|inner| inner.downcast::<trdm_client::Error>())
                {
                    Some(Ok(err)) => client_error(*err, Context::Call),
                    _ => APIError::new_err((
                        format!("cannot read the export file of table {table}: {message}"),
                        None::<u16>,
                    )),
                }
            }
            ReadFailure::Decode(err) => APIError::new_err((
                format!("the export file of table {table} does not match its definition: {err}"),
                None::<u16>,
            )),
        }
    }
}

#[pymethods]
impl RawDownload {
    /// Creates the export. `high_water_mark` is ISO 8601 (no offset = UTC) and is sent normalised to UTC
    /// with an explicit offset.
    #[staticmethod]
    #[pyo3(signature = (client, branch_id, table_definition_key, pattern="full", correlation_code=None, high_water_mark=None, include_history=false))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        client: &RawClient,
        branch_id: i64,
        table_definition_key: String,
        pattern: &str,
        correlation_code: Option<String>,
        high_water_mark: Option<String>,
        include_history: bool,
    ) -> PyResult<Self> {
        if table_definition_key.is_empty() {
            return Err(ValidationError::new_err("table_definition_key is required"));
        }
        let mark = match given(high_water_mark) {
            None => None,
            Some(text) => {
                let micros = trdm_format::temporal::parse_timestamptz(&text).ok_or_else(|| {
                    ValidationError::new_err(format!(
                        "high_water_mark must be an ISO 8601 date-time such as \
                         2025-01-21T00:00:00+00:00, got {text:?}"
                    ))
                })?;
                let mut utc = String::new();
                trdm_format::temporal::format_timestamptz(micros, &mut utc);
                Some(utc)
            }
        };
        let pattern = pattern
            .parse::<ExportPattern>()
            .map_err(|e| ValidationError::new_err(e.to_string()))?;
        let request = transfer::export_request(branch_id, &table_definition_key, pattern, mark)
            .map_err(sync_error)?;
        let mut request = request.with_history(include_history);
        if let Some(code) = given(correlation_code) {
            request = request.with_correlation_code(code);
        }
        let client = client.inner.clone();
        let export = block_on(py, || client.create_export(&request))
            .map_err(|e| client_error(e, Context::Call))?;
        Ok(RawDownload {
            client,
            branch_id,
            table_definition_key,
            export: Mutex::new(export),
        })
    }

    /// The export as last seen, as a dict (its `download_url` redacted; see the `download_url` property).
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.current())
    }

    /// The presigned URL of the file, once the export has completed.
    #[getter]
    fn download_url(&self) -> Option<RedactedUrl> {
        lock(&self.export)
            .download_url
            .as_ref()
            .map(RedactedUrl::new)
    }

    /// Reads the export's state from the server; returns it as `info()` does.
    fn refresh<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let id = lock(&self.export).id;
        let client = &self.client;
        let export =
            block_on(py, || client.export(id)).map_err(|e| client_error(e, Context::Call))?;
        self.store(export);
        self.info(py)
    }

    /// Polls every `poll_interval` seconds until the export completes (returns its status), fails
    /// (`ExportFailedError`) or `max_wait` seconds pass (`TimeoutError`). The state is kept either way.
    #[pyo3(signature = (poll_interval=2.0, max_wait=300.0))]
    fn wait(&self, py: Python<'_>, poll_interval: f64, max_wait: f64) -> PyResult<String> {
        let interval = seconds("poll_interval", poll_interval)?;
        let max_wait = seconds("max_wait", max_wait)?;
        let id = lock(&self.export).id;
        let client = &self.client;
        let state = &self.export;
        let outcome = block_on(py, || async move {
            let started = tokio::time::Instant::now();
            loop {
                let export = client.export(id).await?;
                let status = export.status.clone();
                *lock(state) = export;
                if status.is_terminal() {
                    return Ok(Ok(status));
                }
                let waited = started.elapsed();
                if waited >= max_wait {
                    return Ok(Err((status, waited)));
                }
                tokio::time::sleep(interval.min(max_wait - waited)).await;
            }
        })
        .map_err(|e: trdm_client::Error| client_error(e, Context::Call))?;
        match outcome {
            Ok(ExportStatus::Failed) => {
                let export = self.current();
                Err(ExportFailedError::new_err(format!(
                    "export {id} failed: {}",
                    export
                        .message
                        .as_deref()
                        .filter(|m| !m.is_empty())
                        .unwrap_or("unknown error")
                )))
            }
            Ok(status) => Ok(status.to_string()),
            Err((status, waited)) => Err(PyTimeoutError::new_err(format!(
                "export {id} did not complete within {max_wait:?} (waited {waited:.1?}; status {status})"
            ))),
        }
    }

    /// Downloads the completed export's file and decodes it with the table's column definitions into a
    /// `pyarrow.Table` (user columns, then the system columns). Checks the status first if the export has not
    /// completed yet: `ExportFailedError` if it failed, `ExportNotReadyError` if it is still running.
    fn read_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let export = self.completed(py)?;
        let key = export
            .table_definition_key
            .clone()
            .unwrap_or_else(|| self.table_definition_key.clone());
        let branch_id = export.branch_id.unwrap_or(self.branch_id);
        let client = &self.client;
        let mut shown_table = key.clone();
        let shown = &mut shown_table;
        let read = block_on(py, || async move {
            let (_, table) = typed_table(client, &key, branch_id)
                .await
                .map_err(ReadFailure::Py)?;
            shown.clone_from(&table.database_table_name);
            let schema = export_schema(&table);
            let bytes = client
                .download_export(&export)
                .await
                .map_err(ReadFailure::Client)?;
            let batches = transfer::decode_export(bytes, &table, schema.clone(), |_| {})
                .try_collect::<Vec<RecordBatch>>()
                .await
                .map_err(ReadFailure::Decode)?;
            Ok::<_, ReadFailure>((schema, batches))
        });
        let (schema, batches) = read.map_err(|f| f.into_py(&shown_table))?;
        PyTable::try_new(batches, schema)?.into_pyarrow(py)
    }

    fn __repr__(&self) -> String {
        let export = lock(&self.export);
        format!("RawDownload(id={}, status={})", export.id, export.status)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Uploads

/// One import batch, created on construction.
#[pyclass(module = "titan_rdm_sdk._internal", frozen)]
pub(crate) struct RawUpload {
    client: Client,
    import: Mutex<Import>,
}

#[pymethods]
impl RawUpload {
    /// Creates the import batch on `branch_id`.
    #[staticmethod]
    #[pyo3(signature = (client, branch_id, description=None, correlation_code=None))]
    fn create(
        py: Python<'_>,
        client: &RawClient,
        branch_id: i64,
        description: Option<String>,
        correlation_code: Option<String>,
    ) -> PyResult<Self> {
        let mut request = ImportRequest::new(branch_id);
        if let Some(description) = given(description) {
            request = request.with_description(description);
        }
        if let Some(code) = given(correlation_code) {
            request = request.with_correlation_code(code);
        }
        let client = client.inner.clone();
        let import = block_on(py, || client.create_import(&request))
            .map_err(|e| client_error(e, Context::Call))?;
        Ok(RawUpload {
            client,
            import: Mutex::new(import),
        })
    }

    /// The batch's id.
    #[getter]
    fn id(&self) -> i64 {
        lock(&self.import).id
    }

    /// The batch as last seen, as a dict.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &*lock(&self.import))
    }

    /// Reads the batch and its tables from the server: `{"import": {...}, "tables": [{...}, ...]}`.
    fn results<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let id = self.id();
        let client = &self.client;
        let results = block_on(py, || client.import_results(id))
            .map_err(|e| client_error(e, Context::Call))?;
        *lock(&self.import) = results.import.clone();
        to_py(py, &results)
    }

    /// Polls every `poll_interval` seconds until the batch has settled (it is finished, or every table in it
    /// is), then returns what `results()` returns; `TimeoutError` after `max_wait` seconds.
    #[pyo3(signature = (poll_interval=2.0, max_wait=300.0))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        poll_interval: f64,
        max_wait: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let config = PollConfig::ramped(
            seconds("poll_interval", poll_interval)?,
            seconds("max_wait", max_wait)?,
        );
        let id = self.id();
        let client = &self.client;
        let results = block_on(py, || client.wait_for_import(id, &config))
            .map_err(|e| client_error(e, Context::Call))?;
        *lock(&self.import) = results.import.clone();
        to_py(py, &results)
    }

    /// Marks the batch complete (every table file is in place); returns the batch as `info()` does.
    #[pyo3(signature = (message=None))]
    fn complete<'py>(
        &self,
        py: Python<'py>,
        message: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = self.id();
        let client = &self.client;
        let message = given(message);
        let import = block_on(py, || client.complete_import(id, message.as_deref()))
            .map_err(|e| client_error(e, Context::Call))?;
        *lock(&self.import) = import;
        self.info(py)
    }

    fn __repr__(&self) -> String {
        let import = lock(&self.import);
        format!("RawUpload(id={}, status={})", import.id, import.status)
    }
}

/// One table file of an import batch: the slot is created on construction, the file sent by `send`.
#[pyclass(module = "titan_rdm_sdk._internal", frozen)]
pub(crate) struct RawTableUpload {
    client: Client,
    table: TableDef,
    pattern: codec::ImportPattern,
    deployed_table_definition_id: i64,
    slot: Mutex<ImportTable>,
}

impl RawTableUpload {
    fn current(&self) -> ImportTable {
        lock(&self.slot).clone()
    }
}

#[pymethods]
impl RawTableUpload {
    /// Looks the table up on the batch's branch and creates the table file's slot (with its presigned URL).
    /// `pattern` is `full`, `incremental_upsert_only`, `incremental_with_delete` or the legacy `incremental`
    /// (any case; the API name is sent).
    #[staticmethod]
    #[pyo3(signature = (client, import_id, branch_id, table_definition_key, import_mapping_key, pattern, correlation_code=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        client: &RawClient,
        import_id: i64,
        branch_id: i64,
        table_definition_key: String,
        import_mapping_key: String,
        pattern: &str,
        correlation_code: Option<String>,
    ) -> PyResult<Self> {
        let pattern: codec::ImportPattern = pattern.parse().map_err(|_| {
            ValidationError::new_err(format!(
                "pattern must be one of {}; got {pattern:?}",
                codec::ImportPattern::NAMES.join(", ")
            ))
        })?;
        for (name, value) in [
            ("table_definition_key", &table_definition_key),
            ("import_mapping_key", &import_mapping_key),
        ] {
            if value.is_empty() {
                return Err(ValidationError::new_err(format!("{name} is required")));
            }
        }
        let mut request = ImportTableRequest::new(
            import_id,
            &table_definition_key,
            &import_mapping_key,
            pattern,
        );
        if let Some(code) = given(correlation_code) {
            request = request.with_correlation_code(code);
        }
        let client = client.inner.clone();
        let (deployed_table_definition_id, table, slot) = block_on(py, || async {
            let (id, table) = typed_table(&client, &table_definition_key, branch_id).await?;
            let slot = client
                .create_import_table(&request)
                .await
                .map_err(|e| client_error(e, Context::Call))?;
            Ok::<_, PyErr>((id, table, slot))
        })?;
        Ok(RawTableUpload {
            client,
            table,
            pattern,
            deployed_table_definition_id,
            slot: Mutex::new(slot),
        })
    }

    /// The table file as last seen, as a dict (its `signed_s3_url` redacted; see the property).
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.current())
    }

    /// The presigned `PUT` URL of the file.
    #[getter]
    fn signed_s3_url(&self) -> Option<RedactedUrl> {
        lock(&self.slot)
            .signed_s3_url
            .as_ref()
            .map(RedactedUrl::new)
    }

    /// The id of the deployed table the file goes to.
    #[getter]
    fn deployed_table_definition_id(&self) -> i64 {
        self.deployed_table_definition_id
    }

    /// The table's primary-key column names, in table order.
    #[getter]
    fn primary_key_columns(&self) -> Vec<String> {
        self.table
            .columns
            .iter()
            .filter(|c| c.is_primary_key)
            .map(|c| c.name.clone())
            .collect()
    }

    /// The table's columns as `{name: TitanRDM type}`, in table order.
    fn column_types<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for column in &self.table.columns {
            dict.set_item(
                &column.name,
                trdm_sync::schema::type_text(&column.column_type()),
            )?;
        }
        Ok(dict)
    }

    /// Validates `data` (anything with `__arrow_c_stream__`) against the table's column definitions and
    /// encodes it as the upload file; on any problem raises `ValidationError` naming table, column, row and
    /// value, having sent nothing. Then streams the file to the presigned URL (a failed transfer is reported
    /// to the server with `upload_failed` and raises `UploadError`) and announces it with `upload_complete`.
    /// Returns the table file as `info()` does, plus the rows and bytes sent as `rows_sent` and `bytes_sent`.
    fn send<'py>(&self, py: Python<'py>, data: PyTable) -> PyResult<Bound<'py, PyAny>> {
        let (batches, _) = data.into_inner();
        let slot = self.current();
        let table = self.table.clone();
        let table_name = table.database_table_name.clone();
        let pattern = self.pattern;
        let client = &self.client;
        let (slot, summary) = block_on(py, || async move {
            let file = tempfile::NamedTempFile::new().map_err(|e| {
                UploadError::new_err(format!("cannot create a temporary file: {e}"))
            })?;
            let data = Box::pin(futures_util::stream::iter(batches.into_iter().map(Ok)));
            let summary = transfer::encode_upload_file(&table, pattern, data, file.path())
                .await
                .map_err(sync_error)?;
            if summary.rows == 0 && pattern == codec::ImportPattern::Full {
                // The sync engine skips an empty table for the same reason.
                return Err(ValidationError::new_err(format!(
                    "table {table_name}: the data has no rows, and a full upload of no rows would \
                     delete every record of the table; nothing was sent (to delete records, send them \
                     with trdm_tran_code 'd' under incremental_with_delete)"
                )));
            }
            if let Err(error) = transfer::put_file(client, &slot, file.path()).await {
                let message = error.to_string();
                // The transfer's error is the one raised; a failed report is only mentioned in it.
                let reported = match client.upload_failed(slot.id, &message).await {
                    Ok(_) => String::new(),
                    Err(notify) => format!(" (reporting the failure failed too: {notify})"),
                };
                return Err(UploadError::new_err(format!(
                    "sending the file of import table {} failed: {message}{reported}",
                    slot.id
                )));
            }
            let slot = client
                .upload_complete(slot.id)
                .await
                .map_err(|e| client_error(e, Context::Call))?;
            drop(file);
            Ok::<_, PyErr>((slot, summary))
        })?;
        *lock(&self.slot) = slot;
        let info = self.info(py)?;
        info.set_item("rows_sent", summary.rows)?;
        info.set_item("bytes_sent", summary.bytes)?;
        Ok(info)
    }

    fn __repr__(&self) -> String {
        let slot = lock(&self.slot);
        format!(
            "RawTableUpload(id={}, table={}, status={})",
            slot.id, self.table.database_table_name, slot.status
        )
    }
}
