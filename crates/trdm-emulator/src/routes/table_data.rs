//! Table data as the docs show it (part B §4.6): `POST /api/v1/table_data/grid` pages through a table's
//! current records in AG Grid's request format, and `GET /api/v1/table_data/{id}` reads one version.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::{Body, path_id};
use crate::catalog::{self, Table};
use crate::error::{ApiError, ApiResult};
use crate::records::{self, GridFilter, GridQuery};
use crate::state::AppState;

/// The most rows one grid request may ask for.
const MAX_GRID_ROWS: i64 = 1000;

fn column_index(table: &Table, name: &str) -> ApiResult<usize> {
    table
        .columns
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| ApiError::BadRequest(format!("table {} has no column {name:?}", table.name)))
}

fn grid_query(table: &Table, body: &Body) -> ApiResult<GridQuery> {
    let start = body
        .id("startRow")?
        .ok_or_else(|| ApiError::BadRequest("startRow is required".into()))?;
    let end = body
        .id("endRow")?
        .ok_or_else(|| ApiError::BadRequest("endRow is required".into()))?;
    if start < 0 || end < start || end - start > MAX_GRID_ROWS {
        return Err(ApiError::BadRequest(format!(
            "need 0 <= startRow <= endRow and at most {MAX_GRID_ROWS} rows per request"
        )));
    }
    let mut filters = Vec::new();
    if let Some(JsonValue::Object(model)) = body.0.get("filterModel") {
        for (name, spec) in model {
            let column = column_index(table, name)?;
            let op = spec["type"].as_str().unwrap_or("equals").to_owned();
            let raw = if spec["filterType"] == "date" {
                &spec["dateFrom"]
            } else {
                &spec["filter"]
            };
            let mut value = match raw {
                JsonValue::String(s) => s.clone(),
                JsonValue::Null => {
                    return Err(ApiError::BadRequest(format!(
                        "the filter on {name} has no value"
                    )));
                }
                other => other.to_string(),
            };
            if spec["filterType"] == "date" && value.len() >= 10 {
                value.truncate(10);
            }
            filters.push(GridFilter { column, op, value });
        }
    }
    let mut sort = Vec::new();
    if let Some(JsonValue::Array(model)) = body.0.get("sortModel") {
        for s in model {
            let column = column_index(table, s["colId"].as_str().unwrap_or_default())?;
            sort.push((column, s["sort"] == "desc"));
        }
    }
    for f in &filters {
        records::grid_condition(table, f).map_err(ApiError::BadRequest)?;
    }
    Ok(GridQuery {
        start,
        end,
        filters,
        sort,
    })
}

/// `POST /api/v1/table_data/grid`.
pub(super) async fn grid(State(state): State<AppState>, body: Body) -> ApiResult<Json<JsonValue>> {
    let by_id = body.id("table_definition_id")?;
    let by_key = body.key("table_definition_key")?;
    let branch_id = body.id("branch_id")?;
    let table = state
        .db
        .catalog(move |c| match (by_id, by_key, branch_id) {
            (Some(id), _, _) => catalog::table(c, id),
            (None, Some(key), Some(branch)) => catalog::table_by_key(c, branch, &key),
            _ => Err(ApiError::BadRequest(
                "give table_definition_id, or table_definition_key with branch_id".into(),
            )),
        })
        .await?;
    let query = grid_query(&table, &body)?;
    let (rows, count) = state
        .db
        .records(move |c| records::grid(c, &table, &query).map_err(ApiError::BadRequest))
        .await?;
    Ok(Json(json!({ "rows": rows, "rowCount": count })))
}

#[derive(Debug, Deserialize)]
pub(super) struct RecordParams {
    table_definition_id: Option<String>,
}

/// `GET /api/v1/table_data/{id}?table_definition_id=…`: one version by its `trdm_sk`.
pub(super) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<RecordParams>,
) -> ApiResult<Json<JsonValue>> {
    let sk = path_id("record", &id)?;
    let table_id = params
        .table_definition_id
        .as_deref()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| ApiError::BadRequest("table_definition_id is required".into()))?;
    let table = state
        .db
        .catalog(move |c| catalog::table(c, table_id))
        .await?;
    let found = state
        .db
        .records(move |c| Ok(records::version(c, &table, sk)?))
        .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("record", sk))
}
