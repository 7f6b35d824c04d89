//! Deployed table definitions, their columns, and import mappings (protocol B §4.4, §4.5).

use serde::{Deserialize, Serialize};

use super::{Ref, null_default, opt_key};

/// A table as deployed on one branch, with its deployed columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "TableWire")]
#[non_exhaustive]
pub struct DeployedTableDefinition {
    /// Deployed table definition id; also accepted where a table definition id is expected.
    pub id: i64,
    /// The table's key, stable across branches (opaque string).
    pub key: String,
    /// Display name, e.g. `Delivery Centre`.
    pub name: String,
    /// Physical table name, e.g. `delivery_centre`.
    pub database_table_name: String,
    /// Description.
    pub description: Option<String>,
    /// Whether rows may be added by hand (a `full` import then leaves absent records alone).
    pub allow_manual_rows: Option<bool>,
    /// Id of the table definition (when the server distinguishes it from `id`).
    pub table_definition_id: Option<i64>,
    /// Domain id (from `domain.id` or `domain_id`).
    pub domain_id: Option<i64>,
    /// Domain name.
    pub domain_name: Option<String>,
    /// Domain abbreviation.
    pub domain_abbreviation: Option<String>,
    /// Branch id (from `branch.id` or `branch_id`).
    pub branch_id: Option<i64>,
    /// Branch name.
    pub branch_name: Option<String>,
    /// Columns (from `deployed_column_definitions` or `column_definitions`).
    pub columns: Vec<DeployedColumnDefinition>,
    /// ISO 8601 creation time.
    pub created_at: Option<String>,
    /// ISO 8601 last update.
    pub updated_at: Option<String>,
}

impl DeployedTableDefinition {
    /// Primary-key column names, as the incumbent SDK derives them: primary key, not deleted, named.
    pub fn primary_key_columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.is_primary_key && !c.is_deleted && !c.name.is_empty())
            .map(|c| c.name.as_str())
            .collect()
    }
}

#[derive(Deserialize)]
struct TableWire {
    id: i64,
    #[serde(default, deserialize_with = "opt_key")]
    key: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    database_table_name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    allow_manual_rows: Option<bool>,
    #[serde(default)]
    table_definition_id: Option<i64>,
    #[serde(default)]
    domain: Option<Ref>,
    #[serde(default)]
    domain_id: Option<i64>,
    #[serde(default)]
    domain_name: Option<String>,
    #[serde(default)]
    domain_abbreviation: Option<String>,
    #[serde(default)]
    branch: Option<Ref>,
    #[serde(default)]
    branch_id: Option<i64>,
    #[serde(default)]
    branch_name: Option<String>,
    #[serde(default)]
    deployed_column_definitions: Option<Vec<DeployedColumnDefinition>>,
    #[serde(default)]
    column_definitions: Option<Vec<DeployedColumnDefinition>>,
    #[serde(default)]
    columns: Option<Vec<DeployedColumnDefinition>>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

impl From<TableWire> for DeployedTableDefinition {
    fn from(w: TableWire) -> Self {
        let domain = w.domain.unwrap_or_default();
        let branch = w.branch.unwrap_or_default();
        let columns = [
            w.deployed_column_definitions,
            w.column_definitions,
            w.columns,
        ]
        .into_iter()
        .flatten()
        .find(|c| !c.is_empty())
        .unwrap_or_default();
        DeployedTableDefinition {
            id: w.id,
            key: w.key.unwrap_or_default(),
            name: w.name,
            database_table_name: w.database_table_name,
            description: w.description,
            allow_manual_rows: w.allow_manual_rows,
            table_definition_id: w.table_definition_id,
            domain_id: domain.id.or(w.domain_id),
            domain_name: domain.name.or(w.domain_name),
            domain_abbreviation: domain.abbreviation.or(w.domain_abbreviation),
            branch_id: branch.id.or(w.branch_id),
            branch_name: branch.name.or(w.branch_name),
            columns,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// One deployed column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeployedColumnDefinition {
    /// Column definition id.
    #[serde(default)]
    pub id: Option<i64>,
    /// Column key.
    #[serde(default, deserialize_with = "opt_key")]
    pub key: Option<String>,
    /// Column name as in files.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Type name, e.g. `varchar`, `integer`, `decimal`, `timestamptz`.
    #[serde(default, deserialize_with = "null_default")]
    pub data_type: String,
    /// Maximum length (text) or precision (decimal).
    #[serde(default)]
    pub length: Option<u32>,
    /// Decimal precision, where sent separately.
    #[serde(default)]
    pub precision: Option<u32>,
    /// Decimal scale.
    #[serde(default)]
    pub scale: Option<u32>,
    /// Part of the primary key.
    #[serde(default, deserialize_with = "null_default")]
    pub is_primary_key: bool,
    /// NOT NULL.
    #[serde(default, deserialize_with = "null_default")]
    pub is_required: bool,
    /// Position in files and exports.
    #[serde(default)]
    pub display_order: Option<i64>,
    /// Soft-deleted column.
    #[serde(default, deserialize_with = "null_default")]
    pub is_deleted: bool,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// How a file's columns map onto a table's columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "MappingWire")]
#[non_exhaustive]
pub struct ImportMapping {
    /// Import mapping id.
    pub id: i64,
    /// The mapping's key (opaque string), sent as `import_mapping_key`.
    pub key: String,
    /// Name, unique per table.
    pub name: String,
    /// The table's default mapping.
    pub is_default: bool,
    /// Table definition id (from `table_definition.id` or `table_definition_id`).
    pub table_definition_id: Option<i64>,
    /// Table definition name.
    pub table_definition_name: Option<String>,
    /// Branch id.
    pub branch_id: Option<i64>,
    /// Branch name.
    pub branch_name: Option<String>,
    /// The mapping configuration; its shape is undocumented, so it is kept as JSON.
    pub mapping_config: serde_json::Value,
    /// ISO 8601 creation time.
    pub created_at: Option<String>,
    /// ISO 8601 last update.
    pub updated_at: Option<String>,
}

#[derive(Deserialize)]
struct MappingWire {
    id: i64,
    #[serde(default, deserialize_with = "opt_key")]
    key: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    is_default: bool,
    #[serde(default)]
    table_definition: Option<Ref>,
    #[serde(default)]
    table_definition_id: Option<i64>,
    #[serde(default)]
    table_definition_name: Option<String>,
    #[serde(default)]
    branch: Option<Ref>,
    #[serde(default)]
    branch_id: Option<i64>,
    #[serde(default)]
    branch_name: Option<String>,
    #[serde(default)]
    mapping_config: serde_json::Value,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

impl From<MappingWire> for ImportMapping {
    fn from(w: MappingWire) -> Self {
        let table = w.table_definition.unwrap_or_default();
        let branch = w.branch.unwrap_or_default();
        ImportMapping {
            id: w.id,
            key: w.key.unwrap_or_default(),
            name: w.name,
            is_default: w.is_default,
            table_definition_id: table.id.or(w.table_definition_id),
            table_definition_name: table.name.or(w.table_definition_name),
            branch_id: branch.id.or(w.branch_id),
            branch_name: branch.name.or(w.branch_name),
            mapping_config: w.mapping_config,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_keys_and_either_column_list_read() {
        let t: DeployedTableDefinition = serde_json::from_str(
            r#"{"id":5,"key":456,"name":"Site","database_table_name":"sites","domain":{"id":1,"name":"Clinics","abbreviation":"clin"},
                "column_definitions":[{"name":"site_code","data_type":"varchar","is_primary_key":true},{"name":"x","is_primary_key":true,"is_deleted":true}]}"#,
        )
        .unwrap();
        assert_eq!(t.key, "456");
        assert_eq!(t.domain_abbreviation.as_deref(), Some("clin"));
        assert_eq!(t.primary_key_columns(), vec!["site_code"]);
        let m: ImportMapping = serde_json::from_str(
            r#"{"id":1,"key":50,"is_default":true,"table_definition":{"id":5,"name":"Site"}}"#,
        )
        .unwrap();
        assert_eq!((m.key.as_str(), m.table_definition_id), ("50", Some(5)));
    }
}
