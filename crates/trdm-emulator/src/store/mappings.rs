//! Import mappings: how an uploaded file maps onto a table's columns.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::Table;
use crate::error::{ApiError, ApiResult};
use crate::time::iso;

/// The `mapping_config` object (the emulator's shape; the real one is undocumented, part B §6.6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MappingConfig {
    /// `MDY` or `DMY`: how ambiguous slash dates are read.
    pub(crate) date_style: String,
    /// One-character field delimiter.
    pub(crate) delimiter: String,
    /// Source column → target column; empty means "match file headers to column names".
    #[serde(default)]
    pub(crate) columns: Vec<MappingColumn>,
}

/// One column mapping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MappingColumn {
    pub(crate) source_column: String,
    pub(crate) target_column: String,
    #[serde(default)]
    pub(crate) format: Option<String>,
}

pub(crate) struct Mapping {
    pub(crate) id: i64,
    pub(crate) table_id: i64,
    pub(crate) key: String,
    name: String,
    is_default: bool,
    pub(crate) config: MappingConfig,
    created_at: i64,
    updated_at: i64,
}

const MAPPING_SELECT: &str = "SELECT id, table_id, key, name, is_default, config, created_at, updated_at FROM import_mappings";

fn mapping_row(r: &Row<'_>) -> rusqlite::Result<Mapping> {
    let config: String = r.get(5)?;
    Ok(Mapping {
        id: r.get(0)?,
        table_id: r.get(1)?,
        key: r.get(2)?,
        name: r.get(3)?,
        is_default: r.get(4)?,
        config: serde_json::from_str(&config).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

pub(crate) fn mappings(conn: &Connection, table_id: i64) -> ApiResult<Vec<Mapping>> {
    let mut stmt = conn.prepare(&format!("{MAPPING_SELECT} WHERE table_id = ?1 ORDER BY id"))?;
    let rows = stmt
        .query_map([table_id], mapping_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub(crate) fn mapping(conn: &Connection, id: i64) -> ApiResult<Mapping> {
    conn.query_row(
        &format!("{MAPPING_SELECT} WHERE id = ?1"),
        [id],
        mapping_row,
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found("import mapping", id))
}

pub(crate) fn mapping_by_key(conn: &Connection, table_id: i64, key: &str) -> ApiResult<Mapping> {
    conn.query_row(
        &format!("{MAPPING_SELECT} WHERE table_id = ?1 AND key = ?2"),
        params![table_id, key],
        mapping_row,
    )
    .optional()?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "no import mapping with key {key} for table definition {table_id}"
        ))
    })
}

pub(crate) fn mapping_json(m: &Mapping, table: &Table) -> Json {
    json!({
        "id": m.id,
        "key": m.key,
        "name": m.name,
        "is_default": m.is_default,
        "table_definition_id": table.id,
        "table_definition": { "id": table.id, "name": table.name },
        "branch": { "id": table.branch_id, "name": table.branch_name },
        "mapping_config": m.config,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
    })
}
