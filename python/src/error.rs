//! The exception hierarchy, created here and re-exported unchanged by `titan_rdm_sdk.exceptions`, and the one
//! place where Rust errors become Python exceptions.
//!
//! The classes and their bases are the incumbent SDK's (`TitanRDMError` and six subclasses), so
//! `except titan_rdm_sdk.exceptions.APIError` written against it keeps working. `APIError` instances carry
//! `status_code` (`int | None`) and `response` (`dict | None`, always `None` from the SDK itself: the Rust client keeps the
//! server's message, not its body), and takes the incumbent's constructor arguments
//! `APIError(message, status_code=None, response=None)`.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTimeoutError};
use pyo3::prelude::*;

create_exception!(
    titan_rdm_sdk.exceptions,
    TitanRDMError,
    PyException,
    "Base class of every error this SDK raises."
);
create_exception!(
    titan_rdm_sdk.exceptions,
    AuthenticationError,
    TitanRDMError,
    "Getting a token failed: wrong credentials, or the token endpoint could not be reached."
);
create_exception!(
    titan_rdm_sdk.exceptions,
    APIError,
    TitanRDMError,
    "A request failed: an error status from TitanRDM, or no usable answer. See `status_code`."
);
create_exception!(
    titan_rdm_sdk.exceptions,
    ValidationError,
    TitanRDMError,
    "An argument was rejected (by the SDK or with 400/422 by the server), or a lookup by name or key found \
     no match or several."
);
create_exception!(
    titan_rdm_sdk.exceptions,
    ExportNotReadyError,
    TitanRDMError,
    "An export's file was requested before the export completed."
);
create_exception!(
    titan_rdm_sdk.exceptions,
    ExportFailedError,
    TitanRDMError,
    "An export ended in `failed`."
);
create_exception!(
    titan_rdm_sdk.exceptions,
    UploadError,
    TitanRDMError,
    "Sending a file to object storage failed."
);

/// Adds the exception classes to the module, with `APIError`'s attribute defaults.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("TitanRDMError", py.get_type::<TitanRDMError>())?;
    m.add("AuthenticationError", py.get_type::<AuthenticationError>())?;
    let api_error = py.get_type::<APIError>();
    api_error.setattr("status_code", py.None())?;
    api_error.setattr("response", py.None())?;
    api_error.setattr("__init__", api_error_init(py)?)?;
    m.add("APIError", api_error)?;
    m.add("ValidationError", py.get_type::<ValidationError>())?;
    m.add("ExportNotReadyError", py.get_type::<ExportNotReadyError>())?;
    m.add("ExportFailedError", py.get_type::<ExportFailedError>())?;
    m.add("UploadError", py.get_type::<UploadError>())?;
    Ok(())
}

/// `APIError.__init__(self, message, status_code=None, response=None)`, the incumbent's constructor
/// signature, so Python code that raises or builds `APIError`s itself keeps working. Written in Python:
/// an `__init__` on a class created by `create_exception!` is simplest set as a plain function.
fn api_error_init(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let code = c"def __init__(self, message, status_code=None, response=None):
    Exception.__init__(self, message)
    self.status_code = status_code
    self.response = response
";
    PyModule::from_code(
        py,
        code,
        c"titan_rdm_sdk/_api_error.py",
        c"titan_rdm_sdk._api_error",
    )?
    .getattr("__init__")
}

/// An `APIError` with its status code.
fn api_error(message: String, status: Option<u16>) -> PyErr {
    APIError::new_err((message, status))
}

/// Where an error happened, which decides a few mappings the way the incumbent SDK decides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// Authenticating: every failure that is not a bad argument is an `AuthenticationError`.
    Connect,
    /// A lookup by name or key: finding nothing (or several) is a `ValidationError`.
    Lookup,
    /// Any other call: a 404 is an `APIError` with `status_code` 404.
    Call,
}

/// A client error as the matching Python exception.
pub(crate) fn client_error(err: trdm_client::Error, context: Context) -> PyErr {
    use trdm_client::Error as E;
    let message = err.to_string();
    match (&err, context) {
        (E::Validation { .. } | E::Config { .. }, _) => ValidationError::new_err(message),
        (_, Context::Connect) | (E::Unauthenticated { .. }, _) => {
            AuthenticationError::new_err(message)
        }
        (E::NotFound { .. } | E::Ambiguous { .. }, Context::Lookup) => {
            ValidationError::new_err(message)
        }
        (E::NotFound { .. }, _) => api_error(message, Some(404)),
        (E::JobFailed { .. }, _) => ExportFailedError::new_err(message),
        (E::Timeout { .. }, _) => PyTimeoutError::new_err(message),
        (E::Io { .. }, _) => UploadError::new_err(message),
        _ => api_error(message, err.status()),
    }
}

/// A sync-engine error as the matching Python exception.
pub(crate) fn sync_error(err: trdm_sync::Error) -> PyErr {
    use trdm_sync::Error as E;
    match err {
        E::Client(err) => client_error(err, Context::Lookup),
        E::TableNotFound { .. } | E::Invalid(_) | E::SchemaMismatch(_) => {
            ValidationError::new_err(err.to_string())
        }
        // A Python catalog's own exception comes back unchanged.
        E::Catalog { backend, source } => match source.downcast::<PyErr>() {
            Ok(err) => *err,
            Err(source) => TitanRDMError::new_err(format!("{backend} catalog: {source}")),
        },
        other => TitanRDMError::new_err(other.to_string()),
    }
}
