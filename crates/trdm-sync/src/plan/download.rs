//! The plan of a download: the target table as the catalog holds it against the decoded export, joined by
//! the key the write would merge on (`trdm_record_id`, or `trdm_sk` with history). Rows compare by their
//! Arrow row encoding over the columns both sides carry, the target's cast to the export's types.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hasher};

use arrow_array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, SchemaRef};
use futures_util::StreamExt;

use super::{ChangeKind, ColumnChange, PlannedChange, TablePlan};
use crate::catalog::{BatchStream, Catalog, TableRef};
use crate::error::{Error, Result};

/// How the download would write its target.
#[derive(Debug, Clone)]
pub struct DownloadPlanSpec {
    /// The Int64 column rows are matched on.
    pub key_column: String,
    /// A Boolean column marking incoming tombstones: a merge deletes the rows they match.
    pub delete_column: Option<String>,
    /// `true` for a full download: the target is replaced, so rows the export lacks are lost.
    pub replace: bool,
    /// Columns shown as a change's key before `key_column` (the table's primary key).
    pub shown_key: Vec<String>,
}

/// What a row of the target is to the join.
struct Current {
    digest: u64,
    seen: bool,
}

/// The columns both sides carry, in the export's order, and how to bring a target batch to them.
struct Compared {
    /// Export schema indexes of the compared columns.
    columns: Vec<usize>,
    /// Per compared column, its name.
    names: Vec<String>,
    /// Per compared column, the export's type (the target's is cast to it).
    types: Vec<DataType>,
    converter: RowConverter,
}

impl Compared {
    fn new(export: &SchemaRef, target: &SchemaRef) -> Result<(Compared, Vec<String>)> {
        let mut columns = Vec::new();
        let mut missing = Vec::new();
        for (i, field) in export.fields().iter().enumerate() {
            match target.field_with_name(field.name()) {
                Ok(t) if arrow_cast::can_cast_types(t.data_type(), field.data_type()) => {
                    columns.push(i)
                }
                _ => missing.push(field.name().clone()),
            }
        }
        let types: Vec<DataType> = columns
            .iter()
            .map(|&i| export.field(i).data_type().clone())
            .collect();
        let converter = RowConverter::new(types.iter().cloned().map(SortField::new).collect())?;
        let names = columns
            .iter()
            .map(|&i| export.field(i).name().clone())
            .collect();
        Ok((
            Compared {
                columns,
                names,
                types,
                converter,
            },
            missing,
        ))
    }

    /// The compared columns of an incoming batch.
    fn incoming(&self, batch: &RecordBatch) -> Vec<ArrayRef> {
        self.columns
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect()
    }

    /// The compared columns of a target batch, cast to the export's types.
    fn target(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        self.names
            .iter()
            .zip(&self.types)
            .map(|(name, t)| {
                let column = batch.column_by_name(name).ok_or_else(|| {
                    Error::SchemaMismatch(format!("the target's rows lack column {name}"))
                })?;
                Ok(arrow_cast::cast(column, t)?)
            })
            .collect()
    }

    fn digests(&self, columns: &[ArrayRef]) -> Result<Vec<u64>> {
        let rows = self.converter.convert_columns(columns)?;
        Ok(rows
            .iter()
            .map(|row| {
                let mut h = DefaultHasher::new();
                h.write(row.as_ref());
                h.finish()
            })
            .collect())
    }
}

fn int64<'a>(batch: &'a RecordBatch, name: &str, side: &str) -> Result<&'a Int64Array> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| Error::SchemaMismatch(format!("{side} has no Int64 column {name}")))
}

/// The canonical text of every value of `columns` at `row` (`None` is NULL).
fn texts(columns: &[ArrayRef], row: usize) -> Result<Vec<Option<String>>> {
    let options = FormatOptions::default();
    columns
        .iter()
        .map(|c| {
            if c.is_null(row) {
                return Ok(None);
            }
            // Instants print as the export writes them (Arrow's formatter would need a time-zone database).
            if let DataType::Timestamp(_, Some(_)) = c.data_type()
                && let Some(instants) = c.as_any().downcast_ref::<TimestampMicrosecondArray>()
            {
                let mut text = String::new();
                trdm_format::temporal::format_timestamptz(instants.value(row), &mut text);
                return Ok(Some(text));
            }
            Ok(Some(
                ArrayFormatter::try_new(c, &options)?.value(row).to_string(),
            ))
        })
        .collect()
}

/// The plan of writing `incoming` (batches of the export schema `schema`) into `target` as `spec` says,
/// showing at most `samples` changes. A target that does not exist has no rows.
pub async fn plan_download(
    catalog: &dyn Catalog,
    target: &TableRef,
    schema: &SchemaRef,
    mut incoming: BatchStream,
    spec: &DownloadPlanSpec,
    samples: usize,
) -> Result<TablePlan> {
    let mut plan = TablePlan::default();
    let read = match catalog.read(target).await {
        Ok(read) => Some(read),
        Err(Error::TableNotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let (compared, missing) = match &read {
        Some((target_schema, _)) => Compared::new(schema, target_schema)?,
        None => Compared::new(schema, schema)?,
    };
    if read.is_some() {
        plan.missing_columns = missing;
    }
    let shown: Vec<String> = spec
        .shown_key
        .iter()
        .filter(|c| **c != spec.key_column)
        .cloned()
        .chain([spec.key_column.clone()])
        .collect();
    let key_of = |columns: &[ArrayRef], names: &[String], row: usize| -> Result<_> {
        let values = texts(columns, row)?;
        Ok(shown
            .iter()
            .map(|k| {
                let value = names
                    .iter()
                    .position(|n| n == k)
                    .and_then(|i| values[i].clone());
                (k.clone(), value)
            })
            .collect::<Vec<_>>())
    };

    // Pass 1: the target's rows, by key.
    let mut rows: HashMap<i64, Current> = HashMap::new();
    if let Some((_, mut batches)) = read {
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let keys = int64(&batch, &spec.key_column, "the target")?;
            let digests = compared.digests(&compared.target(&batch)?)?;
            for (i, digest) in digests.into_iter().enumerate() {
                rows.insert(
                    keys.value(i),
                    Current {
                        digest,
                        seen: false,
                    },
                );
            }
        }
    }
    plan.current = rows.len() as u64;

    // Pass 2: the export probes them.
    let mut updates: Vec<(i64, usize, Vec<Option<String>>)> = Vec::new(); // key, change index, new values
    while let Some(batch) = incoming.next().await {
        let batch = batch?;
        let keys = int64(&batch, &spec.key_column, "the export")?.clone();
        let deleted = match &spec.delete_column {
            Some(name) => batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
                .cloned(),
            None => None,
        };
        let columns = compared.incoming(&batch);
        let digests = compared.digests(&columns)?;
        for (i, digest) in digests.into_iter().enumerate() {
            let key = keys.value(i);
            let found = rows.get_mut(&key);
            if deleted
                .as_ref()
                .is_some_and(|d| d.is_valid(i) && d.value(i))
            {
                if let Some(current) = found
                    && !current.seen
                {
                    current.seen = true;
                    plan.deleted += 1;
                    if plan.changes.len() < samples {
                        plan.changes.push(PlannedChange {
                            change: ChangeKind::Delete,
                            key: key_of(&columns, &compared.names, i)?,
                            columns: Vec::new(),
                        });
                    }
                }
                continue;
            }
            match found {
                None => {
                    plan.inserted += 1;
                    if plan.changes.len() < samples {
                        let values = texts(&columns, i)?;
                        plan.changes.push(PlannedChange {
                            change: ChangeKind::Insert,
                            key: key_of(&columns, &compared.names, i)?,
                            columns: ColumnChange::inserted(&compared.names, values),
                        });
                    }
                }
                Some(current) => {
                    current.seen = true;
                    if current.digest == digest {
                        plan.unchanged += 1;
                    } else {
                        plan.updated += 1;
                        if plan.changes.len() < samples {
                            updates.push((key, plan.changes.len(), texts(&columns, i)?));
                            plan.changes.push(PlannedChange {
                                change: ChangeKind::Update,
                                key: key_of(&columns, &compared.names, i)?,
                                columns: Vec::new(),
                            });
                        }
                    }
                }
            }
        }
    }
    if spec.replace {
        plan.deleted += rows.values().filter(|c| !c.seen).count() as u64;
    }

    // Pass 3 (only when something is to be shown): the old values of the sampled updates, and the first
    // rows a replace would lose.
    let mut lost_room = if spec.replace {
        samples.saturating_sub(plan.changes.len())
    } else {
        0
    };
    if updates.is_empty() && (lost_room == 0 || plan.deleted == 0) {
        return Ok(plan);
    }
    let wanted: HashSet<i64> = updates.iter().map(|(k, _, _)| *k).collect();
    let mut old: HashMap<i64, Vec<Option<String>>> = HashMap::new();
    let mut lost = Vec::new();
    let (_, mut batches) = catalog.read(target).await?;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        let keys = int64(&batch, &spec.key_column, "the target")?.clone();
        let columns = compared.target(&batch)?;
        for i in 0..batch.num_rows() {
            let key = keys.value(i);
            if wanted.contains(&key) {
                old.insert(key, texts(&columns, i)?);
            } else if lost_room > 0 && rows.get(&key).is_some_and(|c| !c.seen) {
                lost_room -= 1;
                lost.push(PlannedChange {
                    change: ChangeKind::Delete,
                    key: key_of(&columns, &compared.names, i)?,
                    columns: Vec::new(),
                });
            }
        }
    }
    for (key, index, new) in updates {
        if let Some(before) = old.get(&key) {
            plan.changes[index].columns = ColumnChange::differences(&compared.names, before, &new);
        }
    }
    plan.changes.extend(lost);
    Ok(plan)
}
