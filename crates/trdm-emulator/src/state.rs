//! The state every handler and job shares.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::EmulatorConfig;
use crate::db::Db;

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) db: Db,
    pub(crate) config: Arc<EmulatorConfig>,
    /// Signs tokens and presigned URLs; persisted in the catalog so both survive restarts.
    pub(crate) signing_key: Arc<[u8; 32]>,
    /// Uploaded files and export files.
    pub(crate) blobs: Arc<PathBuf>,
    /// Bounds how many background jobs run at once.
    pub(crate) job_slots: Arc<Semaphore>,
    /// The origin presigned URLs point at when a request carries no Host header.
    pub(crate) origin: Arc<String>,
}

impl AppState {
    pub(crate) fn upload_path(&self, import_table_id: i64) -> PathBuf {
        self.blobs
            .join("uploads")
            .join(format!("{import_table_id}.csv"))
    }

    pub(crate) fn export_path(&self, export_id: i64) -> PathBuf {
        self.blobs.join("exports").join(format!("{export_id}.csv"))
    }
}
