//! The convention sync engine: moves whole TitanRDM domains between the service and a table catalog, by the
//! convention `{catalog}.{schema}.{domain_abbreviation}_{database_table_name}`.
//!
//! Types come from TitanRDM's column definitions ([`schema`]), never from the data; files cross the wire in
//! the TitanRDM CSV dialect and become Arrow record batches through [`codec`], losslessly; catalogs are
//! reached through the [`Catalog`](catalog::Catalog) trait, whose contract every backend's tests check with
//! the shared conformance suite. [`engine`] moves whole domains; [`transfer`] holds the single-table steps it
//! shares with the Python bindings.

pub mod catalog;
pub mod codec;
pub mod engine;
pub mod error;
pub mod manifest;
pub mod plan;
pub mod report;
pub mod schema;
mod spill;
pub mod transfer;

pub use catalog::{Catalog, InMemoryCatalog, TableRef};
pub use engine::{DownloadRequest, SyncEngine, UploadChecks, UploadReport, UploadRequest};
pub use error::{Error, Result};
pub use report::{Phase, Reporter, TableResult, TableStatus};
pub use trdm_format::{ExportPattern, ImportPattern};
