//! Types that keep secrets out of `Debug`, `Display`, errors and logs.
//!
//! [`Secret`] holds a client secret or an access token; [`SafeUrl`] holds a URL whose query string may carry a
//! signature (presigned object-storage URLs). Both print a redacted form everywhere; the real value is only
//! reachable through an explicitly named `expose*` method, so a leak is visible in code review.

use std::fmt;

use reqwest::Url;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a redacted value prints as.
pub const REDACTED: &str = "<redacted>";

/// A secret string (client secret, access token). Prints as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// A URL that prints without its query string, fragment or password: presigned URLs carry their signature in
/// the query, so `Display`/`Debug` show `https://host/path?<redacted>`. Serializes as the redacted text too;
/// use [`SafeUrl::expose`] to reach the real URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SafeUrl(Url);

impl SafeUrl {
    /// Parses a URL.
    pub fn parse(text: &str) -> Result<Self, crate::Error> {
        Url::parse(text)
            .map(SafeUrl)
            .map_err(|e| crate::Error::Validation {
                message: format!("invalid URL: {e}"),
            })
    }

    /// The full URL, signature included. Only for sending the request.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// The path, never the query: safe for logs.
    pub fn path(&self) -> &str {
        self.0.path()
    }

    /// Whether the URL has a query string (which is hidden when printed).
    pub fn has_query(&self) -> bool {
        self.0.query().is_some()
    }
}

impl From<Url> for SafeUrl {
    fn from(url: Url) -> Self {
        SafeUrl(url)
    }
}

impl fmt::Display for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        write!(f, "{}://", url.scheme())?;
        if !url.username().is_empty() {
            write!(f, "{}", url.username())?;
            if url.password().is_some() {
                write!(f, ":{REDACTED}")?;
            }
            f.write_str("@")?;
        }
        if let Some(host) = url.host_str() {
            f.write_str(host)?;
        }
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())?;
        if url.query().is_some() {
            write!(f, "?{REDACTED}")?;
        }
        if url.fragment().is_some() {
            write!(f, "#{REDACTED}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafeUrl({self})")
    }
}

impl Serialize for SafeUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SafeUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Url::parse(&text)
            .map(SafeUrl)
            .map_err(|e| serde::de::Error::custom(format!("invalid URL: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_secrets_print_redacted() {
        let url = SafeUrl::parse(
            "https://user:pw@s3.example:8443/bucket/key.csv?X-Amz-Signature=abc123#frag",
        )
        .unwrap();
        let shown = format!("{url} {url:?}");
        assert!(
            !shown.contains("abc123") && !shown.contains("pw") && !shown.contains("frag"),
            "{shown}"
        );
        assert_eq!(
            url.to_string(),
            "https://user:<redacted>@s3.example:8443/bucket/key.csv?<redacted>#<redacted>"
        );
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            "\"https://user:<redacted>@s3.example:8443/bucket/key.csv?<redacted>#<redacted>\""
        );
        assert!(url.expose().as_str().contains("abc123"));
        let plain = SafeUrl::parse("http://127.0.0.1:80/x").unwrap();
        assert_eq!(plain.to_string(), "http://127.0.0.1/x");
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "<redacted> <redacted>");
        assert_eq!(secret.expose(), "hunter2");
    }
}
