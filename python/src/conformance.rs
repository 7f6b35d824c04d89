//! `_catalog_conformance`: `trdm-sync`'s catalog conformance suite run against a catalog written in Python
//! (a [`PyCatalog`]), above all the `SparkCatalog` that `SparkSync` drives on a live session.
//!
//! Each check of `trdm_sync::catalog::conformance` runs by name, in the suite's order, with the GIL released
//! (the catalog's methods take it back on tokio's blocking pool, as in a sync). A check that breaks its
//! clause panics; the panic becomes an `AssertionError` naming the check and carrying the panic's message.
//! Private API for the package's tests: it writes tables under the prefix and drops none.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use pyo3::exceptions::{PyAssertionError, PyValueError};
use pyo3::prelude::*;
use trdm_sync::catalog::conformance as suite;

use crate::catalog::PyCatalog;
use crate::runtime::block_on;

/// The text of a panic payload (`panic!` with a format gives a `String`, with a literal a `&str`).
fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// Runs the catalog conformance suite against `catalog` (any object with the methods `PyCatalog` takes),
/// writing tables under `prefix` (`catalog.schema`; give it a schema unique to the run). `checks` selects
/// checks by name (default: all of `CATALOG_CONFORMANCE_CHECKS`), run in the suite's order whatever the
/// order given. Stops at the first failing check: `AssertionError("catalog conformance check `<name>`
/// failed: <message>")`. An unknown name is a `ValueError` and runs nothing.
#[pyfunction]
#[pyo3(signature = (catalog, prefix, checks=None))]
pub(crate) fn _catalog_conformance(
    py: Python<'_>,
    catalog: Py<PyAny>,
    prefix: String,
    checks: Option<Vec<String>>,
) -> PyResult<()> {
    let selected: Vec<&'static str> = match checks {
        None => suite::CHECKS.to_vec(),
        Some(names) => {
            if let Some(unknown) = names.iter().find(|n| !suite::CHECKS.contains(&n.as_str())) {
                return Err(PyValueError::new_err(format!(
                    "unknown catalog conformance check {unknown:?}; the checks are {}",
                    suite::CHECKS.join(", ")
                )));
            }
            suite::CHECKS
                .iter()
                .copied()
                .filter(|c| names.iter().any(|n| n == c))
                .collect()
        }
    };
    let failure = block_on(py, move || async move {
        let catalog = PyCatalog::new(catalog);
        for name in selected {
            let outcome = AssertUnwindSafe(suite::run_check(name, &catalog, &prefix))
                .catch_unwind()
                .await;
            if let Err(payload) = outcome {
                return Some((name, panic_text(payload.as_ref())));
            }
        }
        None
    });
    match failure {
        None => Ok(()),
        Some((name, message)) => Err(PyAssertionError::new_err(format!(
            "catalog conformance check `{name}` failed: {message}"
        ))),
    }
}
