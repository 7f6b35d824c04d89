//! The plan of an upload: the branch's current records (a full export, taken while the source is read)
//! against the very file the upload would send, joined by primary key. Values compare as TitanRDM compares
//! them: parsed by the column's type, in their canonical text.
//!
//! The current side is split on its own ([`CurrentRecords::read`]), so the engine does it while the source
//! is still being read and encoded; the upload file is then split the same way and each partition joined
//! in memory. Both passes digest a record through one reused buffer; only the few changes shown are read
//! again for their values.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

use trdm_format::value::{ColumnType, ParseOptions};
use trdm_format::{CsvReader, ImportPattern, Record, TRAN_CODE_COLUMN};

use super::{ChangeKind, ColumnChange, PlannedChange, TablePlan};
use crate::error::{Error, Result};
use crate::schema::TableDef;
use crate::spill::{Spill, read_partition};

/// A record of the current export, as the join keeps it.
struct Current {
    digest: u64,
    seen: bool,
}

/// The user columns of a file, by the definition's order: where each sits in the file.
struct Layout {
    types: Vec<ColumnType>,
    names: Vec<String>,
    /// Per definition column, its index in the file.
    at: Vec<Option<usize>>,
    /// Definition indexes of the primary key.
    key: Vec<usize>,
    tran: Option<usize>,
}

impl Layout {
    fn new(table: &TableDef, header: &Record) -> Layout {
        let names_in_file: Vec<String> = header.iter().map(|f| f.text.to_owned()).collect();
        let at = table
            .columns
            .iter()
            .map(|c| names_in_file.iter().position(|n| *n == c.name))
            .collect();
        Layout {
            types: table.columns.iter().map(|c| c.column_type()).collect(),
            names: table.columns.iter().map(|c| c.name.clone()).collect(),
            at,
            key: (0..table.columns.len())
                .filter(|&i| table.columns[i].is_primary_key)
                .collect(),
            tran: names_in_file.iter().position(|n| n == TRAN_CODE_COLUMN),
        }
    }

    /// The canonical text of definition column `i` in `record` (`None`: NULL or not in the file).
    fn value(&self, record: &Record, i: usize, what: &str, row: u64) -> Result<Option<String>> {
        let Some(field) = self.at[i].and_then(|at| record.get(at)) else {
            return Ok(None);
        };
        self.types[i]
            .canonicalize(field.text, field.quoted, &ParseOptions::default())
            .map_err(|e| {
                Error::Invalid(format!(
                    "{what}, row {row}, column {}: value {:?} {e}",
                    self.names[i], field.text
                ))
            })
    }

    fn values(&self, record: &Record, what: &str, row: u64) -> Result<Vec<Option<String>>> {
        (0..self.names.len())
            .map(|i| self.value(record, i, what, row))
            .collect()
    }

    /// The record's key (as [`key_of`](Self::key_of) its values) and the [`digest`] of its values, without
    /// keeping them: each value is written in canonical text into `buf` and hashed from there.
    fn key_and_digest(
        &self,
        record: &Record,
        what: &str,
        row: u64,
        buf: &mut String,
    ) -> Result<(String, u64)> {
        let mut key = String::new();
        let mut h = DefaultHasher::new();
        for i in 0..self.names.len() {
            buf.clear();
            let present = match self.at[i].and_then(|at| record.get(at)) {
                None => false,
                Some(field) => {
                    let value = self.types[i]
                        .parse(field.text, field.quoted, &ParseOptions::default())
                        .map_err(|e| {
                            Error::Invalid(format!(
                                "{what}, row {row}, column {}: value {:?} {e}",
                                self.names[i], field.text
                            ))
                        })?;
                    self.types[i].format(&value, buf)
                }
            };
            hash_value(&mut h, present.then_some(buf.as_str()));
            if let Some(n) = self.key.iter().position(|&k| k == i) {
                push_key_part(&mut key, n, present.then_some(buf.as_str()));
            }
        }
        Ok((key, h.finish()))
    }

    fn key_of(&self, values: &[Option<String>]) -> String {
        let mut key = String::new();
        for (n, &i) in self.key.iter().enumerate() {
            push_key_part(&mut key, n, values[i].as_deref());
        }
        key
    }

    fn key_values(&self, values: &[Option<String>]) -> Vec<(String, Option<String>)> {
        self.key
            .iter()
            .map(|&i| (self.names[i].clone(), values[i].clone()))
            .collect()
    }
}

/// Appends part `n` of a primary key (in the key's order) to `key`: parts apart by U+001F, a value after
/// `=`, NULL as U+0000, so no two keys share a text.
fn push_key_part(key: &mut String, n: usize, value: Option<&str>) {
    if n > 0 {
        key.push('\u{1f}');
    }
    match value {
        Some(v) => {
            key.push('=');
            key.push_str(v);
        }
        None => key.push('\u{0}'),
    }
}

fn hash_value(h: &mut DefaultHasher, value: Option<&str>) {
    match value {
        Some(text) => {
            h.write_u8(1);
            h.write_usize(text.len());
            h.write(text.as_bytes());
        }
        None => h.write_u8(0),
    }
}

#[cfg(test)]
fn digest(values: &[Option<String>]) -> u64 {
    let mut h = DefaultHasher::new();
    for v in values {
        hash_value(&mut h, v.as_deref());
    }
    h.finish()
}

/// Reads `path` as TitanRDM CSV, calling `each(layout, record, row)` for every record after the header;
/// returns the header's layout.
fn scan(
    path: &Path,
    what: &str,
    table: &TableDef,
    mut each: impl FnMut(&Layout, &Record, u64) -> Result<()>,
) -> Result<Layout> {
    let file = std::fs::File::open(path)?;
    let mut reader = CsvReader::new(std::io::BufReader::with_capacity(1 << 16, file));
    let mut record = Record::new();
    let invalid = |e: trdm_format::CsvError| Error::Invalid(format!("{what}: {e}"));
    if !reader.read_record(&mut record).map_err(invalid)? {
        return Err(Error::Invalid(format!("{what}: the file has no header")));
    }
    let layout = Layout::new(table, &record);
    let mut row = 0;
    while reader.read_record(&mut record).map_err(invalid)? {
        row += 1;
        each(&layout, &record, row)?;
    }
    Ok(layout)
}

/// How many records of each side the join aims to hold in memory at once: both files are split by key
/// hash into partitions of about this many records (sized from the export's length), spilled to disk,
/// and joined one partition at a time.
const RECORDS_PER_PARTITION: u64 = 131_072;
/// The fewest bytes a record takes in an export, to size the partitions from its length (more partitions
/// than needed only cost small files).
const MIN_RECORD_BYTES: u64 = 24;
/// At most this many partitions (open files per side).
const MAX_PARTITIONS: u64 = 512;

/// The `limit` items with the smallest rows, in row order.
struct FirstRows<T> {
    limit: usize,
    heap: BinaryHeap<(u64, T)>,
}

impl<T: Ord> FirstRows<T> {
    fn new(limit: usize) -> Self {
        FirstRows {
            limit,
            heap: BinaryHeap::new(),
        }
    }

    fn offer(&mut self, row: u64, item: T) {
        if self.limit == 0 {
            return;
        }
        if self.heap.len() < self.limit {
            self.heap.push((row, item));
        } else if self.heap.peek().is_some_and(|(last, _)| row < *last) {
            self.heap.pop();
            self.heap.push((row, item));
        }
    }

    fn into_sorted(self) -> Vec<(u64, T)> {
        self.heap.into_sorted_vec()
    }
}

/// The branch's current records of a table, split by key into partitions on disk: pass 1 of a plan,
/// made from the full export at `path` while the upload file is still being written.
pub struct CurrentRecords {
    path: PathBuf,
    dir: tempfile::TempDir,
    partitions: Vec<PathBuf>,
}

impl CurrentRecords {
    /// Reads the full export at `path` of `table`; the partitions go into a directory beside it.
    pub fn read(table: &TableDef, path: &Path) -> Result<CurrentRecords> {
        let bytes = std::fs::metadata(path)?.len();
        let partitions =
            (bytes / (RECORDS_PER_PARTITION * MIN_RECORD_BYTES)).clamp(1, MAX_PARTITIONS);
        CurrentRecords::read_into(table, path, partitions as usize)
    }

    /// [`read`](Self::read) into exactly `partitions` partitions.
    fn read_into(table: &TableDef, path: &Path, partitions: usize) -> Result<CurrentRecords> {
        let what = format!("the current export of {}", table.name);
        let dir = tempfile::Builder::new()
            .prefix(".plan-")
            .tempdir_in(path.parent().unwrap_or(Path::new(".")))?;
        let mut spill = Spill::create(dir.path(), "current", partitions)?;
        let mut buf = String::new();
        scan(path, &what, table, |l, record, row| {
            let (key, digest) = l.key_and_digest(record, &what, row, &mut buf)?;
            spill.push(&key, row, digest, false)
        })?;
        Ok(CurrentRecords {
            path: path.to_owned(),
            partitions: spill.finish()?,
            dir,
        })
    }
}

/// The plan of uploading `upload` (the file the engine would send, pattern `pattern`) into a table whose
/// current records are the full export `current`, showing at most `samples` changes.
pub fn plan_table(
    table: &TableDef,
    pattern: ImportPattern,
    allow_manual_rows: bool,
    current: &Path,
    upload: &Path,
    samples: usize,
) -> Result<TablePlan> {
    let current = CurrentRecords::read(table, current)?;
    plan_against(table, pattern, allow_manual_rows, current, upload, samples)
}

/// [`plan_table`] with pass 1 done: the upload file is split the same way (pass 2), each partition of it
/// probes the same partition of the current records (the join), and the few changes shown get their
/// values from one more read of each file (pass 3).
pub fn plan_against(
    table: &TableDef,
    pattern: ImportPattern,
    allow_manual_rows: bool,
    current: CurrentRecords,
    upload: &Path,
    samples: usize,
) -> Result<TablePlan> {
    let export_what = format!("the current export of {}", table.name);
    let upload_what = format!("the upload file of {}", table.name);
    let mut plan = TablePlan::default();
    let deletes_absent = pattern == ImportPattern::Full && !allow_manual_rows;

    // Pass 2: the upload file, split by key like the current records.
    let mut spill = Spill::create(current.dir.path(), "upload", current.partitions.len())?;
    let mut buf = String::new();
    let layout = scan(upload, &upload_what, table, |l, record, row| {
        let (key, digest) = l.key_and_digest(record, &upload_what, row, &mut buf)?;
        let delete = l
            .tran
            .and_then(|t| record.get(t))
            .is_some_and(|f| f.text.trim().eq_ignore_ascii_case("d"));
        spill.push(&key, row, digest, delete)
    })?;
    let upload_partitions = spill.finish()?;
    plan.missing_columns = (0..layout.names.len())
        .filter(|&i| layout.at[i].is_none())
        .map(|i| layout.names[i].clone())
        .collect();

    // The join, a partition at a time; the first changes by upload row, the first absent records by
    // export row.
    let mut shown: FirstRows<(u8, String)> = FirstRows::new(samples);
    let mut absent: FirstRows<String> = FirstRows::new(if deletes_absent { samples } else { 0 });
    for (current_part, upload_part) in current.partitions.iter().zip(&upload_partitions) {
        let mut records: HashMap<Box<str>, (Current, u64)> = HashMap::new();
        read_partition(current_part, |key, row, digest, _| {
            records.insert(
                key.into_boxed_str(),
                (
                    Current {
                        digest,
                        seen: false,
                    },
                    row,
                ),
            );
        })?;
        plan.current += records.len() as u64;
        read_partition(upload_part, |key, row, digest, delete| {
            let found = records.get_mut(key.as_str()).map(|(c, _)| c);
            if delete {
                if let Some(c) = found
                    && !c.seen
                {
                    c.seen = true;
                    plan.deleted += 1;
                    shown.offer(row, (DELETE, key));
                }
                return;
            }
            match found {
                None => {
                    plan.inserted += 1;
                    shown.offer(row, (INSERT, key));
                }
                Some(c) => {
                    c.seen = true;
                    if c.digest == digest {
                        plan.unchanged += 1;
                    } else {
                        plan.updated += 1;
                        shown.offer(row, (UPDATE, key));
                    }
                }
            }
        })?;
        if deletes_absent {
            for (key, (c, row)) in records {
                if !c.seen {
                    plan.deleted += 1;
                    absent.offer(row, key.into_string());
                }
            }
        }
    }

    // Pass 3 (only when something is to be shown): the values of the changes shown, from the upload file,
    // then the old values of the updates and the keys of the first absent records, from the export.
    let shown = shown.into_sorted();
    let mut absent = absent.into_sorted();
    absent.truncate(if deletes_absent {
        samples.saturating_sub(shown.len())
    } else {
        0
    });
    if shown.is_empty() && absent.is_empty() {
        return Ok(plan);
    }
    let at_row: HashMap<u64, usize> = shown
        .iter()
        .enumerate()
        .map(|(i, (row, _))| (*row, i))
        .collect();
    let mut changes: Vec<Option<PlannedChange>> = vec![None; shown.len()];
    let mut updates: Vec<(String, usize, Vec<Option<String>>)> = Vec::new(); // key, change index, new values
    if !shown.is_empty() {
        scan(upload, &upload_what, table, |l, record, row| {
            let Some(&i) = at_row.get(&row) else {
                return Ok(());
            };
            let values = l.values(record, &upload_what, row)?;
            let (kind, key) = &shown[i].1;
            let key_values = l.key_values(&values);
            changes[i] = Some(match *kind {
                INSERT => PlannedChange {
                    change: ChangeKind::Insert,
                    key: key_values,
                    columns: ColumnChange::inserted(&l.names, values),
                },
                UPDATE => {
                    updates.push((key.clone(), i, values));
                    PlannedChange {
                        change: ChangeKind::Update,
                        key: key_values,
                        columns: Vec::new(),
                    }
                }
                _ => PlannedChange {
                    change: ChangeKind::Delete,
                    key: key_values,
                    columns: Vec::new(),
                },
            });
            Ok(())
        })?;
    }
    let wanted: HashSet<&str> = updates.iter().map(|(k, _, _)| k.as_str()).collect();
    let absent_rows: HashMap<u64, usize> = absent
        .iter()
        .enumerate()
        .map(|(i, (row, _))| (*row, i))
        .collect();
    let mut old: HashMap<String, Vec<Option<String>>> = HashMap::new();
    let mut deletes: Vec<Option<PlannedChange>> = vec![None; absent.len()];
    if !wanted.is_empty() || !absent.is_empty() {
        scan(&current.path, &export_what, table, |l, record, row| {
            if let Some(&i) = absent_rows.get(&row) {
                let mut values = vec![None; l.names.len()];
                for &k in &l.key {
                    values[k] = l.value(record, k, &export_what, row)?;
                }
                deletes[i] = Some(PlannedChange {
                    change: ChangeKind::Delete,
                    key: l.key_values(&values),
                    columns: Vec::new(),
                });
            } else if !wanted.is_empty() {
                // Only the key's values are parsed for the records not shown, which are nearly all of them.
                let mut values = vec![None; l.names.len()];
                for &k in &l.key {
                    values[k] = l.value(record, k, &export_what, row)?;
                }
                let key = l.key_of(&values);
                if wanted.contains(key.as_str()) {
                    old.insert(key, l.values(record, &export_what, row)?);
                }
            }
            Ok(())
        })?;
    }
    for (key, index, new) in updates {
        if let (Some(before), Some(change)) = (old.get(&key), changes[index].as_mut()) {
            change.columns = ColumnChange::differences(&layout.names, before, &new);
        }
    }
    plan.changes = changes.into_iter().chain(deletes).flatten().collect();
    Ok(plan)
}

/// The kinds of change in [`FirstRows`], ordered as they sort (any order would do).
const INSERT: u8 = 0;
const UPDATE: u8 = 1;
const DELETE: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ColumnDef;
    use trdm_format::value::DataType;

    fn table() -> TableDef {
        let column = |name: &str, data_type, pk| ColumnDef {
            name: name.into(),
            data_type,
            length: if data_type == DataType::Decimal {
                Some(8)
            } else {
                None
            },
            scale: (data_type == DataType::Decimal).then_some(2),
            is_primary_key: pk,
            is_required: pk,
            description: None,
        };
        TableDef {
            name: "Site".into(),
            database_table_name: "sites".into(),
            columns: vec![
                column("code", DataType::Varchar, true),
                column("name", DataType::Varchar, false),
                column("budget", DataType::Decimal, false),
            ],
        }
    }

    fn files(
        current: &str,
        upload: &str,
    ) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("current.csv");
        let u = dir.path().join("upload.csv");
        std::fs::write(&c, current).unwrap();
        std::fs::write(&u, upload).unwrap();
        (dir, c, u)
    }

    const CURRENT: &str = "code,name,budget,trdm_sk,trdm_record_id\n\
        A,Alpha,1.50,1,1\nB,Beta,,2,2\nC,Gamma,3.00,3,3\nD,Delta,4.00,4,4\n";

    #[test]
    fn a_full_upload_plan_counts_inserts_updates_deletes_and_values_equal_by_type() {
        // A: 1.5 is 1.50 in a decimal(8,2): unchanged. B: renamed. E: new. C and D: absent, deleted.
        let (_d, c, u) = files(
            CURRENT,
            "code,name,budget\nA,Alpha,1.5\nB,Bee,\nE,Epsilon,5\n",
        );
        let plan = plan_table(&table(), ImportPattern::Full, false, &c, &u, 10).unwrap();
        assert_eq!(
            (
                plan.current,
                plan.inserted,
                plan.updated,
                plan.deleted,
                plan.unchanged
            ),
            (4, 1, 1, 2, 1)
        );
        let update = plan
            .changes
            .iter()
            .find(|c| c.change == ChangeKind::Update)
            .unwrap();
        assert_eq!(update.key, vec![("code".to_owned(), Some("B".to_owned()))]);
        assert_eq!(
            update.columns,
            vec![ColumnChange {
                column: "name".into(),
                old: Some("Beta".into()),
                new: Some("Bee".into())
            }]
        );
        let deleted: Vec<_> = plan
            .changes
            .iter()
            .filter(|c| c.change == ChangeKind::Delete)
            .map(|c| c.key[0].1.clone().unwrap())
            .collect();
        assert_eq!(deleted, ["C", "D"]);
        assert!(plan.changes_anything());
    }

    #[test]
    fn an_upsert_deletes_nothing_and_a_delete_coded_row_deletes_only_what_exists() {
        let (_d, c, u) = files(CURRENT, "code,name,budget\nA,Alpha,1.50\n");
        let plan = plan_table(
            &table(),
            ImportPattern::IncrementalUpsertOnly,
            false,
            &c,
            &u,
            10,
        )
        .unwrap();
        assert_eq!((plan.unchanged, plan.deleted), (1, 0));
        assert!(!plan.changes_anything());

        let (_d, c, u) = files(
            CURRENT,
            "code,name,budget,trdm_tran_code\nA,,,d\nZ,,,d\nB,Beta,,u\n",
        );
        let plan = plan_table(
            &table(),
            ImportPattern::IncrementalWithDelete,
            false,
            &c,
            &u,
            10,
        )
        .unwrap();
        assert_eq!((plan.deleted, plan.unchanged, plan.inserted), (1, 1, 0));
    }

    #[test]
    fn a_record_digested_in_place_keys_and_digests_as_its_canonical_values() {
        let table = table();
        let record_of = |fields: [&str; 4]| {
            let mut record = Record::new();
            for f in fields {
                record.push(f, false);
            }
            record
        };
        let header = record_of(["budget", "code", "name", "extra"]);
        let layout = Layout::new(&table, &header);
        let mut buf = String::from("left over");
        for fields in [["1.5", " A ", "Alpha", "x"], ["", "B", "", "y"]] {
            let record = record_of(fields);
            let values = layout.values(&record, "test", 1).unwrap();
            let got = layout.key_and_digest(&record, "test", 1, &mut buf).unwrap();
            assert_eq!(got, (layout.key_of(&values), digest(&values)), "{fields:?}");
        }
        assert_ne!(
            digest(&[Some(String::new())]),
            digest(&[None]),
            "'' is not NULL"
        );
    }

    #[test]
    fn a_plan_is_the_same_whatever_the_number_of_partitions() {
        // 400 current records; the upload renames some, drops some, adds some, repeats keys and codes
        // deletes, in a scrambled order.
        let mut current = String::from("code,name,budget,trdm_sk,trdm_record_id\n");
        for i in 0..400 {
            current.push_str(&format!("K{i:03},Name {i},{}.00,{i},{i}\n", i % 7));
        }
        let mut upload = String::from("code,name,budget,trdm_tran_code\n");
        for i in (0..460).map(|i| (i * 37) % 460) {
            let budget = i % 7;
            match i % 9 {
                0 => {} // absent
                1 => upload.push_str(&format!("K{i:03},Renamed {i},,\n")),
                2 => upload.push_str(&format!("K{i:03},,,d\n")),
                3 => upload.push_str(&format!("K{i:03},Name {i},{budget}.0,\nK{i:03},Again,,\n")),
                _ => upload.push_str(&format!("K{i:03},Name {i},{budget}.00,\n")),
            }
        }
        let (_d, c, u) = files(&current, &upload);
        for pattern in [ImportPattern::Full, ImportPattern::IncrementalWithDelete] {
            let plan_in = |partitions: usize| {
                let index = CurrentRecords::read_into(&table(), &c, partitions).unwrap();
                plan_against(&table(), pattern, false, index, &u, 10).unwrap()
            };
            let one = plan_in(1);
            assert!(one.inserted > 0 && one.updated > 0 && one.deleted > 0 && one.unchanged > 0);
            assert_eq!(one.changes.len(), 10);
            for partitions in [2, 7, 64] {
                assert_eq!(
                    plan_in(partitions),
                    one,
                    "{pattern:?}, {partitions} partitions"
                );
            }
        }
    }

    #[test]
    fn a_table_with_manual_rows_keeps_absent_records_and_samples_are_bounded() {
        let (_d, c, u) = files(CURRENT, "code,name,budget\nX,New,\nY,New,\n");
        let plan = plan_table(&table(), ImportPattern::Full, true, &c, &u, 1).unwrap();
        assert_eq!((plan.inserted, plan.deleted), (2, 0));
        assert_eq!(plan.changes.len(), 1);
    }
}
