//! Table data as the docs show it (part B §4.6): `POST /api/v1/table_data/grid` pages through a table's
//! current records in AG Grid's request format, and `GET /api/v1/table_data/{id}` reads one version.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};
use trdm_format::value::{ColumnType, DataType, ParseOptions};

use super::{Body, Path, Query, path_id, shown};
use crate::error::{ApiError, ApiResult};
use crate::records::{self, GridFilter, GridQuery};
use crate::state::AppState;
use crate::store::{self, Table};

/// The most rows one grid request may ask for.
const MAX_GRID_ROWS: i64 = 1000;

fn column_index(table: &Table, name: &str) -> ApiResult<usize> {
    table
        .columns
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| ApiError::BadRequest(format!("table {} has no column {name:?}", table.name)))
}

pub(crate) fn grid_query(table: &Table, body: &Body) -> ApiResult<GridQuery> {
    let start = body
        .id("startRow")?
        .ok_or_else(|| ApiError::BadRequest("startRow is required".into()))?;
    let end = body
        .id("endRow")?
        .ok_or_else(|| ApiError::BadRequest("endRow is required".into()))?;
    // Both non-negative, so `end - start` cannot overflow.
    if start < 0 || end < start || end - start > MAX_GRID_ROWS {
        return Err(ApiError::BadRequest(format!(
            "startRow {start} and endRow {end} make no page: need 0 <= startRow <= endRow and at most \
             {MAX_GRID_ROWS} rows per request"
        )));
    }
    let mut filters = Vec::new();
    match body.0.get("filterModel") {
        None | Some(JsonValue::Null) => {}
        Some(JsonValue::Object(model)) => {
            for (name, spec) in model {
                filters.push(grid_filter(table, name, spec)?);
            }
        }
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "filterModel must be an object of column name to filter, got {}",
                shown(other)
            )));
        }
    }
    let mut sort = Vec::new();
    match body.0.get("sortModel") {
        None | Some(JsonValue::Null) => {}
        Some(JsonValue::Array(model)) => {
            for s in model {
                let Some(name) = s.get("colId").and_then(JsonValue::as_str) else {
                    return Err(ApiError::BadRequest(format!(
                        "each sortModel entry needs a colId naming a column, got {}",
                        shown(s)
                    )));
                };
                let column = column_index(table, name)?;
                let descending = match s.get("sort") {
                    None | Some(JsonValue::Null) => false,
                    Some(JsonValue::String(d)) if d == "asc" => false,
                    Some(JsonValue::String(d)) if d == "desc" => true,
                    Some(other) => {
                        return Err(ApiError::BadRequest(format!(
                            "the sort of {name} must be asc or desc, got {}",
                            shown(other)
                        )));
                    }
                };
                sort.push((column, descending));
            }
        }
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sortModel must be a list of {{colId, sort}}, got {}",
                shown(other)
            )));
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

/// One entry of a `filterModel`: `{filterType, type, filter}` or, for dates, `{filterType: "date", type,
/// dateFrom}`. A date filter compares the value's date part (its first ten characters), so a date-time works.
fn grid_filter(table: &Table, name: &str, spec: &JsonValue) -> ApiResult<GridFilter> {
    let column = column_index(table, name)?;
    let JsonValue::Object(spec) = spec else {
        return Err(ApiError::BadRequest(format!(
            "the filter on {name} must be an object like {{\"type\": \"equals\", \"filter\": …}}, got {}",
            shown(spec)
        )));
    };
    let op = match spec.get("type") {
        None | Some(JsonValue::Null) => "equals".to_owned(),
        Some(JsonValue::String(op)) => op.clone(),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "the type of the filter on {name} must be a string such as \"equals\", got {}",
                shown(other)
            )));
        }
    };
    let is_date = spec.get("filterType").and_then(JsonValue::as_str) == Some("date");
    let field = if is_date { "dateFrom" } else { "filter" };
    let value = match spec.get(field) {
        Some(JsonValue::String(s)) => s.clone(),
        Some(v @ (JsonValue::Number(_) | JsonValue::Bool(_))) => v.to_string(),
        None | Some(JsonValue::Null) => {
            return Err(ApiError::BadRequest(format!(
                "the filter on {name} has no value ({field})"
            )));
        }
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "the {field} of the filter on {name} must be a string or a number, got {}",
                shown(other)
            )));
        }
    };
    let value = if is_date {
        date_part(&value).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "the date filter on {name} needs a date (YYYY-MM-DD, optionally followed by a time), got {value:?}"
            ))
        })?
    } else {
        value
    };
    let like = matches!(
        op.as_str(),
        "contains" | "notContains" | "startsWith" | "endsWith"
    );
    let numeric = matches!(
        table.columns[column].data_type,
        DataType::Smallint
            | DataType::Integer
            | DataType::Bigint
            | DataType::Decimal
            | DataType::Real
            | DataType::Double
    );
    if numeric && !like && !value.trim().parse::<f64>().is_ok_and(f64::is_finite) {
        return Err(ApiError::BadRequest(format!(
            "the filter on {name} compares numbers, but {value:?} is not a number"
        )));
    }
    Ok(GridFilter { column, op, value })
}

/// The canonical date a date filter's value starts with: its first ten characters must be a date. `None` when
/// they are not (including when the tenth byte falls inside a multi-byte character).
fn date_part(value: &str) -> Option<String> {
    let head = value.get(..10.min(value.len()))?;
    let date = ColumnType {
        data_type: DataType::Date,
        length: None,
        scale: None,
    };
    date.canonicalize(head, true, &ParseOptions::default())
        .ok()
        .flatten()
}

/// `POST /api/v1/table_data/grid`.
pub(super) async fn grid(State(state): State<AppState>, body: Body) -> ApiResult<Json<JsonValue>> {
    let by_id = body.id("table_definition_id")?;
    let by_key = body.key("table_definition_key")?;
    let branch_id = body.id("branch_id")?;
    let table = state
        .db
        .catalog(move |c| match (by_id, by_key, branch_id) {
            (Some(id), _, _) => store::table(c, id),
            (None, Some(key), Some(branch)) => store::table_by_key(c, branch, &key),
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
    let table_id = match params.table_definition_id.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(ApiError::BadRequest(
                "table_definition_id is required".into(),
            ));
        }
        Some(s) => s.parse::<i64>().map_err(|_| {
            ApiError::BadRequest(format!(
                "table_definition_id must be an integer id, got {s:?}"
            ))
        })?,
    };
    let table = state.db.catalog(move |c| store::table(c, table_id)).await?;
    let found = state
        .db
        .records(move |c| Ok(records::version(c, &table, sk)?))
        .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("record", sk))
}
