//! Uploads: round trips create no versions, changes are applied, validation stops everything before any
//! file is sent, missing and empty sources are skipped, partial mode keeps the incumbent's behaviour.

use std::sync::Arc;

use trdm_sync::TableStatus;
use trdm_sync::catalog::{Catalog, TableRef};
use trdm_sync::codec::{CsvDecoder, ImportPattern};
use trdm_sync::manifest::manifest;
use trdm_sync::schema::user_schema;

use crate::common::*;

/// Writes `csv` (user columns) as the catalog table for `table` under dev.rdmout.
async fn put(s: &Setup, table: &str, csv: &str) {
    let m = manifest(&s.client, 1, "Clinics", None).await.unwrap();
    let t = m
        .tables
        .iter()
        .find(|t| t.definition.database_table_name == table)
        .unwrap();
    // The catalog table has exactly the CSV's columns, as a user's hand-made table would.
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let full = user_schema(&t.table);
    let fields: Vec<arrow_schema::Field> = header
        .iter()
        .map(|h| match full.field_with_name(h) {
            Ok(f) => f.clone(),
            Err(_) => trdm_sync::schema::system_field(h).unwrap(),
        })
        .collect();
    let schema = Arc::new(arrow_schema::Schema::new(fields));
    let batches: Vec<_> = CsvDecoder::new(csv.as_bytes(), &t.table, schema.clone(), 100)
        .unwrap()
        .collect();
    s.catalog.create_schema("dev", "rdmout").await.unwrap();
    s.catalog
        .overwrite(
            &TableRef::new("dev", "rdmout", format!("clin_{table}")),
            schema,
            Box::pin(futures_util::stream::iter(batches)),
            &trdm_sync::catalog::Properties::new(),
        )
        .await
        .unwrap();
}

async fn copy(s: &Setup, from: &str, to: &str) {
    for t in s.catalog.tables() {
        if t.schema == from {
            let (schema, data) = s.catalog.read(&t).await.unwrap();
            let target = TableRef::new("dev", to, t.table.clone());
            s.catalog.create_schema("dev", to).await.unwrap();
            s.catalog
                .overwrite(
                    &target,
                    schema,
                    data,
                    &trdm_sync::catalog::Properties::new(),
                )
                .await
                .unwrap();
        }
    }
}

async fn versions(s: &Setup, branch_id: i64) -> u64 {
    let mut request = download(branch_id, "history_probe");
    request.include_history = true;
    s.engine
        .download(&request)
        .await
        .unwrap()
        .iter()
        .map(|r| r.rows)
        .sum()
}

#[tokio::test]
async fn a_downloaded_domain_uploads_back_unchanged_with_zero_new_versions() {
    let s = setup().await;
    s.engine.download(&download(1, "rdmin")).await.unwrap();
    copy(&s, "rdmin", "rdmout").await;
    let before = versions(&s, 1).await;
    let report = s.engine.upload(&upload(1, "rdmout")).await.unwrap();
    assert_eq!(
        report.import_status.as_deref(),
        Some("completed"),
        "{report:?}"
    );
    for r in &report.tables {
        assert_eq!(r.status, TableStatus::Success, "{r:?}");
        assert_eq!(
            (r.inserted, r.updated, r.deleted),
            (Some(0), Some(0), Some(0)),
            "{r:?}"
        );
    }
    assert_eq!(report.tables.iter().map(|r| r.rows).sum::<u64>(), 300);
    assert_eq!(
        versions(&s, 1).await,
        before,
        "a round trip creates zero new versions"
    );
}

#[tokio::test]
async fn changes_are_applied_and_counted_per_table() {
    let s = setup().await;
    put(
        &s,
        "delivery_centre",
        "centre_code,centre_name,trdm_tran_code\nDC001,Changed,u\nDC003,x,D\nDC901,New,i\n",
    )
    .await;
    let mut request = upload(2, "rdmout");
    request.pattern = ImportPattern::IncrementalWithDelete;
    request.tables = Some(vec!["Delivery Centre".into()]);
    let report = s.engine.upload(&request).await.unwrap();
    let r = &report.tables[0];
    assert_eq!(r.status, TableStatus::Success, "{report:?}");
    assert_eq!(
        (r.inserted, r.updated, r.deleted),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(r.rows, 3);
    assert!(r.import_id.is_some() && r.import_table_id.is_some());
}

#[tokio::test]
async fn missing_and_empty_sources_are_skipped() {
    let s = setup().await;
    put(
        &s,
        "delivery_centre",
        "centre_code,centre_name\nDC001,Same\n",
    )
    .await;
    put(&s, "org_unit", "org_unit_id,name\n").await;
    let mut request = upload(2, "rdmout");
    request.pattern = ImportPattern::IncrementalUpsertOnly;
    let report = s.engine.upload(&request).await.unwrap();
    let statuses: Vec<String> = report
        .tables
        .iter()
        .map(|r| r.status.as_incumbent_str())
        .collect();
    assert_eq!(
        statuses,
        ["skipped (no source data)", "success", "skipped (empty)"]
    );
    assert_eq!(report.import_status.as_deref(), Some("completed"));
}

#[tokio::test]
async fn invalid_data_stops_the_whole_upload_before_anything_is_sent() {
    let s = setup().await;
    put(
        &s,
        "delivery_centre",
        "centre_code,centre_name\nDC001,Fine\n",
    )
    .await;
    // A code longer than varchar(10), written through a looser catalog schema.
    let loose = Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new("site_code", arrow_schema::DataType::Utf8, false),
        arrow_schema::Field::new("site_name", arrow_schema::DataType::Utf8, false),
        arrow_schema::Field::new("is_active", arrow_schema::DataType::Boolean, false),
    ]));
    let batch = arrow_array::RecordBatch::try_new(
        loose.clone(),
        vec![
            Arc::new(arrow_array::StringArray::from(vec!["0001", "00000000002"])),
            Arc::new(arrow_array::StringArray::from(vec!["a", "b"])),
            Arc::new(arrow_array::BooleanArray::from(vec![true, true])),
        ],
    )
    .unwrap();
    s.catalog
        .overwrite(
            &TableRef::new("dev", "rdmout", "clin_sites"),
            loose,
            Box::pin(futures_util::stream::iter(vec![Ok(batch)])),
            &trdm_sync::catalog::Properties::new(),
        )
        .await
        .unwrap();
    let report = s.engine.upload(&upload(2, "rdmout")).await.unwrap();
    assert_eq!(report.import_id, None, "no import batch was created");
    let sites = report.tables[0].status.as_incumbent_str();
    for needle in ["sites", "site_code", "row 2", "00000000002"] {
        assert!(sites.contains(needle), "{sites} lacks {needle}");
    }
    assert!(
        report.tables[1]
            .status
            .as_incumbent_str()
            .contains("not uploaded"),
        "{report:?}"
    );
    assert!(
        s.client
            .find_imports("convention-upload-rdmout")
            .await
            .unwrap()
            .is_empty()
    );

    // allow_partial keeps the incumbent's behaviour: the valid table goes, the batch completes.
    let mut partial = upload(2, "rdmout");
    partial.allow_partial = true;
    partial.pattern = ImportPattern::IncrementalUpsertOnly;
    let report = s.engine.upload(&partial).await.unwrap();
    assert!(report.tables[0].status.is_failure());
    assert_eq!(report.tables[1].status, TableStatus::Success);
    assert_eq!(report.import_status.as_deref(), Some("completed"));
}

#[tokio::test]
async fn a_read_error_is_an_error_never_a_skip() {
    let s = setup().await;
    put(
        &s,
        "delivery_centre",
        "centre_code,centre_name\nDC001,Same\n",
    )
    .await;
    let table = TableRef::new("dev", "rdmout", "clin_delivery_centre");
    s.catalog
        .fail_next_read_of(&table, "permission denied on the storage account");
    let mut request = upload(2, "rdmout");
    request.pattern = ImportPattern::IncrementalUpsertOnly;
    let report = s.engine.upload(&request).await.unwrap();
    let status = report.tables[1].status.as_incumbent_str();
    assert!(
        status.starts_with("error: ") && status.contains("permission denied"),
        "{status}"
    );
    assert_eq!(
        report.import_id, None,
        "nothing is sent when a source cannot be read"
    );
}

#[tokio::test]
async fn when_every_file_upload_fails_the_batch_is_left_uncompleted() {
    // An emulator whose presigned uploads always drop the connection.
    let dir = tempfile::tempdir().unwrap();
    let config = trdm_emulator::EmulatorConfig {
        db_path: Some(dir.path().join("e.db")),
        fixture: Some(format!("{}/../../fixtures/clinics.toml", env!("CARGO_MANIFEST_DIR")).into()),
        faults: trdm_emulator::FaultConfig {
            rate: 1.0,
            kinds: vec![trdm_emulator::FaultKind::Unavailable],
            groups: vec![trdm_emulator::EndpointGroup::Blobs],
            ..trdm_emulator::FaultConfig::default()
        },
        ..trdm_emulator::EmulatorConfig::default()
    };
    let emulator = trdm_emulator::Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = trdm_client::ClientBuilder::new(emulator.url())
        .with_client_credentials("demo-client", "demo-secret")
        .with_retry(trdm_client::RetryConfig {
            max_retries: 1,
            ..trdm_client::RetryConfig::default()
        })
        .connect()
        .await
        .unwrap();
    let catalog = trdm_sync::InMemoryCatalog::new();
    let engine = trdm_sync::SyncEngine::new(client.clone(), Arc::new(catalog.clone()));
    let s = Setup {
        emulator,
        client,
        catalog,
        engine,
        _dir: dir,
    };
    put(
        &s,
        "delivery_centre",
        "centre_code,centre_name\nDC001,Changed\n",
    )
    .await;
    put(&s, "org_unit", "org_unit_id,name\n1,Changed\n").await;
    let mut request = upload(2, "rdmout");
    request.pattern = ImportPattern::IncrementalUpsertOnly;
    let report = s.engine.upload(&request).await.unwrap();
    assert_eq!(
        report.import_status.as_deref(),
        Some("created"),
        "the batch is not completed: {report:?}"
    );
    assert!(
        report.tables[1].status.is_failure() && report.tables[2].status.is_failure(),
        "{report:?}"
    );
    let results = s
        .client
        .import_results(report.import_id.unwrap())
        .await
        .unwrap();
    assert_eq!(results.import.status.as_str(), "created");
    assert!(
        results.tables.iter().all(|t| t.status.as_str() == "failed"),
        "each uploaded table is marked upload_failed"
    );
    let dc = s.client.deployed_table_definitions(2, None).await.unwrap();
    assert!(!dc.is_empty());
}
