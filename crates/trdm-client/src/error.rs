//! The crate's one error type, and the one place an HTTP status becomes an [`Error`] variant.

use std::fmt;
use std::time::Duration;

/// How many retries a call spent before its error, and over how long. Printed as a suffix of the error
/// message when any retry happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retries {
    /// Attempts after the first one.
    pub count: u32,
    /// Time from the first attempt to the error.
    pub elapsed: Duration,
}

impl fmt::Display for Retries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count > 0 {
            let s = if self.count == 1 { "y" } else { "ies" };
            write!(
                f,
                " (gave up after {} retr{s} over {:.1}s)",
                self.count,
                self.elapsed.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

/// Everything that can go wrong. Variants are semantic; match on them rather than on messages.
///
/// Messages never contain the client secret, an access token or a presigned URL's query string: URLs in
/// messages are [`SafeUrl`](crate::SafeUrl)s or bare paths, and transport errors are stripped of their URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401, or the token endpoint refused the credentials. A 401 on an API call is answered by exactly one
    /// re-authentication first; this is what a second 401 (or a refused token request) becomes.
    #[error("not authenticated: {message}")]
    Unauthenticated {
        /// The server's message.
        message: String,
    },
    /// 403: the token lacks a scope or permission (or a presigned URL's signature was refused).
    #[error("permission denied: {message}")]
    PermissionDenied {
        /// The server's message.
        message: String,
    },
    /// 404, or a lookup by name or key matched nothing.
    #[error("not found: {message}")]
    NotFound {
        /// The server's message, or which lookup found nothing.
        message: String,
    },
    /// A lookup by name matched more than one resource.
    #[error("ambiguous: {message}")]
    Ambiguous {
        /// What matched and how to disambiguate.
        message: String,
    },
    /// 409: the resource is in the wrong state (e.g. uploading to a completed import).
    #[error("conflict: {message}")]
    Conflict {
        /// The server's message.
        message: String,
    },
    /// 429 after the retries ran out (or a `Retry-After` longer than the retry budget).
    #[error("rate limited: {message}{retries}")]
    RateLimited {
        /// The server's message.
        message: String,
        /// The last `Retry-After` the server sent.
        retry_after: Option<Duration>,
        /// Retries spent.
        retries: Retries,
    },
    /// 400 or 422 from the server, or an argument the client rejected before sending.
    #[error("invalid request: {message}")]
    Validation {
        /// The server's (or the client's) message.
        message: String,
    },
    /// Any other non-success status (5xx after the retries ran out, 402, 413, ...).
    #[error("HTTP {status}: {message}{retries}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's message, extracted from its error body.
        message: String,
        /// Retries spent.
        retries: Retries,
    },
    /// No usable answer: connection refused or dropped, timeout, broken body stream.
    #[error("transport error: {message}{retries}")]
    Transport {
        /// Method, redacted target and the cause.
        message: String,
        /// Retries spent.
        retries: Retries,
        /// The underlying error, with its URL removed.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A success answer whose body is not what the contract says.
    #[error("unexpected response: {message}")]
    Decode {
        /// What could not be read.
        message: String,
    },
    /// A create (import, import table, export) failed in a way that leaves its outcome unknown — the request
    /// may have been performed but its answer was lost — and neither retries nor the lookup by correlation
    /// code settled it. Look the resource up by `correlation_code` before creating it again.
    #[error(
        "{what} may or may not have been created (correlation code {correlation_code}): {source}"
    )]
    Unconfirmed {
        /// Which create.
        what: String,
        /// The correlation code it was sent with.
        correlation_code: String,
        /// The last failure.
        #[source]
        source: Box<Error>,
    },
    /// A server-side job (an export) ended in `failed`.
    #[error("{what} failed: {message}")]
    JobFailed {
        /// Which job, e.g. `export 12`.
        what: String,
        /// The server's message (or `unknown error`).
        message: String,
    },
    /// A job did not reach a terminal state before the deadline.
    #[error("{what} did not finish within {:.1}s; last status {last_status}", waited.as_secs_f64())]
    Timeout {
        /// Which job, e.g. `export 12`.
        what: String,
        /// The status seen last.
        last_status: String,
        /// How long the client waited.
        waited: Duration,
    },
    /// Reading an upload's source file failed.
    #[error("reading the upload: {message}")]
    Io {
        /// What failed.
        message: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The client is misconfigured (missing URL or credentials, bad URL).
    #[error("configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The HTTP status of variants that only ever come from one (`PermissionDenied`, `Conflict`,
    /// `RateLimited`, `Api`). Others (`NotFound`, `Validation`, `Unauthenticated`) can also be raised by the
    /// client itself, so they answer `None`.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::PermissionDenied { .. } => Some(403),
            Error::Conflict { .. } => Some(409),
            Error::RateLimited { .. } => Some(429),
            Error::Api { status, .. } => Some(*status),
            Error::Unconfirmed { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Retries spent before this error (0 for errors that are never retried).
    pub fn retries(&self) -> u32 {
        match self {
            Error::RateLimited { retries, .. }
            | Error::Api { retries, .. }
            | Error::Transport { retries, .. } => retries.count,
            Error::Unconfirmed { source, .. } => source.retries(),
            _ => 0,
        }
    }

    pub(crate) fn with_retries(mut self, spent: Retries) -> Self {
        if let Error::RateLimited { retries, .. }
        | Error::Api { retries, .. }
        | Error::Transport { retries, .. } = &mut self
        {
            *retries = spent;
        }
        self
    }

    /// A transport error from reqwest, stripped of its URL. `target` is already redacted.
    pub(crate) fn transport(method: &str, target: &str, error: reqwest::Error) -> Self {
        let error = error.without_url();
        let mut message = format!("{method} {target}: {error}");
        let mut cause = std::error::Error::source(&error);
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        Error::Transport {
            message,
            retries: Retries::default(),
            source: Some(error),
        }
    }

    pub(crate) fn decode(what: impl fmt::Display, error: impl fmt::Display) -> Self {
        Error::Decode {
            message: format!("{what}: {error}"),
        }
    }
}

/// The one mapping from an HTTP status to an [`Error`] variant.
pub(crate) fn from_status(status: u16, message: String, retry_after: Option<Duration>) -> Error {
    match status {
        400 | 422 => Error::Validation { message },
        401 => Error::Unauthenticated { message },
        403 => Error::PermissionDenied { message },
        404 => Error::NotFound { message },
        409 => Error::Conflict { message },
        429 => Error::RateLimited {
            message,
            retry_after,
            retries: Retries::default(),
        },
        _ => Error::Api {
            status,
            message,
            retries: Retries::default(),
        },
    }
}

/// The server's message from an error body, in the order the incumbent SDK reads it (protocol B §10.2):
/// `message`; else `error` (with `: error_description`); else `errors` joined by `; `; else the JSON as text.
/// A body that is not JSON is used as text, cut at 500 characters, or `HTTP <code>` when empty.
pub(crate) fn server_message(status: u16, body: &[u8]) -> String {
    const LIMIT: usize = 500;
    let text_of = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => {
            let present = |k: &str| map.get(k).filter(|v| !v.is_null());
            if let Some(message) = present("message") {
                text_of(message)
            } else if let Some(error) = present("error") {
                match present("error_description") {
                    Some(d) => format!("{}: {}", text_of(error), text_of(d)),
                    None => text_of(error),
                }
            } else if let Some(serde_json::Value::Array(errors)) = present("errors") {
                errors.iter().map(text_of).collect::<Vec<_>>().join("; ")
            } else {
                serde_json::Value::Object(map).to_string()
            }
        }
        Ok(other) => other.to_string(),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("HTTP {status}")
            } else if text.chars().count() > LIMIT {
                format!(
                    "{}... [truncated]",
                    text.chars().take(LIMIT).collect::<String>()
                )
            } else {
                text.to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_extracted_in_the_incumbent_order() {
        let m = |b: &str| server_message(500, b.as_bytes());
        assert_eq!(m(r#"{"message":"m","error":"e"}"#), "m");
        assert_eq!(
            m(r#"{"error":"invalid_client","error_description":"bad"}"#),
            "invalid_client: bad"
        );
        assert_eq!(m(r#"{"error":"Validation Failed"}"#), "Validation Failed");
        assert_eq!(m(r#"{"errors":["a","b"]}"#), "a; b");
        assert_eq!(m(r#"{"other":1}"#), r#"{"other":1}"#);
        assert_eq!(m(""), "HTTP 500");
        assert_eq!(
            m("<Error><Code>AccessDenied</Code></Error>"),
            "<Error><Code>AccessDenied</Code></Error>"
        );
        let long = "x".repeat(600);
        assert_eq!(m(&long), format!("{}... [truncated]", "x".repeat(500)));
    }

    #[test]
    fn statuses_map_to_semantic_variants() {
        let e = |s| from_status(s, "m".into(), None);
        assert!(matches!(e(400), Error::Validation { .. }));
        assert!(matches!(e(422), Error::Validation { .. }));
        assert!(matches!(e(401), Error::Unauthenticated { .. }));
        assert!(matches!(e(403), Error::PermissionDenied { .. }));
        assert!(matches!(e(404), Error::NotFound { .. }));
        assert!(matches!(e(409), Error::Conflict { .. }));
        assert!(matches!(e(429), Error::RateLimited { .. }));
        assert!(matches!(e(503), Error::Api { status: 503, .. }));
        let spent = e(503).with_retries(Retries {
            count: 3,
            elapsed: Duration::from_millis(1500),
        });
        assert_eq!(
            spent.to_string(),
            "HTTP 503: m (gave up after 3 retries over 1.5s)"
        );
        assert_eq!(spent.retries(), 3);
    }
}
