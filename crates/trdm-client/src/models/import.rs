//! Imports and import tables (protocol B §4.8, §4.9, §5.2, §5.3, §7.2).

use serde::{Deserialize, Serialize};
pub use trdm_format::ImportPattern;

use super::{Ref, null_default, opt_key, opt_pattern, opt_pattern_name, pattern_name, string_enum};
use crate::redact::SafeUrl;

string_enum! {
    /// Where an import batch is: `created` → `processing` → `completed` | `completed_with_errors` | `failed`.
    ImportStatus {
        /// Open for table uploads.
        Created = "created",
        /// `complete` received; some tables still running.
        Processing = "processing",
        /// Every table completed.
        Completed = "completed",
        /// Some tables completed, some failed.
        CompletedWithErrors = "completed_with_errors",
        /// Every table failed, or the batch was empty.
        Failed = "failed",
    }
}

impl ImportStatus {
    /// `completed`, `completed_with_errors` or `failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ImportStatus::Completed | ImportStatus::CompletedWithErrors | ImportStatus::Failed
        )
    }
}

string_enum! {
    /// Where one table file is: `created` → `uploaded` → `processing` → `completed` | `failed`.
    ImportTableStatus {
        /// Presigned URL issued; no file announced yet.
        Created = "created",
        /// `upload_complete` received.
        Uploaded = "uploaded",
        /// Being validated and applied.
        Processing = "processing",
        /// Applied; counts are final.
        Completed = "completed",
        /// Nothing applied; `message` says why.
        Failed = "failed",
    }
}

impl ImportTableStatus {
    /// `completed` or `failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ImportTableStatus::Completed | ImportTableStatus::Failed
        )
    }
}

/// A new import batch. Build with [`ImportRequest::new`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ImportRequest {
    /// Target branch.
    pub branch_id: i64,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Caller's tracking code; generated when absent (see the crate docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_code: Option<String>,
}

impl ImportRequest {
    /// An import batch on `branch_id`.
    pub fn new(branch_id: i64) -> Self {
        ImportRequest {
            branch_id,
            description: None,
            correlation_code: None,
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the correlation code.
    pub fn with_correlation_code(mut self, code: impl Into<String>) -> Self {
        self.correlation_code = Some(code.into());
        self
    }
}

/// A new table file in an import batch. Build with [`ImportTableRequest::new`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ImportTableRequest {
    /// The batch.
    pub import_id: i64,
    /// The target table's key.
    pub table_definition_key: String,
    /// The import mapping's key.
    pub import_mapping_key: String,
    /// How the file is applied (sent by its API name).
    #[serde(serialize_with = "pattern_name")]
    pub pattern: ImportPattern,
    /// Caller's tracking code; generated when absent (see the crate docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_code: Option<String>,
}

impl ImportTableRequest {
    /// A file for table `table_definition_key`, read through mapping `import_mapping_key`.
    pub fn new(
        import_id: i64,
        table_definition_key: impl Into<String>,
        import_mapping_key: impl Into<String>,
        pattern: ImportPattern,
    ) -> Self {
        ImportTableRequest {
            import_id,
            table_definition_key: table_definition_key.into(),
            import_mapping_key: import_mapping_key.into(),
            pattern,
            correlation_code: None,
        }
    }

    /// Sets the correlation code.
    pub fn with_correlation_code(mut self, code: impl Into<String>) -> Self {
        self.correlation_code = Some(code.into());
        self
    }
}

/// An import batch as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Import {
    /// Import id.
    pub id: i64,
    /// Status.
    pub status: ImportStatus,
    /// Branch id.
    #[serde(default)]
    pub branch_id: Option<i64>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Correlation code.
    #[serde(default)]
    pub correlation_code: Option<String>,
    /// Completion message or failure reason.
    #[serde(default)]
    pub message: Option<String>,
    /// ISO 8601 creation time (`created_date`, the incumbent SDK's name).
    #[serde(default)]
    pub created_date: Option<String>,
    /// ISO 8601 creation time (`created_at`, the docs' name).
    #[serde(default)]
    pub created_at: Option<String>,
    /// ISO 8601 time `complete` was received.
    #[serde(default)]
    pub completed_date: Option<String>,
    /// ISO 8601 time the last table settled.
    #[serde(default)]
    pub finished_date: Option<String>,
    /// Total bytes uploaded.
    #[serde(default)]
    pub file_size: Option<i64>,
    /// Records inserted, over all tables.
    #[serde(default)]
    pub insert_row_count: Option<i64>,
    /// Records updated, over all tables.
    #[serde(default)]
    pub update_row_count: Option<i64>,
    /// Records tombstoned, over all tables.
    #[serde(default)]
    pub delete_row_count: Option<i64>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration_secs: Option<f64>,
    /// Number of table files.
    #[serde(default)]
    pub table_count: Option<i64>,
}

/// One table file of an import: the upload slot and, once processed, its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ImportTableWire")]
#[non_exhaustive]
pub struct ImportTable {
    /// Import table id.
    pub id: i64,
    /// The batch.
    pub import_id: Option<i64>,
    /// Status.
    pub status: ImportTableStatus,
    /// Failure reason (naming column, row and value for validation failures).
    pub message: Option<String>,
    /// Pattern; `None` when the server sent none, or a name this client does not know.
    #[serde(serialize_with = "opt_pattern_name")]
    pub pattern: Option<ImportPattern>,
    /// Correlation code.
    pub correlation_code: Option<String>,
    /// Target table's key (from `deployed_table_definition.key` or `table_definition_key`).
    pub table_definition_key: Option<String>,
    /// Target table's display name.
    pub table_definition_name: Option<String>,
    /// The import mapping's key.
    pub import_mapping_key: Option<String>,
    /// Presigned `PUT` URL for the file (prints redacted).
    pub signed_s3_url: Option<SafeUrl>,
    /// Object key of the file.
    pub s3_key: Option<String>,
    /// ISO 8601 creation time (`created_date`, or `created_at`).
    pub created_date: Option<String>,
    /// Bytes received.
    pub file_size: Option<i64>,
    /// Records inserted.
    pub insert_row_count: Option<i64>,
    /// Records updated (a new version each).
    pub update_row_count: Option<i64>,
    /// Records tombstoned.
    pub delete_row_count: Option<i64>,
    /// Processing time in seconds.
    pub duration_secs: Option<f64>,
    /// ISO 8601 start of processing.
    pub start_datetime: Option<String>,
    /// ISO 8601 end of processing.
    pub end_datetime: Option<String>,
    /// Free-form action log entries.
    pub actions: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct ImportTableWire {
    id: i64,
    #[serde(default)]
    import_id: Option<i64>,
    #[serde(default = "unknown_table_status")]
    status: ImportTableStatus,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, deserialize_with = "opt_pattern")]
    pattern: Option<ImportPattern>,
    #[serde(default)]
    correlation_code: Option<String>,
    #[serde(default)]
    deployed_table_definition: Option<Ref>,
    #[serde(default, deserialize_with = "opt_key")]
    table_definition_key: Option<String>,
    #[serde(default)]
    table_definition_name: Option<String>,
    #[serde(default, deserialize_with = "opt_key")]
    import_mapping_key: Option<String>,
    #[serde(default)]
    signed_s3_url: Option<SafeUrl>,
    #[serde(default)]
    s3_key: Option<String>,
    #[serde(default)]
    created_date: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    file_size: Option<i64>,
    #[serde(default)]
    insert_row_count: Option<i64>,
    #[serde(default)]
    update_row_count: Option<i64>,
    #[serde(default)]
    delete_row_count: Option<i64>,
    #[serde(default)]
    duration_secs: Option<f64>,
    #[serde(default)]
    start_datetime: Option<String>,
    #[serde(default)]
    end_datetime: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    actions: Vec<serde_json::Value>,
}

fn unknown_table_status() -> ImportTableStatus {
    ImportTableStatus::Other(String::new())
}

impl From<ImportTableWire> for ImportTable {
    fn from(w: ImportTableWire) -> Self {
        let table = w.deployed_table_definition.unwrap_or_default();
        ImportTable {
            id: w.id,
            import_id: w.import_id,
            status: w.status,
            message: w.message,
            pattern: w.pattern,
            correlation_code: w.correlation_code,
            table_definition_key: table.key.or(w.table_definition_key),
            table_definition_name: table.name.or(w.table_definition_name),
            import_mapping_key: w.import_mapping_key,
            signed_s3_url: w.signed_s3_url,
            s3_key: w.s3_key,
            created_date: w.created_date.or(w.created_at),
            file_size: w.file_size,
            insert_row_count: w.insert_row_count,
            update_row_count: w.update_row_count,
            delete_row_count: w.delete_row_count,
            duration_secs: w.duration_secs,
            start_datetime: w.start_datetime,
            end_datetime: w.end_datetime,
            actions: w.actions,
        }
    }
}

/// `GET /api/v1/imports/{id}`: the batch and its tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ResultsWire")]
#[non_exhaustive]
pub struct ImportResults {
    /// The batch.
    pub import: Import,
    /// Its table files with their per-table counts.
    pub tables: Vec<ImportTable>,
}

impl ImportResults {
    /// Whether the batch has settled: it is terminal, or it has tables and every one is terminal.
    pub fn is_settled(&self) -> bool {
        self.import.status.is_terminal()
            || (self.import.status != ImportStatus::Processing
                && !self.tables.is_empty()
                && self.tables.iter().all(|t| t.status.is_terminal()))
    }

    /// Tables that failed.
    pub fn failed_tables(&self) -> impl Iterator<Item = &ImportTable> {
        self.tables
            .iter()
            .filter(|t| t.status == ImportTableStatus::Failed)
    }
}

/// The envelope `{"import": {...}, "import_tables": [...]}`; also the batch fields at top level and the tables
/// under `tables` or `results`, as the incumbent SDK tolerates.
#[derive(Deserialize)]
struct ResultsWire {
    #[serde(default)]
    import: Option<Import>,
    #[serde(default, alias = "tables", alias = "results")]
    import_tables: Option<Vec<ImportTable>>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

impl TryFrom<ResultsWire> for ImportResults {
    type Error = String;

    fn try_from(w: ResultsWire) -> Result<Self, String> {
        let import = match w.import {
            Some(import) => import,
            None => serde_json::from_value(serde_json::Value::Object(w.rest)).map_err(|e| {
                format!("neither an `import` object nor import fields at top level: {e}")
            })?,
        };
        Ok(ImportResults {
            import,
            tables: w.import_tables.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_in_every_envelope_shape() {
        let enveloped: ImportResults = serde_json::from_str(
            r#"{"import":{"id":3,"status":"completed"},"import_tables":[{"id":9,"status":"completed","insert_row_count":2,
                "deployed_table_definition":{"key":"k","name":"Site"},"signed_s3_url":"http://h/_s3/uploads/9?sig=s"}]}"#,
        )
        .unwrap();
        assert_eq!(enveloped.import.id, 3);
        assert_eq!(
            enveloped.tables[0].table_definition_key.as_deref(),
            Some("k")
        );
        assert!(enveloped.is_settled());
        let flat: ImportResults = serde_json::from_str(
            r#"{"id":4,"status":"processing","results":[{"id":1,"status":"uploaded","table_definition_key":7}]}"#,
        )
        .unwrap();
        assert_eq!(
            (
                flat.import.id,
                flat.tables[0].table_definition_key.as_deref()
            ),
            (4, Some("7"))
        );
        assert!(!flat.is_settled());
        assert_eq!(
            ImportStatus::from("brand_new"),
            ImportStatus::Other("brand_new".into())
        );
    }

    #[test]
    fn patterns_go_by_their_api_names_and_unknown_ones_do_not_fail_a_read() {
        let request = ImportTableRequest::new(1, "k", "m", ImportPattern::IncrementalWithDelete);
        assert_eq!(
            serde_json::to_value(&request).unwrap()["pattern"],
            "incremental_with_delete"
        );
        let read = |pattern: &str| {
            let t: ImportTable = serde_json::from_str(&format!(
                r#"{{"id":1,"status":"created","pattern":{pattern}}}"#
            ))
            .unwrap();
            t.pattern
        };
        assert_eq!(read(r#""full""#), Some(ImportPattern::Full));
        assert_eq!(
            read(r#""incremental""#),
            Some(ImportPattern::IncrementalUpsertOnly)
        );
        assert_eq!(read(r#""merge_v2""#), None);
        assert_eq!(read("null"), None);
        let t: ImportTable = serde_json::from_str(
            r#"{"id":1,"status":"created","pattern":"incremental_upsert_only"}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&t).unwrap()["pattern"],
            "incremental_upsert_only"
        );
    }
}
