//! OAuth2 client credentials and the token cache.
//!
//! A token is reused while more than `min(min_ttl, lifetime / 2)` of its lifetime remains (`min_ttl` defaults to
//! 5 minutes, as the incumbent SDK; the `lifetime / 2` bound keeps very short-lived tokens usable instead of
//! refreshing before every call). Expiry is measured on the client's monotonic clock from when the token
//! arrived, so clock skew with the server does not matter. Refreshes are serialised by one async lock with a
//! second check inside it, so concurrent callers that find the token stale authenticate once.

use std::future::Future;
use std::sync::RwLock;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::redact::Secret;

/// Client credentials for the `client_credentials` grant. `Debug` is safe: the secret prints redacted.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) scope: Option<String>,
}

/// A token as the cache keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) value: Secret,
    pub(crate) expires_at: Instant,
    pub(crate) lifetime: Duration,
}

/// The token endpoint's answer (protocol A §2). `expires_in` defaults to 7200 like the incumbent SDK.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<f64>,
}

impl TokenResponse {
    pub(crate) fn into_token(self, received: Instant) -> Token {
        let secs = self
            .expires_in
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(7200.0);
        let lifetime = Duration::from_secs_f64(secs.min(10.0 * 365.0 * 86_400.0));
        Token {
            value: Secret::new(self.access_token),
            expires_at: received + lifetime,
            lifetime,
        }
    }
}

/// Caches one access token; see the module docs for the refresh rule.
#[derive(Debug)]
pub(crate) struct TokenCache {
    min_ttl: Duration,
    current: RwLock<Option<Token>>,
    refresh: tokio::sync::Mutex<()>,
}

impl TokenCache {
    pub(crate) fn new(min_ttl: Duration) -> Self {
        TokenCache {
            min_ttl,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Secret> {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        let token = guard.as_ref()?;
        let margin = self.min_ttl.min(token.lifetime / 2);
        let remaining = token.expires_at.saturating_duration_since(Instant::now());
        (remaining > margin).then(|| token.value.clone())
    }

    /// The cached token, or a new one from `fetch` (called by at most one caller at a time). A freshly
    /// fetched token is used even if its lifetime is already short.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> crate::Result<Secret>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = crate::Result<Token>>,
    {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _refreshing = self.refresh.lock().await;
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let token = fetch().await?;
        let value = token.value.clone();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(token);
        Ok(value)
    }

    /// Forgets `rejected` (a token the server answered 401 to) unless another caller already replaced it.
    pub(crate) fn invalidate(&self, rejected: &Secret) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_some_and(|t| &t.value == rejected) {
            *guard = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn token(n: u32, lifetime: Duration) -> Token {
        Token {
            value: Secret::new(format!("t{n}")),
            expires_at: Instant::now() + lifetime,
            lifetime,
        }
    }

    #[tokio::test]
    async fn concurrent_callers_fetch_once() {
        let cache = Arc::new(TokenCache::new(Duration::from_secs(300)));
        let fetches = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, fetches) = (cache.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        let n = fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(token(n, Duration::from_secs(3600)))
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().expose(), "t0");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_inside_the_min_ttl_and_after_invalidation() {
        let cache = TokenCache::new(Duration::from_secs(300));
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            Ok(token(
                fetches.fetch_add(1, Ordering::SeqCst),
                Duration::from_secs(3600),
            ))
        };
        assert_eq!(cache.get(fetch).await.unwrap().expose(), "t0");
        tokio::time::advance(Duration::from_secs(3000)).await;
        assert_eq!(
            cache.get(fetch).await.unwrap().expose(),
            "t0",
            "10 minutes left is still fresh"
        );
        tokio::time::advance(Duration::from_secs(400)).await;
        assert_eq!(
            cache.get(fetch).await.unwrap().expose(),
            "t1",
            "under 5 minutes left: refreshed"
        );
        cache.invalidate(&Secret::new("t0"));
        assert_eq!(
            cache.get(fetch).await.unwrap().expose(),
            "t1",
            "a stale rejection does not drop the new token"
        );
        cache.invalidate(&Secret::new("t1"));
        assert_eq!(cache.get(fetch).await.unwrap().expose(), "t2");
        // A 4-second token is reused for its first half rather than refreshed on every call.
        let short = TokenCache::new(Duration::from_secs(300));
        let fetch = || async {
            Ok(token(
                fetches.fetch_add(1, Ordering::SeqCst),
                Duration::from_secs(4),
            ))
        };
        let first = short.get(fetch).await.unwrap();
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(short.get(fetch).await.unwrap(), first);
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert_ne!(short.get(fetch).await.unwrap(), first);
    }
}
