//! What the benchmarks share: the 12-column mixed-type fixture and its CSV, a `trdm emulator` child process,
//! and the few protocol calls (token, import, export, download) made with plain HTTP.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use trdm_format::csv::CsvWriter;

/// The emulator fixture: one OAuth application `bench`/`bench-secret`, branch `prod`, domain `Bench`
/// (abbreviation `b`) with one table `Wide` of 12 mixed-type columns.
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

/// OAuth client id of the fixture's application.
pub const CLIENT_ID: &str = "bench";
/// OAuth client secret of the fixture's application.
pub const CLIENT_SECRET: &str = "bench-secret";

/// Writes the import CSV of `rows` rows of the fixture's table; returns its size in bytes.
pub fn write_csv(path: &Path, rows: u64) -> std::io::Result<u64> {
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

/// Peak resident set size (`VmHWM`) of a live process so far, in MiB; NaN once it has exited.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// A `trdm emulator` child process serving [`FIXTURE`] (written to `dir/bench.toml` by [`Server::start`])
/// with uploads of up to 4 GB allowed; killed on drop.
pub struct Server {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
}

impl Server {
    /// Writes the fixture into `dir` and starts the emulator on a free port, its database in `dir`.
    pub fn start(trdm: &Path, dir: &Path) -> Server {
        std::fs::write(dir.join("bench.toml"), FIXTURE).unwrap();
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
    pub fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release `trdm` binary beside the running benchmark binary (`target/release/trdm`).
pub fn trdm_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join("trdm")
}

/// An authenticated HTTP session with the emulator, as the fixture's application.
pub struct Api {
    /// The HTTP client (10-minute timeout).
    pub http: reqwest::Client,
    /// Base URL.
    pub url: String,
    /// Bearer token.
    pub token: String,
}

/// An import batch with one `full` table slot, ready for the file.
pub struct ImportSlot {
    /// The batch.
    pub import: Value,
    /// The import table (its `signed_s3_url` takes the file).
    pub slot: Value,
}

impl Api {
    /// Gets a token with the client-credentials grant.
    pub async fn connect(url: &str) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap();
        let token: Value = http
            .post(format!("{url}/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_owned();
        Api {
            http,
            url: url.to_owned(),
            token,
        }
    }

    /// GET `path` (relative to the base URL) as JSON.
    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POST `body` to `path` as JSON; the answer as JSON.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// GETs `path` every 25 ms until `done` says yes; the last answer.
    pub async fn poll(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.get(path).await;
            if done(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The fixture's table as deployed on branch 1 (`prod`).
    pub async fn table(&self) -> Value {
        let tables = self
            .get("/api/v1/deployed_table_definitions?branch_id=1")
            .await;
        tables["data"][0].clone()
    }

    /// Creates an import batch on branch 1 with one `full` slot for `table`, with its first mapping.
    pub async fn start_import(&self, table: &Value) -> ImportSlot {
        let mappings = self
            .get(&format!(
                "/api/v1/table_definitions/{}/import_mappings",
                table["id"]
            ))
            .await;
        let import = self.post("/api/imports/new", json!({"branch_id": 1})).await;
        let slot = self
            .post(
                "/api/import_tables/new",
                json!({"import_id": import["id"], "table_definition_key": table["key"], "import_mapping_key": mappings["data"][0]["key"], "pattern": "full"}),
            )
            .await;
        ImportSlot { import, slot }
    }

    /// Streams the file at `path` to the slot's upload URL.
    pub async fn put_file(&self, slot: &ImportSlot, path: &Path) {
        let file = tokio::fs::File::open(path).await.unwrap();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        ));
        let put = self
            .http
            .put(slot.slot["signed_s3_url"].as_str().unwrap())
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "upload failed: {}", put.status());
    }

    /// Announces the upload, completes the batch and waits for it; the batch's results.
    pub async fn finish_import(&self, slot: &ImportSlot) -> Value {
        self.post(
            &format!("/api/import_tables/{}/upload_complete", slot.slot["id"]),
            json!({}),
        )
        .await;
        self.post(
            &format!("/api/imports/{}/complete", slot.import["id"]),
            json!({}),
        )
        .await;
        self.poll(&format!("/api/v1/imports/{}", slot.import["id"]), |v| {
            v["import"]["status"] != "created" && v["import"]["status"] != "processing"
        })
        .await
    }

    /// Imports the file at `path` into `table` in one `full` batch and checks that it inserted `rows` rows.
    pub async fn import_file(&self, table: &Value, path: &Path, rows: u64) {
        let slot = self.start_import(table).await;
        self.put_file(&slot, path).await;
        let result = self.finish_import(&slot).await;
        assert_eq!(result["import"]["status"], "completed", "{result}");
        assert_eq!(result["import"]["insert_row_count"], rows, "{result}");
    }

    /// Creates a `full` export of `table` on branch 1 and waits until it is completed (or failed).
    pub async fn export(&self, table: &Value) -> Value {
        let export = self
            .post(
                "/api/exports/new",
                json!({"branch_id": 1, "table_definition_key": table["key"], "pattern": "full"}),
            )
            .await;
        self.poll(&format!("/api/exports/{}", export["id"]), |v| {
            v["status"] == "completed" || v["status"] == "failed"
        })
        .await
    }

    /// Streams a completed export's file from its `download_url` into `out`; the bytes written.
    pub async fn download(&self, export: &Value, out: &mut impl std::io::Write) -> u64 {
        let mut response = self
            .http
            .get(export["download_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "download failed: {}",
            response.status()
        );
        let mut downloaded = 0u64;
        while let Some(chunk) = response.chunk().await.unwrap() {
            out.write_all(&chunk).unwrap();
            downloaded += chunk.len() as u64;
        }
        downloaded
    }
}
