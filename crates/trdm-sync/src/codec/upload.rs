//! Arrow → CSV for uploads: where each input column goes, and every check the service would make on the
//! file (keys, required values, transaction codes), done before it is sent.

use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::fmt::Write as _;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::Write;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use trdm_format::csv::CsvWriter;
use trdm_format::value::ColumnType;

use super::encode::{Source, sources, unpack};
use super::{EncodeSummary, ImportPattern, row_error, shown, value_error};
use crate::error::{Error, Result};
use crate::schema::{SYSTEM_COLUMNS, TRAN_CODE_COLUMN, TableDef};
use crate::spill::{Spill, read_partition};

// ---------------------------------------------------------------------------------------------------------
// Arrow → CSV: uploads

/// Where each input column goes, decided from the first batch's schema.
struct UploadPlan {
    /// Input field names, which every batch must repeat.
    input_names: Vec<String>,
    /// Per input column: the target type for user columns, None for the others.
    input_targets: Vec<Option<ColumnType>>,
    /// Per output column, in table order: (table column index, input column index).
    outputs: Vec<(usize, usize)>,
    /// Input index of `trdm_tran_code`.
    tran_code: Option<usize>,
    /// Output positions of the primary-key columns.
    key_outputs: Vec<usize>,
    /// Table columns absent from the input (only `d` rows of `incremental_with_delete` may lack them).
    absent: Vec<usize>,
}

/// Why an input may not lack a table column.
fn missing_column(table: &str, column: &str) -> String {
    format!(
        "table {table}: column {column} is missing from the input; TitanRDM would set it to NULL in every \
         record written (add the column, with its current values to keep them)"
    )
}

fn plan_upload(table: &TableDef, pattern: ImportPattern, schema: &SchemaRef) -> Result<UploadPlan> {
    let t = &table.database_table_name;
    let mut input_of = vec![None; table.columns.len()];
    let mut input_targets = Vec::with_capacity(schema.fields().len());
    let mut tran_code = None;
    let mut input_names = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name().as_str();
        if input_names.iter().any(|n| n == name) {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: the input has column {name} twice"
            )));
        }
        input_names.push(name.to_owned());
        if let Some(k) = table.columns.iter().position(|c| c.name == name) {
            input_of[k] = Some(i);
            input_targets.push(Some(table.columns[k].column_type()));
        } else if name == TRAN_CODE_COLUMN {
            tran_code = Some(i);
            input_targets.push(None);
        } else if SYSTEM_COLUMNS.contains(&name) {
            // Written by the service, never read from an import: a downloaded table uploads unchanged.
            input_targets.push(None);
        } else {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: input column {name} is neither a column of the table nor a system column"
            )));
        }
    }
    for (k, column) in table.columns.iter().enumerate() {
        if column.is_primary_key && input_of[k].is_none() {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: primary key column {} is missing from the input",
                column.name
            )));
        }
    }
    // In a downloaded table (it has the export's system columns) the codes say how each version came to
    // be, not what to do with it: with a pattern that takes no codes they are dropped like the rest.
    let downloaded = schema
        .fields()
        .iter()
        .any(|f| f.name() != TRAN_CODE_COLUMN && SYSTEM_COLUMNS.contains(&f.name().as_str()));
    if downloaded && !pattern.uses_tran_code() {
        tran_code = None;
    }
    if pattern.uses_tran_code() && tran_code.is_none() {
        return Err(Error::SchemaMismatch(format!(
            "table {t}: pattern {pattern} needs a {TRAN_CODE_COLUMN} column"
        )));
    }
    let outputs: Vec<(usize, usize)> = input_of
        .iter()
        .enumerate()
        .filter_map(|(k, i)| i.map(|i| (k, i)))
        .collect();
    let key_outputs = outputs
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| table.columns[*k].is_primary_key)
        .map(|(o, _)| o)
        .collect();
    // TitanRDM sets a column the file lacks to NULL in every record it writes, so an absent column would
    // clear it for the whole table. Only rows that delete (`d`, which need just their key) may lack it.
    let absent: Vec<usize> = (0..table.columns.len())
        .filter(|&k| input_of[k].is_none())
        .collect();
    // (A required one is reported at the first row that needs it, like a NULL in it.)
    if !pattern.uses_tran_code()
        && let Some(&k) = absent.iter().find(|&&k| !table.columns[k].is_required)
    {
        return Err(Error::SchemaMismatch(missing_column(
            t,
            &table.columns[k].name,
        )));
    }
    Ok(UploadPlan {
        input_names,
        input_targets,
        outputs,
        tran_code,
        key_outputs,
        absent,
    })
}

/// Validates batches read from a catalog against the table's column definitions and writes the upload file
/// for `pattern`.
///
/// Input columns are matched by name (exactly). User columns convert from any Arrow type with a text form:
/// strings (`Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of them) are read with the column type's import
/// grammar, exactly as the service would read them (`"007"` stays `007` in a `varchar`, `"12.5"` becomes
/// `12.50` in a `decimal(14,2)`); numbers, booleans, dates, times and timestamps convert directly, and only
/// when exact (`7.0` into `integer` is fine, `7.5` and `300` into `smallint` are not; a double goes into
/// `real` only if the `real` reads back as the same number; a `Timestamp` without zone into `timestamptz`
/// means UTC, a zoned one into a `timestamp` column is rejected as having an offset). Values are written in
/// the column's canonical text.
///
/// The file has the table's user columns that the input has, in table order, then `trdm_tran_code` when
/// the pattern uses it (normalised to `i`, `u` or `d`). Every check below happens before `Ok` is returned;
/// on an error, part of the file may already be written and must be discarded. Errors name the table
/// (`database_table_name`), column, row (counted from 1 over all batches) and value:
///
/// * an input column that is not a user column, a system column or `trdm_tran_code`
///   ([`Error::SchemaMismatch`]); the system columns `trdm_sk`..`trdm_actor_id` are dropped silently, so a
///   downloaded table uploads unchanged;
/// * a missing primary-key column (schema mismatch) or value; a missing required value, where a required
///   column absent from the input counts (rows deleted with `d` need only their key, as on the service);
/// * a value that does not convert, text longer than the column's length, decimals beyond precision or
///   scale;
/// * a primary key seen on an earlier row (the message names that row);
/// * `trdm_tran_code`: required with [`ImportPattern::IncrementalWithDelete`], each value `i`, `u` or `d`
///   after trimming and lower-casing; with the other patterns a column of only NULLs is dropped (a plain full
///   download has it empty) and any value is an error, except in a downloaded table (one that also has
///   system columns, e.g. merged from incremental exports), whose codes record history and are dropped.
///
/// Memory stays bounded by one batch and the primary keys seen (their canonical key texts and row
/// numbers), of which at most [`IN_MEMORY_KEYS`] are held in memory: past them every key goes to disk and
/// the first repeat is found after the last row, with the same error. With no batches at all, the file has only a header
/// of every user column (and `trdm_tran_code` when the pattern uses it).
pub fn encode_upload(
    table: &TableDef,
    pattern: ImportPattern,
    batches: impl IntoIterator<Item = Result<RecordBatch>>,
    out: impl Write,
) -> Result<EncodeSummary> {
    encode_upload_with(table, pattern, batches, out, IN_MEMORY_KEYS)
}

/// [`encode_upload`], its key check spilling to disk past `key_limit` keys.
fn encode_upload_with(
    table: &TableDef,
    pattern: ImportPattern,
    batches: impl IntoIterator<Item = Result<RecordBatch>>,
    out: impl Write,
    key_limit: usize,
) -> Result<EncodeSummary> {
    let t = table.database_table_name.as_str();
    let mut batches = batches.into_iter();
    let mut writer = CsvWriter::new(out);
    let Some(first) = batches.next().transpose()? else {
        let names = table.columns.iter().map(|c| c.name.as_str());
        let tran_code = pattern.uses_tran_code().then_some(TRAN_CODE_COLUMN);
        writer.write_record(names.chain(tran_code).map(Some))?;
        let bytes = writer.bytes_written();
        writer.into_inner()?;
        return Ok(EncodeSummary { rows: 0, bytes });
    };
    let plan = plan_upload(table, pattern, &first.schema())?;
    let header = plan
        .outputs
        .iter()
        .map(|&(k, _)| table.columns[k].name.as_str())
        .chain(pattern.uses_tran_code().then_some(TRAN_CODE_COLUMN));
    writer.write_record(header.map(Some))?;

    let mut cells: Vec<String> = vec![String::new(); plan.outputs.len()];
    let mut present = vec![false; plan.outputs.len()];
    let mut text = String::new();
    let mut key = String::new();
    let mut seen = SeenKeys::with_limit(key_limit);
    let mut rows = 0u64;
    for batch in std::iter::once(Ok(first)).chain(batches) {
        let batch = batch?;
        let names = batch.schema_ref().fields().iter().map(|f| f.name().clone());
        if !names.eq(plan.input_names.iter().cloned()) {
            return Err(Error::SchemaMismatch(format!(
                "table {t}: a batch's columns differ from the first batch's"
            )));
        }
        let arrays = batch
            .columns()
            .iter()
            .map(unpack)
            .collect::<Result<Vec<_>>>()?;
        let sources = sources(table, &arrays, &plan.input_names, &plan.input_targets)?;
        for row in 0..batch.num_rows() {
            rows += 1;
            let code = match plan.tran_code {
                Some(i) => tran_code(t, pattern, &sources[i], row, rows, &mut text)?,
                None => None,
            };
            let is_delete = code == Some("d");
            for (o, &(k, i)) in plan.outputs.iter().enumerate() {
                let column = &table.columns[k];
                let source = &sources[i];
                present[o] = !source.is_null(row);
                if !present[o] {
                    let why = if column.is_primary_key {
                        Some("value NULL is not allowed: the column is part of the primary key")
                    } else if column.is_required && !is_delete {
                        Some("value NULL is not allowed: the column is required")
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        return Err(row_error(Some(t), &column.name, rows, why));
                    }
                    continue;
                }
                let Some(target) = &plan.input_targets[i] else {
                    unreachable!("output columns are user columns");
                };
                source
                    .canonical(row, target, &mut text, &mut cells[o])
                    .map_err(|reason| value_error(Some(t), &column.name, rows, &text, &reason))?;
            }
            if !is_delete && let Some(&k) = plan.absent.first() {
                let column = &table.columns[k];
                if column.is_required {
                    return Err(row_error(
                        Some(t),
                        &column.name,
                        rows,
                        "no value: the column is required but missing from the input",
                    ));
                }
                return Err(Error::SchemaMismatch(format!(
                    "{} (row {rows} has code {})",
                    missing_column(t, &column.name),
                    code.unwrap_or("i")
                )));
            }
            if !plan.key_outputs.is_empty() {
                key.clear();
                for &o in &plan.key_outputs {
                    // Length-prefixed, so no text can imitate a boundary between key parts.
                    _ = write!(key, "{}:{}", cells[o].len(), cells[o]);
                }
                if let Some(first_row) = seen.insert(&key, rows)? {
                    let values = plan.key_outputs.iter().map(|&o| cells[o].clone()).collect();
                    return Err(duplicate_key(table, &plan, values, rows, first_row));
                }
            }
            for (o, cell) in cells.iter().enumerate() {
                writer.write_field(present[o].then_some(cell.as_str()))?;
            }
            if pattern.uses_tran_code() {
                writer.write_field(code)?;
            }
            writer.end_record()?;
        }
    }
    // Past the limit the check finishes here: the first row that repeats a key, as above.
    if let Some((key, row, first_row)) = seen.finish()? {
        return Err(duplicate_key(table, &plan, key_parts(&key), row, first_row));
    }
    let bytes = writer.bytes_written();
    writer.into_inner()?;
    Ok(EncodeSummary { rows, bytes })
}

/// The parts of a key text (`{length}:{text}` each).
fn key_parts(mut key: &str) -> Vec<String> {
    let mut parts = Vec::new();
    while let Some((len, rest)) = key.split_once(':') {
        let Ok(len) = len.parse::<usize>() else { break };
        let Some(part) = rest.get(..len) else { break };
        parts.push(part.to_owned());
        key = &rest[len..];
    }
    parts
}

/// Checks a row's transaction code; returns the normalised code to write, if the pattern writes one.
fn tran_code(
    t: &str,
    pattern: ImportPattern,
    source: &Source<'_>,
    row: usize,
    row_number: u64,
    text: &mut String,
) -> Result<Option<&'static str>> {
    let error = |what: String| row_error(Some(t), TRAN_CODE_COLUMN, row_number, what);
    if source.is_null(row) {
        return if pattern.uses_tran_code() {
            Err(error(
                "value NULL is not a transaction code (expected i, u or d)".into(),
            ))
        } else {
            Ok(None)
        };
    }
    source
        .text(row, text)
        .map_err(|reason| value_error(Some(t), TRAN_CODE_COLUMN, row_number, text, reason))?;
    if !pattern.uses_tran_code() {
        return Err(error(format!(
            "value {} is not allowed: {TRAN_CODE_COLUMN} is only used by pattern incremental_with_delete, \
             not {pattern}",
            shown(text)
        )));
    }
    match text.trim().to_ascii_lowercase().as_str() {
        "i" => Ok(Some("i")),
        "u" => Ok(Some("u")),
        "d" => Ok(Some("d")),
        _ => Err(error(format!(
            "value {} is not a transaction code (expected i, u or d)",
            shown(text)
        ))),
    }
}

/// The primary keys seen so far (canonical key texts) and the row of each: the one structure of
/// [`encode_upload`] that grows with the input, by about the key text plus 40 bytes a row, up to its
/// limit; then it moves to disk.
///
/// The key texts live end to end in one arena (no allocation per key), and the table is keyed by a 64-bit
/// hash computed once per key, so growing it moves plain integers instead of rehashing texts. The texts
/// are compared on a hash match, so a hash collision between different keys is never taken for a
/// duplicate.
struct SeenKeys {
    /// Keys held in memory before the check moves to disk.
    limit: usize,
    /// Once the limit is passed: every key with its row, on disk (and nothing in memory), in a directory
    /// removed with it.
    spill: Option<(tempfile::TempDir, Spill)>,
    hasher: RandomState,
    /// Every key text recorded, concatenated.
    arena: String,
    /// Hash → (start of the first key with that hash in `arena`, its length, its row).
    by_hash: HashMap<u64, (usize, usize, u64), BuildHasherDefault<PrehashedKey>>,
    /// Keys whose hash collided with a different key's (almost always empty).
    collided: HashMap<Box<str>, u64>,
}

/// Keys the duplicate check holds in memory (about 60 MB); past them it spills every key to disk and finds
/// the first repeat at the end, so a table of any size takes the memory of one this size.
const IN_MEMORY_KEYS: usize = 1 << 20;
/// Partitions of the spilled keys, checked one at a time.
const KEY_PARTITIONS: usize = 64;

impl Default for SeenKeys {
    fn default() -> Self {
        SeenKeys::with_limit(IN_MEMORY_KEYS)
    }
}

impl SeenKeys {
    fn with_limit(limit: usize) -> Self {
        SeenKeys {
            limit,
            spill: None,
            hasher: RandomState::default(),
            arena: String::new(),
            by_hash: HashMap::default(),
            collided: HashMap::new(),
        }
    }

    /// Records `key` at `row`; if it was seen before, returns that earlier row instead. Once the keys are
    /// spilled it returns `None`, and [`finish`](Self::finish) finds the repeat.
    fn insert(&mut self, key: &str, row: u64) -> Result<Option<u64>> {
        if let Some((_, spill)) = &mut self.spill {
            spill.push(key, row, 0, false)?;
            return Ok(None);
        }
        match self.by_hash.entry(self.hasher.hash_one(key)) {
            Entry::Vacant(slot) => {
                slot.insert((self.arena.len(), key.len(), row));
                self.arena.push_str(key);
            }
            Entry::Occupied(slot) => {
                let &(start, len, first_row) = slot.get();
                if &self.arena[start..start + len] == key {
                    return Ok(Some(first_row));
                }
                match self.collided.entry(key.into()) {
                    Entry::Occupied(slot) => return Ok(Some(*slot.get())),
                    Entry::Vacant(slot) => {
                        slot.insert(row);
                    }
                }
            }
        }
        if self.by_hash.len() + self.collided.len() >= self.limit {
            let dir = tempfile::Builder::new().prefix("trdm-keys-").tempdir()?;
            let mut spill = Spill::create(dir.path(), "keys", KEY_PARTITIONS)?;
            for &(start, len, row) in self.by_hash.values() {
                spill.push(&self.arena[start..start + len], row, 0, false)?;
            }
            for (key, &row) in &self.collided {
                spill.push(key, row, 0, false)?;
            }
            *self = SeenKeys {
                spill: Some((dir, spill)),
                ..SeenKeys::with_limit(self.limit)
            };
        }
        Ok(None)
    }

    /// After the last key: the first row that repeats a key, with the key and its first row (only once
    /// spilled; before, [`insert`](Self::insert) said so at once).
    fn finish(self) -> Result<Option<(String, u64, u64)>> {
        let Some((_dir, spill)) = self.spill else {
            return Ok(None);
        };
        let mut first: Option<(String, u64, u64)> = None;
        for path in spill.finish()? {
            // Per key its two smallest rows: the second is where the key repeats.
            let mut rows: HashMap<Box<str>, (u64, u64)> = HashMap::new();
            read_partition(&path, |key, row, _, _| {
                let entry = rows
                    .entry(key.into_boxed_str())
                    .or_insert((u64::MAX, u64::MAX));
                if row < entry.0 {
                    *entry = (row, entry.0);
                } else if row < entry.1 {
                    entry.1 = row;
                }
            })?;
            for (key, (first_row, repeat)) in rows {
                if repeat != u64::MAX && first.as_ref().is_none_or(|f| repeat < f.1) {
                    first = Some((key.into_string(), repeat, first_row));
                }
            }
        }
        Ok(first)
    }
}

/// A hasher for keys that are already hashes: passes the `u64` through.
#[derive(Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for `u64` keys; this keeps the hasher correct for anything else.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

fn duplicate_key(
    table: &TableDef,
    plan: &UploadPlan,
    key_values: Vec<String>,
    row: u64,
    first_row: u64,
) -> Error {
    let names: Vec<&str> = plan
        .key_outputs
        .iter()
        .map(|&o| table.columns[plan.outputs[o].0].name.as_str())
        .collect();
    let shown_values: Vec<String> = key_values.iter().map(|v| shown(v)).collect();
    let (columns, values, verb) = if names.len() == 1 {
        ("column", "value", "repeats")
    } else {
        ("columns", "values", "repeat")
    };
    Error::Invalid(format!(
        "table {}, {columns} {}, row {row}: {values} {} {verb} the primary key of row {first_row}",
        table.database_table_name,
        names.join(", "),
        shown_values.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, Hasher};

    use arrow_array::types::{ArrowPrimitiveType, Float16Type, Int32Type};
    use arrow_array::{
        Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
        Decimal256Array, DictionaryArray, Float16Array, Float32Array, Float64Array, Int8Array,
        Int32Array, Int64Array, LargeStringArray, NullArray, RecordBatch, StringArray,
        StringViewArray, Time32MillisecondArray, Time32SecondArray, Time64MicrosecondArray,
        Time64NanosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
        TimestampNanosecondArray, TimestampSecondArray, UInt64Array,
    };
    use arrow_buffer::i256;
    use trdm_format::temporal::{MICROS_PER_DAY, days_from_civil};
    use trdm_format::value::DataType;

    use super::*;
    use crate::codec::test_fixtures::*;
    use crate::error::{Error, Result};
    use crate::schema::{self, TRAN_CODE_COLUMN, TableDef};

    fn one(data_type: DataType, length: Option<u32>, scale: Option<u32>) -> TableDef {
        table(vec![col("c", data_type, length, scale)])
    }

    /// The canonical text an upload writes for a single value.
    fn converted(target: &TableDef, array: ArrayRef) -> Result<String> {
        let csv = upload(target, ImportPattern::Full, vec![batch(vec![("c", array)])])?;
        Ok(csv
            .strip_prefix("c\n")
            .unwrap()
            .trim_end_matches('\n')
            .to_owned())
    }

    #[test]
    fn upload_converts_exactly() {
        use DataType as D;
        let ts = micros(2024, 1, 2, 3, 4, 5, 0);
        let midnight = micros(2024, 2, 29, 0, 0, 0, 0);
        let dict: DictionaryArray<Int32Type> = vec!["x", "y"].into_iter().collect();
        let cases: Vec<(TableDef, ArrayRef, &str)> = vec![
            (
                one(D::Integer, None, None),
                arc(Float64Array::from(vec![7.0])),
                "7",
            ),
            (
                one(D::Integer, None, None),
                arc(Float64Array::from(vec![-0.0])),
                "0",
            ),
            (
                one(D::Integer, None, None),
                arc(Int8Array::from(vec![-5])),
                "-5",
            ),
            (
                one(D::Integer, None, None),
                arc(UInt64Array::from(vec![42])),
                "42",
            ),
            (
                one(D::Integer, None, None),
                arc(StringArray::from(vec![" 12 "])),
                "12",
            ),
            (
                one(D::Integer, None, None),
                arc(Decimal128Array::from(vec![700])
                    .with_precision_and_scale(5, 2)
                    .unwrap()),
                "7",
            ),
            (
                one(D::Smallint, None, None),
                arc(Int64Array::from(vec![-32768])),
                "-32768",
            ),
            (
                one(D::Bigint, None, None),
                arc(StringArray::from(vec!["007"])),
                "7",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(StringArray::from(vec!["12.5"])),
                "12.50",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Int32Array::from(vec![3])),
                "3.00",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Float64Array::from(vec![0.1])),
                "0.10",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Decimal128Array::from(vec![1500])
                    .with_precision_and_scale(10, 3)
                    .unwrap()),
                "1.50",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Decimal128Array::from(vec![3])
                    .with_precision_and_scale(5, -2)
                    .unwrap()),
                "300.00",
            ),
            (
                one(D::Decimal, Some(50), Some(0)),
                arc(
                    Decimal256Array::from(vec![i256::from_i128(-10).wrapping_pow(45)])
                        .with_precision_and_scale(50, 0)
                        .unwrap(),
                ),
                "-1000000000000000000000000000000000000000000000",
            ),
            (
                one(D::Decimal, None, None),
                arc(StringArray::from(vec!["1e3"])),
                "1000",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![0.1])),
                "0.1",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![f64::from(0.1f32)])),
                "0.1",
            ),
            (
                one(D::Real, None, None),
                arc(Float32Array::from(vec![0.1])),
                "0.1",
            ),
            (
                one(D::Real, None, None),
                arc(Float16Array::from(vec![half_one()])),
                "1",
            ),
            (
                one(D::Real, None, None),
                arc(Int32Array::from(vec![16_777_216])),
                "16777216",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![f64::NAN])),
                "NaN",
            ),
            (
                one(D::Double, None, None),
                arc(Float32Array::from(vec![0.1])),
                "0.1",
            ),
            (
                one(D::Double, None, None),
                arc(Int64Array::from(vec![1 << 53])),
                "9007199254740992",
            ),
            (
                one(D::Double, None, None),
                arc(Float64Array::from(vec![f64::NEG_INFINITY])),
                "-Infinity",
            ),
            (
                one(D::Varchar, Some(3), None),
                arc(StringArray::from(vec!["007"])),
                "007",
            ),
            (
                one(D::Varchar, Some(3), None),
                arc(Int32Array::from(vec![7])),
                "7",
            ),
            (
                one(D::Varchar, None, None),
                arc(LargeStringArray::from(vec!["é,"])),
                "\"é,\"",
            ),
            (
                one(D::Varchar, None, None),
                arc(StringViewArray::from(vec![""])),
                "\"\"",
            ),
            (one(D::Varchar, None, None), arc(dict), "x\ny"),
            (
                one(D::Character, Some(3), None),
                arc(StringArray::from(vec!["ab"])),
                "ab ",
            ),
            (
                one(D::Boolean, None, None),
                arc(BooleanArray::from(vec![true])),
                "true",
            ),
            (
                one(D::Boolean, None, None),
                arc(StringArray::from(vec!["Y"])),
                "true",
            ),
            (
                one(D::Boolean, None, None),
                arc(Int32Array::from(vec![0])),
                "false",
            ),
            (
                one(D::Date, None, None),
                arc(Date32Array::from(vec![days_from_civil(2024, 2, 29)])),
                "2024-02-29",
            ),
            (
                one(D::Date, None, None),
                arc(Date64Array::from(vec![midnight / 1000])),
                "2024-02-29",
            ),
            (
                one(D::Date, None, None),
                arc(TimestampSecondArray::from(vec![midnight / 1_000_000])),
                "2024-02-29",
            ),
            (
                one(D::Date, None, None),
                arc(StringArray::from(vec!["03/04/2024"])),
                "2024-03-04",
            ),
            (
                one(D::Time, None, None),
                arc(Time32SecondArray::from(vec![3661])),
                "01:01:01",
            ),
            (
                one(D::Time, None, None),
                arc(Time32MillisecondArray::from(vec![1_500])),
                "00:00:01.5",
            ),
            (
                one(D::Time, None, None),
                arc(Time64MicrosecondArray::from(vec![MICROS_PER_DAY])),
                "24:00:00",
            ),
            (
                one(D::Time, None, None),
                arc(Time64NanosecondArray::from(vec![1_000_001_000])),
                "00:00:01.000001",
            ),
            (
                one(D::Timetz, None, None),
                arc(StringArray::from(vec!["10:30+02"])),
                "10:30:00+02",
            ),
            (
                one(D::Timestamp, None, None),
                arc(TimestampMillisecondArray::from(vec![ts / 1000 + 5])),
                "2024-01-02T03:04:05.005",
            ),
            (
                one(D::Timestamp, None, None),
                arc(StringArray::from(vec!["2024-01-02 03:04"])),
                "2024-01-02T03:04:00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampMicrosecondArray::from(vec![ts])),
                "2024-01-02T03:04:05+00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampSecondArray::from(vec![ts / 1_000_000]).with_timezone("Europe/Paris")),
                "2024-01-02T03:04:05+00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampNanosecondArray::from(vec![ts * 1000 - 1000])),
                "2024-01-02T03:04:04.999999+00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(StringArray::from(vec!["2024-01-02T05:04:05+02"])),
                "2024-01-02T03:04:05+00",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(Date32Array::from(vec![days_from_civil(2024, 1, 2)])),
                "2024-01-02T00:00:00+00",
            ),
            (one(D::Text, None, None), arc(NullArray::new(1)), ""),
            (
                one(D::Integer, None, None),
                arc(Int32Array::from(vec![None])),
                "",
            ),
        ];
        for (target, array, expected) in cases {
            let what = format!(
                "{} <- {}",
                schema::type_text(&target.columns[0].column_type()),
                array.data_type()
            );
            assert_eq!(converted(&target, array).unwrap(), expected, "{what}");
        }
    }

    fn half_one() -> <Float16Type as ArrowPrimitiveType>::Native {
        <Float16Type as ArrowPrimitiveType>::Native::ONE
    }

    #[test]
    fn upload_rejects_what_does_not_convert_exactly() {
        use DataType as D;
        let ts = micros(2024, 1, 2, 3, 4, 5, 0);
        let cases: Vec<(TableDef, ArrayRef, &str)> = vec![
            (
                one(D::Integer, None, None),
                arc(Float64Array::from(vec![7.5])),
                "value \"7.5\" is not a valid integer",
            ),
            (
                one(D::Integer, None, None),
                arc(StringArray::from(vec!["abc"])),
                "value \"abc\" is not a valid integer",
            ),
            (
                one(D::Integer, None, None),
                arc(StringArray::from(vec![""])),
                "value \"\" is not a valid integer",
            ),
            (
                one(D::Integer, None, None),
                arc(Float64Array::from(vec![f64::NAN])),
                "value \"NaN\" is not a valid integer",
            ),
            (
                one(D::Smallint, None, None),
                arc(Int64Array::from(vec![300_000])),
                "value \"300000\" is out of range for smallint",
            ),
            (
                one(D::Smallint, None, None),
                arc(Int32Array::from(vec![32768])),
                "value \"32768\" is out of range for smallint",
            ),
            (
                one(D::Bigint, None, None),
                arc(UInt64Array::from(vec![u64::MAX])),
                "value \"18446744073709551615\" is out of range for bigint",
            ),
            (
                one(D::Varchar, Some(3), None),
                arc(StringArray::from(vec!["abcde"])),
                "value \"abcde\" is longer than 3 characters (5)",
            ),
            (
                one(D::Character, Some(1), None),
                arc(StringArray::from(vec!["ab"])),
                "value \"ab\" is longer than 1 characters (2)",
            ),
            (
                one(D::Decimal, Some(4), Some(2)),
                arc(StringArray::from(vec!["123.4"])),
                "value \"123.4\" exceeds precision 4",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Decimal128Array::from(vec![1505])
                    .with_precision_and_scale(10, 3)
                    .unwrap()),
                "value \"1.505\" has more than 2 decimal places",
            ),
            (
                one(D::Decimal, Some(14), Some(2)),
                arc(Float64Array::from(vec![f64::INFINITY])),
                "value \"Infinity\" is not a valid decimal number",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![1.000_000_01])),
                "value \"1.00000001\" cannot be stored in a real column without losing precision (it would become 1)",
            ),
            (
                one(D::Real, None, None),
                arc(Int64Array::from(vec![16_777_217])),
                "value \"16777217\" cannot be stored in a real column without losing precision (it would become 16777216)",
            ),
            (
                one(D::Real, None, None),
                arc(Float64Array::from(vec![1e39])),
                "value \"1000000000000000000000000000000000000000\" is out of range for real",
            ),
            (
                one(D::Double, None, None),
                arc(Decimal128Array::from(vec![12_345_678_901_234_567_890])
                    .with_precision_and_scale(30, 20)
                    .unwrap()),
                "value \"0.12345678901234567890\" cannot be stored in a double column without losing precision (it would become 0.12345678901234568)",
            ),
            (
                one(D::Boolean, None, None),
                arc(StringArray::from(vec!["maybe"])),
                "value \"maybe\" is not a valid boolean (expected true/false)",
            ),
            (
                one(D::Boolean, None, None),
                arc(Int32Array::from(vec![2])),
                "value \"2\" is not a valid boolean (expected true/false)",
            ),
            (
                one(D::Timestamp, None, None),
                arc(TimestampMicrosecondArray::from(vec![ts]).with_timezone("UTC")),
                "value \"2024-01-02T03:04:05+00\" has a time zone offset but the column is timestamp without time zone",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampNanosecondArray::from(vec![1])),
                "value \"1970-01-01T00:00:00.000000001\" has more than 6 fractional second digits",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampSecondArray::from(vec![i64::MAX])),
                "value \"9223372036854775807\" is out of range for a timestamp",
            ),
            (
                one(D::Timestamptz, None, None),
                arc(TimestampMicrosecondArray::from(vec![
                    micros(1, 1, 1, 0, 0, 0, 0) - 1,
                ])),
                "value \"0000-12-31T23:59:59.999999\" is out of range for timestamptz",
            ),
            (
                one(D::Date, None, None),
                arc(TimestampMicrosecondArray::from(vec![ts])),
                "value \"2024-01-02T03:04:05\" is not a valid date (it has a time of day)",
            ),
            (
                one(D::Date, None, None),
                arc(Date64Array::from(vec![1])),
                "value \"1970-01-01T00:00:00.001\" is not a valid date (it has a time of day)",
            ),
            (
                one(D::Time, None, None),
                arc(Time64NanosecondArray::from(vec![MICROS_PER_DAY * 1000 + 1])),
                "value \"86400000000001\" is out of range for a time of day",
            ),
            (
                one(D::Time, None, None),
                arc(Time64NanosecondArray::from(vec![1])),
                "value \"00:00:00.000000001\" has more than 6 fractional second digits",
            ),
            (
                one(D::Time, None, None),
                arc(Time32SecondArray::from(vec![-1])),
                "value \"-1\" is out of range for a time of day",
            ),
            (
                one(D::Timetz, None, None),
                arc(StringArray::from(vec!["10:30 CET"])),
                "value \"10:30 CET\" is not a valid time with time zone (expected HH:MM:SS+HH:MM)",
            ),
        ];
        for (target, array, expected) in cases {
            let what = format!(
                "{} <- {}",
                schema::type_text(&target.columns[0].column_type()),
                array.data_type()
            );
            let err = converted(&target, array).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("table items, column c, row 1: {expected}"),
                "{what}"
            );
        }
        let err = converted(
            &one(D::Integer, None, None),
            arc(BinaryArray::from(vec![&b"x"[..]])),
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "schema mismatch: table items, column c: Arrow type Binary cannot be converted to integer"
        );
    }

    #[test]
    fn a_source_column_of_another_type_family_is_one_error_naming_both_types() {
        let cases: Vec<(DataType, ArrayRef, &str)> = vec![
            (
                DataType::Integer,
                arc(BooleanArray::from(vec![true])),
                "Boolean cannot be converted to integer",
            ),
            (
                DataType::Date,
                arc(Int32Array::from(vec![20240101])),
                "Int32 cannot be converted to date",
            ),
            (
                DataType::Decimal,
                arc(Date32Array::from(vec![1])),
                "Date32 cannot be converted to decimal",
            ),
        ];
        for (data_type, array, expected) in cases {
            let err = converted(&one(data_type, None, None), array).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("schema mismatch: table items, column c: Arrow type {expected}")
            );
        }
        // Text still goes anywhere it parses, and anything into text.
        assert!(
            converted(
                &one(DataType::Text, None, None),
                arc(BooleanArray::from(vec![true]))
            )
            .is_ok()
        );
    }

    fn items() -> TableDef {
        table(vec![
            key(col("id", DataType::Bigint, None, None)),
            required(col("name", DataType::Varchar, Some(10), None)),
            col("note", DataType::Text, None, None),
            col("price", DataType::Decimal, Some(10), Some(2)),
        ])
    }

    /// `items` without `note` and `price`: what most upload tests need.
    fn pair() -> TableDef {
        table(vec![
            key(col("id", DataType::Bigint, None, None)),
            required(col("name", DataType::Varchar, Some(10), None)),
        ])
    }

    #[test]
    fn upload_writes_table_order_and_drops_system_columns() {
        let t = table(vec![
            key(col("id", DataType::Bigint, None, None)),
            required(col("name", DataType::Varchar, Some(10), None)),
            col("price", DataType::Decimal, Some(10), Some(2)),
        ]);
        let b = batch(vec![
            ("trdm_sk", arc(Int64Array::from(vec![5, 6]))),
            ("price", arc(StringArray::from(vec![Some("1"), None]))),
            ("name", arc(StringArray::from(vec!["a", "b"]))),
            ("id", arc(Int32Array::from(vec![1, 2]))),
            ("trdm_state", arc(StringArray::from(vec!["C", "C"]))),
            ("trdm_actor_id", arc(Int64Array::from(vec![None, None]))),
            (
                TRAN_CODE_COLUMN,
                arc(StringArray::from(vec![None::<&str>, None])),
            ),
        ]);
        for pattern in [ImportPattern::Full, ImportPattern::IncrementalUpsertOnly] {
            assert_eq!(
                upload(&t, pattern, vec![b.clone()]).unwrap(),
                "id,name,price\n1,a,1.00\n2,b,\n"
            );
        }
        // A downloaded table merged from incremental exports carries the codes of its history: dropped too.
        let merged = batch(vec![
            ("id", arc(Int32Array::from(vec![1, 2]))),
            ("name", arc(StringArray::from(vec!["a", "b"]))),
            ("trdm_record_id", arc(Int64Array::from(vec![7, 8]))),
            (
                TRAN_CODE_COLUMN,
                arc(StringArray::from(vec![Some("u"), None])),
            ),
        ]);
        assert_eq!(
            upload(&pair(), ImportPattern::Full, vec![merged]).unwrap(),
            "id,name\n1,a\n2,b\n"
        );
        // Without system columns the codes are the user's instructions, and the wrong pattern is an error.
        let handmade = batch(vec![
            ("id", arc(Int32Array::from(vec![1]))),
            ("name", arc(StringArray::from(vec!["a"]))),
            (TRAN_CODE_COLUMN, arc(StringArray::from(vec!["d"]))),
        ]);
        let err = upload(&pair(), ImportPattern::Full, vec![handmade])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trdm_tran_code") && err.contains("row 1"),
            "{err}"
        );
        // A NullArray tran code column (as some catalogs store an all-empty column) is dropped too.
        let b = batch(vec![
            ("id", arc(Int32Array::from(vec![1]))),
            ("name", arc(StringArray::from(vec!["a"]))),
            (TRAN_CODE_COLUMN, arc(NullArray::new(1))),
        ]);
        assert_eq!(
            upload(&pair(), ImportPattern::Full, vec![b]).unwrap(),
            "id,name\n1,a\n"
        );
        // No batches at all: a header of every column.
        assert_eq!(
            upload(&items(), ImportPattern::Full, vec![]).unwrap(),
            "id,name,note,price\n"
        );
        assert_eq!(
            upload(&items(), ImportPattern::IncrementalWithDelete, vec![]).unwrap(),
            "id,name,note,price,trdm_tran_code\n"
        );
    }

    #[test]
    fn upload_with_delete_normalises_tran_codes() {
        let t = pair();
        let b = batch(vec![
            ("id", arc(Int64Array::from(vec![1, 2, 3]))),
            (
                "name",
                arc(StringArray::from(vec![Some("a"), None, Some("c")])),
            ),
            (
                TRAN_CODE_COLUMN,
                arc(StringArray::from(vec!["I", " d ", "u"])),
            ),
        ]);
        assert_eq!(
            upload(&t, ImportPattern::IncrementalWithDelete, vec![b]).unwrap(),
            "id,name,trdm_tran_code\n1,a,i\n2,,d\n3,c,u\n"
        );
        // A delete needs only its key, even when a required column is absent.
        let b = batch(vec![
            ("id", arc(Int64Array::from(vec![1]))),
            (TRAN_CODE_COLUMN, arc(StringArray::from(vec!["D"]))),
        ]);
        assert_eq!(
            upload(&t, ImportPattern::IncrementalWithDelete, vec![b]).unwrap(),
            "id,trdm_tran_code\n1,d\n"
        );
    }

    #[test]
    fn upload_validation_errors() {
        use ImportPattern::{Full, IncrementalWithDelete as WithDelete};
        let t = pair();
        let ids = |v: Vec<i64>| -> ArrayRef { arc(Int64Array::from(v)) };
        let names = |v: Vec<Option<&str>>| -> ArrayRef { arc(StringArray::from(v)) };
        let codes = |v: Vec<Option<&str>>| -> ArrayRef { arc(StringArray::from(v)) };
        let cases: Vec<(ImportPattern, Vec<RecordBatch>, &str)> = vec![
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                    ("colour", names(vec![None])),
                ])],
                "schema mismatch: table items: input column colour is neither a column of the table nor a system column",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                ])],
                "schema mismatch: table items: the input has column id twice",
            ),
            (
                Full,
                vec![batch(vec![("name", names(vec![Some("a")]))])],
                "schema mismatch: table items: primary key column id is missing from the input",
            ),
            (
                Full,
                vec![batch(vec![("id", ids(vec![1]))])],
                "table items, column name, row 1: no value: the column is required but missing from the input",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", arc(Int64Array::from(vec![Some(1), None]))),
                    ("name", names(vec![Some("a"), Some("b")])),
                ])],
                "table items, column id, row 2: value NULL is not allowed: the column is part of the primary key",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1, 2])),
                    ("name", names(vec![Some("a"), None])),
                ])],
                "table items, column name, row 2: value NULL is not allowed: the column is required",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1, 2])),
                    ("name", names(vec![Some("a"), Some("this is too long")])),
                ])],
                "table items, column name, row 2: value \"this is too long\" is longer than 10 characters (16)",
            ),
            (
                Full,
                vec![
                    batch(vec![
                        ("id", ids(vec![7, 8])),
                        ("name", names(vec![Some("a"), Some("b")])),
                    ]),
                    batch(vec![
                        ("id", arc(StringArray::from(vec!["9", "007.0"]))),
                        ("name", names(vec![Some("c"), Some("d")])),
                    ]),
                ],
                "table items, column id, row 4: value \"7\" repeats the primary key of row 1",
            ),
            (
                Full,
                vec![
                    batch(vec![("id", ids(vec![1])), ("name", names(vec![Some("a")]))]),
                    batch(vec![("name", names(vec![Some("a")])), ("id", ids(vec![1]))]),
                ],
                "schema mismatch: table items: a batch's columns differ from the first batch's",
            ),
            (
                Full,
                vec![
                    batch(vec![("id", ids(vec![1])), ("name", names(vec![Some("a")]))]),
                    batch(vec![
                        ("id", ids(vec![2])),
                        ("name", names(vec![Some("b")])),
                        ("price", names(vec![Some("x")])),
                    ]),
                ],
                "schema mismatch: table items: a batch's columns differ from the first batch's",
            ),
            (
                Full,
                vec![
                    batch(vec![
                        ("id", ids(vec![1, 2])),
                        ("name", names(vec![Some("a"), Some("b")])),
                    ]),
                    batch(vec![("id", ids(vec![3])), ("name", names(vec![Some("c")]))]),
                    batch(vec![
                        ("id", arc(StringArray::from(vec!["x"]))),
                        ("name", names(vec![Some("d")])),
                    ]),
                ],
                "table items, column id, row 4: value \"x\" is not a valid integer",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                ])],
                "schema mismatch: table items: pattern incremental_with_delete needs a trdm_tran_code column",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1, 2])),
                    ("name", names(vec![Some("a"), Some("b")])),
                    (TRAN_CODE_COLUMN, codes(vec![Some("i"), Some("x")])),
                ])],
                "table items, column trdm_tran_code, row 2: value \"x\" is not a transaction code (expected i, u or d)",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                    (TRAN_CODE_COLUMN, codes(vec![None])),
                ])],
                "table items, column trdm_tran_code, row 1: value NULL is not a transaction code (expected i, u or d)",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1, 1])),
                    ("name", names(vec![Some("a"), None])),
                    (TRAN_CODE_COLUMN, codes(vec![Some("u"), Some("d")])),
                ])],
                "table items, column id, row 2: value \"1\" repeats the primary key of row 1",
            ),
            (
                Full,
                vec![batch(vec![
                    ("id", ids(vec![1, 2])),
                    ("name", names(vec![Some("a"), Some("b")])),
                    (TRAN_CODE_COLUMN, codes(vec![None, Some("u")])),
                ])],
                "table items, column trdm_tran_code, row 2: value \"u\" is not allowed: trdm_tran_code is only used by \
                 pattern incremental_with_delete, not full",
            ),
            (
                ImportPattern::IncrementalUpsertOnly,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    ("name", names(vec![Some("a")])),
                    (TRAN_CODE_COLUMN, codes(vec![Some("")])),
                ])],
                "table items, column trdm_tran_code, row 1: value \"\" is not allowed: trdm_tran_code is only used by \
                 pattern incremental_with_delete, not incremental_upsert_only",
            ),
            (
                WithDelete,
                vec![batch(vec![
                    ("id", ids(vec![1])),
                    (TRAN_CODE_COLUMN, arc(BinaryArray::from(vec![&b"i"[..]]))),
                ])],
                "schema mismatch: table items, column trdm_tran_code: Arrow type Binary cannot be converted to text",
            ),
        ];
        for (pattern, batches, expected) in cases {
            assert_eq!(upload_error(&t, pattern, batches), expected);
        }
        // A nullable column the input lacks would be NULL in every record TitanRDM writes.
        let missing = "schema mismatch: table items: column note is missing from the input; TitanRDM would \
                       set it to NULL in every record written (add the column, with its current values to \
                       keep them)";
        let price = || ("price", names(vec![Some("1")]));
        for pattern in [Full, ImportPattern::IncrementalUpsertOnly] {
            let b = batch(vec![
                ("id", ids(vec![1])),
                ("name", names(vec![Some("a")])),
                price(),
            ]);
            assert_eq!(upload_error(&items(), pattern, vec![b]), missing);
        }
        // With deletes, only the rows that upsert need it.
        let deletes = batch(vec![
            ("id", ids(vec![1])),
            ("name", names(vec![None])),
            price(),
            (TRAN_CODE_COLUMN, codes(vec![Some("d")])),
        ]);
        assert!(upload(&items(), WithDelete, vec![deletes]).is_ok());
        let upsert = batch(vec![
            ("id", ids(vec![1, 2])),
            ("name", names(vec![None, Some("b")])),
            ("price", names(vec![None, Some("1")])),
            (TRAN_CODE_COLUMN, codes(vec![Some("d"), Some("u")])),
        ]);
        assert_eq!(
            upload_error(&items(), WithDelete, vec![upsert]),
            format!("{missing} (row 2 has code u)")
        );
        let failing = [Err(Error::Invalid("read failed".into()))];
        let err = encode_upload(&t, Full, failing, Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "read failed");
    }

    #[test]
    fn upload_composite_keys() {
        let t = table(vec![
            key(col("a", DataType::Varchar, None, None)),
            key(col("b", DataType::Integer, None, None)),
        ]);
        let b = batch(vec![
            ("a", arc(StringArray::from(vec!["x", "x", "x:", "1:x"]))),
            ("b", arc(Int32Array::from(vec![1, 2, 1, 1]))),
        ]);
        assert_eq!(
            upload(&t, ImportPattern::Full, vec![b]).unwrap(),
            "a,b\nx,1\nx,2\nx:,1\n1:x,1\n"
        );
        let b = batch(vec![
            ("a", arc(StringArray::from(vec!["x", "y", "x"]))),
            ("b", arc(StringArray::from(vec!["1", "1", "1.0"]))),
        ]);
        assert_eq!(
            upload_error(&t, ImportPattern::Full, vec![b]),
            "table items, columns a, b, row 3: values \"x\", \"1\" repeat the primary key of row 1"
        );
        // Without a primary key nothing is a duplicate.
        let t = table(vec![col("a", DataType::Text, None, None)]);
        let b = batch(vec![("a", arc(StringArray::from(vec!["x", "x"])))]);
        assert_eq!(
            upload(&t, ImportPattern::Full, vec![b]).unwrap(),
            "a\nx\nx\n"
        );
    }

    #[test]
    fn import_patterns() {
        for pattern in [
            ImportPattern::Full,
            ImportPattern::IncrementalUpsertOnly,
            ImportPattern::IncrementalWithDelete,
        ] {
            assert_eq!(pattern.as_str().parse::<ImportPattern>().unwrap(), pattern);
            assert_eq!(pattern.to_string(), pattern.as_str());
        }
        assert_eq!(
            "incremental".parse::<ImportPattern>().unwrap(),
            ImportPattern::IncrementalUpsertOnly
        );
        assert_eq!(
            " FULL ".parse::<ImportPattern>().unwrap(),
            ImportPattern::Full
        );
        assert_eq!(
            "merge".parse::<ImportPattern>().unwrap_err().to_string(),
            "unknown import pattern \"merge\" (expected full, incremental_upsert_only, \
             incremental_with_delete or incremental)"
        );
        assert!(ImportPattern::IncrementalWithDelete.uses_tran_code());
        assert!(!ImportPattern::Full.uses_tran_code());
    }

    #[test]
    fn past_the_key_limit_the_first_repeat_is_found_on_disk_with_the_same_error() {
        let t = pair();
        let rows = |ids: Vec<i64>| {
            let names: Vec<Option<&str>> = ids.iter().map(|_| Some("n")).collect();
            vec![batch(vec![
                ("id", arc(Int64Array::from(ids))),
                ("name", arc(StringArray::from(names))),
            ])]
        };
        // Row 9 repeats row 4's key, row 11 row 2's: the first repeat is row 9.
        let repeated = vec![10, 20, 30, 40, 50, 60, 70, 80, 40, 90, 20, 100];
        let in_memory = encode_upload(
            &t,
            ImportPattern::Full,
            rows(repeated.clone()).into_iter().map(Ok),
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            in_memory,
            "table items, column id, row 9: value \"40\" repeats the primary key of row 4"
        );
        for limit in [1, 3, 8] {
            let spilled = encode_upload_with(
                &t,
                ImportPattern::Full,
                rows(repeated.clone()).into_iter().map(Ok),
                Vec::new(),
                limit,
            )
            .unwrap_err()
            .to_string();
            assert_eq!(spilled, in_memory, "limit {limit}");
        }
        // Without a repeat, a spilled check passes and the file is whole.
        let mut out = Vec::new();
        let summary = encode_upload_with(
            &t,
            ImportPattern::Full,
            rows((1..=50).collect()).into_iter().map(Ok),
            &mut out,
            3,
        )
        .unwrap();
        assert_eq!(summary.rows, 50);
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 51);
        assert_eq!(key_parts("2:ab3:c:d0:"), ["ab", "c:d", ""]);
    }

    #[test]
    fn seen_keys_tell_collisions_from_duplicates() {
        let mut seen = SeenKeys::default();
        assert_eq!(seen.insert("1:a", 1).unwrap(), None);
        assert_eq!(seen.insert("1:b", 2).unwrap(), None);
        assert_eq!(seen.insert("1:a", 3).unwrap(), Some(1));
        // Force a collision: a different key filed under the hash of "1:a".
        let hash = seen.hasher.hash_one("1:a");
        let start = seen.arena.len();
        seen.arena.push_str("1:z");
        seen.by_hash.insert(hash, (start, 3, 9));
        assert_eq!(seen.insert("1:a", 4).unwrap(), None);
        assert_eq!(seen.insert("1:a", 5).unwrap(), Some(4));
        let mut hasher = PrehashedKey::default();
        hasher.write_u64(42);
        assert_eq!(hasher.finish(), 42);
        hasher.write(&[1]);
        assert_ne!(hasher.finish(), 42);
    }
}
