//! Fault injection: makes a chosen share of requests fail the ways real networks and services fail, so
//! clients' retry logic is tested against the real thing rather than a mock.
//!
//! Faults are decided before a request reaches its handler, so an injected fault never performed the
//! request's action: a client that retries after one creates no duplicate.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One way a request can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `429 Too Many Requests` with a `Retry-After` header.
    TooManyRequests,
    /// `503 Service Unavailable`.
    Unavailable,
    /// The connection is closed without an answer.
    Drop,
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "429" => Ok(FaultKind::TooManyRequests),
            "503" => Ok(FaultKind::Unavailable),
            "drop" => Ok(FaultKind::Drop),
            other => Err(format!(
                "unknown fault kind {other:?} (expected 429, 503 or drop)"
            )),
        }
    }
}

/// The endpoint groups faults can be aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointGroup {
    /// `/oauth/token`.
    Auth,
    /// Branches, domains, table definitions, import mappings, table data.
    Metadata,
    /// Export creation and polling.
    Exports,
    /// Imports and import tables.
    Imports,
    /// Presigned uploads and downloads.
    Blobs,
}

impl EndpointGroup {
    /// Every group.
    pub const ALL: [EndpointGroup; 5] = [
        EndpointGroup::Auth,
        EndpointGroup::Metadata,
        EndpointGroup::Exports,
        EndpointGroup::Imports,
        EndpointGroup::Blobs,
    ];

    /// The group a request path belongs to, if any.
    pub fn of_path(path: &str) -> Option<Self> {
        if path.starts_with("/oauth/") {
            Some(EndpointGroup::Auth)
        } else if path.starts_with("/_s3/") {
            Some(EndpointGroup::Blobs)
        } else if path.starts_with("/api/") {
            Some(if path.contains("/exports") {
                EndpointGroup::Exports
            } else if path.contains("/imports") || path.contains("/import_tables") {
                EndpointGroup::Imports
            } else {
                EndpointGroup::Metadata
            })
        } else {
            None
        }
    }
}

impl FromStr for EndpointGroup {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "auth" => Ok(EndpointGroup::Auth),
            "metadata" => Ok(EndpointGroup::Metadata),
            "exports" => Ok(EndpointGroup::Exports),
            "imports" => Ok(EndpointGroup::Imports),
            "blobs" => Ok(EndpointGroup::Blobs),
            other => Err(format!(
                "unknown endpoint group {other:?} (expected auth, metadata, exports, imports or blobs)"
            )),
        }
    }
}

/// What to inject.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Share of requests in the chosen groups that fail, 0.0 to 1.0.
    pub rate: f64,
    /// The kinds to draw from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// The groups faults apply to.
    pub groups: Vec<EndpointGroup>,
    /// The `Retry-After` of injected 429s.
    pub retry_after: Duration,
    /// Seed of the random draw, for reproducible runs.
    pub seed: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate: 0.0,
            kinds: vec![
                FaultKind::TooManyRequests,
                FaultKind::Unavailable,
                FaultKind::Drop,
            ],
            groups: EndpointGroup::ALL.to_vec(),
            retry_after: Duration::from_secs(1),
            seed: 0,
        }
    }
}

/// Draws faults for requests.
pub(crate) struct FaultInjector {
    config: FaultConfig,
    rng: Mutex<StdRng>,
}

impl FaultInjector {
    pub(crate) fn new(config: FaultConfig) -> Option<Self> {
        if config.rate <= 0.0 || config.kinds.is_empty() || config.groups.is_empty() {
            return None;
        }
        let rng = Mutex::new(StdRng::seed_from_u64(config.seed));
        Some(FaultInjector { config, rng })
    }

    pub(crate) fn retry_after(&self) -> Duration {
        self.config.retry_after
    }

    /// The fault for a request to `path`, if one is drawn.
    pub(crate) fn draw(&self, path: &str) -> Option<FaultKind> {
        let group = EndpointGroup::of_path(path)?;
        if !self.config.groups.contains(&group) {
            return None;
        }
        let mut rng = self.rng.lock().expect("fault rng");
        if rng.r#gen::<f64>() >= self.config.rate {
            return None;
        }
        Some(self.config.kinds[rng.gen_range(0..self.config.kinds.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_rates() {
        assert_eq!(
            EndpointGroup::of_path("/api/exports/new"),
            Some(EndpointGroup::Exports)
        );
        assert_eq!(
            EndpointGroup::of_path("/api/v1/imports/3"),
            Some(EndpointGroup::Imports)
        );
        assert_eq!(
            EndpointGroup::of_path("/api/import_tables/3/upload_complete"),
            Some(EndpointGroup::Imports)
        );
        assert_eq!(
            EndpointGroup::of_path("/api/v1/branches"),
            Some(EndpointGroup::Metadata)
        );
        assert_eq!(
            EndpointGroup::of_path("/_s3/uploads/1"),
            Some(EndpointGroup::Blobs)
        );
        assert_eq!(EndpointGroup::of_path("/healthz"), None);
        let always = FaultInjector::new(FaultConfig {
            rate: 1.0,
            kinds: vec![FaultKind::Unavailable],
            groups: vec![EndpointGroup::Exports],
            ..FaultConfig::default()
        })
        .unwrap();
        assert_eq!(always.draw("/api/exports/1"), Some(FaultKind::Unavailable));
        assert_eq!(always.draw("/api/v1/branches"), None);
        let some = FaultInjector::new(FaultConfig {
            rate: 0.3,
            ..FaultConfig::default()
        })
        .unwrap();
        let hits = (0..10_000)
            .filter(|_| some.draw("/api/v1/branches").is_some())
            .count();
        assert!(
            (2_500..3_500).contains(&hits),
            "rate 0.3 drew {hits} of 10000"
        );
        assert!(FaultInjector::new(FaultConfig::default()).is_none());
    }
}
