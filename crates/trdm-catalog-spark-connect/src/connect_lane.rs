//! The conformance suite and the Spark-specific checks, against the Spark Connect server named by
//! `TRDM_SPARK_CONNECT_URL` (Delta + Unity Catalog catalog `dev`, or `TRDM_SPARK_CONNECT_CATALOG`). The
//! `connect-rust` lane of `python/scripts/lanes.sh` starts one and sets `TRDM_REQUIRE_SPARK_CONNECT=1`, under
//! which a missing URL fails instead of skipping; without either, these tests pass without doing anything
//! (object_store's `maybe_skip_integration!`).
//!
//! The whole suite holds, exact-case names included: Unity Catalog OSS looks tables up by their exact name
//! (the Python package's run against `spark_catalog` has to expect `names_are_exact` to fail, as Spark's
//! session catalog folds case; Databricks' Unity Catalog folds case too, so there it would fail as well).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use futures_util::{StreamExt as _, TryStreamExt as _};
use trdm_sync::catalog::conformance;

use super::*;

fn maybe_remote() -> Option<SparkRemote> {
    match std::env::var("TRDM_SPARK_CONNECT_URL") {
        Ok(url) if !url.trim().is_empty() => {
            Some(SparkRemote::parse(url.trim()).expect("TRDM_SPARK_CONNECT_URL"))
        }
        _ => {
            assert!(
                std::env::var_os("TRDM_REQUIRE_SPARK_CONNECT").is_none(),
                "TRDM_REQUIRE_SPARK_CONNECT is set but TRDM_SPARK_CONNECT_URL names no server"
            );
            None
        }
    }
}

async fn maybe_catalog() -> Option<SparkConnectCatalog> {
    let remote = maybe_remote()?;
    Some(SparkConnectCatalog::connect(remote).await.expect("connect"))
}

/// `catalog.schema` for one test: a schema of its own in the test catalog.
fn prefix(name: &str) -> String {
    let catalog = std::env::var("TRDM_SPARK_CONNECT_CATALOG").unwrap_or_else(|_| "dev".to_owned());
    format!(
        "{catalog}.{name}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_through_a_boxed_catalog() {
    let Some(catalog) = maybe_catalog().await else {
        return;
    };
    let catalog: Box<dyn Catalog> = Box::new(catalog);
    conformance::run_all(catalog.as_ref(), &prefix("conformance")).await;
}

/// What a write leaves in the cluster is what SparkSync's writes leave: a Delta table, the column comments
/// and types of the Python catalog, the sync state and the stored schema as `trdm.*` properties split into
/// parts of at most 250 characters, time of day as pyarrow's text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_written_table_is_delta_with_the_python_catalogs_comments_types_and_properties() {
    let Some(catalog) = maybe_catalog().await else {
        return;
    };
    let prefix = prefix("layout");
    let (cat, schema_name) = prefix.split_once('.').unwrap();
    catalog.create_schema(cat, schema_name).await.unwrap();
    let table = TableRef::new(cat, schema_name, "clin_sites");
    let (schema, batch) = trdm_testkit::fixture::sites_batch("trdm_record_id");
    let properties = Properties::from([("trdm.high_water_mark".to_owned(), "42".to_owned())]);
    let data = futures_util::stream::iter([Ok(batch.clone())]).boxed();
    catalog
        .overwrite(&table, schema.clone(), data, &properties)
        .await
        .unwrap();

    let name = name_of(&table);
    let describe = catalog
        .session
        .sql(&format!("DESCRIBE TABLE EXTENDED {name}"), "describe")
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> = describe
        .iter()
        .flat_map(|b| {
            let text = |i: usize| arrow_cast::cast(b.column(i), &DataType::Utf8).unwrap();
            let (a, t, c) = (text(0), text(1), text(2));
            (0..b.num_rows())
                .map(|r| {
                    let get = |col: &arrow_array::ArrayRef| {
                        let s = col.as_string::<i32>();
                        if s.is_valid(r) {
                            s.value(r).trim().to_owned()
                        } else {
                            String::new()
                        }
                    };
                    (get(&a), get(&t), get(&c))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let row = |key: &str| rows.iter().find(|r| r.0 == key).cloned();
    assert_eq!(
        row("trdm_record_id"),
        Some(("trdm_record_id".into(), "bigint".into(), "record id".into()))
    );
    assert_eq!(row("opens_at").map(|r| r.1), Some("string".into()));
    assert_eq!(
        row("Provider").map(|r| r.1.to_lowercase()),
        Some("delta".into())
    );

    let raw = catalog
        .session
        .sql(&format!("SHOW TBLPROPERTIES {name}"), "show")
        .await
        .unwrap();
    let mut shown = Properties::new();
    for b in &raw {
        let (k, v) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
        );
        for r in 0..b.num_rows() {
            shown.insert(k.value(r).to_owned(), v.value(r).to_owned());
        }
    }
    assert_eq!(shown["trdm.high_water_mark"], "42");
    let parts: usize = shown["trdm.arrow_schema.parts"].parse().unwrap();
    assert!(parts >= 2, "{shown:?}");
    assert!(
        shown.values().all(|v| v.chars().count() <= 255),
        "{shown:?}"
    );
    assert_eq!(
        catalog.properties(&table).await.unwrap(),
        properties,
        "the stored schema is not a property the engine sees"
    );

    let text = catalog
        .session
        .sql(
            &format!("SELECT opens_at FROM {name} ORDER BY trdm_record_id"),
            "select",
        )
        .await
        .unwrap();
    let text: Vec<&str> = text[0]
        .column(0)
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    assert_eq!(text, ["12:34:56.000001", "00:00:00.000000"]);

    let (read_schema, rows) = catalog.read(&table).await.unwrap();
    assert_eq!(
        read_schema, schema,
        "the stored schema restores nullability and types"
    );
    let rows: Vec<RecordBatch> = rows.try_collect().await.unwrap();
    assert_eq!(rows.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
}

/// A table larger than what travels inside a plan goes up as a cached artifact and arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_past_the_inline_limit_is_sent_as_an_artifact_and_arrives_whole() {
    let Some(catalog) = maybe_catalog().await else {
        return;
    };
    let prefix = prefix("large");
    let (cat, schema_name) = prefix.split_once('.').unwrap();
    catalog.create_schema(cat, schema_name).await.unwrap();
    let table = TableRef::new(cat, schema_name, "wide");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let rows = 200_000_i64;
    let filler = "x".repeat(100);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("{i}{filler}")),
            )),
        ],
    )
    .unwrap();
    assert!(batch.get_array_memory_size() > session::INLINE_LIMIT);
    let data = futures_util::stream::iter([Ok(batch)]).boxed();
    let summary = catalog
        .overwrite(&table, schema, data, &Properties::new())
        .await
        .unwrap();
    assert_eq!(summary, WriteSummary::replaced(rows as u64));
    assert_eq!(catalog.count_rows(&table).await.unwrap(), rows as u64);
}

/// The connection string's parameters reach the server (a local one ignores a token and Databricks'
/// routing header) and show nowhere: not in `Debug`, not in the errors of a server that is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_and_cluster_id_are_passed_through_and_never_shown() {
    const TOKEN: &str = "dapiTOKEN0123456789abcdef";
    const CLUSTER: &str = "0123-456789-clusterid";
    let hidden = |text: &str| !text.contains(TOKEN) && !text.contains(CLUSTER);

    // Nothing listens on a port just freed: the error names the server, redacted.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = SparkRemote::parse(&format!(
        "sc://127.0.0.1:{port}/;token={TOKEN};x-databricks-cluster-id={CLUSTER}"
    ))
    .unwrap();
    let err = SparkConnectCatalog::connect(nowhere).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(hidden(&text), "{text}");
    assert!(
        text.contains(&format!("sc://127.0.0.1:{port}/;token=<redacted>")),
        "{text}"
    );

    let Some(remote) = maybe_remote() else {
        return;
    };
    let with_secrets = SparkRemote::parse(&format!(
        "sc://{}:{}/;token={TOKEN};x-databricks-cluster-id={CLUSTER}",
        remote.host(),
        remote.port()
    ))
    .unwrap();
    let catalog = SparkConnectCatalog::connect(with_secrets).await.unwrap();
    assert!(hidden(&format!("{catalog:?}")));
    let missing = TableRef::new("dev", "no_such_schema_here", "t");
    match catalog.read(&missing).await {
        Err(Error::TableNotFound { .. }) => {}
        Err(other) => panic!("read of {missing}: {other}"),
        Ok(_) => panic!("read of {missing} succeeded"),
    }
    let err = catalog
        .session
        .sql(
            "SELECT * FROM no_such_table_anywhere",
            "a failing statement",
        )
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(hidden(&text), "{text}");
    assert!(
        text.contains("no_such_table_anywhere"),
        "the error names the table: {text}"
    );
}
