//! [`ClientBuilder`]: where the service is, who we are, and how patient to be.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{Credentials, TokenCache};
use crate::client::{Client, Inner};
use crate::redact::{SafeUrl, Secret};
use crate::{Error, Result, RetryConfig};

/// Environment variable with the service's base URL, e.g. `https://acme.titanrdm.com`.
pub const ENV_URL: &str = "TITAN_URL";
/// Environment variable with the OAuth client id.
pub const ENV_CLIENT_ID: &str = "TITAN_CLIENT_ID";
/// Environment variable with the OAuth client secret.
pub const ENV_CLIENT_SECRET: &str = "TITAN_CLIENT_SECRET";

/// Default timeout of one API request (the incumbent SDK's 30 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default timeout of one presigned transfer, body included.
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default minimum remaining lifetime of a cached token (the incumbent SDK's 5 minutes).
pub const DEFAULT_TOKEN_MIN_TTL: Duration = Duration::from_secs(300);
/// Default `per_page` of list requests.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest `per_page` the service honours.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Builds a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use trdm_client::{ClientBuilder, RetryConfig};
///
/// let client = ClientBuilder::new("https://acme.titanrdm.com")
///     .with_client_credentials("my-client", "my-secret")
///     .with_retry(RetryConfig { max_retries: 5, ..RetryConfig::default() })
///     .with_request_timeout(Duration::from_secs(10))
///     .build()?;
/// assert!(!format!("{client:?}").contains("my-secret"));
/// # Ok::<(), trdm_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    scope: Option<String>,
    retry: RetryConfig,
    request_timeout: Duration,
    transfer_timeout: Duration,
    connect_timeout: Duration,
    token_min_ttl: Duration,
    page_size: u32,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            url: None,
            client_id: None,
            client_secret: None,
            scope: None,
            retry: RetryConfig::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            transfer_timeout: DEFAULT_TRANSFER_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            token_min_ttl: DEFAULT_TOKEN_MIN_TTL,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl ClientBuilder {
    /// A builder for the service at `url` (scheme and host, e.g. `https://acme.titanrdm.com`; a trailing `/`
    /// is ignored).
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: Some(url.into()),
            ..ClientBuilder::default()
        }
    }

    /// A builder filled from [`ENV_URL`], [`ENV_CLIENT_ID`] and [`ENV_CLIENT_SECRET`] (the variables the
    /// incumbent's docs use). Missing variables are reported by [`build`](Self::build).
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        ClientBuilder {
            url: var(ENV_URL),
            client_id: var(ENV_CLIENT_ID),
            client_secret: var(ENV_CLIENT_SECRET).map(Secret::new),
            ..ClientBuilder::default()
        }
    }

    /// Sets the base URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Sets the OAuth client id and secret (`client_credentials` grant).
    pub fn with_client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = Some(client_secret.into());
        self
    }

    /// Requests these scopes (space separated). Default: none sent, so the application's default scopes apply,
    /// as with the incumbent SDK.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets the retry policy (see [`RetryConfig`] for what is retried).
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Timeout of one API request attempt. Default [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Timeout of one presigned upload or download attempt, body included. Default
    /// [`DEFAULT_TRANSFER_TIMEOUT`].
    pub fn with_transfer_timeout(mut self, timeout: Duration) -> Self {
        self.transfer_timeout = timeout;
        self
    }

    /// Timeout of establishing a connection. Default 10 s.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A cached token is refreshed once less than `min(ttl, its lifetime / 2)` remains. Default
    /// [`DEFAULT_TOKEN_MIN_TTL`].
    pub fn with_token_min_ttl(mut self, ttl: Duration) -> Self {
        self.token_min_ttl = ttl;
        self
    }

    /// `per_page` of list requests, 1 to [`MAX_PAGE_SIZE`]. Default [`DEFAULT_PAGE_SIZE`].
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// Checks the settings and builds the client. Does not contact the service; see
    /// [`connect`](Self::connect) for that.
    pub fn build(self) -> Result<Client> {
        let missing = |what: &str, var: &str| Error::Config {
            message: format!("{what} is required (or set {var})"),
        };
        let url = self
            .url
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty());
        let url = url.ok_or_else(|| missing("the service URL", ENV_URL))?;
        let base = reqwest::Url::parse(&url).map_err(|e| Error::Config {
            message: format!("invalid service URL: {e}"),
        })?;
        if !matches!(base.scheme(), "http" | "https")
            || base.query().is_some()
            || !base.username().is_empty()
        {
            let shown = SafeUrl::from(base);
            return Err(Error::Config {
                message: format!(
                    "the service URL must be http(s) without credentials or a query: {shown}"
                ),
            });
        }
        let client_id = self
            .client_id
            .filter(|c| !c.is_empty())
            .ok_or_else(|| missing("the client id", ENV_CLIENT_ID))?;
        let client_secret = self
            .client_secret
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing("the client secret", ENV_CLIENT_SECRET))?;
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("trdm-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config {
                message: format!("cannot build the HTTP client: {}", e.without_url()),
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base: url,
                credentials: Credentials {
                    client_id,
                    client_secret,
                    scope: self.scope,
                },
                tokens: TokenCache::new(self.token_min_ttl),
                retry: self.retry,
                request_timeout: self.request_timeout,
                transfer_timeout: self.transfer_timeout,
                page_size: self.page_size,
            }),
        })
    }

    /// Builds the client and authenticates once, so bad credentials or a wrong URL fail here (as the incumbent
    /// SDK's constructor does).
    pub async fn connect(self) -> Result<Client> {
        let client = self.build()?;
        client.access_token().await?;
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(builder: ClientBuilder) -> String {
        match builder.build() {
            Err(Error::Config { message }) => message,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn build_checks_the_url_and_the_credentials() {
        let full = ClientBuilder::new("https://acme.titanrdm.com/")
            .with_client_credentials("id", "secret");
        assert_eq!(
            full.clone().build().unwrap().url(),
            "https://acme.titanrdm.com"
        );
        assert!(
            config_error(ClientBuilder::default().with_client_credentials("id", "s"))
                .contains(ENV_URL)
        );
        assert!(
            config_error(ClientBuilder::new("https://x").with_client_credentials("", "s"))
                .contains(ENV_CLIENT_ID)
        );
        assert!(
            config_error(ClientBuilder::new("https://x").with_client_credentials("id", ""))
                .contains(ENV_CLIENT_SECRET)
        );
        assert!(config_error(full.clone().with_url("not a url")).contains("invalid service URL"));
        let with_password = config_error(full.clone().with_url("https://u:hunter2@x"));
        assert!(
            with_password.contains("without credentials") && !with_password.contains("hunter2"),
            "{with_password}"
        );
        assert!(config_error(full.clone().with_url("ftp://x")).contains("http(s)"));
        assert_eq!(full.clone().with_page_size(0).page_size, 1);
        assert_eq!(full.with_page_size(5000).page_size, MAX_PAGE_SIZE);
    }
}
