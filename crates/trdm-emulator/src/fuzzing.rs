//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, never part of the API): the pure
//! request parsers the handlers run before they touch a database, called directly, without HTTP.
//!
//! Each returns the sentence a client would get, or `Ok`; a fuzz target only checks that none panics.

use serde_json::Value as Json;
use trdm_format::value::DataType;

use crate::query::{ListParams, page};
use crate::routes::{Body, grid_query, path_id};
use crate::store::Table;

/// The table grid requests are checked against: one column of every type.
fn every_type() -> Table {
    let columns: Vec<(&str, DataType)> = DataType::ALL.iter().map(|t| (t.as_str(), *t)).collect();
    Table::synthetic(&columns)
}

/// A collection's query string (`page`, `per_page`, `q`) as `axum::extract::Query` decodes it, applied to
/// `items` filtered on `fields`.
pub fn list_query(query: &str, items: Vec<Json>, fields: &[&str]) -> Result<Json, String> {
    let params: ListParams = serde_urlencoded::from_str(query).map_err(|e| e.to_string())?;
    page(items, &params, fields).map_err(|e| e.to_string())
}

/// A `POST /api/v1/table_data/grid` body (`startRow`, `endRow`, `filterModel`, `sortModel`) against a table
/// with one column named after each type; returns how many filters and sort keys it holds.
pub fn grid_request(body: &[u8]) -> Result<(usize, usize), String> {
    let body = Body::from_bytes(body).map_err(|e| e.to_string())?;
    let query = grid_query(&every_type(), &body).map_err(|e| e.to_string())?;
    Ok((query.filters.len(), query.sort.len()))
}

/// Every typed read of a JSON body the handlers do (`id`, `key`, `text`, `flag`) on each of its fields, and
/// an export's `high_water_mark` read the way `POST /api/v1/exports` reads it.
pub fn body_fields(body: &[u8]) -> Result<(), String> {
    let body = Body::from_bytes(body).map_err(|e| e.to_string())?;
    for name in body.0.keys() {
        let _ = body.id(name);
        let _ = body.key(name);
        let _ = body.text(name);
        let _ = body.flag(name);
    }
    if let Ok(Some(text)) = body.text("high_water_mark") {
        let _ = trdm_format::temporal::parse_timestamptz(text.trim());
    }
    if let Ok(Some(pattern)) = body.text("pattern") {
        let _ = crate::records::ImportPattern::from_name(&pattern);
    }
    Ok(())
}

/// A numeric path segment (`/api/v1/exports/{id}`).
pub fn path_segment(raw: &str) -> Result<i64, String> {
    path_id("export", raw).map_err(|e| e.to_string())
}

/// The query string of a presigned URL, checked for `method` on `path` at `now_secs`.
pub fn presigned(query: &str, method: &str, path: &str, now_secs: i64) -> bool {
    crate::presign::verify(b"fuzz-signing-key", method, path, query, now_secs).is_ok()
}
