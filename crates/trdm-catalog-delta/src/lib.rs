//! A Delta Lake warehouse as a trdm [`Catalog`], on the local disk or in an object store: the offline and
//! test backend, and a way to hand reference data to Spark, DuckDB or Polars without a server.
//!
//! [`DeltaCatalog`] lays tables out as `{root}/{catalog}/{schema}/{table}`, each an ordinary Delta table
//! written with delta-rs. It implements the [`Catalog`] contract exactly (the crate's tests run
//! `trdm_sync::catalog::conformance::run_all` on it), and these are the choices that takes:
//!
//! * **One commit per write.** `overwrite` and `merge` both end in a single Delta commit that carries the new
//!   data files, the removal of every file of the version they started from, the table `metaData` (schema
//!   and properties) and, when needed, a protocol upgrade. Readers see the old version or the new one;
//!   a write that fails before the commit (a failed input stream, a bad value) leaves the table as it was.
//!   The commit is made against the snapshot the write started from, without retries, so a concurrent
//!   writer (even one creating the same new table) makes this commit fail with a conflict instead of being
//!   silently undone or kept beside it. The commit is recorded as a `WRITE` in `Overwrite` mode.
//!
//!   Why not delta-rs's `write` with `SaveMode::Overwrite` + `SchemaMode::Overwrite`: it cannot change the
//!   table configuration of an existing table, and properties must be set in the same commit as the data.
//!   Keeping them in `commitInfo` instead would lose them to log cleanup and to any later commit by another
//!   tool. So the data files are written with delta-rs's `RecordBatchWriter` and committed with
//!   `CommitBuilder`; the protocol and metadata actions come from delta-rs's own `CreateBuilder` logic (see
//!   `replace_actions`).
//!
//! * **Merge is read + rewrite.** `merge` reads the table, applies
//!   [`merge_batches`] (the reference semantics, shared with
//!   [`InMemoryCatalog`](trdm_sync::InMemoryCatalog)) and commits the result like an overwrite. Delta's
//!   `MERGE` would rewrite only touched files, but it cannot set table configuration in the same commit
//!   either, its SQL key equality differs from the contract's for null keys, and reference-data tables are
//!   small enough that rewriting them is cheap. The cost: every merge rewrites the whole table, and old files
//!   stay until `VACUUM`.
//!
//! * **Properties** are table configuration entries `trdm.<key>` (visible as `TBLPROPERTIES` in Spark).
//!   A write replaces all `trdm.` entries and keeps other configuration (e.g. `delta.logRetentionDuration`),
//!   except column mapping, which this writer does not do.
//!
//! * **Types.** Column comments are the Delta field metadata `comment`, which Spark shows as column
//!   comments. Arrow types Delta cannot store are stored losslessly as another type and restored on read;
//!   see [`types`] for the table. A `Timestamp(µs, None)` column is a Delta `timestamp_ntz`, which needs
//!   the `timestampNtz` table feature (reader version 3, writer version 7): Spark 3.4+, DuckDB's delta
//!   extension and Polars read it.
//!
//! * **Reads** scan the current version with DataFusion and cast each column back to the written Arrow
//!   type (`Utf8View` to `Utf8` and so on), so batches carry exactly the written schema (schema-level
//!   metadata excepted: Delta has nowhere to keep it).
//!
//! * **Object stores** (`s3://`, `az://` / `abfss://`, `gs://`, see [`DeltaCatalog::open`]) go through
//!   delta-rs's object_store backends. A commit there relies on the store's conditional put (put if absent,
//!   which S3, Azure Blob Storage and GCS all offer), so two writers never both take one version. The
//!   store's credentials are taken from its cloud's environment variables and never shown.
//!
//! Names are used as directory names as they are (exact, case-sensitive on Linux); a name that is empty,
//! `.` or `..`, or contains `/`, `\` or NUL is rejected with [`Error::Invalid`]. Schemas need not be created
//! before tables are written; `create_schema` just makes the directory.

pub mod types;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow as _, TryIntoKernel as _};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, Add, MetadataExt as _, Protocol, StructType};
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures_util::{StreamExt as _, TryStreamExt as _};
use trdm_sync::catalog::memory::{check_same_schema, collect_input, conform_batch, merge_batches};
use trdm_sync::catalog::{
    BatchStream, Catalog, MergeSpec, Properties, PropertySource, TableRef, WriteSummary,
};
use trdm_sync::{Error, Result};
use url::Url;

const BACKEND: &str = "delta";

/// The namespace of the contract's properties; they are stored as table configuration under their own keys.
pub const PROPERTY_PREFIX: &str = "trdm.";

/// Table configuration keys a write does not carry over (this writer does not do column mapping).
const DROPPED_CONFIGURATION_PREFIX: &str = "delta.columnMapping.";

/// A warehouse of Delta tables, `{root}/{catalog}/{schema}/{table}`, on the local disk or in an object
/// store. See the [crate docs](crate).
///
/// Cheap to clone; clones (and separate instances on the same root) see the same tables.
#[derive(Clone)]
pub struct DeltaCatalog {
    root: Root,
}

#[derive(Clone)]
enum Root {
    Local(PathBuf),
    /// A bucket or container URL ending in `/`, and the object store's options (credentials among them).
    Store {
        url: Url,
        options: HashMap<String, String>,
    },
}

/// Where one table lives: what delta-rs is given to open or write it.
struct Location {
    url: Url,
    options: HashMap<String, String>,
    /// The directory, for a local warehouse.
    local: Option<PathBuf>,
}

impl std::fmt::Debug for DeltaCatalog {
    /// The location only: a store's options hold credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaCatalog")
            .field("root", &self.location())
            .finish_non_exhaustive()
    }
}

/// The URL schemes of the object stores a warehouse can live in.
pub const STORE_SCHEMES: &[&str] = &["s3", "s3a", "az", "azure", "abfs", "abfss", "gs"];

/// Prefixes of the environment variables each store's credentials and settings are read from, as that
/// cloud's own tools read them (`AWS_ACCESS_KEY_ID`, `AZURE_STORAGE_ACCOUNT_KEY`,
/// `GOOGLE_SERVICE_ACCOUNT`, …).
const STORE_ENVIRONMENT: &[(&str, &[&str])] = &[
    ("s3", &["AWS_"]),
    ("s3a", &["AWS_"]),
    ("az", &["AZURE_"]),
    ("azure", &["AZURE_"]),
    ("abfs", &["AZURE_"]),
    ("abfss", &["AZURE_"]),
    ("gs", &["GOOGLE_"]),
];

impl DeltaCatalog {
    /// A catalog over the warehouse directory at `root`. Nothing is touched until the first call; the
    /// directory is created by the first `create_schema` or write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DeltaCatalog {
            root: Root::Local(root.into()),
        }
    }

    /// A catalog over `location`: a local directory, or an object store URL (`s3://bucket/prefix`,
    /// `az://container/prefix` or `abfss://container@account.dfs.core.windows.net/prefix`,
    /// `gs://bucket/prefix`). A store's settings come from `options` (object_store / delta-rs keys such as
    /// `AWS_ENDPOINT_URL`) and then from the environment variables of its cloud; an option given wins.
    pub fn open(location: &str, options: HashMap<String, String>) -> Result<Self> {
        let scheme = location.split_once("://").map(|(scheme, _)| scheme);
        let Some(scheme) = scheme else {
            return Ok(DeltaCatalog::new(location));
        };
        if scheme == "file" {
            let url = Url::parse(location)
                .map_err(|e| Error::Invalid(format!("warehouse {location:?}: {e}")))?;
            let path = url.to_file_path().map_err(|()| {
                Error::Invalid(format!("warehouse {location:?} is not a local path"))
            })?;
            return Ok(DeltaCatalog::new(path));
        }
        if !STORE_SCHEMES.contains(&scheme) {
            return Err(Error::Invalid(format!(
                "warehouse {location:?}: unknown scheme {scheme:?} (a directory, or one of {})",
                STORE_SCHEMES.join(":// ")
            )));
        }
        let mut url = Url::parse(location)
            .map_err(|e| Error::Invalid(format!("warehouse {location:?}: {e}")))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::Invalid(format!(
                "warehouse {location:?} names no bucket or container"
            )));
        }
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let mut options = options;
        let prefixes = STORE_ENVIRONMENT
            .iter()
            .find(|(s, _)| *s == scheme)
            .map_or(&[][..], |(_, p)| *p);
        for (key, value) in std::env::vars() {
            if prefixes.iter().any(|p| key.starts_with(p)) {
                options.entry(key).or_insert(value);
            }
        }
        register_store_handlers();
        Ok(DeltaCatalog {
            root: Root::Store { url, options },
        })
    }

    /// The warehouse's location: its directory, or its URL (without any credentials).
    pub fn location(&self) -> String {
        match &self.root {
            Root::Local(path) => path.display().to_string(),
            Root::Store { url, .. } => {
                let mut shown = url.clone();
                let _ = shown.set_password(None);
                shown.to_string()
            }
        }
    }

    /// The warehouse directory of a local warehouse; `None` in an object store.
    pub fn root(&self) -> Option<&Path> {
        match &self.root {
            Root::Local(path) => Some(path),
            Root::Store { .. } => None,
        }
    }

    /// The directory of `table` in a local warehouse (whether or not it exists), for pointing other tools
    /// at it. In an object store, an error: see [`table_url`](Self::table_url).
    pub fn table_path(&self, table: &TableRef) -> Result<PathBuf> {
        self.locate(table)?.local.ok_or_else(|| {
            Error::Invalid(format!("{table} is in an object store, not in a directory"))
        })
    }

    /// The URL of `table` (`file://…` in a local warehouse), whether or not it exists.
    pub fn table_url(&self, table: &TableRef) -> Result<Url> {
        Ok(self.locate(table)?.url)
    }

    fn locate(&self, table: &TableRef) -> Result<Location> {
        for part in [&table.catalog, &table.schema, &table.table] {
            check_name(part)?;
        }
        match &self.root {
            Root::Local(root) => {
                let path = root
                    .join(&table.catalog)
                    .join(&table.schema)
                    .join(&table.table);
                // Not `ensure_table_uri`, which creates the directory: a read or a refused write must
                // leave the disk as it was.
                let absolute = std::path::absolute(&path)?;
                utf8(&absolute)?;
                let url = Url::from_directory_path(&absolute).map_err(|()| {
                    Error::Invalid(format!("warehouse path {} has no URL", absolute.display()))
                })?;
                Ok(Location {
                    url,
                    options: HashMap::new(),
                    local: Some(path),
                })
            }
            Root::Store { url, options } => {
                let relative = format!("{}/{}/{}/", table.catalog, table.schema, table.table);
                let url = url.join(&relative).map_err(|e| {
                    Error::Invalid(format!("{table} has no URL in the warehouse: {e}"))
                })?;
                Ok(Location {
                    url,
                    options: options.clone(),
                    local: None,
                })
            }
        }
    }

    /// Loads the table at `location` with its files, or `None` if there is no Delta table there.
    async fn load(&self, location: &Location) -> Result<Option<DeltaTable>> {
        if let Some(path) = &location.local
            && !tokio::fs::try_exists(path.join("_delta_log")).await?
        {
            return Ok(None);
        }
        match location.builder()?.load().await {
            Ok(table) => Ok(Some(table)),
            Err(DeltaTableError::NotATable(_) | DeltaTableError::InvalidTableLocation(_)) => {
                Ok(None)
            }
            Err(e) => Err(delta(e)),
        }
    }

    async fn load_existing(&self, table: &TableRef) -> Result<DeltaTable> {
        let location = self.locate(table)?;
        self.load(&location)
            .await?
            .ok_or_else(|| Error::TableNotFound {
                table: table.to_string(),
            })
    }
}

impl Location {
    /// A delta-rs builder for the table here, with the store's options.
    fn builder(&self) -> Result<DeltaTableBuilder> {
        let builder = DeltaTableBuilder::from_url(self.url.clone()).map_err(delta)?;
        Ok(if self.options.is_empty() {
            builder
        } else {
            builder.with_storage_options(self.options.clone())
        })
    }
}

/// Teaches delta-rs the object stores' URL schemes, once per process.
fn register_store_handlers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        deltalake::aws::register_handlers(None);
        deltalake::azure::register_handlers(None);
        deltalake::gcp::register_handlers(None);
    });
}

#[async_trait]
impl Catalog for DeltaCatalog {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn table_exists(&self, table: &TableRef) -> Result<bool> {
        let location = self.locate(table)?;
        if let Some(path) = &location.local
            && !tokio::fs::try_exists(path.join("_delta_log")).await?
        {
            return Ok(false);
        }
        let unloaded = location.builder()?.build().map_err(delta)?;
        unloaded.verify_deltatable_existence().await.map_err(delta)
    }

    async fn read(&self, table: &TableRef) -> Result<(SchemaRef, BatchStream)> {
        let delta_table = self.load_existing(table).await?;
        let schema = logical_schema_of(&delta_table)?;
        let (_, scan) = delta_table.scan_table().await.map_err(delta)?;
        let target = schema.clone();
        let batches = scan.map(move |batch| {
            let batch = batch.map_err(delta)?;
            types::cast_batch(&batch, &target)
        });
        Ok((schema, batches.boxed()))
    }

    async fn create_schema(&self, catalog: &str, schema: &str) -> Result<()> {
        check_name(catalog)?;
        check_name(schema)?;
        // An object store has no directories: a schema is there once a table is.
        if let Root::Local(root) = &self.root {
            tokio::fs::create_dir_all(root.join(catalog).join(schema)).await?;
        }
        Ok(())
    }

    async fn overwrite(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        mut data: BatchStream,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary> {
        let location = self.locate(table)?;
        let stored = types::stored_schema(&schema)?;
        let existing = self.load(&location).await?;
        let mut writer = FileWriter::new(&location, &stored).await?;
        let mut rows = 0;
        while let Some(batch) = data.next().await {
            let written = match batch.and_then(|batch| conform_batch(&schema, batch)) {
                Ok(batch) => writer.write(&batch).await,
                Err(e) => Err(e),
            };
            match written {
                Ok(n) => rows += n,
                Err(e) => {
                    writer.abort();
                    return Err(e);
                }
            }
        }
        let adds = writer.finish().await?;
        commit_replace(
            &location,
            existing.as_ref(),
            &stored,
            adds,
            &properties.properties(),
        )
        .await?;
        Ok(WriteSummary::replaced(rows))
    }

    async fn merge(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        data: BatchStream,
        spec: &MergeSpec,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary> {
        let location = self.locate(table)?;
        let stored = types::stored_schema(&schema)?;
        let input = collect_input(&schema, data).await?;
        let existing = self.load(&location).await?;
        let target = match &existing {
            Some(current) => {
                check_same_schema(logical_schema_of(current)?.as_ref(), &schema)?;
                let (_, scan) = current.scan_table().await.map_err(delta)?;
                let batches: Vec<RecordBatch> = scan.try_collect().await.map_err(delta)?;
                batches
                    .iter()
                    .map(|batch| types::cast_batch(batch, &schema))
                    .collect::<Result<Vec<_>>>()?
            }
            None => Vec::new(),
        };
        let (merged, summary) = merge_batches(&schema, &target, &input, spec)?;
        let mut writer = FileWriter::new(&location, &stored).await?;
        for batch in &merged {
            if let Err(e) = writer.write(batch).await {
                writer.abort();
                return Err(e);
            }
        }
        let adds = writer.finish().await?;
        commit_replace(
            &location,
            existing.as_ref(),
            &stored,
            adds,
            &properties.properties(),
        )
        .await?;
        Ok(summary)
    }

    async fn properties(&self, table: &TableRef) -> Result<Properties> {
        let delta_table = self.load_existing(table).await?;
        let metadata = delta_table.snapshot().map_err(delta)?.metadata();
        Ok(metadata
            .configuration()
            .iter()
            .filter(|(key, _)| key.starts_with(PROPERTY_PREFIX))
            // Earlier versions prefixed the keys once more (`trdm.trdm.high_water_mark`).
            .map(|(key, value)| {
                let key = match key.strip_prefix(PROPERTY_PREFIX) {
                    Some(rest) if rest.starts_with(PROPERTY_PREFIX) => rest,
                    _ => key,
                };
                (key.to_owned(), value.clone())
            })
            .collect())
    }
}

/// Writes the Parquet data files of one commit, streaming, without committing them.
struct FileWriter {
    writer: RecordBatchWriter,
    stored: SchemaRef,
}

impl FileWriter {
    async fn new(location: &Location, stored: &SchemaRef) -> Result<Self> {
        if let Some(path) = &location.local {
            tokio::fs::create_dir_all(path).await?;
        }
        let options = (!location.options.is_empty()).then(|| location.options.clone());
        let writer =
            RecordBatchWriter::try_new(location.url.as_str(), stored.clone(), None, options)
                .map_err(delta)?
                .with_writer_properties(writer_properties());
        Ok(FileWriter {
            writer,
            stored: stored.clone(),
        })
    }

    /// Writes a batch with the logical schema; returns its row count.
    async fn write(&mut self, batch: &RecordBatch) -> Result<u64> {
        if batch.num_rows() == 0 {
            return Ok(0);
        }
        let stored = types::cast_batch(batch, &self.stored)?;
        self.writer.write(stored).await.map_err(delta)?;
        Ok(batch.num_rows() as u64)
    }

    /// Discards what was written (nothing refers to it; a later `VACUUM` removes any finished file).
    fn abort(mut self) {
        self.writer.reset();
    }

    async fn finish(mut self) -> Result<Vec<Add>> {
        self.writer.flush().await.map_err(delta)
    }
}

/// Rows per Parquet row group. The writer holds a row group in memory until it is full, so this bounds a
/// write's memory whatever the table's size (delta-rs's default, 1,048,576 rows, made a 10-million-row
/// download take half as much memory again as a 1-million-row one, which never filled one).
const ROW_GROUP_ROWS: usize = 131_072;

/// Snappy (Delta's usual codec), [`ROW_GROUP_ROWS`] rows per row group.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(format!("trdm {} (delta-rs)", env!("CARGO_PKG_VERSION")))
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

/// Commits `adds` as the whole content of the table at `location`, with schema `stored` and `properties`, in
/// one commit against the snapshot of `existing` (or as version 0).
async fn commit_replace(
    location: &Location,
    existing: Option<&DeltaTable>,
    stored: &SchemaRef,
    adds: Vec<Add>,
    properties: &Properties,
) -> Result<()> {
    let snapshot = existing
        .map(|table| table.snapshot())
        .transpose()
        .map_err(delta)?;
    let mut actions = replace_actions(existing, stored, properties).await?;
    actions.extend(adds.into_iter().map(Action::Add));
    if let (Some(table), Some(snapshot)) = (existing, snapshot) {
        let log_store = table.log_store();
        let removes: Vec<Action> = snapshot
            .snapshot()
            .file_views(log_store.as_ref(), None)
            .map_ok(|file| Action::Remove(file.remove_action(true)))
            .try_collect()
            .await
            .map_err(delta)?;
        actions.extend(removes);
    }
    let log_store = match existing {
        Some(table) => table.log_store(),
        None => location.builder()?.build().map_err(delta)?.log_store(),
    };
    let operation = DeltaOperation::Write {
        mode: SaveMode::Overwrite,
        partition_by: None,
        predicate: None,
    };
    // No retries: a replace is based on the version it read, and a commit rebased onto a version someone
    // else wrote meanwhile would keep that writer's files beside ours (two creates of one table would
    // both "succeed" and leave both contents).
    CommitBuilder::from(CommitProperties::default().with_max_retries(0))
        .with_actions(actions)
        .build(
            snapshot.map(|s| s as &dyn TableReference),
            log_store,
            operation,
        )
        .await
        .map_err(delta)?;
    Ok(())
}

/// The protocol and metadata actions that replace the table's schema and properties.
///
/// delta-rs keeps its protocol rules (which features a schema or configuration needs, e.g.
/// `timestampNtz` for `timestamp_ntz` columns, and how to move a legacy protocol to table features) inside
/// `CreateBuilder`. Rather than re-implement them, this runs `CreateBuilder` against an in-memory store,
/// starting from the current protocol so nothing is ever downgraded, and takes the protocol and metadata
/// it committed there. The metadata keeps the existing table's id, name and description.
async fn replace_actions(
    existing: Option<&DeltaTable>,
    stored: &SchemaRef,
    properties: &Properties,
) -> Result<Vec<Action>> {
    let kernel_schema: StructType = stored.as_ref().try_into_kernel().map_err(delta)?;
    let current = existing
        .map(|table| table.snapshot())
        .transpose()
        .map_err(delta)?;
    let mut configuration: HashMap<String, String> = current
        .map(|snapshot| {
            snapshot
                .metadata()
                .configuration()
                .iter()
                .filter(|(key, _)| {
                    !key.starts_with(PROPERTY_PREFIX)
                        && !key.starts_with(DROPPED_CONFIGURATION_PREFIX)
                })
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    configuration.extend(
        properties
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    );

    let mut create = DeltaTable::new_in_memory()
        .create()
        .with_columns(kernel_schema.fields().cloned())
        .with_configuration(
            configuration
                .into_iter()
                .map(|(key, value)| (key, Some(value))),
        )
        .with_raise_if_key_not_exists(false);
    if let Some(snapshot) = current {
        create = create.with_actions([Action::Protocol(snapshot.protocol().clone())]);
    }
    let planned = create.await.map_err(delta)?;
    let planned = planned.snapshot().map_err(delta)?;
    let protocol = planned.protocol().clone();
    let mut metadata = planned.metadata().clone();
    let mut actions = Vec::with_capacity(2);
    match current {
        Some(snapshot) => {
            let old = snapshot.metadata();
            metadata = metadata.with_table_id(old.id().to_owned()).map_err(delta)?;
            if let Some(name) = old.name() {
                metadata = metadata.with_name(name.to_owned()).map_err(delta)?;
            }
            if let Some(description) = old.description() {
                metadata = metadata
                    .with_description(description.to_owned())
                    .map_err(delta)?;
            }
            if needs_protocol_change(snapshot.protocol(), &protocol) {
                actions.push(Action::Protocol(protocol));
            }
        }
        None => actions.push(Action::Protocol(protocol)),
    }
    actions.push(Action::Metadata(metadata));
    Ok(actions)
}

/// Whether the table's `current` protocol lacks something the `planned` one requires. Only versions and
/// reader(-writer) features count: given an existing table-features protocol, delta-rs also lists the
/// legacy writer features `appendOnly` and `invariants`, which would otherwise add a protocol change to
/// the second write of every table for nothing.
fn needs_protocol_change(current: &Protocol, planned: &Protocol) -> bool {
    let current_readers = current.reader_features().unwrap_or_default();
    planned.min_reader_version() > current.min_reader_version()
        || planned.min_writer_version() > current.min_writer_version()
        || planned
            .reader_features()
            .unwrap_or_default()
            .iter()
            .any(|feature| !current_readers.contains(feature))
}

/// The schema readers get: the Delta schema as Arrow, with written types restored.
fn logical_schema_of(table: &DeltaTable) -> Result<SchemaRef> {
    let kernel_schema = table.snapshot().map_err(delta)?.schema();
    let arrow: Schema = kernel_schema.as_ref().try_into_arrow().map_err(delta)?;
    types::logical_schema(&arrow)
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::Invalid(format!(
            "warehouse path {} is not valid UTF-8",
            path.display()
        ))
    })
}

fn check_name(part: &str) -> Result<()> {
    if part.is_empty() || part == "." || part == ".." || part.contains(['/', '\\', '\0']) {
        return Err(Error::Invalid(format!(
            "{part:?} cannot be a catalog, schema or table name"
        )));
    }
    Ok(())
}

/// A delta-rs (or DataFusion, or kernel) failure as the contract's backend error.
fn delta(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Catalog {
        backend: BACKEND,
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests;
