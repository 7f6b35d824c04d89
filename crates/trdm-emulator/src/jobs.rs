//! Background work: writing export files and applying uploaded table files, each after the configured delay,
//! at most `job_concurrency` at a time. Jobs read their inputs from the catalog, so a restart resumes them by id.

use std::fs::File;

use crate::decisions::import_table_status;
use crate::error::{ApiError, ApiResult};
use crate::records::{self, ApplyError, ExportSelection, ImportPattern, ImportSpec};
use crate::state::AppState;
use crate::store::{self, Counts};
use crate::time::now;

pub(crate) fn spawn_export(state: &AppState, id: i64) {
    let state = state.clone();
    tokio::spawn(async move {
        let Err(failure) = supervise(run_export(state.clone(), id)).await else {
            return;
        };
        tracing::error!(export = id, error = %failure, "export job failed");
        let message = format!("the export failed: {failure}");
        let partial = state.export_path(id).with_extension("csv.part");
        let settled = state
            .db
            .catalog(move |c| {
                let _ = std::fs::remove_file(&partial);
                store::fail_unfinished_export(c, id, &message, now())
            })
            .await;
        if let Err(e) = settled {
            tracing::error!(export = id, error = %e, "could not mark the export failed");
        }
    });
}

pub(crate) fn spawn_import_table(state: &AppState, id: i64) {
    let state = state.clone();
    tokio::spawn(async move {
        let Err(failure) = supervise(run_import_table(state.clone(), id)).await else {
            return;
        };
        tracing::error!(import_table = id, error = %failure, "import job failed");
        if let Err(e) = settle_failed_import_table(&state, id, &failure).await {
            tracing::error!(import_table = id, error = %e, "could not mark the import table failed");
        }
    });
}

/// Runs a job on a task of its own, so that a panic anywhere in it (on this task, or in the blocking work it
/// awaits) comes back as an error like any other, instead of ending the task with the job left unfinished.
async fn supervise<F>(job: F) -> Result<(), String>
where
    F: Future<Output = ApiResult<()>> + Send + 'static,
{
    match tokio::spawn(job).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) if e.is_panic() => Err(format!("panic: {}", panic_text(e.into_panic()))),
        Err(e) => Err(e.to_string()),
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "(no message)".to_owned(), |s| (*s).to_owned()),
    }
}

/// Ends an import table whose job failed, and settles its batch. If the records transaction had committed
/// before the failure, the file WAS applied: the table is reported completed with those counts, never failed.
async fn settle_failed_import_table(state: &AppState, id: i64, failure: &str) -> ApiResult<()> {
    let applied = state
        .db
        .records(move |c| Ok(records::applied_counts(c, id)?))
        .await;
    let outcome = match applied {
        Ok(Some(counts)) => Ok(counts),
        _ => Err(format!("the import failed: {failure}")),
    };
    state
        .db
        .catalog_tx(move |c| {
            let it = store::import_table(c, id)?;
            if it.status != import_table_status::UPLOADED
                && it.status != import_table_status::PROCESSING
            {
                return Ok(());
            }
            store::finish_import_table(c, id, &outcome, now())?;
            store::settle_import(c, it.import_id, now())
        })
        .await
}

/// Picks up the jobs a previous run left unfinished.
pub(crate) async fn resume(state: &AppState) -> ApiResult<()> {
    let (exports, tables, imports) = state
        .db
        .catalog(|c| {
            Ok((
                store::unfinished_exports(c)?,
                store::unfinished_import_tables(c)?,
                store::processing_imports(c)?,
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
            .catalog(move |c| store::settle_import(c, id, now()))
            .await?;
    }
    Ok(())
}

async fn run_export(state: AppState, id: i64) -> ApiResult<()> {
    state
        .db
        .catalog(move |c| store::mark_export_started(c, id, now()))
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
            let export = store::export(c, id)?;
            let table = store::table(c, export.table_id)?;
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
                Ok(counts) => match std::fs::rename(&partial, &path) {
                    Ok(()) => Ok(Ok(counts)),
                    Err(e) => {
                        let _ = std::fs::remove_file(&partial);
                        Ok(Err(format!(
                            "the export file could not be put in place: {e}"
                        )))
                    }
                },
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
        .catalog(move |c| store::finish_export(c, id, outcome, now()))
        .await
}

async fn run_import_table(state: AppState, id: i64) -> ApiResult<()> {
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
            let it = store::import_table(c, id)?;
            if it.status != import_table_status::UPLOADED
                && it.status != import_table_status::PROCESSING
            {
                return Ok(None);
            }
            store::start_import_table(c, id, now())?;
            let table = store::table(c, it.table_id)?;
            let mapping = store::mapping(c, it.mapping_id)?;
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
            let Some(pattern) = ImportPattern::from_name(&it.pattern) else {
                return Ok(Err(format!(
                    "unknown pattern {:?}; expected one of {}",
                    it.pattern,
                    ImportPattern::NAMES.join(", ")
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
            store::finish_import_table(c, id, &outcome, now())?;
            store::settle_import(c, import_id, now())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_that_panics_or_fails_is_reported_as_a_failure_with_its_message() {
        let panicked = supervise(async {
            let rows: Vec<i64> = Vec::new();
            // An index out of bounds, as a worker bug would be.
            let _ = rows[std::hint::black_box(3)];
            Ok(())
        })
        .await;
        let message = panicked.expect_err("a panic is a failure");
        assert!(
            message.starts_with("panic: index out of bounds"),
            "{message}"
        );
        let literal = supervise(async { panic!("worker gave up") }).await;
        assert_eq!(literal, Err("panic: worker gave up".to_owned()));
        let blocking = supervise(async {
            tokio::task::spawn_blocking(|| panic!("in a blocking section")).await?;
            Ok(())
        })
        .await
        .expect_err("a panic on the blocking pool is a failure");
        assert!(blocking.contains("in a blocking section"), "{blocking}");
        let failed =
            supervise(async { Err(ApiError::Internal("database: disk I/O error".into())) }).await;
        assert_eq!(
            failed,
            Err("internal error: database: disk I/O error".to_owned())
        );
        assert_eq!(supervise(async { Ok(()) }).await, Ok(()));
    }
}
