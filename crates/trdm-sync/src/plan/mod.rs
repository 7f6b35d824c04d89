//! What a sync would change, computed before anything is written: the plan behind `--plan` and
//! `dry_run=True`, the mass-delete guard and the skipping of unchanged tables.
//!
//! Both directions join two sides by key with a hash table over 64-bit digests of the values. An upload's
//! plan bounds its memory: both files are first split by key hash into partitions on disk (a Grace hash
//! join), and one partition's index is in memory at a time, so a 10-million-record table costs what a
//! million-record one does; the few changes shown get their values from one more read. A sort-merge join
//! would bound memory too, but only after sorting both sides. [`upload`] compares CSV files by primary key,
//! [`download`] Arrow batches by `trdm_record_id`, its index of the target in memory.

mod download;
mod upload;

use serde::Serialize;

pub use download::{DownloadPlanSpec, plan_download};
pub use upload::{CurrentRecords, plan_against, plan_table};

/// How many changes a plan shows by default.
pub const SAMPLE_CHANGES: usize = 10;

/// What one table's sync would do: to the branch's current records for an upload, to the catalog table for
/// a download.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TablePlan {
    /// Records (rows of a download's target) before the sync.
    pub current: u64,
    /// Records the sync would create.
    pub inserted: u64,
    /// Records it would change (an upload: give a new version).
    pub updated: u64,
    /// Records it would delete (an upload: tombstone).
    pub deleted: u64,
    /// Records of the incoming side equal to the current ones (an upload makes no version of them).
    pub unchanged: u64,
    /// The first changes, in incoming order: inserts and updates, then deletes.
    pub changes: Vec<PlannedChange>,
    /// Columns of the definition the other side does not carry: an upload file's missing columns, or a
    /// download target's.
    pub missing_columns: Vec<String>,
}

impl TablePlan {
    /// Whether applying the sync would change anything.
    pub fn changes_anything(&self) -> bool {
        self.inserted + self.updated + self.deleted > 0
    }
}

/// One change of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    /// `insert`, `update` or `delete`.
    pub change: ChangeKind,
    /// The primary key's values, in the definition's column order (a download's also `trdm_record_id`),
    /// serialised as an object.
    #[serde(serialize_with = "as_object")]
    pub key: Vec<(String, Option<String>)>,
    /// For updates the columns that differ, old → new; for inserts every value (old is `None`).
    pub columns: Vec<ColumnChange>,
}

fn as_object<S: serde::Serializer>(
    pairs: &[(String, Option<String>)],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// The kind of a [`PlannedChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A new record.
    Insert,
    /// A new version of a record.
    Update,
    /// A tombstone.
    Delete,
}

/// One column of a [`PlannedChange`], as canonical text (`None` is NULL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnChange {
    /// The column.
    pub column: String,
    /// Its current value.
    pub old: Option<String>,
    /// The value the sync would write.
    pub new: Option<String>,
}

impl ColumnChange {
    /// Every value of an inserted record (`old` is `None`).
    fn inserted(names: &[String], values: Vec<Option<String>>) -> Vec<ColumnChange> {
        names
            .iter()
            .zip(values)
            .map(|(n, v)| ColumnChange {
                column: n.clone(),
                old: None,
                new: v,
            })
            .collect()
    }

    /// The columns whose value differs between `old` and `new`.
    fn differences(
        names: &[String],
        old: &[Option<String>],
        new: &[Option<String>],
    ) -> Vec<ColumnChange> {
        names
            .iter()
            .zip(old.iter().zip(new))
            .filter(|(_, (o, n))| o != n)
            .map(|(name, (o, n))| ColumnChange {
                column: name.clone(),
                old: o.clone(),
                new: n.clone(),
            })
            .collect()
    }
}
