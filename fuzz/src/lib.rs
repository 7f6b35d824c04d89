//! What the fuzz targets share: the table definitions they decode against and a reader that hands input
//! over in pieces of fuzzer-chosen sizes (so refills and records straddling a buffer get exercised).

use std::io::{self, Read};

use serde::Deserialize;
use trdm_format::value::DataType;
use trdm_sync::schema::{ColumnDef, TableDef};

#[derive(Deserialize)]
struct Fixture {
    tables: Vec<FixtureTable>,
}

#[derive(Deserialize)]
struct FixtureTable {
    name: String,
    database_table_name: String,
    columns: Vec<FixtureColumn>,
}

#[derive(Deserialize)]
struct FixtureColumn {
    name: String,
    data_type: String,
    length: Option<u32>,
    precision: Option<u32>,
    scale: Option<u32>,
    #[serde(default)]
    primary_key: bool,
    #[serde(default)]
    required: bool,
}

/// The three tables of the Clinics fixture (`fixtures/clinics.toml`), as the sync engine sees them.
pub fn clinics_tables() -> Vec<TableDef> {
    let fixture: Fixture = toml::from_str(include_str!("../../fixtures/clinics.toml"))
        .expect("fixtures/clinics.toml parses");
    fixture
        .tables
        .into_iter()
        .map(|t| TableDef {
            name: t.name,
            database_table_name: t.database_table_name,
            columns: t
                .columns
                .into_iter()
                .map(|c| {
                    let data_type: DataType = c.data_type.parse().expect("a known type");
                    ColumnDef {
                        name: c.name,
                        data_type,
                        length: if data_type == DataType::Decimal {
                            c.precision
                        } else {
                            c.length
                        },
                        scale: c.scale,
                        is_primary_key: c.primary_key,
                        is_required: c.required,
                        description: None,
                    }
                })
                .collect(),
        })
        .collect()
}

fn col(name: &str, data_type: DataType, length: Option<u32>, scale: Option<u32>) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        data_type,
        length,
        scale,
        is_primary_key: false,
        is_required: false,
        description: None,
    }
}

/// A table with a column of every type, sized ones in several sizes; `code` is its primary key.
pub fn every_type_table() -> TableDef {
    let mut code = col("code", DataType::Varchar, Some(5), None);
    code.is_primary_key = true;
    let mut name = col("name", DataType::Text, None, None);
    name.is_required = true;
    TableDef {
        name: "Items".into(),
        database_table_name: "items".into(),
        columns: vec![
            code,
            name,
            col("ch", DataType::Character, Some(3), None),
            col("ch1", DataType::Character, None, None),
            col("small", DataType::Smallint, None, None),
            col("int", DataType::Integer, None, None),
            col("big", DataType::Bigint, None, None),
            col("amount", DataType::Decimal, Some(14), Some(2)),
            col("whole", DataType::Decimal, Some(5), None),
            col("wide", DataType::Decimal, Some(40), Some(3)),
            col("huge", DataType::Decimal, Some(100), Some(1)),
            col("free", DataType::Decimal, None, None),
            col("r", DataType::Real, None, None),
            col("d", DataType::Double, None, None),
            col("flag", DataType::Boolean, None, None),
            col("day", DataType::Date, None, None),
            col("at", DataType::Time, None, None),
            col("attz", DataType::Timetz, None, None),
            col("ts", DataType::Timestamp, None, None),
            col("tstz", DataType::Timestamptz, None, None),
        ],
    }
}

/// Reads `data` in pieces whose sizes cycle through `sizes` (each at least 1).
pub struct Chunked<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    next: usize,
}

impl<'a> Chunked<'a> {
    /// A reader of `data`; an empty `sizes` hands everything over at once.
    pub fn new(data: &'a [u8], sizes: &'a [u8]) -> Self {
        Chunked {
            data,
            sizes,
            next: 0,
        }
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = match self.sizes.get(self.next % self.sizes.len().max(1)) {
            Some(&s) => usize::from(s).max(1),
            None => usize::MAX,
        };
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}
