//! Deployed tables and their columns, as the metadata routes and the record store read them.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value as Json, json};
use trdm_format::value::{ColumnType, DataType};

use crate::error::{ApiError, ApiResult};
use crate::time::iso;

/// One column of a deployed table.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    id: i64,
    key: String,
    pub(crate) name: String,
    pub(crate) data_type: DataType,
    length: Option<u32>,
    precision: Option<u32>,
    scale: Option<u32>,
    pub(crate) is_primary_key: bool,
    pub(crate) is_required: bool,
    display_order: i64,
    description: String,
}

impl Column {
    /// The type the value grammar checks values against.
    pub(crate) fn column_type(&self) -> ColumnType {
        match self.data_type {
            DataType::Decimal => ColumnType {
                data_type: self.data_type,
                length: self.precision,
                scale: self.scale,
            },
            _ => ColumnType {
                data_type: self.data_type,
                length: self.length,
                scale: None,
            },
        }
    }
}

/// A deployed table on one branch. In the emulator a table definition and its deployed definition are one
/// row, so the deployed id is accepted wherever a table definition id is (part A §3).
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) id: i64,
    pub(crate) branch_id: i64,
    pub(super) branch_name: String,
    pub(crate) domain_id: i64,
    domain_name: String,
    domain_abbreviation: String,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) database_table_name: String,
    description: String,
    pub(crate) allow_manual_rows: bool,
    pub(crate) physical_name: String,
    created_at: i64,
    updated_at: i64,
    /// Columns in display order.
    pub(crate) columns: Vec<Column>,
}

#[cfg(feature = "fuzzing")]
impl Table {
    /// A table that exists only in memory, for the fuzz targets: one nullable column per `(name, type)`.
    pub(crate) fn synthetic(columns: &[(&str, DataType)]) -> Table {
        Table {
            id: 1,
            branch_id: 1,
            branch_name: "prod".into(),
            domain_id: 1,
            domain_name: "Fuzz".into(),
            domain_abbreviation: "fz".into(),
            key: "fuzz".into(),
            name: "Fuzz".into(),
            database_table_name: "fuzz".into(),
            description: String::new(),
            allow_manual_rows: false,
            physical_name: "t_fuzz".into(),
            created_at: 0,
            updated_at: 0,
            columns: columns
                .iter()
                .zip(1..)
                .map(|(&(name, data_type), id)| Column {
                    id,
                    key: name.into(),
                    name: name.into(),
                    data_type,
                    length: None,
                    precision: None,
                    scale: None,
                    is_primary_key: false,
                    is_required: false,
                    display_order: id,
                    description: String::new(),
                })
                .collect(),
        }
    }
}

const TABLE_SELECT: &str = "SELECT t.id, t.branch_id, b.name, t.domain_id, d.name, d.abbreviation, t.key, t.name,
    t.database_table_name, t.description, t.allow_manual_rows, t.physical_name, t.created_at, t.updated_at
    FROM tables t JOIN branches b ON b.id = t.branch_id JOIN domains d ON d.id = t.domain_id";

fn table_row(r: &Row<'_>) -> rusqlite::Result<Table> {
    Ok(Table {
        id: r.get(0)?,
        branch_id: r.get(1)?,
        branch_name: r.get(2)?,
        domain_id: r.get(3)?,
        domain_name: r.get(4)?,
        domain_abbreviation: r.get(5)?,
        key: r.get(6)?,
        name: r.get(7)?,
        database_table_name: r.get(8)?,
        description: r.get(9)?,
        allow_manual_rows: r.get(10)?,
        physical_name: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        columns: Vec::new(),
    })
}

fn load_columns(conn: &Connection, table: &mut Table) -> ApiResult<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, key, name, data_type, length, precision, scale, is_primary_key, is_required, display_order,
                description
         FROM columns WHERE table_id = ?1 AND is_deleted = 0 ORDER BY display_order, id",
    )?;
    table.columns = stmt
        .query_map([table.id], |r| {
            let data_type: String = r.get(3)?;
            Ok(Column {
                id: r.get(0)?,
                key: r.get(1)?,
                name: r.get(2)?,
                data_type: data_type.parse().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        3,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                length: r.get(4)?,
                precision: r.get(5)?,
                scale: r.get(6)?,
                is_primary_key: r.get(7)?,
                is_required: r.get(8)?,
                display_order: r.get(9)?,
                description: r.get(10)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// Filters for [`tables`].
#[derive(Default)]
pub(crate) struct TableFilter {
    pub(crate) branch_id: Option<i64>,
    pub(crate) domain_id: Option<i64>,
}

pub(crate) fn tables(conn: &Connection, filter: &TableFilter) -> ApiResult<Vec<Table>> {
    let mut stmt = conn.prepare(&format!(
        "{TABLE_SELECT} WHERE (?1 IS NULL OR t.branch_id = ?1) AND (?2 IS NULL OR t.domain_id = ?2) ORDER BY t.id"
    ))?;
    let mut rows: Vec<Table> = stmt
        .query_map(params![filter.branch_id, filter.domain_id], table_row)?
        .collect::<Result<_, _>>()?;
    for t in &mut rows {
        load_columns(conn, t)?;
    }
    Ok(rows)
}

pub(crate) fn table(conn: &Connection, id: i64) -> ApiResult<Table> {
    let mut t = conn
        .query_row(&format!("{TABLE_SELECT} WHERE t.id = ?1"), [id], table_row)
        .optional()?
        .ok_or_else(|| ApiError::not_found("table definition", id))?;
    load_columns(conn, &mut t)?;
    Ok(t)
}

pub(crate) fn table_by_key(conn: &Connection, branch_id: i64, key: &str) -> ApiResult<Table> {
    let mut t = conn
        .query_row(
            &format!("{TABLE_SELECT} WHERE t.branch_id = ?1 AND t.key = ?2"),
            params![branch_id, key],
            table_row,
        )
        .optional()?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no deployed table definition with key {key} on branch {branch_id}"
            ))
        })?;
    load_columns(conn, &mut t)?;
    Ok(t)
}

fn column_json(c: &Column) -> Json {
    let length = if c.data_type == DataType::Decimal {
        c.precision
    } else {
        c.length
    };
    json!({
        "id": c.id,
        "key": c.key,
        "name": c.name,
        "data_type": c.data_type.as_str(),
        "length": length,
        "precision": c.precision,
        "scale": c.scale,
        "is_primary_key": c.is_primary_key,
        "is_required": c.is_required,
        "display_order": c.display_order,
        "is_deleted": false,
        "description": c.description,
    })
}

/// The JSON of a table. `deployed` picks the column list's key: `deployed_column_definitions` for deployed
/// table definitions, `column_definitions` for table definitions.
pub(crate) fn table_json(t: &Table, deployed: bool) -> Json {
    let columns: Vec<Json> = t.columns.iter().map(column_json).collect();
    let mut obj = json!({
        "id": t.id,
        "key": t.key,
        "name": t.name,
        "database_table_name": t.database_table_name,
        "description": t.description,
        "allow_manual_rows": t.allow_manual_rows,
        "domain_id": t.domain_id,
        "domain": { "id": t.domain_id, "name": t.domain_name, "abbreviation": t.domain_abbreviation },
        "branch_id": t.branch_id,
        "branch": { "id": t.branch_id, "name": t.branch_name },
        "table_definition_id": t.id,
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
    });
    let list_key = if deployed {
        "deployed_column_definitions"
    } else {
        "column_definitions"
    };
    obj[list_key] = Json::Array(columns);
    obj
}
