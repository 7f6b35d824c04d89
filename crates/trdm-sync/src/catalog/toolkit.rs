//! Building blocks for [`Catalog`](super::Catalog) backends: checking and conforming a write's input,
//! bringing batches read from a lossy catalog back onto the engine's schema, and the contract's keyed merge
//! as a pure function on Arrow batches ([`merge_batches`]).
//!
//! They live apart from [`InMemoryCatalog`](super::InMemoryCatalog), which uses them, so that every backend
//! that merges by read + rewrite (Delta, the Python catalogs) shares these exact semantics. They are
//! re-exported from [`memory`](super::memory), where they were first defined.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, Schema, SchemaRef};
use arrow_select::filter::filter_record_batch;
use futures_util::TryStreamExt;

use super::{BatchStream, MergeSpec, Properties, WriteSummary};
use crate::error::{Error, Result};

/// Rows in `batches`.
pub fn row_count(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

/// Drains a write's input stream through [`conform_batch`], dropping empty batches.
///
/// Fails with the stream's own error if it yields one, or with [`conform_batch`]'s.
pub async fn collect_input(schema: &SchemaRef, data: BatchStream) -> Result<Vec<RecordBatch>> {
    let batches: Vec<RecordBatch> = data.try_collect().await?;
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        if batch.num_rows() > 0 {
            out.push(conform_batch(schema, batch)?);
        }
    }
    Ok(out)
}

/// Checks one batch of a write's input against the declared schema and re-labels it with that schema, so
/// that stored batches carry its field metadata and nullability.
///
/// Fails with [`Error::SchemaMismatch`] if the batch's columns do not have the declared names, order and
/// types, and with [`Error::Arrow`] if a column declared not nullable holds nulls.
pub fn conform_batch(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch> {
    let found = batch.schema();
    if found.fields().len() != schema.fields().len()
        || found
            .fields()
            .iter()
            .zip(schema.fields())
            .any(|(f, w)| f.name() != w.name() || f.data_type() != w.data_type())
    {
        return Err(Error::SchemaMismatch(format!(
            "a batch of the input has columns {} but the declared schema is {}",
            describe_fields(&found),
            describe_fields(schema)
        )));
    }
    Ok(RecordBatch::try_new(
        schema.clone(),
        batch.columns().to_vec(),
    )?)
}

/// Checks that `input` may be merged into a table whose schema is `table`: the same column names in the
/// same order, with equal data types, nullability and `comment` metadata (the parts of a schema every
/// backend keeps). Other metadata, of the schema or of fields, is not compared.
pub fn check_same_schema(table: &Schema, input: &Schema) -> Result<()> {
    let mut problems = Vec::new();
    if table.fields().len() != input.fields().len() {
        problems.push(format!(
            "the table has {} columns, the input {}",
            table.fields().len(),
            input.fields().len()
        ));
    }
    for (t, i) in table.fields().iter().zip(input.fields()) {
        if t.name() != i.name() {
            problems.push(format!(
                "column `{}` in the table is `{}` in the input",
                t.name(),
                i.name()
            ));
        } else if t.data_type() != i.data_type() {
            problems.push(format!(
                "column `{}` is {} in the table but {} in the input",
                t.name(),
                t.data_type(),
                i.data_type()
            ));
        } else if t.is_nullable() != i.is_nullable() {
            let word = |n: bool| if n { "nullable" } else { "not nullable" };
            problems.push(format!(
                "column `{}` is {} in the table but {} in the input",
                t.name(),
                word(t.is_nullable()),
                word(i.is_nullable())
            ));
        } else if t.metadata().get("comment") != i.metadata().get("comment") {
            problems.push(format!(
                "column `{}` has a different comment in the table and the input",
                t.name()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::SchemaMismatch(format!(
            "cannot merge {} into {}: {}",
            describe_fields(input),
            describe_fields(table),
            problems.join("; ")
        )))
    }
}

/// The table property under which a catalog that cannot keep a whole Arrow schema (Spark's) stores the
/// schema last written, as JSON, for [`restore_schema`]. One key for every such catalog, so the Python
/// package's and the CLI's Spark catalogs read each other's tables.
pub const STORED_SCHEMA: &str = "trdm.arrow_schema";

/// `properties` plus `schema` as JSON under [`STORED_SCHEMA`]; `backend` names the catalog in the error.
pub fn with_stored_schema(
    mut properties: Properties,
    schema: &Schema,
    backend: &'static str,
) -> Result<Properties> {
    let json = serde_json::to_string(schema).map_err(|e| Error::Catalog {
        backend,
        source: Box::new(e),
    })?;
    properties.insert(STORED_SCHEMA.to_owned(), json);
    Ok(properties)
}

/// The schema stored under [`STORED_SCHEMA`] in `properties`, if there is one and it parses (a table
/// written by something else, or edited since, has none: it is then read as it is).
pub fn stored_schema(properties: &Properties) -> Option<Schema> {
    properties
        .get(STORED_SCHEMA)
        .and_then(|json| serde_json::from_str(json).ok())
}

/// Restores what a catalog could not store of a schema the engine wrote, from `stored`, a copy of that
/// schema kept beside the table (Python catalogs keep it as a table property). Spark's file-source tables,
/// for one, hand every column back nullable, comments as their own metadata, and hold time of day and
/// decimals past 38 digits as text. Columns must have `stored`'s names in its order; each is cast to its
/// stored type (text back to time or wide decimal), takes its stored metadata, and its stored nullability
/// unless it now holds NULLs (someone wrote them since: the table is then read as it is, nullable). Any
/// other difference, or a value that does not cast, is [`Error::SchemaMismatch`]: the table was changed
/// since and `stored` no longer describes it.
pub fn restore_schema(
    stored: &Schema,
    read: &Schema,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let mismatch =
        |what: String| Error::SchemaMismatch(format!("the stored schema does not fit: {what}"));
    let names = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    };
    if names(stored) != names(read) {
        return Err(mismatch(format!(
            "columns {:?} were written, {:?} read",
            names(stored),
            names(read)
        )));
    }
    let mut columns: Vec<Vec<ArrayRef>> =
        vec![Vec::with_capacity(batches.len()); stored.fields().len()];
    for batch in &batches {
        for (i, field) in stored.fields().iter().enumerate() {
            let column = batch.column(i);
            columns[i].push(if column.data_type() == field.data_type() {
                column.clone()
            } else {
                // Not the default "safe" cast, which would turn a value that does not parse into NULL.
                let strict = arrow_cast::CastOptions {
                    safe: false,
                    ..Default::default()
                };
                arrow_cast::cast_with_options(column, field.data_type(), &strict)
                    .map_err(|e| mismatch(format!("column `{}`: {e}", field.name())))?
            });
        }
    }
    let fields: Vec<_> = stored
        .fields()
        .iter()
        .zip(&columns)
        .map(|(field, parts)| {
            let has_nulls = parts.iter().any(|c| c.null_count() > 0);
            field
                .as_ref()
                .clone()
                .with_nullable(field.is_nullable() || has_nulls)
        })
        .collect();
    let schema = Arc::new(Schema::new_with_metadata(fields, stored.metadata().clone()));
    let batches = (0..batches.len())
        .map(|b| {
            let row: Vec<ArrayRef> = columns.iter().map(|parts| parts[b].clone()).collect();
            RecordBatch::try_new(schema.clone(), row).map_err(|e| mismatch(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((schema, batches))
}

/// Brings batches read back from a catalog that does not keep everything of a schema onto `expected`, the
/// schema the engine writes, so they can be merged with new input. Such catalogs (Spark's file-source
/// tables, for one) return every column nullable, without comments, with timestamps in the session's zone
/// and strings as large or view strings. Allowed differences: nullability (a NULL in a column `expected`
/// says is not nullable is still an error), field metadata, the zone of a timestamp of the same unit, and
/// the string encoding. Columns are matched by name; a missing, extra or differently typed column is a
/// [`Error::SchemaMismatch`] naming it.
pub fn conform_read(
    expected: &SchemaRef,
    read: &Schema,
    batches: Vec<RecordBatch>,
) -> Result<Vec<RecordBatch>> {
    use arrow_schema::DataType as T;
    let mismatch =
        |what: String| Error::SchemaMismatch(format!("the table read back does not fit: {what}"));
    let mut positions = Vec::with_capacity(expected.fields().len());
    for field in expected.fields() {
        let Some((i, got)) = read.column_with_name(field.name()) else {
            return Err(mismatch(format!("column `{}` is missing", field.name())));
        };
        let compatible = match (field.data_type(), got.data_type()) {
            (a, b) if a == b => true,
            (T::Timestamp(u, _), T::Timestamp(v, _)) => u == v,
            (T::Utf8, T::LargeUtf8 | T::Utf8View) => true,
            _ => false,
        };
        if !compatible {
            return Err(mismatch(format!(
                "column `{}` is {} in the table, {} expected",
                field.name(),
                got.data_type(),
                field.data_type()
            )));
        }
        positions.push(i);
    }
    if let Some(extra) = read
        .fields()
        .iter()
        .find(|f| expected.field_with_name(f.name()).is_err())
    {
        return Err(mismatch(format!(
            "column `{}` is not expected",
            extra.name()
        )));
    }
    batches
        .into_iter()
        .map(|batch| {
            let columns = expected
                .fields()
                .iter()
                .zip(&positions)
                .map(|(field, &i)| {
                    let column = batch.column(i);
                    if column.data_type() == field.data_type() {
                        Ok(column.clone())
                    } else {
                        arrow_cast::cast(column, field.data_type())
                            .map_err(|e| mismatch(format!("column `{}`: {e}", field.name())))
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            RecordBatch::try_new(expected.clone(), columns).map_err(|e| mismatch(e.to_string()))
        })
        .collect()
}

fn describe_fields(schema: &Schema) -> String {
    let fields: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{} {}{}",
                f.name(),
                f.data_type(),
                if f.is_nullable() { "" } else { " not null" }
            )
        })
        .collect();
    format!("({})", fields.join(", "))
}

/// The contract's keyed merge, on batches already in memory: every `target` row whose key (the values of
/// all `spec.key_columns`) equals an input row's key is removed, then each `input` row is appended unless
/// its `spec.delete_column` is `true` (null counts as not deleted). Keys compare by value with nulls equal
/// to each other. Both sides must have `schema` (see [`check_same_schema`]).
///
/// Returns the new table's batches (kept target rows first, in their order, then inserted rows) and a
/// summary in which `rows_deleted` counts every removed target row, whether replaced or deleted.
///
/// Errors with [`Error::Invalid`] if there are no key columns, a key or delete column is not in the schema,
/// the delete column is not boolean, or two input rows have the same key.
pub fn merge_batches(
    schema: &SchemaRef,
    target: &[RecordBatch],
    input: &[RecordBatch],
    spec: &MergeSpec,
) -> Result<(Vec<RecordBatch>, WriteSummary)> {
    if spec.key_columns.is_empty() {
        return Err(Error::Invalid(
            "merge needs at least one key column".to_owned(),
        ));
    }
    let column = |name: &str, what: &str| {
        schema.index_of(name).map_err(|_| {
            Error::Invalid(format!(
                "merge {what} column `{name}` is not in {}",
                describe_fields(schema)
            ))
        })
    };
    let keys = spec
        .key_columns
        .iter()
        .map(|name| column(name, "key"))
        .collect::<Result<Vec<_>>>()?;
    let delete = match &spec.delete_column {
        Some(name) => {
            let index = column(name, "delete")?;
            let data_type = schema.field(index).data_type();
            if data_type != &DataType::Boolean {
                return Err(Error::Invalid(format!(
                    "merge delete column `{name}` is {data_type}, not Boolean"
                )));
            }
            Some(index)
        }
        None => None,
    };
    let converter = RowConverter::new(
        keys.iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect(),
    )?;
    let key_columns = |batch: &RecordBatch| -> Vec<ArrayRef> {
        keys.iter().map(|&i| batch.column(i).clone()).collect()
    };

    let mut input_keys = HashSet::new();
    let mut inserted = Vec::new();
    let mut rows_written = 0;
    for batch in input {
        let rows = converter.convert_columns(&key_columns(batch))?;
        for row in rows.iter() {
            if !input_keys.insert(row.owned()) {
                return Err(Error::Invalid(format!(
                    "merge input has more than one row with the same key ({})",
                    spec.key_columns.join(", ")
                )));
            }
        }
        let kept = match delete {
            Some(index) => {
                let flags = batch
                    .column(index)
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .expect("checked Boolean");
                let keep: BooleanArray =
                    flags.iter().map(|flag| Some(flag != Some(true))).collect();
                filter_record_batch(batch, &keep)?
            }
            None => batch.clone(),
        };
        rows_written += kept.num_rows() as u64;
        if kept.num_rows() > 0 {
            inserted.push(kept);
        }
    }

    let mut out = Vec::with_capacity(target.len() + inserted.len());
    let mut rows_deleted = 0;
    for batch in target {
        let rows = converter.convert_columns(&key_columns(batch))?;
        let keep: BooleanArray = rows
            .iter()
            .map(|row| Some(!input_keys.contains(&row.owned())))
            .collect();
        let removed = keep.len() - keep.true_count();
        if removed == 0 {
            out.push(batch.clone());
            continue;
        }
        rows_deleted += removed as u64;
        let kept = filter_record_batch(batch, &keep)?;
        if kept.num_rows() > 0 {
            out.push(kept);
        }
    }
    out.extend(inserted);
    let rows_after = row_count(&out);
    Ok((
        out,
        WriteSummary {
            rows_after,
            rows_written,
            rows_deleted,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{Field, Schema};

    use super::*;

    #[test]
    fn conform_read_accepts_what_lossy_catalogs_change_and_names_what_it_cannot() {
        use arrow_array::{LargeStringArray, TimestampMicrosecondArray};
        use arrow_schema::TimeUnit;
        use std::collections::HashMap;

        let comment = HashMap::from([("comment".to_owned(), "code".to_owned())]);
        let expected = Arc::new(Schema::new(vec![
            Field::new("code", DataType::Utf8, false).with_metadata(comment),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        let sydney = DataType::Timestamp(TimeUnit::Microsecond, Some("Australia/Sydney".into()));
        // Read back: other order, everything nullable, no comment, large strings, another zone.
        let read = Arc::new(Schema::new(vec![
            Field::new("at", sydney.clone(), true),
            Field::new("code", DataType::LargeUtf8, true),
        ]));
        let at =
            TimestampMicrosecondArray::from(vec![Some(5), None]).with_timezone("Australia/Sydney");
        let batch = RecordBatch::try_new(
            read.clone(),
            vec![
                Arc::new(at),
                Arc::new(LargeStringArray::from(vec!["007", "010"])),
            ],
        )
        .unwrap();
        let out = conform_read(&expected, &read, vec![batch.clone()]).unwrap();
        assert_eq!(out[0].schema(), expected);
        assert_eq!(
            out[0]
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(0),
            "007"
        );
        let ts = out[0]
            .column(1)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!((ts.value(0), ts.is_null(1)), (5, true)); // the same instant, only the zone label moved

        // A NULL where the engine's schema says NOT NULL is still an error.
        let with_null = RecordBatch::try_new(
            read.clone(),
            vec![
                batch.column(0).clone(),
                Arc::new(LargeStringArray::from(vec![Some("007"), None])),
            ],
        )
        .unwrap();
        assert!(conform_read(&expected, &read, vec![with_null]).is_err());

        // Another type, a missing column, an extra column: each named.
        let retyped = Schema::new(vec![
            Field::new("at", sydney, true),
            Field::new("code", DataType::Int64, true),
        ]);
        let err = conform_read(&expected, &retyped, vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`code` is Int64"), "{err}");
        let missing = Schema::new(vec![Field::new("code", DataType::Utf8, true)]);
        let err = conform_read(&expected, &missing, vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`at` is missing"), "{err}");
        let mut fields: Vec<Field> = expected
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("extra", DataType::Utf8, true));
        let err = conform_read(&expected, &Schema::new(fields), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`extra` is not expected"), "{err}");
    }

    #[test]
    fn restore_schema_brings_back_types_nullability_and_comments_and_refuses_a_changed_table() {
        use arrow_array::{Decimal256Array, Time64MicrosecondArray};
        use arrow_buffer::i256;
        use arrow_schema::TimeUnit;
        use std::collections::HashMap;

        let comment = HashMap::from([("comment".to_owned(), "opening time".to_owned())]);
        let stored = Schema::new(vec![
            Field::new("code", DataType::Utf8, false),
            Field::new("opens", DataType::Time64(TimeUnit::Microsecond), true)
                .with_metadata(comment),
            Field::new("huge", DataType::Decimal256(40, 2), false),
        ]);
        // As Spark hands it back: all nullable, no comment, time and wide decimal as text.
        let read = Arc::new(Schema::new(vec![
            Field::new("code", DataType::Utf8, true),
            Field::new("opens", DataType::Utf8, true),
            Field::new("huge", DataType::Utf8, true),
        ]));
        let batch = |codes: Vec<Option<&str>>| {
            RecordBatch::try_new(
                read.clone(),
                vec![
                    Arc::new(StringArray::from(codes)),
                    Arc::new(StringArray::from(vec![Some("08:30:00.000001"), None])),
                    Arc::new(StringArray::from(vec![
                        "12345678901234567890123456789012345678.25",
                        "-0.50",
                    ])),
                ],
            )
            .unwrap()
        };
        let (schema, out) =
            restore_schema(&stored, &read, vec![batch(vec![Some("007"), Some("010")])]).unwrap();
        assert_eq!(schema.as_ref(), &stored);
        let opens = out[0]
            .column(1)
            .as_any()
            .downcast_ref::<Time64MicrosecondArray>()
            .unwrap();
        assert_eq!((opens.value(0), opens.is_null(1)), (30_600_000_001, true));
        let huge = out[0]
            .column(2)
            .as_any()
            .downcast_ref::<Decimal256Array>()
            .unwrap();
        assert_eq!(huge.value(1), i256::from_i128(-50));
        assert_eq!(
            huge.value_as_string(0),
            "12345678901234567890123456789012345678.25"
        );

        // A NULL written since in a NOT NULL column: read as it is, that column nullable.
        let (schema, _) =
            restore_schema(&stored, &read, vec![batch(vec![Some("007"), None])]).unwrap();
        assert!(schema.field(0).is_nullable() && !schema.field(2).is_nullable());

        // Columns renamed or values that no longer cast: the stored schema no longer describes the table.
        let renamed = Schema::new(vec![
            Field::new("code", DataType::Utf8, true),
            Field::new("opens_at", DataType::Utf8, true),
            Field::new("huge", DataType::Utf8, true),
        ]);
        let err = restore_schema(&stored, &renamed, vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("opens_at"), "{err}");
        let garbled = RecordBatch::try_new(
            read.clone(),
            vec![
                Arc::new(StringArray::from(vec!["007"])),
                Arc::new(StringArray::from(vec!["half past eight"])),
                Arc::new(StringArray::from(vec!["1"])),
            ],
        )
        .unwrap();
        let err = restore_schema(&stored, &read, vec![garbled])
            .unwrap_err()
            .to_string();
        assert!(err.contains("column `opens`"), "{err}");
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Utf8, true),
        ]))
    }
    #[test]
    fn merge_rejects_duplicate_input_keys_and_bad_specs() {
        let s = schema();
        let batch = RecordBatch::try_new(
            s.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 1])),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        let spec = MergeSpec {
            key_columns: vec!["id".into()],
            delete_column: None,
        };
        let err = merge_batches(&s, &[], std::slice::from_ref(&batch), &spec).unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err}");

        let spec = MergeSpec {
            key_columns: vec!["nope".into()],
            delete_column: None,
        };
        assert!(matches!(
            merge_batches(&s, &[], &[], &spec),
            Err(Error::Invalid(_))
        ));
        let spec = MergeSpec {
            key_columns: vec!["id".into()],
            delete_column: Some("v".into()),
        };
        assert!(matches!(
            merge_batches(&s, &[], &[], &spec),
            Err(Error::Invalid(_))
        ));
        let spec = MergeSpec {
            key_columns: vec![],
            delete_column: None,
        };
        assert!(matches!(
            merge_batches(&s, &[], &[], &spec),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn merge_treats_null_keys_as_equal() {
        let s = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("v", DataType::Utf8, true),
        ]));
        let make = |v: &str| {
            RecordBatch::try_new(
                s.clone(),
                vec![
                    Arc::new(Int64Array::from(vec![None, Some(1)])),
                    Arc::new(StringArray::from(vec![v, v])),
                ],
            )
            .unwrap()
        };
        let spec = MergeSpec {
            key_columns: vec!["id".into()],
            delete_column: None,
        };
        let (out, summary) = merge_batches(&s, &[make("old")], &[make("new")], &spec).unwrap();
        assert_eq!(
            summary,
            WriteSummary {
                rows_after: 2,
                rows_written: 2,
                rows_deleted: 2
            }
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0], make("new"));
    }
}
