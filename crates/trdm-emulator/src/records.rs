//! The records database: one physical table per deployed table per branch, versioned as part A §8 says.
//!
//! Every physical table has the `trdm_*` system columns and the user columns, each user value stored in its
//! canonical text (decimals, floats, dates, times, timestamps) or as an integer (integers, booleans), so that
//! exports write stored text straight out and "is this row unchanged?" is a plain equality test.
//!
//! An import file is validated and applied inside ONE transaction ([`apply_file`], in `records/import.rs`):
//! the first bad row rolls everything back and the error names the row, the column and the value. Memory does
//! not grow with the file: rows stream from the reader, and the records seen so far (needed to find duplicates
//! and, for `full`, the records absent from the file) live in temporary SQLite tables, not in a hash set.
//! An export ([`write_export`], in `records/export.rs`) is one SELECT streamed to a file.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use trdm_format::temporal::format_timestamptz;
use trdm_format::value::DataType;

use crate::db::ident;
use crate::store::{Counts, MappingConfig, Table};

mod export;
mod import;
#[cfg(test)]
mod reference_import;
#[cfg(test)]
mod tests;

pub(crate) use export::write_export;
pub(crate) use import::apply_file;

pub(crate) fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS trdm_record_counters (physical_name TEXT PRIMARY KEY, next_record_id INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS trdm_clock (id INTEGER PRIMARY KEY CHECK (id = 1), last_change INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS trdm_applied_import_tables (
            import_table_id INTEGER PRIMARY KEY, inserted INTEGER NOT NULL, updated INTEGER NOT NULL,
            deleted INTEGER NOT NULL);
         INSERT OR IGNORE INTO trdm_clock (id, last_change) VALUES (1, 0);",
    )
}

/// Creates the physical table of a deployed table, if it does not exist.
pub(crate) fn create_table(conn: &Connection, table: &Table) -> rusqlite::Result<()> {
    let t = ident(&table.physical_name);
    let user: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let affinity = match c.data_type {
                DataType::Smallint | DataType::Integer | DataType::Bigint | DataType::Boolean => {
                    "INTEGER"
                }
                _ => "TEXT",
            };
            format!("{} {affinity}", ident(&c.name))
        })
        .collect();
    let pk: Vec<String> = table
        .columns
        .iter()
        .filter(|c| c.is_primary_key)
        .map(|c| ident(&c.name))
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {t} (
            trdm_sk INTEGER PRIMARY KEY, trdm_record_id INTEGER NOT NULL, trdm_state TEXT NOT NULL,
            trdm_created_at INTEGER NOT NULL, trdm_effective_from INTEGER NOT NULL,
            trdm_effective_to INTEGER NOT NULL, trdm_is_deleted INTEGER NOT NULL, trdm_actor_type TEXT NOT NULL,
            trdm_actor_id INTEGER, trdm_tran_code TEXT NOT NULL, {user});
         CREATE UNIQUE INDEX IF NOT EXISTS {current} ON {t} ({pk}) WHERE trdm_state = 'C';
         CREATE INDEX IF NOT EXISTS {created} ON {t} (trdm_created_at);
         INSERT OR IGNORE INTO trdm_record_counters (physical_name, next_record_id) VALUES ({name}, 1);",
        user = user.join(", "),
        pk = pk.join(", "),
        current = ident(&format!("{}__current", table.physical_name)),
        created = ident(&format!("{}__created", table.physical_name)),
        name = quote_literal(&table.physical_name),
    ))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// How an import treats records absent from its file (part A §9); read with the exact
/// [`ImportPattern::from_name`], as the service reads it.
pub(crate) use trdm_format::ImportPattern;

/// Who is applying a file, and how.
pub(crate) struct ImportSpec<'a> {
    pub(crate) table: &'a Table,
    pub(crate) mapping: &'a MappingConfig,
    pub(crate) pattern: ImportPattern,
    pub(crate) actor_type: &'a str,
    pub(crate) actor_id: i64,
    /// Recorded in the same transaction so a restart knows the file was applied.
    pub(crate) import_table_id: Option<i64>,
}

/// Why a file was not applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    /// The file is invalid; the message names row, column and value. Nothing was changed.
    #[error("{0}")]
    Rejected(String),
    /// The database failed. Nothing was changed.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
}

/// Whether an import table's file was already applied (a restart between commit and status update).
pub(crate) fn applied_counts(
    conn: &Connection,
    import_table_id: i64,
) -> rusqlite::Result<Option<Counts>> {
    conn.query_row(
        "SELECT inserted, updated, deleted FROM trdm_applied_import_tables WHERE import_table_id = ?1",
        [import_table_id],
        |r| Ok(Counts { inserted: r.get(0)?, updated: r.get(1)?, deleted: r.get(2)? }),
    )
    .optional()
}

/// Which rows an export holds (part A §10, part B §7.3).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExportSelection {
    /// Rows changed strictly after this instant (UTC micros); `None` for a full export.
    pub(crate) high_water_mark: Option<i64>,
    pub(crate) include_history: bool,
}

/// One condition of a grid `filterModel` (AG Grid's format, part B §4.6).
#[derive(Debug, Clone)]
pub(crate) struct GridFilter {
    pub(crate) column: usize,
    pub(crate) op: String,
    pub(crate) value: String,
}

/// A page of current records for `POST /api/v1/table_data/grid`.
#[derive(Debug, Clone)]
pub(crate) struct GridQuery {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) filters: Vec<GridFilter>,
    /// (column index, descending)
    pub(crate) sort: Vec<(usize, bool)>,
}

fn json_value(table: &Table, index: usize, value: ValueRef<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        ValueRef::Null | ValueRef::Blob(_) => J::Null,
        ValueRef::Integer(v) if table.columns[index].data_type == DataType::Boolean => {
            J::Bool(v != 0)
        }
        ValueRef::Integer(v) => J::from(v),
        ValueRef::Real(f) => J::from(f),
        ValueRef::Text(s) => J::String(String::from_utf8_lossy(s).into_owned()),
    }
}

/// Why a grid request is malformed (an HTTP 400).
pub(crate) fn grid_condition(table: &Table, f: &GridFilter) -> Result<String, String> {
    let col = ident(&table.columns[f.column].name);
    let numeric = matches!(
        table.columns[f.column].data_type,
        DataType::Smallint
            | DataType::Integer
            | DataType::Bigint
            | DataType::Decimal
            | DataType::Real
            | DataType::Double
    );
    let lhs = if numeric {
        format!("CAST({col} AS REAL)")
    } else {
        col.clone()
    };
    let rhs = if numeric { "CAST(? AS REAL)" } else { "?" };
    Ok(match f.op.as_str() {
        "contains" => format!("{col} LIKE '%' || ? || '%' ESCAPE '\\'"),
        "notContains" => format!("({col} IS NULL OR {col} NOT LIKE '%' || ? || '%' ESCAPE '\\')"),
        "startsWith" => format!("{col} LIKE ? || '%' ESCAPE '\\'"),
        "endsWith" => format!("{col} LIKE '%' || ? ESCAPE '\\'"),
        "equals" => format!("{lhs} = {rhs}"),
        "notEqual" => format!("({col} IS NULL OR {lhs} <> {rhs})"),
        "lessThan" => format!("{lhs} < {rhs}"),
        "lessThanOrEqual" => format!("{lhs} <= {rhs}"),
        "greaterThan" => format!("{lhs} > {rhs}"),
        "greaterThanOrEqual" => format!("{lhs} >= {rhs}"),
        other => {
            return Err(format!(
                "unknown filter type {other:?} for column {}",
                table.columns[f.column].name
            ));
        }
    })
}

/// Current, non-deleted records matching `query`, and how many match in all.
pub(crate) fn grid(
    conn: &Connection,
    table: &Table,
    query: &GridQuery,
) -> Result<(Vec<serde_json::Value>, i64), String> {
    let t = ident(&table.physical_name);
    let mut conditions = vec![
        "trdm_state = 'C'".to_owned(),
        "trdm_is_deleted = 0".to_owned(),
    ];
    let mut args: Vec<String> = Vec::new();
    for f in &query.filters {
        conditions.push(grid_condition(table, f)?);
        let like = matches!(
            f.op.as_str(),
            "contains" | "notContains" | "startsWith" | "endsWith"
        );
        args.push(if like {
            f.value
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        } else {
            f.value.clone()
        });
    }
    let mut order: Vec<String> = query
        .sort
        .iter()
        .map(|(i, desc)| {
            format!(
                "{} {}",
                ident(&table.columns[*i].name),
                if *desc { "DESC" } else { "ASC" }
            )
        })
        .collect();
    order.push("trdm_sk".into());
    let cols: Vec<String> = table.columns.iter().map(|c| ident(&c.name)).collect();
    let filter = conditions.join(" AND ");
    let db = |e: rusqlite::Error| format!("database: {e}");
    let count: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM {t} WHERE {filter}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .map_err(db)?;
    let sql = format!(
        "SELECT trdm_sk, {} FROM {t} WHERE {filter} ORDER BY {} LIMIT {} OFFSET {}",
        cols.join(", "),
        order.join(", "),
        (query.end - query.start).max(0),
        query.start.max(0)
    );
    let mut stmt = conn.prepare(&sql).map_err(db)?;
    let mut rows = stmt.query(params_from_iter(args.iter())).map_err(db)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        let mut obj = serde_json::Map::new();
        obj.insert(
            "trdm_sk".into(),
            serde_json::Value::from(row.get::<_, i64>(0).map_err(db)?),
        );
        for (i, c) in table.columns.iter().enumerate() {
            obj.insert(
                c.name.clone(),
                json_value(table, i, row.get_ref(i + 1).map_err(db)?),
            );
        }
        out.push(serde_json::Value::Object(obj));
    }
    Ok((out, count))
}

/// One version by its surrogate key, with its system columns, for `GET /api/v1/table_data/{id}`.
pub(crate) fn version(
    conn: &Connection,
    table: &Table,
    sk: i64,
) -> rusqlite::Result<Option<serde_json::Value>> {
    let t = ident(&table.physical_name);
    let cols: Vec<String> = table.columns.iter().map(|c| ident(&c.name)).collect();
    let sql = format!(
        "SELECT {}, trdm_sk, trdm_record_id, trdm_state, trdm_created_at, trdm_effective_from, trdm_effective_to,
                trdm_is_deleted, trdm_actor_type, trdm_actor_id, trdm_tran_code FROM {t} WHERE trdm_sk = ?1",
        cols.join(", ")
    );
    conn.query_row(&sql, [sk], |row| {
        let mut obj = serde_json::Map::new();
        let n = table.columns.len();
        for (i, c) in table.columns.iter().enumerate() {
            obj.insert(c.name.clone(), json_value(table, i, row.get_ref(i)?));
        }
        let stamp = |k: usize| -> rusqlite::Result<serde_json::Value> {
            let mut s = String::new();
            format_timestamptz(row.get(n + k)?, &mut s);
            Ok(serde_json::Value::String(s))
        };
        obj.insert("trdm_sk".into(), row.get::<_, i64>(n)?.into());
        obj.insert("trdm_record_id".into(), row.get::<_, i64>(n + 1)?.into());
        obj.insert("trdm_state".into(), row.get::<_, String>(n + 2)?.into());
        obj.insert("trdm_created_at".into(), stamp(3)?);
        obj.insert("trdm_effective_from".into(), stamp(4)?);
        obj.insert("trdm_effective_to".into(), stamp(5)?);
        obj.insert("trdm_is_deleted".into(), row.get::<_, bool>(n + 6)?.into());
        obj.insert(
            "trdm_actor_type".into(),
            row.get::<_, String>(n + 7)?.into(),
        );
        obj.insert(
            "trdm_actor_id".into(),
            row.get::<_, Option<i64>>(n + 8)?.into(),
        );
        obj.insert("trdm_tran_code".into(), row.get::<_, String>(n + 9)?.into());
        Ok(serde_json::Value::Object(obj))
    })
    .optional()
}
