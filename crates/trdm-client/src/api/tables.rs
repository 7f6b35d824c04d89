//! Deployed table definitions and import mappings.

use crate::Result;
use crate::api::{eq, pick_one};
use crate::client::Client;
use crate::models::{DeployedTableDefinition, ImportMapping};

impl Client {
    /// The tables deployed on a branch, optionally only one domain's, each with its deployed columns.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn deployed_table_definitions(
        &self,
        branch_id: i64,
        domain_id: Option<i64>,
    ) -> Result<Vec<DeployedTableDefinition>> {
        let mut query = vec![("branch_id", branch_id.to_string())];
        if let Some(domain_id) = domain_id {
            query.push(("domain_id", domain_id.to_string()));
        }
        self.list_all("/api/v1/deployed_table_definitions", query)
            .await
    }

    /// The table with `key` as deployed on `branch_id` (`GET /api/v1/deployed_table_definitions/lookup`).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn deployed_table_definition(
        &self,
        key: &str,
        branch_id: i64,
    ) -> Result<DeployedTableDefinition> {
        let query = [
            ("key", key.to_owned()),
            ("branch_id", branch_id.to_string()),
        ];
        self.get_json("/api/v1/deployed_table_definitions/lookup", &query)
            .await
    }

    /// The default import mapping of a table. `table_definition_id` may be a deployed table definition's
    /// `id`, as the incumbent's convention sync passes.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn default_import_mapping(&self, table_definition_id: i64) -> Result<ImportMapping> {
        let path = format!("/api/v1/table_definitions/{table_definition_id}/import_mappings");
        let found: Vec<ImportMapping> = self.list_all(path, vec![eq("is_default", "true")]).await?;
        let mut defaults: Vec<ImportMapping> = found.into_iter().filter(|m| m.is_default).collect();
        defaults.truncate(1);
        pick_one(
            defaults,
            &format!("default import mapping for table definition {table_definition_id}"),
            "",
        )
    }

    /// The import mapping with `key` of a table.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn import_mapping_by_key(
        &self,
        table_definition_id: i64,
        key: &str,
    ) -> Result<ImportMapping> {
        let path = format!("/api/v1/table_definitions/{table_definition_id}/import_mappings");
        let found: Vec<ImportMapping> = self.list_all(path, vec![eq("key", key)]).await?;
        let mut matches: Vec<ImportMapping> = found.into_iter().filter(|m| m.key == key).collect();
        matches.truncate(1);
        pick_one(
            matches,
            &format!("import mapping with key {key:?} for table definition {table_definition_id}"),
            "",
        )
    }
}
