//! Imports (part A §5, §9): a batch, one import table per file, a presigned PUT per file, `upload_complete`
//! to start processing, and `complete` to close the batch.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use rusqlite::Connection;
use serde_json::{Value as JsonValue, json};

use super::{Body, Path, Query, created, now_secs, origin, path_id};
use crate::auth::Caller;
use crate::decisions::{import_status, import_table_status};
use crate::error::{ApiError, ApiResult};
use crate::query::{ListParams, page};
use crate::records::ImportPattern;
use crate::state::AppState;
use crate::store::{self, ImportTable, NewImportTable};
use crate::time::now;

const IMPORT_FIELDS: &[&str] = &[
    "id",
    "status",
    "branch_id",
    "description",
    "correlation_code",
];

fn import_body(c: &Connection, id: i64) -> ApiResult<JsonValue> {
    let import = store::import(c, id)?;
    let tables = store::import_tables(c, id)?;
    Ok(store::import_json(&import, &tables))
}

fn table_name(c: &Connection, table_id: i64) -> ApiResult<String> {
    Ok(store::table(c, table_id)?.name)
}

/// An import table as `caller` may see it: with a fresh presigned upload URL only for a token that may write.
fn render_table(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    t: &ImportTable,
    name: &str,
) -> JsonValue {
    if !caller.may_upload() {
        return store::import_table_json(t, name, None);
    }
    let path = format!("/_s3/uploads/{}", t.id);
    let expires = now_secs() + state.config.presigned_url_ttl.as_secs() as i64;
    let url = crate::presign::url(
        &origin(state, headers),
        &state.signing_key[..],
        "PUT",
        &path,
        expires,
    );
    store::import_table_json(t, name, Some(url))
}

/// `POST /api/imports/new` and `POST /api/v1/imports`.
pub(super) async fn create(State(state): State<AppState>, body: Body) -> ApiResult<Response> {
    let branch_id = body.required_id("branch_id")?;
    let description = body.text("description")?;
    let correlation_code = body.text("correlation_code")?;
    let json = state
        .db
        .catalog(move |c| {
            store::branch(c, branch_id)?;
            let id = store::insert_import(
                c,
                branch_id,
                description.as_deref(),
                correlation_code.as_deref(),
                now(),
            )?;
            import_body(c, id)
        })
        .await?;
    Ok(created(json))
}

/// `GET /api/v1/imports/{id}` (and `/api/imports/{id}`): the results envelope the official SDK reads.
pub(super) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("import", &id)?;
    let (import, tables) = state
        .db
        .catalog(move |c| {
            let import = import_body(c, id)?;
            let mut tables = Vec::new();
            for t in store::import_tables(c, id)? {
                let name = table_name(c, t.table_id)?;
                tables.push((t, name));
            }
            Ok((import, tables))
        })
        .await?;
    let tables: Vec<JsonValue> = tables
        .iter()
        .map(|(t, name)| render_table(&state, &headers, &caller, t, name))
        .collect();
    Ok(Json(json!({ "import": import, "import_tables": tables })))
}

/// `GET /api/v1/imports`: find a batch by correlation code.
pub(super) async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<JsonValue>> {
    let items = state
        .db
        .catalog(|c| {
            let ids: Vec<i64> = store::imports_of(c)?.iter().map(|i| i.id).collect();
            ids.into_iter()
                .map(|id| import_body(c, id))
                .collect::<ApiResult<Vec<_>>>()
        })
        .await?;
    Ok(Json(page(items, &params, IMPORT_FIELDS)?))
}

/// `POST /api/imports/{id}/complete`: closes the batch; tables never uploaded fail.
pub(super) async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("import", &id)?;
    let message = body.text("message")?;
    let json = state
        .db
        .catalog_tx(move |c| {
            let import = store::import(c, id)?;
            if import.status != import_status::CREATED {
                return Err(ApiError::Conflict(format!(
                    "import {id} is already completed (status {})",
                    import.status
                )));
            }
            store::complete_import(c, id, message.as_deref(), now())?;
            store::settle_import(c, id, now())?;
            import_body(c, id)
        })
        .await?;
    Ok(Json(json))
}

/// `POST /api/import_tables/new`: a table file slot with a presigned upload URL.
pub(super) async fn create_table(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> ApiResult<Response> {
    let import_id = body.required_id("import_id")?;
    let key = body.required_key("table_definition_key")?;
    let mapping_key = body.required_key("import_mapping_key")?;
    let pattern = body
        .text("pattern")?
        .ok_or_else(|| ApiError::BadRequest("pattern is required".into()))?;
    if ImportPattern::from_name(&pattern).is_none() {
        return Err(ApiError::BadRequest(format!(
            "pattern must be one of {}, got {pattern:?}",
            ImportPattern::NAMES.join(", ")
        )));
    }
    let correlation_code = body.text("correlation_code")?;
    let (table, name) = state
        .db
        .catalog_tx(move |c| {
            let import = store::import(c, import_id)?;
            if import.status != import_status::CREATED {
                return Err(ApiError::Conflict(format!(
                    "import {import_id} is already completed (status {}); start a new import",
                    import.status
                )));
            }
            let table = store::table_by_key(c, import.branch_id, &key)?;
            let mapping = store::mapping_by_key(c, table.id, &mapping_key)?;
            let id = store::insert_import_table(
                c,
                &NewImportTable {
                    import_id,
                    table: &table,
                    mapping: &mapping,
                    pattern: &pattern,
                    correlation_code: correlation_code.as_deref(),
                    now: now(),
                },
            )?;
            Ok((store::import_table(c, id)?, table.name))
        })
        .await?;
    Ok(created(render_table(
        &state, &headers, &caller, &table, &name,
    )))
}

/// `GET /api/import_tables/{id}`.
pub(super) async fn get_table(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("import table", &id)?;
    let (t, name) = state
        .db
        .catalog(move |c| {
            let t = store::import_table(c, id)?;
            let name = table_name(c, t.table_id)?;
            Ok((t, name))
        })
        .await?;
    Ok(Json(render_table(&state, &headers, &caller, &t, &name)))
}

/// `POST /api/import_tables/{id}/upload_complete`: the file is in place; process it.
pub(super) async fn upload_complete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("import table", &id)?;
    let file = state.upload_path(id);
    let (t, name) = state
        .db
        .catalog_tx(move |c| {
            // Checked inside the transaction: a PUT puts its file in place only inside one too.
            let has_file = file.exists();
            let t = store::import_table(c, id)?;
            if t.status != import_table_status::CREATED {
                return Err(ApiError::Conflict(format!(
                    "import table {id} is already {}",
                    t.status
                )));
            }
            if !has_file || t.file_size.is_none() {
                return Err(ApiError::Conflict(format!(
                    "no file has been uploaded for import table {id}; PUT it to signed_s3_url first"
                )));
            }
            store::set_import_table_status(c, id, import_table_status::UPLOADED)?;
            let t = store::import_table(c, id)?;
            let name = table_name(c, t.table_id)?;
            Ok((t, name))
        })
        .await?;
    crate::jobs::spawn_import_table(&state, id);
    Ok(Json(render_table(&state, &headers, &caller, &t, &name)))
}

/// `POST /api/import_tables/{id}/upload_failed`: the client gave up on this file; nothing is applied.
pub(super) async fn upload_failed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("import table", &id)?;
    let message = body
        .text("message")?
        .unwrap_or_else(|| "the client reported a failed upload".into());
    let (t, name) = state
        .db
        .catalog_tx(move |c| {
            let t = store::import_table(c, id)?;
            if t.status != import_table_status::CREATED && t.status != import_table_status::UPLOADED
            {
                return Err(ApiError::Conflict(format!(
                    "import table {id} is already {}",
                    t.status
                )));
            }
            store::finish_import_table(c, id, &Err(format!("upload failed: {message}")), now())?;
            store::settle_import(c, t.import_id, now())?;
            let t = store::import_table(c, id)?;
            let name = table_name(c, t.table_id)?;
            Ok((t, name))
        })
        .await?;
    Ok(Json(render_table(&state, &headers, &caller, &t, &name)))
}
