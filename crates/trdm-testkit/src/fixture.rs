//! The fixtures tests and benchmarks serve: the repository's Clinics domain, the generated wide table, and
//! a small Arrow batch for catalog tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::Time64MicrosecondBuilder;
use arrow_array::{Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use trdm_format::csv::CsvWriter;

/// OAuth client id of the Clinics fixture's application.
pub const DEMO_CLIENT_ID: &str = "demo-client";
/// OAuth client secret of the Clinics fixture's application.
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";

/// Two sites as a catalog test writes them: `{id}` (Int64, not null, comment `record id`), `name` (one
/// of them not ASCII) and `opens_at`, a time of day to the microsecond (12:34:56.000001 and midnight): the
/// columns whose comment, text and type a catalog must carry through.
pub fn sites_batch(id: &str) -> (SchemaRef, RecordBatch) {
    let schema = Arc::new(Schema::new(vec![
        Field::new(id, DataType::Int64, false)
            .with_metadata([("comment".to_owned(), "record id".to_owned())].into()),
        Field::new("name", DataType::Utf8, true),
        Field::new("opens_at", DataType::Time64(TimeUnit::Microsecond), true),
    ]));
    let mut opens_at = Time64MicrosecondBuilder::new();
    opens_at.append_slice(&[45_296_000_001, 0]);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(StringArray::from(vec!["Basel", "Zürich"])),
            Arc::new(opens_at.finish()),
        ],
    )
    .expect("the columns match the schema");
    (schema, batch)
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `fixtures/clinics.toml`: branches `prod` and `dev`, domain `Clinics` (`clin`) with its three tables.
pub fn clinics() -> PathBuf {
    repo_root().join("fixtures/clinics.toml")
}

/// One of the Clinics fixture's seed files, e.g. `sites.csv`.
pub fn clinics_seed(file: &str) -> PathBuf {
    repo_root().join("fixtures/clinics").join(file)
}

/// The benchmarks' table: one OAuth application, branch `prod`, domain `Bench` (`b`) with one table `Wide`
/// of 12 mixed-type columns, and its generated rows ([`write_csv`](wide::write_csv)).
pub mod wide {
    use super::{CsvWriter, Path};

    /// The emulator fixture: application `bench`/`bench-secret`, branch `prod`, domain `Bench` (`b`),
    /// table `Wide`.
    pub const FIXTURE: &str = r#"
[[oauth_applications]]
name = "bench"
client_id = "bench"
client_secret = "bench-secret"

[[branches]]
name = "prod"

[[domains]]
name = "Bench"
abbreviation = "b"

[[tables]]
domain = "Bench"
name = "Wide"
branches = ["prod"]
columns = [
  { name = "code", data_type = "varchar", length = 12, primary_key = true },
  { name = "name", data_type = "varchar", length = 80, required = true },
  { name = "notes", data_type = "text" },
  { name = "qty", data_type = "integer" },
  { name = "population", data_type = "bigint" },
  { name = "amount", data_type = "decimal", precision = 14, scale = 2 },
  { name = "ratio", data_type = "double" },
  { name = "active", data_type = "boolean" },
  { name = "opened", data_type = "date" },
  { name = "seen_at", data_type = "timestamptz" },
  { name = "grade", data_type = "smallint" },
  { name = "local_time", data_type = "timestamp" },
]
"#;

    /// OAuth client id of [`FIXTURE`]'s application.
    pub const CLIENT_ID: &str = "bench";
    /// OAuth client secret of [`FIXTURE`]'s application.
    pub const CLIENT_SECRET: &str = "bench-secret";

    /// Writes the import CSV of `rows` rows of the table; returns its size in bytes.
    pub fn write_csv(path: &Path, rows: u64) -> std::io::Result<u64> {
        write_csv_range(path, 0..rows)
    }

    /// Writes the import CSV of the rows numbered `range` (row `i` has the code `{i:08}`); returns its size
    /// in bytes. Disjoint ranges share no key.
    pub fn write_csv_range(path: &Path, range: std::ops::Range<u64>) -> std::io::Result<u64> {
        let file = std::fs::File::create(path)?;
        let mut w = CsvWriter::new(file);
        w.write_record(
            [
                "code",
                "name",
                "notes",
                "qty",
                "population",
                "amount",
                "ratio",
                "active",
                "opened",
                "seen_at",
                "grade",
                "local_time",
            ]
            .map(Some),
        )?;
        let mut fields: Vec<String> = vec![String::new(); 12];
        for i in range {
            fields[0] = format!("{i:08}");
            fields[1] = format!("Site number {i}");
            fields[2] = if i % 7 == 0 {
                String::new()
            } else {
                format!("note, with \"quotes\" {}", i % 1000)
            };
            fields[3] = (i % 5000).to_string();
            fields[4] = (3_000_000_000 + i).to_string();
            fields[5] = format!("{}.{:02}", i % 1_000_000, i % 100);
            fields[6] = format!("{}", (i as f64) / 7.0);
            fields[7] = if i % 2 == 0 {
                "true".into()
            } else {
                "false".into()
            };
            fields[8] = format!("20{:02}-{:02}-{:02}", i % 25, i % 12 + 1, i % 28 + 1);
            fields[9] = format!(
                "2024-{:02}-{:02}T{:02}:{:02}:00+00",
                i % 12 + 1,
                i % 28 + 1,
                i % 24,
                i % 60
            );
            fields[10] = (i % 100).to_string();
            fields[11] = format!("2023-01-{:02}T08:30:00", i % 28 + 1);
            w.write_record(fields.iter().enumerate().map(|(k, f)| {
                if k == 3 && i % 11 == 0 {
                    None
                } else {
                    Some(f.as_str())
                }
            }))?;
        }
        w.flush()?;
        Ok(w.bytes_written())
    }
}
