//! Imports and import tables: the state of each import, per table, and their JSON.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value as Json, json};

use super::{Mapping, Table};
use crate::error::{ApiError, ApiResult};
use crate::time::iso;

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
