//! Emulator benchmark: a full import then a full export of N rows × 12 mixed-type columns, through the real
//! HTTP protocol against a separate `trdm emulator` process, so the peak RSS measured is the server's alone.
//!
//! Each size also runs a baseline in the same process run: the same CSV parsed and bulk-inserted into a plain
//! SQLite table (no versioning, no indexes) and selected back out to CSV. That is what this machine can do at
//! best with the same engine; the ratio says what versioning, validation and HTTP cost on top.
//!
//! Usage: `cargo run --release -p trdm-bench --bin emulator-bench -- [ROWS ...]` (default 100000 1000000).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trdm_format::csv::{CsvReader, CsvWriter, Record};

const FIXTURE: &str = r#"
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

fn write_csv(path: &Path, rows: u64) -> std::io::Result<u64> {
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
    for i in 0..rows {
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

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(trdm: &Path, dir: &Path) -> Server {
        let mut child = Command::new(trdm)
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--max-upload-size",
                "4000000000",
                "--fixture",
            ])
            .arg(dir.join("bench.toml"))
            .arg("--db")
            .arg(dir.join("emulator.db"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start trdm emulator (build it with --release first)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("emulator exited").unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_owned();
            }
        };
        // Keep draining stdout so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, url }
    }

    /// Peak resident set size of the server process so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn poll(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        let v: Value = http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

struct Measured {
    rows: u64,
    bytes: u64,
    upload_s: f64,
    import_s: f64,
    export_s: f64,
    download_s: f64,
    rss_mib: f64,
    base_import_s: f64,
    base_export_s: f64,
}

async fn run(trdm: &Path, rows: u64) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bench.toml"), FIXTURE).unwrap();
    let csv = dir.path().join("data.csv");
    let bytes = write_csv(&csv, rows).unwrap();
    let server = Server::start(trdm, dir.path());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let token: Value = http
        .post(format!("{}/oauth/token", server.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "bench"),
            ("client_secret", "bench-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let get = |path: &str| {
        http.get(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .send()
    };
    let tables: Value = get("/api/v1/deployed_table_definitions?branch_id=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let table = &tables["data"][0];
    let mappings: Value = get(&format!(
        "/api/v1/table_definitions/{}/import_mappings",
        table["id"]
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let import: Value = post("/api/imports/new", json!({"branch_id": 1}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot: Value = post(
        "/api/import_tables/new",
        json!({"import_id": import["id"], "table_definition_key": table["key"], "import_mapping_key": mappings["data"][0]["key"], "pattern": "full"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();

    let started = Instant::now();
    let file = tokio::fs::File::open(&csv).await.unwrap();
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        256 * 1024,
    ));
    let put = http
        .put(slot["signed_s3_url"].as_str().unwrap())
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "upload failed: {}", put.status());
    let upload_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    post(
        &format!("/api/import_tables/{}/upload_complete", slot["id"]),
        json!({}),
    )
    .await
    .unwrap();
    post(
        &format!("/api/imports/{}/complete", import["id"]),
        json!({}),
    )
    .await
    .unwrap();
    let result = poll(
        &http,
        &format!("{}/api/v1/imports/{}", server.url, import["id"]),
        &token,
        |v| v["import"]["status"] != "created" && v["import"]["status"] != "processing",
    )
    .await;
    let import_s = started.elapsed().as_secs_f64();
    assert_eq!(result["import"]["status"], "completed", "{result}");
    assert_eq!(result["import"]["insert_row_count"], rows);

    let started = Instant::now();
    let export: Value = post(
        "/api/exports/new",
        json!({"branch_id": 1, "table_definition_key": table["key"], "pattern": "full"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let export = poll(
        &http,
        &format!("{}/api/exports/{}", server.url, export["id"]),
        &token,
        |v| v["status"] == "completed" || v["status"] == "failed",
    )
    .await;
    let export_s = started.elapsed().as_secs_f64();
    assert_eq!(export["rows_exported"], rows);
    let started = Instant::now();
    let mut response = http
        .get(export["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let mut downloaded = 0u64;
    while let Some(chunk) = response.chunk().await.unwrap() {
        downloaded += chunk.len() as u64;
    }
    let download_s = started.elapsed().as_secs_f64();
    assert_eq!(downloaded, export["bytes_exported"].as_u64().unwrap());
    let rss_mib = server.peak_rss_mib();
    drop(server);

    let (base_import_s, base_export_s) = baseline(&csv, &dir.path().join("baseline.db"));
    Measured {
        rows,
        bytes,
        upload_s,
        import_s,
        export_s,
        download_s,
        rss_mib,
        base_import_s,
        base_export_s,
    }
}

/// The same CSV parsed and inserted into a plain table in one transaction, then selected back out to CSV.
fn baseline(csv: &Path, db: &Path) -> (f64, f64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE t (code TEXT, name TEXT, notes TEXT, qty INTEGER, population INTEGER, amount TEXT, ratio TEXT,
         active INTEGER, opened TEXT, seen_at TEXT, grade INTEGER, local_time TEXT)",
    )
    .unwrap();
    let started = Instant::now();
    let mut reader = CsvReader::new(std::fs::File::open(csv).unwrap());
    let mut record = Record::new();
    reader.read_record(&mut record).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut insert = tx
            .prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
            .unwrap();
        while reader.read_record(&mut record).unwrap() {
            insert
                .execute(rusqlite::params_from_iter(record.iter().map(|f| f.text)))
                .unwrap();
        }
    }
    tx.commit().unwrap();
    let import_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut stmt = conn.prepare("SELECT * FROM t").unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut w = CsvWriter::new(std::io::sink());
    while let Some(row) = rows.next().unwrap() {
        for i in 0..12 {
            let text: Option<String> = row
                .get::<_, Option<rusqlite::types::Value>>(i)
                .unwrap()
                .map(|v| match v {
                    rusqlite::types::Value::Text(s) => s,
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    _ => String::new(),
                });
            w.write_field(text.as_deref()).unwrap();
        }
        w.end_record().unwrap();
    }
    w.flush().unwrap();
    (import_s, started.elapsed().as_secs_f64())
}

fn trdm_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join("trdm")
}

#[tokio::main]
async fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("row counts"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    let trdm = trdm_binary();
    assert!(
        trdm.exists(),
        "build the CLI first: cargo build --release -p trdm-cli"
    );
    let mut results = Vec::new();
    for rows in sizes {
        eprintln!("running {rows} rows …");
        results.push(run(&trdm, rows).await);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "| rows | CSV MiB | PUT s | import s (baseline s, ratio) | export s (baseline s, ratio) | download s | server peak RSS MiB |").unwrap();
    writeln!(out, "|---:|---:|---:|---|---|---:|---:|").unwrap();
    for m in &results {
        writeln!(
            out,
            "| {} | {:.1} | {:.2} | {:.2} ({:.2}, {:.1}×) | {:.2} ({:.2}, {:.1}×) | {:.2} | {:.0} |",
            m.rows,
            m.bytes as f64 / 1048576.0,
            m.upload_s,
            m.import_s,
            m.base_import_s,
            m.import_s / m.base_import_s,
            m.export_s,
            m.base_export_s,
            m.export_s / m.base_export_s,
            m.download_s,
            m.rss_mib
        )
        .unwrap();
    }
    if results.len() >= 2 {
        let (a, b) = (&results[0], &results[results.len() - 1]);
        writeln!(
            out,
            "\npeak RSS grows {:.2}× while rows grow {:.0}× (independent of row count means ≈ 1×)",
            b.rss_mib / a.rss_mib,
            b.rows as f64 / a.rows as f64
        )
        .unwrap();
    }
}
