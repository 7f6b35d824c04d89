//! `trdm sync download` and `trdm sync upload` on a Delta warehouse (a directory, or an object store) or on a
//! Spark cluster over Spark Connect (`--spark`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use trdm_catalog_delta::DeltaCatalog;
use trdm_catalog_spark_connect::SparkConnectCatalog;
use trdm_client::PollConfig;
use trdm_sync::{
    Catalog, DownloadRequest, Reporter, SyncEngine, TableResult, UploadChecks, UploadRequest,
};

use super::{ExitStatus, branch_id, connect};
use crate::args::{DownloadArgs, OutputFormat, SyncArgs, UploadArgs};
use crate::error::CliError;
use crate::output::{Bars, line, result_json, results_text};

/// The catalog `--spark` or `--warehouse` names, and where it is as it may be shown (no credentials).
async fn catalog(args: &SyncArgs) -> Result<(Arc<dyn Catalog>, String), CliError> {
    if let Some(remote) = &args.spark {
        let location = remote.to_string();
        let catalog = SparkConnectCatalog::connect(remote.as_ref().clone())
            .await
            .map_err(|e| CliError::from(e).context("--spark"))?;
        return Ok((Arc::new(catalog), location));
    }
    let catalog = DeltaCatalog::open(&args.warehouse, HashMap::new())
        .map_err(|e| CliError::Usage(format!("--warehouse: {e}")))?;
    let location = catalog.location();
    Ok((Arc::new(catalog), location))
}

/// The engine, the branch's id and the catalog's location as it may be shown (no credentials).
async fn engine(args: &SyncArgs) -> Result<(SyncEngine, i64, String), CliError> {
    let (catalog, location) = catalog(args).await?;
    let client = connect(&args.connect).await?;
    let branch = branch_id(&client, &args.branch, args.branch_owner).await?;
    let mut engine = SyncEngine::new(client, catalog).with_concurrency(args.concurrency);
    if args.connect.output == OutputFormat::Text
        && let Some(bars) = Bars::new(args.no_progress)
    {
        engine = engine.with_reporter(Arc::new(bars) as Arc<dyn Reporter>);
    }
    Ok((engine, branch, location))
}

/// `--poll-interval` is the longest wait between status checks; the first checks come sooner (0.25 s,
/// growing 1.5x), so a quick export is noticed at once. A wait growing past the interval (as before) left an
/// export that finished early unnoticed for up to half the last wait.
fn poll(args: &SyncArgs) -> PollConfig {
    PollConfig::ramped(args.poll_interval, args.max_wait)
}

fn tables(args: &SyncArgs) -> Option<Vec<String>> {
    (!args.tables.is_empty()).then(|| args.tables.clone())
}

fn status_of(results: &[TableResult]) -> ExitStatus {
    if results.iter().any(|r| r.status.is_failure()) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

pub(super) async fn download(args: DownloadArgs) -> Result<ExitStatus, CliError> {
    let (engine, branch, warehouse) = engine(&args.sync).await?;
    let request = DownloadRequest {
        branch_id: branch,
        catalog: args.sync.catalog.clone(),
        schema: args.sync.schema.clone(),
        domain: args.sync.domain.clone(),
        tables: tables(&args.sync),
        pattern: args.pattern,
        high_water_mark: args.high_water_mark.clone(),
        include_history: args.include_history,
        correlation_code: args.sync.correlation_code.clone(),
        poll: poll(&args.sync),
        plan_only: args.plan,
    };
    let results = engine.download(&request).await?;
    match args.sync.connect.output {
        OutputFormat::Json => line(
            &serde_json::to_string_pretty(&json!({
                "command": "download",
                "branch_id": branch,
                "domain": args.sync.domain,
                "warehouse": warehouse,
                "tables": results.iter().map(result_json).collect::<Vec<_>>(),
            }))
            .expect("json"),
        ),
        OutputFormat::Text => {
            let what = if args.plan {
                "Plan of downloading"
            } else {
                "Downloaded"
            };
            let written = if args.plan {
                " (nothing was written)"
            } else {
                ""
            };
            line(&format!(
                "{what} {} from branch {branch} into {}{written}:",
                args.sync.domain, warehouse
            ));
            for l in results_text(&results) {
                line(&l);
            }
        }
    }
    Ok(status_of(&results))
}

pub(super) async fn upload(args: UploadArgs) -> Result<ExitStatus, CliError> {
    let pattern = args.pattern;
    let (engine, branch, warehouse) = engine(&args.sync).await?;
    let request = UploadRequest {
        branch_id: branch,
        catalog: args.sync.catalog.clone(),
        schema: args.sync.schema.clone(),
        domain: args.sync.domain.clone(),
        tables: tables(&args.sync),
        pattern,
        description: args.description.clone(),
        correlation_code: args.sync.correlation_code.clone(),
        allow_partial: args.allow_partial,
        checks: UploadChecks {
            plan_only: args.plan,
            allow_mass_delete: args.allow_mass_delete,
            upload_unchanged: args.upload_unchanged,
        },
        poll: poll(&args.sync),
    };
    let report = engine.upload(&request).await?;
    match args.sync.connect.output {
        OutputFormat::Json => line(
            &serde_json::to_string_pretty(&json!({
                "command": "upload",
                "branch_id": branch,
                "domain": args.sync.domain,
                "warehouse": warehouse,
                "import_id": report.import_id,
                "import_status": report.import_status,
                "abandoned_import_id": report.abandoned_import_id,
                "tables": report.tables.iter().map(result_json).collect::<Vec<_>>(),
            }))
            .expect("json"),
        ),
        OutputFormat::Text => {
            let batch = match (report.import_id, &report.import_status) {
                (Some(id), Some(status)) => format!("import {id}, {status}"),
                _ => "no import batch was created".into(),
            };
            if let Some(id) = report.abandoned_import_id {
                line(&format!(
                    "Closed import {id}, which an earlier run of this sync left open (its announced \
                     tables stay applied; this run sends every table again)."
                ));
            }
            if args.plan {
                line(&format!(
                    "Plan of uploading {} to branch {branch} (nothing was sent):",
                    args.sync.domain
                ));
            } else {
                line(&format!(
                    "Uploaded {} to branch {branch} ({batch}):",
                    args.sync.domain
                ));
            }
            for l in results_text(&report.tables) {
                line(&l);
            }
        }
    }
    Ok(status_of(&report.tables))
}
