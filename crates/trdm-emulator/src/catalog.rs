//! The catalog database: OAuth applications, branches, domains, deployed tables with their columns, import
//! mappings, and the state of every export, import and import table.
//!
//! Rows are read into plain structs and turned into the JSON the real service answers with in `*_json`
//! functions, so every response shape lives next to the row it comes from.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use trdm_format::value::{ColumnType, DataType};

use crate::error::{ApiError, ApiResult};
use crate::time::iso;

pub(crate) fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS oauth_applications (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE,
            secret_sha256 TEXT NOT NULL, scopes TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS branches (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, branch_type TEXT NOT NULL,
            status TEXT NOT NULL, database_suffix TEXT NOT NULL, is_default_dev_branch INTEGER NOT NULL,
            is_integration_branch INTEGER NOT NULL, parent_id INTEGER REFERENCES branches(id),
            owner_id INTEGER, owner_email TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS domains (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, abbreviation TEXT NOT NULL,
            description TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS tables (
            id INTEGER PRIMARY KEY, branch_id INTEGER NOT NULL REFERENCES branches(id),
            domain_id INTEGER NOT NULL REFERENCES domains(id), key TEXT NOT NULL, name TEXT NOT NULL,
            database_table_name TEXT NOT NULL, description TEXT NOT NULL, allow_manual_rows INTEGER NOT NULL,
            physical_name TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
            UNIQUE (branch_id, key));
         CREATE TABLE IF NOT EXISTS columns (
            id INTEGER PRIMARY KEY, table_id INTEGER NOT NULL REFERENCES tables(id), key TEXT NOT NULL,
            name TEXT NOT NULL, data_type TEXT NOT NULL, length INTEGER, precision INTEGER, scale INTEGER,
            is_primary_key INTEGER NOT NULL, is_required INTEGER NOT NULL, display_order INTEGER NOT NULL,
            is_deleted INTEGER NOT NULL, description TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS import_mappings (
            id INTEGER PRIMARY KEY, table_id INTEGER NOT NULL REFERENCES tables(id), key TEXT NOT NULL,
            name TEXT NOT NULL, is_default INTEGER NOT NULL, config TEXT NOT NULL,
            created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (table_id, key));
         CREATE TABLE IF NOT EXISTS exports (
            id INTEGER PRIMARY KEY, branch_id INTEGER NOT NULL, table_id INTEGER NOT NULL,
            table_definition_key TEXT NOT NULL, pattern TEXT NOT NULL, include_history INTEGER NOT NULL,
            high_water_mark TEXT, hwm_micros INTEGER, correlation_code TEXT NOT NULL, status TEXT NOT NULL,
            message TEXT, created_at INTEGER NOT NULL, started_at INTEGER, completed_at INTEGER,
            rows_exported INTEGER, bytes_exported INTEGER);
         CREATE INDEX IF NOT EXISTS exports_correlation ON exports (correlation_code);
         CREATE TABLE IF NOT EXISTS imports (
            id INTEGER PRIMARY KEY, branch_id INTEGER NOT NULL, description TEXT, correlation_code TEXT NOT NULL,
            status TEXT NOT NULL, message TEXT, created_at INTEGER NOT NULL, completed_at INTEGER,
            finished_at INTEGER);
         CREATE INDEX IF NOT EXISTS imports_correlation ON imports (correlation_code);
         CREATE TABLE IF NOT EXISTS import_tables (
            id INTEGER PRIMARY KEY, import_id INTEGER NOT NULL REFERENCES imports(id),
            table_id INTEGER NOT NULL, table_definition_key TEXT NOT NULL, mapping_id INTEGER NOT NULL,
            import_mapping_key TEXT NOT NULL, pattern TEXT NOT NULL, correlation_code TEXT NOT NULL,
            status TEXT NOT NULL, message TEXT, created_at INTEGER NOT NULL, file_size INTEGER,
            start_at INTEGER, end_at INTEGER, insert_row_count INTEGER, update_row_count INTEGER,
            delete_row_count INTEGER, actions TEXT NOT NULL DEFAULT '[]');
         CREATE INDEX IF NOT EXISTS import_tables_import ON import_tables (import_id);",
    )
}

/// Reads a setting.
pub(crate) fn setting(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
}

/// Writes a setting.
pub(crate) fn set_setting(conn: &Connection, name: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
        params![name, value],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// OAuth applications

pub(crate) struct Application {
    pub(crate) id: i64,
    pub(crate) secret_sha256: String,
    pub(crate) scopes: Vec<String>,
}

pub(crate) fn application_by_client_id(
    conn: &Connection,
    client_id: &str,
) -> ApiResult<Option<Application>> {
    Ok(conn
        .query_row(
            "SELECT id, secret_sha256, scopes FROM oauth_applications WHERE client_id = ?1",
            [client_id],
            |r| {
                let scopes: String = r.get(2)?;
                Ok(Application {
                    id: r.get(0)?,
                    secret_sha256: r.get(1)?,
                    scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                })
            },
        )
        .optional()?)
}

// ---------------------------------------------------------------------------------------------------------
// Branches

pub(crate) struct Branch {
    pub(crate) id: i64,
    pub(crate) name: String,
    description: String,
    branch_type: String,
    status: String,
    database_suffix: String,
    is_default_dev_branch: bool,
    is_integration_branch: bool,
    parent_id: Option<i64>,
    parent_name: Option<String>,
    owner_id: Option<i64>,
    owner_email: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const BRANCH_SELECT: &str = "SELECT b.id, b.name, b.description, b.branch_type, b.status, b.database_suffix,
    b.is_default_dev_branch, b.is_integration_branch, b.parent_id, p.name, b.owner_id, b.owner_email,
    b.created_at, b.updated_at FROM branches b LEFT JOIN branches p ON p.id = b.parent_id";

fn branch_row(r: &Row<'_>) -> rusqlite::Result<Branch> {
    Ok(Branch {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        branch_type: r.get(3)?,
        status: r.get(4)?,
        database_suffix: r.get(5)?,
        is_default_dev_branch: r.get(6)?,
        is_integration_branch: r.get(7)?,
        parent_id: r.get(8)?,
        parent_name: r.get(9)?,
        owner_id: r.get(10)?,
        owner_email: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

pub(crate) fn branches(conn: &Connection) -> ApiResult<Vec<Branch>> {
    let mut stmt = conn.prepare(&format!("{BRANCH_SELECT} ORDER BY b.id"))?;
    let rows = stmt.query_map([], branch_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub(crate) fn branch(conn: &Connection, id: i64) -> ApiResult<Branch> {
    conn.query_row(
        &format!("{BRANCH_SELECT} WHERE b.id = ?1"),
        [id],
        branch_row,
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found("branch", id))
}

/// The JSON of a branch: nested `parent_branch`/`owner` objects and the flat ids, as both sources show.
pub(crate) fn branch_json(b: &Branch) -> Json {
    json!({
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "branch_type": b.branch_type,
        "status": b.status,
        "database_suffix": b.database_suffix,
        "is_default_dev_branch": b.is_default_dev_branch,
        "is_integration_branch": b.is_integration_branch,
        "parent_branch_id": b.parent_id,
        "parent_branch": b.parent_id.map(|id| json!({ "id": id, "name": b.parent_name })),
        "owner_id": b.owner_id,
        "owner": b.owner_id.map(|id| json!({ "id": id, "email": b.owner_email })),
        "created_at": iso(b.created_at),
        "updated_at": iso(b.updated_at),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Domains

pub(crate) struct Domain {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) abbreviation: String,
    description: String,
    created_at: i64,
    updated_at: i64,
}

fn domain_row(r: &Row<'_>) -> rusqlite::Result<Domain> {
    Ok(Domain {
        id: r.get(0)?,
        name: r.get(1)?,
        abbreviation: r.get(2)?,
        description: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

const DOMAIN_SELECT: &str =
    "SELECT id, name, abbreviation, description, created_at, updated_at FROM domains";

pub(crate) fn domains(conn: &Connection) -> ApiResult<Vec<Domain>> {
    let mut stmt = conn.prepare(&format!("{DOMAIN_SELECT} ORDER BY id"))?;
    let rows = stmt.query_map([], domain_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub(crate) fn domain(conn: &Connection, id: i64) -> ApiResult<Domain> {
    conn.query_row(&format!("{DOMAIN_SELECT} WHERE id = ?1"), [id], domain_row)
        .optional()?
        .ok_or_else(|| ApiError::not_found("domain", id))
}

pub(crate) fn domain_json(d: &Domain) -> Json {
    json!({
        "id": d.id,
        "name": d.name,
        "abbreviation": d.abbreviation,
        "description": d.description,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Tables and columns

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
    branch_name: String,
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

// ---------------------------------------------------------------------------------------------------------
// Import mappings

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

// ---------------------------------------------------------------------------------------------------------
// Exports

#[derive(Debug, Clone)]
pub(crate) struct Export {
    pub(crate) id: i64,
    pub(crate) branch_id: i64,
    pub(crate) table_id: i64,
    table_definition_key: String,
    pub(crate) pattern: String,
    pub(crate) include_history: bool,
    high_water_mark: Option<String>,
    pub(crate) hwm_micros: Option<i64>,
    correlation_code: String,
    pub(crate) status: String,
    message: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    completed_at: Option<i64>,
    rows_exported: Option<i64>,
    bytes_exported: Option<i64>,
}

/// What a new export asks for.
pub(crate) struct NewExport<'a> {
    pub(crate) branch_id: i64,
    pub(crate) table_id: i64,
    pub(crate) table_definition_key: &'a str,
    pub(crate) pattern: &'a str,
    pub(crate) include_history: bool,
    pub(crate) high_water_mark: Option<&'a str>,
    pub(crate) hwm_micros: Option<i64>,
    pub(crate) correlation_code: Option<&'a str>,
    pub(crate) now: i64,
}

const EXPORT_SELECT: &str = "SELECT id, branch_id, table_id, table_definition_key, pattern, include_history,
    high_water_mark, hwm_micros, correlation_code, status, message, created_at, started_at, completed_at,
    rows_exported, bytes_exported FROM exports";

fn export_row(r: &Row<'_>) -> rusqlite::Result<Export> {
    Ok(Export {
        id: r.get(0)?,
        branch_id: r.get(1)?,
        table_id: r.get(2)?,
        table_definition_key: r.get(3)?,
        pattern: r.get(4)?,
        include_history: r.get(5)?,
        high_water_mark: r.get(6)?,
        hwm_micros: r.get(7)?,
        correlation_code: r.get(8)?,
        status: r.get(9)?,
        message: r.get(10)?,
        created_at: r.get(11)?,
        started_at: r.get(12)?,
        completed_at: r.get(13)?,
        rows_exported: r.get(14)?,
        bytes_exported: r.get(15)?,
    })
}

pub(crate) fn insert_export(conn: &Connection, e: &NewExport<'_>) -> ApiResult<i64> {
    conn.execute(
        "INSERT INTO exports (branch_id, table_id, table_definition_key, pattern, include_history, high_water_mark,
            hwm_micros, correlation_code, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '', ?8, ?9)",
        params![
            e.branch_id,
            e.table_id,
            e.table_definition_key,
            e.pattern,
            e.include_history,
            e.high_water_mark,
            e.hwm_micros,
            crate::decisions::export_status::CREATED,
            e.now
        ],
    )?;
    let id = conn.last_insert_rowid();
    let code = match e.correlation_code {
        Some(code) if !code.is_empty() => code.to_owned(),
        _ => format!("export-{id}"),
    };
    conn.execute(
        "UPDATE exports SET correlation_code = ?1 WHERE id = ?2",
        params![code, id],
    )?;
    Ok(id)
}

pub(crate) fn export(conn: &Connection, id: i64) -> ApiResult<Export> {
    conn.query_row(&format!("{EXPORT_SELECT} WHERE id = ?1"), [id], export_row)
        .optional()?
        .ok_or_else(|| ApiError::not_found("export", id))
}

pub(crate) fn exports_of(conn: &mut Connection) -> ApiResult<Vec<Export>> {
    let mut stmt = conn.prepare(&format!("{EXPORT_SELECT} ORDER BY id"))?;
    let rows = stmt.query_map([], export_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Exports a restart must pick up again.
pub(crate) fn unfinished_exports(conn: &Connection) -> ApiResult<Vec<i64>> {
    let mut stmt =
        conn.prepare("SELECT id FROM exports WHERE status IN ('created', 'started') ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub(crate) fn mark_export_started(conn: &Connection, id: i64, now: i64) -> ApiResult<()> {
    conn.execute(
        "UPDATE exports SET status = 'started', started_at = COALESCE(started_at, ?2) WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub(crate) fn finish_export(
    conn: &Connection,
    id: i64,
    outcome: Result<(i64, i64), String>,
    now: i64,
) -> ApiResult<()> {
    match outcome {
        Ok((rows, bytes)) => conn.execute(
            "UPDATE exports SET status = 'completed', completed_at = ?2, rows_exported = ?3, bytes_exported = ?4
             WHERE id = ?1",
            params![id, now, rows, bytes],
        )?,
        Err(message) => conn.execute(
            "UPDATE exports SET status = 'failed', completed_at = ?2, message = ?3 WHERE id = ?1",
            params![id, now, message],
        )?,
    };
    Ok(())
}

/// Fails an export that has not ended yet (its job failed before it could record an outcome); a no-op for an
/// export that already completed or failed.
pub(crate) fn fail_unfinished_export(
    conn: &Connection,
    id: i64,
    message: &str,
    now: i64,
) -> ApiResult<()> {
    conn.execute(
        "UPDATE exports SET status = 'failed', completed_at = ?2, message = ?3
         WHERE id = ?1 AND status IN ('created', 'started')",
        params![id, now, message],
    )?;
    Ok(())
}

/// The JSON of an export, a superset of what the docs and the official SDK read (part B §4.7).
pub(crate) fn export_json(e: &Export, download_url: Option<String>) -> Json {
    let completed = e.status == crate::decisions::export_status::COMPLETED;
    let duration = match (e.started_at, e.completed_at) {
        (Some(s), Some(c)) => Some((c - s) as f64 / 1e6),
        _ => None,
    };
    json!({
        "id": e.id,
        "status": e.status,
        "branch_id": e.branch_id,
        "table_definition_id": e.table_id,
        "table_definition_key": e.table_definition_key,
        "pattern": e.pattern,
        "include_history": e.include_history,
        "high_water_mark": e.high_water_mark,
        "correlation_code": e.correlation_code,
        "message": e.message,
        "created_at": iso(e.created_at),
        "started_datetime": e.started_at.map(iso),
        "complete_datetime": e.completed_at.map(iso),
        "rows_exported": e.rows_exported,
        "files_exported": if completed { Some(1) } else { None },
        "bytes_exported": e.bytes_exported,
        "compressed": false,
        "duration_secs": duration,
        "download_url": download_url,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Imports and import tables

#[derive(Debug, Clone)]
pub(crate) struct Import {
    pub(crate) id: i64,
    pub(crate) branch_id: i64,
    description: Option<String>,
    correlation_code: String,
    pub(crate) status: String,
    message: Option<String>,
    created_at: i64,
    completed_at: Option<i64>,
    finished_at: Option<i64>,
}

const IMPORT_SELECT: &str =
    "SELECT id, branch_id, description, correlation_code, status, message, created_at,
    completed_at, finished_at FROM imports";

fn import_row(r: &Row<'_>) -> rusqlite::Result<Import> {
    Ok(Import {
        id: r.get(0)?,
        branch_id: r.get(1)?,
        description: r.get(2)?,
        correlation_code: r.get(3)?,
        status: r.get(4)?,
        message: r.get(5)?,
        created_at: r.get(6)?,
        completed_at: r.get(7)?,
        finished_at: r.get(8)?,
    })
}

pub(crate) fn insert_import(
    conn: &Connection,
    branch_id: i64,
    description: Option<&str>,
    correlation_code: Option<&str>,
    now: i64,
) -> ApiResult<i64> {
    conn.execute(
        "INSERT INTO imports (branch_id, description, correlation_code, status, created_at)
         VALUES (?1, ?2, '', 'created', ?3)",
        params![branch_id, description, now],
    )?;
    let id = conn.last_insert_rowid();
    let code = match correlation_code {
        Some(code) if !code.is_empty() => code.to_owned(),
        _ => format!("import-{id}"),
    };
    conn.execute(
        "UPDATE imports SET correlation_code = ?1 WHERE id = ?2",
        params![code, id],
    )?;
    Ok(id)
}

pub(crate) fn import(conn: &Connection, id: i64) -> ApiResult<Import> {
    conn.query_row(&format!("{IMPORT_SELECT} WHERE id = ?1"), [id], import_row)
        .optional()?
        .ok_or_else(|| ApiError::not_found("import", id))
}

pub(crate) fn imports_of(conn: &mut Connection) -> ApiResult<Vec<Import>> {
    let mut stmt = conn.prepare(&format!("{IMPORT_SELECT} ORDER BY id"))?;
    let rows = stmt.query_map([], import_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Imports whose final status a restart must settle.
pub(crate) fn processing_imports(conn: &Connection) -> ApiResult<Vec<i64>> {
    let mut stmt =
        conn.prepare("SELECT id FROM imports WHERE status = 'processing' ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[derive(Debug, Clone)]
pub(crate) struct ImportTable {
    pub(crate) id: i64,
    pub(crate) import_id: i64,
    pub(crate) table_id: i64,
    table_definition_key: String,
    pub(crate) mapping_id: i64,
    import_mapping_key: String,
    pub(crate) pattern: String,
    correlation_code: String,
    pub(crate) status: String,
    message: Option<String>,
    created_at: i64,
    pub(crate) file_size: Option<i64>,
    start_at: Option<i64>,
    end_at: Option<i64>,
    insert_row_count: Option<i64>,
    update_row_count: Option<i64>,
    delete_row_count: Option<i64>,
    actions: String,
}

const IMPORT_TABLE_SELECT: &str = "SELECT id, import_id, table_id, table_definition_key, mapping_id,
    import_mapping_key, pattern, correlation_code, status, message, created_at, file_size, start_at, end_at,
    insert_row_count, update_row_count, delete_row_count, actions FROM import_tables";

fn import_table_row(r: &Row<'_>) -> rusqlite::Result<ImportTable> {
    Ok(ImportTable {
        id: r.get(0)?,
        import_id: r.get(1)?,
        table_id: r.get(2)?,
        table_definition_key: r.get(3)?,
        mapping_id: r.get(4)?,
        import_mapping_key: r.get(5)?,
        pattern: r.get(6)?,
        correlation_code: r.get(7)?,
        status: r.get(8)?,
        message: r.get(9)?,
        created_at: r.get(10)?,
        file_size: r.get(11)?,
        start_at: r.get(12)?,
        end_at: r.get(13)?,
        insert_row_count: r.get(14)?,
        update_row_count: r.get(15)?,
        delete_row_count: r.get(16)?,
        actions: r.get(17)?,
    })
}

/// What a new import table asks for.
pub(crate) struct NewImportTable<'a> {
    pub(crate) import_id: i64,
    pub(crate) table: &'a Table,
    pub(crate) mapping: &'a Mapping,
    pub(crate) pattern: &'a str,
    pub(crate) correlation_code: Option<&'a str>,
    pub(crate) now: i64,
}

pub(crate) fn insert_import_table(conn: &Connection, t: &NewImportTable<'_>) -> ApiResult<i64> {
    conn.execute(
        "INSERT INTO import_tables (import_id, table_id, table_definition_key, mapping_id, import_mapping_key,
            pattern, correlation_code, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', 'created', ?7)",
        params![t.import_id, t.table.id, t.table.key, t.mapping.id, t.mapping.key, t.pattern, t.now],
    )?;
    let id = conn.last_insert_rowid();
    let code = match t.correlation_code {
        Some(code) if !code.is_empty() => code.to_owned(),
        _ => format!("import-table-{id}"),
    };
    conn.execute(
        "UPDATE import_tables SET correlation_code = ?1 WHERE id = ?2",
        params![code, id],
    )?;
    Ok(id)
}

pub(crate) fn import_table(conn: &Connection, id: i64) -> ApiResult<ImportTable> {
    conn.query_row(
        &format!("{IMPORT_TABLE_SELECT} WHERE id = ?1"),
        [id],
        import_table_row,
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found("import table", id))
}

pub(crate) fn import_tables(conn: &Connection, import_id: i64) -> ApiResult<Vec<ImportTable>> {
    let mut stmt = conn.prepare(&format!(
        "{IMPORT_TABLE_SELECT} WHERE import_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([import_id], import_table_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Import tables a restart must pick up again.
pub(crate) fn unfinished_import_tables(conn: &Connection) -> ApiResult<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM import_tables WHERE status IN ('uploaded', 'processing') ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub(crate) fn set_import_table_status(conn: &Connection, id: i64, status: &str) -> ApiResult<()> {
    conn.execute(
        "UPDATE import_tables SET status = ?2 WHERE id = ?1",
        params![id, status],
    )?;
    Ok(())
}

pub(crate) fn set_import_table_file(conn: &Connection, id: i64, size: i64) -> ApiResult<()> {
    conn.execute(
        "UPDATE import_tables SET file_size = ?2 WHERE id = ?1",
        params![id, size],
    )?;
    Ok(())
}

/// Row counts of one applied table file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) inserted: i64,
    pub(crate) updated: i64,
    pub(crate) deleted: i64,
}

pub(crate) fn start_import_table(conn: &Connection, id: i64, now: i64) -> ApiResult<()> {
    conn.execute(
        "UPDATE import_tables SET status = 'processing', start_at = COALESCE(start_at, ?2) WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub(crate) fn finish_import_table(
    conn: &Connection,
    id: i64,
    outcome: &Result<Counts, String>,
    now: i64,
) -> ApiResult<()> {
    match outcome {
        Ok(c) => {
            let action = json!([{ "level": "info", "message": format!(
                "applied: {} inserted, {} updated, {} deleted", c.inserted, c.updated, c.deleted) }]);
            conn.execute(
                "UPDATE import_tables SET status = 'completed', end_at = ?2, insert_row_count = ?3,
                    update_row_count = ?4, delete_row_count = ?5, message = NULL, actions = ?6 WHERE id = ?1",
                params![id, now, c.inserted, c.updated, c.deleted, action.to_string()],
            )?
        }
        Err(message) => {
            let action = json!([{ "level": "error", "message": message }]);
            conn.execute(
                "UPDATE import_tables SET status = 'failed', end_at = ?2, message = ?3, insert_row_count = 0,
                    update_row_count = 0, delete_row_count = 0, actions = ?4 WHERE id = ?1",
                params![id, now, message, action.to_string()],
            )?
        }
    };
    Ok(())
}

/// Marks an import completed by the client and fails its tables that never got a file. Two statements: run it
/// inside the caller's transaction.
pub(crate) fn complete_import(
    conn: &Connection,
    id: i64,
    message: Option<&str>,
    now: i64,
) -> ApiResult<()> {
    conn.execute(
        "UPDATE imports SET status = 'processing', completed_at = ?2, message = COALESCE(?3, message) WHERE id = ?1",
        params![id, now, message],
    )?;
    conn.execute(
        "UPDATE import_tables SET status = 'failed', end_at = ?2, message = ?3, insert_row_count = 0,
            update_row_count = 0, delete_row_count = 0
         WHERE import_id = ?1 AND status = 'created'",
        params![id, now, crate::decisions::NEVER_UPLOADED_MESSAGE],
    )?;
    Ok(())
}

/// Settles a processing import once every table is terminal: completed, completed_with_errors or failed.
pub(crate) fn settle_import(conn: &Connection, id: i64, now: i64) -> ApiResult<()> {
    use crate::decisions::import_status as s;
    let import = import(conn, id)?;
    if import.status != s::PROCESSING {
        return Ok(());
    }
    let tables = import_tables(conn, id)?;
    if tables
        .iter()
        .any(|t| t.status != "completed" && t.status != "failed")
    {
        return Ok(());
    }
    let failed = tables.iter().filter(|t| t.status == "failed").count();
    let status = if tables.is_empty() || failed == tables.len() {
        s::FAILED
    } else if failed > 0 {
        s::COMPLETED_WITH_ERRORS
    } else {
        s::COMPLETED
    };
    conn.execute(
        "UPDATE imports SET status = ?2, finished_at = ?3 WHERE id = ?1 AND status = 'processing'",
        params![id, status, now],
    )?;
    Ok(())
}

pub(crate) fn import_json(i: &Import, tables: &[ImportTable]) -> Json {
    let sum = |f: fn(&ImportTable) -> Option<i64>| tables.iter().filter_map(f).sum::<i64>();
    let file_size: i64 = tables.iter().filter_map(|t| t.file_size).sum();
    let duration = i.finished_at.map(|f| (f - i.created_at) as f64 / 1e6);
    json!({
        "id": i.id,
        "status": i.status,
        "branch_id": i.branch_id,
        "description": i.description,
        "correlation_code": i.correlation_code,
        "message": i.message,
        "created_date": iso(i.created_at),
        "created_at": iso(i.created_at),
        "completed_date": i.completed_at.map(iso),
        "finished_date": i.finished_at.map(iso),
        "file_size": file_size,
        "insert_row_count": sum(|t| t.insert_row_count),
        "update_row_count": sum(|t| t.update_row_count),
        "delete_row_count": sum(|t| t.delete_row_count),
        "duration_secs": duration,
        "table_count": tables.len(),
    })
}

pub(crate) fn import_table_json(
    t: &ImportTable,
    table_name: &str,
    signed_url: Option<String>,
) -> Json {
    let duration = match (t.start_at, t.end_at) {
        (Some(s), Some(e)) => Some((e - s) as f64 / 1e6),
        _ => None,
    };
    let actions: Json = serde_json::from_str(&t.actions).unwrap_or_else(|_| json!([]));
    json!({
        "id": t.id,
        "import_id": t.import_id,
        "status": t.status,
        "message": t.message,
        "pattern": t.pattern,
        "correlation_code": t.correlation_code,
        "table_definition_key": t.table_definition_key,
        "import_mapping_key": t.import_mapping_key,
        "deployed_table_definition": { "id": t.table_id, "key": t.table_definition_key, "name": table_name },
        "signed_s3_url": signed_url,
        "s3_key": format!("uploads/{}/{}.csv", t.import_id, t.id),
        "created_date": iso(t.created_at),
        "created_at": iso(t.created_at),
        "file_size": t.file_size,
        "insert_row_count": t.insert_row_count,
        "update_row_count": t.update_row_count,
        "delete_row_count": t.delete_row_count,
        "duration_secs": duration,
        "start_datetime": t.start_at.map(iso),
        "end_datetime": t.end_at.map(iso),
        "actions": actions,
    })
}
