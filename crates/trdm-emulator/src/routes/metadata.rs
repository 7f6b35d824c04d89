//! Branches, domains, table definitions, deployed table definitions and import mappings: read-only metadata.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value as JsonValue;

use super::{Path, Query, path_id};
use crate::error::{ApiError, ApiResult};
use crate::query::{ListParams, page};
use crate::state::AppState;
use crate::store::{self, TableFilter};

const BRANCH_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "branch_type",
    "status",
    "database_suffix",
    "is_default_dev_branch",
    "is_integration_branch",
    "parent_branch_id",
    "owner_id",
];
const DOMAIN_FIELDS: &[&str] = &["id", "name", "abbreviation", "description"];
const TABLE_FIELDS: &[&str] = &[
    "id",
    "key",
    "name",
    "database_table_name",
    "description",
    "domain_id",
    "branch_id",
];
const MAPPING_FIELDS: &[&str] = &["id", "key", "name", "is_default"];

pub(super) async fn list_branches(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<JsonValue>> {
    let items = state
        .db
        .catalog(|c| Ok(store::branches(c)?.iter().map(store::branch_json).collect()))
        .await?;
    Ok(Json(page(items, &params, BRANCH_FIELDS)?))
}

pub(super) async fn get_branch(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("branch", &id)?;
    Ok(Json(
        state
            .db
            .catalog(move |c| Ok(store::branch_json(&store::branch(c, id)?)))
            .await?,
    ))
}

pub(super) async fn list_domains(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<JsonValue>> {
    let items = state
        .db
        .catalog(|c| Ok(store::domains(c)?.iter().map(store::domain_json).collect()))
        .await?;
    Ok(Json(page(items, &params, DOMAIN_FIELDS)?))
}

pub(super) async fn get_domain(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("domain", &id)?;
    Ok(Json(
        state
            .db
            .catalog(move |c| Ok(store::domain_json(&store::domain(c, id)?)))
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct TableListParams {
    branch_id: Option<String>,
    domain_id: Option<String>,
    #[serde(flatten)]
    list: ListParams,
}

fn optional_id(name: &str, raw: Option<&str>) -> ApiResult<Option<i64>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{name} must be an integer id, got {s:?}"))),
    }
}

async fn list_tables(
    state: AppState,
    params: TableListParams,
    deployed: bool,
) -> ApiResult<Json<JsonValue>> {
    let filter = TableFilter {
        branch_id: optional_id("branch_id", params.branch_id.as_deref())?,
        domain_id: optional_id("domain_id", params.domain_id.as_deref())?,
    };
    let items = state
        .db
        .catalog(move |c| {
            Ok(store::tables(c, &filter)?
                .iter()
                .map(|t| store::table_json(t, deployed))
                .collect())
        })
        .await?;
    Ok(Json(page(items, &params.list, TABLE_FIELDS)?))
}

pub(super) async fn list_table_definitions(
    State(state): State<AppState>,
    Query(params): Query<TableListParams>,
) -> ApiResult<Json<JsonValue>> {
    list_tables(state, params, false).await
}

pub(super) async fn list_deployed(
    State(state): State<AppState>,
    Query(params): Query<TableListParams>,
) -> ApiResult<Json<JsonValue>> {
    list_tables(state, params, true).await
}

pub(super) async fn get_table_definition(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("table definition", &id)?;
    Ok(Json(
        state
            .db
            .catalog(move |c| Ok(store::table_json(&store::table(c, id)?, false)))
            .await?,
    ))
}

pub(super) async fn get_deployed(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("deployed table definition", &id)?;
    Ok(Json(
        state
            .db
            .catalog(move |c| Ok(store::table_json(&store::table(c, id)?, true)))
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct LookupParams {
    key: Option<String>,
    branch_id: Option<String>,
}

pub(super) async fn lookup_deployed(
    State(state): State<AppState>,
    Query(params): Query<LookupParams>,
) -> ApiResult<Json<JsonValue>> {
    let key = params
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::BadRequest("key is required".into()))?;
    let branch_id = optional_id("branch_id", params.branch_id.as_deref())?
        .ok_or_else(|| ApiError::BadRequest("branch_id is required".into()))?;
    Ok(Json(
        state
            .db
            .catalog(move |c| {
                store::branch(c, branch_id)?;
                Ok(store::table_json(
                    &store::table_by_key(c, branch_id, &key)?,
                    true,
                ))
            })
            .await?,
    ))
}

pub(super) async fn list_import_mappings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("table definition", &id)?;
    let items = state
        .db
        .catalog(move |c| {
            let table = store::table(c, id)?;
            Ok(store::mappings(c, id)?
                .iter()
                .map(|m| store::mapping_json(m, &table))
                .collect())
        })
        .await?;
    Ok(Json(page(items, &params, MAPPING_FIELDS)?))
}

pub(super) async fn get_import_mapping(
    State(state): State<AppState>,
    Path((id, mapping_id)): Path<(String, String)>,
) -> ApiResult<Json<JsonValue>> {
    let id = path_id("table definition", &id)?;
    let mapping_id = path_id("import mapping", &mapping_id)?;
    Ok(Json(
        state
            .db
            .catalog(move |c| {
                let table = store::table(c, id)?;
                let mapping = store::mapping(c, mapping_id)?;
                if mapping.table_id != id {
                    return Err(ApiError::not_found("import mapping", mapping_id));
                }
                Ok(store::mapping_json(&mapping, &table))
            })
            .await?,
    ))
}
