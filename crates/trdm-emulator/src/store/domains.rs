//! Domains: the groups of tables within a branch.

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::{Value as Json, json};

use crate::error::{ApiError, ApiResult};
use crate::time::iso;

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
