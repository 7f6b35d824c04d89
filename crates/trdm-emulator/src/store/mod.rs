//! The emulator's metadata store (what `db` calls the catalog database): OAuth applications, branches,
//! domains, deployed tables with their columns, import mappings, and the state of every export, import and
//! import table.
//!
//! Rows are read into plain structs and turned into the JSON the real service answers with in `*_json`
//! functions, so every response shape lives next to the row it comes from.
//!
//! Not named `catalog`, which means the lakehouse everywhere else in the workspace. Split by resource like
//! `routes/`; this module creates the schema, holds the settings table and re-exports every resource's
//! items, so callers name them as `store::X`.

use rusqlite::{Connection, OptionalExtension, params};

mod applications;
mod branches;
mod domains;
mod exports;
mod imports;
mod mappings;
mod tables;

pub(crate) use applications::*;
pub(crate) use branches::*;
pub(crate) use domains::*;
pub(crate) use exports::*;
pub(crate) use imports::*;
pub(crate) use mappings::*;
pub(crate) use tables::*;

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
