//! `trdm demo`: the whole product in one command, against an in-process emulator with the Clinics fixture.
//! Download the domain into the Delta warehouse, copy it to `rdmout`, change a few rows there, upload it
//! back, and show what TitanRDM did with it.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, BooleanArray, RecordBatch, StringArray};
use futures_util::{StreamExt, TryStreamExt};
use trdm_catalog_delta::DeltaCatalog;
use trdm_client::{ClientBuilder, PollConfig};
use trdm_emulator::EmulatorConfig;
use trdm_sync::catalog::{BatchStream, Catalog, Properties, TableRef};
use trdm_sync::codec::ImportPattern;
use trdm_sync::{DownloadRequest, ExportPattern, SyncEngine, UploadRequest};

use super::ExitStatus;
use super::emulator::{Shutdown, start};
use crate::args::DemoArgs;
use crate::error::CliError;
use crate::output::{line, results_text};

const CATALOG: &str = "dev";

pub(super) async fn run(args: DemoArgs) -> Result<ExitStatus, CliError> {
    // The demo's own data: anything failing in it is unexpected.
    let fail = |e: &dyn std::fmt::Display| CliError::Unexpected(e.to_string());
    // The built-in fixture is written out for the emulator to read; it lives as long as the demo.
    let built_in = tempfile::tempdir().map_err(|e| fail(&e))?;
    let fixture = match &args.fixture {
        Some(path) => path.clone(),
        None => write_clinics_fixture(built_in.path()).map_err(|e| fail(&e))?,
    };
    let config = EmulatorConfig {
        fixture: Some(fixture),
        ..EmulatorConfig::default()
    };
    let emulator = start(config, "127.0.0.1:0".parse().expect("address")).await?;
    let client = ClientBuilder::new(emulator.url())
        .with_client_credentials("demo-client", "demo-secret")
        .connect()
        .await
        .map_err(|e| fail(&e))?;
    let prod = client
        .branch_by_name("prod", None)
        .await
        .map_err(|e| fail(&e))?
        .id;
    let catalog = Arc::new(DeltaCatalog::new(&args.warehouse));
    let engine = SyncEngine::new(client.clone(), catalog.clone());
    let poll = PollConfig::fixed(Duration::from_millis(100), Duration::from_secs(120));

    line("");
    line(&format!(
        "1. Download the Clinics domain from branch prod into {}/{CATALOG}/rdmin",
        args.warehouse.display()
    ));
    let download = DownloadRequest {
        branch_id: prod,
        catalog: CATALOG.into(),
        schema: "rdmin".into(),
        domain: "Clinics".into(),
        tables: None,
        pattern: ExportPattern::Full,
        high_water_mark: None,
        include_history: false,
        correlation_code: None,
        poll: poll.clone(),
        plan_only: false,
    };
    let downloaded = engine.download(&download).await.map_err(|e| fail(&e))?;
    results_text(&downloaded).iter().for_each(|l| line(l));
    let mark = downloaded
        .iter()
        .filter_map(|r| r.high_water_mark.clone())
        .max();

    line("");
    line("2. Copy the tables to rdmout and change a few rows there");
    catalog
        .create_schema(CATALOG, "rdmout")
        .await
        .map_err(|e| fail(&e))?;
    for result in &downloaded {
        let table = result
            .target
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let (schema, data) = catalog
            .read(&TableRef::new(CATALOG, "rdmin", &table))
            .await
            .map_err(|e| fail(&e))?;
        let batches: Vec<RecordBatch> = data.try_collect().await.map_err(|e| fail(&e))?;
        let (batches, note) = edit(&table, batches).map_err(|e| fail(&e))?;
        if let Some(note) = note {
            line(&format!("   {table}: {note}"));
        }
        let stream: BatchStream = Box::pin(futures_util::stream::iter(batches.into_iter().map(Ok)));
        catalog
            .overwrite(
                &TableRef::new(CATALOG, "rdmout", &table),
                schema,
                stream,
                &Properties::new(),
            )
            .await
            .map_err(|e| fail(&e))?;
    }

    line("");
    line("3. Plan, then upload rdmout back to branch prod (pattern full, one import batch)");
    let upload = UploadRequest {
        branch_id: prod,
        catalog: CATALOG.into(),
        schema: "rdmout".into(),
        domain: "Clinics".into(),
        tables: None,
        pattern: ImportPattern::Full,
        description: Some("trdm demo".into()),
        correlation_code: None,
        allow_partial: false,
        checks: trdm_sync::UploadChecks::default(),
        poll: poll.clone(),
    };
    // The plan first: what TitanRDM would change, against its current records; nothing is sent.
    let plan_only = UploadRequest {
        checks: trdm_sync::UploadChecks {
            plan_only: true,
            ..trdm_sync::UploadChecks::default()
        },
        ..upload.clone()
    };
    let planned = engine.upload(&plan_only).await.map_err(|e| fail(&e))?;
    line("   the plan (nothing sent yet):");
    results_text(&planned.tables).iter().for_each(|l| line(l));
    let report = engine.upload(&upload).await.map_err(|e| fail(&e))?;
    line("   the upload (unchanged tables are skipped):");
    line(&format!(
        "   import {} {}",
        report.import_id.map(|i| i.to_string()).unwrap_or_default(),
        report.import_status.clone().unwrap_or_default()
    ));
    results_text(&report.tables).iter().for_each(|l| line(l));

    line("");
    line("4. The versions TitanRDM created (an incremental history download since step 1)");
    let changes = DownloadRequest {
        schema: "rdmchanges".into(),
        pattern: ExportPattern::Incremental,
        include_history: true,
        high_water_mark: mark,
        ..download.clone()
    };
    let changed = engine.download(&changes).await.map_err(|e| fail(&e))?;
    for result in changed.iter().filter(|r| r.rows > 0) {
        let table = result
            .target
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let (_, data) = catalog
            .read(&TableRef::new(CATALOG, "rdmchanges", &table))
            .await
            .map_err(|e| fail(&e))?;
        let mut data = data;
        while let Some(batch) = data.next().await {
            let batch = batch.map_err(|e| fail(&e))?;
            for i in 0..batch.num_rows() {
                let key = text(&batch, 0, i);
                line(&format!(
                    "   {table:<22} {key:<10} tran={} state={} is_deleted={} created_at={}",
                    text(
                        &batch,
                        batch.schema().index_of("trdm_tran_code").unwrap_or(0),
                        i
                    ),
                    text(
                        &batch,
                        batch.schema().index_of("trdm_state").unwrap_or(0),
                        i
                    ),
                    text(
                        &batch,
                        batch.schema().index_of("trdm_is_deleted").unwrap_or(0),
                        i
                    ),
                    text(
                        &batch,
                        batch.schema().index_of("trdm_created_at").unwrap_or(0),
                        i
                    ),
                ));
            }
        }
    }

    line("");
    line("5. The Delta tables (readable by Spark, DuckDB, Polars):");
    for schema in ["rdmin", "rdmout", "rdmchanges"] {
        for result in &downloaded {
            let table = result.target.rsplit('.').next().unwrap_or_default();
            if let Ok(path) = catalog.table_path(&TableRef::new(CATALOG, schema, table))
                && path.exists()
            {
                line(&format!("   {}", path.display()));
            }
        }
    }
    let failed = downloaded
        .iter()
        .chain(&report.tables)
        .chain(&changed)
        .any(|r| r.status.is_failure());
    if args.serve {
        let shutdown = Shutdown::listen()?;
        line("");
        line(&format!(
            "Serving TitanRDM at {} until Ctrl-C.",
            emulator.url()
        ));
        shutdown.wait().await;
    }
    emulator.shutdown().await;
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn text(batch: &RecordBatch, column: usize, row: usize) -> String {
    let array = batch.column(column);
    if array.is_null(row) {
        return "NULL".into();
    }
    arrow_cast::display::ArrayFormatter::try_new(
        array.as_ref(),
        &arrow_cast::display::FormatOptions::default(),
    )
    .map(|f| f.value(row).to_string())
    .unwrap_or_default()
}

/// The demo's changes: rename the first site and the first delivery centre, drop the last site (a full upload
/// then tombstones it).
fn edit(
    table: &str,
    batches: Vec<RecordBatch>,
) -> Result<(Vec<RecordBatch>, Option<String>), String> {
    let (column, drop_last) = match table {
        "clin_sites" => ("site_name", true),
        "clin_delivery_centre" => ("centre_name", false),
        _ => return Ok((batches, None)),
    };
    let mut out = Vec::with_capacity(batches.len());
    let mut note = String::new();
    let last = batches.len().saturating_sub(1);
    for (b, batch) in batches.into_iter().enumerate() {
        let mut batch = batch;
        if b == 0 && batch.num_rows() > 0 {
            let index = batch.schema().index_of(column).map_err(|e| e.to_string())?;
            let names = batch
                .column(index)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or("not a string column")?;
            let renamed: StringArray = (0..names.len())
                .map(|i| {
                    if i == 0 {
                        Some(format!("{} (renamed)", names.value(0)))
                    } else {
                        names.is_valid(i).then(|| names.value(i).to_owned())
                    }
                })
                .collect();
            note.push_str(&format!("renamed {:?}", names.value(0)));
            let mut columns = batch.columns().to_vec();
            columns[index] = Arc::new(renamed);
            batch = RecordBatch::try_new(batch.schema(), columns).map_err(|e| e.to_string())?;
        }
        if drop_last && b == last && batch.num_rows() > 1 {
            let keep: BooleanArray = (0..batch.num_rows())
                .map(|i| Some(i + 1 < batch.num_rows()))
                .collect();
            batch = arrow_select::filter::filter_record_batch(&batch, &keep)
                .map_err(|e| e.to_string())?;
            note.push_str(", removed the last row");
        }
        out.push(batch);
    }
    Ok((out, Some(note)))
}

/// The Clinics fixture, compiled in so that `trdm demo` runs from an installed binary anywhere.
const CLINICS: [(&str, &str); 4] = [
    (
        "clinics.toml",
        include_str!("../../../../fixtures/clinics.toml"),
    ),
    (
        "clinics/sites.csv",
        include_str!("../../../../fixtures/clinics/sites.csv"),
    ),
    (
        "clinics/delivery_centre.csv",
        include_str!("../../../../fixtures/clinics/delivery_centre.csv"),
    ),
    (
        "clinics/org_unit.csv",
        include_str!("../../../../fixtures/clinics/org_unit.csv"),
    ),
];

/// Writes the built-in Clinics fixture under `dir`; the path of its TOML file.
fn write_clinics_fixture(dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    for (name, text) in CLINICS {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(dir.join(CLINICS[0].0))
}
