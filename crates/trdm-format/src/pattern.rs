//! The one list of pattern names: how an import applies a file ([`ImportPattern`], protocol part B §7.2) and
//! what an export selects ([`ExportPattern`], §7.3).
//!
//! The emulator validates them, the client sends them, the sync engine acts on them, and the CLI and Python
//! bindings read them from users; all of them use these two types.

use std::fmt::{self, Display};
use std::str::FromStr;

/// How an import applies a file: whether records absent from it, or marked `d`, are deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImportPattern {
    /// The file is the whole table: absent records are deleted (unless the table allows manual rows).
    Full,
    /// Inserts and updates only (the legacy name `incremental` means this too).
    IncrementalUpsertOnly,
    /// Inserts, updates and deletes, by each row's [`TRAN_CODE_COLUMN`](crate::TRAN_CODE_COLUMN)
    /// (`i`, `u`, `d`).
    IncrementalWithDelete,
}

impl ImportPattern {
    /// Every pattern, in declaration order.
    pub const ALL: [ImportPattern; 3] = [
        ImportPattern::Full,
        ImportPattern::IncrementalUpsertOnly,
        ImportPattern::IncrementalWithDelete,
    ];

    /// The legacy spelling of [`ImportPattern::IncrementalUpsertOnly`], still accepted.
    pub const LEGACY_INCREMENTAL: &'static str = "incremental";

    /// Every accepted name: the API names of [`ImportPattern::ALL`], then [`ImportPattern::LEGACY_INCREMENTAL`].
    pub const NAMES: [&'static str; 4] = [
        ImportPattern::ALL[0].as_str(),
        ImportPattern::ALL[1].as_str(),
        ImportPattern::ALL[2].as_str(),
        ImportPattern::LEGACY_INCREMENTAL,
    ];

    /// The name the API uses.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ImportPattern::Full => "full",
            ImportPattern::IncrementalUpsertOnly => "incremental_upsert_only",
            ImportPattern::IncrementalWithDelete => "incremental_with_delete",
        }
    }

    /// Whether files of this pattern carry [`TRAN_CODE_COLUMN`](crate::TRAN_CODE_COLUMN) (it is forbidden with
    /// the others).
    pub fn uses_tran_code(&self) -> bool {
        *self == ImportPattern::IncrementalWithDelete
    }

    /// The pattern `name` denotes when spelled exactly as in [`ImportPattern::NAMES`] (as the service reads
    /// it); [`FromStr`] is the liberal reading for users.
    pub fn from_name(name: &str) -> Option<ImportPattern> {
        Self::lookup(name, |a, b| a == b)
    }

    fn lookup(name: &str, same: impl Fn(&str, &str) -> bool) -> Option<ImportPattern> {
        if same(name, Self::LEGACY_INCREMENTAL) {
            return Some(ImportPattern::IncrementalUpsertOnly);
        }
        Self::ALL.into_iter().find(|p| same(name, p.as_str()))
    }
}

impl Display for ImportPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImportPattern {
    type Err = UnknownImportPattern;

    /// The API names, trimmed and case-insensitive, and the legacy `incremental` (= `incremental_upsert_only`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::lookup(s, str::eq_ignore_ascii_case).ok_or_else(|| UnknownImportPattern(s.to_owned()))
    }
}

/// A name that is none of [`ImportPattern::NAMES`] (trimmed); the message lists the accepted names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownImportPattern(pub String);

/// At most this many characters of the unknown name are shown.
const MAX_SHOWN_CHARS: usize = 100;

impl Display for UnknownImportPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_unknown(f, "import", &self.0, &ImportPattern::NAMES)
    }
}

/// `unknown {what} pattern "…" (expected a, b or c)`, the name cut at [`MAX_SHOWN_CHARS`].
fn write_unknown(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    text: &str,
    names: &[&str],
) -> fmt::Result {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        None => write!(f, "unknown {what} pattern {text:?}")?,
        Some((cut, _)) => write!(
            f,
            "unknown {what} pattern {:?}… ({} characters)",
            &text[..cut],
            text.chars().count()
        )?,
    }
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            write!(f, " (expected {} or {last})", rest.join(", "))
        }
        Some((last, _)) => write!(f, " (expected {last})"),
        None => Ok(()),
    }
}

impl std::error::Error for UnknownImportPattern {}

/// What an export selects: every current record, or the records changed after a high-water mark (with
/// `include_history`, every version instead of the current one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ExportPattern {
    /// Every record; a download replaces its target.
    #[default]
    Full,
    /// Records changed after the high-water mark; a download merges them into its target.
    Incremental,
}

impl ExportPattern {
    /// Every pattern, in declaration order.
    pub const ALL: [ExportPattern; 2] = [ExportPattern::Full, ExportPattern::Incremental];

    /// Every accepted name, the API names of [`ExportPattern::ALL`].
    pub const NAMES: [&'static str; 2] = [
        ExportPattern::ALL[0].as_str(),
        ExportPattern::ALL[1].as_str(),
    ];

    /// The name the API uses.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ExportPattern::Full => "full",
            ExportPattern::Incremental => "incremental",
        }
    }

    /// The pattern `name` denotes when spelled exactly as the API spells it (as the service reads it);
    /// [`FromStr`] is the liberal reading for users.
    pub fn from_name(name: &str) -> Option<ExportPattern> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl Display for ExportPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportPattern {
    type Err = UnknownExportPattern;

    /// The API names, trimmed and case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownExportPattern(s.to_owned()))
    }
}

/// A name that is none of [`ExportPattern::NAMES`] (trimmed); the message lists the accepted names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownExportPattern(pub String);

impl Display for UnknownExportPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_unknown(f, "export", &self.0, &ExportPattern::NAMES)
    }
}

impl std::error::Error for UnknownExportPattern {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for pattern in ImportPattern::ALL {
            assert_eq!(pattern.as_str().parse::<ImportPattern>(), Ok(pattern));
            assert_eq!(ImportPattern::from_name(pattern.as_str()), Some(pattern));
            assert_eq!(pattern.to_string(), pattern.as_str());
        }
        assert_eq!(
            ImportPattern::NAMES,
            [
                "full",
                "incremental_upsert_only",
                "incremental_with_delete",
                "incremental"
            ]
        );
    }

    #[test]
    fn legacy_name_and_liberal_reading() {
        assert_eq!(
            "incremental".parse::<ImportPattern>(),
            Ok(ImportPattern::IncrementalUpsertOnly)
        );
        assert_eq!(
            ImportPattern::from_name("incremental"),
            Some(ImportPattern::IncrementalUpsertOnly)
        );
        assert_eq!(" FULL ".parse::<ImportPattern>(), Ok(ImportPattern::Full));
        assert_eq!(
            "Incremental_With_Delete".parse::<ImportPattern>(),
            Ok(ImportPattern::IncrementalWithDelete)
        );
        // The service's reading is exact.
        assert_eq!(ImportPattern::from_name(" full"), None);
        assert_eq!(ImportPattern::from_name("FULL"), None);
    }

    #[test]
    fn unknown_names_list_the_accepted_ones() {
        assert_eq!(
            "merge".parse::<ImportPattern>().unwrap_err().to_string(),
            "unknown import pattern \"merge\" (expected full, incremental_upsert_only, \
             incremental_with_delete or incremental)"
        );
        assert_eq!(
            " merge\n".parse::<ImportPattern>(),
            Err(UnknownImportPattern("merge".into()))
        );
        let long = "x".repeat(150);
        assert_eq!(
            long.parse::<ImportPattern>().unwrap_err().to_string(),
            format!(
                "unknown import pattern \"{}\"… (150 characters) (expected full, incremental_upsert_only, \
                 incremental_with_delete or incremental)",
                "x".repeat(100)
            )
        );
    }

    #[test]
    fn only_incremental_with_delete_uses_tran_codes() {
        assert!(ImportPattern::IncrementalWithDelete.uses_tran_code());
        assert!(!ImportPattern::Full.uses_tran_code());
        assert!(!ImportPattern::IncrementalUpsertOnly.uses_tran_code());
    }

    #[test]
    fn export_patterns_read_liberally_and_list_the_names() {
        for pattern in ExportPattern::ALL {
            assert_eq!(pattern.as_str().parse::<ExportPattern>(), Ok(pattern));
            assert_eq!(ExportPattern::from_name(pattern.as_str()), Some(pattern));
        }
        assert_eq!(
            " Incremental ".parse::<ExportPattern>(),
            Ok(ExportPattern::Incremental)
        );
        assert_eq!(ExportPattern::from_name("FULL"), None);
        assert_eq!(
            "history".parse::<ExportPattern>().unwrap_err().to_string(),
            "unknown export pattern \"history\" (expected full or incremental)"
        );
    }
}
