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
use trdm_sync::Catalog;
use trdm_sync::catalog::conformance as suite;

use crate::catalog::PyCatalog;
use crate::runtime::block_on;

/// Every check of the suite, in the order `conformance::run_all` runs them.
pub(crate) const CHECKS: &[&str] = &[
    "create_schema_is_idempotent",
    "missing_table_is_table_not_found",
    "names_are_exact",
    "overwrite_creates_and_replaces_content_and_schema",
    "schema_and_values_round_trip",
    "properties_are_replaced_by_each_write",
    "merge_upserts_and_deletes_by_key",
    "merge_creates_missing_table",
    "merge_rejects_schema_mismatch",
    "failed_write_leaves_old_table",
    "empty_table_reads_schema_and_no_rows",
];

/// Runs the check called `name` (one of [`CHECKS`]).
async fn run_check(name: &str, catalog: &dyn Catalog, prefix: &str) {
    match name {
        "create_schema_is_idempotent" => suite::create_schema_is_idempotent(catalog, prefix).await,
        "missing_table_is_table_not_found" => {
            suite::missing_table_is_table_not_found(catalog, prefix).await
        }
        "names_are_exact" => suite::names_are_exact(catalog, prefix).await,
        "overwrite_creates_and_replaces_content_and_schema" => {
            suite::overwrite_creates_and_replaces_content_and_schema(catalog, prefix).await
        }
        "schema_and_values_round_trip" => {
            suite::schema_and_values_round_trip(catalog, prefix).await
        }
        "properties_are_replaced_by_each_write" => {
            suite::properties_are_replaced_by_each_write(catalog, prefix).await
        }
        "merge_upserts_and_deletes_by_key" => {
            suite::merge_upserts_and_deletes_by_key(catalog, prefix).await
        }
        "merge_creates_missing_table" => suite::merge_creates_missing_table(catalog, prefix).await,
        "merge_rejects_schema_mismatch" => {
            suite::merge_rejects_schema_mismatch(catalog, prefix).await
        }
        "failed_write_leaves_old_table" => {
            suite::failed_write_leaves_old_table(catalog, prefix).await
        }
        "empty_table_reads_schema_and_no_rows" => {
            suite::empty_table_reads_schema_and_no_rows(catalog, prefix).await
        }
        other => unreachable!("unknown conformance check {other} (names are validated first)"),
    }
}

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
        None => CHECKS.to_vec(),
        Some(names) => {
            if let Some(unknown) = names.iter().find(|n| !CHECKS.contains(&n.as_str())) {
                return Err(PyValueError::new_err(format!(
                    "unknown catalog conformance check {unknown:?}; the checks are {}",
                    CHECKS.join(", ")
                )));
            }
            CHECKS
                .iter()
                .copied()
                .filter(|c| names.iter().any(|n| n == c))
                .collect()
        }
    };
    let failure = block_on(py, move || async move {
        let catalog = PyCatalog::new(catalog);
        for name in selected {
            let outcome = AssertUnwindSafe(run_check(name, &catalog, &prefix))
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
