//! The records database: one physical table per deployed table per branch, versioned as part A §8 says.
//!
//! Every physical table has the `trdm_*` system columns and the user columns, each user value stored in its
//! canonical text (decimals, floats, dates, times, timestamps) or as an integer (integers, booleans), so that
//! exports write stored text straight out and "is this row unchanged?" is a plain equality test.
//!
//! An import file is validated and applied inside ONE transaction ([`apply_file`]): the first bad row rolls
//! everything back and the error names the row, the column and the value. Memory does not grow with the file:
//! rows stream from the reader, and the keys seen so far (needed to find duplicates and, for `full`, the
//! records absent from the file) live in a temporary SQLite table, not in a hash set.

use std::io::Read;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use trdm_format::csv::{CsvReader, Record};
use trdm_format::temporal::{HIGH_DATE_MICROS, format_timestamptz};
use trdm_format::value::{ColumnType, DataType, DateStyle, ParseOptions, Value};

use crate::catalog::{Counts, MappingConfig, Table};
use crate::db::ident;
use crate::decisions;

use trdm_format::TRAN_CODE_COLUMN as TRAN_CODE;

mod export;
#[cfg(test)]
mod tests;

pub(crate) use export::write_export;

/// Separates primary-key parts in the key text of the seen-keys table; it cannot occur in canonical values
/// of non-text types, and text keys are length-prefixed so it cannot be forged by text either.
const KEY_SEPARATOR: char = '\u{1f}';

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

/// How an import treats records absent from its file (part A §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportPattern {
    /// The file is the whole table.
    Full,
    /// Upserts only (also the legacy `incremental`).
    UpsertOnly,
    /// Upserts and deletes by `trdm_tran_code`.
    WithDelete,
}

impl ImportPattern {
    pub(crate) const NAMES: &'static str =
        "full, incremental_upsert_only, incremental_with_delete, incremental";

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(ImportPattern::Full),
            "incremental_upsert_only" | "incremental" => Some(ImportPattern::UpsertOnly),
            "incremental_with_delete" => Some(ImportPattern::WithDelete),
            _ => None,
        }
    }
}

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

fn reject(message: String) -> ApplyError {
    ApplyError::Rejected(message)
}

/// Shows a value in an error message: quoted, and shortened if long.
fn shown(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{value:?}")
    }
}

/// Where each file column goes.
enum Slot {
    Column {
        index: usize,
        format: Option<String>,
    },
    TranCode,
    Ignored,
}

struct Plan {
    slots: Vec<Slot>,
    /// Column index → present in the file.
    present: Vec<bool>,
    types: Vec<ColumnType>,
    pk: Vec<usize>,
    date_style: DateStyle,
}

fn plan(spec: &ImportSpec<'_>, header: &Record) -> Result<Plan, ApplyError> {
    let table = spec.table;
    let column_index = |name: &str| table.columns.iter().position(|c| c.name == name);
    let mut slots = Vec::with_capacity(header.len());
    let mut present = vec![false; table.columns.len()];
    let mut has_tran_code = false;
    for field in header.iter() {
        let name = field.text;
        if name == TRAN_CODE {
            if has_tran_code {
                return Err(reject(format!("the header names column {TRAN_CODE} twice")));
            }
            has_tran_code = true;
            slots.push(Slot::TranCode);
            continue;
        }
        let target = if spec.mapping.columns.is_empty() {
            column_index(name).map(|i| (i, None))
        } else {
            spec.mapping
                .columns
                .iter()
                .find(|m| m.source_column == name)
                .and_then(|m| column_index(&m.target_column).map(|i| (i, m.format.clone())))
        };
        match target {
            Some((index, format)) => {
                if present[index] {
                    return Err(reject(format!(
                        "the header maps two file columns to column {}",
                        table.columns[index].name
                    )));
                }
                present[index] = true;
                slots.push(Slot::Column { index, format });
            }
            None => slots.push(Slot::Ignored),
        }
    }
    match (spec.pattern, has_tran_code) {
        (ImportPattern::WithDelete, false) => {
            return Err(reject(format!(
                "the incremental_with_delete pattern needs a {TRAN_CODE} column"
            )));
        }
        (ImportPattern::Full | ImportPattern::UpsertOnly, true) => {
            return Err(reject(format!(
                "column {TRAN_CODE} is only allowed with the incremental_with_delete pattern"
            )));
        }
        _ => {}
    }
    let pk: Vec<usize> = (0..table.columns.len())
        .filter(|&i| table.columns[i].is_primary_key)
        .collect();
    for &i in &pk {
        if !present[i] {
            return Err(reject(format!(
                "primary key column {} is missing from the file",
                table.columns[i].name
            )));
        }
    }
    let date_style = if spec.mapping.date_style.eq_ignore_ascii_case("DMY") {
        DateStyle::Dmy
    } else {
        DateStyle::Mdy
    };
    Ok(Plan {
        slots,
        present,
        types: table.columns.iter().map(|c| c.column_type()).collect(),
        pk,
        date_style,
    })
}

enum Tran {
    Upsert,
    Delete,
}

fn to_sql(ty: &ColumnType, value: Value, scratch: &mut String) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Int(i) => SqlValue::Integer(i),
        Value::Bool(b) => SqlValue::Integer(i64::from(b)),
        Value::Text(s) => SqlValue::Text(s),
        other => {
            scratch.clear();
            ty.format(&other, scratch);
            SqlValue::Text(scratch.clone())
        }
    }
}

/// Appends one key part, length-prefixed so no text can imitate the separator.
fn push_key_part(key: &mut String, value: &SqlValue) {
    use std::fmt::Write as _;
    match value {
        SqlValue::Integer(i) => {
            let _ = write!(key, "i{i}");
        }
        SqlValue::Text(s) => {
            let _ = write!(key, "t{}:{s}", s.len());
        }
        _ => key.push('n'),
    }
    key.push(KEY_SEPARATOR);
}

fn sql_text(value: &SqlValue) -> String {
    match value {
        SqlValue::Integer(i) => i.to_string(),
        SqlValue::Text(s) => s.clone(),
        SqlValue::Real(f) => f.to_string(),
        _ => String::new(),
    }
}

/// The next change time: now, but always after the previous change, so that a high-water mark taken from
/// exported data never skips a later commit. Taken inside the write transaction, so writers are ordered.
fn next_change_time(conn: &Connection) -> rusqlite::Result<i64> {
    let last: i64 = conn.query_row("SELECT last_change FROM trdm_clock WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    let change = crate::time::now().max(last + 1);
    conn.execute(
        "UPDATE trdm_clock SET last_change = ?1 WHERE id = 1",
        [change],
    )?;
    Ok(change)
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

/// Validates and applies one file in one transaction. On any error nothing is changed.
pub(crate) fn apply_file(
    conn: &mut Connection,
    spec: &ImportSpec<'_>,
    input: impl Read,
) -> Result<Counts, ApplyError> {
    let delimiter = match spec.mapping.delimiter.as_bytes() {
        [d] => *d,
        _ => b',',
    };
    let mut reader = CsvReader::new(input).with_delimiter(delimiter);
    let mut header = Record::new();
    let bad_csv = |e: trdm_format::csv::CsvError| reject(format!("the file is not valid CSV: {e}"));
    if !reader.read_record(&mut header).map_err(bad_csv)? {
        return Err(reject("the file is empty: it has no header row".into()));
    }
    let plan = plan(spec, &header)?;
    let table = spec.table;
    let t = ident(&table.physical_name);
    let cols: Vec<String> = table.columns.iter().map(|c| ident(&c.name)).collect();
    let col_list = cols.join(", ");
    let n = cols.len();

    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let change = next_change_time(&tx)?;
    let mut next_record_id: i64 = tx.query_row(
        "SELECT next_record_id FROM trdm_record_counters WHERE physical_name = ?1",
        [&table.physical_name],
        |r| r.get(0),
    )?;
    let table_was_empty =
        tx.query_row(&format!("SELECT NOT EXISTS (SELECT 1 FROM {t})"), [], |r| {
            r.get::<_, bool>(0)
        })?;
    tx.execute_batch(
        "DROP TABLE IF EXISTS temp.trdm_seen;
         CREATE TEMP TABLE trdm_seen (k TEXT PRIMARY KEY, row_no INTEGER NOT NULL, record_id INTEGER) WITHOUT ROWID;",
    )?;
    let mut counts = Counts::default();
    {
        let pk_where: Vec<String> = plan
            .pk
            .iter()
            .enumerate()
            .map(|(p, &i)| format!("{} = ?{}", cols[i], p + 1))
            .collect();
        let mut lookup = tx.prepare(&format!(
            "SELECT trdm_sk, trdm_record_id, trdm_is_deleted, {col_list} FROM {t}
             WHERE trdm_state = 'C' AND {}",
            pk_where.join(" AND ")
        ))?;
        let mut seen =
            tx.prepare("INSERT INTO temp.trdm_seen (k, row_no, record_id) VALUES (?1, ?2, ?3)")?;
        let mut first_seen = tx.prepare("SELECT row_no FROM temp.trdm_seen WHERE k = ?1")?;
        let mut close = tx.prepare(&format!(
            "UPDATE {t} SET trdm_state = 'H', trdm_effective_to = ?1 WHERE trdm_sk = ?2"
        ))?;
        let placeholders: Vec<String> = (0..n).map(|i| format!("?{}", i + 7)).collect();
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {t} (trdm_record_id, trdm_state, trdm_created_at, trdm_effective_from, trdm_effective_to,
                trdm_is_deleted, trdm_actor_type, trdm_actor_id, trdm_tran_code, {col_list})
             VALUES (?1, 'C', ?2, ?2, ?3, 0, ?4, ?5, ?6, {})",
            placeholders.join(", ")
        ))?;
        let mut tombstone = tx.prepare(&format!(
            "INSERT INTO {t} (trdm_record_id, trdm_state, trdm_created_at, trdm_effective_from, trdm_effective_to,
                trdm_is_deleted, trdm_actor_type, trdm_actor_id, trdm_tran_code, {col_list})
             SELECT trdm_record_id, 'C', ?1, ?1, ?2, 1, ?3, ?4, 'd', {col_list} FROM {t} WHERE trdm_sk = ?5"
        ))?;

        let mut record = Record::new();
        let mut values: Vec<SqlValue> = vec![SqlValue::Null; n];
        let mut key = String::new();
        let mut scratch = String::new();
        let mut row_no = decisions::FIRST_DATA_ROW - 1;
        loop {
            if !reader.read_record(&mut record).map_err(bad_csv)? {
                break;
            }
            row_no += 1;
            if record.len() != header.len() {
                return Err(reject(format!(
                    "row {row_no} has {} fields but the header has {}",
                    record.len(),
                    header.len()
                )));
            }
            for v in values.iter_mut() {
                *v = SqlValue::Null;
            }
            let mut tran = Tran::Upsert;
            for (slot, field) in plan.slots.iter().zip(record.iter()) {
                match slot {
                    Slot::Ignored => {}
                    Slot::TranCode => {
                        tran = match field.text.trim().to_ascii_lowercase().as_str() {
                            "i" | "u" => Tran::Upsert,
                            "d" => Tran::Delete,
                            _ => {
                                return Err(reject(format!(
                                    "row {row_no}, column {TRAN_CODE}: value {} is not a transaction code \
                                     (expected i, u or d)",
                                    shown(field.text)
                                )));
                            }
                        }
                    }
                    Slot::Column { index, format } => {
                        let ty = &plan.types[*index];
                        let opts = ParseOptions {
                            date_style: plan.date_style,
                            format: format.as_deref(),
                        };
                        let value = ty.parse(field.text, field.quoted, &opts).map_err(|e| {
                            reject(format!(
                                "row {row_no}, column {}: value {} {}",
                                table.columns[*index].name,
                                shown(field.text),
                                e.reason
                            ))
                        })?;
                        values[*index] = to_sql(ty, value, &mut scratch);
                    }
                }
            }
            key.clear();
            for &i in &plan.pk {
                if matches!(values[i], SqlValue::Null) {
                    return Err(reject(format!(
                        "row {row_no}, column {}: the primary key needs a value",
                        table.columns[i].name
                    )));
                }
                push_key_part(&mut key, &values[i]);
            }
            if matches!(tran, Tran::Upsert) {
                for (i, c) in table.columns.iter().enumerate() {
                    if c.is_required && matches!(values[i], SqlValue::Null) {
                        let why = if plan.present[i] {
                            "a value is required"
                        } else {
                            "is required but missing from the file"
                        };
                        return Err(reject(format!("row {row_no}, column {}: {why}", c.name)));
                    }
                }
            }
            let current: Option<(i64, i64, bool, Vec<SqlValue>)> = if table_was_empty {
                None
            } else {
                lookup
                    .query_row(params_from_iter(plan.pk.iter().map(|&i| &values[i])), |r| {
                        let mut stored = Vec::with_capacity(n);
                        for i in 0..n {
                            stored.push(r.get::<_, SqlValue>(3 + i)?);
                        }
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, stored))
                    })
                    .optional()?
            };
            let record_id = current.as_ref().map(|c| c.1);
            let seen_id = match (&tran, record_id) {
                (_, Some(id)) => Some(id),
                (Tran::Upsert, None) => Some(next_record_id),
                (Tran::Delete, None) => None,
            };
            if let Err(e) = seen.execute(params![key, row_no as i64, seen_id]) {
                if is_constraint(&e) {
                    let first: i64 = first_seen.query_row([&key], |r| r.get(0))?;
                    let pk_text: Vec<String> = plan
                        .pk
                        .iter()
                        .map(|&i| {
                            format!("{}={}", table.columns[i].name, shown(&sql_text(&values[i])))
                        })
                        .collect();
                    return Err(reject(format!(
                        "row {row_no}, column {}: value {} repeats the primary key of row {first} ({}); \
                         each primary key may appear only once per file",
                        table.columns[plan.pk[0]].name,
                        shown(&sql_text(&values[plan.pk[0]])),
                        pk_text.join(", ")
                    )));
                }
                return Err(e.into());
            }
            match (tran, current) {
                (Tran::Delete, Some((sk, _, false, _))) => {
                    close.execute(params![change, sk])?;
                    tombstone.execute(params![
                        change,
                        HIGH_DATE_MICROS,
                        spec.actor_type,
                        spec.actor_id,
                        sk
                    ])?;
                    counts.deleted += 1;
                }
                (Tran::Delete, _) => {}
                (Tran::Upsert, None) => {
                    insert_version(&mut insert, next_record_id, change, spec, "i", &values)?;
                    next_record_id += 1;
                    counts.inserted += 1;
                }
                (Tran::Upsert, Some((sk, record_id, deleted, stored))) => {
                    if !deleted && stored == values {
                        continue;
                    }
                    close.execute(params![change, sk])?;
                    let code = if deleted {
                        decisions::REINSERT_TRAN_CODE
                    } else {
                        "u"
                    };
                    insert_version(&mut insert, record_id, change, spec, code, &values)?;
                    counts.updated += 1;
                }
            }
        }

        if spec.pattern == ImportPattern::Full && !table.allow_manual_rows && !table_was_empty {
            let absent: Vec<i64> = tx
                .prepare(&format!(
                    "SELECT trdm_sk FROM {t} WHERE trdm_state = 'C' AND trdm_is_deleted = 0
                       AND trdm_created_at < ?1
                       AND trdm_record_id NOT IN (SELECT record_id FROM temp.trdm_seen WHERE record_id IS NOT NULL)
                     ORDER BY trdm_sk"
                ))?
                .query_map([change], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for sk in absent {
                close.execute(params![change, sk])?;
                tombstone.execute(params![
                    change,
                    HIGH_DATE_MICROS,
                    spec.actor_type,
                    spec.actor_id,
                    sk
                ])?;
                counts.deleted += 1;
            }
        }
    }
    tx.execute(
        "UPDATE trdm_record_counters SET next_record_id = ?2 WHERE physical_name = ?1",
        params![table.physical_name, next_record_id],
    )?;
    if let Some(id) = spec.import_table_id {
        tx.execute(
            "INSERT INTO trdm_applied_import_tables (import_table_id, inserted, updated, deleted) VALUES (?1, ?2, ?3, ?4)",
            params![id, counts.inserted, counts.updated, counts.deleted],
        )?;
    }
    tx.execute_batch("DROP TABLE temp.trdm_seen;")?;
    tx.commit()?;
    Ok(counts)
}

fn insert_version(
    insert: &mut rusqlite::Statement<'_>,
    record_id: i64,
    change: i64,
    spec: &ImportSpec<'_>,
    code: &str,
    values: &[SqlValue],
) -> rusqlite::Result<()> {
    let head: [SqlValue; 6] = [
        SqlValue::Integer(record_id),
        SqlValue::Integer(change),
        SqlValue::Integer(HIGH_DATE_MICROS),
        SqlValue::Text(spec.actor_type.to_owned()),
        SqlValue::Integer(spec.actor_id),
        SqlValue::Text(code.to_owned()),
    ];
    insert.execute(params_from_iter(head.iter().chain(values.iter())))?;
    Ok(())
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
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
