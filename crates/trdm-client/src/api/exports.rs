//! Exports: create (`POST /api/exports/new`, as the incumbent SDK), poll (`GET /api/exports/{id}`), find by
//! correlation code (`GET /api/v1/exports?q=correlation_code:eq:…`).

use futures_util::FutureExt;
use serde_json::Value;

use crate::api::{eq, text};
use crate::client::Client;
use crate::http::{Kind, Recovery};
use crate::models::{Export, ExportPattern, ExportRequest};
use crate::{Error, Result};

impl Client {
    /// Starts an export and returns it as created (status `created` or later); wait for it with
    /// [`wait_for_export`](Client::wait_for_export).
    ///
    /// Never sent twice blindly: when the answer is lost the client looks the export up by its correlation
    /// code (generated when the request has none) before sending again; if that cannot settle it the error is
    /// [`Error::Unconfirmed`] naming the code.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn create_export(&self, request: &ExportRequest) -> Result<Export> {
        if request.table_definition_key.is_empty() {
            return Err(Error::Validation {
                message: "table_definition_key is required".into(),
            });
        }
        let hwm = request
            .high_water_mark
            .as_deref()
            .filter(|h| !h.trim().is_empty());
        if request.pattern == ExportPattern::Incremental && hwm.is_none() {
            return Err(Error::Validation {
                message: "high_water_mark is required for an incremental export".into(),
            });
        }
        let (given, code) = Client::correlation_code(request.correlation_code.as_deref());
        let baseline = self.baseline(given, "/api/v1/exports", &code).await?;
        let mut body =
            serde_json::to_value(request).map_err(|e| Error::decode("the export request", e))?;
        body["correlation_code"] = Value::from(code.clone());
        let lookup = || {
            async {
                let found = self.exports_with_code(&code).await?;
                Ok(baseline.newest_match(found, |e| {
                    e["branch_id"].as_i64() == Some(request.branch_id)
                        && text(e, "table_definition_key").as_deref()
                            == Some(request.table_definition_key.as_str())
                        && text(e, "pattern").as_deref() == Some(request.pattern.as_str())
                }))
            }
            .boxed()
        };
        let recovery = Recovery {
            what: "export".into(),
            correlation_code: code.clone(),
            lookup: &lookup,
        };
        self.post_json(
            "/api/exports/new",
            Some(&body),
            Kind::Create,
            Some(&recovery),
        )
        .await
    }

    /// An export's current state.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn export(&self, id: i64) -> Result<Export> {
        self.get_json(&format!("/api/exports/{id}"), &[]).await
    }

    /// Every export carrying `correlation_code`, oldest first: how a caller finds an export after an
    /// [`Error::Unconfirmed`].
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn find_exports(&self, correlation_code: &str) -> Result<Vec<Export>> {
        self.list_all(
            "/api/v1/exports",
            vec![eq("correlation_code", correlation_code)],
        )
        .await
    }

    async fn exports_with_code(&self, code: &str) -> Result<Vec<Value>> {
        self.list_all("/api/v1/exports", vec![eq("correlation_code", code)])
            .await
    }
}
