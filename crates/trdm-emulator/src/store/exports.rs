//! Exports: the state of each export job and the JSON the service answers with for it.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value as Json, json};

use crate::error::{ApiError, ApiResult};
use crate::time::iso;

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
