//! How an emulator is set up.

use std::path::PathBuf;
use std::time::Duration;

use crate::decisions;
use crate::faults::FaultConfig;

/// Settings of one emulator. `Default` gives a throwaway emulator with no fixture.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The catalog database file; the records file and the blob folder sit beside it. `None` = a temporary
    /// directory removed on shutdown.
    pub db_path: Option<PathBuf>,
    /// Fixture loaded into a new database. Ignored when the database already holds data.
    pub fixture: Option<PathBuf>,
    /// How long an export stays `started` before its file is written.
    pub export_delay: Duration,
    /// How long an uploaded table waits before it is processed.
    pub import_delay: Duration,
    /// Lifetime of access tokens.
    pub token_ttl: Duration,
    /// Lifetime of presigned URLs.
    pub presigned_url_ttl: Duration,
    /// Largest accepted upload in bytes.
    pub max_upload_bytes: u64,
    /// Injected faults.
    pub faults: FaultConfig,
    /// Background jobs (exports, imports) running at once.
    pub job_concurrency: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            db_path: None,
            fixture: None,
            export_delay: Duration::ZERO,
            import_delay: Duration::ZERO,
            token_ttl: decisions::DEFAULT_TOKEN_TTL,
            presigned_url_ttl: decisions::PRESIGNED_URL_TTL,
            max_upload_bytes: decisions::MAX_UPLOAD_BYTES,
            faults: FaultConfig::default(),
            job_concurrency: 4,
        }
    }
}
