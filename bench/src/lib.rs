//! What the benchmarks share: the wide fixture and a `trdm emulator` child process (both from
//! `trdm-testkit`, which the tests share too), and the few protocol calls (token, import, export, download)
//! made with plain HTTP.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use trdm_testkit::EmulatorProcess;
use trdm_testkit::process::emulator_command;

pub use trdm_testkit::fixture::wide::{
    CLIENT_ID, CLIENT_SECRET, FIXTURE, write_csv, write_csv_range,
};
pub use trdm_testkit::process::peak_rss_mib;

/// A `trdm emulator` child process serving [`FIXTURE`] (written to `dir/bench.toml`) with uploads of up to
/// 4 GB allowed, its database in `dir`; killed on drop. `url` and `peak_rss_mib()` are what the benchmarks read.
pub fn start_server(trdm: &Path, dir: &Path) -> EmulatorProcess {
    std::fs::write(dir.join("bench.toml"), FIXTURE).unwrap();
    let mut command = emulator_command(trdm, &dir.join("bench.toml"), &dir.join("emulator.db"));
    command.args(["--max-upload-size", "4000000000"]);
    EmulatorProcess::start(command)
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

    /// Imports the file at `path` into `table` in one `full` batch and checks its
    /// `[inserted, updated, deleted]` counts.
    pub async fn import_file_counts(&self, table: &Value, path: &Path, counts: [u64; 3]) {
        let slot = self.start_import(table).await;
        self.put_file(&slot, path).await;
        let result = self.finish_import(&slot).await;
        let i = &result["import"];
        assert_eq!(i["status"], "completed", "{result}");
        let got =
            ["insert_row_count", "update_row_count", "delete_row_count"].map(|k| i[k].as_u64());
        assert_eq!(got, counts.map(Some), "{result}");
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
