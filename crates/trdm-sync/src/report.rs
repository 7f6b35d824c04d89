//! What a sync did, table by table, and how progress is told while it runs.
//!
//! [`TableResult`] keeps the incumbent's keys and status strings (`success`, `skipped (no source data)`,
//! `skipped (empty)`, `error: …`, `error (write): …`) so code written against the incumbent reads our results
//! unchanged, and adds the server's counts, bytes, duration and ids. Its one serialised shape (serde) is what
//! the CLI's `--output json` prints and what Python's result dicts hold. The library never prints: progress
//! goes to a [`Reporter`] (the CLI draws bars with it) and to `tracing`.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::plan::TablePlan;

/// How one table ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableStatus {
    /// Moved completely.
    Success,
    /// Upload: the source table does not exist.
    SkippedNoSourceData,
    /// Upload: the source table has no rows.
    SkippedEmpty,
    /// Upload: the plan found nothing to change, so nothing was sent (no import table, no versions).
    SkippedUnchanged,
    /// Upload: only planned (`--plan`); [`TableResult::plan`] says what the upload would do.
    Planned,
    /// Failed before or while talking to TitanRDM; [`TableResult::applied`] says whether the change took
    /// effect all the same (it can be unknown).
    Error(String),
    /// Download: TitanRDM delivered the data but writing it to the catalog failed.
    WriteError(String),
}

impl TableStatus {
    /// The incumbent's status string.
    pub fn as_incumbent_str(&self) -> String {
        match self {
            TableStatus::Success => "success".into(),
            TableStatus::SkippedNoSourceData => "skipped (no source data)".into(),
            TableStatus::SkippedEmpty => "skipped (empty)".into(),
            TableStatus::SkippedUnchanged => "skipped (unchanged)".into(),
            TableStatus::Planned => "planned".into(),
            TableStatus::Error(m) => format!("error: {m}"),
            TableStatus::WriteError(m) => format!("error (write): {m}"),
        }
    }

    /// Whether this counts as a failure for the exit code.
    pub fn is_failure(&self) -> bool {
        matches!(self, TableStatus::Error(_) | TableStatus::WriteError(_))
    }
}

/// The outcome of one table of a sync.
#[derive(Debug, Clone, PartialEq)]
pub struct TableResult {
    /// The domain's name (`Clinics`).
    pub domain: String,
    /// The table's `database_table_name` (`sites`).
    pub table: String,
    /// The table's display name (`Site`).
    pub display_name: String,
    /// The catalog table, `catalog.schema.abbr_table`.
    pub target: String,
    /// Rows moved (0 unless successful).
    pub rows: u64,
    /// How it ended.
    pub status: TableStatus,
    /// Records TitanRDM inserted (uploads).
    pub inserted: Option<i64>,
    /// Records TitanRDM versioned (uploads).
    pub updated: Option<i64>,
    /// Records TitanRDM tombstoned (uploads).
    pub deleted: Option<i64>,
    /// Bytes transferred.
    pub bytes: u64,
    /// Wall time spent on this table.
    pub duration: Duration,
    /// The export (downloads).
    pub export_id: Option<i64>,
    /// The import batch (uploads).
    pub import_id: Option<i64>,
    /// The import table (uploads).
    pub import_table_id: Option<i64>,
    /// The high-water mark stored with the target after a download.
    pub high_water_mark: Option<String>,
    /// Whether the change took effect: the target was written (downloads), TitanRDM applied the file
    /// (uploads). `None` when it cannot be known, e.g. the wait for TitanRDM's answer timed out.
    pub applied: Option<bool>,
    /// Something the user should know about how the table was synced, e.g. why an incremental download
    /// replaced the table in full.
    pub note: Option<String>,
    /// Uploads: what the upload would change, computed before anything was sent (see [`crate::plan`]).
    pub plan: Option<TablePlan>,
}

impl TableResult {
    pub(crate) fn new(domain: &str, table: &str, display_name: &str, target: String) -> Self {
        TableResult {
            domain: domain.to_owned(),
            table: table.to_owned(),
            display_name: display_name.to_owned(),
            target,
            rows: 0,
            status: TableStatus::Success,
            inserted: None,
            updated: None,
            deleted: None,
            bytes: 0,
            duration: Duration::ZERO,
            export_id: None,
            import_id: None,
            import_table_id: None,
            high_water_mark: None,
            applied: Some(false),
            note: None,
            plan: None,
        }
    }
}

/// The one serialised shape of a result (README, "--output json"): the incumbent's keys (`table`, `rows`,
/// `status` as its strings) first, then ours; `duration` as `duration_secs`, and `failed` derived from the
/// status.
#[derive(Serialize)]
struct TableResultShape<'a> {
    domain: &'a str,
    table: &'a str,
    display_name: &'a str,
    target: &'a str,
    rows: u64,
    status: String,
    failed: bool,
    inserted: Option<i64>,
    updated: Option<i64>,
    deleted: Option<i64>,
    bytes: u64,
    duration_secs: f64,
    export_id: Option<i64>,
    import_id: Option<i64>,
    import_table_id: Option<i64>,
    high_water_mark: Option<&'a str>,
    applied: Option<bool>,
    note: Option<&'a str>,
    plan: Option<&'a TablePlan>,
}

impl Serialize for TableResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TableResultShape {
            domain: &self.domain,
            table: &self.table,
            display_name: &self.display_name,
            target: &self.target,
            rows: self.rows,
            status: self.status.as_incumbent_str(),
            failed: self.status.is_failure(),
            inserted: self.inserted,
            updated: self.updated,
            deleted: self.deleted,
            bytes: self.bytes,
            duration_secs: self.duration.as_secs_f64(),
            export_id: self.export_id,
            import_id: self.import_id,
            import_table_id: self.import_table_id,
            high_water_mark: self.high_water_mark.as_deref(),
            applied: self.applied,
            note: self.note.as_deref(),
            plan: self.plan.as_ref(),
        }
        .serialize(serializer)
    }
}

/// Steps of one table's sync, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for TitanRDM to prepare an export.
    Exporting,
    /// Streaming data (rows so far in [`Reporter::progress`]).
    Transferring,
    /// Reading and validating the source table.
    Validating,
    /// Waiting for TitanRDM to apply an import.
    Importing,
}

/// Receives progress. Implementations must be cheap; they are called from the engine's tasks.
pub trait Reporter: Send + Sync {
    /// A table's work begins.
    fn table_started(&self, _target: &str) {}
    /// A table enters a phase.
    fn phase(&self, _target: &str, _phase: Phase) {}
    /// Rows moved so far for a table.
    fn progress(&self, _target: &str, _rows: u64) {}
    /// A table finished.
    fn table_finished(&self, _result: &TableResult) {}
}

/// Discards progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReporter;

impl Reporter for NoReporter {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_serialises_to_the_documented_keys_with_the_incumbent_status() {
        let mut r = TableResult::new("Clinics", "sites", "Site", "dev.rdmin.clin_sites".into());
        r.status = TableStatus::WriteError("disk full".into());
        r.duration = Duration::from_millis(1500);
        let value = serde_json::to_value(&r).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "domain",
            "table",
            "display_name",
            "target",
            "rows",
            "status",
            "failed",
            "inserted",
            "updated",
            "deleted",
            "bytes",
            "duration_secs",
            "export_id",
            "import_id",
            "import_table_id",
            "high_water_mark",
            "applied",
            "note",
            "plan",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(value["status"], "error (write): disk full");
        assert_eq!(value["failed"], true);
        assert_eq!(value["duration_secs"], 1.5);
        assert_eq!(value["display_name"], "Site");
    }
}
