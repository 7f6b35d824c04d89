//! Uploads.
//!
//! Every source table is read and validated against its column definitions into a temporary file BEFORE
//! anything is sent: a missing table is `skipped (no source data)`, any other read error is an error. If any
//! table fails validation, no import batch is created at all (unless `allow_partial`). Otherwise one batch,
//! every file uploaded; only when every upload succeeded are the tables announced with `upload_complete`;
//! if one failed, every table is marked `upload_failed` and the batch is left uncompleted. The engine then
//! waits for TitanRDM to process each table and completes the batch only if every table succeeded.

use std::path::PathBuf;
use std::time::Instant;

use futures_util::{StreamExt, stream};
use trdm_client::{ExportRequest, ImportRequest, ImportTableRequest, PollConfig};

use super::SyncEngine;
use crate::codec::ImportPattern;
use crate::error::{Error, Result};
use crate::manifest::{Manifest, ManifestTable, manifest};
use crate::plan::{CurrentRecords, SAMPLE_CHANGES, TablePlan, plan_against};
use crate::report::{Phase, TableResult, TableStatus};
use crate::transfer;

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

impl SyncEngine {
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
        // Pass 1 of the plan (indexing the current records) runs as soon as the export is saved, beside the
        // reading and encoding of the source; pass 2 needs the upload file.
        let indexed = async {
            let path = self
                .fetch_current(t, request, current_file)
                .await
                .map_err(|e| format!("exporting the current records failed: {e}"))?;
            let table = t.table.clone();
            tokio::task::spawn_blocking(move || CurrentRecords::read(&table, &path))
                .await
                .map_err(|e| format!("planning failed: {e}"))?
                .map_err(|e| format!("reading the current records failed: {e}"))
        };
        let (prepared, current) = tokio::join!(self.prepare_upload(m, t, request, file), indexed);
        let (mut result, file) = prepared;
        let Some(file) = file else {
            return (result, None);
        };
        let current = match current {
            Ok(current) => current,
            Err(e) => {
                result.status = TableStatus::Error(format!("cannot plan the upload: {e}"));
                result.rows = 0;
                return (result, None);
            }
        };
        let table = t.table.clone();
        let pattern = request.pattern;
        let manual = t.definition.allow_manual_rows.unwrap_or(false);
        let upload = file.clone();
        let planned = tokio::task::spawn_blocking(move || {
            plan_against(&table, pattern, manual, current, &upload, SAMPLE_CHANGES)
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
        let bytes = self
            .client
            .download_export(&ready)
            .await
            .map_err(|e| e.to_string())?;
        transfer::save(bytes, &path)
            .await
            .map_err(|e| e.to_string())?;
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
        let encoded = transfer::encode_upload_file(&t.table, request.pattern, batches, &file).await;
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
        match transfer::put_file(&self.client, &slot, &file).await {
            Ok(()) => Ok(slot.id),
            Err(e) => Err((Some(slot.id), e.to_string())),
        }
    }
}
