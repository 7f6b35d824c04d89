//! The compiled core of `titan_rdm_sdk`: `titan_rdm_sdk._internal`. This file only registers what the other
//! modules define; the public Python API is the pure-Python package around it.

mod catalog;
mod client;
mod conformance;
mod convert;
mod error;
mod runtime;
mod sync;
mod transfer;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// `titan_rdm_sdk._internal`.
#[pymodule]
fn _internal(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The export's system columns in file order, `trdm_tran_code` last: defined once, in trdm-format.
    let columns = PyTuple::new(m.py(), trdm_format::SYSTEM_COLUMNS)?;
    m.add("EXPORT_SYSTEM_COLUMNS", columns)?;
    m.add("TRAN_CODE_COLUMN", trdm_format::TRAN_CODE_COLUMN)?;
    // The pattern names the engine accepts: defined once, in trdm-format.
    m.add(
        "IMPORT_PATTERNS",
        PyTuple::new(m.py(), trdm_format::ImportPattern::NAMES)?,
    )?;
    m.add(
        "EXPORT_PATTERNS",
        PyTuple::new(m.py(), trdm_format::ExportPattern::NAMES)?,
    )?;
    error::register(m)?;
    m.add_class::<client::RawClient>()?;
    m.add_class::<sync::RawMemoryCatalog>()?;
    m.add_class::<sync::RawSyncEngine>()?;
    m.add_class::<transfer::RedactedUrl>()?;
    m.add_class::<transfer::RawDownload>()?;
    m.add_class::<transfer::RawUpload>()?;
    m.add_class::<transfer::RawTableUpload>()?;
    // Private, for tests: trdm-sync's catalog conformance suite against a catalog written in Python.
    m.add_function(wrap_pyfunction!(conformance::_catalog_conformance, m)?)?;
    let checks = pyo3::types::PyTuple::new(m.py(), trdm_sync::catalog::conformance::CHECKS)?;
    m.add("CATALOG_CONFORMANCE_CHECKS", checks)?;
    Ok(())
}
