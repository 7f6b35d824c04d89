//! [`InMemoryCatalog`]: the reference behaviour of the [`Catalog`] contract, and the test double.
//!
//! Like object_store's `InMemory`, this backend is always compiled: the engine's tests use it, and it is the
//! executable definition of what the contract means. Tables live as `(schema, batches, properties)` under one
//! lock; every write builds the complete new table first and swaps it in with a single assignment, so readers
//! and failed writes can only ever see the whole old table or the whole new one.
//!//! The keyed merge itself is [`merge_batches`], a pure function on Arrow batches in the
//! [`toolkit`](super::toolkit) (re-exported here), so that backends which implement `merge` as read +
//! rewrite (the Delta backend does) share these exact semantics.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures_util::StreamExt;

use super::{BatchStream, Catalog, MergeSpec, Properties, PropertySource, TableRef, WriteSummary};
use crate::error::{Error, Result};

pub use super::toolkit::{
    check_same_schema, collect_input, conform_batch, conform_read, merge_batches, restore_schema,
    row_count,
};

const BACKEND: &str = "memory";

/// A catalog held in memory. Cloning shares the tables (like `Arc`), so a test can hand one clone to the
/// engine and inspect another.
///
/// Schemas need not be created before tables are written; [`Catalog::create_schema`] only records them.
///
/// # Injecting failures
///
/// [`fail_next_write`](Self::fail_next_write) and [`fail_next_write_to`](Self::fail_next_write_to) arm a
/// one-shot failure: the next `overwrite` or `merge` (to any table, or to the given one) returns
/// [`Error::Catalog`] with backend `memory` and the given message, without consuming its input and without
/// changing anything, exactly like a backend whose commit failed. The failure is disarmed by that write.
/// [`fail_next_read_of`](Self::fail_next_read_of) does the same for the next `read` of one table (an existing
/// table that cannot be read, as opposed to a missing one).
#[derive(Clone, Default)]
pub struct InMemoryCatalog {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    schemas: BTreeSet<(String, String)>,
    tables: BTreeMap<TableRef, Table>,
    fail_any: Option<String>,
    fail_table: BTreeMap<TableRef, String>,
    fail_read: BTreeMap<TableRef, String>,
}

#[derive(Clone)]
struct Table {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    properties: Properties,
}

impl InMemoryCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next write (to any table) fail; see [Injecting failures](Self#injecting-failures).
    pub fn fail_next_write(&self, message: impl Into<String>) {
        self.lock().fail_any = Some(message.into());
    }

    /// Makes the next read of `table` fail with [`Error::Catalog`]; see
    /// [Injecting failures](Self#injecting-failures).
    pub fn fail_next_read_of(&self, table: &TableRef, message: impl Into<String>) {
        self.lock().fail_read.insert(table.clone(), message.into());
    }

    /// Makes the next write to `table` fail; see [Injecting failures](Self#injecting-failures).
    pub fn fail_next_write_to(&self, table: &TableRef, message: impl Into<String>) {
        self.lock().fail_table.insert(table.clone(), message.into());
    }

    /// The tables that exist, in name order.
    pub fn tables(&self) -> Vec<TableRef> {
        self.lock().tables.keys().cloned().collect()
    }

    /// Whether `catalog.schema` was created with [`Catalog::create_schema`].
    pub fn schema_exists(&self, catalog: &str, schema: &str) -> bool {
        self.lock()
            .schemas
            .contains(&(catalog.to_owned(), schema.to_owned()))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written table (writes are one assignment), so a
        // poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes an armed failure for a write to `table`, if any.
    fn take_failure(&self, table: &TableRef) -> Result<()> {
        let mut state = self.lock();
        let message = match state.fail_table.remove(table) {
            Some(message) => Some(message),
            None => state.fail_any.take(),
        };
        match message {
            Some(message) => Err(Error::Catalog {
                backend: BACKEND,
                source: message.into(),
            }),
            None => Ok(()),
        }
    }

    fn existing(&self, table: &TableRef) -> Result<Table> {
        self.lock()
            .tables
            .get(table)
            .cloned()
            .ok_or_else(|| not_found(table))
    }
}

impl fmt::Debug for InMemoryCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("InMemoryCatalog")
            .field("tables", &state.tables.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait::async_trait]
impl Catalog for InMemoryCatalog {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn table_exists(&self, table: &TableRef) -> Result<bool> {
        Ok(self.lock().tables.contains_key(table))
    }

    async fn read(&self, table: &TableRef) -> Result<(SchemaRef, BatchStream)> {
        if let Some(message) = self.lock().fail_read.remove(table) {
            return Err(Error::Catalog {
                backend: BACKEND,
                source: message.into(),
            });
        }
        let Table {
            schema, batches, ..
        } = self.existing(table)?;
        Ok((
            schema,
            futures_util::stream::iter(batches.into_iter().map(Ok)).boxed(),
        ))
    }

    async fn create_schema(&self, catalog: &str, schema: &str) -> Result<()> {
        self.lock()
            .schemas
            .insert((catalog.to_owned(), schema.to_owned()));
        Ok(())
    }

    async fn overwrite(
        &self,
        table: &TableRef,
        schema: SchemaRef,
        data: BatchStream,
        properties: &dyn PropertySource,
    ) -> Result<WriteSummary> {
        self.take_failure(table)?;
        let batches = collect_input(&schema, data).await?;
        let rows = row_count(&batches);
        let new = Table {
            schema,
            batches,
            properties: properties.properties(),
        };
        self.lock().tables.insert(table.clone(), new);
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
        self.take_failure(table)?;
        let input = collect_input(&schema, data).await?;
        // The merge is CPU work without awaits, so it runs under the lock: the read of the old table and the
        // swap to the new one are one step.
        let mut state = self.lock();
        let target = match state.tables.get(table) {
            Some(existing) => {
                check_same_schema(&existing.schema, &schema)?;
                existing.batches.as_slice()
            }
            None => &[],
        };
        let (batches, summary) = merge_batches(&schema, target, &input, spec)?;
        state.tables.insert(
            table.clone(),
            Table {
                schema,
                batches,
                properties: properties.properties(),
            },
        );
        Ok(summary)
    }

    async fn properties(&self, table: &TableRef) -> Result<Properties> {
        Ok(self.existing(table)?.properties)
    }
}

fn not_found(table: &TableRef) -> Error {
    Error::TableNotFound {
        table: table.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;
    use crate::catalog::conformance;

    #[tokio::test]
    async fn conformance() {
        conformance::run_all(&InMemoryCatalog::new(), "conformance.memory").await;
    }

    #[tokio::test]
    async fn conformance_through_box_dyn() {
        let catalog: Box<dyn Catalog> = Box::new(InMemoryCatalog::new());
        conformance::run_all(catalog.as_ref(), "conformance.boxed").await;
    }

    fn one_row(schema: &SchemaRef, id: i64) -> BatchStream {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![id])),
                Arc::new(StringArray::from(vec!["x"])),
            ],
        )
        .unwrap();
        futures_util::stream::iter([Ok(batch)]).boxed()
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Utf8, true),
        ]))
    }

    #[tokio::test]
    async fn injected_failure_hits_one_write_and_changes_nothing() {
        let catalog = InMemoryCatalog::new();
        let a = TableRef::new("c", "s", "a");
        let b = TableRef::new("c", "s", "b");
        let props = Properties::from([("k".to_owned(), "1".to_owned())]);
        catalog
            .overwrite(&a, schema(), one_row(&schema(), 1), &props)
            .await
            .unwrap();

        catalog.fail_next_write_to(&a, "disk on fire");
        // A write to another table is not affected.
        catalog
            .overwrite(&b, schema(), one_row(&schema(), 2), &Properties::new())
            .await
            .unwrap();
        let err = catalog
            .overwrite(&a, schema(), one_row(&schema(), 3), &Properties::new())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Catalog {
                    backend: "memory",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert_eq!(catalog.properties(&a).await.unwrap(), props);
        // One-shot: the next write succeeds.
        catalog
            .overwrite(&a, schema(), one_row(&schema(), 4), &Properties::new())
            .await
            .unwrap();

        catalog.fail_next_write("any table");
        let spec = MergeSpec {
            key_columns: vec!["id".into()],
            delete_column: None,
        };
        let err = catalog
            .merge(
                &b,
                schema(),
                one_row(&schema(), 5),
                &spec,
                &Properties::new(),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("any table"), "{err}");
        catalog
            .merge(
                &b,
                schema(),
                one_row(&schema(), 5),
                &spec,
                &Properties::new(),
            )
            .await
            .unwrap();
        assert_eq!(catalog.tables(), vec![a, b]);
    }

    #[tokio::test]
    async fn clones_share_state() {
        let catalog = InMemoryCatalog::new();
        let clone = catalog.clone();
        catalog.create_schema("c", "s").await.unwrap();
        let t = TableRef::new("c", "s", "t");
        clone
            .overwrite(&t, schema(), one_row(&schema(), 1), &Properties::new())
            .await
            .unwrap();
        assert!(catalog.table_exists(&t).await.unwrap());
        assert!(clone.schema_exists("c", "s"));
    }
}
