//! OAuth applications: the clients allowed to ask for a token.

use rusqlite::{Connection, OptionalExtension};

use crate::error::ApiResult;

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
