//! Background work: writing export files and applying uploaded table files, each after the configured delay,
//! at most `job_concurrency` at a time. Jobs read their inputs from the catalog, so a restart resumes them by id.

use std::fs::File;

use crate::catalog::{self, Counts};
use crate::error::{ApiError, ApiResult};
use crate::records::{self, ApplyError, ExportSelection, ImportPattern, ImportSpec};
use crate::state::AppState;
use crate::time::now;

pub(crate) fn spawn_export(state: &AppState, id: i64) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = run_export(&state, id).await {
            tracing::error!(export = id, error = %e, "export job failed");
        }
    });
}

pub(crate) fn spawn_import_table(state: &AppState, id: i64) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = run_import_table(&state, id).await {
            tracing::error!(import_table = id, error = %e, "import job failed");
        }
    });
}

/// Picks up the jobs a previous run left unfinished.
pub(crate) async fn resume(state: &AppState) -> ApiResult<()> {
    let (exports, tables, imports) = state
        .db
        .catalog(|c| {
            Ok((
                catalog::unfinished_exports(c)?,
                catalog::unfinished_import_tables(c)?,
                catalog::processing_imports(c)?,
            ))
        })
        .await?;
    for id in exports {
        spawn_export(state, id);
    }
    for id in tables {
        spawn_import_table(state, id);
    }
    for id in imports {
        state
            .db
            .catalog(move |c| catalog::settle_import(c, id, now()))
            .await?;
    }
    Ok(())
}

async fn run_export(state: &AppState, id: i64) -> ApiResult<()> {
    state
        .db
        .catalog(move |c| catalog::mark_export_started(c, id, now()))
        .await?;
    // The delay stands for the service's latency, not for work: exports wait it out side by side, and only
    // writing the file takes one of the `job_concurrency` slots.
    if !state.config.export_delay.is_zero() {
        tokio::time::sleep(state.config.export_delay).await;
    }
    let _slot = state
        .job_slots
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (export, table) = state
        .db
        .catalog(move |c| {
            let export = catalog::export(c, id)?;
            let table = catalog::table(c, export.table_id)?;
            Ok((export, table))
        })
        .await?;
    let path = state.export_path(id);
    let outcome = state
        .db
        .records(move |c| {
            let partial = path.with_extension("csv.part");
            let selection = ExportSelection {
                high_water_mark: export.hwm_micros,
                include_history: export.include_history,
            };
            let written = File::create(&partial)
                .map_err(|e| ApplyError::Rejected(format!("cannot create the export file: {e}")))
                .and_then(|file| records::write_export(c, &table, selection, file));
            match written {
                Ok(counts) => {
                    std::fs::rename(&partial, &path)?;
                    Ok(Ok(counts))
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    Ok(Err(e.to_string()))
                }
            }
        })
        .await?;
    if let Err(message) = &outcome {
        tracing::warn!(export = id, %message, "export failed");
    }
    state
        .db
        .catalog(move |c| catalog::finish_export(c, id, outcome, now()))
        .await
}

async fn run_import_table(state: &AppState, id: i64) -> ApiResult<()> {
    let _slot = state
        .job_slots
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !state.config.import_delay.is_zero() {
        tokio::time::sleep(state.config.import_delay).await;
    }
    // One transaction: `upload_failed` may be racing this check, and only one of the two may win.
    let loaded = state
        .db
        .catalog_tx(move |c| {
            let it = catalog::import_table(c, id)?;
            if it.status != "uploaded" && it.status != "processing" {
                return Ok(None);
            }
            catalog::start_import_table(c, id, now())?;
            let table = catalog::table(c, it.table_id)?;
            let mapping = catalog::mapping(c, it.mapping_id)?;
            Ok(Some((it, table, mapping)))
        })
        .await?;
    let Some((it, table, mapping)) = loaded else {
        return Ok(());
    };
    let path = state.upload_path(id);
    let import_id = it.import_id;
    let outcome: Result<Counts, String> = state
        .db
        .records(move |c| {
            if let Some(counts) = records::applied_counts(c, id)? {
                return Ok(Ok(counts));
            }
            let Some(pattern) = ImportPattern::parse(&it.pattern) else {
                return Ok(Err(format!(
                    "unknown pattern {:?}; expected one of {}",
                    it.pattern,
                    ImportPattern::NAMES
                )));
            };
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) => return Ok(Err(format!("the uploaded file cannot be read: {e}"))),
            };
            let spec = ImportSpec {
                table: &table,
                mapping: &mapping.config,
                pattern,
                actor_type: crate::decisions::IMPORT_ACTOR_TYPE,
                actor_id: it.import_id,
                import_table_id: Some(id),
            };
            Ok(records::apply_file(c, &spec, file).map_err(|e| e.to_string()))
        })
        .await?;
    match &outcome {
        Ok(c) => tracing::info!(
            import_table = id,
            inserted = c.inserted,
            updated = c.updated,
            deleted = c.deleted,
            "applied"
        ),
        Err(message) => tracing::info!(import_table = id, %message, "rejected"),
    }
    state
        .db
        .catalog(move |c| {
            catalog::finish_import_table(c, id, &outcome, now())?;
            catalog::settle_import(c, import_id, now())
        })
        .await
}
