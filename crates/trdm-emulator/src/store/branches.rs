//! Branches: the top of the metadata tree, each holding domains and tables.

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::{Value as Json, json};

use crate::error::{ApiError, ApiResult};
use crate::time::iso;

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
