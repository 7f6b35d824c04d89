//! Test support for the CLI tests that look inside a Delta warehouse and at TitanRDM's data: snapshots of
//! both sides, and source tables edited the ways users edit them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use futures_util::TryStreamExt;
use trdm_catalog_delta::DeltaCatalog;
use trdm_client::{ClientBuilder, ExportRequest, PollConfig};
use trdm_sync::catalog::{Catalog, Properties, TableRef};
use trdm_testkit::TempWarehouse;

pub use trdm_testkit::DEMO_CLIENT_SECRET as SECRET;

pub use trdm_testkit::warehouse::{copy_dir, snapshot};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every version of every table on every branch, as TitanRDM exports it: `branch/table key` and the
/// file's bytes.
pub async fn history_exports(client: &trdm_client::Client) -> Vec<(String, Vec<u8>)> {
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
            let chunks: Vec<_> = client
                .download_export(&export)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            exports.push((format!("{}/{}", branch.name, table.key), chunks.concat()));
        }
    }
    exports
}

/// [`history_exports`] of the server at `url`, and the import batches the convention uploads of `schemas`
/// would have created.
pub fn server_state(url: &str, schemas: &[&str]) -> (Vec<(String, Vec<u8>)>, usize) {
    runtime().block_on(async {
        let client = client(url).await;
        let exports = history_exports(&client).await;
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
pub struct Warehouse {
    pub dir: TempWarehouse,
}

impl Warehouse {
    pub fn new() -> Warehouse {
        Warehouse {
            dir: TempWarehouse::new(),
        }
    }

    pub fn path(&self) -> &str {
        self.dir.path()
    }

    pub fn catalog(&self) -> DeltaCatalog {
        DeltaCatalog::new(self.dir.root())
    }

    /// Copies `dev.rdmin.{table}` to `dev.{schema}.{table}`, passing its batches through `edit`, with
    /// `properties`.
    pub fn copy(
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

pub fn without(batch: RecordBatch, column: &str) -> RecordBatch {
    let schema = batch.schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != column)
        .collect();
    batch.project(&keep).unwrap()
}

pub fn replaced(batch: RecordBatch, column: &str, array: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let i = schema.index_of(column).unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new(column, array.data_type().clone(), true);
    let mut columns = batch.columns().to_vec();
    columns[i] = array;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// A client of the server at `url` (the fixture's demo application).
pub async fn client(url: &str) -> trdm_client::Client {
    ClientBuilder::new(url)
        .with_client_credentials(trdm_testkit::DEMO_CLIENT_ID, SECRET)
        .connect()
        .await
        .unwrap()
}

/// Every version of every table on every branch as sorted CSV lines (by table key), without the columns
/// a server fills from its clock or its batch ids, so two servers that applied the same work compare
/// equal.
pub fn history(url: &str) -> Vec<(String, Vec<String>)> {
    const VOLATILE: [&str; 5] = [
        "trdm_created_at",
        "trdm_effective_from",
        "trdm_effective_to",
        "trdm_actor_id",
        "trdm_sk",
    ];
    runtime().block_on(async {
        let client = client(url).await;
        let mut out = Vec::new();
        for (name, bytes) in history_exports(&client).await {
            let mut reader = trdm_format::csv::CsvReader::new(&bytes[..]);
            let mut record = trdm_format::csv::Record::new();
            reader.read_record(&mut record).unwrap();
            let keep: Vec<bool> = record.iter().map(|f| !VOLATILE.contains(&f.text)).collect();
            let mut lines = Vec::new();
            while reader.read_record(&mut record).unwrap() {
                let cells: Vec<&str> = record
                    .iter()
                    .zip(&keep)
                    .filter(|(_, keep)| **keep)
                    .map(|(f, _)| f.text)
                    .collect();
                lines.push(cells.join("|"));
            }
            lines.sort();
            out.push((name, lines));
        }
        out
    })
}

/// Each table of `dev.{schema}` in the warehouse at `root`: its rows as sorted lines and its high-water
/// mark; what a reader of the table sees.
pub fn tables(root: &Path, schema: &str) -> Vec<(String, Vec<String>, Option<String>)> {
    runtime().block_on(async {
        let catalog = DeltaCatalog::new(root);
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(root.join("dev").join(schema)) else {
            return out;
        };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let table = TableRef::new("dev", schema, &name);
            if !catalog.table_exists(&table).await.unwrap() {
                continue;
            }
            let (_, stream) = catalog.read(&table).await.unwrap();
            let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
            let mut lines = Vec::new();
            for b in &batches {
                for row in 0..b.num_rows() {
                    let cells: Vec<String> = b
                        .columns()
                        .iter()
                        .map(|c| {
                            let c = match c.data_type() {
                                arrow_schema::DataType::Timestamp(unit, Some(_)) => {
                                    arrow_cast::cast(
                                        c,
                                        &arrow_schema::DataType::Timestamp(*unit, None),
                                    )
                                    .unwrap()
                                }
                                _ => c.clone(),
                            };
                            arrow_cast::display::array_value_to_string(&c, row).unwrap()
                        })
                        .collect();
                    lines.push(cells.join("|"));
                }
            }
            lines.sort();
            let mark = catalog
                .properties(&table)
                .await
                .unwrap()
                .get("trdm.high_water_mark")
                .cloned();
            out.push((name, lines, mark));
        }
        out
    })
}
