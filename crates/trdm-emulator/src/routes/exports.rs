//! Exports (part A §5, §10): created, run in the background, polled, then downloaded from a presigned URL.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value as JsonValue;
use trdm_format::ExportPattern;

use super::{Body, Path, Query, created, now_secs, origin, path_id};
use crate::decisions::export_status;
use crate::error::{ApiError, ApiResult};
use crate::query::{ListParams, page};
use crate::state::AppState;
use crate::store::{self, Export, NewExport};
use crate::time::now;

const EXPORT_FIELDS: &[&str] = &[
    "id",
    "status",
    "branch_id",
    "table_definition_key",
    "pattern",
    "correlation_code",
    "include_history",
];

fn render(state: &AppState, headers: &HeaderMap, export: &Export) -> JsonValue {
    let url = (export.status == export_status::COMPLETED).then(|| {
        let path = format!("/_s3/exports/{}", export.id);
        let expires = now_secs() + state.config.presigned_url_ttl.as_secs() as i64;
        crate::presign::url(
            &origin(state, headers),
            &state.signing_key[..],
            "GET",
            &path,
            expires,
        )
    });
    store::export_json(export, url)
}

/// `POST /api/exports/new` and `POST /api/v1/exports`.
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let branch_id = body.required_id("branch_id")?;
    let key = body.required_key("table_definition_key")?;
    let pattern = body
        .text("pattern")?
        .ok_or_else(|| ApiError::BadRequest("pattern is required".into()))?;
    let Some(pattern) = ExportPattern::from_name(&pattern) else {
        return Err(ApiError::BadRequest(format!(
            "pattern must be full or incremental, got {pattern:?}"
        )));
    };
    let include_history = body.flag("include_history")?.unwrap_or(false);
    let high_water_mark = body
        .text("high_water_mark")?
        .filter(|s| !s.trim().is_empty());
    let hwm_micros = match (pattern, &high_water_mark) {
        (ExportPattern::Incremental, None) => {
            return Err(ApiError::BadRequest(
                "high_water_mark is required with the incremental pattern".into(),
            ));
        }
        (ExportPattern::Incremental, Some(text)) => Some(
            trdm_format::temporal::parse_timestamptz(text.trim()).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "high_water_mark must be an ISO 8601 date-time, got {text:?}"
                ))
            })?,
        ),
        (ExportPattern::Full, _) => None,
    };
    let correlation_code = body.text("correlation_code")?;
    let export = state
        .db
        .catalog(move |c| {
            store::branch(c, branch_id)?;
            let table = store::table_by_key(c, branch_id, &key)?;
            let id = store::insert_export(
                c,
                &NewExport {
                    branch_id,
                    table_id: table.id,
                    table_definition_key: &key,
                    pattern: pattern.as_str(),
                    include_history,
                    high_water_mark: high_water_mark.as_deref(),
                    hwm_micros,
                    correlation_code: correlation_code.as_deref(),
                    now: now(),
                },
            )?;
            store::export(c, id)
        })
        .await?;
    crate::jobs::spawn_export(&state, export.id);
    Ok(created(render(&state, &headers, &export)))
}

/// `GET /api/exports/{id}` and `GET /api/v1/exports/{id}`.
pub(super) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("export", &id)?;
    let export = state.db.catalog(move |c| store::export(c, id)).await?;
    Ok(Json(render(&state, &headers, &export)))
}

/// `GET /api/v1/exports`: lets a client find an export by correlation code after a create whose answer it lost.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<JsonValue>> {
    let exports = state.db.catalog(store::exports_of).await?;
    let items = exports
        .iter()
        .map(|e| render(&state, &headers, e))
        .collect();
    Ok(Json(page(items, &params, EXPORT_FIELDS)?))
}
