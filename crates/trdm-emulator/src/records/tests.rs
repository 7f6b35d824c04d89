//! Export and import equivalence tests, and an opt-in timing harness for large tables.
//!
//! [`reference_export`] is the export writer as it was before it was tuned (one `CsvWriter`, values read one
//! by one with `get_ref`): the tuned [`write_export`] must produce the same bytes and the same counts for
//! every table, selection and stored value.

use std::io::Write;
use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use trdm_format::csv::{CsvWriter, Record};
use trdm_format::temporal::format_timestamptz;
use trdm_format::value::DataType;
use trdm_format::{SYSTEM_COLUMNS, TRAN_CODE_COLUMN as TRAN_CODE};

use super::*;
use crate::db::Db;
use crate::fixture::{Fixture, open_database};
use crate::store::{self, TableFilter};

/// The export writer before tuning, kept verbatim as the definition of the expected bytes.
fn reference_export(
    conn: &Connection,
    table: &Table,
    selection: ExportSelection,
    out: impl Write,
) -> Result<(i64, i64), ApplyError> {
    let t = ident(&table.physical_name);
    let cols: Vec<String> = table.columns.iter().map(|c| ident(&c.name)).collect();
    let filter = match (
        selection.high_water_mark.is_some(),
        selection.include_history,
    ) {
        (false, false) => "trdm_state = 'C' AND trdm_is_deleted = 0",
        (false, true) => "1",
        (true, false) => "trdm_state = 'C' AND trdm_created_at > ?1",
        (true, true) => "trdm_created_at > ?1",
    };
    let plain_full = selection.high_water_mark.is_none() && !selection.include_history;
    let sql = format!(
        "SELECT {}, trdm_sk, trdm_record_id, trdm_state, trdm_created_at, trdm_effective_from, trdm_effective_to,
                trdm_is_deleted, trdm_actor_type, trdm_actor_id, trdm_tran_code
         FROM {t} WHERE {filter} ORDER BY trdm_sk",
        cols.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = match selection.high_water_mark {
        Some(hwm) => stmt.query([hwm])?,
        None => stmt.query([])?,
    };
    let mut writer = CsvWriter::new(out);
    let io =
        |e: std::io::Error| ApplyError::Rejected(format!("writing the export file failed: {e}"));
    writer
        .write_record(
            table
                .columns
                .iter()
                .map(|c| Some(c.name.as_str()))
                .chain(SYSTEM_COLUMNS.iter().map(|s| Some(*s))),
        )
        .map_err(io)?;
    let bools: Vec<bool> = table
        .columns
        .iter()
        .map(|c| c.data_type == DataType::Boolean)
        .collect();
    let n = cols.len();
    let mut buf = String::new();
    let mut count = 0i64;
    let push_int = |buf: &mut String, v: i64| {
        use std::fmt::Write as _;
        let _ = write!(buf, "{v}");
    };
    while let Some(row) = rows.next()? {
        for (i, is_bool) in bools.iter().enumerate() {
            match row.get_ref(i)? {
                ValueRef::Null => writer.write_field(None).map_err(io)?,
                ValueRef::Integer(v) if *is_bool => writer
                    .write_field(Some(if v != 0 { "true" } else { "false" }))
                    .map_err(io)?,
                ValueRef::Integer(v) => {
                    buf.clear();
                    push_int(&mut buf, v);
                    writer.write_field(Some(&buf)).map_err(io)?
                }
                ValueRef::Text(s) => writer
                    .write_field(Some(std::str::from_utf8(s).unwrap_or_default()))
                    .map_err(io)?,
                ValueRef::Real(f) => {
                    buf.clear();
                    buf.push_str(&f.to_string());
                    writer.write_field(Some(&buf)).map_err(io)?
                }
                ValueRef::Blob(_) => writer.write_field(None).map_err(io)?,
            }
        }
        for (k, _) in SYSTEM_COLUMNS.iter().enumerate() {
            let i = n + k;
            buf.clear();
            let field: Option<&str> = match k {
                0 | 1 | 8 => match row.get_ref(i)? {
                    ValueRef::Integer(v) => {
                        push_int(&mut buf, v);
                        Some(&buf)
                    }
                    _ => None,
                },
                3..=5 => {
                    format_timestamptz(row.get(i)?, &mut buf);
                    Some(&buf)
                }
                6 => Some(if row.get::<_, bool>(i)? {
                    "true"
                } else {
                    "false"
                }),
                9 if plain_full => None,
                _ => match row.get_ref(i)? {
                    ValueRef::Text(s) => Some(std::str::from_utf8(s).unwrap_or_default()),
                    _ => None,
                },
            };
            writer.write_field(field).map_err(io)?;
        }
        writer.end_record().map_err(io)?;
        count += 1;
    }
    writer.flush().map_err(io)?;
    let bytes = writer.bytes_written() as i64;
    Ok((count, bytes))
}

/// A fresh database loaded from the fixture at `path`.
fn open(dir: &Path, fixture: &Path) -> Db {
    let fixture = Fixture::read(fixture).expect("fixture");
    open_database(&dir.join("emulator.db"), Some(&fixture))
        .expect("database")
        .0
}

fn all_tables(db: &Db) -> Vec<Table> {
    store::tables(&db.catalog_now().unwrap(), &TableFilter::default()).unwrap()
}

fn identity_mapping() -> MappingConfig {
    MappingConfig {
        date_style: "MDY".into(),
        delimiter: ",".into(),
        columns: Vec::new(),
    }
}

fn apply(
    conn: &mut Connection,
    table: &Table,
    pattern: ImportPattern,
    csv: &[u8],
) -> Result<Counts, ApplyError> {
    let mapping = identity_mapping();
    let spec = ImportSpec {
        table,
        mapping: &mapping,
        pattern,
        actor_type: "I",
        actor_id: 7,
        import_table_id: None,
    };
    apply_file(conn, &spec, csv)
}

/// Every selection an export can ask for, with high-water marks before, inside and after the data.
fn selections(conn: &Connection, table: &Table) -> Vec<ExportSelection> {
    let t = ident(&table.physical_name);
    let (lo, hi): (i64, i64) = conn
        .query_row(
            &format!("SELECT coalesce(min(trdm_created_at), 0), coalesce(max(trdm_created_at), 0) FROM {t}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut out = Vec::new();
    for include_history in [false, true] {
        for hwm in [
            None,
            Some(i64::MIN),
            Some(lo - 1),
            Some(lo),
            Some(hi - 1),
            Some(hi),
        ] {
            out.push(ExportSelection {
                high_water_mark: hwm,
                include_history,
            });
        }
    }
    out
}

/// Asserts that the export of every selection of `table` equals the reference writer's, byte for byte.
fn assert_exports_match(conn: &Connection, table: &Table) -> usize {
    let mut compared = 0;
    for selection in selections(conn, table) {
        let mut expected = Vec::new();
        let expected_counts =
            reference_export(conn, table, selection, &mut expected).map_err(|e| e.to_string());
        let mut actual = Vec::new();
        let actual_counts =
            write_export(conn, table, selection, &mut actual).map_err(|e| e.to_string());
        assert_eq!(
            expected_counts, actual_counts,
            "{} {selection:?}",
            table.name
        );
        if expected_counts.is_err() {
            // A failed export's partial file is deleted; only the error matters.
            continue;
        }
        if expected != actual {
            let at = expected
                .iter()
                .zip(&actual)
                .position(|(a, b)| a != b)
                .unwrap_or(expected.len().min(actual.len()));
            let from = at.saturating_sub(120);
            panic!(
                "{} {selection:?}: exports differ at byte {at}\nexpected: {:?}\nactual:   {:?}",
                table.name,
                String::from_utf8_lossy(&expected[from..(at + 120).min(expected.len())]),
                String::from_utf8_lossy(&actual[from..(at + 120).min(actual.len())]),
            );
        }
        compared += expected.len();
    }
    compared
}

#[test]
fn exports_of_the_clinics_fixture_match_the_reference_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &trdm_testkit::fixture::clinics());
    let tables = all_tables(&db);
    assert!(tables.len() >= 3);
    let mut conn = db.records_now().unwrap();
    for table in &tables {
        assert!(assert_exports_match(&conn, table) > 0);
    }
    // History: re-import every table with its first row dropped and its second row changed, so exports
    // carry closed versions, tombstones and two change times.
    for table in &tables {
        let mut current = Vec::new();
        reference_export(
            &conn,
            table,
            ExportSelection {
                high_water_mark: None,
                include_history: false,
            },
            &mut current,
        )
        .unwrap();
        let text = String::from_utf8(current).unwrap();
        let user_columns = table.columns.len();
        let mut out = CsvWriter::new(Vec::new());
        let mut reader = trdm_format::csv::CsvReader::new(text.as_bytes());
        let mut record = Record::new();
        let mut row = 0;
        while reader.read_record(&mut record).unwrap() {
            row += 1;
            if row == 2 {
                continue;
            }
            let fields: Vec<Option<String>> = record
                .iter()
                .take(user_columns)
                .map(|f| (f.quoted || !f.text.is_empty()).then(|| f.text.to_owned()))
                .collect();
            out.write_record(fields.iter().map(|f| f.as_deref()))
                .unwrap();
        }
        let csv = out.into_inner().unwrap();
        let counts = apply(&mut conn, table, ImportPattern::Full, &csv).unwrap();
        assert!(counts.deleted == 1 || table.allow_manual_rows, "{counts:?}");
        assert!(assert_exports_match(&conn, table) > 0);
    }
}

const EVERY_TYPE_FIXTURE: &str = r#"
[[oauth_applications]]
name = "t"
client_id = "t"
client_secret = "t-secret"

[[branches]]
name = "prod"

[[domains]]
name = "Types"
abbreviation = "ty"

[[tables]]
domain = "Types"
name = "Every Type"
branches = ["prod"]
columns = [
  { name = "id", data_type = "integer", primary_key = true },
  { name = "code", data_type = "varchar", length = 40, primary_key = true },
  { name = "ch", data_type = "character", length = 3 },
  { name = "txt", data_type = "text" },
  { name = "small", data_type = "smallint" },
  { name = "big", data_type = "bigint" },
  { name = "dec", data_type = "decimal", precision = 18, scale = 4 },
  { name = "re", data_type = "real" },
  { name = "dbl", data_type = "double" },
  { name = "flag", data_type = "boolean" },
  { name = "day", data_type = "date" },
  { name = "clock", data_type = "time" },
  { name = "clocktz", data_type = "timetz" },
  { name = "stamp", data_type = "timestamp" },
  { name = "instant", data_type = "timestamptz" },
  { name = "needed", data_type = "text", required = true },
]
"#;

const NASTY: [&str; 12] = [
    "plain",
    "with, comma",
    "with \"quotes\"",
    "\"",
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\nend",
    "naïve café ✓ 日本語 🦀",
    " padded ",
    "\u{feff}bom first",
    "semi;colon|pipe\ttab",
    "x",
];

/// One row of the every-type table; `version` changes some values so that a re-import updates rows.
fn every_type_row(i: u64, version: u64) -> Vec<Option<String>> {
    let text = |k: u64| -> Option<String> {
        match k % 16 {
            0 => None,
            1 => Some(String::new()),
            k => Some(NASTY[(k as usize) % NASTY.len()].to_owned()),
        }
    };
    let nullable = |k: u64, v: String| (!k.is_multiple_of(9)).then_some(v);
    let j = i + version * 3;
    vec![
        Some(i.to_string()),
        Some(format!("k{i}")),
        nullable(j, ["a", "bc", "é", "\"q"][(j % 4) as usize].to_owned()),
        text(j),
        nullable(j + 1, ((j as i64 % 65_535) - 32_767).to_string()),
        nullable(j + 2, (i64::MAX - j as i64 * 7_777_777_777).to_string()),
        nullable(j + 3, format!("{}.{:04}", j as i64 - 500, j % 10_000)),
        nullable(j + 4, format!("{}", (j as f32) / 3.0)),
        nullable(j + 5, format!("{:e}", (j as f64) * -1.25e-3)),
        nullable(j + 6, ["true", "f", "1", "no"][(j % 4) as usize].to_owned()),
        nullable(
            j + 7,
            format!("{:04}-{:02}-{:02}", 1 + j % 9999, j % 12 + 1, j % 28 + 1),
        ),
        nullable(
            j + 8,
            format!(
                "{:02}:{:02}:{:02}.{:06}",
                j % 24,
                j % 60,
                j % 59,
                j % 1_000_000
            ),
        ),
        nullable(j + 9, format!("{:02}:{:02}:00+0{}", j % 24, j % 60, j % 10)),
        nullable(
            j + 10,
            format!("2001-02-03T04:05:{:02}.{}", j % 60, j % 1000),
        ),
        nullable(
            j + 11,
            format!("20{:02}-06-30T23:59:59.999999-0{}:30", j % 100, j % 10),
        ),
        Some(text(j + 5).unwrap_or_else(|| "needed".into())),
    ]
}

fn every_type_csv(rows: impl Iterator<Item = (u64, u64, Option<&'static str>)>) -> Vec<u8> {
    let names = [
        "id", "code", "ch", "txt", "small", "big", "dec", "re", "dbl", "flag", "day", "clock",
        "clocktz", "stamp", "instant", "needed",
    ];
    let mut w = CsvWriter::new(Vec::new());
    let mut header: Vec<&str> = names.to_vec();
    let rows: Vec<_> = rows.collect();
    let tran = rows.iter().any(|r| r.2.is_some());
    if tran {
        header.push(TRAN_CODE);
    }
    w.write_record(header.iter().map(|h| Some(*h))).unwrap();
    for (i, version, code) in rows {
        let mut fields = every_type_row(i, version);
        if tran {
            fields.push(Some(code.unwrap_or("u").to_owned()));
        }
        w.write_record(fields.iter().map(|f| f.as_deref())).unwrap();
    }
    w.into_inner().unwrap()
}

#[test]
fn exports_of_every_type_and_awkward_values_match_the_reference_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("types.toml");
    std::fs::write(&fixture, EVERY_TYPE_FIXTURE).unwrap();
    let db = open(dir.path(), &fixture);
    let tables = all_tables(&db);
    let table = &tables[0];
    let mut conn = db.records_now().unwrap();
    // An empty table.
    assert_exports_match(&conn, table);

    // Enough rows for several write buffers and hand-over batches.
    const ROWS: u64 = 20_000;
    let first = every_type_csv((0..ROWS).map(|i| (i, 0, None)));
    let counts = apply(&mut conn, table, ImportPattern::Full, &first).unwrap();
    assert_eq!(counts.inserted, ROWS as i64);
    assert!(assert_exports_match(&conn, table) > 0);

    // Updates, deletes, re-inserts after deletes and new rows, with tran codes.
    let second = every_type_csv((0..ROWS + 500).filter_map(|i| match i % 10 {
        0 => Some((i, 1, Some("d"))),
        1 | 2 => Some((i, 1, Some("u"))),
        3 => None,
        _ => Some((i, 0, Some("i"))),
    }));
    apply(
        &mut conn,
        table,
        ImportPattern::IncrementalWithDelete,
        &second,
    )
    .unwrap();
    let third = every_type_csv((0..ROWS).filter(|i| i % 20 == 0).map(|i| (i, 2, Some("i"))));
    apply(
        &mut conn,
        table,
        ImportPattern::IncrementalWithDelete,
        &third,
    )
    .unwrap();
    assert!(assert_exports_match(&conn, table) > 0);

    // Values no import writes but a table may hold: reals (in INTEGER-affinity columns, as text columns keep
    // them as text), blobs, integers in text columns, text in integer columns, invalid UTF-8, NULL actor ids.
    let t = ident(&table.physical_name);
    conn.execute_batch(&format!(
        "UPDATE {t} SET txt = 1.5, small = 'seven', flag = 2, big = -0.0, dec = x'00ff', ch = 42,
                        needed = CAST(x'c328' AS TEXT), trdm_actor_id = NULL
           WHERE trdm_sk % 97 = 0;
         UPDATE {t} SET flag = 'yes', small = 0.1, big = 1e300, code = 'k' || trdm_sk || '\"' WHERE trdm_sk % 89 = 0;
         UPDATE {t} SET flag = 2.5, small = -1e-300 WHERE trdm_sk % 83 = 0;
         UPDATE {t} SET trdm_is_deleted = '0', trdm_state = ' C' WHERE trdm_sk % 79 = 0;
         UPDATE {t} SET trdm_is_deleted = 0.0, trdm_state = CAST('C' AS BLOB) WHERE trdm_sk % 73 = 0;
         UPDATE {t} SET trdm_is_deleted = '00' WHERE trdm_sk % 71 = 0;"
    ))
    .unwrap();
    let reals: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM {t} WHERE typeof(small) = 'real'"),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(reals > 0);
    assert!(assert_exports_match(&conn, table) > 0);
    // A flag that is no integer fails the exports that read it, with the same error.
    conn.execute_batch(&format!(
        "UPDATE {t} SET trdm_is_deleted = 'no' WHERE trdm_sk % 67 = 0 AND trdm_state = 'H'"
    ))
    .unwrap();
    assert!(assert_exports_match(&conn, table) > 0);
    let history = ExportSelection {
        high_water_mark: None,
        include_history: true,
    };
    assert!(write_export(&conn, table, history, std::io::sink()).is_err());
}

// ------------------------------------------------------------------------------------------- imports

/// Two databases loaded from one fixture: one applies files with [`apply_file`], the other with the reference.
struct Twin {
    _dirs: [tempfile::TempDir; 2],
    dbs: [Db; 2],
    tables: [Vec<Table>; 2],
    conns: Vec<crate::db::Pooled>,
}

impl Twin {
    fn new(fixture_text: Option<&str>, fixture_path: Option<&Path>) -> Twin {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let dbs = [0, 1].map(|k| {
            let path = match fixture_path {
                Some(p) => p.to_owned(),
                None => {
                    let p = dirs[k].path().join("fixture.toml");
                    std::fs::write(&p, fixture_text.unwrap()).unwrap();
                    p
                }
            };
            open(dirs[k].path(), &path)
        });
        let tables = [all_tables(&dbs[0]), all_tables(&dbs[1])];
        let conns = vec![dbs[0].records_now().unwrap(), dbs[1].records_now().unwrap()];
        Twin {
            _dirs: dirs,
            dbs,
            tables,
            conns,
        }
    }

    /// Applies `csv` to table `t` in both databases; asserts equal outcomes and equal tables.
    fn apply(
        &mut self,
        t: usize,
        mapping: &MappingConfig,
        pattern: ImportPattern,
        csv: &[u8],
    ) -> Result<Counts, String> {
        let mut outcomes = Vec::new();
        for k in 0..2 {
            let table = &self.tables[k][t];
            let spec = ImportSpec {
                table,
                mapping,
                pattern,
                actor_type: "I",
                actor_id: 11,
                import_table_id: Some(1000 + k as i64),
            };
            let conn = &mut self.conns[k];
            let outcome = if k == 0 {
                apply_file(conn, &spec, csv)
            } else {
                reference_import::reference_apply_file(conn, &spec, csv)
            };
            outcomes.push(outcome.map_err(|e| e.to_string()));
            if outcomes[k].is_ok() {
                // Both record the import table id; forget it so the next file can use it again.
                conn.execute("DELETE FROM trdm_applied_import_tables", [])
                    .unwrap();
            }
        }
        assert_eq!(
            outcomes[0],
            outcomes[1],
            "{}",
            String::from_utf8_lossy(&csv[..csv.len().min(300)])
        );
        assert_eq!(self.dump(0, t), self.dump(1, t));
        outcomes.pop().unwrap()
    }

    /// Every version of table `t`, system timestamps replaced by their rank among all of them (change times
    /// differ between the databases, their order does not), and the table's record counter.
    fn dump(&self, k: usize, t: usize) -> Vec<String> {
        let conn = &self.conns[k];
        let table = &self.tables[k][t];
        let name = ident(&table.physical_name);
        let mut stamps: Vec<i64> = conn
            .prepare(&format!(
                "SELECT trdm_created_at FROM {name} UNION SELECT trdm_effective_from FROM {name}
                 UNION SELECT trdm_effective_to FROM {name} ORDER BY 1"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        stamps.dedup();
        let rank = |v: i64| stamps.binary_search(&v).unwrap();
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {name} ORDER BY trdm_sk"))
            .unwrap();
        let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([]).unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let mut line = String::new();
            for (i, c) in columns.iter().enumerate() {
                let v = row.get::<_, rusqlite::types::Value>(i).unwrap();
                let v = match (c.as_str(), v) {
                    (
                        "trdm_created_at" | "trdm_effective_from" | "trdm_effective_to",
                        rusqlite::types::Value::Integer(x),
                    ) => format!("#{}", rank(x)),
                    (_, v) => format!("{v:?}"),
                };
                line.push_str(&v);
                line.push('|');
            }
            out.push(line);
        }
        let counter: i64 = conn
            .query_row(
                "SELECT next_record_id FROM trdm_record_counters WHERE physical_name = ?1",
                [&table.physical_name],
                |r| r.get(0),
            )
            .unwrap();
        out.push(format!("next_record_id {counter}"));
        out
    }
}

/// CSV text from rows of optional fields (None = NULL).
fn csv_of(header: &[&str], rows: &[Vec<Option<String>>]) -> Vec<u8> {
    let mut w = CsvWriter::new(Vec::new());
    w.write_record(header.iter().map(|h| Some(*h))).unwrap();
    for r in rows {
        w.write_record(r.iter().map(|f| f.as_deref())).unwrap();
    }
    w.into_inner().unwrap()
}

const EVERY_TYPE_COLUMNS: [&str; 16] = [
    "id", "code", "ch", "txt", "small", "big", "dec", "re", "dbl", "flag", "day", "clock",
    "clocktz", "stamp", "instant", "needed",
];

/// Rows of the every-type table with an optional tran code appended.
fn typed_rows(
    ids: impl IntoIterator<Item = (u64, u64, Option<&'static str>)>,
) -> Vec<Vec<Option<String>>> {
    ids.into_iter()
        .map(|(i, version, code)| {
            let mut r = every_type_row(i, version);
            if let Some(code) = code {
                r.push(Some(code.to_owned()));
            }
            r
        })
        .collect()
}

fn with_tran(header: &[&str]) -> Vec<String> {
    header
        .iter()
        .map(|h| h.to_string())
        .chain([TRAN_CODE.to_owned()])
        .collect()
}

/// Files that must be rejected, each with its rows, on an empty and on a filled table alike.
fn bad_files() -> Vec<(ImportPattern, Vec<u8>)> {
    let plain = EVERY_TYPE_COLUMNS;
    let tran_header = with_tran(&plain);
    let tran: Vec<&str> = tran_header.iter().map(String::as_str).collect();
    let mut files = Vec::new();
    let full = ImportPattern::Full;
    let del = ImportPattern::IncrementalWithDelete;
    // Duplicate keys in every combination of upsert and delete, near and far apart.
    files.push((
        full,
        csv_of(
            &plain,
            &typed_rows([(1, 0, None), (2, 0, None), (1, 1, None)]),
        ),
    ));
    files.push((
        full,
        csv_of(
            &plain,
            &typed_rows((0..3000).map(|i| (i, 0, None)).chain([(17, 3, None)])),
        ),
    ));
    files.push((
        ImportPattern::IncrementalUpsertOnly,
        csv_of(&plain, &typed_rows([(5, 0, None), (5, 0, None)])),
    ));
    for (a, b) in [
        ("i", "i"),
        ("u", "d"),
        ("d", "u"),
        ("d", "d"),
        ("d", "i"),
        ("i", "D"),
    ] {
        files.push((
            del,
            csv_of(
                &tran,
                &typed_rows([(1, 0, Some(a)), (9000, 0, Some("i")), (1, 2, Some(b))]),
            ),
        ));
        files.push((
            del,
            csv_of(
                &tran,
                &typed_rows([(9001, 0, Some(a)), (3, 0, Some("u")), (9001, 2, Some(b))]),
            ),
        ));
    }
    // Duplicates among deletes of nothing, new records and deletes of new records, interleaved.
    for rows in [
        vec![
            (9100, "d"),
            (1, "i"),
            (9101, "d"),
            (9102, "d"),
            (2, "i"),
            (3, "i"),
            (9103, "d"),
            (2, "u"),
        ],
        vec![
            (9100, "d"),
            (1, "i"),
            (9101, "d"),
            (2, "i"),
            (9104, "d"),
            (2, "d"),
        ],
        vec![
            (9100, "d"),
            (9101, "d"),
            (1, "i"),
            (9102, "d"),
            (2, "i"),
            (9101, "i"),
        ],
        vec![(1, "i"), (9100, "d"), (9105, "d"), (9100, "d")],
        vec![(9100, "d"), (9101, "d"), (1, "i"), (2, "i"), (1, "i")],
    ] {
        let rows: Vec<(u64, u64, Option<&'static str>)> = rows
            .into_iter()
            .map(|(i, code)| (i, 0, Some(code)))
            .collect();
        files.push((del, csv_of(&tran, &typed_rows(rows))));
    }
    // A bad value before and after a duplicate.
    let mut rows = typed_rows([(1, 0, None), (2, 0, None), (1, 0, None), (4, 0, None)]);
    rows[3][4] = Some("seventy thousand".into());
    files.push((full, csv_of(&plain, &rows)));
    let mut rows = typed_rows([(1, 0, None), (2, 0, None), (3, 0, None), (1, 0, None)]);
    rows[2][4] = Some("70000".into());
    files.push((full, csv_of(&plain, &rows)));
    // A value error in each column that can have one.
    for (col, bad) in [
        (0, "x"),
        (1, "a very long code that exceeds the forty character limit"),
        (2, "abcd"),
        (4, "1.5"),
        (5, "99999999999999999999"),
        (6, "1.23456"),
        (7, "nan?"),
        (8, "--1"),
        (9, "maybe"),
        (10, "2024-02-30"),
        (11, "25:00"),
        (12, "10:00+99"),
        (13, "yesterday"),
        (14, "2024-13-01T00:00:00Z"),
    ] {
        let mut rows = typed_rows((0..5).map(|i| (i, 0, None)));
        rows[3][col] = Some(bad.into());
        files.push((full, csv_of(&plain, &rows)));
    }
    // Missing keys and required values.
    for (col, value) in [(0, None), (1, None), (15, None)] {
        let mut rows = typed_rows((0..4).map(|i| (i, 0, None)));
        rows[2][col] = value;
        files.push((full, csv_of(&plain, &rows)));
    }
    // A required value may be missing in a delete, a key may not.
    let mut rows = typed_rows([(1, 0, Some("d")), (2, 0, Some("d"))]);
    rows[0][15] = None;
    rows[1][1] = None;
    files.push((del, csv_of(&tran, &rows)));
    // Required column missing from the file, primary key column missing from the file.
    let no_needed: Vec<&str> = plain[..15].to_vec();
    let rows: Vec<Vec<Option<String>>> = typed_rows([(1, 0, None)])
        .into_iter()
        .map(|mut r| {
            r.truncate(15);
            r
        })
        .collect();
    files.push((full, csv_of(&no_needed, &rows)));
    files.push((full, csv_of(&plain[1..], &[vec![Some("k".into()); 15]])));
    // Tran codes.
    files.push((
        del,
        csv_of(&tran, &typed_rows([(1, 0, Some("i")), (2, 0, Some("x"))])),
    ));
    files.push((del, csv_of(&plain, &typed_rows([(1, 0, None)]))));
    files.push((full, csv_of(&tran, &typed_rows([(1, 0, Some("i"))]))));
    // Shape: field counts, malformed CSV, empty file, header twice.
    let mut bytes = csv_of(&plain, &typed_rows([(1, 0, None), (2, 0, None)]));
    bytes.extend_from_slice(b"3,k3\n");
    files.push((full, bytes));
    let mut bytes = csv_of(&plain, &typed_rows([(1, 0, None), (2, 0, None)]));
    bytes.extend_from_slice(b"3,\"k3\n");
    files.push((full, bytes));
    let mut bytes = csv_of(&plain, &typed_rows([(1, 0, None)]));
    bytes.extend_from_slice(b"3,\"k\"3,a\n");
    files.push((full, bytes));
    files.push((full, Vec::new()));
    files.push((full, b"id,code,id\n1,a,1\n".to_vec()));
    files.push((full, b"id,code,\xff\n1,a,1\n".to_vec()));
    files
}

/// Applies every bad file; each must be rejected, and between them they must hit every kind of message.
fn reject_bad_files(twin: &mut Twin, mapping: &MappingConfig) {
    let mut messages = Vec::new();
    for (k, (pattern, file)) in bad_files().into_iter().enumerate() {
        let outcome = twin.apply(0, mapping, pattern, &file);
        messages.push(outcome.expect_err(&format!("bad file {k} was accepted")));
    }
    for needle in [
        "repeats the primary key of row 1 (id=\"1\", code=\"k1\")",
        "repeats the primary key of row 18",
        "row 8, column id: value \"2\" repeats the primary key of row 5",
        "row 6, column id: value \"2\" repeats the primary key of row 4",
        "row 6, column id: value \"9101\" repeats the primary key of row 2",
        "row 4, column id: value \"9100\" repeats the primary key of row 2",
        "row 5, column id: value \"1\" repeats the primary key of row 3",
        "is not a transaction code",
        "fields but the header has",
        "not valid CSV",
        "is required but missing from the file",
        "a value is required",
        "the primary key needs a value",
        "is longer than",
        "primary key column id is missing",
        "only allowed with the incremental_with_delete",
        "needs a trdm_tran_code column",
        "the file is empty",
        "maps two file columns to column id",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "no message has {needle:?}: {messages:#?}"
        );
    }
}

#[test]
fn imports_match_the_reference_applier() {
    let mut twin = Twin::new(Some(EVERY_TYPE_FIXTURE), None);
    let mapping = identity_mapping();
    let plain = EVERY_TYPE_COLUMNS;
    let tran_header = with_tran(&plain);
    let tran: Vec<&str> = tran_header.iter().map(String::as_str).collect();
    let full = ImportPattern::Full;
    let del = ImportPattern::IncrementalWithDelete;

    // Rejections of an empty table.
    reject_bad_files(&mut twin, &mapping);
    // Header only, then a delete of nothing into the empty table.
    assert!(twin.apply(0, &mapping, full, &csv_of(&plain, &[])).is_ok());
    twin.apply(
        0,
        &mapping,
        del,
        &csv_of(&tran, &typed_rows([(5, 0, Some("d"))])),
    )
    .unwrap();
    // The first load, in shuffled key order.
    let mut order: Vec<u64> = (0..3000).collect();
    for i in 0..order.len() {
        let j = (i * 7919 + 13) % order.len();
        order.swap(i, j);
    }
    let first = csv_of(&plain, &typed_rows(order.iter().map(|&i| (i, 0, None))));
    let counts = twin.apply(0, &mapping, full, &first).unwrap();
    assert_eq!(counts.inserted, 3000);
    // An identical re-import changes nothing.
    let counts = twin.apply(0, &mapping, full, &first).unwrap();
    assert_eq!(counts, Counts::default());
    // Rejections of a filled table.
    reject_bad_files(&mut twin, &mapping);
    // A full import that changes, drops and adds rows.
    let second = csv_of(
        &plain,
        &typed_rows(
            (0..3300)
                .filter(|i| i % 10 != 3)
                .map(|i| (i, u64::from(i % 7 == 0), None)),
        ),
    );
    let counts = twin.apply(0, &mapping, full, &second).unwrap();
    assert!(
        counts.inserted > 0 && counts.updated > 0 && counts.deleted > 0,
        "{counts:?}"
    );
    // Deletes of present, absent and deleted records, re-inserts, updates, identical rows, new rows.
    let third = csv_of(
        &tran,
        &typed_rows((0..3500).map(|i| match i % 6 {
            0 => (i, 1, Some("d")),
            1 => (i, 2, Some("u")),
            2 => (i, 0, Some("I")),
            3 => (i, 5, Some(" u ")),
            _ => (i, u64::from(i % 7 == 0), Some("i")),
        })),
    );
    let counts = twin.apply(0, &mapping, del, &third).unwrap();
    assert!(counts.deleted > 0 && counts.updated > 0, "{counts:?}");
    let again = csv_of(&tran, &typed_rows((0..200).map(|i| (i * 3, 4, Some("u")))));
    twin.apply(0, &mapping, del, &again).unwrap();
    // Upserts only, and a file without some optional columns (written as NULL).
    let fourth = csv_of(&plain, &typed_rows((100..4000).map(|i| (i, 6, None))));
    twin.apply(0, &mapping, ImportPattern::IncrementalUpsertOnly, &fourth)
        .unwrap();
    let few = ["needed", "code", "id", "txt"];
    let rows: Vec<Vec<Option<String>>> = (0..500)
        .map(|i| {
            vec![
                Some(format!("n{i}")),
                Some(format!("k{i}")),
                Some(i.to_string()),
                None,
            ]
        })
        .collect();
    twin.apply(0, &mapping, full, &csv_of(&few, &rows)).unwrap();
    // A full import of everything deleted and back again.
    twin.apply(0, &mapping, full, &csv_of(&plain, &[])).unwrap();
    twin.apply(0, &mapping, full, &first).unwrap();
}

#[test]
fn imports_with_mappings_and_delimiters_match_the_reference_applier() {
    let mut twin = Twin::new(None, Some(&trdm_testkit::fixture::clinics()));
    for t in 0..twin.tables[0].len() {
        let table = twin.tables[0][t].clone();
        let mut current = Vec::new();
        reference_export(
            &twin.conns[0],
            &table,
            ExportSelection {
                high_water_mark: None,
                include_history: false,
            },
            &mut current,
        )
        .unwrap();
        // Renamed columns, an ignored column, a `;` delimiter, the rows reversed and one changed.
        let text = String::from_utf8(current).unwrap();
        let mut reader = trdm_format::csv::CsvReader::new(text.as_bytes());
        let mut record = Record::new();
        let mut rows = Vec::new();
        reader.read_record(&mut record).unwrap();
        let n = table.columns.len();
        while reader.read_record(&mut record).unwrap() {
            let mut fields: Vec<Option<String>> = record
                .iter()
                .take(n)
                .map(|f| (f.quoted || !f.text.is_empty()).then(|| f.text.to_owned()))
                .collect();
            fields.push(Some("ignored".into()));
            rows.push(fields);
        }
        rows.reverse();
        if let Some(non_key) = table
            .columns
            .iter()
            .position(|c| !c.is_primary_key && !c.is_required)
        {
            rows[0][non_key] = None;
        }
        let mut header: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("src {}", c.name))
            .collect();
        header.push("extra".into());
        let mut w = CsvWriter::new(Vec::new()).with_delimiter(b';');
        w.write_record(header.iter().map(|h| Some(h.as_str())))
            .unwrap();
        for r in &rows {
            w.write_record(r.iter().map(|f| f.as_deref())).unwrap();
        }
        let csv = w.into_inner().unwrap();
        let mapping = MappingConfig {
            date_style: "DMY".into(),
            delimiter: ";".into(),
            columns: table
                .columns
                .iter()
                .map(|c| crate::store::MappingColumn {
                    source_column: format!("src {}", c.name),
                    target_column: c.name.clone(),
                    format: None,
                })
                .collect(),
        };
        let counts = twin.apply(t, &mapping, ImportPattern::Full, &csv).unwrap();
        assert!(counts.updated <= 1, "{counts:?}");
        // The same file with a duplicate at the end.
        let mut dup = csv.clone();
        let last = rows.last().unwrap();
        let mut w = CsvWriter::new(Vec::new()).with_delimiter(b';');
        w.write_record(last.iter().map(|f| f.as_deref())).unwrap();
        dup.extend(w.into_inner().unwrap());
        assert!(twin.apply(t, &mapping, ImportPattern::Full, &dup).is_err());
    }
    let _ = &twin.dbs;
}

/// The query plan of an export SELECT, one line per step.
fn plan_of(conn: &Connection, table: &Table, selection: ExportSelection) -> Vec<String> {
    let sql = format!(
        "EXPLAIN QUERY PLAN {}",
        export::export_sql(table, selection)
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    let mut rows = match selection.high_water_mark {
        Some(hwm) => stmt.query([hwm]).unwrap(),
        None => stmt.query([]).unwrap(),
    };
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        out.push(row.get::<_, String>(3).unwrap());
    }
    out
}

#[test]
fn full_exports_scan_the_table_in_rowid_order_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("types.toml");
    std::fs::write(&fixture, EVERY_TYPE_FIXTURE).unwrap();
    let db = open(dir.path(), &fixture);
    let table = &all_tables(&db)[0];
    let mut conn = db.records_now().unwrap();
    let csv = every_type_csv((0..2_000).map(|i| (i, 0, None)));
    apply(&mut conn, table, ImportPattern::Full, &csv).unwrap();
    // With and without statistics: the partial index on the current primary keys must not be chosen, as it
    // would read every row through the index and sort them again.
    for analyze in [false, true] {
        if analyze {
            conn.execute_batch("ANALYZE").unwrap();
        }
        for include_history in [false, true] {
            let selection = ExportSelection {
                high_water_mark: None,
                include_history,
            };
            let plan = plan_of(&conn, table, selection);
            assert_eq!(plan.len(), 1, "{plan:?}");
            assert!(plan[0].starts_with("SCAN "), "{plan:?}");
            assert!(!plan[0].contains("INDEX"), "{plan:?}");
        }
    }
}

// ------------------------------------------------------------------------------------------- timing

/// Times import (empty table, then an identical re-import) and full export of the benchmark table.
/// `TRDM_TIMING_ROWS=1000000 cargo test --release -p trdm-emulator timing -- --ignored --nocapture`;
/// `TRDM_TIMING_ONLY=export` skips the re-import, `TRDM_TIMING_EXPORTS=N` repeats the export,
/// `TRDM_TIMING_SINK=1` exports into `io::sink()` instead of a file.
#[test]
#[ignore = "timing harness; run explicitly"]
#[allow(clippy::print_stderr)]
fn timing() {
    let rows: u64 = std::env::var("TRDM_TIMING_ROWS")
        .ok()
        .map_or(1_000_000, |v| v.parse().unwrap());
    let only = std::env::var("TRDM_TIMING_ONLY").unwrap_or_default();
    let exports: usize = std::env::var("TRDM_TIMING_EXPORTS")
        .ok()
        .map_or(1, |v| v.parse().unwrap());
    let sink = std::env::var_os("TRDM_TIMING_SINK").is_some();
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("bench.toml");
    std::fs::write(&fixture, trdm_testkit::fixture::wide::FIXTURE).unwrap();
    let db = open(dir.path(), &fixture);
    let table = all_tables(&db).remove(0);
    let csv = dir.path().join("data.csv");
    trdm_testkit::fixture::wide::write_csv(&csv, rows).unwrap();
    let mut conn = db.records_now().unwrap();
    // Connection settings to try, e.g. `PRAGMA mmap_size = 1000000000`.
    if let Ok(pragmas) = std::env::var("TRDM_TIMING_PRAGMAS") {
        conn.execute_batch(&pragmas).unwrap();
    }
    let timed = |what: &str, f: &mut dyn FnMut() -> String| {
        let started = std::time::Instant::now();
        let note = f();
        eprintln!("{what}: {:.3} s {note}", started.elapsed().as_secs_f64());
    };
    let mapping = identity_mapping();
    let spec = ImportSpec {
        table: &table,
        mapping: &mapping,
        pattern: ImportPattern::Full,
        actor_type: "I",
        actor_id: 1,
        import_table_id: None,
    };
    timed("import (empty table)", &mut || {
        let counts = apply_file(&mut conn, &spec, std::fs::File::open(&csv).unwrap()).unwrap();
        format!("{counts:?}")
    });
    if only != "export" {
        timed("re-import (identical)", &mut || {
            let counts = apply_file(&mut conn, &spec, std::fs::File::open(&csv).unwrap()).unwrap();
            format!("{counts:?}")
        });
    }
    if only == "import" {
        return;
    }
    let out = dir.path().join("export.csv");
    for _ in 0..exports {
        timed("export (full)", &mut || {
            let selection = ExportSelection {
                high_water_mark: None,
                include_history: false,
            };
            let (n, bytes) = if sink {
                write_export(&conn, &table, selection, std::io::sink()).unwrap()
            } else {
                let file = std::fs::File::create(&out).unwrap();
                write_export(&conn, &table, selection, file).unwrap()
            };
            format!("{n} rows, {bytes} bytes")
        });
    }
}
