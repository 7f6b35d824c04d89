//! What is retried, how often and how long: [`RetryConfig`].

use std::time::Duration;

use rand::Rng;

/// Retry policy of every request the client sends.
///
/// # What is retried
///
/// | request | retried on | never retried on |
/// |---|---|---|
/// | idempotent: every `GET` (metadata, export and import status, lists), the token request, a presigned `PUT` whose body can be produced again ([`UploadBody::bytes`](crate::UploadBody::bytes), [`file`](crate::UploadBody::file), [`reopen`](crate::UploadBody::reopen)), a presigned `GET` until its headers arrive | connection errors, timeouts, dropped connections, `429`, `502`, `503`, `504` | any other status |
/// | creates: `POST /api/imports/new`, `/api/import_tables/new`, `/api/exports/new` | `429` and connection-refused (the request provably did nothing); after any other failure that leaves the outcome open (dropped connection, timeout, `502`/`503`/`504`) the client first **looks the resource up by its correlation code** and only resends when that finds nothing | any other status |
/// | state changes: `complete`, `upload_complete`, `upload_failed` | as idempotent requests; a `409` that follows a lost answer is settled by reading the resource (if it already moved, that is the result) | any other status |
/// | a one-shot upload stream ([`UploadBody::stream`](crate::UploadBody::stream)) | never: the bytes are gone | — |
///
/// A `401` is not a retry: the client re-authenticates exactly once and resends; a second `401` is
/// [`Error::Unauthenticated`](crate::Error::Unauthenticated).
///
/// # How long
///
/// The `n`-th retry waits a random duration between zero and `min(max_backoff, init_backoff × base^n)`
/// ("full jitter"), or the server's `Retry-After` (seconds) when it sent one and that is longer. A retry is only
/// started while fewer than `max_retries` retries were spent and the wait would still end within
/// `retry_timeout` of the first attempt; a `Retry-After` that ends past that budget stops the retries at once.
/// The error returned when retries run out says how many were spent ([`Error::retries`](crate::Error::retries)).
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Most retries after the first attempt. Default 10.
    pub max_retries: u32,
    /// Most time from the first attempt to the start of the last retry. Default 3 minutes.
    pub retry_timeout: Duration,
    /// Upper bound of the first retry's wait. Default 100 ms.
    pub init_backoff: Duration,
    /// Cap of the wait's upper bound. Default 15 s.
    pub max_backoff: Duration,
    /// Growth of the upper bound per retry. Default 2.
    pub base: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> Self {
        RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        }
    }

    /// The wait before retry number `retry` (0-based), honouring a `Retry-After`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling =
            self.init_backoff.as_secs_f64() * self.base.max(1.0).powi(retry.min(64) as i32);
        let ceiling = ceiling.min(self.max_backoff.as_secs_f64()).max(0.0);
        let jitter = if ceiling > 0.0 {
            rand::thread_rng().gen_range(0.0..=ceiling)
        } else {
            0.0
        };
        let jitter = Duration::from_secs_f64(jitter);
        match retry_after {
            Some(after) => after.max(jitter),
            None => jitter,
        }
    }
}

/// Where a call stands in its retry budget.
#[derive(Debug)]
pub(crate) struct Budget {
    started: tokio::time::Instant,
    pub(crate) spent: u32,
}

impl Budget {
    pub(crate) fn start() -> Self {
        Budget {
            started: tokio::time::Instant::now(),
            spent: 0,
        }
    }

    pub(crate) fn retries(&self) -> crate::Retries {
        crate::Retries {
            count: self.spent,
            elapsed: self.started.elapsed(),
        }
    }

    /// The wait before the next retry, or `None` when the budget does not allow one.
    pub(crate) fn next(
        &self,
        config: &RetryConfig,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if self.spent >= config.max_retries {
            return None;
        }
        let delay = config.delay(self.spent, retry_after);
        (self.started.elapsed() + delay <= config.retry_timeout).then_some(delay)
    }
}

/// Statuses that say "try again later" without the request having done anything useful.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (integer or decimal). An HTTP-date is ignored (the backoff applies).
pub(crate) fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs: f64 = text.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_jittered_capped_and_honour_retry_after() {
        let config = RetryConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            ..RetryConfig::default()
        };
        for retry in 0..10 {
            let ceiling = Duration::from_millis((100u64 << retry.min(3)).min(800));
            for _ in 0..50 {
                assert!(config.delay(retry, None) <= ceiling);
            }
        }
        assert!(config.delay(0, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        let distinct: std::collections::HashSet<_> =
            (0..20).map(|_| config.delay(5, None)).collect();
        assert!(distinct.len() > 1, "full jitter varies");
    }

    #[test]
    fn budget_stops_at_max_retries_and_total_time() {
        let config = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(1),
            ..RetryConfig::default()
        };
        let mut budget = Budget::start();
        assert!(budget.next(&config, None).is_some());
        assert!(
            budget.next(&config, Some(Duration::from_secs(5))).is_none(),
            "Retry-After past the budget"
        );
        budget.spent = 2;
        assert!(budget.next(&config, None).is_none());
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(reqwest::header::RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), None);
    }
}
