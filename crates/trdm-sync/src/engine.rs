//! The sync engine: downloads a domain into a catalog and uploads it back, table by table, concurrently.
//!
//! # Download
//! Every export of the domain is created at once, so TitanRDM prepares them in parallel, and all are polled
//! at once; as each completes it is streamed from HTTP through the codec into the catalog write, at most
//! `concurrency` tables at a time. A
//! `full` download overwrites the target atomically; an `incremental` one MERGES into it by `trdm_record_id`
//! (tombstones delete), never overwriting. The high-water mark for the next incremental run is taken from the
//! data (the largest `trdm_created_at` seen) and stored in the target's properties in the same commit as
//! the data, so it moves only when the write commits. Without a stored mark (or when the target was written
//! from another branch or with another history setting) an incremental download falls back to a full one and
//! says so in its result.
//!
//! # Upload
//! Every source table is read and validated against its column definitions into a temporary file BEFORE
//! anything is sent: a missing table is `skipped (no source data)`, any other read error is an error. If any
//! table fails validation, no import batch is created at all (unless `allow_partial`). Otherwise one batch,
//! every file uploaded; only when every upload succeeded are the tables announced with `upload_complete`;
//! if one failed, every table is marked `upload_failed` and the batch is left uncompleted. The engine then
//! waits for TitanRDM to process each table and completes the batch only if every table succeeded.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow_array::{Array, RecordBatch, TimestampMicrosecondArray};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio_util::io::{StreamReader, SyncIoBridge};
use trdm_client::{
    Client, Export, ExportRequest, ImportRequest, ImportTableRequest, PollConfig, UploadBody,
};

use crate::catalog::{BatchStream, Catalog, MergeSpec, Properties, TableRef};
use crate::codec::{CsvDecoder, ImportPattern, encode_upload};
use crate::error::{Error, Result};
use crate::manifest::{Manifest, ManifestTable, manifest};
use crate::plan::{SAMPLE_CHANGES, TablePlan, plan_table};
use crate::report::{NoReporter, Phase, Reporter, TableResult, TableStatus};
use crate::schema::{export_schema, schema_fingerprint};

/// Property keys the engine stores with downloaded tables.
pub mod property {
    /// The high-water mark for the next incremental download (largest `trdm_created_at` seen, UTC).
    pub const HIGH_WATER_MARK: &str = "trdm.high_water_mark";
    /// The branch the table was downloaded from.
    pub const BRANCH_ID: &str = "trdm.branch_id";
    /// The TitanRDM table key.
    pub const TABLE_KEY: &str = "trdm.table_key";
    /// The domain's name.
    pub const DOMAIN: &str = "trdm.domain";
    /// `true` when the table holds every version.
    pub const INCLUDE_HISTORY: &str = "trdm.include_history";
    /// The export that last wrote the table.
    pub const EXPORT_ID: &str = "trdm.export_id";
    /// [`schema_fingerprint`](crate::schema::schema_fingerprint) of the columns written: an incremental
    /// download merges only into a table whose columns TitanRDM still defines the same way.
    pub const COLUMNS: &str = "trdm.columns";
}

/// How a download writes its target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WritePlan {
    /// Incremental: the export's high-water mark, and the write merges by key; `None`: full, replacing.
    since: Option<String>,
    /// Why an incremental download replaces the table instead (told to the user in the result).
    note: Option<String>,
}

/// Decides whether an incremental download can merge into its target, and from which mark. It merges only
/// into a table that holds this branch's records with the same history setting and columns, so that
/// a merge can never mix branches, skip changes or replace a table with its changes; anything else is
/// replaced in full, with a note saying why. A table with no sync state at all (written by another tool)
/// is merged into only from a mark the caller gave.
fn plan_write(
    request: &DownloadRequest,
    previous: Option<&Properties>,
    columns: &str,
) -> WritePlan {
    let full = |note: Option<String>| WritePlan { since: None, note };
    if !request.incremental {
        return full(None);
    }
    let Some(previous) = previous else {
        return full(Some("the target did not exist: downloaded in full".into()));
    };
    let merge = |since: String| WritePlan {
        since: Some(since),
        note: None,
    };
    let Some(branch) = previous.get(property::BRANCH_ID) else {
        return match &request.high_water_mark {
            Some(mark) => merge(mark.clone()),
            None => full(Some(
                "the target holds no high-water mark (it was not written by a sync): downloaded in full"
                    .into(),
            )),
        };
    };
    if *branch != request.branch_id.to_string() {
        return full(Some(format!(
            "the target was downloaded from branch {branch}: replaced in full from branch {}",
            request.branch_id
        )));
    }
    let history = previous.get(property::INCLUDE_HISTORY).map(String::as_str);
    if history
        != Some(if request.include_history {
            "true"
        } else {
            "false"
        })
    {
        let held = if history == Some("true") {
            "every version"
        } else {
            "current versions only"
        };
        return full(Some(format!("the target holds {held}: replaced in full")));
    }
    if previous.get(property::COLUMNS).map(String::as_str) != Some(columns) {
        return full(Some(
            "the table's columns changed in TitanRDM since the target was written: replaced in full"
                .into(),
        ));
    }
    match request
        .high_water_mark
        .clone()
        .or_else(|| previous.get(property::HIGH_WATER_MARK).cloned())
    {
        Some(mark) => merge(mark),
        None => full(Some(
            "the target holds no high-water mark (it had no rows): downloaded in full".into(),
        )),
    }
}

/// Rows per Arrow batch decoded from an export.
const BATCH_ROWS: usize = 8192;

/// What to download.
#[derive(Debug, Clone)]
pub struct DownloadRequest {
    /// Branch to read from.
    pub branch_id: i64,
    /// Target catalog (`dev`).
    pub catalog: String,
    /// Target schema (`rdmin`).
    pub schema: String,
    /// Exact domain name (`Clinics`).
    pub domain: String,
    /// Display names to keep (`Site`); `None` = every deployed table of the domain.
    pub tables: Option<Vec<String>>,
    /// `full` or `incremental`.
    pub incremental: bool,
    /// Incremental: changes strictly after this ISO 8601 instant; `None` = the mark stored with the target.
    pub high_water_mark: Option<String>,
    /// Every version rather than current ones.
    pub include_history: bool,
    /// Correlation code for every export; default `convention-download-{table}`.
    pub correlation_code: Option<String>,
    /// How exports are polled.
    pub poll: PollConfig,
}

/// What to upload.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    /// Branch to write to.
    pub branch_id: i64,
    /// Source catalog (`dev`).
    pub catalog: String,
    /// Source schema (`rdmout`).
    pub schema: String,
    /// Exact domain name.
    pub domain: String,
    /// Display names to keep; `None` = every deployed table.
    pub tables: Option<Vec<String>>,
    /// Import pattern for every table.
    pub pattern: ImportPattern,
    /// Batch description; default `Convention sync upload from {schema}`.
    pub description: Option<String>,
    /// Batch correlation code; default `convention-upload-{schema}`.
    pub correlation_code: Option<String>,
    /// Keep the incumbent's behaviour: send the valid tables and complete the batch even if others failed.
    pub allow_partial: bool,
    /// What is checked against the branch's current records before anything is sent.
    pub checks: UploadChecks,
    /// How import results are polled.
    pub poll: PollConfig,
}

/// What an upload checks before it writes, from its [plan](crate::plan): by default a `full` upload that
/// would delete more than half of a table's current records is refused, and a table the upload would not
/// change is skipped. Both cost one full export per table, taken while the source is read; with
/// `allow_mass_delete` and `upload_unchanged` (and no `plan_only`) no plan is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadChecks {
    /// Only plan: every table's result has status `planned` and its plan; nothing is created on the
    /// server (no import batch, no import table).
    pub plan_only: bool,
    /// Let a `full` upload delete more than half of a table's current records.
    pub allow_mass_delete: bool,
    /// Send a table even when its plan changes nothing.
    pub upload_unchanged: bool,
}

impl UploadChecks {
    fn plans(&self) -> bool {
        self.plan_only || !self.allow_mass_delete || !self.upload_unchanged
    }
}

/// Whether a `full` upload's plan deletes so much that it needs `allow_mass_delete`: more than half of
/// the table's current records (so also all of a one-record table).
fn is_mass_delete(plan: &TablePlan) -> bool {
    plan.deleted > 0 && plan.deleted.saturating_mul(2) > plan.current
}

/// The outcome of an upload.
#[derive(Debug, Clone)]
pub struct UploadReport {
    /// One result per table of the manifest.
    pub tables: Vec<TableResult>,
    /// The import batch, if one was created.
    pub import_id: Option<i64>,
    /// An open batch under the same correlation code that an earlier run left behind (stopped before it
    /// completed it), closed by this run so that its files are never announced later: its unannounced
    /// tables are marked failed and it is completed. Tables of it TitanRDM had applied stay applied; this
    /// run's batch carries every table again.
    pub abandoned_import_id: Option<i64>,
    /// The batch's final status (`completed`, `completed_with_errors`, `failed`), or `created` when the
    /// engine left it uncompleted.
    pub import_status: Option<String>,
}

/// Moves domains between TitanRDM and a catalog.
pub struct SyncEngine {
    client: Client,
    catalog: Arc<dyn Catalog>,
    reporter: Arc<dyn Reporter>,
    concurrency: usize,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("catalog", &self.catalog)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// Failure of one table: before/while talking to TitanRDM, or while writing to the catalog.
enum Failure {
    Remote(String),
    Write(String),
}

impl From<trdm_client::Error> for Failure {
    fn from(e: trdm_client::Error) -> Self {
        Failure::Remote(e.to_string())
    }
}

#[derive(Default)]
struct Tally {
    rows: AtomicU64,
    bytes: AtomicU64,
    max_created: AtomicI64,
    decode_error: Mutex<Option<String>>,
}

impl SyncEngine {
    /// An engine over `client` and `catalog`, running 4 tables at a time.
    pub fn new(client: Client, catalog: Arc<dyn Catalog>) -> Self {
        SyncEngine {
            client,
            catalog,
            reporter: Arc::new(NoReporter),
            concurrency: 4,
        }
    }

    /// Sends progress to `reporter`.
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// How many tables move at once (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Downloads a domain. Per-table failures are in the results; `Err` means nothing could start (e.g. the
    /// domain or a table name does not exist).
    pub async fn download(&self, request: &DownloadRequest) -> Result<Vec<TableResult>> {
        let m = manifest(
            &self.client,
            request.branch_id,
            &request.domain,
            request.tables.as_deref(),
        )
        .await?;
        self.catalog
            .create_schema(&request.catalog, &request.schema)
            .await?;
        // Create every export first so the server prepares them in parallel.
        let created: Vec<_> = stream::iter(m.tables.iter())
            .map(|t| self.start_export(t, request))
            .buffered(16)
            .collect()
            .await;
        // Every export is polled at once (a status check is a cheap GET), so each is noticed as soon as it is
        // ready; only transfer, decoding and writing are bounded by `concurrency`.
        let transfers = tokio::sync::Semaphore::new(self.concurrency);
        let results = stream::iter(m.tables.iter().zip(created))
            .map(|(t, started)| self.finish_download(&m, t, request, started, &transfers))
            .buffered(m.tables.len().max(1))
            .collect()
            .await;
        Ok(results)
    }

    async fn start_export(
        &self,
        t: &ManifestTable,
        request: &DownloadRequest,
    ) -> std::result::Result<(Export, WritePlan), String> {
        let target = t.target(&request.catalog, &request.schema);
        self.reporter.table_started(&target.to_string());
        let previous = match self.catalog.properties(&target).await {
            Ok(p) => Some(p),
            Err(Error::TableNotFound { .. }) => None,
            Err(e) => return Err(e.to_string()),
        };
        let columns = schema_fingerprint(&export_schema(&t.table));
        let plan = plan_write(request, previous.as_ref(), &columns);
        let key = &t.definition.key;
        let mut export = match &plan.since {
            Some(mark) => ExportRequest::incremental(request.branch_id, key.clone(), mark.clone()),
            None => ExportRequest::full(request.branch_id, key.clone()),
        }
        .with_history(request.include_history);
        let code = request
            .correlation_code
            .clone()
            .unwrap_or_else(|| format!("convention-download-{}", t.definition.database_table_name));
        export = export.with_correlation_code(code);
        self.reporter.phase(&target.to_string(), Phase::Exporting);
        let created = self
            .client
            .create_export(&export)
            .await
            .map_err(|e| e.to_string())?;
        Ok((created, plan))
    }

    async fn finish_download(
        &self,
        m: &Manifest,
        t: &ManifestTable,
        request: &DownloadRequest,
        started: std::result::Result<(Export, WritePlan), String>,
        transfers: &tokio::sync::Semaphore,
    ) -> TableResult {
        let clock = Instant::now();
        let target = t.target(&request.catalog, &request.schema);
        let mut result = TableResult::new(
            &m.domain_name,
            &t.definition.database_table_name,
            &t.definition.name,
            target.to_string(),
        );
        let outcome = match started {
            Err(message) => Err(Failure::Remote(message)),
            Ok((export, plan)) => {
                result.export_id = Some(export.id);
                result.note = plan.note.clone();
                match self.client.wait_for_export(export.id, &request.poll).await {
                    Err(e) => Err(Failure::from(e)),
                    Ok(ready) => {
                        let _slot = transfers
                            .acquire()
                            .await
                            .expect("the semaphore is never closed");
                        self.download_into(m, t, request, &target, ready, &plan, &mut result)
                            .await
                    }
                }
            }
        };
        match outcome {
            Ok(()) => {}
            Err(Failure::Remote(m)) => result.status = TableStatus::Error(m),
            Err(Failure::Write(m)) => result.status = TableStatus::WriteError(m),
        }
        if result.status.is_failure() {
            result.rows = 0;
        }
        result.duration = clock.elapsed();
        tracing::info!(table = %result.target, rows = result.rows, status = %result.status.as_incumbent_str(), "downloaded");
        self.reporter.table_finished(&result);
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn download_into(
        &self,
        m: &Manifest,
        t: &ManifestTable,
        request: &DownloadRequest,
        target: &TableRef,
        export: Export,
        plan: &WritePlan,
        result: &mut TableResult,
    ) -> std::result::Result<(), Failure> {
        let name = target.to_string();
        self.reporter.phase(&name, Phase::Transferring);
        let bytes = self.client.download_export(&export).await?;
        let schema = export_schema(&t.table);
        let tally = Arc::new(Tally::default());
        // A merge keeps what the table held up to the export's mark, so the new mark is at least that one;
        // a replaced table holds only what this export carried.
        let since = plan
            .since
            .as_deref()
            .and_then(trdm_format::temporal::parse_timestamptz);
        tally
            .max_created
            .store(since.unwrap_or(i64::MIN), Ordering::Relaxed);
        let merge = plan.since.is_some();
        let data = decode_stream(
            bytes,
            &t.table,
            schema.clone(),
            tally.clone(),
            self.reporter.clone(),
            name.clone(),
        );

        let properties = {
            let tally = tally.clone();
            let mut base = Properties::new();
            base.insert(property::BRANCH_ID.into(), request.branch_id.to_string());
            base.insert(property::TABLE_KEY.into(), t.definition.key.clone());
            base.insert(property::DOMAIN.into(), m.domain_name.clone());
            base.insert(
                property::INCLUDE_HISTORY.into(),
                request.include_history.to_string(),
            );
            base.insert(property::EXPORT_ID.into(), export.id.to_string());
            base.insert(property::COLUMNS.into(), schema_fingerprint(&schema));
            move || {
                let mut p = base.clone();
                let mark = tally.max_created.load(Ordering::Relaxed);
                if mark != i64::MIN {
                    let mut text = String::new();
                    trdm_format::temporal::format_timestamptz(mark, &mut text);
                    p.insert(property::HIGH_WATER_MARK.into(), text);
                }
                p
            }
        };
        let written = if merge {
            let key = if request.include_history {
                "trdm_sk"
            } else {
                "trdm_record_id"
            };
            let spec = MergeSpec {
                key_columns: vec![key.to_owned()],
                delete_column: (!request.include_history).then(|| "trdm_is_deleted".to_owned()),
            };
            let data = if request.include_history {
                // New versions arrive, but the versions they replace were written before the mark and do not:
                // close those in the target (state H, effective_to = the change time), as TitanRDM did.
                match close_superseded(self.catalog.as_ref(), target, data).await {
                    Ok(data) => data,
                    Err(e) => {
                        if let Some(decode) = tally.decode_error.lock().expect("tally").take() {
                            return Err(Failure::Remote(format!(
                                "the export file of {} is invalid: {decode}",
                                t.definition.name
                            )));
                        }
                        return Err(Failure::Write(e.to_string()));
                    }
                }
            } else {
                data
            };
            self.catalog
                .merge(target, schema, data, &spec, &properties)
                .await
        } else {
            self.catalog
                .overwrite(target, schema, data, &properties)
                .await
        };
        if let Err(e) = written {
            if let Some(decode) = tally.decode_error.lock().expect("tally").take() {
                return Err(Failure::Remote(format!(
                    "the export file of {} is invalid: {decode}",
                    t.definition.name
                )));
            }
            return Err(Failure::Write(e.to_string()));
        }
        result.rows = tally.rows.load(Ordering::Relaxed);
        result.bytes = tally.bytes.load(Ordering::Relaxed);
        result.high_water_mark = properties().get(property::HIGH_WATER_MARK).cloned();
        result.applied = Some(true);
        Ok(())
    }

    /// Uploads a domain. `Err` means nothing could start (e.g. the domain does not exist).
    pub async fn upload(&self, request: &UploadRequest) -> Result<UploadReport> {
        let m = manifest(
            &self.client,
            request.branch_id,
            &request.domain,
            request.tables.as_deref(),
        )
        .await?;
        let work = tempfile::tempdir()?;
        // Phase 1: read and validate every table into a file; nothing is sent yet.
        let prepared: Vec<(TableResult, Option<PathBuf>)> =
            stream::iter(m.tables.iter().enumerate())
                .map(|(i, t)| self.prepare_checked(&m, t, request, work.path(), i))
                .buffered(self.concurrency)
                .collect()
                .await;
        let (mut results, files): (Vec<TableResult>, Vec<Option<PathBuf>>) =
            prepared.into_iter().unzip();
        if results
            .iter()
            .all(|r| r.status == TableStatus::SkippedNoSourceData)
        {
            // Nothing to upload because nothing is there: a mistyped schema, not a successful sync.
            let looked: Vec<&str> = results.iter().map(|r| r.target.as_str()).collect();
            return Err(Error::Invalid(format!(
                "nothing to upload: no source table exists (looked for {})",
                looked.join(", ")
            )));
        }
        let invalid: Vec<String> = results
            .iter()
            .filter(|r| r.status.is_failure())
            .map(|r| r.table.clone())
            .collect();
        if !invalid.is_empty() && !request.allow_partial {
            for (r, f) in results.iter_mut().zip(&files) {
                if f.is_some() {
                    r.status = TableStatus::Error(format!(
                        "not uploaded: {} failed validation, so no import batch was created",
                        invalid.join(", ")
                    ));
                    r.rows = 0;
                }
            }
            self.finish_all(&results);
            return Ok(UploadReport {
                tables: results,
                import_id: None,
                import_status: None,
                abandoned_import_id: None,
            });
        }
        let sendable: Vec<usize> = (0..results.len()).filter(|&i| files[i].is_some()).collect();
        let code = request
            .correlation_code
            .clone()
            .unwrap_or_else(|| format!("convention-upload-{}", request.schema));
        if sendable.is_empty() {
            // Nothing to send because everything is in place already (a rerun after a run that applied its
            // tables but was stopped before completing its batch): still close that run's batch.
            let in_place = !request.checks.plan_only
                && results
                    .iter()
                    .any(|r| r.status == TableStatus::SkippedUnchanged);
            let abandoned_import_id = if in_place {
                self.abandon_open_batch(&code).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot check for a batch left open by an earlier run");
                    None
                })
            } else {
                None
            };
            self.finish_all(&results);
            return Ok(UploadReport {
                tables: results,
                import_id: None,
                import_status: None,
                abandoned_import_id,
            });
        }
        // Phase 2: one batch, every file uploaded.
        let description = request
            .description
            .clone()
            .unwrap_or_else(|| format!("Convention sync upload from {}", request.schema));
        let abandoned_import_id = match self.abandon_open_batch(&code).await {
            Ok(abandoned) => abandoned,
            Err(e) => {
                for &i in &sendable {
                    results[i].status = TableStatus::Error(format!(
                        "cannot check for a batch left open by an earlier run: {e}"
                    ));
                    results[i].rows = 0;
                }
                self.finish_all(&results);
                return Ok(UploadReport {
                    tables: results,
                    import_id: None,
                    import_status: None,
                    abandoned_import_id: None,
                });
            }
        };
        let import = match self
            .client
            .create_import(
                &ImportRequest::new(request.branch_id)
                    .with_description(description)
                    .with_correlation_code(code),
            )
            .await
        {
            Ok(import) => import,
            Err(e) => {
                for &i in &sendable {
                    results[i].status =
                        TableStatus::Error(format!("cannot create the import batch: {e}"));
                    results[i].rows = 0;
                }
                self.finish_all(&results);
                return Ok(UploadReport {
                    tables: results,
                    import_id: None,
                    import_status: None,
                    abandoned_import_id,
                });
            }
        };
        let uploads: Vec<std::result::Result<i64, (Option<i64>, String)>> =
            stream::iter(sendable.iter().copied())
                .map(|i| {
                    let t = &m.tables[i];
                    let file = files[i].clone().expect("sendable tables have a file");
                    self.send_table(import.id, t, request, file)
                })
                .buffered(self.concurrency)
                .collect()
                .await;
        for (&i, sent) in sendable.iter().zip(&uploads) {
            results[i].import_id = Some(import.id);
            match sent {
                Ok(id) => results[i].import_table_id = Some(*id),
                Err((id, message)) => {
                    results[i].import_table_id = *id;
                    results[i].status = TableStatus::Error(message.clone());
                    results[i].rows = 0;
                }
            }
        }
        let all_sent = uploads.iter().all(|u| u.is_ok());
        if !all_sent && !request.allow_partial {
            let reason = "another table of this import failed to upload; nothing was applied";
            for (&i, sent) in sendable.iter().zip(&uploads) {
                let id = match sent {
                    Ok(id) => Some(*id),
                    Err((id, _)) => *id,
                };
                if let Some(id) = id {
                    let _ = self.client.upload_failed(id, reason).await;
                }
                if sent.is_ok() {
                    results[i].status = TableStatus::Error(format!("not applied: {reason}"));
                    results[i].rows = 0;
                }
            }
            self.finish_all(&results);
            return Ok(UploadReport {
                tables: results,
                import_id: Some(import.id),
                import_status: Some("created".into()),
                abandoned_import_id,
            });
        }
        // Phase 3: announce the files; TitanRDM applies each in one transaction.
        // Only announced files are waited for: one never announced stays `created` however long one waits.
        let mut announced = Vec::new();
        for (&i, sent) in sendable.iter().zip(&uploads) {
            if let Ok(id) = sent {
                self.reporter.phase(&results[i].target, Phase::Importing);
                if let Err(e) = self.client.upload_complete(*id).await {
                    results[i].status = TableStatus::Error(e.to_string());
                    results[i].rows = 0;
                    // Settle it: if TitanRDM did not take the announcement, the file is marked failed; if it
                    // refuses that, the announcement did arrive, and its outcome is waited for.
                    let reason = format!("announcing the file failed: {e}");
                    if self.client.upload_failed(*id, &reason).await.is_ok() {
                        continue;
                    }
                }
                announced.push(*id);
            }
        }
        let settled = self.wait_tables(import.id, &announced, &request.poll).await;
        let mut all_ok = true;
        match &settled {
            Ok(tables) => {
                for &i in &sendable {
                    let Some(id) = results[i].import_table_id else {
                        continue;
                    };
                    match tables.iter().find(|t| t.id == id) {
                        Some(t) => {
                            results[i].inserted = t.insert_row_count;
                            results[i].updated = t.update_row_count;
                            results[i].deleted = t.delete_row_count;
                            let completed = t.status.as_str() == "completed";
                            results[i].applied = Some(completed);
                            if !completed && !results[i].status.is_failure() {
                                results[i].status =
                                    TableStatus::Error(t.message.clone().unwrap_or_else(|| {
                                        format!("import table {id} {}", t.status.as_str())
                                    }));
                                results[i].rows = 0;
                            }
                        }
                        None if !results[i].status.is_failure() => {
                            results[i].status = TableStatus::Error(format!(
                                "import table {id} is missing from the results of import {}; \
                                 whether TitanRDM applied it is unknown",
                                import.id
                            ));
                            results[i].applied = None;
                            results[i].rows = 0;
                        }
                        None => {}
                    }
                    all_ok &= !results[i].status.is_failure();
                }
            }
            Err(e) => {
                all_ok = false;
                for &i in &sendable {
                    if !results[i].status.is_failure() {
                        results[i].status = TableStatus::Error(format!(
                            "waiting for the import failed: {e}; TitanRDM may still apply the file"
                        ));
                        results[i].applied = None;
                        results[i].rows = 0;
                    }
                }
            }
        }
        if !all_ok && !request.allow_partial {
            // TitanRDM applies each table when its file is announced, so the tables before a failure stay
            // applied: say so on the failures, since the batch's being left open undoes nothing.
            let applied: Vec<&str> = sendable
                .iter()
                .filter(|&&i| results[i].applied == Some(true))
                .map(|&i| results[i].display_name.as_str())
                .collect();
            if !applied.is_empty() {
                let note = format!(
                    "TitanRDM applied {} before this failure; the import batch was left open",
                    applied.join(", ")
                );
                for &i in &sendable {
                    if results[i].status.is_failure() {
                        results[i].note = Some(note.clone());
                    }
                }
            }
        }
        let import_status = if all_ok || request.allow_partial {
            match self
                .client
                .complete_import(import.id, Some("Convention sync upload completed"))
                .await
            {
                Ok(_) => match self.client.wait_for_import(import.id, &request.poll).await {
                    Ok(r) => Some(r.import.status.as_str().to_owned()),
                    Err(e) => Some(format!("unknown ({e})")),
                },
                Err(e) => Some(format!("not completed ({e})")),
            }
        } else {
            Some("created".into())
        };
        self.finish_all(&results);
        Ok(UploadReport {
            tables: results,
            import_id: Some(import.id),
            import_status,
            abandoned_import_id,
        })
    }

    /// Closes the newest batch under `code` if it is still open (`created`): a run of this sync stopped
    /// (killed, crashed, lost its connection) between creating it and completing it. Its tables that were
    /// never announced are marked failed, so no file of it can be applied later; announced ones are
    /// TitanRDM's already. Returns its id.
    async fn abandon_open_batch(&self, code: &str) -> trdm_client::Result<Option<i64>> {
        let Some(open) = self.client.newest_import(code).await? else {
            return Ok(None);
        };
        if open.status != trdm_client::ImportStatus::Created {
            return Ok(None);
        }
        let reason = "abandoned: a later run of the same sync replaced this batch";
        for table in self.client.import_results(open.id).await?.tables {
            if table.status == trdm_client::ImportTableStatus::Created {
                self.client.upload_failed(table.id, reason).await?;
            }
        }
        self.client.complete_import(open.id, Some(reason)).await?;
        tracing::warn!(
            import = open.id,
            "closed an import batch an earlier run left open"
        );
        Ok(Some(open.id))
    }

    fn finish_all(&self, results: &[TableResult]) {
        for r in results {
            tracing::info!(table = %r.target, rows = r.rows, status = %r.status.as_incumbent_str(), "uploaded");
            self.reporter.table_finished(r);
        }
    }

    /// Polls the batch until each of the `tables` is terminal; returns every table of the batch.
    async fn wait_tables(
        &self,
        import_id: i64,
        tables: &[i64],
        poll: &PollConfig,
    ) -> trdm_client::Result<Vec<trdm_client::ImportTable>> {
        let started = Instant::now();
        let mut interval = poll.poll_interval;
        loop {
            let results = self.client.import_results(import_id).await?;
            if results
                .tables
                .iter()
                .all(|t| t.status.is_terminal() || !tables.contains(&t.id))
            {
                return Ok(results.tables);
            }
            if started.elapsed() >= poll.max_wait {
                // (An elapsed time never reaches a `max_wait` too long for the clock: no deadline.)
                return Err(trdm_client::Error::Timeout {
                    what: format!("import {import_id}"),
                    last_status: "processing".into(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(interval).await;
            interval = poll.next_wait(interval);
        }
    }

    /// [`prepare_upload`](Self::prepare_upload), and, when the request's checks need it, the table's plan
    /// against a full export fetched at the same time; the checks decide whether the file is sent.
    async fn prepare_checked(
        &self,
        m: &Manifest,
        t: &ManifestTable,
        request: &UploadRequest,
        work: &std::path::Path,
        i: usize,
    ) -> (TableResult, Option<PathBuf>) {
        let file = work.join(format!("{i}.csv"));
        if !request.checks.plans() {
            return self.prepare_upload(m, t, request, file).await;
        }
        let current_file = work.join(format!("{i}.current.csv"));
        let (prepared, current) = tokio::join!(
            self.prepare_upload(m, t, request, file),
            self.fetch_current(t, request, current_file)
        );
        let (mut result, file) = prepared;
        let Some(file) = file else {
            return (result, None);
        };
        let current = match current {
            Ok(current) => current,
            Err(e) => {
                result.status = TableStatus::Error(format!(
                    "cannot plan the upload: exporting the current records failed: {e}"
                ));
                result.rows = 0;
                return (result, None);
            }
        };
        let table = t.table.clone();
        let pattern = request.pattern;
        let manual = t.definition.allow_manual_rows.unwrap_or(false);
        let upload = file.clone();
        let planned = tokio::task::spawn_blocking(move || {
            plan_table(&table, pattern, manual, &current, &upload, SAMPLE_CHANGES)
        })
        .await
        .map_err(|e| Error::Invalid(format!("planning failed: {e}")))
        .and_then(|r| r);
        let plan = match planned {
            Ok(plan) => plan,
            Err(e) => {
                result.status = TableStatus::Error(format!("cannot plan the upload: {e}"));
                result.rows = 0;
                return (result, None);
            }
        };
        let checks = request.checks;
        let refused =
            pattern == ImportPattern::Full && !checks.allow_mass_delete && is_mass_delete(&plan);
        let refusal = format!(
            "this full upload would delete {} of the {} current records of {} (more than half); allow \
             it with --allow-mass-delete (Python: allow_mass_delete=True)",
            plan.deleted, plan.current, t.definition.name
        );
        let send = if checks.plan_only {
            result.status = TableStatus::Planned;
            if refused {
                result.note = Some(format!("the upload would be refused: {refusal}"));
            }
            false
        } else if refused {
            result.status = TableStatus::Error(format!("refused, nothing was sent: {refusal}"));
            result.rows = 0;
            false
        } else if !plan.changes_anything() && !checks.upload_unchanged {
            result.status = TableStatus::SkippedUnchanged;
            false
        } else {
            true
        };
        result.plan = Some(plan);
        (result, send.then_some(file))
    }

    /// The table's current records on the branch: a full export, saved to `path`.
    async fn fetch_current(
        &self,
        t: &ManifestTable,
        request: &UploadRequest,
        path: PathBuf,
    ) -> std::result::Result<PathBuf, String> {
        let export =
            ExportRequest::full(request.branch_id, t.definition.key.clone()).with_correlation_code(
                format!("convention-plan-{}", t.definition.database_table_name),
            );
        let created = self
            .client
            .create_export(&export)
            .await
            .map_err(|e| e.to_string())?;
        let ready = self
            .client
            .wait_for_export(created.id, &request.poll)
            .await
            .map_err(|e| e.to_string())?;
        let mut bytes = self
            .client
            .download_export(&ready)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = tokio::io::BufWriter::new(
            tokio::fs::File::create(&path)
                .await
                .map_err(|e| e.to_string())?,
        );
        use tokio::io::AsyncWriteExt;
        while let Some(chunk) = bytes.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            out.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        out.flush().await.map_err(|e| e.to_string())?;
        Ok(path)
    }

    async fn prepare_upload(
        &self,
        m: &Manifest,
        t: &ManifestTable,
        request: &UploadRequest,
        file: PathBuf,
    ) -> (TableResult, Option<PathBuf>) {
        let clock = Instant::now();
        let source = t.target(&request.catalog, &request.schema);
        let mut result = TableResult::new(
            &m.domain_name,
            &t.definition.database_table_name,
            &t.definition.name,
            source.to_string(),
        );
        self.reporter.table_started(&result.target);
        self.reporter.phase(&result.target, Phase::Validating);
        let read = self.catalog.read(&source).await;
        let (_, batches) = match read {
            Ok(read) => read,
            Err(Error::TableNotFound { .. }) => {
                result.status = TableStatus::SkippedNoSourceData;
                result.duration = clock.elapsed();
                return (result, None);
            }
            Err(e) => {
                result.status = TableStatus::Error(format!("cannot read {source}: {e}"));
                result.duration = clock.elapsed();
                return (result, None);
            }
        };
        let table = t.table.clone();
        let pattern = request.pattern;
        let path = file.clone();
        let encoded = encode_from_stream(batches, move |iter| {
            let out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            encode_upload(&table, pattern, iter, out)
        })
        .await;
        result.duration = clock.elapsed();
        match encoded {
            Ok(summary) if summary.rows == 0 => {
                result.status = TableStatus::SkippedEmpty;
                (result, None)
            }
            Ok(summary) => {
                result.rows = summary.rows;
                result.bytes = summary.bytes;
                (result, Some(file))
            }
            Err(e) => {
                result.status = TableStatus::Error(e.to_string());
                (result, None)
            }
        }
    }

    async fn send_table(
        &self,
        import_id: i64,
        t: &ManifestTable,
        request: &UploadRequest,
        file: PathBuf,
    ) -> std::result::Result<i64, (Option<i64>, String)> {
        let mapping = self
            .client
            .default_import_mapping(t.definition.id)
            .await
            .map_err(|e| (None, e.to_string()))?;
        let slot = self
            .client
            .create_import_table(
                &ImportTableRequest::new(
                    import_id,
                    t.definition.key.clone(),
                    mapping.key.clone(),
                    request.pattern,
                )
                .with_correlation_code(format!(
                    "convention-upload-{}",
                    t.definition.database_table_name
                )),
            )
            .await
            .map_err(|e| (None, e.to_string()))?;
        // PUT only: announcing the file (`upload_complete`) waits until every table of the batch is in place.
        let Some(url) = slot.signed_s3_url.as_ref() else {
            return Err((
                Some(slot.id),
                format!("import table {} has no signed_s3_url", slot.id),
            ));
        };
        match self
            .client
            .put_presigned(url, &UploadBody::file(file))
            .await
        {
            Ok(()) => Ok(slot.id),
            Err(e) => Err((Some(slot.id), e.to_string())),
        }
    }
}

/// Runs a synchronous consumer of batches (the upload encoder) on the blocking pool, fed from an async stream.
async fn encode_from_stream<T, F>(mut batches: BatchStream, consume: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Iterator<Item = Result<RecordBatch>>) -> Result<T> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(4);
    let worker = tokio::task::spawn_blocking(move || {
        let mut iter = std::iter::from_fn(|| rx.blocking_recv());
        consume(&mut iter)
    });
    while let Some(batch) = batches.next().await {
        if tx.send(batch).await.is_err() {
            break; // the consumer stopped early (an error); its result says why
        }
    }
    drop(tx);
    worker
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
}

/// Decodes an export byte stream into batches on the blocking pool, counting rows and bytes and tracking the
/// largest `trdm_created_at`.
fn decode_stream(
    bytes: trdm_client::ByteStream,
    table: &crate::schema::TableDef,
    schema: arrow_schema::SchemaRef,
    tally: Arc<Tally>,
    reporter: Arc<dyn Reporter>,
    name: String,
) -> BatchStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(4);
    let counted = {
        let tally = tally.clone();
        bytes.map_ok(move |b| {
            tally.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
            b
        })
    };
    let reader = SyncIoBridge::new(StreamReader::new(counted.map_err(std::io::Error::other)));
    let table = table.clone();
    tokio::task::spawn_blocking(move || {
        let decoder = match CsvDecoder::new(reader, &table, schema, BATCH_ROWS) {
            Ok(d) => d,
            Err(e) => {
                *tally.decode_error.lock().expect("tally") = Some(e.to_string());
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        for batch in decoder {
            if let Ok(b) = &batch {
                let rows = tally.rows.fetch_add(b.num_rows() as u64, Ordering::Relaxed)
                    + b.num_rows() as u64;
                if let Some(max) = b
                    .column_by_name("trdm_created_at")
                    .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
                    .and_then(arrow_max)
                {
                    tally.max_created.fetch_max(max, Ordering::Relaxed);
                }
                reporter.progress(&name, rows);
            } else if let Err(e) = &batch {
                *tally.decode_error.lock().expect("tally") = Some(e.to_string());
            }
            if tx.blocking_send(batch).is_err() {
                return;
            }
        }
    });
    Box::pin(stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (b, rx))
    }))
}

fn arrow_max(a: &TimestampMicrosecondArray) -> Option<i64> {
    (0..a.len())
        .filter(|&i| a.is_valid(i))
        .map(|i| a.value(i))
        .max()
}

/// For an incremental history download: the incoming versions plus, for every record they touch, the
/// target's current version of that record closed at the record's first incoming change.
async fn close_superseded(
    catalog: &dyn Catalog,
    target: &TableRef,
    data: BatchStream,
) -> Result<BatchStream> {
    use std::collections::{HashMap, HashSet};

    use arrow_array::{BooleanArray, Int64Array, StringArray};
    use arrow_select::filter::filter_record_batch;

    let incoming: Vec<RecordBatch> = data.try_collect().await?;
    let column = |b: &RecordBatch, name: &str| b.column_by_name(name).cloned();
    let mut first_change: HashMap<i64, i64> = HashMap::new();
    let mut incoming_sks: HashSet<i64> = HashSet::new();
    for b in &incoming {
        let (Some(records), Some(sks), Some(from)) = (
            column(b, "trdm_record_id"),
            column(b, "trdm_sk"),
            column(b, "trdm_effective_from"),
        ) else {
            return Err(Error::SchemaMismatch(
                "history rows need trdm_record_id, trdm_sk, trdm_effective_from".into(),
            ));
        };
        let records = records
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("export schema: Int64");
        let sks = sks
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("export schema: Int64");
        let from = from
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("export schema: timestamp");
        for i in 0..b.num_rows() {
            incoming_sks.insert(sks.value(i));
            let at = first_change
                .entry(records.value(i))
                .or_insert(from.value(i));
            *at = (*at).min(from.value(i));
        }
    }
    let mut closed = Vec::new();
    if !first_change.is_empty() {
        let (_, mut current) = catalog.read(target).await?;
        while let Some(batch) = current.next().await {
            let batch = batch?;
            let records = batch
                .column_by_name("trdm_record_id")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
            let sks = batch
                .column_by_name("trdm_sk")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
            let states = batch
                .column_by_name("trdm_state")
                .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
            let (Some(records), Some(sks), Some(states)) = (records, sks, states) else {
                return Err(Error::SchemaMismatch(format!(
                    "{target} is not a history table"
                )));
            };
            let keep: BooleanArray = (0..batch.num_rows())
                .map(|i| {
                    Some(
                        states.value(i) == "C"
                            && first_change.contains_key(&records.value(i))
                            && !incoming_sks.contains(&sks.value(i)),
                    )
                })
                .collect();
            let superseded = filter_record_batch(&batch, &keep)?;
            if superseded.num_rows() == 0 {
                continue;
            }
            let schema = superseded.schema();
            let records = superseded
                .column_by_name("trdm_record_id")
                .expect("present")
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("Int64")
                .clone();
            let mut columns = superseded.columns().to_vec();
            let state_index = schema.index_of("trdm_state")?;
            columns[state_index] = Arc::new(StringArray::from(vec!["H"; superseded.num_rows()]));
            let to_index = schema.index_of("trdm_effective_to")?;
            let ends: TimestampMicrosecondArray = (0..superseded.num_rows())
                .map(|i| first_change.get(&records.value(i)).copied())
                .collect();
            columns[to_index] = Arc::new(ends.with_timezone("UTC"));
            closed.push(RecordBatch::try_new(schema, columns)?);
        }
    }
    Ok(Box::pin(stream::iter(
        closed.into_iter().chain(incoming).map(Ok),
    )))
}
