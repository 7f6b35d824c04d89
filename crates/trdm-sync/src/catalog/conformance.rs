//! The shared conformance suite: one check per clause of the [`Catalog`] contract (see the
//! [module docs](super)), run by every backend's tests, object_store `integration.rs` style.
//!
//! Each check is a plain `pub async fn` taking `&dyn Catalog` and a prefix, and panics with a message naming
//! the clause when the backend breaks it. Compiled for this crate's tests and, with the `conformance`
//! feature, for other crates' tests, so a backend crate runs exactly the same checks as
//! [`InMemoryCatalog`](super::InMemoryCatalog).
//!
//! **The suite writes tables.** It creates the schema named by the prefix and tables inside it, and never
//! drops anything (the trait has no drop), so give it a throwaway catalog or a prefix unique to the run.
//!
//! # Prefix
//!
//! `unique_prefix` is `catalog.schema`: tables are created as `catalog.schema.<check>`. Without a dot, the
//! catalog is `conformance` and the whole prefix is the schema name. Use names a SQL engine accepts
//! unquoted (lower-case letters, digits, `_`).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow_buffer::i256;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow_select::concat::concat_batches;
use arrow_select::take::take_record_batch;
use futures_util::{StreamExt, TryStreamExt};

use super::{BatchStream, Catalog, MergeSpec, Properties, TableRef, WriteSummary};
use crate::error::Error;

/// Names the checks once: [`CHECKS`] and [`run_check`] come from the same list, so a runner in another
/// language (the Python package runs the suite against its Spark catalog) selects them by name.
macro_rules! checks {
    ($($check:ident),* $(,)?) => {
        /// Every check, by name, in the order [`run_all`] runs them.
        pub const CHECKS: &[&str] = &[$(stringify!($check)),*];

        /// Runs the check called `name` (one of [`CHECKS`]) against `catalog`; false when there is no such
        /// check.
        pub async fn run_check(name: &str, catalog: &dyn Catalog, unique_prefix: &str) -> bool {
            match name {
                $(stringify!($check) => $check(catalog, unique_prefix).await,)*
                _ => return false,
            }
            true
        }
    };
}

checks!(
    create_schema_is_idempotent,
    missing_table_is_table_not_found,
    names_are_exact,
    overwrite_creates_and_replaces_content_and_schema,
    schema_and_values_round_trip,
    properties_are_replaced_by_each_write,
    merge_upserts_and_deletes_by_key,
    merge_creates_missing_table,
    merge_rejects_schema_mismatch,
    failed_write_leaves_old_table,
    empty_table_reads_schema_and_no_rows,
);

/// Runs every check below against `catalog`, one after the other. See the [module docs](self) for what
/// `unique_prefix` means.
pub async fn run_all(catalog: &dyn Catalog, unique_prefix: &str) {
    for name in CHECKS {
        run_check(name, catalog, unique_prefix).await;
    }
}

/// `create_schema` succeeds when the schema is new and again when it already exists.
pub async fn create_schema_is_idempotent(catalog: &dyn Catalog, unique_prefix: &str) {
    let (cat, schema) = split_prefix(unique_prefix);
    for attempt in 1..=2 {
        catalog
            .create_schema(&cat, &schema)
            .await
            .unwrap_or_else(|e| panic!("create_schema({cat}.{schema}), call {attempt}: {e}"));
    }
}

/// A missing table: `table_exists` is false, and `read` and `properties` fail with
/// [`Error::TableNotFound`], never a generic backend error.
pub async fn missing_table_is_table_not_found(catalog: &dyn Catalog, unique_prefix: &str) {
    let table = setup(catalog, unique_prefix, "never_written").await;
    assert!(
        !catalog.table_exists(&table).await.expect("table_exists"),
        "{table} exists before any write"
    );
    match catalog.read(&table).await {
        Err(Error::TableNotFound { .. }) => {}
        Err(other) => panic!("read of missing {table}: expected TableNotFound, got {other:?}"),
        Ok(_) => panic!("read of missing {table} succeeded"),
    }
    match catalog.properties(&table).await {
        Err(Error::TableNotFound { .. }) => {}
        other => panic!("properties of missing {table}: expected TableNotFound, got {other:?}"),
    }
    // A missing schema is a missing table too.
    let (cat, schema) = split_prefix(unique_prefix);
    let nowhere = TableRef::new(cat, format!("{schema}_absent"), "t");
    assert!(!catalog.table_exists(&nowhere).await.expect("table_exists"));
    assert!(
        matches!(
            catalog.read(&nowhere).await,
            Err(Error::TableNotFound { .. })
        ),
        "read of {nowhere}"
    );
}

/// Names compare exactly: a table differing only in case is a different (here: missing) table.
pub async fn names_are_exact(catalog: &dyn Catalog, unique_prefix: &str) {
    let table = setup(catalog, unique_prefix, "case_sensitive").await;
    let (schema, batch) = simple(&[1], &["a"]);
    overwrite(catalog, &table, schema, vec![batch], &Properties::new()).await;
    let upper = TableRef::new(&table.catalog, &table.schema, table.table.to_uppercase());
    assert!(
        !catalog.table_exists(&upper).await.expect("table_exists"),
        "{upper} found after writing {table}"
    );
}

/// `overwrite` creates a missing table, then replaces content and schema (a different schema is not an
/// error) and reports what it wrote.
pub async fn overwrite_creates_and_replaces_content_and_schema(
    catalog: &dyn Catalog,
    unique_prefix: &str,
) {
    let table = setup(catalog, unique_prefix, "overwrite_replaces").await;
    let (schema_a, batch_a) = simple(&[1, 2, 3], &["a", "b", "c"]);
    let summary = overwrite(
        catalog,
        &table,
        schema_a.clone(),
        vec![batch_a.clone()],
        &Properties::new(),
    )
    .await;
    assert_eq!(
        summary,
        WriteSummary {
            rows_after: 3,
            rows_written: 3,
            rows_deleted: 0
        },
        "first overwrite"
    );
    assert!(
        catalog.table_exists(&table).await.expect("table_exists"),
        "{table} missing after overwrite"
    );
    assert_table(
        catalog,
        &table,
        &schema_a,
        &batch_a,
        "after the first overwrite",
    )
    .await;

    // Different columns and types: the schema is replaced, not merged or rejected.
    let schema_b = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("amount", DataType::Decimal128(14, 2), true),
        Field::new("active", DataType::Boolean, true),
    ]));
    let mut amount = Decimal128Builder::new()
        .with_precision_and_scale(14, 2)
        .expect("decimal");
    amount.append_value(1_050);
    amount.append_null();
    let batch_b = RecordBatch::try_new(
        schema_b.clone(),
        vec![
            Arc::new(Int64Array::from(vec![10, 20])),
            Arc::new(amount.finish()),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
        ],
    )
    .expect("batch b");
    // Two batches in, to check they are all written.
    let summary = overwrite(
        catalog,
        &table,
        schema_b.clone(),
        vec![batch_b.slice(0, 1), batch_b.slice(1, 1)],
        &Properties::new(),
    )
    .await;
    assert_eq!(
        summary,
        WriteSummary {
            rows_after: 2,
            rows_written: 2,
            rows_deleted: 0
        },
        "second overwrite"
    );
    assert_table(
        catalog,
        &table,
        &schema_b,
        &batch_b,
        "after a schema-changing overwrite",
    )
    .await;
}

/// Schemas are kept exactly (names, order, types, nullability, `comment` metadata) and so are values,
/// through `overwrite` and through `merge`, for every type the engine produces.
pub async fn schema_and_values_round_trip(catalog: &dyn Catalog, unique_prefix: &str) {
    let table = setup(catalog, unique_prefix, "all_types").await;
    let (schema, batch) = wide();
    overwrite(
        catalog,
        &table,
        schema.clone(),
        vec![batch.clone()],
        &Properties::new(),
    )
    .await;
    assert_table(
        catalog,
        &table,
        &schema,
        &batch,
        "after overwrite of all types",
    )
    .await;

    // Merging rows 1..=2 again (with their own values) and deleting nothing keeps the table as it was.
    let again = batch.slice(0, 2);
    let spec = MergeSpec {
        key_columns: vec!["id".into()],
        delete_column: None,
    };
    let summary = catalog
        .merge(
            &table,
            schema.clone(),
            stream(vec![again]),
            &spec,
            &Properties::new(),
        )
        .await
        .expect("merge");
    assert_eq!(
        summary,
        WriteSummary {
            rows_after: 4,
            rows_written: 2,
            rows_deleted: 2
        },
        "merge of all types"
    );
    assert_table(
        catalog,
        &table,
        &schema,
        &batch,
        "after merging rows of all types",
    )
    .await;
}

/// Properties are set with the data by every successful write, replacing the previous set.
pub async fn properties_are_replaced_by_each_write(catalog: &dyn Catalog, unique_prefix: &str) {
    let table = setup(catalog, unique_prefix, "properties").await;
    let (schema, batch) = simple(&[1], &["a"]);
    overwrite(
        catalog,
        &table,
        schema.clone(),
        vec![batch.clone()],
        &Properties::new(),
    )
    .await;
    assert_eq!(
        catalog.properties(&table).await.expect("properties"),
        Properties::new(),
        "no properties written"
    );

    let first = props(&[
        ("trdm.high_water_mark", "2024-01-31T23:59:59.999999Z"),
        ("trdm.source", "TitanRDM – Zürich"),
    ]);
    overwrite(catalog, &table, schema.clone(), vec![batch.clone()], &first).await;
    assert_eq!(
        catalog.properties(&table).await.expect("properties"),
        first,
        "properties of an overwrite"
    );

    let second = props(&[("trdm.high_water_mark", "2024-02-29T00:00:00Z")]);
    overwrite(
        catalog,
        &table,
        schema.clone(),
        vec![batch.clone()],
        &second,
    )
    .await;
    assert_eq!(
        catalog.properties(&table).await.expect("properties"),
        second,
        "properties are replaced, not merged"
    );

    let third = props(&[("trdm.run", "3"), ("trdm.empty", "")]);
    let spec = MergeSpec {
        key_columns: vec!["id".into()],
        delete_column: None,
    };
    catalog
        .merge(&table, schema, stream(vec![batch]), &spec, &third)
        .await
        .expect("merge");
    assert_eq!(
        catalog.properties(&table).await.expect("properties"),
        third,
        "properties of a merge"
    );
}

/// `merge` removes target rows with the input keys, inserts input rows unless flagged deleted, works with
/// multi-column keys, and reports counts (`rows_deleted` counts replaced and deleted target rows).
pub async fn merge_upserts_and_deletes_by_key(catalog: &dyn Catalog, unique_prefix: &str) {
    let table = setup(catalog, unique_prefix, "merge_by_key").await;
    let schema = flagged_schema();
    let base = flagged(
        &schema,
        &[
            (1, "one", Some(false)),
            (2, "two", None),
            (3, "three", Some(false)),
        ],
    );
    overwrite(
        catalog,
        &table,
        schema.clone(),
        vec![base],
        &Properties::new(),
    )
    .await;

    let input = flagged(
        &schema,
        &[
            (2, "two, updated", Some(false)), // replaces 2
            (3, "gone", Some(true)),          // deletes 3
            (4, "four", None),                // inserted (null flag is not a delete)
            (5, "never there", Some(true)),   // deletes nothing, not inserted
        ],
    );
    let spec = MergeSpec {
        key_columns: vec!["id".into()],
        delete_column: Some("deleted".into()),
    };
    let summary = catalog
        .merge(
            &table,
            schema.clone(),
            stream(vec![input.slice(0, 2), input.slice(2, 2)]),
            &spec,
            &Properties::new(),
        )
        .await
        .expect("merge");
    assert_eq!(
        summary,
        WriteSummary {
            rows_after: 3,
            rows_written: 2,
            rows_deleted: 2
        },
        "merge summary"
    );
    let expected = flagged(
        &schema,
        &[
            (1, "one", Some(false)),
            (2, "two, updated", Some(false)),
            (4, "four", None),
        ],
    );
    assert_table(catalog, &table, &schema, &expected, "after merge").await;

    // Two key columns: a row matches only when both are equal.
    let table = setup(catalog, unique_prefix, "merge_two_keys").await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("code", DataType::Utf8, false),
        Field::new("value", DataType::Int32, true),
    ]));
    let rows = |rows: &[(i64, &str, i32)]| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(arrow_array::Int32Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .expect("batch")
    };
    overwrite(
        catalog,
        &table,
        schema.clone(),
        vec![rows(&[(1, "a", 1), (2, "a", 2)])],
        &Properties::new(),
    )
    .await;
    let spec = MergeSpec {
        key_columns: vec!["id".into(), "code".into()],
        delete_column: None,
    };
    let summary = catalog
        .merge(
            &table,
            schema.clone(),
            stream(vec![rows(&[(1, "a", 10), (3, "b", 30)])]),
            &spec,
            &Properties::new(),
        )
        .await
        .expect("merge with two keys");
    assert_eq!(
        summary,
        WriteSummary {
            rows_after: 3,
            rows_written: 2,
            rows_deleted: 1
        },
        "two-key merge summary"
    );
    assert_table(
        catalog,
        &table,
        &schema,
        &rows(&[(1, "a", 10), (2, "a", 2), (3, "b", 30)]),
        "after two-key merge",
    )
    .await;
}

/// `merge` into a missing table creates it (without the rows flagged deleted) with the given properties.
pub async fn merge_creates_missing_table(catalog: &dyn Catalog, unique_prefix: &str) {
    let table = setup(catalog, unique_prefix, "merge_creates").await;
    let schema = flagged_schema();
    let input = flagged(
        &schema,
        &[(1, "one", Some(false)), (2, "deleted", Some(true))],
    );
    let spec = MergeSpec {
        key_columns: vec!["id".into()],
        delete_column: Some("deleted".into()),
    };
    let properties = props(&[("trdm.k", "v")]);
    let summary = catalog
        .merge(
            &table,
            schema.clone(),
            stream(vec![input]),
            &spec,
            &properties,
        )
        .await
        .expect("merge");
    assert_eq!(
        summary,
        WriteSummary {
            rows_after: 1,
            rows_written: 1,
            rows_deleted: 0
        },
        "merge into missing table"
    );
    assert_table(
        catalog,
        &table,
        &schema,
        &flagged(&schema, &[(1, "one", Some(false))]),
        "created by merge",
    )
    .await;
    assert_eq!(
        catalog.properties(&table).await.expect("properties"),
        properties
    );
}

/// `merge` with a schema that differs from the table's (a type, an extra column, a comment) fails with
/// [`Error::SchemaMismatch`] and changes nothing, properties included.
pub async fn merge_rejects_schema_mismatch(catalog: &dyn Catalog, unique_prefix: &str) {
    let table = setup(catalog, unique_prefix, "merge_mismatch").await;
    let (schema, batch) = simple(&[1, 2], &["a", "b"]);
    let properties = props(&[("trdm.k", "before")]);
    overwrite(
        catalog,
        &table,
        schema.clone(),
        vec![batch.clone()],
        &properties,
    )
    .await;

    let spec = MergeSpec {
        key_columns: vec!["id".into()],
        delete_column: None,
    };
    let other_type = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Int32, true),
    ]));
    let extra_column = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true).with_metadata(comment("the name")),
        Field::new("extra", DataType::Utf8, true),
    ]));
    let other_comment = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true).with_metadata(comment("another comment")),
    ]));
    for (what, wrong) in [
        ("a changed type", other_type),
        ("an extra column", extra_column),
        ("a changed comment", other_comment),
    ] {
        let columns: Vec<ArrayRef> = wrong
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Int64 => Arc::new(Int64Array::from(vec![2])) as ArrayRef,
                DataType::Int32 => Arc::new(arrow_array::Int32Array::from(vec![7])) as ArrayRef,
                _ => Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
            })
            .collect();
        let input = RecordBatch::try_new(wrong.clone(), columns).expect("batch");
        match catalog
            .merge(
                &table,
                wrong,
                stream(vec![input]),
                &spec,
                &props(&[("trdm.k", "after")]),
            )
            .await
        {
            Err(Error::SchemaMismatch(_)) => {}
            other => panic!("merge with {what}: expected SchemaMismatch, got {other:?}"),
        }
        assert_table(
            catalog,
            &table,
            &schema,
            &batch,
            &format!("after a rejected merge with {what}"),
        )
        .await;
        assert_eq!(
            catalog.properties(&table).await.expect("properties"),
            properties,
            "after merge with {what}"
        );
    }
}

/// A write whose input stream fails midway leaves the old table (content, schema, properties) in place,
/// and a failed first write leaves no table.
pub async fn failed_write_leaves_old_table(catalog: &dyn Catalog, unique_prefix: &str) {
    let table = setup(catalog, unique_prefix, "failed_write").await;
    let (schema, batch) = simple(&[1, 2], &["a", "b"]);
    let properties = props(&[("trdm.k", "before")]);
    overwrite(
        catalog,
        &table,
        schema.clone(),
        vec![batch.clone()],
        &properties,
    )
    .await;

    let (other_schema, other) = wide();
    let result = catalog
        .overwrite(
            &table,
            other_schema.clone(),
            failing_stream(vec![other.clone()]),
            &props(&[("trdm.k", "after")]),
        )
        .await;
    assert!(result.is_err(), "overwrite with a failing stream succeeded");
    assert_table(catalog, &table, &schema, &batch, "after a failed overwrite").await;
    assert_eq!(
        catalog.properties(&table).await.expect("properties"),
        properties,
        "after a failed overwrite"
    );

    let (_, more) = simple(&[2, 3], &["b2", "c"]);
    let spec = MergeSpec {
        key_columns: vec!["id".into()],
        delete_column: None,
    };
    let result = catalog
        .merge(
            &table,
            schema.clone(),
            failing_stream(vec![more]),
            &spec,
            &props(&[("trdm.k", "after")]),
        )
        .await;
    assert!(result.is_err(), "merge with a failing stream succeeded");
    assert_table(catalog, &table, &schema, &batch, "after a failed merge").await;
    assert_eq!(
        catalog.properties(&table).await.expect("properties"),
        properties,
        "after a failed merge"
    );

    let fresh = setup(catalog, unique_prefix, "failed_first_write").await;
    let result = catalog
        .overwrite(
            &fresh,
            other_schema,
            failing_stream(vec![other]),
            &Properties::new(),
        )
        .await;
    assert!(
        result.is_err(),
        "first overwrite with a failing stream succeeded"
    );
    assert!(
        !catalog.table_exists(&fresh).await.expect("table_exists"),
        "a failed first write left {fresh} behind"
    );
}

/// A table written with no rows exists, and reads back with its schema and zero rows.
pub async fn empty_table_reads_schema_and_no_rows(catalog: &dyn Catalog, unique_prefix: &str) {
    let (schema, batch) = wide();
    let empty = batch.slice(0, 0);
    for (name, input) in [
        ("empty_no_batches", vec![]),
        ("empty_zero_row_batch", vec![empty.clone()]),
    ] {
        let table = setup(catalog, unique_prefix, name).await;
        let summary = overwrite(catalog, &table, schema.clone(), input, &Properties::new()).await;
        assert_eq!(summary, WriteSummary::default(), "{name}");
        assert!(
            catalog.table_exists(&table).await.expect("table_exists"),
            "{name}: empty table does not exist"
        );
        assert_table(catalog, &table, &schema, &empty, name).await;
    }
}

// ---- helpers ----

fn split_prefix(prefix: &str) -> (String, String) {
    match prefix.split_once('.') {
        Some((catalog, schema)) => (catalog.to_owned(), schema.to_owned()),
        None => ("conformance".to_owned(), prefix.to_owned()),
    }
}

async fn setup(catalog: &dyn Catalog, prefix: &str, table: &str) -> TableRef {
    let (cat, schema) = split_prefix(prefix);
    catalog
        .create_schema(&cat, &schema)
        .await
        .unwrap_or_else(|e| panic!("create_schema({cat}.{schema}): {e}"));
    TableRef::new(cat, schema, table)
}

/// Overwrites `table` with `batches`, which must succeed.
async fn overwrite(
    catalog: &dyn Catalog,
    table: &TableRef,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    properties: &Properties,
) -> WriteSummary {
    catalog
        .overwrite(table, schema, stream(batches), properties)
        .await
        .unwrap_or_else(|e| panic!("overwrite {table}: {e}"))
}

fn stream(batches: Vec<RecordBatch>) -> BatchStream {
    futures_util::stream::iter(batches.into_iter().map(Ok)).boxed()
}

/// Yields the batches, then an error, as when the source of a write breaks off.
fn failing_stream(batches: Vec<RecordBatch>) -> BatchStream {
    let failure = Error::Invalid("conformance: the input stream failed midway".to_owned());
    futures_util::stream::iter(batches.into_iter().map(Ok).chain([Err(failure)])).boxed()
}

fn props(pairs: &[(&str, &str)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn comment(text: &str) -> std::collections::HashMap<String, String> {
    [("comment".to_owned(), text.to_owned())].into()
}

/// `id` (Int64, not null) and `name` (Utf8, with a comment).
fn simple(ids: &[i64], names: &[&str]) -> (SchemaRef, RecordBatch) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true).with_metadata(comment("the name")),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names.to_vec())),
        ],
    )
    .expect("simple batch");
    (schema, batch)
}

fn flagged_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("deleted", DataType::Boolean, true),
    ]))
}

fn flagged(schema: &SchemaRef, rows: &[(i64, &str, Option<bool>)]) -> RecordBatch {
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ],
    )
    .expect("flagged batch")
}

/// Every type the engine produces, with comments, non-nullable columns, nulls, extremes, empty strings and
/// non-ASCII text. Four rows, ids 1..=4; row 4 is null wherever nulls are allowed.
fn wide() -> (SchemaRef, RecordBatch) {
    const DAY_MICROS: i64 = 86_400_000_000;
    let fields = vec![
        Field::new("id", DataType::Int64, false).with_metadata(comment("TitanRDM record id")),
        Field::new("code", DataType::Utf8, false).with_metadata(comment("Código – ключ – 代码")),
        Field::new("label", DataType::Utf8, true),
        Field::new("small", DataType::Int16, true),
        Field::new("medium", DataType::Int32, true).with_metadata(comment("")),
        Field::new("large", DataType::Int64, true),
        Field::new("amount", DataType::Decimal128(14, 2), true)
            .with_metadata(comment("money, 2 places")),
        Field::new("huge", DataType::Decimal256(40, 5), true),
        Field::new("ratio32", DataType::Float32, true),
        Field::new("ratio64", DataType::Float64, true),
        Field::new("active", DataType::Boolean, true),
        Field::new("valid_from", DataType::Date32, true),
        Field::new("opens_at", DataType::Time64(TimeUnit::Microsecond), true),
        Field::new(
            "local_ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        ),
        Field::new(
            "utc_ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ];
    let schema = Arc::new(Schema::new(fields));

    let mut label = StringBuilder::new();
    for value in [
        Some(""),
        Some("Zürich – 東京 🚀 \"quoted\", comma\nnewline"),
        Some("plain"),
        None,
    ] {
        label.append_option(value);
    }
    let mut small = Int16Builder::new();
    small.append_slice(&[i16::MIN, 0, i16::MAX]);
    small.append_null();
    let mut medium = Int32Builder::new();
    medium.append_slice(&[i32::MIN, -1, i32::MAX]);
    medium.append_null();
    let mut large = Int64Builder::new();
    large.append_slice(&[i64::MIN, 0, i64::MAX]);
    large.append_null();
    let mut amount = Decimal128Builder::new()
        .with_precision_and_scale(14, 2)
        .expect("decimal128");
    amount.append_slice(&[-99_999_999_999_999, 0, 99_999_999_999_999]);
    amount.append_null();
    let mut huge = Decimal256Builder::new()
        .with_precision_and_scale(40, 5)
        .expect("decimal256");
    let nines = i256::from_string("9999999999999999999999999999999999999999").expect("40 nines");
    huge.append_slice(&[nines.wrapping_neg(), i256::from_i128(-1), nines]);
    huge.append_null();
    let mut ratio32 = Float32Builder::new();
    ratio32.append_slice(&[f32::MIN_POSITIVE, -0.5, f32::MAX]);
    ratio32.append_null();
    let mut ratio64 = Float64Builder::new();
    ratio64.append_slice(&[1e-300, -0.1, f64::MAX]);
    ratio64.append_null();
    let mut active = BooleanBuilder::new();
    active.append_slice(&[true, false, true]);
    active.append_null();
    let mut valid_from = Date32Builder::new();
    valid_from.append_slice(&[-719_162, 0, 2_932_896]); // 0001-01-01, 1970-01-01, 9999-12-31
    valid_from.append_null();
    let mut opens_at = Time64MicrosecondBuilder::new();
    opens_at.append_slice(&[0, 45_296_000_001, DAY_MICROS - 1]); // 00:00, 12:34:56.000001, 23:59:59.999999
    opens_at.append_null();
    let timestamps = [
        -62_135_596_800_000_000,
        1_706_745_599_999_999,
        253_402_300_799_999_999,
    ];
    let mut local_ts = TimestampMicrosecondBuilder::new();
    local_ts.append_slice(&timestamps);
    local_ts.append_null();
    let mut utc_ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    utc_ts.append_slice(&timestamps);
    utc_ts.append_null();

    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        Arc::new(StringArray::from(vec!["A-1", "ä", "", "z"])),
        Arc::new(label.finish()),
        Arc::new(small.finish()),
        Arc::new(medium.finish()),
        Arc::new(large.finish()),
        Arc::new(amount.finish()),
        Arc::new(huge.finish()),
        Arc::new(ratio32.finish()),
        Arc::new(ratio64.finish()),
        Arc::new(active.finish()),
        Arc::new(valid_from.finish()),
        Arc::new(opens_at.finish()),
        Arc::new(local_ts.finish()),
        Arc::new(utc_ts.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("wide batch");
    (schema, batch)
}

/// Reads `table` and checks it against the expected schema (names, order, types, nullability, `comment`)
/// and rows (compared as a set ordered by `id`, since the contract does not promise row order).
async fn assert_table(
    catalog: &dyn Catalog,
    table: &TableRef,
    schema: &SchemaRef,
    expected: &RecordBatch,
    when: &str,
) {
    let (read_schema, batches) = catalog
        .read(table)
        .await
        .unwrap_or_else(|e| panic!("{when}: read {table}: {e}"));
    assert_same_schema(schema, &read_schema, &format!("{when}: schema of {table}"));
    let batches: Vec<RecordBatch> = batches
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{when}: reading the rows of {table}: {e}"));
    for batch in &batches {
        assert_eq!(
            batch.schema(),
            read_schema,
            "{when}: a batch of {table} differs from the schema read returned"
        );
    }
    let actual =
        concat_batches(&read_schema, &batches).unwrap_or_else(|e| panic!("{when}: concat: {e}"));
    assert_eq!(
        actual.num_rows(),
        expected.num_rows(),
        "{when}: row count of {table}"
    );
    let actual = sorted_by_id(&actual);
    let expected = sorted_by_id(expected);
    for (i, field) in schema.fields().iter().enumerate() {
        assert_eq!(
            actual.column(i),
            expected.column(i),
            "{when}: values of column `{}` in {table} (rows ordered by id)",
            field.name()
        );
    }
}

fn assert_same_schema(expected: &Schema, actual: &Schema, when: &str) {
    let describe = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| {
                let comment = f
                    .metadata()
                    .get("comment")
                    .map(|c| format!(" comment={c:?}"))
                    .unwrap_or_default();
                format!(
                    "{}: {}{}{}",
                    f.name(),
                    f.data_type(),
                    if f.is_nullable() { "" } else { " not null" },
                    comment
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(describe(actual), describe(expected), "{when}");
}

fn sorted_by_id(batch: &RecordBatch) -> RecordBatch {
    let ids = batch
        .column_by_name("id")
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .expect("conformance tables have an Int64 `id` column");
    assert_eq!(ids.null_count(), 0, "ids are not null");
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    order.sort_by_key(|&i| ids.value(i as usize));
    take_record_batch(batch, &UInt32Array::from(order)).expect("take")
}
