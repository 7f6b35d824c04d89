//! Applying an import file: validate every row, then write the versions, in ONE records transaction.
//!
//! The work is split over two threads joined by a bounded queue. A parser thread reads the CSV, parses and
//! checks every field (types, primary key, required values, transaction codes) and writes each good row's
//! canonical values onto a compact tape (a type tag, then the integer's 8 bytes or the text's 8-byte length and
//! bytes); at the first bad row it queues the message instead and stops. The calling thread owns the
//! connection and the transaction: it applies the rows in file order, so a message is reported only once every
//! row before it was applied without error, exactly as when one thread did both, and one error rolls back all.
//!
//! Memory does not grow with the file: a few tapes are in flight, and the records seen so far (to find
//! duplicate keys and, for `full`, the records absent from the file) live in temporary SQLite tables. A row
//! that names an existing record (or creates one) is remembered by its record id, an integer key; only a
//! delete of a key that has no record is remembered by its key text. Two rows with one key always meet in one
//! of the two: the first leaves a current version of its record behind, which the second finds. The records
//! a `full` file leaves out are tombstoned a page of keys at a time, so deleting every record costs no more
//! memory than deleting none.
//!
//! Into a table that was empty, upserts neither look nor are remembered: each creates the next record, so the
//! partial unique index on the current keys stops a second row with a key at its insert, and the row that
//! created a record follows from its record id and the rows remembered by key text. A delete still looks: a
//! record it finds was created by an earlier row of the file.

use std::io::Read;
use std::sync::mpsc;

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use trdm_format::TRAN_CODE_COLUMN as TRAN_CODE;
use trdm_format::csv::{CsvReader, Record};
use trdm_format::temporal::HIGH_DATE_MICROS;
use trdm_format::value::{ColumnType, DateStyle, ParseOptions, Value};

use super::{ApplyError, ImportPattern, ImportSpec};
use crate::db::ident;
use crate::decisions;
use crate::store::{Counts, Table};

/// Records a `full` import tombstones are looked up this many at a time.
const ABSENT_PAGE: usize = 4096;

/// Separates primary-key parts in the key text of deletes without a record; it cannot occur in canonical
/// values of non-text types, and text keys are length-prefixed so it cannot be forged by text either.
const KEY_SEPARATOR: char = '\u{1f}';
/// A tape is handed over once it holds this many bytes.
const TAPE_BYTES: usize = 256 * 1024;
/// Tapes queued between the threads.
const QUEUED_TAPES: usize = 2;

/// Tape tags.
const NULL: u8 = 0;
const INT: u8 = 1;
const TEXT: u8 = 2;
/// Row tags: the transaction.
const UPSERT: u8 = 0;
const DELETE: u8 = 1;

pub(super) fn reject(message: String) -> ApplyError {
    ApplyError::Rejected(message)
}

/// Shows a value in an error message: quoted, and shortened if long.
pub(super) fn shown(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{value:?}")
    }
}

/// Where each file column goes.
pub(super) enum Slot {
    Column {
        index: usize,
        format: Option<String>,
    },
    TranCode,
    Ignored,
}

pub(super) struct Plan {
    pub(super) slots: Vec<Slot>,
    /// Column index → present in the file.
    pub(super) present: Vec<bool>,
    pub(super) types: Vec<ColumnType>,
    pub(super) pk: Vec<usize>,
    pub(super) date_style: DateStyle,
}

pub(super) fn plan(spec: &ImportSpec<'_>, header: &Record) -> Result<Plan, ApplyError> {
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
        (ImportPattern::IncrementalWithDelete, false) => {
            return Err(reject(format!(
                "the incremental_with_delete pattern needs a {TRAN_CODE} column"
            )));
        }
        (ImportPattern::Full | ImportPattern::IncrementalUpsertOnly, true) => {
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

// ------------------------------------------------------------------------------------------- parsing

/// What the parser thread queues.
enum Parsed {
    /// Good rows, in file order.
    Rows(Vec<u8>),
    /// The message of the first bad row (or of the CSV); nothing follows it.
    Rejected(String),
}

/// One parsed value before it goes onto the tape; text lives in the row's text buffer.
#[derive(Clone, Copy)]
enum Parsing {
    Null,
    Int(i64),
    Text(usize, usize),
}

/// The parser thread: reads, checks and tapes every row, and stops at the first bad one or when the applier
/// has stopped listening.
fn parse_rows<R: Read>(
    mut reader: CsvReader<R>,
    header_len: usize,
    plan: &Plan,
    table: &Table,
    out: &mpsc::SyncSender<Parsed>,
    spare: &mpsc::Receiver<Vec<u8>>,
) {
    let n = table.columns.len();
    let mut record = Record::new();
    let mut values = vec![Parsing::Null; n];
    let mut text = String::new();
    let mut tape = Vec::with_capacity(TAPE_BYTES + 4096);
    let mut row_no = decisions::FIRST_DATA_ROW - 1;
    let outcome = loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(format!("the file is not valid CSV: {e}")),
        }
        row_no += 1;
        let tran = match parse_row(
            &record,
            row_no,
            header_len,
            plan,
            table,
            &mut values,
            &mut text,
        ) {
            Ok(tran) => tran,
            Err(message) => break Err(message),
        };
        tape.push(tran);
        for value in &values {
            match *value {
                Parsing::Null => tape.push(NULL),
                Parsing::Int(v) => {
                    tape.push(INT);
                    tape.extend_from_slice(&v.to_le_bytes());
                }
                Parsing::Text(start, end) => {
                    tape.push(TEXT);
                    tape.extend_from_slice(&((end - start) as u64).to_le_bytes());
                    tape.extend_from_slice(&text.as_bytes()[start..end]);
                }
            }
        }
        if tape.len() >= TAPE_BYTES {
            let next = spare
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(TAPE_BYTES + 4096));
            if out
                .send(Parsed::Rows(std::mem::replace(&mut tape, next)))
                .is_err()
            {
                return;
            }
            tape.clear();
        }
    };
    if !tape.is_empty() && out.send(Parsed::Rows(tape)).is_err() {
        return;
    }
    if let Err(message) = outcome {
        let _ = out.send(Parsed::Rejected(message));
    }
}

/// Parses and checks one record into `values` (by column) and `text`; returns its row tag.
fn parse_row(
    record: &Record,
    row_no: u64,
    header_len: usize,
    plan: &Plan,
    table: &Table,
    values: &mut [Parsing],
    text: &mut String,
) -> Result<u8, String> {
    if record.len() != header_len {
        return Err(format!(
            "row {row_no} has {} fields but the header has {}",
            record.len(),
            header_len
        ));
    }
    values.fill(Parsing::Null);
    text.clear();
    let mut tran = UPSERT;
    for (slot, field) in plan.slots.iter().zip(record.iter()) {
        match slot {
            Slot::Ignored => {}
            Slot::TranCode => {
                tran = match field.text.trim().to_ascii_lowercase().as_str() {
                    "i" | "u" => UPSERT,
                    "d" => DELETE,
                    _ => {
                        return Err(format!(
                            "row {row_no}, column {TRAN_CODE}: value {} is not a transaction code \
                             (expected i, u or d)",
                            shown(field.text)
                        ));
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
                    format!(
                        "row {row_no}, column {}: value {} {}",
                        table.columns[*index].name,
                        shown(field.text),
                        e.reason
                    )
                })?;
                // Integers and booleans are stored as integers, everything else as its canonical text.
                values[*index] = match value {
                    Value::Null => Parsing::Null,
                    Value::Int(i) => Parsing::Int(i),
                    Value::Bool(b) => Parsing::Int(i64::from(b)),
                    Value::Text(s) => {
                        let start = text.len();
                        text.push_str(&s);
                        Parsing::Text(start, text.len())
                    }
                    other => {
                        let start = text.len();
                        ty.format(&other, text);
                        Parsing::Text(start, text.len())
                    }
                };
            }
        }
    }
    for &i in &plan.pk {
        if matches!(values[i], Parsing::Null) {
            return Err(format!(
                "row {row_no}, column {}: the primary key needs a value",
                table.columns[i].name
            ));
        }
    }
    if tran == UPSERT {
        for (i, c) in table.columns.iter().enumerate() {
            if c.is_required && matches!(values[i], Parsing::Null) {
                let why = if plan.present[i] {
                    "a value is required"
                } else {
                    "is required but missing from the file"
                };
                return Err(format!("row {row_no}, column {}: {why}", c.name));
            }
        }
    }
    Ok(tran)
}

// ------------------------------------------------------------------------------------------- applying

/// One value read back from a tape. Texts are the bytes of whole UTF-8 strings the parser wrote, so they are
/// bound as they are, without checking them again.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Null,
    Int(i64),
    Text(&'a [u8]),
}

impl Cell<'_> {
    /// The value as a message shows it.
    fn text(self) -> String {
        match self {
            Cell::Int(i) => i.to_string(),
            Cell::Text(s) => String::from_utf8_lossy(s).into_owned(),
            Cell::Null => String::new(),
        }
    }

    /// Whether a stored value equals this one, as `rusqlite::types::Value` equality does.
    fn equals(self, stored: ValueRef<'_>) -> bool {
        match (self, stored) {
            (Cell::Null, ValueRef::Null) => true,
            (Cell::Int(a), ValueRef::Integer(b)) => a == b,
            (Cell::Text(a), ValueRef::Text(b)) => a == b,
            _ => false,
        }
    }
}

/// Binds `cell` to parameter `index` of `stmt`.
fn bind(stmt: &mut rusqlite::Statement<'_>, index: usize, cell: Cell<'_>) -> rusqlite::Result<()> {
    match cell {
        Cell::Text(s) => stmt.raw_bind_parameter(index, ToSqlOutput::Borrowed(ValueRef::Text(s))),
        Cell::Int(i) => stmt.raw_bind_parameter(index, i),
        Cell::Null => stmt.raw_bind_parameter(index, rusqlite::types::Null),
    }
}

/// Reads the cells of one row from `tape` at `pos`; returns its row tag.
fn read_row<'a>(tape: &'a [u8], pos: &mut usize, n: usize, cells: &mut Vec<Cell<'a>>) -> u8 {
    let take = |pos: &mut usize, len: usize| -> &'a [u8] {
        let bytes = &tape[*pos..*pos + len];
        *pos += len;
        bytes
    };
    let tran = take(pos, 1)[0];
    cells.clear();
    for _ in 0..n {
        let cell = match take(pos, 1)[0] {
            INT => Cell::Int(i64::from_le_bytes(
                take(pos, 8).try_into().expect("8 bytes"),
            )),
            TEXT => {
                let len = u64::from_le_bytes(take(pos, 8).try_into().expect("8 bytes")) as usize;
                Cell::Text(take(pos, len))
            }
            _ => Cell::Null,
        };
        cells.push(cell);
    }
    tran
}

/// The current version of a record, as the lookup finds it.
struct Current {
    sk: i64,
    record_id: i64,
    deleted: bool,
    /// Its user values equal the row's.
    same: bool,
}

/// The prepared statements and the state of one file's application.
struct Applier<'c> {
    spec: &'c ImportSpec<'c>,
    plan: &'c Plan,
    change: i64,
    table_was_empty: bool,
    /// The record id the file's first new record gets.
    first_record_id: i64,
    next_record_id: i64,
    counts: Counts,
    /// Rows remembered by key text (deletes without a record).
    keyed_rows: u64,
    key: String,
    lookup: rusqlite::Statement<'c>,
    seen: rusqlite::Statement<'c>,
    first_seen: rusqlite::Statement<'c>,
    seen_key: rusqlite::Statement<'c>,
    first_seen_key: rusqlite::Statement<'c>,
    keyed_row_numbers: rusqlite::Statement<'c>,
    close: rusqlite::Statement<'c>,
    insert: rusqlite::Statement<'c>,
    tombstone: rusqlite::Statement<'c>,
}

impl<'c> Applier<'c> {
    fn prepare(
        tx: &'c Connection,
        spec: &'c ImportSpec<'c>,
        plan: &'c Plan,
        change: i64,
        table_was_empty: bool,
        next_record_id: i64,
    ) -> rusqlite::Result<Self> {
        let table = spec.table;
        let t = ident(&table.physical_name);
        let cols: Vec<String> = table.columns.iter().map(|c| ident(&c.name)).collect();
        let col_list = cols.join(", ");
        let n = cols.len();
        let pk_where: Vec<String> = plan
            .pk
            .iter()
            .enumerate()
            .map(|(p, &i)| format!("{} = ?{}", cols[i], p + 1))
            .collect();
        let lookup = tx.prepare(&format!(
            "SELECT trdm_sk, trdm_record_id, trdm_is_deleted, {col_list} FROM {t}
             WHERE trdm_state = 'C' AND {}",
            pk_where.join(" AND ")
        ))?;
        let placeholders: Vec<String> = (0..n).map(|i| format!("?{}", i + 7)).collect();
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {t} (trdm_record_id, trdm_state, trdm_created_at, trdm_effective_from, trdm_effective_to,
                trdm_is_deleted, trdm_actor_type, trdm_actor_id, trdm_tran_code, {col_list})
             VALUES (?1, 'C', ?2, ?2, ?3, 0, ?4, ?5, ?6, {})",
            placeholders.join(", ")
        ))?;
        // Bindings outlive executions: the parameters every version of this file shares are bound once.
        insert.raw_bind_parameter(2, change)?;
        insert.raw_bind_parameter(3, HIGH_DATE_MICROS)?;
        insert.raw_bind_parameter(4, spec.actor_type)?;
        insert.raw_bind_parameter(5, spec.actor_id)?;
        Ok(Applier {
            spec,
            plan,
            change,
            table_was_empty,
            first_record_id: next_record_id,
            next_record_id,
            counts: Counts::default(),
            keyed_rows: 0,
            key: String::new(),
            lookup,
            seen: tx.prepare("INSERT INTO temp.trdm_seen (record_id, row_no) VALUES (?1, ?2)")?,
            first_seen: tx.prepare("SELECT row_no FROM temp.trdm_seen WHERE record_id = ?1")?,
            seen_key: tx.prepare("INSERT INTO temp.trdm_seen_keys (k, row_no) VALUES (?1, ?2)")?,
            first_seen_key: tx.prepare("SELECT row_no FROM temp.trdm_seen_keys WHERE k = ?1")?,
            keyed_row_numbers: tx
                .prepare("SELECT row_no FROM temp.trdm_seen_keys ORDER BY row_no")?,
            close: tx.prepare(&format!(
                "UPDATE {t} SET trdm_state = 'H', trdm_effective_to = ?1 WHERE trdm_sk = ?2"
            ))?,
            insert,
            tombstone: tx.prepare(&format!(
                "INSERT INTO {t} (trdm_record_id, trdm_state, trdm_created_at, trdm_effective_from, trdm_effective_to,
                    trdm_is_deleted, trdm_actor_type, trdm_actor_id, trdm_tran_code, {col_list})
                 SELECT trdm_record_id, 'C', ?1, ?1, ?2, 1, ?3, ?4, 'd', {col_list} FROM {t} WHERE trdm_sk = ?5"
            ))?,
        })
    }

    /// The current version with the row's primary key, if any.
    fn lookup(&mut self, cells: &[Cell<'_>]) -> rusqlite::Result<Option<Current>> {
        for (p, &i) in self.plan.pk.iter().enumerate() {
            bind(&mut self.lookup, p + 1, cells[i])?;
        }
        let mut rows = self.lookup.raw_query();
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        let mut same = true;
        for (i, cell) in cells.iter().enumerate() {
            let stored = r.get_ref(3 + i)?;
            if !cell.equals(stored) {
                same = false;
                // A stored text that is not UTF-8 fails as reading it into a `Value` fails.
                if let ValueRef::Text(bytes) = stored
                    && std::str::from_utf8(bytes).is_err()
                {
                    r.get::<_, SqlValue>(3 + i)?;
                }
            }
        }
        Ok(Some(Current {
            sk: r.get(0)?,
            record_id: r.get(1)?,
            deleted: r.get(2)?,
            same,
        }))
    }

    fn duplicate(&self, cells: &[Cell<'_>], row_no: u64, first: i64) -> ApplyError {
        let table = self.spec.table;
        let pk_text: Vec<String> = self
            .plan
            .pk
            .iter()
            .map(|&i| format!("{}={}", table.columns[i].name, shown(&cells[i].text())))
            .collect();
        let first_pk = self.plan.pk[0];
        reject(format!(
            "row {row_no}, column {}: value {} repeats the primary key of row {first} ({}); \
             each primary key may appear only once per file",
            table.columns[first_pk].name,
            shown(&cells[first_pk].text()),
            pk_text.join(", ")
        ))
    }

    /// The row that first named record `record_id`.
    fn first_row_of(&mut self, record_id: i64) -> rusqlite::Result<i64> {
        if !self.table_was_empty {
            return self.first_seen.query_row([record_id], |r| r.get(0));
        }
        // Into an empty table every row so far either created the next record or was remembered by its key:
        // the k-th new record's row is the k-th row number not taken by a keyed row.
        let mut row_no = decisions::FIRST_DATA_ROW as i64 + (record_id - self.first_record_id);
        let mut keyed = self.keyed_row_numbers.query([])?;
        while let Some(r) = keyed.next()? {
            if r.get::<_, i64>(0)? > row_no {
                break;
            }
            row_no += 1;
        }
        Ok(row_no)
    }

    /// Builds the key text of the row into `self.key`.
    fn build_key(&mut self, cells: &[Cell<'_>]) {
        use std::fmt::Write as _;
        self.key.clear();
        for &i in &self.plan.pk {
            match cells[i] {
                Cell::Int(v) => {
                    let _ = write!(self.key, "i{v}");
                }
                Cell::Text(s) => {
                    let _ = write!(self.key, "t{}:{}", s.len(), String::from_utf8_lossy(s));
                }
                Cell::Null => self.key.push('n'),
            }
            self.key.push(KEY_SEPARATOR);
        }
    }

    /// The row that first used the row's key text, if any.
    fn first_row_of_key(&mut self, cells: &[Cell<'_>]) -> rusqlite::Result<Option<i64>> {
        self.build_key(cells);
        self.first_seen_key
            .query_row([&self.key], |r| r.get(0))
            .optional()
    }

    fn apply_row(&mut self, tran: u8, cells: &[Cell<'_>], row_no: u64) -> Result<(), ApplyError> {
        // Into an empty table an upsert always creates its record (a second one with its key fails at the
        // insert); a delete still looks, to meet an earlier row with its key.
        let current = if self.table_was_empty && tran == UPSERT {
            None
        } else {
            self.lookup(cells)?
        };
        let seen_id = match (tran, &current) {
            (_, Some(c)) => Some(c.record_id),
            (UPSERT, None) => Some(self.next_record_id),
            _ => None,
        };
        match seen_id {
            // Into an empty table a delete that finds a record meets the row that created it, and an upsert
            // that creates one is stopped at its insert if an earlier row created it.
            Some(id) if self.table_was_empty => {
                if current.is_some() {
                    let first = self.first_row_of(id)?;
                    return Err(self.duplicate(cells, row_no, first));
                }
                if self.keyed_rows > 0
                    && let Some(first) = self.first_row_of_key(cells)?
                {
                    return Err(self.duplicate(cells, row_no, first));
                }
            }
            Some(id) => {
                self.seen.raw_bind_parameter(1, id)?;
                self.seen.raw_bind_parameter(2, row_no as i64)?;
                if let Err(e) = self.seen.raw_execute() {
                    if is_constraint(&e) {
                        let first = self.first_row_of(id)?;
                        return Err(self.duplicate(cells, row_no, first));
                    }
                    return Err(e.into());
                }
                if current.is_none()
                    && self.keyed_rows > 0
                    && let Some(first) = self.first_row_of_key(cells)?
                {
                    return Err(self.duplicate(cells, row_no, first));
                }
            }
            None => {
                self.build_key(cells);
                self.seen_key.raw_bind_parameter(1, self.key.as_str())?;
                self.seen_key.raw_bind_parameter(2, row_no as i64)?;
                if let Err(e) = self.seen_key.raw_execute() {
                    if is_constraint(&e) {
                        let first = self
                            .first_row_of_key(cells)?
                            .expect("a conflicting key was seen");
                        return Err(self.duplicate(cells, row_no, first));
                    }
                    return Err(e.into());
                }
                self.keyed_rows += 1;
            }
        }
        let change = self.change;
        let spec = self.spec;
        match (tran, current) {
            (DELETE, Some(c)) if !c.deleted => {
                self.close.execute(params![change, c.sk])?;
                self.tombstone.execute(params![
                    change,
                    HIGH_DATE_MICROS,
                    spec.actor_type,
                    spec.actor_id,
                    c.sk
                ])?;
                self.counts.deleted += 1;
            }
            (DELETE, _) => {}
            (_, None) => {
                if let Err(e) = self.insert_version(self.next_record_id, "i", cells) {
                    if self.table_was_empty && is_constraint(&e) {
                        // An earlier row of this file created the record.
                        if let Some(c) = self.lookup(cells)? {
                            let first = self.first_row_of(c.record_id)?;
                            return Err(self.duplicate(cells, row_no, first));
                        }
                    }
                    return Err(e.into());
                }
                self.next_record_id += 1;
                self.counts.inserted += 1;
            }
            (_, Some(c)) => {
                if !c.deleted && c.same {
                    return Ok(());
                }
                self.close.execute(params![change, c.sk])?;
                let code = if c.deleted {
                    decisions::REINSERT_TRAN_CODE
                } else {
                    "u"
                };
                self.insert_version(c.record_id, code, cells)?;
                self.counts.updated += 1;
            }
        }
        Ok(())
    }

    fn insert_version(
        &mut self,
        record_id: i64,
        code: &str,
        cells: &[Cell<'_>],
    ) -> rusqlite::Result<()> {
        self.insert.raw_bind_parameter(1, record_id)?;
        self.insert.raw_bind_parameter(6, code)?;
        for (i, &cell) in cells.iter().enumerate() {
            bind(&mut self.insert, 7 + i, cell)?;
        }
        self.insert.raw_execute()?;
        Ok(())
    }
}

pub(super) fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// The next change time: now, but always after the previous change, so that a high-water mark taken from
/// exported data never skips a later commit. Taken inside the write transaction, so writers are ordered.
pub(super) fn next_change_time(conn: &Connection) -> rusqlite::Result<i64> {
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

/// Validates and applies one file in one transaction. On any error nothing is changed.
pub(crate) fn apply_file(
    conn: &mut Connection,
    spec: &ImportSpec<'_>,
    input: impl Read + Send,
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
    let n = table.columns.len();

    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let change = next_change_time(&tx)?;
    let next_record_id: i64 = tx.query_row(
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
         DROP TABLE IF EXISTS temp.trdm_seen_keys;
         CREATE TEMP TABLE trdm_seen (record_id INTEGER PRIMARY KEY, row_no INTEGER NOT NULL);
         CREATE TEMP TABLE trdm_seen_keys (k TEXT PRIMARY KEY, row_no INTEGER NOT NULL) WITHOUT ROWID;",
    )?;
    let (counts, next_record_id) = {
        let mut applier =
            Applier::prepare(&tx, spec, &plan, change, table_was_empty, next_record_id)?;
        let (rows_tx, rows_rx) = mpsc::sync_channel::<Parsed>(QUEUED_TAPES);
        let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
        let header_len = header.len();
        let plan = &plan;
        let applied = std::thread::scope(|scope| {
            scope.spawn(move || {
                parse_rows(reader, header_len, plan, table, &rows_tx, &spare_rx);
            });
            // Returning drops the receiver, which stops the parser at its next hand-over.
            let mut row_no = decisions::FIRST_DATA_ROW - 1;
            for parsed in rows_rx {
                let tape = match parsed {
                    Parsed::Rows(tape) => tape,
                    Parsed::Rejected(message) => return Err(reject(message)),
                };
                let mut cells = Vec::with_capacity(n);
                let mut pos = 0;
                while pos < tape.len() {
                    let tran = read_row(&tape, &mut pos, n, &mut cells);
                    row_no += 1;
                    applier.apply_row(tran, &cells, row_no)?;
                }
                drop(cells);
                let _ = spare_tx.send(tape);
            }
            Ok(())
        });
        applied?;

        if spec.pattern == ImportPattern::Full && !table.allow_manual_rows && !table_was_empty {
            // Keyset pages of the records the file did not mention, so memory does not grow with the
            // number deleted. Closed versions leave `C` and tombstones are deleted rows stamped `change`,
            // so neither comes up again in a later page.
            let mut page = tx.prepare(&format!(
                "SELECT trdm_sk FROM {t} WHERE trdm_state = 'C' AND trdm_is_deleted = 0
                   AND trdm_created_at < ?1 AND trdm_sk > ?2
                   AND trdm_record_id NOT IN (SELECT record_id FROM temp.trdm_seen)
                 ORDER BY trdm_sk LIMIT {ABSENT_PAGE}"
            ))?;
            let mut absent: Vec<i64> = Vec::with_capacity(ABSENT_PAGE);
            let mut after = i64::MIN;
            loop {
                absent.clear();
                for sk in page.query_map(params![change, after], |r| r.get::<_, i64>(0))? {
                    absent.push(sk?);
                }
                let Some(&last) = absent.last() else { break };
                for &sk in &absent {
                    applier.close.execute(params![change, sk])?;
                    applier.tombstone.execute(params![
                        change,
                        HIGH_DATE_MICROS,
                        spec.actor_type,
                        spec.actor_id,
                        sk
                    ])?;
                    applier.counts.deleted += 1;
                }
                after = last;
            }
        }
        (applier.counts, applier.next_record_id)
    };
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
    tx.execute_batch("DROP TABLE temp.trdm_seen; DROP TABLE temp.trdm_seen_keys;")?;
    tx.commit()?;
    Ok(counts)
}
