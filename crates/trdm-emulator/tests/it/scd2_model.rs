//! Model-based tests of SCD2 versioning (part A §8–§10, part B §7): sequences of imports of every pattern
//! against a running emulator, each followed by exports compared with a small in-memory model of the contract.
//!
//! The model keeps every version of every record in write order: user values, whether it is a tombstone, its
//! tran code, the import that wrote it, the change (one per import) that wrote it and its successor. From that
//! it predicts the import counts and all four export shapes. The emulator's record ids, surrogate keys and
//! change times are not predicted but learned on first sight and then held to: a record keeps its id, a
//! version keeps its `trdm_sk`, all versions of one change share one `trdm_created_at`, and later changes have
//! strictly later times.
//!
//! Two tests: a proptest driving random sequences over both `delivery_centre` (full imports tombstone absent
//! records) and `org_unit` (`allow_manual_rows`: they do not), and a hand-written sequence whose failures are
//! easy to read.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::Value;

use crate::common::{Harness, Row, field, fixture, only_table, parse_csv};

const BRANCH: &str = "dev";
const HIGH_DATE: &str = "9999-12-31T00:00:00+00";
/// Keys per table: few, so that updates, deletes and re-inserts happen often.
const KEYS: usize = 6;
/// Most non-key columns of a table under test (`org_unit` has 9).
const MAX_COLS: usize = 9;
const TRAN_CODE: &str = "trdm_tran_code";
const SYSTEM: [&str; 10] = [
    "trdm_sk",
    "trdm_record_id",
    "trdm_state",
    "trdm_created_at",
    "trdm_effective_from",
    "trdm_effective_to",
    "trdm_is_deleted",
    "trdm_actor_type",
    "trdm_actor_id",
    TRAN_CODE,
];
const IMPORT_PATTERNS: [&str; 4] = [
    "full",
    "incremental_upsert_only",
    "incremental_with_delete",
    "incremental",
];
/// Spellings of tran codes in `incremental_with_delete` files: trimmed and case-insensitive (part A §9).
const TRAN_SPELLINGS: [&str; 7] = ["i", "u", "d", "I", " U ", "D", " d"];

// ------------------------------------------------------------------------------------------------ tables

/// One way to write a field: the file text (None = NULL) and the canonical text an export must show for it.
type Choice = (Option<&'static str>, Option<&'static str>);

struct Column {
    name: &'static str,
    required: bool,
    choices: &'static [Choice],
}

struct TableSpec {
    name: &'static str,
    key: &'static str,
    /// Key texts (already canonical); some are seed records, some need quoting.
    keys: [&'static str; KEYS],
    allow_manual_rows: bool,
    /// The non-key columns in display order (the key column comes first in both tables).
    columns: &'static [Column],
}

const BOOLS: &[Choice] = &[
    (None, None),
    (Some("true"), Some("true")),
    (Some("false"), Some("false")),
    (Some("t"), Some("true")),
    (Some("F"), Some("false")),
    (Some("1"), Some("true")),
    (Some("0"), Some("false")),
    (Some("YES"), Some("true")),
    (Some("no"), Some("false")),
    (Some("y"), Some("true")),
    (Some("N"), Some("false")),
];

/// Free text: NULL, empty string, delimiters, quotes, line breaks, surrounding spaces, non-ASCII.
const TEXTS: &[Choice] = &[
    (None, None),
    (Some(""), Some("")),
    (Some("plain"), Some("plain")),
    (Some("comma, inside"), Some("comma, inside")),
    (Some("say \"hi\""), Some("say \"hi\"")),
    (Some("two\nlines"), Some("two\nlines")),
    (Some("crlf\r\nline"), Some("crlf\r\nline")),
    (Some("Zürich – 東京 ✓ 🙂"), Some("Zürich – 東京 ✓ 🙂")),
    (Some("  padded  "), Some("  padded  ")),
    (Some("NULL"), Some("NULL")),
    (Some("\""), Some("\"")),
    (Some(","), Some(",")),
];

const CENTRE: TableSpec = TableSpec {
    name: "delivery_centre",
    key: "centre_code",
    keys: ["DC001", "DC002", "K1", "Ké2", "K,3", "K\"4"],
    allow_manual_rows: false,
    columns: &[
        Column {
            name: "centre_name",
            required: true,
            choices: &[
                (Some("Centre A"), Some("Centre A")),
                (Some("Ünïcödé Centre"), Some("Ünïcödé Centre")),
                (Some("Hub, \"North\""), Some("Hub, \"North\"")),
                (Some(" lead space"), Some(" lead space")),
                (Some("Δέλτα\nΚέντρο"), Some("Δέλτα\nΚέντρο")),
                (
                    Some(
                        "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
                    ),
                    Some(
                        "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
                    ),
                ),
            ],
        },
        Column {
            name: "region",
            required: false,
            choices: &[
                (None, None),
                (Some(""), Some("")),
                (Some("Greater Melbourne"), Some("Greater Melbourne")),
                (
                    Some("Région d'Île, \"Nord\""),
                    Some("Région d'Île, \"Nord\""),
                ),
                (
                    Some("ññññññññññññññññññññññññññññññññññññññññ"),
                    Some("ññññññññññññññññññññññññññññññññññññññññ"),
                ),
            ],
        },
        Column {
            name: "capacity",
            required: false,
            choices: &[
                (None, None),
                (Some("0"), Some("0")),
                (Some("-5"), Some("-5")),
                (Some("10500"), Some("10500")),
                (Some("7.0"), Some("7")),
                (Some("2147483647"), Some("2147483647")),
                (Some("-2147483648"), Some("-2147483648")),
            ],
        },
        Column {
            name: "catchment_population",
            required: false,
            choices: &[
                (None, None),
                (Some("0"), Some("0")),
                (Some("5200000"), Some("5200000")),
                (Some("3000000000"), Some("3000000000")),
                (Some("9223372036854775807"), Some("9223372036854775807")),
                (Some("-9223372036854775808"), Some("-9223372036854775808")),
            ],
        },
        Column {
            name: "established_on",
            required: false,
            choices: &[
                (None, None),
                (Some("1994-05-11"), Some("1994-05-11")),
                (Some("2024-02-29"), Some("2024-02-29")),
                (Some("1900-01-01"), Some("1900-01-01")),
            ],
        },
        Column {
            name: "is_active",
            required: false,
            choices: BOOLS,
        },
        Column {
            name: "notes",
            required: false,
            choices: TEXTS,
        },
    ],
};

const ORG_UNIT: TableSpec = TableSpec {
    name: "org_unit",
    key: "org_unit_id",
    keys: ["1", "2", "900", "901", "902", "-7"],
    allow_manual_rows: true,
    columns: &[
        Column {
            name: "org_unit_code",
            required: false,
            choices: &[
                (None, None),
                (Some(""), Some("")),
                (Some("00042"), Some("00042")),
                (Some("ÄB-12"), Some("ÄB-12")),
                (Some("a,\"b\""), Some("a,\"b\"")),
                (Some("000000000001"), Some("000000000001")),
            ],
        },
        Column {
            name: "name",
            required: true,
            choices: &[
                (Some("Group A"), Some("Group A")),
                (Some("Zürich \"Ost\", Süd"), Some("Zürich \"Ost\", Süd")),
                (Some("名前"), Some("名前")),
                (Some("x"), Some("x")),
                (Some("multi\nline"), Some("multi\nline")),
            ],
        },
        Column {
            name: "parent_org_unit_id",
            required: false,
            choices: &[
                (None, None),
                (Some("1"), Some("1")),
                (Some("2"), Some("2")),
                (Some("900"), Some("900")),
            ],
        },
        Column {
            name: "cost_centre",
            required: false,
            choices: &[
                (None, None),
                (Some(""), Some("")),
                (Some("00008225"), Some("00008225")),
                (Some("01234567"), Some("01234567")),
            ],
        },
        Column {
            name: "headcount",
            required: false,
            choices: &[
                (None, None),
                (Some("0"), Some("0")),
                (Some("12"), Some("12")),
                (Some("7.0"), Some("7")),
                (Some("-1"), Some("-1")),
            ],
        },
        Column {
            name: "budget_share",
            required: false,
            choices: &[
                (None, None),
                (Some("1.0000"), Some("1.0000")),
                (Some("0.0320"), Some("0.0320")),
                (Some("0.5"), Some("0.5000")),
                (Some("0"), Some("0.0000")),
                (Some("-0.25"), Some("-0.2500")),
            ],
        },
        Column {
            name: "valid_from",
            required: false,
            choices: &[
                (None, None),
                (Some("2016-12-28"), Some("2016-12-28")),
                (Some("2000-02-29"), Some("2000-02-29")),
            ],
        },
        Column {
            name: "updated_at",
            required: false,
            choices: &[
                (None, None),
                (
                    Some("2023-12-14T23:15:00+00"),
                    Some("2023-12-14T23:15:00+00"),
                ),
                (
                    Some("2024-03-05T09:30:00+10:00"),
                    Some("2024-03-04T23:30:00+00"),
                ),
                (Some("2024-01-01T00:00:00Z"), Some("2024-01-01T00:00:00+00")),
            ],
        },
        Column {
            name: "is_clinical",
            required: false,
            choices: BOOLS,
        },
    ],
};

const TABLES: [&TableSpec; 2] = [&CENTRE, &ORG_UNIT];

// ------------------------------------------------------------------------------------------------ model

/// One version of one record.
#[derive(Debug, Clone)]
struct Version {
    key: String,
    /// Canonical texts of the non-key columns, in `TableSpec::columns` order.
    values: Vec<Option<String>>,
    deleted: bool,
    code: char,
    /// The change (one per import, one per seed row) that wrote it.
    change: usize,
    actor: (String, String),
    /// The version that closed it; None for the current version.
    next: Option<usize>,
}

/// One data row of an import file, as the model reads it.
#[derive(Debug, Clone)]
struct FileRow {
    delete: bool,
    key: String,
    /// Canonical values of the non-key columns; None for NULL and for columns absent from the file.
    values: Vec<Option<String>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    inserted: i64,
    updated: i64,
    deleted: i64,
}

struct Model {
    spec: &'static TableSpec,
    /// Every version in write order.
    versions: Vec<Version>,
    /// Key → index of the record's current version.
    current: HashMap<String, usize>,
    /// Learned: key → `trdm_record_id`.
    record_ids: HashMap<String, String>,
    /// Learned: version index → `trdm_sk`.
    sks: HashMap<usize, String>,
}

impl Model {
    fn push(&mut self, v: Version) {
        let i = self.versions.len();
        if let Some(&prev) = self.current.get(&v.key) {
            self.versions[prev].next = Some(i);
        }
        self.current.insert(v.key.clone(), i);
        self.versions.push(v);
    }

    fn tombstone(&mut self, cur: usize, change: usize, actor: &(String, String)) {
        let old = &self.versions[cur];
        let v = Version {
            key: old.key.clone(),
            values: old.values.clone(),
            deleted: true,
            code: 'd',
            change,
            actor: actor.clone(),
            next: None,
        };
        self.push(v);
    }

    /// Applies one import file as part A §8–§9 say, returning the counts the import must report.
    fn apply(
        &mut self,
        rows: &[FileRow],
        full: bool,
        change: usize,
        actor: &(String, String),
    ) -> Counts {
        let mut counts = Counts::default();
        let mut seen = HashSet::new();
        for row in rows {
            seen.insert(row.key.clone());
            let cur = self.current.get(&row.key).copied();
            let version = |code| Version {
                key: row.key.clone(),
                values: row.values.clone(),
                deleted: false,
                code,
                change,
                actor: actor.clone(),
                next: None,
            };
            match (row.delete, cur) {
                (true, Some(c)) if !self.versions[c].deleted => {
                    self.tombstone(c, change, actor);
                    counts.deleted += 1;
                }
                // Deleting an absent or already deleted record is a no-op.
                (true, _) => {}
                (false, None) => {
                    self.push(version('i'));
                    counts.inserted += 1;
                }
                (false, Some(c)) => {
                    let old = &self.versions[c];
                    if !old.deleted && old.values == row.values {
                        continue; // identical: skipped, counted nowhere
                    }
                    // An update, or a re-insert of a deleted record: a later version, so `u`.
                    self.push(version('u'));
                    counts.updated += 1;
                }
            }
        }
        if full && !self.spec.allow_manual_rows {
            let absent: Vec<usize> = (0..self.versions.len())
                .filter(|&i| {
                    let v = &self.versions[i];
                    v.next.is_none() && !v.deleted && !seen.contains(&v.key)
                })
                .collect();
            for c in absent {
                self.tombstone(c, change, actor);
                counts.deleted += 1;
            }
        }
        counts
    }

    fn live(&self) -> impl Iterator<Item = usize> + '_ {
        let mut ids: Vec<usize> = self
            .current
            .values()
            .copied()
            .filter(|&i| !self.versions[i].deleted)
            .collect();
        ids.sort_unstable();
        ids.into_iter()
    }
}

// ------------------------------------------------------------------------------------------------ world

/// Which high-water mark an incremental export uses: `pick` counts back from the newest known change time
/// (the list also holds one mark before every change), `form` chooses how it is spelled.
#[derive(Debug, Clone, Copy)]
struct HwmChoice {
    pick: usize,
    form: usize,
}

struct World {
    models: Vec<Model>,
    /// Learned: change → `trdm_created_at` text.
    stamps: HashMap<usize, String>,
    /// Changes below this were written by the fixture's seed files.
    first_import_change: usize,
    next_change: usize,
    /// Imports so far.
    steps: usize,
    /// What happened so far, for failure messages.
    log: String,
}

fn describe(row: &Row) -> String {
    let fields: Vec<String> = row
        .iter()
        .map(|(n, v)| match v {
            Some(v) => format!("{n}={v:?}"),
            None => format!("{n}=NULL"),
        })
        .collect();
    fields.join(" ")
}

fn describe_version(spec: &TableSpec, v: &Version) -> String {
    let mut s = format!("{}={:?}", spec.key, v.key);
    for (c, value) in spec.columns.iter().zip(&v.values) {
        match value {
            Some(value) => _ = write!(s, " {}={value:?}", c.name),
            None => _ = write!(s, " {}=NULL", c.name),
        }
    }
    _ = write!(
        s,
        " deleted={} code={} change={} actor={}/{}",
        v.deleted, v.code, v.change, v.actor.0, v.actor.1
    );
    s
}

/// Orders the system timestamps (`YYYY-MM-DDTHH:MM:SS[.f{1,6}]+00`) and checks their form.
fn ts_key(text: &str) -> Result<(String, u32), String> {
    let bad = || format!("timestamp {text:?} is not YYYY-MM-DDTHH:MM:SS[.ffffff]+00");
    let body = text.strip_suffix("+00").ok_or_else(bad)?;
    if body.len() < 19 || !body.is_char_boundary(19) {
        return Err(bad());
    }
    let (head, frac) = body.split_at(19);
    let shape = head.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    if !shape {
        return Err(bad());
    }
    let micros = if frac.is_empty() {
        0
    } else {
        let digits = frac.strip_prefix('.').ok_or_else(bad)?;
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        format!("{digits:0<6}").parse().map_err(|_| bad())?
    };
    Ok((head.to_owned(), micros))
}

fn counts_of(v: &Value) -> Counts {
    Counts {
        inserted: v["insert_row_count"].as_i64().unwrap_or(-1),
        updated: v["update_row_count"].as_i64().unwrap_or(-1),
        deleted: v["delete_row_count"].as_i64().unwrap_or(-1),
    }
}

fn col(row: &Row, name: &str) -> Result<Option<String>, String> {
    row.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| format!("export has no column {name}: {}", describe(row)))
}

fn want_eq<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: T,
    want: T,
    row: &Row,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected {want:?}, got {got:?}\n  in row: {}",
            describe(row)
        ))
    }
}

/// How a version must appear in an export.
#[derive(Clone, Copy)]
enum Shape {
    /// Plain full export: current, not deleted, tran code empty.
    Full,
    /// History or incremental: tran code populated.
    Coded,
}

impl World {
    /// Reads the seeded state of both tables from history exports and starts a model from it.
    async fn new(h: &Harness) -> Result<World, String> {
        let mut world = World {
            models: Vec::new(),
            stamps: HashMap::new(),
            first_import_change: 0,
            next_change: 0,
            steps: 0,
            log: String::new(),
        };
        for spec in TABLES {
            let mut model = Model {
                spec,
                versions: Vec::new(),
                current: HashMap::new(),
                record_ids: HashMap::new(),
                sks: HashMap::new(),
            };
            let e = h.export(BRANCH, spec.name, "full", None, true).await;
            for row in h.rows(&e).await {
                let key = col(&row, spec.key)?.ok_or("seed row without key")?;
                want_eq(
                    "seed trdm_state",
                    col(&row, "trdm_state")?.as_deref(),
                    Some("C"),
                    &row,
                )?;
                want_eq(
                    "seed trdm_is_deleted",
                    col(&row, "trdm_is_deleted")?.as_deref(),
                    Some("false"),
                    &row,
                )?;
                want_eq(
                    "seed trdm_tran_code",
                    col(&row, TRAN_CODE)?.as_deref(),
                    Some("i"),
                    &row,
                )?;
                let values = spec
                    .columns
                    .iter()
                    .map(|c| col(&row, c.name))
                    .collect::<Result<Vec<_>, _>>()?;
                let actor = (
                    col(&row, "trdm_actor_type")?.unwrap_or_default(),
                    col(&row, "trdm_actor_id")?.unwrap_or_default(),
                );
                // Each seed row gets a change of its own: the model does not assume how seeds were loaded.
                let change = world.next_change;
                world.next_change += 1;
                model.push(Version {
                    key,
                    values,
                    deleted: false,
                    code: 'i',
                    change,
                    actor,
                    next: None,
                });
            }
            _ = writeln!(
                world.log,
                "seeded {}: {} records",
                spec.name,
                model.versions.len()
            );
            world.models.push(model);
        }
        world.first_import_change = world.next_change;
        for t in 0..TABLES.len() {
            world.check_history(h, t).await?;
        }
        Ok(world)
    }

    /// Imports one file, compares the counts with the model's, then compares every export shape.
    async fn import(
        &mut self,
        h: &Harness,
        t: usize,
        pattern: &str,
        csv: &str,
        rows: &[FileRow],
        hwm: HwmChoice,
    ) -> Result<Counts, String> {
        let spec = TABLES[t];
        let change = self.next_change;
        self.next_change += 1;
        self.steps += 1;
        _ = writeln!(
            self.log,
            "--- step {} (change {change}): import {pattern} into {}, file:\n{csv}",
            self.steps, spec.name
        );
        let r = h.import(BRANCH, spec.name, pattern, csv).await;
        let table = only_table(&r);
        if table["status"] != "completed" || r["import"]["status"] != "completed" {
            return Err(format!("the import did not complete: {r}"));
        }
        let actor = (
            "I".to_owned(),
            r["import"]["id"]
                .as_i64()
                .ok_or("import has no id")?
                .to_string(),
        );
        let full = pattern == "full";
        let want = self.models[t].apply(rows, full, change, &actor);
        let got = counts_of(table);
        _ = writeln!(self.log, "    counts: emulator {got:?}, model {want:?}");
        if got != want {
            return Err(format!(
                "import table counts (insert, update, delete): expected {want:?}, got {got:?}"
            ));
        }
        let batch = counts_of(&r["import"]);
        if batch != want {
            return Err(format!(
                "import batch counts: expected {want:?}, got {batch:?}"
            ));
        }
        self.check_history(h, t).await?;
        self.check_full(h, t).await?;
        self.check_incremental(h, t, hwm).await?;
        Ok(got)
    }

    fn stamp(&self, change: usize) -> Result<&str, String> {
        self.stamps
            .get(&change)
            .map(String::as_str)
            .ok_or_else(|| format!("no change time learned for change {change}"))
    }

    /// Compares one exported row with one model version (values, state, flags, code, actor, times, ids).
    fn compare(&self, t: usize, index: usize, row: &Row, shape: Shape) -> Result<(), String> {
        let model = &self.models[t];
        let spec = model.spec;
        let v = &model.versions[index];
        let ctx = |e: String| format!("{e}\n  expected version: {}", describe_version(spec, v));
        let check = || -> Result<(), String> {
            want_eq(spec.key, col(row, spec.key)?, Some(v.key.clone()), row)?;
            for (c, value) in spec.columns.iter().zip(&v.values) {
                want_eq(c.name, col(row, c.name)?, value.clone(), row)?;
            }
            let state = if v.next.is_none() { "C" } else { "H" };
            want_eq(
                "trdm_state",
                col(row, "trdm_state")?.as_deref(),
                Some(state),
                row,
            )?;
            let deleted = if v.deleted { "true" } else { "false" };
            want_eq(
                "trdm_is_deleted",
                col(row, "trdm_is_deleted")?.as_deref(),
                Some(deleted),
                row,
            )?;
            let code = match shape {
                Shape::Full => None,
                Shape::Coded => Some(v.code.to_string()),
            };
            want_eq(TRAN_CODE, col(row, TRAN_CODE)?, code, row)?;
            want_eq(
                "trdm_actor_type",
                col(row, "trdm_actor_type")?,
                Some(v.actor.0.clone()),
                row,
            )?;
            want_eq(
                "trdm_actor_id",
                col(row, "trdm_actor_id")?,
                Some(v.actor.1.clone()),
                row,
            )?;
            let stamp = self.stamp(v.change)?;
            want_eq(
                "trdm_created_at",
                col(row, "trdm_created_at")?.as_deref(),
                Some(stamp),
                row,
            )?;
            want_eq(
                "trdm_effective_from",
                col(row, "trdm_effective_from")?.as_deref(),
                Some(stamp),
                row,
            )?;
            let to = match v.next {
                Some(n) => self.stamp(model.versions[n].change)?,
                None => HIGH_DATE,
            };
            want_eq(
                "trdm_effective_to (the successor's effective_from)",
                col(row, "trdm_effective_to")?.as_deref(),
                Some(to),
                row,
            )?;
            let rid = model
                .record_ids
                .get(&v.key)
                .ok_or_else(|| format!("no record id learned for {:?}", v.key))?;
            want_eq(
                "trdm_record_id",
                col(row, "trdm_record_id")?.as_ref(),
                Some(rid),
                row,
            )?;
            let sk = model
                .sks
                .get(&index)
                .ok_or_else(|| format!("no trdm_sk learned for version {index}"))?;
            want_eq("trdm_sk", col(row, "trdm_sk")?.as_ref(), Some(sk), row)?;
            Ok(())
        };
        check().map_err(ctx)
    }

    fn check_header(spec: &TableSpec, rows: &[Row]) -> Result<(), String> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let got: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
        let want: Vec<&str> = std::iter::once(spec.key)
            .chain(spec.columns.iter().map(|c| c.name))
            .chain(SYSTEM)
            .collect();
        if got != want {
            return Err(format!("export columns: expected {want:?}, got {got:?}"));
        }
        Ok(())
    }

    /// Full export with history: every version, in write order, with learned ids and times held stable.
    async fn check_history(&mut self, h: &Harness, t: usize) -> Result<(), String> {
        let spec = TABLES[t];
        let e = h.export(BRANCH, spec.name, "full", None, true).await;
        let rows = h.rows(&e).await;
        let what = format!("history export of {}", spec.name);
        Self::check_header(spec, &rows).map_err(|m| format!("{what}: {m}"))?;
        if e["rows_exported"].as_i64() != Some(rows.len() as i64) {
            return Err(format!(
                "{what}: rows_exported {} but the file has {} rows",
                e["rows_exported"],
                rows.len()
            ));
        }
        if rows.len() != self.models[t].versions.len() {
            return Err(format!(
                "{what}: expected {} versions, got {} rows",
                self.models[t].versions.len(),
                rows.len()
            ));
        }
        // The file lists versions in write order: change times never go down.
        let mut last: Option<(String, u32)> = None;
        for row in &rows {
            let created = col(row, "trdm_created_at")?.ok_or("trdm_created_at is NULL")?;
            let k = ts_key(&created)?;
            if last.as_ref().is_some_and(|l| *l > k) {
                return Err(format!(
                    "{what}: rows are not in write order at {}",
                    describe(row)
                ));
            }
            last = Some(k);
        }
        // Rows of each key, in file order, against the model's versions of that key, in write order.
        let mut by_key: HashMap<String, Vec<&Row>> = HashMap::new();
        for row in &rows {
            let key = col(row, spec.key)?
                .ok_or_else(|| format!("{what}: NULL key in {}", describe(row)))?;
            by_key.entry(key).or_default().push(row);
        }
        let mut wanted: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, v) in self.models[t].versions.iter().enumerate() {
            wanted.entry(v.key.clone()).or_default().push(i);
        }
        let mut pairs: Vec<(usize, &Row)> = Vec::new();
        for (key, versions) in &wanted {
            let got = by_key.remove(key).unwrap_or_default();
            if got.len() != versions.len() {
                let shown: Vec<String> = got.iter().map(|r| describe(r)).collect();
                let expected: Vec<String> = versions
                    .iter()
                    .map(|&i| describe_version(spec, &self.models[t].versions[i]))
                    .collect();
                return Err(format!(
                    "{what}: key {key:?} has {} versions, expected {}\n  got:\n    {}\n  expected:\n    {}",
                    got.len(),
                    versions.len(),
                    shown.join("\n    "),
                    expected.join("\n    ")
                ));
            }
            pairs.extend(versions.iter().copied().zip(got));
        }
        if let Some((key, _)) = by_key.into_iter().next() {
            return Err(format!("{what}: unexpected record {key:?}"));
        }
        // Learn (or hold to) change times, record ids and surrogate keys.
        let mut sks_seen = HashSet::new();
        for &(i, row) in &pairs {
            let v = &self.models[t].versions[i];
            let created = col(row, "trdm_created_at")?.ok_or("trdm_created_at is NULL")?;
            match self.stamps.get(&v.change) {
                Some(s) if *s != created => {
                    return Err(format!(
                        "{what}: change {} was stamped {s} earlier, now {created}; row {}",
                        v.change,
                        describe(row)
                    ));
                }
                Some(_) => {}
                None => {
                    self.stamps.insert(v.change, created);
                }
            }
            let rid = col(row, "trdm_record_id")?.ok_or("trdm_record_id is NULL")?;
            let sk = col(row, "trdm_sk")?.ok_or("trdm_sk is NULL")?;
            if !sks_seen.insert(sk.clone()) {
                return Err(format!("{what}: trdm_sk {sk} appears twice"));
            }
            let key = v.key.clone();
            let model = &mut self.models[t];
            let known = model
                .record_ids
                .entry(key.clone())
                .or_insert_with(|| rid.clone());
            if *known != rid {
                return Err(format!(
                    "{what}: record {key:?} had trdm_record_id {known}, now {rid}: {}",
                    describe(row)
                ));
            }
            let known = model.sks.entry(i).or_insert_with(|| sk.clone());
            if *known != sk {
                return Err(format!(
                    "{what}: a version of {key:?} had trdm_sk {known}, now {sk}: {}",
                    describe(row)
                ));
            }
        }
        let ids: HashSet<&String> = self.models[t].record_ids.values().collect();
        if ids.len() != self.models[t].record_ids.len() {
            return Err(format!(
                "{what}: two records share a trdm_record_id: {:?}",
                self.models[t].record_ids
            ));
        }
        self.check_change_order()?;
        for (i, row) in pairs {
            self.compare(t, i, row, Shape::Coded)
                .map_err(|m| format!("{what}: {m}"))?;
        }
        Ok(())
    }

    /// Every import's change time is later than every seed's and than every earlier import's.
    fn check_change_order(&self) -> Result<(), String> {
        let mut seeds_max: Option<(String, u32)> = None;
        let mut imports: Vec<(usize, &String)> = Vec::new();
        for (&c, s) in &self.stamps {
            if c < self.first_import_change {
                let k = ts_key(s)?;
                if seeds_max.as_ref().is_none_or(|m| k > *m) {
                    seeds_max = Some(k);
                }
            } else {
                imports.push((c, s));
            }
        }
        imports.sort();
        let mut last = seeds_max;
        for (c, s) in imports {
            let k = ts_key(s)?;
            if last.as_ref().is_some_and(|l| k <= *l) {
                return Err(format!(
                    "change {c} at {s} is not later than the changes before it: {:?}",
                    self.stamps
                ));
            }
            last = Some(k);
        }
        Ok(())
    }

    /// Plain full export: the current, non-deleted version of every record, tran code empty.
    async fn check_full(&self, h: &Harness, t: usize) -> Result<(), String> {
        let spec = TABLES[t];
        let model = &self.models[t];
        let e = h.export(BRANCH, spec.name, "full", None, false).await;
        let rows = h.rows(&e).await;
        let what = format!("full export of {}", spec.name);
        Self::check_header(spec, &rows).map_err(|m| format!("{what}: {m}"))?;
        let live: Vec<usize> = model.live().collect();
        if rows.len() != live.len() {
            let got: HashSet<Option<String>> = rows
                .iter()
                .map(|r| col(r, spec.key).ok().flatten())
                .collect();
            let want: HashSet<Option<String>> = live
                .iter()
                .map(|&i| Some(model.versions[i].key.clone()))
                .collect();
            return Err(format!(
                "{what}: expected {} rows, got {}; missing {:?}, unexpected {:?}",
                live.len(),
                rows.len(),
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            ));
        }
        let mut seen = HashSet::new();
        for row in &rows {
            let key = col(row, spec.key)?.ok_or_else(|| format!("{what}: NULL key"))?;
            if !seen.insert(key.clone()) {
                return Err(format!("{what}: key {key:?} appears twice"));
            }
            let i = *model
                .current
                .get(&key)
                .ok_or_else(|| format!("{what}: unexpected record {key:?}"))?;
            if model.versions[i].deleted {
                return Err(format!(
                    "{what}: deleted record {key:?} is listed: {}",
                    describe(row)
                ));
            }
            self.compare(t, i, row, Shape::Full)
                .map_err(|m| format!("{what}: {m}"))?;
        }
        Ok(())
    }

    /// Incremental exports, without and with history, from a mark taken from exported data (exclusive).
    async fn check_incremental(
        &self,
        h: &Harness,
        t: usize,
        choice: HwmChoice,
    ) -> Result<(), String> {
        let spec = TABLES[t];
        let model = &self.models[t];
        let mut marks: Vec<&str> = self.stamps.values().map(String::as_str).collect();
        marks.push("2000-01-01T00:00:00+00");
        marks.sort_by_key(|s| ts_key(s).unwrap_or_default());
        marks.dedup();
        let mark = marks[marks.len() - 1 - choice.pick % marks.len()];
        let mark_key = ts_key(mark)?;
        let base = mark.strip_suffix("+00").unwrap_or(mark);
        let spelled = match choice.form % 4 {
            0 => mark.to_owned(),
            1 => base.to_owned(), // no offset: read as UTC
            2 => format!("{base}Z"),
            _ => format!("{base}+00:00"),
        };
        for history in [false, true] {
            let what = format!(
                "incremental export of {} (include_history {history}, high_water_mark {spelled:?})",
                spec.name
            );
            let e = h
                .export(BRANCH, spec.name, "incremental", Some(&spelled), history)
                .await;
            if e["status"] != "completed" {
                return Err(format!("{what}: {e}"));
            }
            let rows = h.rows(&e).await;
            Self::check_header(spec, &rows).map_err(|m| format!("{what}: {m}"))?;
            let mut want: HashMap<(String, String), usize> = HashMap::new();
            for (i, v) in model.versions.iter().enumerate() {
                if !history && v.next.is_some() {
                    continue;
                }
                let stamp = self.stamp(v.change)?;
                if ts_key(stamp)? > mark_key {
                    want.insert((v.key.clone(), stamp.to_owned()), i);
                }
            }
            let expected_count = want.len();
            for row in &rows {
                let key = col(row, spec.key)?.unwrap_or_default();
                let created = col(row, "trdm_created_at")?.unwrap_or_default();
                let i = want.remove(&(key, created)).ok_or_else(|| {
                    format!("{what}: unexpected (or repeated) row {}", describe(row))
                })?;
                self.compare(t, i, row, Shape::Coded)
                    .map_err(|m| format!("{what}: {m}"))?;
            }
            if !want.is_empty() {
                let missing: Vec<String> = want
                    .values()
                    .map(|&i| describe_version(spec, &model.versions[i]))
                    .collect();
                return Err(format!(
                    "{what}: expected {expected_count} rows, got {}; missing:\n    {}",
                    rows.len(),
                    missing.join("\n    ")
                ));
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------ CSV

/// Appends one RFC 4180 field: NULL is empty and unquoted, an empty string is `""`.
fn push_field(out: &mut String, value: Option<&str>, force_quote: bool) {
    let Some(s) = value else { return };
    if s.is_empty() || force_quote || s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn push_record<'a>(
    out: &mut String,
    fields: impl IntoIterator<Item = (Option<&'a str>, bool)>,
    eol: &str,
) {
    for (n, (value, quote)) in fields.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        push_field(out, value, quote);
    }
    out.push_str(eol);
}

/// Reads a hand-written, canonical CSV into the model's rows (the deterministic test).
fn file_rows(spec: &TableSpec, csv: &str) -> Vec<FileRow> {
    parse_csv(csv.as_bytes())
        .iter()
        .map(|row| {
            let has = |name: &str| row.iter().any(|(n, _)| n == name);
            FileRow {
                delete: has(TRAN_CODE)
                    && field(row, TRAN_CODE)
                        .unwrap_or_default()
                        .trim()
                        .eq_ignore_ascii_case("d"),
                key: field(row, spec.key)
                    .expect("hand-written rows have keys")
                    .to_owned(),
                values: spec
                    .columns
                    .iter()
                    .map(|c| {
                        if has(c.name) {
                            field(row, c.name).map(str::to_owned)
                        } else {
                            None
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------ generation

#[derive(Debug, Clone)]
struct RowGen {
    key: usize,
    tran: usize,
    /// 0: fresh values; 1: the record's current values (spelled any way that means the same); 2: current values
    /// but one column fresh.
    mode: usize,
    picks: Vec<usize>,
    changed: usize,
    quote: bool,
}

#[derive(Debug, Clone)]
struct StepGen {
    table: usize,
    pattern: usize,
    rows: Vec<RowGen>,
    /// Sort keys of the file columns: key, non-key columns, tran code.
    order: Vec<u8>,
    omit: Vec<bool>,
    crlf: bool,
    final_newline: bool,
    hwm: HwmChoice,
}

fn row_gen() -> impl Strategy<Value = RowGen> {
    (
        0..KEYS,
        0..TRAN_SPELLINGS.len(),
        prop_oneof![3 => Just(0usize), 2 => Just(1usize), 2 => Just(2usize)],
        vec(0usize..1000, MAX_COLS),
        0..MAX_COLS,
        prop::bool::weighted(0.2),
    )
        .prop_map(|(key, tran, mode, picks, changed, quote)| RowGen {
            key,
            tran,
            mode,
            picks,
            changed,
            quote,
        })
}

fn step_gen() -> impl Strategy<Value = StepGen> {
    (
        0..TABLES.len(),
        // Deletes (and so re-inserts) need incremental_with_delete or full: weigh them up.
        prop_oneof![2 => Just(0usize), 2 => Just(1usize), 4 => Just(2usize), 1 => Just(3usize)],
        vec(row_gen(), 0..=7),
        vec(any::<u8>(), MAX_COLS + 2),
        vec(prop::bool::weighted(0.1), MAX_COLS),
        any::<bool>(),
        prop::bool::weighted(0.8),
        (0usize..1000, 0usize..4),
    )
        .prop_map(
            |(table, pattern, rows, order, omit, crlf, final_newline, (pick, form))| StepGen {
                table,
                pattern,
                rows,
                order,
                omit,
                crlf,
                final_newline,
                hwm: HwmChoice { pick, form },
            },
        )
}

/// A file spelling of a canonical value: one of the column's choices that means it, else the text itself.
fn spell(c: &Column, canonical: &Option<String>, pick: usize) -> Option<String> {
    let same: Vec<&Choice> = c
        .choices
        .iter()
        .filter(|(_, canon)| canon.map(str::to_owned) == *canonical)
        .collect();
    if same.is_empty() {
        canonical.clone()
    } else {
        same[pick % same.len()].0.map(str::to_owned)
    }
}

/// Builds the file of one generated step from the model's current state: (CSV, rows as the model reads them).
fn build_file(model: &Model, step: &StepGen) -> (String, Vec<FileRow>) {
    let spec = model.spec;
    let with_delete = IMPORT_PATTERNS[step.pattern] == "incremental_with_delete";
    let present: Vec<bool> = spec
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| c.required || !step.omit[j])
        .collect();

    // File columns: 0 = key, 1 + j = non-key column j, MAX_COLS + 1 = tran code; shuffled by `order`.
    let mut slots: Vec<usize> = std::iter::once(0)
        .chain(
            (0..spec.columns.len())
                .filter(|&j| present[j])
                .map(|j| j + 1),
        )
        .collect();
    if with_delete {
        slots.push(MAX_COLS + 1);
    }
    slots.sort_by_key(|&s| (step.order[s], s));
    let slot_name = |s: usize| match s {
        0 => spec.key,
        s if s == MAX_COLS + 1 => TRAN_CODE,
        s => spec.columns[s - 1].name,
    };

    let eol = if step.crlf { "\r\n" } else { "\n" };
    let mut csv = String::new();
    push_record(
        &mut csv,
        slots.iter().map(|&s| (Some(slot_name(s)), false)),
        eol,
    );
    let mut rows = Vec::new();
    let mut keys_used = HashSet::new();
    for g in &step.rows {
        let key = spec.keys[g.key];
        if !keys_used.insert(key) {
            continue; // a key appears at most once per file
        }
        let tran = TRAN_SPELLINGS[g.tran];
        let current = model.current.get(key).map(|&i| &model.versions[i].values);
        let mut file_values: Vec<Option<String>> = Vec::new();
        let mut canonical: Vec<Option<String>> = Vec::new();
        for (j, c) in spec.columns.iter().enumerate() {
            let fresh = c.choices[g.picks[j] % c.choices.len()];
            let keep = match (g.mode, current) {
                (1, Some(_)) => true,
                (2, Some(_)) => j != g.changed % spec.columns.len(),
                _ => false,
            };
            let (text, canon) = match current {
                Some(values) if keep => (spell(c, &values[j], g.picks[j]), values[j].clone()),
                _ => (fresh.0.map(str::to_owned), fresh.1.map(str::to_owned)),
            };
            if present[j] {
                file_values.push(text);
                canonical.push(canon);
            } else {
                file_values.push(None);
                canonical.push(None); // a column missing from the file is NULL in the new version
            }
        }
        let fields = slots.iter().map(|&s| match s {
            0 => (Some(key), g.quote),
            s if s == MAX_COLS + 1 => (Some(tran), g.quote),
            s => (file_values[s - 1].as_deref(), g.quote),
        });
        push_record(&mut csv, fields, eol);
        rows.push(FileRow {
            delete: with_delete && tran.trim().eq_ignore_ascii_case("d"),
            key: key.to_owned(),
            values: canonical,
        });
    }
    if !step.final_newline {
        csv.truncate(csv.len() - eol.len());
    }
    (csv, rows)
}

async fn run_case(steps: &[StepGen]) -> Result<(), String> {
    let h = Harness::start().await;
    let mut world = World::new(&h).await?;
    for step in steps {
        let (csv, rows) = build_file(&world.models[step.table], step);
        let pattern = IMPORT_PATTERNS[step.pattern];
        if let Err(e) = world
            .import(&h, step.table, pattern, &csv, &rows, step.hwm)
            .await
        {
            return Err(format!("{}\n*** {e}", world.log));
        }
    }
    Ok(())
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(12);
    Config {
        cases,
        max_shrink_iters: 100,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Random sequences of imports of every pattern into both tables; after each, counts and all four export
/// shapes must match the model.
#[test]
fn random_import_sequences_match_the_scd2_model() {
    let mut runner = TestRunner::new(config());
    let result = runner.run(&vec(step_gen(), 3..=8), |steps| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_case(&steps)).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, steps)) => panic!("{why}\n\nminimal failing input: {steps:#?}"),
        Err(e) => panic!("{e}"),
    }
}

// ------------------------------------------------------------------------------------------------ by hand

const CENTRE_HEADER: &str =
    "centre_code,centre_name,region,capacity,catchment_population,established_on,is_active,notes";

/// History codes of one key, in write order.
fn codes(world: &World, t: usize, key: &str) -> Vec<char> {
    world.models[t]
        .versions
        .iter()
        .filter(|v| v.key == key)
        .map(|v| v.code)
        .collect()
}

/// A readable sequence: insert, identical re-import, update, delete by tran code (and of an absent record),
/// re-insert after delete, full import tombstoning absent records, and a full import into a table that allows
/// manual rows. Each step is checked against the model as in the random test, and against counts written out.
#[tokio::test]
async fn hand_written_sequence_matches_the_scd2_model() {
    let h = Harness::start().await;
    let mut world = World::new(&h).await.unwrap_or_else(|e| panic!("{e}"));
    // Seed records (some seed rows span several lines).
    let seeds = parse_csv(
        &std::fs::read(
            fixture()
                .parent()
                .unwrap()
                .join("clinics/delivery_centre.csv"),
        )
        .unwrap(),
    )
    .len();
    let k1 = "K1,Alpha,,10,,2020-01-01,true,\"a, \"\"b\"\"\"";
    let k1_updated = "K1,Alpha,,11,,2020-01-01,true,\"a, \"\"b\"\"\"";
    let k2 = "K2,Beta,\"\",,3000000000,,,\"\"";
    let steps: Vec<(usize, &str, String, Counts)> = vec![
        // 1. Two new records.
        (
            0,
            "incremental_upsert_only",
            format!("{CENTRE_HEADER}\n{k1}\n{k2}\n"),
            Counts {
                inserted: 2,
                updated: 0,
                deleted: 0,
            },
        ),
        // 2. The same file again (legacy pattern name): identical rows are skipped and counted nowhere.
        (
            0,
            "incremental",
            format!("{CENTRE_HEADER}\n{k1}\n{k2}\n"),
            Counts::default(),
        ),
        // 3. K1 changes, K2 does not.
        (
            0,
            "incremental_upsert_only",
            format!("{CENTRE_HEADER}\n{k1_updated}\n{k2}\n"),
            Counts {
                inserted: 0,
                updated: 1,
                deleted: 0,
            },
        ),
        // 4. Delete K2 by tran code; deleting K9, which never existed, is a no-op.
        (
            0,
            "incremental_with_delete",
            format!("{CENTRE_HEADER},{TRAN_CODE}\n{k2},d\nK9,Nobody,,,,,,,D\n"),
            Counts {
                inserted: 0,
                updated: 0,
                deleted: 1,
            },
        ),
        // 5. Deleting K2 again is a no-op too.
        (
            0,
            "incremental_with_delete",
            format!("{CENTRE_HEADER},{TRAN_CODE}\n{k2}, d \n"),
            Counts::default(),
        ),
        // 6. Re-insert K2 with the values it had: a new version `u`, counted as an update.
        (
            0,
            "incremental_with_delete",
            format!("{CENTRE_HEADER},{TRAN_CODE}\n{k2},I\n"),
            Counts {
                inserted: 0,
                updated: 1,
                deleted: 0,
            },
        ),
        // 7. Full file with K1 only (unchanged): K2 and every seed record are tombstoned.
        (
            0,
            "full",
            format!("{CENTRE_HEADER}\n{k1_updated}\n"),
            Counts {
                inserted: 0,
                updated: 0,
                deleted: seeds as i64 + 1,
            },
        ),
        // 8. Full file into org_unit (allow_manual_rows): one update, one insert, nothing tombstoned; the columns
        //    missing from the file become NULL.
        (
            1,
            "full",
            "org_unit_id,name\n1,Renamed Group\n900,New Unit\n".to_owned(),
            Counts {
                inserted: 1,
                updated: 1,
                deleted: 0,
            },
        ),
        // 9. Full file with K2 back and K1 unchanged: K2 is re-inserted, nothing else is live to tombstone.
        (
            0,
            "full",
            format!("{CENTRE_HEADER}\n{k1_updated}\n{k2}\n"),
            Counts {
                inserted: 0,
                updated: 1,
                deleted: 0,
            },
        ),
    ];
    for (n, (t, pattern, csv, want)) in steps.iter().enumerate() {
        let rows = file_rows(TABLES[*t], csv);
        let hwm = HwmChoice { pick: 1, form: n };
        let got = world
            .import(&h, *t, pattern, csv, &rows, hwm)
            .await
            .unwrap_or_else(|e| panic!("{}\n*** {e}", world.log));
        assert_eq!(
            got,
            *want,
            "step {}: counts written out by hand\n{}",
            n + 1,
            world.log
        );
    }
    assert_eq!(codes(&world, 0, "K1"), ['i', 'u']);
    assert_eq!(codes(&world, 0, "K2"), ['i', 'd', 'u', 'd', 'u']);
    assert_eq!(codes(&world, 0, "DC001"), ['i', 'd']);
    assert!(codes(&world, 0, "K9").is_empty());
    assert_eq!(codes(&world, 1, "1"), ['i', 'u']);
    assert_eq!(codes(&world, 1, "900"), ['i']);
    assert_eq!(
        codes(&world, 1, "2"),
        ['i'],
        "allow_manual_rows: a full import leaves absent records alone"
    );
}
