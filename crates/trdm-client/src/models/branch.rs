//! Branches (protocol B §4.2).

use serde::{Deserialize, Serialize};

use super::{Ref, null_default};

/// A branch: `prod`, `test`, or a developer's private branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Wire")]
#[non_exhaustive]
pub struct Branch {
    /// Branch id.
    pub id: i64,
    /// Name, e.g. `prod`; private branches of different owners may share one.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// `shared` or `private`.
    pub branch_type: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Suffix of the branch's database schema.
    pub database_suffix: Option<String>,
    /// The developer's default private branch.
    pub is_default_dev_branch: bool,
    /// Integration branch flag (meaning undocumented).
    pub is_integration_branch: bool,
    /// Parent branch id (from `parent_branch.id` or `parent_branch_id`).
    pub parent_branch_id: Option<i64>,
    /// Parent branch name (from `parent_branch.name`).
    pub parent_branch_name: Option<String>,
    /// Owner's user id (from `owner.id` or `owner_id`).
    pub owner_id: Option<i64>,
    /// Owner's email (from `owner.email`).
    pub owner_email: Option<String>,
    /// ISO 8601 creation time.
    pub created_at: Option<String>,
    /// ISO 8601 last update.
    pub updated_at: Option<String>,
}

#[derive(Deserialize)]
struct Wire {
    id: i64,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    branch_type: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    database_suffix: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    is_default_dev_branch: bool,
    #[serde(default, deserialize_with = "null_default")]
    is_integration_branch: bool,
    #[serde(default)]
    parent_branch: Option<Ref>,
    #[serde(default)]
    parent_branch_id: Option<i64>,
    #[serde(default)]
    parent_branch_name: Option<String>,
    #[serde(default)]
    owner: Option<Ref>,
    #[serde(default)]
    owner_id: Option<i64>,
    #[serde(default)]
    owner_email: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

impl From<Wire> for Branch {
    fn from(w: Wire) -> Self {
        let parent = w.parent_branch.unwrap_or_default();
        let owner = w.owner.unwrap_or_default();
        Branch {
            id: w.id,
            name: w.name,
            description: w.description,
            branch_type: w.branch_type,
            status: w.status,
            database_suffix: w.database_suffix,
            is_default_dev_branch: w.is_default_dev_branch,
            is_integration_branch: w.is_integration_branch,
            parent_branch_id: parent.id.or(w.parent_branch_id),
            parent_branch_name: parent.name.or(w.parent_branch_name),
            owner_id: owner.id.or(w.owner_id),
            owner_email: owner.email.or(w.owner_email),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_flat_references_both_read() {
        let nested: Branch = serde_json::from_str(
            r#"{"id":2,"name":"dev","parent_branch":{"id":1,"name":"prod"},"owner":{"id":7,"email":"a@b"},"is_integration_branch":null}"#,
        )
        .unwrap();
        assert_eq!(
            (
                nested.parent_branch_id,
                nested.parent_branch_name.as_deref()
            ),
            (Some(1), Some("prod"))
        );
        assert_eq!(
            (nested.owner_id, nested.owner_email.as_deref()),
            (Some(7), Some("a@b"))
        );
        let flat: Branch =
            serde_json::from_str(r#"{"id":2,"name":"dev","parent_branch_id":1,"owner_id":7}"#)
                .unwrap();
        assert_eq!((flat.parent_branch_id, flat.owner_id), (Some(1), Some(7)));
        let again: Branch = serde_json::from_value(serde_json::to_value(&nested).unwrap()).unwrap();
        assert_eq!(again, nested, "our own serialization reads back");
    }
}
