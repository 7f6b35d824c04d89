//! A Spark cluster as a catalog of the sync engine, over Spark Connect: Databricks, or any Spark with a
//! Connect server, reached from a single static binary with no Python and no JVM on the client.
//!
//! [`SparkConnectCatalog`] writes Delta tables with exactly the statements the Python package's
//! `SparkCatalog` (`python/titan_rdm_sdk/_spark_catalog.py`) runs, so a table written by `trdm sync` and one
//! written by `SparkSync` cannot be told apart:
//!
//! * a full download is one `CREATE OR REPLACE TABLE … USING delta TBLPROPERTIES (…) AS SELECT * FROM
//!   <view>`: data, schema and sync state in one commit, the old table intact if it fails;
//! * an increment is `MERGE INTO … USING <view>` by the key columns (rows whose delete column is true
//!   delete), then `ALTER TABLE … SET TBLPROPERTIES` with the new state: two commits, as in Python (a
//!   failure between them leaves the old mark, and the next run re-applies the same idempotent increment);
//!   keys of an earlier write that the new state lacks are then unset, so a merge replaces the property set
//!   as the contract says;
//! * sync state lives in `trdm.*` table properties, values past 250 characters split into
//!   `KEY.part.NNN` + `KEY.parts` (Unity Catalog keeps 255); the exact Arrow schema written is one of them
//!   (`trdm.arrow_schema`) and restores on read what Spark cannot hold (nullability after CTAS, time of day,
//!   decimals past 38 digits);
//! * the data reaches the server as Arrow: a temporary view over a local relation (Arrow IPC plus Spark's
//!   JSON schema with the column comments, what PySpark's `createDataFrame(table, schema)` sends), types
//!   mapped as in [`types`]; reads come back as Arrow too. Identifiers are backtick-quoted.
//!
//! Unity Catalog (Databricks' and the OSS server of the test lane) holds only Delta managed tables and
//! cannot rename; nothing here renames, and every table written is Delta. So an existing table of another
//! format is replaced by a Delta table, and a merge into one fails with Spark's error.
//!
//! **Why this client.** Spark's own Rust client, `apache-spark-connect` 4.2.0 (crates.io), was the first
//! choice; reading it showed that its DataFrame layer is synchronous (it blocks on a runtime of its own,
//! which cannot be entered from the engine's), builds local data only from rows (no Arrow in, so no large
//! relation as an artifact), and is built on arrow 58 (this workspace: 59). Its lower
//! layers, `apache-spark-connect-core` (connection string, TLS, bearer token, retries, Spark's error
//! classes) and `apache-spark-connect-proto` (the protocol's messages), are async and carry Arrow only as
//! IPC bytes, so this crate uses those directly: results and data cross as IPC, decoded and encoded with
//! this workspace's own arrow, and no second Arrow is compiled. The proto crate compiles Spark's `.proto`
//! files with `protoc`, which `.cargo/config.toml` supplies (see there).
//!
//! The connection string is parsed by [`SparkRemote`], which never prints a parameter's value (a
//! Databricks string carries a token).

// The tests that need a Spark Connect server (the `connect-rust` lane selects them by this module's name).
#[cfg(test)]
mod connect_lane;
mod remote;
mod session;
mod types;

use std::collections::BTreeSet;
use std::fmt;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use futures_util::stream;
use trdm_sync::catalog::memory::{
    check_same_schema, collect_input, merge_batches, restore_schema, row_count,
};
use trdm_sync::catalog::toolkit::{stored_schema, with_stored_schema};
use trdm_sync::catalog::{
    BatchStream, Catalog, MergeSpec, Properties, PropertySource, TableRef, WriteSummary,
};
use trdm_sync::{Error, Result};

pub use remote::{RemoteError, SparkRemote};

use session::{ExecuteError, Session, is_not_found};

/// The name used in errors.
pub(crate) const BACKEND: &str = "spark-connect";

pub use trdm_sync::catalog::toolkit::STORED_SCHEMA;

/// The namespace of the properties this catalog reads and writes.
const PROPERTY_PREFIX: &str = "trdm.";
/// The longest property value written as is (Unity Catalog OSS keeps 255 characters).
const PROPERTY_VALUE_LIMIT: usize = 250;
const PART: &str = ".part.";
const PARTS: &str = ".parts";

/// `properties` with every value longer than [`PROPERTY_VALUE_LIMIT`] characters written as numbered parts
/// (`KEY.part.000`, ... and `KEY.parts` = their count): `split_long_values` of the Python catalog.
pub fn split_long_values(properties: &Properties) -> Properties {
    let mut out = Properties::new();
    for (key, value) in properties {
        let chars: Vec<char> = value.chars().collect();
        if chars.len() <= PROPERTY_VALUE_LIMIT {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let parts: Vec<String> = chars
            .chunks(PROPERTY_VALUE_LIMIT)
            .map(|c| c.iter().collect())
            .collect();
        out.insert(format!("{key}{PARTS}"), parts.len().to_string());
        for (n, part) in parts.into_iter().enumerate() {
            out.insert(format!("{key}{PART}{n:03}"), part);
        }
    }
    out
}

/// The inverse of [`split_long_values`]: parts beyond the count (left by an earlier, longer value) are
/// ignored; a value with a part missing is left out rather than returned cut short.
pub fn join_long_values(properties: &Properties) -> Properties {
    let mut out: Properties = properties
        .iter()
        .filter(|(k, _)| !k.contains(PART) && !k.ends_with(PARTS))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, count) in properties {
        let Some(name) = key.strip_suffix(PARTS) else {
            continue;
        };
        if name.contains(PART) {
            continue;
        }
        let joined = count.parse::<usize>().ok().and_then(|count| {
            (0..count)
                .map(|n| properties.get(&format!("{name}{PART}{n:03}")))
                .collect::<Option<Vec<_>>>()
        });
        match joined {
            Some(parts) => {
                out.insert(
                    name.to_owned(),
                    parts.into_iter().map(String::as_str).collect(),
                );
            }
            None => tracing::warn!(
                "table property {name} is incomplete ({count} parts announced); ignored"
            ),
        }
    }
    out
}

/// `a.b.c` with each part backtick-quoted (backticks inside doubled).
pub fn quote(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| format!("`{}`", p.replace('`', "``")))
        .collect::<Vec<_>>()
        .join(".")
}

/// A SQL string literal (backslashes and single quotes escaped), as the Python catalog writes them.
fn sql_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// ` TBLPROPERTIES ('k' = 'v', ...)`, long values split, keys sorted; empty for no properties.
fn tblproperties(properties: &Properties) -> String {
    if properties.is_empty() {
        return String::new();
    }
    let items: Vec<String> = split_long_values(properties)
        .iter()
        .map(|(k, v)| format!("{} = {}", sql_string(k), sql_string(v)))
        .collect();
    format!(" TBLPROPERTIES ({})", items.join(", "))
}

/// The `MERGE INTO` that applies an increment, word for word the Python catalog's `merge_statement`: source
/// rows replace target rows with the same key; a source row whose delete column is true deletes its key
/// and is not inserted (NULL counts as false).
pub fn merge_statement(
    target: &str,
    source: &str,
    key_columns: &[String],
    delete_column: Option<&str>,
) -> String {
    let on: Vec<String> = key_columns
        .iter()
        .map(|k| format!("t.{q} = s.{q}", q = quote(&[k])))
        .collect();
    let clauses = match delete_column {
        Some(deleted) => {
            let deleted = format!("s.{}", quote(&[deleted]));
            vec![
                format!("WHEN MATCHED AND {deleted} IS TRUE THEN DELETE"),
                "WHEN MATCHED THEN UPDATE SET *".to_owned(),
                format!("WHEN NOT MATCHED AND {deleted} IS NOT TRUE THEN INSERT *"),
            ]
        }
        None => vec![
            "WHEN MATCHED THEN UPDATE SET *".to_owned(),
            "WHEN NOT MATCHED THEN INSERT *".to_owned(),
        ],
    };
    format!(
        "MERGE INTO {target} AS t USING {source} AS s ON {} {}",
        on.join(" AND "),
        clauses.join(" ")
    )
}

fn name_of(table: &TableRef) -> String {
    quote(&[&table.catalog, &table.schema, &table.table])
}

/// Strings as `Utf8` (the contract's one string type), whatever encoding the server chose.
fn plain_strings(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    if !schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::LargeUtf8 | DataType::Utf8View))
    {
        return Ok((schema, batches));
    }
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::LargeUtf8 | DataType::Utf8View => {
                f.as_ref().clone().with_data_type(DataType::Utf8)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    let plain = std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let batches = batches
        .into_iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(plain.fields())
                .map(|(c, f)| arrow_cast::cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(plain.clone(), columns)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((plain, batches))
}

/// The catalog over one Spark Connect session. See the crate docs.
pub struct SparkConnectCatalog {
    remote: SparkRemote,
    session: Session,
}

impl fmt::Debug for SparkConnectCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SparkConnectCatalog")
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl SparkConnectCatalog {
    /// Opens a session on the server `remote` names and checks that it answers (a first statement, so a
    /// wrong host, port or token fails here rather than in the middle of a sync).
    pub async fn connect(remote: SparkRemote) -> Result<Self> {
        let session = Session::connect(&remote).await?;
        session
            .sql("SELECT 1", &format!("opening a session on {remote}"))
            .await?;
        Ok(SparkConnectCatalog { remote, session })
    }

    /// The server, as it may be shown (parameter values redacted).
    pub fn remote(&self) -> &SparkRemote {
        &self.remote
    }

    /// Every property of the table as Spark lists it (`trdm.*` only, long values joined), the stored schema
    /// among them; `TableNotFound` when it does not exist.
    async fn raw_properties(&self, table: &TableRef) -> Result<Properties> {
        let what = format!("reading the properties of {table}");
        let rows = match self
            .session
            .sql_raw(&format!("SHOW TBLPROPERTIES {}", name_of(table)), &what)
            .await
        {
            Ok(rows) => rows,
            Err(ExecuteError::Spark(e)) if is_not_found(&e) => {
                return Err(Error::TableNotFound {
                    table: table.to_string(),
                });
            }
            Err(e) => return Err(e.into_error(&what)),
        };
        let mut properties = Properties::new();
        for batch in &rows {
            if batch.num_columns() < 2 {
                continue;
            }
            let (keys, values) = (
                arrow_cast::cast(batch.column(0), &DataType::Utf8)?,
                arrow_cast::cast(batch.column(1), &DataType::Utf8)?,
            );
            let (keys, values) = (keys.as_string::<i32>(), values.as_string::<i32>());
            for i in 0..batch.num_rows() {
                if keys.is_valid(i) && keys.value(i).starts_with(PROPERTY_PREFIX) {
                    let value = if values.is_valid(i) {
                        values.value(i)
                    } else {
                        ""
                    };
                    properties.insert(keys.value(i).to_owned(), value.to_owned());
                }
            }
        }
        Ok(join_long_values(&properties))
    }

    /// The schema the last write stored with the table, if it did and it parses.
    async fn stored_schema(&self, table: &TableRef) -> Result<Option<Schema>> {
        Ok(stored_schema(&self.raw_properties(table).await?))
    }

    /// Registers `batches` as a fresh temporary view of the session and returns its quoted name; drop it
    /// with [`SparkConnectCatalog::drop_view`] whatever the statement using it returned.
    async fn send_view(
        &self,
        table: &TableRef,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<String> {
        let wire = types::wire_schema(schema);
        let ready = batches
            .iter()
            .map(|b| types::spark_ready(&wire, b))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| match e {
                Error::Invalid(m) => Error::Invalid(format!("{table}: {m}")),
                other => other,
            })?;
        let view = format!("trdm_incoming_{}", uuid::Uuid::new_v4().simple());
        self.session
            .create_view(
                &view,
                &wire,
                &ready,
                types::spark_schema_json(schema),
                &format!("sending the rows for {table}"),
            )
            .await?;
        Ok(quote(&[&view]))
    }

    /// Drops a view of [`SparkConnectCatalog::send_view`]; a failure only costs the session some memory.
    async fn drop_view(&self, view: &str) {
        if let Err(e) = self
            .session
            .sql(
                &format!("DROP VIEW IF EXISTS {view}"),
                "dropping a temporary view",
            )
            .await
        {
            tracing::debug!("{e}");
        }
    }

    /// `CREATE OR REPLACE TABLE … USING delta TBLPROPERTIES (…) AS SELECT * FROM <view>`.
    async fn replace(
        &self,
        table: &TableRef,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        properties: Properties,
    ) -> Result<()> {
        let properties = with_stored_schema(properties, schema, BACKEND)?;
        let name = name_of(table);
        let view = self.send_view(table, schema, batches).await?;
        let result = self
            .session
            .sql(
                &format!(
                    "CREATE OR REPLACE TABLE {name} USING delta{} AS SELECT * FROM {view}",
                    tblproperties(&properties)
                ),
                &format!("writing {table}"),
            )
            .await;
        self.drop_view(&view).await;
        result.map(drop)
    }

    async fn count_rows(&self, table: &TableRef) -> Result<u64> {
        let what = format!("counting the rows of {table}");
        let rows = self
            .session
            .sql(&format!("SELECT count(*) FROM {}", name_of(table)), &what)
            .await?;
        rows.first()
            .and_then(|b| {
                b.column(0)
                    .as_primitive_opt::<Int64Type>()
                    .map(|c| c.value(0))
            })
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| Error::Catalog {
                backend: BACKEND,
                source: format!("{what}: the server's answer is not a count").into(),
            })
    }
}

/// `num_updated_rows`, `num_deleted_rows`, `num_inserted_rows` of a Delta MERGE's result row.
fn merge_counts(rows: &[RecordBatch]) -> Option<(u64, u64, u64)> {
    let batch = rows.first()?;
    let get = |name: &str| -> Option<u64> {
        let column = batch.column_by_name(name)?;
        let column = arrow_cast::cast(column, &DataType::Int64).ok()?;
        let value = column.as_primitive_opt::<Int64Type>()?.value(0);
        u64::try_from(value).ok()
    };
    Some((
        get("num_updated_rows")?,
        get("num_deleted_rows")?,
        get("num_inserted_rows")?,
    ))
}

#[async_trait::async_trait]
impl Catalog for SparkConnectCatalog {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn table_exists(&self, table: &TableRef) -> Result<bool> {
        self.session.table_exists(&name_of(table)).await
    }

    async fn read(&self, table: &TableRef) -> Result<(SchemaRef, BatchStream)> {
        let what = format!("reading {table}");
        let missing = || Error::TableNotFound {
            table: table.to_string(),
        };
        if !self.table_exists(table).await? {
            return Err(missing());
        }
        let (schema, batches) = match self.session.read_table(&name_of(table), &what).await {
            Ok(result) => result,
            Err(ExecuteError::Spark(e)) if is_not_found(&e) => return Err(missing()),
            Err(e) => return Err(e.into_error(&what)),
        };
        let schema = schema.ok_or_else(|| Error::Catalog {
            backend: BACKEND,
            source: format!("{what}: the server sent no schema").into(),
        })?;
        let (schema, batches) = plain_strings(schema, batches)?;
        let stored = match self.stored_schema(table).await {
            Ok(stored) => stored,
            Err(Error::TableNotFound { .. }) => return Err(missing()),
            Err(e) => return Err(e),
        };
        // A table changed since its last sync is read as Spark returns it: what no longer fits the column
        // definitions is named by the engine's validation.
        let (schema, batches) = match stored {
            Some(stored) => {
                let unrestored = batches.clone();
                restore_schema(&stored, &schema, batches).unwrap_or((schema, unrestored))
            }
            None => (schema, batches),
        };
        Ok((schema, Box::pin(stream::iter(batches.into_iter().map(Ok)))))
    }

    async fn create_schema(&self, catalog: &str, schema: &str) -> Result<()> {
        // Check first: a user allowed to write into an existing schema may not be allowed to create one.
        let name = quote(&[catalog, schema]);
        if !self.session.schema_exists(&name).await? {
            self.session
                .sql(
                    &format!("CREATE SCHEMA IF NOT EXISTS {name}"),
                    &format!("creating schema {catalog}.{schema}"),
                )
                .await?;
        }
        Ok(())
    }

    async fn overwrite(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        data: BatchStream,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary> {
        let batches = collect_input(&schema, data).await?;
        let written = row_count(&batches);
        self.replace(table, &schema, &batches, properties.properties())
            .await?;
        Ok(WriteSummary::replaced(written))
    }

    async fn merge(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        data: BatchStream,
        spec: &MergeSpec,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary> {
        let input = collect_input(&schema, data).await?;
        if !self.table_exists(table).await? {
            // A merge into nothing: the input less its deletions, as a new table.
            let (batches, summary) = merge_batches(&schema, &[], &input, spec)?;
            self.replace(table, &schema, &batches, properties.properties())
                .await?;
            return Ok(summary);
        }
        let before = self.raw_properties(table).await?;
        if let Some(stored) = stored_schema(&before) {
            check_same_schema(&stored, &schema)?;
        }
        for column in spec.key_columns.iter().chain(spec.delete_column.iter()) {
            if schema.index_of(column).is_err() {
                return Err(Error::Invalid(format!(
                    "merge into {table}: column `{column}` is not in the input"
                )));
            }
        }
        let name = name_of(table);
        let view = self.send_view(table, &schema, &input).await?;
        let merged = self
            .session
            .sql(
                &merge_statement(
                    &name,
                    &view,
                    &spec.key_columns,
                    spec.delete_column.as_deref(),
                ),
                &format!("merging into {table}"),
            )
            .await;
        self.drop_view(&view).await;
        let rows = merged?;
        // The new state, then the keys of the old one it no longer has.
        let properties = with_stored_schema(properties.properties(), &schema, BACKEND)?;
        let what = format!("setting the properties of {table}");
        self.session
            .sql(
                &format!("ALTER TABLE {name} SET{}", tblproperties(&properties)),
                &what,
            )
            .await?;
        let current: BTreeSet<String> = split_long_values(&properties).into_keys().collect();
        let stale: Vec<String> = split_long_values(&before)
            .into_keys()
            .filter(|k| !current.contains(k))
            .map(|k| sql_string(&k))
            .collect();
        if !stale.is_empty() {
            self.session
                .sql(
                    &format!(
                        "ALTER TABLE {name} UNSET TBLPROPERTIES IF EXISTS ({})",
                        stale.join(", ")
                    ),
                    &what,
                )
                .await?;
        }
        let rows_after = self.count_rows(table).await?;
        Ok(match merge_counts(&rows) {
            Some((updated, deleted, inserted)) => WriteSummary {
                rows_after,
                rows_written: updated + inserted,
                rows_deleted: updated + deleted,
            },
            // A MERGE that reports no counts (not Delta's): what is known.
            None => WriteSummary {
                rows_after,
                rows_written: row_count(&input),
                rows_deleted: 0,
            },
        })
    }

    async fn properties(&self, table: &TableRef) -> Result<Properties> {
        let mut properties = self.raw_properties(table).await?;
        properties.remove(STORED_SCHEMA);
        Ok(properties)
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn long_values_are_split_into_numbered_parts_and_joined_again() {
        let long: String = "é".repeat(600);
        let properties = Properties::from([
            ("trdm.short".to_owned(), "x".to_owned()),
            ("trdm.arrow_schema".to_owned(), long.clone()),
        ]);
        let split = split_long_values(&properties);
        assert_eq!(split["trdm.arrow_schema.parts"], "3");
        assert_eq!(split["trdm.arrow_schema.part.000"].chars().count(), 250);
        assert_eq!(split["trdm.arrow_schema.part.002"].chars().count(), 100);
        assert!(split.values().all(|v| v.chars().count() <= 250));
        assert_eq!(join_long_values(&split), properties);
    }

    #[test]
    fn a_value_with_a_missing_part_is_left_out_and_extra_parts_are_ignored() {
        let mut split =
            split_long_values(&Properties::from([("trdm.k".to_owned(), "a".repeat(300))]));
        split.insert("trdm.k.part.007".into(), "left by a longer value".into());
        assert_eq!(join_long_values(&split)["trdm.k"], "a".repeat(300));
        split.remove("trdm.k.part.001");
        assert!(!join_long_values(&split).contains_key("trdm.k"));
    }

    #[test]
    fn the_merge_statement_is_the_python_catalogs() {
        assert_eq!(
            merge_statement(
                "`dev`.`rdmin`.`clin_sites`",
                "`v`",
                &["trdm_record_id".to_owned()],
                Some("trdm_deleted")
            ),
            "MERGE INTO `dev`.`rdmin`.`clin_sites` AS t USING `v` AS s ON t.`trdm_record_id` = \
             s.`trdm_record_id` WHEN MATCHED AND s.`trdm_deleted` IS TRUE THEN DELETE WHEN MATCHED THEN \
             UPDATE SET * WHEN NOT MATCHED AND s.`trdm_deleted` IS NOT TRUE THEN INSERT *"
        );
        assert_eq!(
            merge_statement("t", "s", &["a".to_owned(), "b`c".to_owned()], None),
            "MERGE INTO t AS t USING s AS s ON t.`a` = s.`a` AND t.`b``c` = s.`b``c` WHEN MATCHED THEN \
             UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        );
    }

    #[test]
    fn properties_are_quoted_and_sorted_as_the_python_catalog_writes_them() {
        let properties = Properties::from([
            ("trdm.b".to_owned(), "it's C:\\dir".to_owned()),
            ("trdm.a".to_owned(), String::new()),
        ]);
        assert_eq!(
            tblproperties(&properties),
            " TBLPROPERTIES ('trdm.a' = '', 'trdm.b' = 'it\\'s C:\\\\dir')"
        );
        assert_eq!(tblproperties(&Properties::new()), "");
    }
}
