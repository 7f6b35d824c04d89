//! The CLI's bad-input corpus: each wrong input or wrong state gets its own clear message and exit code, and
//! changes nothing on either side (the warehouse byte-identical, TitanRDM's exports byte-identical, no
//! import batch), and no secret appears in what it prints.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{Field, Schema};
use common::Server;
use futures_util::TryStreamExt;
use trdm_catalog_delta::DeltaCatalog;
use trdm_client::{ClientBuilder, ExportRequest, PollConfig};
use trdm_sync::catalog::{Catalog, Properties, TableRef};

const SECRET: &str = "demo-secret";

/// Every file under `root` with its bytes.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.insert(path.strip_prefix(root).unwrap().to_owned(), Vec::new());
                walk(&path, root, out);
            } else {
                out.insert(
                    path.strip_prefix(root).unwrap().to_owned(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every version of every table on both branches, as TitanRDM exports it (bytes), and the import batches
/// the convention uploads of `schemas` would have created.
fn server_state(url: &str, schemas: &[&str]) -> (Vec<Vec<u8>>, usize) {
    runtime().block_on(async {
        let client = ClientBuilder::new(url)
            .with_client_credentials("demo-client", SECRET)
            .connect()
            .await
            .unwrap();
        let poll = PollConfig::fixed(
            std::time::Duration::from_millis(20),
            std::time::Duration::from_secs(60),
        );
        let mut exports = Vec::new();
        for branch in client.branches().await.unwrap() {
            for table in client
                .deployed_table_definitions(branch.id, None)
                .await
                .unwrap()
            {
                let request = ExportRequest::full(branch.id, table.key.clone()).with_history(true);
                let export = client.create_export(&request).await.unwrap();
                let export = client.wait_for_export(export.id, &poll).await.unwrap();
                let bytes: Vec<_> = client
                    .download_export(&export)
                    .await
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                exports.push(bytes.concat());
            }
        }
        let mut imports = 0;
        for schema in schemas {
            imports += client
                .find_imports(&format!("convention-upload-{schema}"))
                .await
                .unwrap()
                .len();
        }
        (exports, imports)
    })
}

/// A warehouse with `dev.rdmin` downloaded from prod, and `dev.{schema}` copies of it edited by `edit`.
struct Warehouse {
    dir: tempfile::TempDir,
}

impl Warehouse {
    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn catalog(&self) -> DeltaCatalog {
        DeltaCatalog::new(self.dir.path())
    }

    /// Copies `dev.rdmin.{table}` to `dev.{schema}.{table}`, passing its batches through `edit`, with
    /// `properties`.
    fn copy(
        &self,
        table: &str,
        schema: &str,
        properties: Properties,
        edit: impl Fn(RecordBatch) -> RecordBatch,
    ) {
        runtime().block_on(async {
            let catalog = self.catalog();
            let (_, stream) = catalog
                .read(&TableRef::new("dev", "rdmin", table))
                .await
                .unwrap();
            let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
            let batches: Vec<RecordBatch> = batches.into_iter().map(edit).collect();
            let schema_ref = batches[0].schema();
            catalog.create_schema("dev", schema).await.unwrap();
            catalog
                .overwrite(
                    &TableRef::new("dev", schema, table),
                    schema_ref,
                    Box::pin(futures_util::stream::iter(batches.into_iter().map(Ok))),
                    &properties,
                )
                .await
                .unwrap();
        });
    }
}

fn without(batch: RecordBatch, column: &str) -> RecordBatch {
    let schema = batch.schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != column)
        .collect();
    batch.project(&keep).unwrap()
}

fn replaced(batch: RecordBatch, column: &str, array: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let i = schema.index_of(column).unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new(column, array.data_type().clone(), true);
    let mut columns = batch.columns().to_vec();
    columns[i] = array;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// One bad input: the arguments after `trdm`, the exit code, and what the output must say.
struct Case {
    name: &'static str,
    args: Vec<String>,
    code: i32,
    says: Vec<String>,
}

fn case(name: &'static str, args: &[&str], code: i32, says: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        code,
        says: says.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn every_bad_input_is_a_clear_error_that_changes_nothing_on_either_side() {
    let server = Server::start();
    let warehouse = Warehouse {
        dir: tempfile::tempdir().unwrap(),
    };
    let wh = warehouse.path().to_owned();
    let (code, _, out) = server.trdm(&[
        "sync",
        "download",
        "--branch",
        "prod",
        "--catalog",
        "dev",
        "--schema",
        "rdmin",
        "--domain",
        "Clinics",
        "--warehouse",
        &wh,
    ]);
    assert_eq!(code, 0, "{out}");

    // Sources edited the ways users edit them.
    warehouse.copy("clin_sites", "no_phone", Properties::new(), |b| {
        without(b, "phone")
    });
    warehouse.copy("clin_sites", "bool_beds", Properties::new(), |b| {
        let n = b.num_rows();
        replaced(b, "bed_count", Arc::new(BooleanArray::from(vec![true; n])))
    });

    let sync = |command: &str, schema: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "sync",
            command,
            "--branch",
            "prod",
            "--catalog",
            "dev",
            "--schema",
            schema,
            "--domain",
            "Clinics",
            "--warehouse",
            &wh,
            "--poll-interval",
            "0.05",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    };
    let with = |name: &'static str, args: Vec<String>, code: i32, says: &[&str]| Case {
        name,
        args,
        code,
        says: says.iter().map(|s| (*s).to_owned()).collect(),
    };
    let cases = vec![
        case(
            "download from a branch id that does not exist",
            &[
                "sync", "download", "--branch-id", "9999", "--catalog", "dev", "--schema", "fresh",
                "--domain", "Clinics", "--warehouse", &wh,
            ],
            2,
            &["branch 9999 does not exist"],
        ),
        case(
            "tables of a branch id that does not exist",
            &["tables", "--branch-id", "9999", "--domain", "Clinics"],
            2,
            &["branch 9999 does not exist"],
        ),
        case(
            "a branch name that does not exist",
            &[
                "sync", "download", "--branch", "nope", "--catalog", "dev", "--schema", "fresh",
                "--domain", "Clinics", "--warehouse", &wh,
            ],
            2,
            &["nope"],
        ),
        with(
            "upload from a schema that does not exist",
            sync("upload", "nowhere", &[]),
            2,
            &["no source table exists", "dev.nowhere.clin_sites"],
        ),
        with(
            "a domain that does not exist",
            {
                let mut a = sync("download", "fresh", &[]);
                let i = a.iter().position(|x| x == "Clinics").unwrap();
                a[i] = "Clinic".into();
                a
            },
            2,
            &["Clinic"],
        ),
        with(
            "a table name that does not exist",
            sync("download", "fresh", &["--table", "Sites"]),
            2,
            &["\"Sites\"", "Site, Delivery Centre, Org Unit"],
        ),
        with(
            "a wait too long for any clock",
            sync("download", "fresh", &["--max-wait", "1e30"]),
            2,
            &["--max-wait", "too long"],
        ),
        with(
            "a negative wait",
            sync("download", "fresh", &["--max-wait=-1"]),
            2,
            &["--max-wait", "non-negative"],
        ),
        with(
            "a duration that is not a number",
            sync("download", "fresh", &["--max-wait", "soon"]),
            2,
            &["--max-wait", "not a duration"],
        ),
        with(
            "an unknown upload pattern",
            sync("upload", "rdmin", &["--pattern", "everything"]),
            2,
            &["everything", "incremental_upsert_only"],
        ),
        with(
            "an unknown download pattern",
            sync("download", "fresh", &["--pattern", "everything"]),
            2,
            &["everything"],
        ),
        with(
            "a high-water mark that is not a time",
            sync(
                "download",
                "rdmin",
                &["--pattern", "incremental", "--high-water-mark", "yesterday"],
            ),
            1,
            &["yesterday"],
        ),
        with(
            "a full upload of a table that lacks a nullable column",
            sync("upload", "no_phone", &["--table", "Site"]),
            1,
            &["table sites", "column phone is missing", "NULL"],
        ),
        with(
            "an upsert of a table that lacks a nullable column",
            sync(
                "upload",
                "no_phone",
                &["--table", "Site", "--pattern", "incremental_upsert_only"],
            ),
            1,
            &["table sites", "column phone is missing"],
        ),
        with(
            "a source column whose type no longer matches the definition",
            sync("upload", "bool_beds", &["--table", "Site"]),
            1,
            &["table sites", "column bed_count", "Boolean", "integer"],
        ),
        with(
            "a wrong client secret",
            {
                let mut a = sync("download", "fresh", &[]);
                a.extend(["--client-secret".into(), "not-the-secret-42".into()]);
                a
            },
            2,
            &["invalid_client"],
        ),
        with(
            "a server that is not there",
            {
                let mut a = sync("download", "fresh", &[]);
                a.extend(["--url".into(), "http://127.0.0.1:9".into()]);
                a
            },
            2,
            &["127.0.0.1:9"],
        ),
    ];

    let schemas = ["rdmin", "nowhere", "no_phone", "bool_beds"];
    let warehouse_before = snapshot(warehouse.dir.path());
    let server_before = server_state(&server.url, &schemas);
    assert_eq!(server_before.1, 0);
    for case in &cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let (code, _, out) = server.trdm(&args);
        let name = case.name;
        assert_eq!(code, case.code, "{name}: exit code\n{out}");
        for needle in &case.says {
            assert!(out.contains(needle.as_str()), "{name}: says {needle:?}\n{out}");
        }
        assert!(
            !out.contains(SECRET) && !out.contains("not-the-secret-42"),
            "{name}: a secret in the output\n{out}"
        );
        assert!(!out.contains("panicked"), "{name}: a panic\n{out}");
        assert!(
            snapshot(warehouse.dir.path()) == warehouse_before,
            "{name}: the warehouse changed"
        );
    }
    assert!(
        server_state(&server.url, &schemas) == server_before,
        "TitanRDM's data or import batches changed"
    );
}
