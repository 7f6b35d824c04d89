//! The import applier as it was before it was tuned, kept verbatim (renamed) as the definition of the expected
//! outcome: the tests apply the same files with both and compare the tables, the counts and the messages.
//! Only the applying is kept: the header plan and the message helpers, which were not tuned, are shared.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use trdm_format::TRAN_CODE_COLUMN as TRAN_CODE;
use trdm_format::csv::{CsvReader, Record};
use trdm_format::temporal::HIGH_DATE_MICROS;
use trdm_format::value::{ColumnType, ParseOptions, Value};

use super::import::{Slot, is_constraint, next_change_time, plan, reject, shown};
use super::{ApplyError, ImportPattern, ImportSpec};
use crate::db::ident;
use crate::decisions;
use crate::store::Counts;
use std::io::Read;

const KEY_SEPARATOR: char = '\u{1f}';

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

/// Validates and applies one file in one transaction: `apply_file` as it was before it was tuned.
pub(crate) fn reference_apply_file(
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
