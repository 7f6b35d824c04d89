//! Imports and import tables: the batch (`/api/imports/new`, `/api/imports/{id}/complete`,
//! `GET /api/v1/imports/{id}`), its table files (`/api/import_tables/new`, `…/upload_complete`,
//! `…/upload_failed`) and the presigned `PUT` between them.

use futures_util::FutureExt;
use serde_json::{Value, json};

use crate::api::{Baseline, eq, text};
use crate::client::Client;
use crate::http::{Kind, Recovery};
use crate::models::{
    Import, ImportRequest, ImportResults, ImportStatus, ImportTable, ImportTableRequest,
    ImportTableStatus,
};
use crate::transfer::UploadBody;
use crate::{Error, Result};

impl Client {
    /// Opens an import batch. Never sent twice blindly; see [`create_export`](Client::create_export).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn create_import(&self, request: &ImportRequest) -> Result<Import> {
        let (given, code) = Client::correlation_code(request.correlation_code.as_deref());
        let baseline = self.baseline(given, "/api/v1/imports", &code).await?;
        let mut body = json!({ "branch_id": request.branch_id, "correlation_code": code });
        if let Some(description) = request.description.as_deref().filter(|d| !d.is_empty()) {
            body["description"] = Value::from(description);
        }
        let lookup = || {
            async {
                let found = self.imports_with_code(&code).await?;
                Ok(baseline.newest_match(found, |i| {
                    i["branch_id"].as_i64() == Some(request.branch_id)
                }))
            }
            .boxed()
        };
        let recovery = Recovery {
            what: "import".into(),
            correlation_code: code.clone(),
            lookup: &lookup,
        };
        self.post_json(
            "/api/imports/new",
            Some(&body),
            Kind::Create,
            Some(&recovery),
        )
        .await
    }

    /// The batch and its table files with their per-table counts (`GET /api/v1/imports/{id}`).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn import_results(&self, id: i64) -> Result<ImportResults> {
        self.get_json(&format!("/api/v1/imports/{id}"), &[]).await
    }

    /// Every import batch carrying `correlation_code`, oldest first.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn find_imports(&self, correlation_code: &str) -> Result<Vec<Import>> {
        self.list_all(
            "/api/v1/imports",
            vec![eq("correlation_code", correlation_code)],
        )
        .await
    }

    /// The newest import batch carrying `correlation_code`, from at most two one-item requests (so the
    /// cost does not grow with the batches a recurring sync has made).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn newest_import(&self, correlation_code: &str) -> Result<Option<Import>> {
        let newest = self
            .last_item(
                "/api/v1/imports",
                vec![eq("correlation_code", correlation_code)],
            )
            .await?;
        newest
            .map(|value| serde_json::from_value(value).map_err(|e| Error::decode("import", e)))
            .transpose()
    }

    /// Closes the batch after its table files were announced; tables never uploaded fail. With no message
    /// the request has no body, as the incumbent sends it.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn complete_import(&self, id: i64, message: Option<&str>) -> Result<Import> {
        let body = message
            .filter(|m| !m.is_empty())
            .map(|m| json!({ "message": m }));
        let lookup = || {
            async move {
                let results: Value = self.get_json(&format!("/api/v1/imports/{id}"), &[]).await?;
                let import = results.get("import").cloned().unwrap_or(results);
                Ok(
                    (text(&import, "status").as_deref() != Some(ImportStatus::Created.as_str()))
                        .then_some(import),
                )
            }
            .boxed()
        };
        let recovery = Recovery {
            what: format!("import {id}"),
            correlation_code: String::new(),
            lookup: &lookup,
        };
        self.post_json(
            &format!("/api/imports/{id}/complete"),
            body.as_ref(),
            Kind::Transition,
            Some(&recovery),
        )
        .await
    }

    /// Adds a table file to a batch and returns it with its presigned upload URL. Never sent twice blindly:
    /// a lost answer is settled by finding the table file by correlation code in the batch.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn create_import_table(&self, request: &ImportTableRequest) -> Result<ImportTable> {
        for (name, value) in [
            ("table_definition_key", &request.table_definition_key),
            ("import_mapping_key", &request.import_mapping_key),
        ] {
            if value.is_empty() {
                return Err(Error::Validation {
                    message: format!("{name} is required"),
                });
            }
        }
        let (given, code) = Client::correlation_code(request.correlation_code.as_deref());
        let baseline = if given {
            Baseline::of(&self.tables_with_code(request.import_id, &code).await?)
        } else {
            Baseline::empty()
        };
        let mut body = serde_json::to_value(request)
            .map_err(|e| Error::decode("the import table request", e))?;
        body["correlation_code"] = Value::from(code.clone());
        let lookup = || {
            async {
                let found = self.tables_with_code(request.import_id, &code).await?;
                Ok(baseline.newest_match(found, |t| {
                    let key = t
                        .get("deployed_table_definition")
                        .and_then(|d| text(d, "key"))
                        .or_else(|| text(t, "table_definition_key"));
                    key.as_deref() == Some(request.table_definition_key.as_str())
                        && text(t, "pattern").as_deref() == Some(request.pattern.as_str())
                }))
            }
            .boxed()
        };
        let recovery = Recovery {
            what: "import table".into(),
            correlation_code: code.clone(),
            lookup: &lookup,
        };
        self.post_json(
            "/api/import_tables/new",
            Some(&body),
            Kind::Create,
            Some(&recovery),
        )
        .await
    }

    /// One table file (`GET /api/import_tables/{id}`), with a fresh presigned URL while it is `created`.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn import_table(&self, id: i64) -> Result<ImportTable> {
        self.get_json(&format!("/api/import_tables/{id}"), &[])
            .await
    }

    /// Announces that the table's file is in place; processing starts.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn upload_complete(&self, import_table_id: i64) -> Result<ImportTable> {
        self.table_transition(import_table_id, "upload_complete", None, |s| {
            *s != ImportTableStatus::Created
        })
        .await
    }

    /// Tells the server the file could not be uploaded; the table fails with `message` and nothing is applied.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn upload_failed(&self, import_table_id: i64, message: &str) -> Result<ImportTable> {
        let body = json!({ "message": message });
        self.table_transition(import_table_id, "upload_failed", Some(&body), |s| {
            *s == ImportTableStatus::Failed
        })
        .await
    }

    /// `PUT`s the file to the table's presigned URL, then announces it with
    /// [`upload_complete`](Client::upload_complete). If the `PUT` fails the table is marked
    /// [`upload_failed`](Client::upload_failed) (best effort) and the `PUT`'s error is returned.
    #[tracing::instrument(level = "debug", skip(self, table), fields(import_table = table.id))]
    pub async fn upload_table_file(
        &self,
        table: &ImportTable,
        body: &UploadBody,
    ) -> Result<ImportTable> {
        let url = table
            .signed_s3_url
            .as_ref()
            .ok_or_else(|| Error::Validation {
                message: format!(
                    "import table {} has no signed_s3_url to upload to",
                    table.id
                ),
            })?;
        if let Err(error) = self.put_presigned(url, body).await {
            if let Err(notify) = self.upload_failed(table.id, &error.to_string()).await {
                tracing::warn!(import_table = table.id, error = %notify, "could not report the failed upload");
            }
            return Err(error);
        }
        self.upload_complete(table.id).await
    }

    async fn table_transition(
        &self,
        id: i64,
        action: &str,
        body: Option<&Value>,
        moved: fn(&ImportTableStatus) -> bool,
    ) -> Result<ImportTable> {
        let lookup = || {
            async move {
                let table: Value = self
                    .get_json(&format!("/api/import_tables/{id}"), &[])
                    .await?;
                let status =
                    ImportTableStatus::from(text(&table, "status").unwrap_or_default().as_str());
                Ok(moved(&status).then_some(table))
            }
            .boxed()
        };
        let recovery = Recovery {
            what: format!("import table {id}"),
            correlation_code: String::new(),
            lookup: &lookup,
        };
        self.post_json(
            &format!("/api/import_tables/{id}/{action}"),
            body,
            Kind::Transition,
            Some(&recovery),
        )
        .await
    }

    async fn imports_with_code(&self, code: &str) -> Result<Vec<Value>> {
        self.list_all("/api/v1/imports", vec![eq("correlation_code", code)])
            .await
    }

    async fn tables_with_code(&self, import_id: i64, code: &str) -> Result<Vec<Value>> {
        let results: Value = self
            .get_json(&format!("/api/v1/imports/{import_id}"), &[])
            .await?;
        let tables = ["import_tables", "tables", "results"]
            .iter()
            .find_map(|k| results.get(*k).and_then(Value::as_array))
            .cloned()
            .unwrap_or_default();
        Ok(tables
            .into_iter()
            .filter(|t| text(t, "correlation_code").as_deref() == Some(code))
            .collect())
    }
}
