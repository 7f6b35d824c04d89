//! The sync engine: downloads a domain into a catalog and uploads it back, table by table, concurrently.
//!
//! [`download`] and [`upload`] each hold one direction, their requests and their checks; both run the
//! single-table steps of [`transfer`](crate::transfer).

mod download;
mod upload;

use std::sync::Arc;

use trdm_client::Client;

use crate::catalog::Catalog;
use crate::report::{NoReporter, Reporter};

pub use download::DownloadRequest;
pub use upload::{UploadChecks, UploadReport, UploadRequest};

/// Property keys the engine stores with downloaded tables.
pub mod property {
    /// The high-water mark for the next incremental download (largest `trdm_created_at` seen, UTC).
    pub const HIGH_WATER_MARK: &str = "trdm.high_water_mark";
    /// The branch the table was downloaded from.
    pub const BRANCH_ID: &str = "trdm.branch_id";
    /// The TitanRDM table key.
    pub const TABLE_KEY: &str = "trdm.table_key";
    /// The domain's name.
    pub const DOMAIN: &str = "trdm.domain";
    /// `true` when the table holds every version.
    pub const INCLUDE_HISTORY: &str = "trdm.include_history";
    /// The export that last wrote the table.
    pub const EXPORT_ID: &str = "trdm.export_id";
    /// [`schema_fingerprint`](crate::schema::schema_fingerprint) of the columns written: an incremental
    /// download merges only into a table whose columns TitanRDM still defines the same way.
    pub const COLUMNS: &str = "trdm.columns";
}

/// Moves domains between TitanRDM and a catalog.
pub struct SyncEngine {
    client: Client,
    catalog: Arc<dyn Catalog>,
    reporter: Arc<dyn Reporter>,
    concurrency: usize,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("catalog", &self.catalog)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// Failure of one table: before/while talking to TitanRDM, or while writing to the catalog.
enum Failure {
    Remote(String),
    Write(String),
}

impl From<trdm_client::Error> for Failure {
    fn from(e: trdm_client::Error) -> Self {
        Failure::Remote(e.to_string())
    }
}

impl SyncEngine {
    /// An engine over `client` and `catalog`, running 4 tables at a time.
    pub fn new(client: Client, catalog: Arc<dyn Catalog>) -> Self {
        SyncEngine {
            client,
            catalog,
            reporter: Arc::new(NoReporter),
            concurrency: 4,
        }
    }

    /// Sends progress to `reporter`.
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// How many tables move at once (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}
