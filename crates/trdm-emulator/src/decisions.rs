//! Every choice the TitanRDM contract leaves open, in one place.
//!
//! The real service could not be observed, so `../shared/titanrdm-protocol.md` part A fixes what the public
//! material does not say. Each constant or function here is one of those decisions; the rest of the emulator
//! refers to them by name, so when the real service is observed to differ, the change is made here.

use std::time::Duration;

/// Default `per_page` of every collection endpoint (part A §4).
pub const DEFAULT_PER_PAGE: u32 = 100;
/// Largest `per_page` honoured; larger requests are clamped to it (part A §4).
pub const MAX_PER_PAGE: u32 = 1000;

/// Lifetime of an access token unless `--token-ttl` says otherwise (part A §2).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(7200);
/// Lifetime of a presigned upload or download URL (part A §6).
pub const PRESIGNED_URL_TTL: Duration = Duration::from_secs(3600);
/// Largest accepted upload; a larger PUT gets 413 (part A §6).
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// The scope that grants everything (part A §2).
pub const SCOPE_ALL: &str = "api";
/// The scope for reads, which also covers export creation (part A §2).
pub const SCOPE_READ: &str = "api:read";
/// The scope for every other write (part A §2).
pub const SCOPE_WRITE: &str = "api:write";

/// Which scope a request needs: `api:read` for GETs and for creating exports, `api:write` for other writes.
pub fn required_scope(method: &http::Method, path: &str) -> &'static str {
    let creates_export = path == "/api/exports/new" || path == "/api/v1/exports";
    if method == http::Method::GET || method == http::Method::HEAD || creates_export {
        SCOPE_READ
    } else {
        SCOPE_WRITE
    }
}

/// The scope a token needs to be shown an import table's `signed_s3_url`. The URL is a presigned PUT, i.e. the
/// power to replace the table's file, so `api:read` (which covers the import GETs, part A §2) is not enough:
/// a read-only token sees the import tables with `signed_s3_url: null`. Part B §4.9: the official SDK takes
/// the URL from the answer of `POST /api/import_tables/new`, which needs `api:write` anyway.
pub const UPLOAD_URL_SCOPE: &str = SCOPE_WRITE;

/// Whether a granted scope list satisfies a required scope.
pub fn scope_satisfies(granted: &[String], required: &str) -> bool {
    granted.iter().any(|s| s == SCOPE_ALL || s == required)
}

/// Actor recorded on rows written by an import (part A §8): `I` and the import batch id.
pub const IMPORT_ACTOR_TYPE: &str = "I";
/// Actor recorded on rows loaded from a fixture's seed files: the user with id 1 (the fixture's owner).
pub const SEED_ACTOR_TYPE: &str = "U";
/// Actor id of seed rows.
pub const SEED_ACTOR_ID: i64 = 1;

/// Export statuses (part A §5).
pub mod export_status {
    /// Accepted, not yet picked up.
    pub const CREATED: &str = "created";
    /// Being written.
    pub const STARTED: &str = "started";
    /// File ready at `download_url`.
    pub const COMPLETED: &str = "completed";
    /// Gave up; `message` says why.
    pub const FAILED: &str = "failed";
}

/// Import table statuses (part A §5).
pub mod import_table_status {
    /// Created, presigned URL issued, no file yet (or a file PUT but not yet announced).
    pub const CREATED: &str = "created";
    /// `upload_complete` received; waiting to be processed.
    pub const UPLOADED: &str = "uploaded";
    /// Being validated and applied.
    pub const PROCESSING: &str = "processing";
    /// Applied; counts are final.
    pub const COMPLETED: &str = "completed";
    /// Nothing applied; `message` says why.
    pub const FAILED: &str = "failed";
}

/// Import batch statuses (part A §5).
pub mod import_status {
    /// Open for table uploads.
    pub const CREATED: &str = "created";
    /// `complete` received; some tables still running.
    pub const PROCESSING: &str = "processing";
    /// Every table completed.
    pub const COMPLETED: &str = "completed";
    /// Some tables completed and some failed.
    pub const COMPLETED_WITH_ERRORS: &str = "completed_with_errors";
    /// Every table failed, or the batch was empty.
    pub const FAILED: &str = "failed";
}

/// Message given to a table that never received `upload_complete` when its batch is completed.
pub const NEVER_UPLOADED_MESSAGE: &str =
    "the import was completed before this table's file was uploaded";

/// How row numbers in import error messages count: the first data row after the header is row 1.
pub const FIRST_DATA_ROW: u64 = 1;

/// Re-importing a record that was deleted writes a new version with tran code `u` (part A §10 says `i` is only
/// for a record's first version) and counts it in `update_row_count`, so the counts always agree with the codes.
pub const REINSERT_TRAN_CODE: &str = "u";

/// A file column that is not in the import mapping is ignored (part A §9); a non-required table column that is
/// missing from the file is written as NULL in the new version.
pub const ABSENT_COLUMN_IS_NULL: bool = true;

/// Integer columns also accept a zero fraction (`7.0`), because pandas writes integer columns holding nulls as
/// floats; anything else that is not a whole number fails the row.
pub const INTEGER_ACCEPTS_ZERO_FRACTION: bool = true;
