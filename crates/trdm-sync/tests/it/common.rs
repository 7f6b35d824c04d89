#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, RecordBatch, StringArray};
use futures_util::TryStreamExt;
use trdm_client::{Client, ClientBuilder, PollConfig};
use trdm_emulator::{Emulator, EmulatorConfig};
use trdm_sync::catalog::{Catalog, InMemoryCatalog, TableRef};
use trdm_sync::codec::ImportPattern;
use trdm_sync::{DownloadRequest, ExportPattern, SyncEngine, UploadChecks, UploadRequest};
use trdm_testkit::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, TestEmulator};

pub struct Setup {
    pub emulator: Emulator,
    pub client: Client,
    pub catalog: InMemoryCatalog,
    pub engine: SyncEngine,
    pub _dir: tempfile::TempDir,
}

pub async fn setup() -> Setup {
    setup_with(|_| {}).await
}

/// [`setup`] with the emulator's configuration changed by `configure`; its database is
/// `_dir/emulator.db`.
pub async fn setup_with(configure: impl FnOnce(&mut EmulatorConfig)) -> Setup {
    let TestEmulator { emulator, dir } = TestEmulator::start_with(configure).await;
    let client = ClientBuilder::new(emulator.url())
        .with_client_credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        .connect()
        .await
        .unwrap();
    let catalog = InMemoryCatalog::new();
    let engine = SyncEngine::new(client.clone(), Arc::new(catalog.clone()));
    Setup {
        emulator,
        client,
        catalog,
        engine,
        _dir: dir,
    }
}

pub fn fast_poll() -> PollConfig {
    PollConfig::fixed(Duration::from_millis(20), Duration::from_secs(60))
}

pub fn download(branch_id: i64, schema: &str) -> DownloadRequest {
    DownloadRequest {
        branch_id,
        catalog: "dev".into(),
        schema: schema.into(),
        domain: "Clinics".into(),
        tables: None,
        pattern: ExportPattern::Full,
        high_water_mark: None,
        include_history: false,
        correlation_code: None,
        poll: fast_poll(),
        plan_only: false,
    }
}

pub fn upload(branch_id: i64, schema: &str) -> UploadRequest {
    UploadRequest {
        branch_id,
        catalog: "dev".into(),
        schema: schema.into(),
        domain: "Clinics".into(),
        tables: None,
        pattern: ImportPattern::Full,
        description: None,
        correlation_code: None,
        allow_partial: false,
        // The send path as such: no plan, so no export before the upload. Tests of the checks set them.
        checks: UploadChecks {
            plan_only: false,
            allow_mass_delete: true,
            upload_unchanged: true,
        },
        poll: fast_poll(),
    }
}

pub async fn batches(catalog: &InMemoryCatalog, table: &TableRef) -> Vec<RecordBatch> {
    let (_, stream) = catalog.read(table).await.unwrap();
    stream.try_collect().await.unwrap()
}

pub async fn rows(catalog: &InMemoryCatalog, table: &TableRef) -> usize {
    batches(catalog, table)
        .await
        .iter()
        .map(RecordBatch::num_rows)
        .sum()
}

/// The text values of a Utf8 column across batches.
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(column)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            (0..a.len())
                .map(move |i| a.is_valid(i).then(|| a.value(i).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

pub async fn branch(client: &Client, name: &str) -> i64 {
    client.branch_by_name(name, None).await.unwrap().id
}
