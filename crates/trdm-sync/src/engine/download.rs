//! Downloads.
//!
//! Every export of the domain is created at once, so TitanRDM prepares them in parallel, and all are polled
//! at once; as each completes it is streamed from HTTP through the codec into the catalog write, at most
//! `concurrency` tables at a time. A `full` download overwrites the target atomically; an `incremental` one
//! MERGES into it by `trdm_record_id` (tombstones delete), never overwriting. The high-water mark for the
//! next incremental run is taken from the data (the largest `trdm_created_at` seen) and stored in the
//! target's properties in the same commit as the data, so it moves only when the write commits. Without a
//! stored mark (or when the target was written from another branch or with another history setting) an
//! incremental download falls back to a full one and says so in its result.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use arrow_array::{Array, RecordBatch, TimestampMicrosecondArray};
use futures_util::{StreamExt, TryStreamExt, stream};
use trdm_client::{Export, ExportPattern, PollConfig};

use super::{Failure, SyncEngine, property};
use crate::catalog::{BatchStream, Catalog, MergeSpec, Properties, TableRef};
use crate::error::{Error, Result};
use crate::manifest::{Manifest, ManifestTable, manifest};
use crate::plan::{DownloadPlanSpec, SAMPLE_CHANGES, plan_download};
use crate::report::{Phase, Reporter, TableResult, TableStatus};
use crate::schema::{export_schema, schema_fingerprint};
use crate::transfer;

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
    if request.pattern == ExportPattern::Full {
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
    /// `full` replaces the target; `incremental` merges the changes since the high-water mark into it.
    pub pattern: ExportPattern,
    /// Incremental: changes strictly after this ISO 8601 instant; `None` = the mark stored with the target.
    pub high_water_mark: Option<String>,
    /// Every version rather than current ones.
    pub include_history: bool,
    /// Correlation code for every export; default `convention-download-{table}`.
    pub correlation_code: Option<String>,
    /// How exports are polled.
    pub poll: PollConfig,
    /// Only plan: every table's result has status `planned` and its [plan](crate::plan) (what the target
    /// would gain, change and lose); the exports are taken and read, nothing is written to the catalog.
    pub plan_only: bool,
}

#[derive(Default)]
struct Tally {
    rows: AtomicU64,
    bytes: AtomicU64,
    max_created: AtomicI64,
    decode_error: Mutex<Option<String>>,
}

impl Tally {
    /// Why the export file could not be decoded, if it could not: a write that failed because its input
    /// stopped is reported as that, not as a write error.
    fn decode_failure(&self, table: &str) -> Option<Failure> {
        let decode = self.decode_error.lock().expect("tally").take()?;
        Some(Failure::Remote(format!(
            "the export file of {table} is invalid: {decode}"
        )))
    }
}

impl SyncEngine {
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
        if !request.plan_only {
            self.catalog
                .create_schema(&request.catalog, &request.schema)
                .await?;
        }
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
        let pattern = if plan.since.is_some() {
            ExportPattern::Incremental
        } else {
            ExportPattern::Full
        };
        let mut export = transfer::export_request(
            request.branch_id,
            &t.definition.key,
            pattern,
            plan.since.clone(),
        )
        .map_err(|e| e.to_string())?
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
                        if request.plan_only {
                            self.plan_into(t, request, &target, ready, &plan, &mut result)
                                .await
                        } else {
                            self.download_into(m, t, request, &target, ready, &plan, &mut result)
                                .await
                        }
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

    /// The completed export's file as a stream of decoded batches, with the tally it keeps (rows, bytes, the
    /// largest `trdm_created_at`, starting from `mark`).
    async fn open_export(
        &self,
        t: &ManifestTable,
        target: &TableRef,
        export: &Export,
        mark: i64,
    ) -> std::result::Result<(arrow_schema::SchemaRef, Arc<Tally>, BatchStream), Failure> {
        let name = target.to_string();
        self.reporter.phase(&name, Phase::Transferring);
        let bytes = self.client.download_export(export).await?;
        let schema = export_schema(&t.table);
        let tally = Arc::new(Tally::default());
        tally.max_created.store(mark, Ordering::Relaxed);
        let data = decode_stream(
            bytes,
            &t.table,
            schema.clone(),
            tally.clone(),
            self.reporter.clone(),
            name,
        );
        Ok((schema, tally, data))
    }

    /// The plan of writing the export into `target`: what [`download_into`](Self::download_into) would do.
    async fn plan_into(
        &self,
        t: &ManifestTable,
        request: &DownloadRequest,
        target: &TableRef,
        export: Export,
        plan: &WritePlan,
        result: &mut TableResult,
    ) -> std::result::Result<(), Failure> {
        let (schema, tally, data) = self.open_export(t, target, &export, i64::MIN).await?;
        let merge = plan.since.is_some();
        let spec = DownloadPlanSpec {
            key_column: if request.include_history {
                "trdm_sk"
            } else {
                "trdm_record_id"
            }
            .to_owned(),
            delete_column: (merge && !request.include_history)
                .then(|| "trdm_is_deleted".to_owned()),
            replace: !merge,
            shown_key: t
                .table
                .columns
                .iter()
                .filter(|c| c.is_primary_key)
                .map(|c| c.name.clone())
                .collect(),
        };
        let planned = plan_download(
            self.catalog.as_ref(),
            target,
            &schema,
            data,
            &spec,
            SAMPLE_CHANGES,
        )
        .await;
        if let Some(failure) = tally.decode_failure(&t.definition.name) {
            return Err(failure);
        }
        let table_plan = planned.map_err(|e| Failure::Write(format!("cannot plan: {e}")))?;
        result.rows = tally.rows.load(Ordering::Relaxed);
        result.bytes = tally.bytes.load(Ordering::Relaxed);
        result.status = TableStatus::Planned;
        result.plan = Some(table_plan);
        Ok(())
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
        // A merge keeps what the table held up to the export's mark, so the new mark is at least that one;
        // a replaced table holds only what this export carried.
        let since = plan
            .since
            .as_deref()
            .and_then(trdm_format::temporal::parse_timestamptz);
        let (schema, tally, data) = self
            .open_export(t, target, &export, since.unwrap_or(i64::MIN))
            .await?;
        let merge = plan.since.is_some();

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
                        if let Some(failure) = tally.decode_failure(&t.definition.name) {
                            return Err(failure);
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
            if let Some(failure) = tally.decode_failure(&t.definition.name) {
                return Err(failure);
            }
            return Err(Failure::Write(e.to_string()));
        }
        result.rows = tally.rows.load(Ordering::Relaxed);
        result.bytes = tally.bytes.load(Ordering::Relaxed);
        result.high_water_mark = properties().get(property::HIGH_WATER_MARK).cloned();
        result.applied = Some(true);
        Ok(())
    }
}

/// Decodes an export byte stream into batches, counting rows and bytes and tracking the largest
/// `trdm_created_at`.
fn decode_stream(
    bytes: trdm_client::ByteStream,
    table: &crate::schema::TableDef,
    schema: arrow_schema::SchemaRef,
    tally: Arc<Tally>,
    reporter: Arc<dyn Reporter>,
    name: String,
) -> BatchStream {
    let counted = {
        let tally = tally.clone();
        bytes.map_ok(move |b| {
            tally.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
            b
        })
    };
    transfer::decode_export(Box::pin(counted), table, schema, move |batch| match batch {
        Ok(b) => {
            let rows =
                tally.rows.fetch_add(b.num_rows() as u64, Ordering::Relaxed) + b.num_rows() as u64;
            if let Some(max) = b
                .column_by_name("trdm_created_at")
                .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
                .and_then(arrow_max)
            {
                tally.max_created.fetch_max(max, Ordering::Relaxed);
            }
            reporter.progress(&name, rows);
        }
        Err(e) => *tally.decode_error.lock().expect("tally") = Some(e.to_string()),
    })
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
