//! Uploads: round trips create no versions, changes are applied, validation stops everything before any
//! file is sent, missing and empty sources are skipped, partial mode keeps the incumbent's behaviour.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::Field;
use trdm_sync::TableStatus;
use trdm_sync::catalog::{Catalog, TableRef};
use trdm_sync::codec::{CsvDecoder, ImportPattern};
use trdm_sync::manifest::manifest;
use trdm_sync::schema::user_schema;
use trdm_testkit::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, TestEmulator};

use crate::common::*;

/// Writes `csv` (user columns) as the catalog table for `table` under dev.rdmout.
async fn put(s: &Setup, table: &str, csv: &str) {
    let m = manifest(&s.client, 1, "Clinics", None).await.unwrap();
    let t = m
        .tables
        .iter()
        .find(|t| t.definition.database_table_name == table)
        .unwrap();
    // The catalog table has the CSV's columns, as a user's hand-made table would, and NULL in the table's
    // other nullable columns (an upload needs every column).
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let full = user_schema(&t.table);
    let fields: Vec<arrow_schema::Field> = header
        .iter()
        .map(|h| match full.field_with_name(h) {
            Ok(f) => f.clone(),
            Err(_) => trdm_sync::schema::system_field(h).unwrap(),
        })
        .collect();
    let read = Arc::new(arrow_schema::Schema::new(fields.clone()));
    let absent: Vec<arrow_schema::Field> = full
        .fields()
        .iter()
        .filter(|f| f.is_nullable() && !header.contains(&f.name().as_str()))
        .map(|f| f.as_ref().clone())
        .collect();
    let schema = Arc::new(arrow_schema::Schema::new(
        fields
            .into_iter()
            .chain(absent.iter().cloned())
            .collect::<Vec<_>>(),
    ));
    let batches: Vec<_> = CsvDecoder::new(csv.as_bytes(), &t.table, read, 100)
        .unwrap()
        .map(|b| -> trdm_sync::Result<RecordBatch> {
            let b = b?;
            let mut columns = b.columns().to_vec();
            columns.extend(
                absent
                    .iter()
                    .map(|f| arrow_array::new_null_array(f.data_type(), b.num_rows())),
            );
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        })
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
    put_columns(
        &s,
        "rdmout",
        "sites",
        vec![
            ("site_code", text(&[Some("0001"), Some("00000000002")])),
            ("site_name", text(&[Some("a"), Some("b")])),
            (
                "is_active",
                Arc::new(arrow_array::BooleanArray::from(vec![true, true])),
            ),
        ],
    )
    .await;
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
    let TestEmulator { emulator, dir } = TestEmulator::start_with(|config| {
        config.faults = trdm_emulator::FaultConfig {
            rate: 1.0,
            kinds: vec![trdm_emulator::FaultKind::Unavailable],
            groups: vec![trdm_emulator::EndpointGroup::Blobs],
            ..trdm_emulator::FaultConfig::default()
        };
    })
    .await;
    let client = trdm_client::ClientBuilder::new(emulator.url())
        .with_client_credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
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

/// Writes a catalog table `dev.{schema}.clin_{table}` with exactly `columns`, as a user's table would be.
/// Writes `columns` as the catalog table for `table` under `dev.{schema}`, adding the table's nullable
/// columns that `columns` lacks as NULLs (an upload needs every column, see the missing-column cases).
async fn put_columns(s: &Setup, schema: &str, table: &str, columns: Vec<(&str, ArrayRef)>) {
    let m = manifest(&s.client, 1, "Clinics", None).await.unwrap();
    let def = &m
        .tables
        .iter()
        .find(|t| t.definition.database_table_name == table)
        .unwrap()
        .table;
    let rows = columns[0].1.len();
    let absent: Vec<(&str, ArrayRef)> = def
        .columns
        .iter()
        .filter(|c| !c.is_required && !columns.iter().any(|(name, _)| *name == c.name))
        .map(|c| (c.name.as_str(), text(&vec![None; rows])))
        .collect();
    let all = columns.into_iter().chain(absent).collect();
    put_columns_exactly(s, schema, table, all).await;
}

/// Writes exactly `columns` as the catalog table for `table` under `dev.{schema}`.
async fn put_columns_exactly(s: &Setup, schema: &str, table: &str, columns: Vec<(&str, ArrayRef)>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
        .collect();
    let arrow_schema = Arc::new(arrow_schema::Schema::new(fields));
    let batch = RecordBatch::try_new(
        arrow_schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    s.catalog.create_schema("dev", schema).await.unwrap();
    s.catalog
        .overwrite(
            &TableRef::new("dev", schema, format!("clin_{table}")),
            arrow_schema,
            Box::pin(futures_util::stream::iter(vec![Ok(batch)])),
            &trdm_sync::catalog::Properties::new(),
        )
        .await
        .unwrap();
}

fn text(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// Every version of every table of the domain on `branch_id`, as TitanRDM exports it, by table.
async fn server_state(s: &Setup, branch_id: i64) -> Vec<(String, Vec<RecordBatch>)> {
    let mut request = download(branch_id, "server_state");
    request.include_history = true;
    let mut state = Vec::new();
    for r in s.engine.download(&request).await.unwrap() {
        assert_eq!(r.status, TableStatus::Success, "{r:?}");
        let table = TableRef::new("dev", "server_state", format!("clin_{}", r.table));
        state.push((r.table.clone(), batches(&s.catalog, &table).await));
    }
    state
}

/// The current `centre_name` of a delivery centre on `branch_id`.
async fn centre_name(s: &Setup, branch_id: i64, code: &str) -> Option<String> {
    let mut request = download(branch_id, "current");
    request.tables = Some(vec!["Delivery Centre".into()]);
    s.engine.download(&request).await.unwrap();
    let b = batches(
        &s.catalog,
        &TableRef::new("dev", "current", "clin_delivery_centre"),
    )
    .await;
    let codes = strings(&b, "centre_code");
    let names = strings(&b, "centre_name");
    let i = codes
        .iter()
        .position(|c| c.as_deref() == Some(code))
        .unwrap();
    names[i].clone()
}

/// One invalid source table and where its error must point.
struct Invalid {
    case: &'static str,
    pattern: ImportPattern,
    table: &'static str,
    /// Row 1 is always a valid change, so an upload that got through would change the server.
    columns: Vec<(&'static str, ArrayRef)>,
    column: &'static str,
    /// Row and value (as messages show it), for errors about a value rather than the table's shape.
    at: Option<(u64, &'static str)>,
}

#[tokio::test]
async fn each_kind_of_invalid_data_fails_its_table_by_name_row_and_value_and_sends_nothing() {
    use ImportPattern::{Full, IncrementalUpsertOnly, IncrementalWithDelete};
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let before = server_state(&s, dev).await;
    let renamed = Some("Renamed by an upload that must not happen");
    let cases = vec![
        Invalid {
            case: "unknown column",
            pattern: IncrementalUpsertOnly,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001"), Some("DC002")])),
                ("centre_name", text(&[renamed, Some("x")])),
                ("colour", text(&[Some("blue"), Some("red")])),
            ],
            column: "colour",
            at: None,
        },
        Invalid {
            case: "missing required value",
            pattern: IncrementalUpsertOnly,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001"), Some("DC002")])),
                ("centre_name", text(&[renamed, None])),
            ],
            column: "centre_name",
            at: Some((2, "NULL")),
        },
        Invalid {
            case: "required column absent from the source",
            pattern: Full,
            table: "org_unit",
            columns: vec![
                ("org_unit_id", text(&[Some("1")])),
                ("headcount", text(&[Some("5")])),
            ],
            column: "name",
            at: Some((1, "no value")),
        },
        Invalid {
            case: "nullable column absent from the source (TitanRDM would clear it everywhere)",
            pattern: Full,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001")])),
                ("centre_name", text(&[renamed])),
                ("capacity", text(&[Some("10")])),
                ("catchment_population", text(&[Some("100")])),
            ],
            column: "column region is missing from the input",
            at: None,
        },
        Invalid {
            case: "nullable column absent from an upsert",
            pattern: IncrementalUpsertOnly,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001")])),
                ("centre_name", text(&[renamed])),
                ("region", text(&[Some("North")])),
                ("catchment_population", text(&[Some("100")])),
            ],
            column: "column capacity is missing from the input",
            at: None,
        },
        Invalid {
            case: "nullable column absent from an upsert row of incremental_with_delete",
            pattern: IncrementalWithDelete,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC002"), Some("DC001")])),
                ("centre_name", text(&[None, renamed])),
                ("trdm_tran_code", text(&[Some("d"), Some("u")])),
            ],
            column: "column region is missing from the input",
            at: None,
        },
        Invalid {
            case: "text that does not convert",
            pattern: IncrementalUpsertOnly,
            table: "org_unit",
            columns: vec![
                ("org_unit_id", text(&[Some("1"), Some("2"), Some("3")])),
                ("name", text(&[renamed, Some("b"), Some("c")])),
                (
                    "valid_from",
                    text(&[Some("2020-01-01"), None, Some("2024-02-30")]),
                ),
            ],
            column: "valid_from",
            at: Some((3, "\"2024-02-30\"")),
        },
        Invalid {
            case: "typed value that does not fit",
            pattern: IncrementalUpsertOnly,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001"), Some("DC002")])),
                ("centre_name", text(&[renamed, Some("x")])),
                (
                    "capacity",
                    Arc::new(Int64Array::from(vec![Some(10), Some(3_000_000_000)])),
                ),
            ],
            column: "capacity",
            at: Some((2, "\"3000000000\"")),
        },
        Invalid {
            case: "duplicate primary key",
            pattern: Full,
            table: "delivery_centre",
            columns: vec![
                (
                    "centre_code",
                    text(&[Some("DC001"), Some("DC002"), Some("DC001")]),
                ),
                ("centre_name", text(&[renamed, Some("b"), Some("c")])),
            ],
            column: "centre_code",
            at: Some((3, "\"DC001\" repeats the primary key of row 1")),
        },
        Invalid {
            case: "bad tran code",
            pattern: IncrementalWithDelete,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001"), Some("DC002")])),
                ("centre_name", text(&[renamed, Some("x")])),
                ("trdm_tran_code", text(&[Some("u"), Some("z")])),
            ],
            column: "trdm_tran_code",
            at: Some((2, "\"z\"")),
        },
        Invalid {
            case: "missing tran code value",
            pattern: IncrementalWithDelete,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001"), Some("DC002")])),
                ("centre_name", text(&[renamed, Some("x")])),
                ("trdm_tran_code", text(&[Some("u"), None])),
            ],
            column: "trdm_tran_code",
            at: Some((2, "NULL")),
        },
        Invalid {
            case: "no tran code column where the pattern needs one",
            pattern: IncrementalWithDelete,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001")])),
                ("centre_name", text(&[renamed])),
            ],
            column: "trdm_tran_code",
            at: None,
        },
        Invalid {
            case: "tran code where the pattern takes none",
            pattern: IncrementalUpsertOnly,
            table: "delivery_centre",
            columns: vec![
                ("centre_code", text(&[Some("DC001"), Some("DC003")])),
                ("centre_name", text(&[renamed, Some("x")])),
                ("trdm_tran_code", text(&[None, Some("d")])),
            ],
            column: "trdm_tran_code",
            at: Some((2, "\"d\"")),
        },
    ];
    for (n, case) in cases.into_iter().enumerate() {
        let what = case.case;
        let schema = format!("invalid{n}");
        if case.column.contains("is missing from the input") {
            put_columns_exactly(&s, &schema, case.table, case.columns).await;
        } else {
            put_columns(&s, &schema, case.table, case.columns).await;
        }
        let mut request = upload(dev, &schema);
        request.pattern = case.pattern;
        let report = s.engine.upload(&request).await.unwrap();
        let result = report
            .tables
            .iter()
            .find(|r| r.table == case.table)
            .unwrap();
        let status = result.status.as_incumbent_str();
        assert!(status.starts_with("error: "), "{what}: {status}");
        assert_eq!(result.rows, 0, "{what}: {result:?}");
        let mut needles = vec![format!("table {}", case.table), case.column.to_owned()];
        if let Some((row, value)) = case.at {
            needles.push(format!(
                "table {}, column {}, row {row}: ",
                case.table, case.column
            ));
            needles.push(value.to_owned());
        }
        for needle in needles {
            assert!(status.contains(&needle), "{what}: {status} lacks {needle}");
        }
        assert_eq!(report.import_id, None, "{what}: a batch was created");
        assert_eq!(report.import_status, None, "{what}");
        assert!(
            s.client
                .find_imports(&format!("convention-upload-{schema}"))
                .await
                .unwrap()
                .is_empty(),
            "{what}: the server has an import batch"
        );
        assert!(
            server_state(&s, dev).await == before,
            "{what}: the server's data changed"
        );
    }

    // One bad table stops a good one: nothing is sent, so the good one is not applied either.
    put_columns(
        &s,
        "mixed",
        "delivery_centre",
        vec![
            ("centre_code", text(&[Some("DC001")])),
            ("centre_name", text(&[Some("Renamed by a partial upload")])),
        ],
    )
    .await;
    put_columns(
        &s,
        "mixed",
        "org_unit",
        vec![
            ("org_unit_id", text(&[Some("1"), Some("2")])),
            ("name", text(&[Some("Renamed"), Some("b")])),
            ("headcount", text(&[Some("5"), Some("lots")])),
        ],
    )
    .await;
    let bad = "table org_unit, column headcount, row 2: value \"lots\"";
    let mut request = upload(dev, "mixed");
    request.pattern = IncrementalUpsertOnly;
    let report = s.engine.upload(&request).await.unwrap();
    let status = |report: &trdm_sync::UploadReport, table: &str| {
        report
            .tables
            .iter()
            .find(|r| r.table == table)
            .unwrap()
            .status
            .as_incumbent_str()
    };
    let org_unit = status(&report, "org_unit");
    assert!(
        org_unit.starts_with("error: ") && org_unit.contains(bad),
        "{org_unit}"
    );
    let centre = status(&report, "delivery_centre");
    assert!(
        centre.starts_with("error: not uploaded: org_unit failed validation"),
        "{centre}"
    );
    assert_eq!(report.import_id, None, "{report:?}");
    assert!(
        s.client
            .find_imports("convention-upload-mixed")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(server_state(&s, dev).await == before, "nothing was applied");

    // allow_partial: the good table is applied in a completed batch, the bad one reported and never sent.
    request.allow_partial = true;
    let report = s.engine.upload(&request).await.unwrap();
    let org_unit = status(&report, "org_unit");
    assert!(
        org_unit.starts_with("error: ") && org_unit.contains(bad),
        "{org_unit}"
    );
    let centre = report
        .tables
        .iter()
        .find(|r| r.table == "delivery_centre")
        .unwrap();
    assert_eq!(centre.status, TableStatus::Success, "{report:?}");
    assert_eq!(
        (centre.inserted, centre.updated, centre.deleted),
        (Some(0), Some(1), Some(0))
    );
    assert_eq!(report.import_status.as_deref(), Some("completed"));
    let imports = s
        .client
        .find_imports("convention-upload-mixed")
        .await
        .unwrap();
    assert_eq!(imports.len(), 1);
    assert_eq!(Some(imports[0].id), report.import_id);
    assert_eq!(imports[0].status.as_str(), "completed");
    let sent = s.client.import_results(imports[0].id).await.unwrap().tables;
    assert_eq!(
        sent.iter().map(|t| t.id).collect::<Vec<_>>(),
        [centre.import_table_id.unwrap()],
        "only the valid table was sent"
    );
    assert_eq!(
        centre_name(&s, dev, "DC001").await.as_deref(),
        Some("Renamed by a partial upload")
    );
    let after = server_state(&s, dev).await;
    for (table, data) in &before {
        let now = &after.iter().find(|(t, _)| t == table).unwrap().1;
        assert_eq!(
            data == now,
            table != "delivery_centre",
            "{table}: only the valid table changed"
        );
    }
}

#[tokio::test]
async fn an_upload_from_a_schema_that_does_not_exist_is_an_error_not_a_skip() {
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let err = s.engine.upload(&upload(dev, "nowhere")).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("nothing to upload: no source table exists")
            && message.contains("dev.nowhere.clin_sites")
            && message.contains("dev.nowhere.clin_org_unit"),
        "{message}"
    );
    assert!(
        s.client
            .find_imports("convention-upload-nowhere")
            .await
            .unwrap()
            .is_empty()
    );
}

/// TitanRDM applies each table when its file is announced: when a later table of the batch fails on the
/// server, the earlier one stays applied, and the results say so instead of implying nothing happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_later_table_fails_on_the_server_the_results_name_what_was_applied() {
    let s = setup_with(|c| c.import_delay = std::time::Duration::from_millis(1500)).await;
    let dev = branch(&s.client, "dev").await;
    put_columns(
        &s,
        "atomic",
        "delivery_centre",
        vec![
            ("centre_code", text(&[Some("DC001")])),
            ("centre_name", text(&[Some("Applied before the failure")])),
        ],
    )
    .await;
    put_columns(
        &s,
        "atomic",
        "org_unit",
        vec![
            ("org_unit_id", text(&[Some("1")])),
            ("name", text(&[Some("Never applied")])),
        ],
    )
    .await;
    let m = manifest(&s.client, dev, "Clinics", None).await.unwrap();
    let org_unit_key = m.tables[2].definition.key.clone();
    let mut request = upload(dev, "atomic");
    request.tables = Some(vec!["Delivery Centre".into(), "Org Unit".into()]);
    request.pattern = ImportPattern::IncrementalUpsertOnly;

    // The org unit file disappears from the server's store once it is there: its job fails.
    let uploads = s._dir.path().join("emulator.db.blobs").join("uploads");
    let sabotage = async {
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(30) {
            if let Some(import) = s
                .client
                .newest_import("convention-upload-atomic")
                .await
                .unwrap()
            {
                let tables = s.client.import_results(import.id).await.unwrap().tables;
                if let Some(t) = tables
                    .iter()
                    .find(|t| t.table_definition_key.as_deref() == Some(org_unit_key.as_str()))
                {
                    let file = uploads.join(format!("{}.csv", t.id));
                    if std::fs::remove_file(&file).is_ok() {
                        return true;
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        false
    };
    let (report, sabotaged) = tokio::join!(s.engine.upload(&request), sabotage);
    assert!(sabotaged, "the org unit's file was never seen");
    let report = report.unwrap();
    let centre = report
        .tables
        .iter()
        .find(|r| r.table == "delivery_centre")
        .unwrap();
    let unit = report
        .tables
        .iter()
        .find(|r| r.table == "org_unit")
        .unwrap();
    assert_eq!(
        (&centre.status, centre.applied),
        (&TableStatus::Success, Some(true)),
        "{report:?}"
    );
    assert!(unit.status.is_failure(), "{report:?}");
    assert_eq!(unit.applied, Some(false), "{report:?}");
    assert_eq!(
        unit.note.as_deref(),
        Some(
            "TitanRDM applied Delivery Centre before this failure; the import batch was left open"
        )
    );
    assert_eq!(report.import_status.as_deref(), Some("created"));
    assert_eq!(
        centre_name(&s, dev, "DC001").await.as_deref(),
        Some("Applied before the failure")
    );
}

/// A seeded xorshift generator: random edits, reproducible by seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The fixture's sites with random edits for `pattern`: about a tenth renamed, a tenth dropped (under
/// `incremental_with_delete`: coded `d`), and a few new sites.
fn edited_sites(seed: u64, pattern: ImportPattern) -> String {
    let fixture =
        std::fs::read_to_string(trdm_testkit::fixture::clinics_seed("sites.csv")).unwrap();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let coded = pattern == ImportPattern::IncrementalWithDelete;
    let mut lines = fixture.lines();
    let mut out = lines.next().unwrap().to_owned();
    out.push_str(if coded { ",trdm_tran_code\n" } else { "\n" });
    let tran = |code: &str| {
        if coded {
            format!(",{code}")
        } else {
            String::new()
        }
    };
    let mut template = String::new();
    for (i, line) in lines.enumerate() {
        let (code, rest) = line.split_once(',').unwrap();
        let (name, rest) = rest.split_once(',').unwrap();
        template = rest.to_owned();
        match rng.below(10) {
            0 => out.push_str(&format!(
                "{code},{name} (renamed {i}),{rest}{}\n",
                tran("u")
            )),
            1 if coded => out.push_str(&format!("{line}{}\n", tran("d"))),
            1 => {} // dropped
            _ => out.push_str(&format!("{line}{}\n", tran("u"))),
        }
    }
    for n in 0..rng.below(4) + 1 {
        out.push_str(&format!(
            "{:04},New site {n},{template}{}\n",
            9000 + n,
            tran("i")
        ));
    }
    out
}

fn checks(plan_only: bool, allow_mass_delete: bool) -> trdm_sync::UploadChecks {
    trdm_sync::UploadChecks {
        plan_only,
        allow_mass_delete,
        upload_unchanged: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_counts_exactly_what_the_upload_then_applies_for_every_pattern() {
    let cases = [
        (1, ImportPattern::Full),
        (2, ImportPattern::Full),
        (3, ImportPattern::IncrementalUpsertOnly),
        (4, ImportPattern::IncrementalWithDelete),
        (5, ImportPattern::IncrementalWithDelete),
    ];
    for (seed, pattern) in cases {
        let s = setup().await;
        put(&s, "sites", &edited_sites(seed, pattern)).await;
        let before = server_state(&s, 1).await;
        let mut request = upload(1, "rdmout");
        request.pattern = pattern;
        request.tables = Some(vec!["Site".into()]);
        request.checks = checks(true, false);
        let planned = s.engine.upload(&request).await.unwrap();
        assert_eq!(planned.import_id, None, "a plan creates no batch");
        let r = &planned.tables[0];
        assert_eq!(r.status, TableStatus::Planned, "{r:?}");
        let plan = r.plan.clone().unwrap();
        assert_eq!(plan.current, 150);
        assert!(plan.changes_anything(), "seed {seed}: {plan:?}");
        assert!(!plan.changes.is_empty() && plan.changes.len() <= 10);
        assert!(
            server_state(&s, 1).await == before,
            "seed {seed}: a plan leaves every record as it was"
        );
        assert_eq!(
            s.client
                .newest_import("convention-upload-rdmout")
                .await
                .unwrap(),
            None,
            "seed {seed}: a plan creates no import"
        );

        request.checks = checks(false, true);
        let applied = s.engine.upload(&request).await.unwrap();
        let a = &applied.tables[0];
        assert_eq!(a.status, TableStatus::Success, "{a:?}");
        assert_eq!(
            (a.inserted, a.updated, a.deleted),
            (
                Some(plan.inserted as i64),
                Some(plan.updated as i64),
                Some(plan.deleted as i64)
            ),
            "seed {seed} ({pattern}): the plan's counts are TitanRDM's"
        );
        if pattern != ImportPattern::Full {
            assert_eq!(plan.current - plan.deleted, 150 - a.deleted.unwrap() as u64);
        }
    }
}

#[tokio::test]
async fn a_full_upload_that_would_delete_most_records_is_refused_unless_allowed() {
    let s = setup().await;
    let fixture = edited_sites(7, ImportPattern::IncrementalUpsertOnly);
    let kept: String = fixture.lines().take(16).map(|l| format!("{l}\n")).collect(); // 15 of 150 sites
    put(&s, "sites", &kept).await;
    let before = server_state(&s, 1).await;
    let mut request = upload(1, "rdmout");
    request.tables = Some(vec!["Site".into()]);
    request.checks = checks(false, false);
    let refused = s.engine.upload(&request).await.unwrap();
    let r = &refused.tables[0];
    let TableStatus::Error(message) = &r.status else {
        panic!("a 90% delete must be refused: {r:?}");
    };
    assert!(
        message.contains("would delete 135 of the 150 current records of Site")
            && message.contains("--allow-mass-delete"),
        "{message}"
    );
    assert_eq!(refused.import_id, None, "no batch for a refused table");
    assert!(server_state(&s, 1).await == before);

    request.checks = checks(false, true);
    let allowed = s.engine.upload(&request).await.unwrap();
    let a = &allowed.tables[0];
    assert_eq!(a.status, TableStatus::Success, "{a:?}");
    assert_eq!(a.deleted, Some(135));
}

#[tokio::test]
async fn an_unchanged_domain_creates_no_batch_and_only_changed_tables_are_sent() {
    let s = setup().await;
    s.engine.download(&download(1, "rdmin")).await.unwrap();
    copy(&s, "rdmin", "rdmout").await;
    let before = versions(&s, 1).await;
    let mut request = upload(1, "rdmout");
    request.checks = checks(false, false);
    let report = s.engine.upload(&request).await.unwrap();
    assert_eq!(report.import_id, None, "{report:?}");
    for r in &report.tables {
        assert_eq!(r.status, TableStatus::SkippedUnchanged, "{r:?}");
        let plan = r.plan.as_ref().unwrap();
        assert_eq!(plan.unchanged, plan.current);
        assert_eq!(r.import_table_id, None);
    }
    assert_eq!(versions(&s, 1).await, before);

    put(
        &s,
        "delivery_centre",
        &std::fs::read_to_string(trdm_testkit::fixture::clinics_seed("delivery_centre.csv"))
            .unwrap()
            .replacen("DC001,", "DC001,Renamed ", 1),
    )
    .await;
    // The copy of rdmin has system columns; the hand-made table has the user columns only.
    let report = s.engine.upload(&request).await.unwrap();
    let by: std::collections::HashMap<&str, &trdm_sync::TableResult> = report
        .tables
        .iter()
        .map(|r| (r.table.as_str(), r))
        .collect();
    assert_eq!(
        by["delivery_centre"].status,
        TableStatus::Success,
        "{report:?}"
    );
    assert_eq!(by["delivery_centre"].updated, Some(1));
    assert_eq!(by["sites"].status, TableStatus::SkippedUnchanged);
    assert_eq!(by["org_unit"].status, TableStatus::SkippedUnchanged);
    assert!(report.import_id.is_some());
}
