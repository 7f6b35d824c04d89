//! The conformance suite on a temporary warehouse, plus checks of what lands on disk.

use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use deltalake::kernel::{DataType as DeltaType, PrimitiveType};
use futures_util::{StreamExt as _, TryStreamExt as _};
use trdm_sync::catalog::conformance;
use trdm_testkit::TempWarehouse;

use super::*;

#[tokio::test]
async fn conformance_suite() {
    let dir = TempWarehouse::new();
    conformance::run_all(&DeltaCatalog::new(dir.root()), "conformance.delta").await;
}

fn stream(batches: Vec<RecordBatch>) -> BatchStream {
    futures_util::stream::iter(batches.into_iter().map(Ok)).boxed()
}

/// What the catalog writes is a Delta table that delta-rs itself opens: `_delta_log` with one commit per
/// write, column comments and properties where Spark looks for them, odd types stored as documented.
#[tokio::test]
async fn writes_a_valid_delta_table() {
    let dir = TempWarehouse::new();
    let catalog = DeltaCatalog::new(dir.root());
    let table = TableRef::new("dev", "rdmin", "clin_sites");
    let (schema, batch) = trdm_testkit::fixture::sites_batch("id");
    let properties = Properties::from([("trdm.high_water_mark".to_owned(), "42".to_owned())]);
    catalog.create_schema("dev", "rdmin").await.unwrap();
    catalog
        .overwrite(
            &table,
            schema.clone(),
            stream(vec![batch.clone()]),
            &properties,
        )
        .await
        .unwrap();

    let path = catalog.table_path(&table).unwrap();
    assert_eq!(path, dir.root().join("dev/rdmin/clin_sites"));
    assert!(path.join("_delta_log/00000000000000000000.json").is_file());

    let opened =
        deltalake::open_table(deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap())
            .await
            .unwrap();
    assert_eq!(opened.version(), Some(0));
    let snapshot = opened.snapshot().unwrap();
    let delta_schema = snapshot.schema();
    let id = delta_schema.field("id").unwrap();
    assert!(!id.is_nullable());
    assert_eq!(
        id.metadata().get("comment").map(|v| v.to_string()),
        Some("record id".to_owned())
    );
    let opens_at = delta_schema.field("opens_at").unwrap();
    assert_eq!(
        opens_at.data_type(),
        &DeltaType::Primitive(PrimitiveType::String)
    );
    assert_eq!(
        opens_at
            .metadata()
            .get(types::ARROW_TYPE_KEY)
            .map(|v| v.to_string()),
        Some("Time64(µs)".to_owned())
    );
    assert_eq!(
        snapshot
            .metadata()
            .configuration()
            .get("trdm.high_water_mark")
            .map(String::as_str),
        Some("42")
    );
    // Other readers see the time of day as text.
    let (_, scan) = opened.scan_table().await.unwrap();
    let raw: Vec<RecordBatch> = scan.try_collect().await.unwrap();
    let raw = arrow_select_concat(&raw);
    let text = arrow_cast::cast(raw.column_by_name("opens_at").unwrap(), &DataType::Utf8).unwrap();
    let text = text.as_any().downcast_ref::<StringArray>().unwrap();
    let mut values: Vec<&str> = text.iter().flatten().collect();
    values.sort();
    assert_eq!(values, ["00:00:00", "12:34:56.000001"]);

    // Each write is exactly one commit; an overwrite leaves only its own files active.
    let spec = MergeSpec {
        key_columns: vec!["id".into()],
        delete_column: None,
    };
    catalog
        .merge(
            &table,
            schema.clone(),
            stream(vec![batch.slice(0, 1)]),
            &spec,
            &properties,
        )
        .await
        .unwrap();
    catalog
        .overwrite(
            &table,
            schema.clone(),
            stream(vec![batch.clone()]),
            &Properties::new(),
        )
        .await
        .unwrap();
    let mut reopened =
        deltalake::open_table(deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap())
            .await
            .unwrap();
    assert_eq!(reopened.version(), Some(2));
    assert_eq!(reopened.get_file_uris().unwrap().count(), 1);
    assert!(
        reopened
            .snapshot()
            .unwrap()
            .metadata()
            .configuration()
            .keys()
            .all(|k| !k.starts_with("trdm."))
    );
    reopened.load_version(1).await.unwrap();
    assert_eq!(
        reopened
            .snapshot()
            .unwrap()
            .metadata()
            .configuration()
            .get("trdm.high_water_mark")
            .unwrap(),
        "42"
    );
    let legacy = reopened.snapshot().unwrap().protocol().clone();
    assert_eq!(
        (legacy.min_reader_version(), legacy.min_writer_version()),
        (1, 2)
    );

    // A timestamp without zone needs the timestampNtz feature: the overwrite that brings one upgrades the
    // protocol in its own commit, and the table stays readable.
    let with_ntz = Arc::new(Schema::new(vec![Field::new(
        "at",
        DataType::Timestamp(TimeUnit::Microsecond, None),
        true,
    )]));
    let at = arrow_array::TimestampMicrosecondArray::from(vec![Some(1_700_000_000_000_000), None]);
    let batch = RecordBatch::try_new(with_ntz.clone(), vec![Arc::new(at)]).unwrap();
    catalog
        .overwrite(
            &table,
            with_ntz.clone(),
            stream(vec![batch.clone()]),
            &Properties::new(),
        )
        .await
        .unwrap();
    let upgraded =
        deltalake::open_table(deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap())
            .await
            .unwrap();
    assert_eq!(upgraded.version(), Some(3));
    let protocol = upgraded.snapshot().unwrap().protocol().clone();
    assert_eq!(
        (protocol.min_reader_version(), protocol.min_writer_version()),
        (3, 7)
    );
    let (read_schema, batches) = catalog.read(&table).await.unwrap();
    assert_eq!(read_schema, with_ntz);
    let batches: Vec<RecordBatch> = batches.try_collect().await.unwrap();
    assert_eq!(arrow_select_concat(&batches), batch);
}

/// The writer refuses what it cannot store, before touching the disk, and rejects bad names.
#[tokio::test]
async fn rejects_unstorable_types_and_bad_names() {
    let dir = TempWarehouse::new();
    let catalog = DeltaCatalog::new(dir.root());
    let table = TableRef::new("c", "s", "t");
    let schema = Arc::new(Schema::new(vec![Field::new(
        "i",
        DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano),
        true,
    )]));
    let err = catalog
        .overwrite(&table, schema, stream(vec![]), &Properties::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    assert!(!dir.root().join("c").exists());

    for bad in ["", ".", "..", "a/b", "a\\b"] {
        let table = TableRef::new("c", "s", bad);
        assert!(
            matches!(catalog.table_exists(&table).await, Err(Error::Invalid(_))),
            "{bad:?}"
        );
        assert!(
            matches!(
                catalog.create_schema(bad, "s").await,
                Err(Error::Invalid(_))
            ),
            "{bad:?}"
        );
    }
}

/// Two writers that start from the same version: the second commit conflicts instead of silently
/// dropping the first writer's rows.
#[tokio::test]
async fn a_write_based_on_a_stale_version_conflicts() {
    let dir = TempWarehouse::new();
    stale_write_conflicts(&DeltaCatalog::new(dir.root()), "c").await;
}

/// What [`a_write_based_on_a_stale_version_conflicts`] checks, in any warehouse, under catalog `catalog`.
async fn stale_write_conflicts(catalog: &DeltaCatalog, catalog_name: &str) {
    let table = TableRef::new(catalog_name, "s", "t");
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let rows = |ids: Vec<i64>| {
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids))]).unwrap()
    };
    catalog
        .overwrite(
            &table,
            schema.clone(),
            stream(vec![rows(vec![1])]),
            &Properties::new(),
        )
        .await
        .unwrap();

    let location = catalog.locate(&table).unwrap();
    let stale = catalog.load(&location).await.unwrap().unwrap();
    catalog
        .overwrite(
            &table,
            schema.clone(),
            stream(vec![rows(vec![2])]),
            &Properties::new(),
        )
        .await
        .unwrap();

    let stored = types::stored_schema(&schema).unwrap();
    let mut writer = FileWriter::new(&location, &stored).await.unwrap();
    writer.write(&rows(vec![3])).await.unwrap();
    let adds = writer.finish().await.unwrap();
    let err = commit_replace(&location, Some(&stale), &stored, adds, &Properties::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Catalog {
                backend: "delta",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(ids(catalog, &table).await, vec![2]);
}

/// The `id` column of `table`, sorted.
async fn ids(catalog: &DeltaCatalog, table: &TableRef) -> Vec<i64> {
    let (_, batches) = catalog.read(table).await.unwrap();
    let batches: Vec<RecordBatch> = batches.try_collect().await.unwrap();
    let mut ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    ids.sort_unstable();
    ids
}

fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    let schema = batches
        .first()
        .map(|b| b.schema())
        .expect("at least one batch");
    let columns = (0..schema.fields().len())
        .map(|i| {
            let parts: Vec<&dyn arrow_array::Array> =
                batches.iter().map(|b| b.column(i).as_ref()).collect();
            arrow_select::concat::concat(&parts).unwrap()
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Keys are stored as the engine names them (`trdm.high_water_mark`, where Spark and other readers look);
/// tables written when the catalog prefixed them once more read back under the same keys.
#[tokio::test]
async fn properties_are_stored_under_their_own_keys_and_legacy_keys_read_back() {
    let dir = TempWarehouse::new();
    let catalog = DeltaCatalog::new(dir.root());
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
    for (table, key) in [
        ("current", "trdm.high_water_mark"),
        ("legacy", "trdm.trdm.high_water_mark"),
    ] {
        let table = TableRef::new("dev", "rdmin", table);
        let properties = Properties::from([(key.to_owned(), "42".to_owned())]);
        catalog
            .overwrite(
                &table,
                schema.clone(),
                stream(vec![batch.clone()]),
                &properties,
            )
            .await
            .unwrap();
        let path = catalog.table_path(&table).unwrap();
        let opened =
            deltalake::open_table(deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap())
                .await
                .unwrap();
        let stored: Vec<String> = opened
            .snapshot()
            .unwrap()
            .metadata()
            .configuration()
            .keys()
            .filter(|k| k.starts_with("trdm."))
            .cloned()
            .collect();
        assert_eq!(stored, [key]);
        assert_eq!(
            catalog.properties(&table).await.unwrap(),
            Properties::from([("trdm.high_water_mark".to_owned(), "42".to_owned())])
        );
    }
}

/// Catalogs in the object stores the test command started (see
/// [`trdm_testkit::warehouse::object_store_warehouses`]), with their locations.
fn object_store_warehouses(test: &str) -> Vec<(String, DeltaCatalog)> {
    trdm_testkit::warehouse::object_store_warehouses(test)
        .into_iter()
        .map(|location| {
            let catalog = DeltaCatalog::open(&location, std::collections::HashMap::new())
                .unwrap_or_else(|e| panic!("{location}: {e}"));
            (location, catalog)
        })
        .collect()
}

#[tokio::test]
async fn the_conformance_suite_passes_in_every_object_store() {
    for (location, catalog) in object_store_warehouses("conformance") {
        conformance::run_all(&catalog, "conformance.delta").await;
        assert_eq!(catalog.root(), None);
        assert!(
            catalog
                .location()
                .starts_with(location.split("://").next().unwrap())
        );
    }
}

/// Two writers committing to one table at once, on the local disk (see [`concurrent_writers`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_conflict_cleanly_and_never_corrupt_a_table() {
    let dir = TempWarehouse::new();
    concurrent_writers(&DeltaCatalog::new(dir.root())).await;
}

/// In every object store: a commit based on a stale version conflicts, and [`concurrent_writers`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_every_object_store_concurrent_writers_conflict_cleanly_and_never_corrupt_a_table() {
    for (_location, catalog) in object_store_warehouses("concurrent") {
        stale_write_conflicts(&catalog, "stale").await;
        concurrent_writers(&catalog).await;
    }
}

/// Two writers committing to one table at once, five times (the first time both create it): each either
/// succeeds or gets the backend's conflict error, and the table always reads as exactly one writer's whole
/// content.
async fn concurrent_writers(catalog: &DeltaCatalog) {
    let table = TableRef::new("c", "s", "t");
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let content = |first: i64| -> Vec<i64> { (first..first + 100).collect() };
    let write = |ids: Vec<i64>| {
        let (catalog, table, schema) = (catalog.clone(), table.clone(), schema.clone());
        tokio::spawn(async move {
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids))])
                .unwrap();
            catalog
                .overwrite(&table, schema, stream(vec![batch]), &Properties::new())
                .await
        })
    };
    for round in 0..5_i64 {
        let (a, b) = (content(1_000 * round), content(1_000 * round + 500));
        let (ra, rb) = tokio::join!(write(a.clone()), write(b.clone()));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        for r in [&ra, &rb] {
            match r {
                Ok(_)
                | Err(Error::Catalog {
                    backend: "delta", ..
                }) => {}
                Err(other) => panic!("round {round}: not a conflict: {other:?}"),
            }
        }
        assert!(
            ra.is_ok() || rb.is_ok(),
            "round {round}: both writers failed"
        );
        let got = ids(catalog, &table).await;
        let expected = match (&ra, &rb) {
            (Ok(_), Err(_)) => vec![&a],
            (Err(_), Ok(_)) => vec![&b],
            _ => vec![&a, &b], // both, one after the other: the later one's content
        };
        assert!(
            expected.contains(&&got),
            "round {round}: the table holds {got:?}, not the content of a writer that succeeded \
             (a: {}, b: {})",
            ra.is_ok(),
            rb.is_ok()
        );
    }
}

/// A write holds at most one row group in memory: large tables are written in row groups of
/// [`ROW_GROUP_ROWS`] rows, and read back whole.
#[tokio::test]
async fn large_tables_are_written_in_bounded_row_groups() {
    use deltalake::parquet::file::reader::{FileReader as _, SerializedFileReader};

    let dir = TempWarehouse::new();
    let catalog = DeltaCatalog::new(dir.root());
    let table = TableRef::new("c", "s", "big");
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let rows = 2 * ROW_GROUP_ROWS as i64 + 10;
    let batches = (0..rows)
        .step_by(8192)
        .map(|start| {
            let ids: Vec<i64> = (start..(start + 8192).min(rows)).collect();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids))]).unwrap()
        })
        .collect();
    catalog
        .overwrite(&table, schema, stream(batches), &Properties::new())
        .await
        .unwrap();
    let mut groups = Vec::new();
    for entry in std::fs::read_dir(catalog.table_path(&table).unwrap()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "parquet") {
            let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
            for g in reader.metadata().row_groups() {
                groups.push(g.num_rows());
            }
        }
    }
    groups.sort_unstable();
    assert_eq!(groups, [10, ROW_GROUP_ROWS as i64, ROW_GROUP_ROWS as i64]);
    assert_eq!(ids(&catalog, &table).await, (0..rows).collect::<Vec<_>>());
}
