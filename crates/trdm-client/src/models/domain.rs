//! Domains (protocol B §4.3).

use serde::{Deserialize, Serialize};

/// A subject area owning tables; its abbreviation prefixes the convention-sync names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Domain {
    /// Domain id.
    pub id: i64,
    /// Name, unique in the account.
    #[serde(default, deserialize_with = "super::null_default")]
    pub name: String,
    /// Short code (at most 4 characters), used as stored.
    #[serde(default)]
    pub abbreviation: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// ISO 8601 creation time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// ISO 8601 last update.
    #[serde(default)]
    pub updated_at: Option<String>,
}
