//! The [`Client`] handle. Its methods live next to the resource they serve (`api/*`, `jobs`, `transfer`).

use std::sync::Arc;
use std::time::Duration;

use crate::RetryConfig;
use crate::auth::{Credentials, TokenCache};

/// A TitanRDM client. Cheap to clone; clones share the connection pool and the token cache.
///
/// Build one with [`ClientBuilder`](crate::ClientBuilder). Every method is `async`, returns
/// [`Result`](crate::Result), retries what is safe to retry ([`RetryConfig`]) and runs inside a `tracing` span.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    /// Base URL without a trailing `/`.
    pub(crate) base: String,
    pub(crate) credentials: Credentials,
    pub(crate) tokens: TokenCache,
    pub(crate) retry: RetryConfig,
    pub(crate) request_timeout: Duration,
    pub(crate) transfer_timeout: Duration,
    pub(crate) page_size: u32,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.base)
            .field("credentials", &self.inner.credentials)
            .field("retry", &self.inner.retry)
            .field("page_size", &self.inner.page_size)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The service's base URL, as configured.
    pub fn url(&self) -> &str {
        &self.inner.base
    }

    /// The retry policy in force.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }
}
