//! Exports (protocol B §4.7, §5.1, §7.3).

use serde::{Deserialize, Serialize};

pub use trdm_format::ExportPattern;

use super::{null_default, opt_key, opt_pattern, opt_pattern_name, pattern_name, string_enum};
use crate::redact::SafeUrl;

string_enum! {
    /// Where an export is: `created` → `started` → `completed` | `failed`.
    ExportStatus {
        /// Accepted, not yet picked up.
        Created = "created",
        /// Being written.
        Started = "started",
        /// File ready at `download_url` (older servers say `ready`).
        Completed = "completed" | "ready",
        /// Gave up; `message` says why.
        Failed = "failed",
    }
}

impl ExportStatus {
    /// `completed` or `failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, ExportStatus::Completed | ExportStatus::Failed)
    }
}

/// What to export. Build with [`ExportRequest::full`] or [`ExportRequest::incremental`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ExportRequest {
    /// Branch holding the deployed table.
    pub branch_id: i64,
    /// The table's key.
    pub table_definition_key: String,
    /// `full` or `incremental`.
    #[serde(serialize_with = "pattern_name")]
    pub pattern: ExportPattern,
    /// Every version instead of the current one.
    pub include_history: bool,
    /// Exclusive lower bound on `trdm_created_at` (ISO 8601; no offset = UTC). Required for `incremental`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_water_mark: Option<String>,
    /// Caller's tracking code. When absent the client generates a unique one (so a lost answer can be
    /// recovered, see the crate docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_code: Option<String>,
}

impl ExportRequest {
    /// A full export of the table with `key` on `branch_id`.
    pub fn full(branch_id: i64, table_definition_key: impl Into<String>) -> Self {
        ExportRequest {
            branch_id,
            table_definition_key: table_definition_key.into(),
            pattern: ExportPattern::Full,
            include_history: false,
            high_water_mark: None,
            correlation_code: None,
        }
    }

    /// An incremental export of what changed after `high_water_mark` (ISO 8601, e.g.
    /// `2025-01-21T00:00:00+00:00`).
    pub fn incremental(
        branch_id: i64,
        table_definition_key: impl Into<String>,
        high_water_mark: impl Into<String>,
    ) -> Self {
        ExportRequest {
            pattern: ExportPattern::Incremental,
            high_water_mark: Some(high_water_mark.into()),
            ..ExportRequest::full(branch_id, table_definition_key)
        }
    }

    /// Exports every version rather than the current one.
    pub fn with_history(mut self, include_history: bool) -> Self {
        self.include_history = include_history;
        self
    }

    /// Sets the correlation code.
    pub fn with_correlation_code(mut self, code: impl Into<String>) -> Self {
        self.correlation_code = Some(code.into());
        self
    }
}

/// An export as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Export {
    /// Export id.
    pub id: i64,
    /// Status.
    pub status: ExportStatus,
    /// Branch id.
    #[serde(default)]
    pub branch_id: Option<i64>,
    /// Table definition id.
    #[serde(default)]
    pub table_definition_id: Option<i64>,
    /// The table's key.
    #[serde(default, deserialize_with = "opt_key")]
    pub table_definition_key: Option<String>,
    /// Pattern (`None` also for a name this client does not know).
    #[serde(
        default,
        deserialize_with = "opt_pattern",
        serialize_with = "opt_pattern_name"
    )]
    pub pattern: Option<ExportPattern>,
    /// Whether every version is exported.
    #[serde(default, deserialize_with = "null_default")]
    pub include_history: bool,
    /// The high-water mark as the server echoes it.
    #[serde(default)]
    pub high_water_mark: Option<String>,
    /// Correlation code.
    #[serde(default)]
    pub correlation_code: Option<String>,
    /// Failure reason (or other server message).
    #[serde(default)]
    pub message: Option<String>,
    /// ISO 8601 creation time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// ISO 8601 start of the job.
    #[serde(default)]
    pub started_datetime: Option<String>,
    /// ISO 8601 end of the job (the wire name is `complete_datetime`).
    #[serde(default)]
    pub complete_datetime: Option<String>,
    /// Rows in the file.
    #[serde(default)]
    pub rows_exported: Option<i64>,
    /// Files produced (1).
    #[serde(default)]
    pub files_exported: Option<i64>,
    /// Size of the file.
    #[serde(default)]
    pub bytes_exported: Option<i64>,
    /// Whether the file is compressed (never, so far).
    #[serde(default, deserialize_with = "null_default")]
    pub compressed: bool,
    /// Job duration in seconds.
    #[serde(default)]
    pub duration_secs: Option<f64>,
    /// Presigned download URL of a completed export (prints redacted).
    #[serde(default)]
    pub download_url: Option<SafeUrl>,
}
