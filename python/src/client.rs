//! `RawClient`: the Rust client behind `titan_rdm_sdk.TitanRDMClient`. Every method blocks on the global
//! runtime with the GIL released and returns plain Python values (dicts and lists, as the Rust models
//! serialise); the Python layer turns them into the incumbent's dataclasses.

use pyo3::prelude::*;
use trdm_client::{Client, ClientBuilder};

use crate::convert::to_py;
use crate::error::{Context, client_error};
use crate::runtime::block_on;

/// A connected TitanRDM client (OAuth client credentials; the token is cached and refreshed inside).
#[pyclass(module = "titan_rdm_sdk._internal", frozen)]
pub(crate) struct RawClient {
    pub(crate) inner: Client,
}

/// Runs one client call and converts its result, mapping errors for `context`.
fn call<'py, T, M, F>(py: Python<'py>, context: Context, make: M) -> PyResult<Bound<'py, PyAny>>
where
    T: serde::Serialize + Send,
    M: FnOnce() -> F + Send,
    F: Future<Output = trdm_client::Result<T>>,
{
    let value = block_on(py, make).map_err(|e| client_error(e, context))?;
    to_py(py, &value)
}

#[pymethods]
impl RawClient {
    /// Authenticates now (the incumbent's constructor does too) and returns the client.
    #[staticmethod]
    fn connect(
        py: Python<'_>,
        url: String,
        client_id: String,
        client_secret: String,
    ) -> PyResult<Self> {
        let builder = ClientBuilder::new(url).with_client_credentials(client_id, client_secret);
        let inner =
            block_on(py, || builder.connect()).map_err(|e| client_error(e, Context::Connect))?;
        Ok(RawClient { inner })
    }

    /// The service's base URL.
    #[getter]
    fn url(&self) -> String {
        self.inner.url().to_owned()
    }

    /// Every branch.
    fn branches<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Call, || self.inner.branches())
    }

    /// One branch by id.
    fn branch<'py>(&self, py: Python<'py>, branch_id: i64) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Call, || self.inner.branch(branch_id))
    }

    /// The one branch with this name (and owner, when private branches share a name).
    #[pyo3(signature = (name, owner_id=None))]
    fn branch_by_name<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        owner_id: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Lookup, || {
            self.inner.branch_by_name(name, owner_id)
        })
    }

    /// Every domain.
    fn domains<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Call, || self.inner.domains())
    }

    /// One domain by id.
    fn domain<'py>(&self, py: Python<'py>, domain_id: i64) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Call, || self.inner.domain(domain_id))
    }

    /// The one domain with exactly this name.
    fn domain_by_name<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Lookup, || self.inner.domain_by_name(name))
    }

    /// The tables deployed on a branch, optionally of one domain, with their columns.
    #[pyo3(signature = (branch_id, domain_id=None))]
    fn deployed_table_definitions<'py>(
        &self,
        py: Python<'py>,
        branch_id: i64,
        domain_id: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Call, || {
            self.inner.deployed_table_definitions(branch_id, domain_id)
        })
    }

    /// One deployed table by its key on a branch.
    fn deployed_table_definition<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        branch_id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Call, || {
            self.inner.deployed_table_definition(key, branch_id)
        })
    }

    /// A table's default import mapping.
    fn default_import_mapping<'py>(
        &self,
        py: Python<'py>,
        table_definition_id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Lookup, || {
            self.inner.default_import_mapping(table_definition_id)
        })
    }

    /// A table's import mapping by key.
    fn import_mapping_by_key<'py>(
        &self,
        py: Python<'py>,
        table_definition_id: i64,
        key: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        call(py, Context::Lookup, || {
            self.inner.import_mapping_by_key(table_definition_id, key)
        })
    }

    fn __repr__(&self) -> String {
        format!("RawClient(url={:?})", self.inner.url())
    }
}
