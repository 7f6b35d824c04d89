//! The plan of an upload: the branch's current records (a full export, taken while the source is read)
//! against the very file the upload would send, joined by primary key. Values compare as TitanRDM compares
//! them: parsed by the column's type, in their canonical text.
//!
//! The current side is indexed on its own ([`CurrentRecords::read`]), so the engine builds the index while
//! the source is still being read and encoded; the upload file then only probes it. Both passes digest a
//! record through one reused buffer and keep the values of the few changes they show.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hasher};
use std::path::Path;

use trdm_format::value::{ColumnType, ParseOptions};
use trdm_format::{CsvReader, ImportPattern, Record, TRAN_CODE_COLUMN};

use super::{ChangeKind, ColumnChange, PlannedChange, TablePlan};
use crate::error::{Error, Result};
use crate::schema::TableDef;

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

/// The branch's current records of a table, by primary key: pass 1 of a plan, built from the full export
/// at `path` while the upload file is still being made.
pub struct CurrentRecords {
    path: std::path::PathBuf,
    records: HashMap<Box<str>, Current>,
}

impl CurrentRecords {
    /// Reads the full export at `path` of `table` into the index.
    pub fn read(table: &TableDef, path: &Path) -> Result<CurrentRecords> {
        let what = format!("the current export of {}", table.name);
        let mut records: HashMap<Box<str>, Current> = HashMap::new();
        let mut buf = String::new();
        scan(path, &what, table, |l, record, row| {
            let (key, digest) = l.key_and_digest(record, &what, row, &mut buf)?;
            records.insert(
                key.into_boxed_str(),
                Current {
                    digest,
                    seen: false,
                },
            );
            Ok(())
        })?;
        Ok(CurrentRecords {
            path: path.to_owned(),
            records,
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

/// [`plan_table`] with pass 1 done: the upload file probes `current`.
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
    let CurrentRecords {
        path: current,
        mut records,
    } = current;
    let current = current.as_path();
    plan.current = records.len() as u64;

    // Pass 2: the upload file probes them.
    let mut updates: Vec<(String, usize, Vec<Option<String>>)> = Vec::new(); // key, change index, new values
    let mut buf = String::new();
    let layout = scan(upload, &upload_what, table, |l, record, row| {
        let (key, digest) = l.key_and_digest(record, &upload_what, row, &mut buf)?;
        let delete = l
            .tran
            .and_then(|t| record.get(t))
            .is_some_and(|f| f.text.trim().eq_ignore_ascii_case("d"));
        let found = records.get_mut(key.as_str());
        let sample = plan.changes.len() < samples;
        if delete {
            if let Some(c) = found
                && !c.seen
            {
                c.seen = true;
                plan.deleted += 1;
                if sample {
                    let values = l.values(record, &upload_what, row)?;
                    plan.changes.push(PlannedChange {
                        change: ChangeKind::Delete,
                        key: l.key_values(&values),
                        columns: Vec::new(),
                    });
                }
            }
            return Ok(());
        }
        match found {
            None => {
                plan.inserted += 1;
                if sample {
                    let values = l.values(record, &upload_what, row)?;
                    plan.changes.push(PlannedChange {
                        change: ChangeKind::Insert,
                        key: l.key_values(&values),
                        columns: ColumnChange::inserted(&l.names, values),
                    });
                }
            }
            Some(c) => {
                c.seen = true;
                if c.digest == digest {
                    plan.unchanged += 1;
                } else {
                    plan.updated += 1;
                    if sample {
                        let values = l.values(record, &upload_what, row)?;
                        plan.changes.push(PlannedChange {
                            change: ChangeKind::Update,
                            key: l.key_values(&values),
                            columns: Vec::new(),
                        });
                        updates.push((key, plan.changes.len() - 1, values));
                    }
                }
            }
        }
        Ok(())
    })?;
    plan.missing_columns = (0..layout.names.len())
        .filter(|&i| layout.at[i].is_none())
        .map(|i| layout.names[i].clone())
        .collect();
    let deletes_absent = pattern == ImportPattern::Full && !allow_manual_rows;
    if deletes_absent {
        plan.deleted += records.values().filter(|c| !c.seen).count() as u64;
    }

    // Pass 3 (only when something is to be shown): old values of the sampled updates, and the first
    // records a full upload would delete, in the export's order.
    let mut delete_room = if deletes_absent {
        samples.saturating_sub(plan.changes.len())
    } else {
        0
    };
    if updates.is_empty() && (delete_room == 0 || plan.deleted == 0) {
        return Ok(plan);
    }
    let wanted: HashSet<&str> = updates.iter().map(|(k, _, _)| k.as_str()).collect();
    let mut old: HashMap<String, Vec<Option<String>>> = HashMap::new();
    let mut deletes = Vec::new();
    scan(current, &export_what, table, |l, record, row| {
        // Only the key's values are parsed for the records not shown, which are nearly all of them.
        let mut values = vec![None; l.names.len()];
        for &i in &l.key {
            values[i] = l.value(record, i, &export_what, row)?;
        }
        let key = l.key_of(&values);
        if wanted.contains(key.as_str()) {
            old.insert(key, l.values(record, &export_what, row)?);
        } else if delete_room > 0 && records.get(key.as_str()).is_some_and(|c| !c.seen) {
            delete_room -= 1;
            deletes.push(PlannedChange {
                change: ChangeKind::Delete,
                key: l.key_values(&values),
                columns: Vec::new(),
            });
        }
        Ok(())
    })?;
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    for (key, index, new) in updates {
        if let Some(before) = old.get(&key) {
            plan.changes[index].columns = ColumnChange::differences(&names, before, &new);
        }
    }
    plan.changes.extend(deletes);
    Ok(plan)
}

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
    fn a_table_with_manual_rows_keeps_absent_records_and_samples_are_bounded() {
        let (_d, c, u) = files(CURRENT, "code,name,budget\nX,New,\nY,New,\n");
        let plan = plan_table(&table(), ImportPattern::Full, true, &c, &u, 1).unwrap();
        assert_eq!((plan.inserted, plan.deleted), (2, 0));
        assert_eq!(plan.changes.len(), 1);
    }
}
