//! Request and response types, one file per resource; no behaviour beyond reading what the server sends.
//!
//! Responses are read tolerantly: every field the docs or the incumbent SDK show is here, optional unless the
//! contract guarantees it; nested references (`owner {id, email}`) and their flat forms (`owner_id`) are both
//! accepted; keys (`key`, `table_definition_key`, `import_mapping_key`) are strings even when the server sends
//! numbers; unknown status values are kept as `Other(text)`.

mod branch;
mod domain;
mod export;
mod import;
mod table;

pub use branch::Branch;
pub use domain::Domain;
pub use export::{Export, ExportPattern, ExportRequest, ExportStatus};
pub use import::{
    Import, ImportPattern, ImportRequest, ImportResults, ImportStatus, ImportTable,
    ImportTableRequest, ImportTableStatus,
};
pub use table::{DeployedColumnDefinition, DeployedTableDefinition, ImportMapping};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `{id, name}`-style reference as nested objects carry it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Ref {
    pub(crate) id: Option<i64>,
    #[serde(deserialize_with = "opt_key")]
    pub(crate) key: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) abbreviation: Option<String>,
}

/// A key that may arrive as a string or a number (protocol A §3).
pub(crate) fn opt_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

/// A pattern ([`ImportPattern`], [`ExportPattern`]) is sent by its API name.
pub(crate) fn pattern_name<S: Serializer, P: std::fmt::Display>(
    pattern: &P,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(pattern)
}

/// A reported pattern is written back by its API name.
pub(crate) fn opt_pattern_name<S: Serializer, P: std::fmt::Display>(
    pattern: &Option<P>,
    s: S,
) -> Result<S::Ok, S::Error> {
    pattern.as_ref().map(ToString::to_string).serialize(s)
}

/// A reported pattern, tolerantly: a name this client does not know (from a newer service) reads as `None`
/// rather than failing the whole response.
pub(crate) fn opt_pattern<'de, D: Deserializer<'de>, P: std::str::FromStr>(
    d: D,
) -> Result<Option<P>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.and_then(|name| name.parse().ok()))
}

/// `null` read as the type's default (the server may send `null` for lists and flags).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string enum with an `Other` fallback, so new server values never fail a decode.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version of the client does not know.
            Other(String),
        }

        impl $name {
            /// The wire text.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text $(| $alias)* => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::from(String::deserialize(d)?.as_str()))
            }
        }
    };
}
pub(crate) use string_enum;
