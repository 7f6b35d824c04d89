//! Test plumbing: start an emulator on port 0 with the Clinics fixture, talk to it with reqwest, and read
//! its CSV with the same dialect crate the emulator writes with.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use trdm_emulator::{Emulator, EmulatorConfig};
use trdm_testkit::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, TestEmulator};

pub use trdm_testkit::fixture::clinics as fixture;

/// One running emulator with its own database directory and a token of the demo application.
pub struct Harness {
    pub emulator: Emulator,
    pub http: reqwest::Client,
    pub token: String,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut EmulatorConfig)) -> Harness {
        Harness::connect(TestEmulator::start_with(tune).await).await
    }

    pub async fn start_in(dir: tempfile::TempDir, config: EmulatorConfig) -> Harness {
        Harness::connect(TestEmulator::start_in(dir, config).await).await
    }

    async fn connect(TestEmulator { emulator, dir }: TestEmulator) -> Harness {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut h = Harness {
            emulator,
            http,
            token: String::new(),
            dir,
        };
        h.token = h
            .token_for(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, None)
            .await
            .unwrap();
        h
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.url())
    }

    pub async fn token_for(
        &self,
        id: &str,
        secret: &str,
        scope: Option<&str>,
    ) -> Result<String, (StatusCode, Value)> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .http
            .post(self.url("/oauth/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if status == StatusCode::OK {
            Ok(body["access_token"].as_str().unwrap().to_owned())
        } else {
            Err((status, body))
        }
    }

    pub async fn get_as(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(&self.token, path).await
    }

    pub async fn post_as(
        &self,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.post(self.url(path)).bearer_auth(token);
        request = match body {
            Some(body) => request.json(&body),
            None => request.header("content-type", "application/json"),
        };
        let r = request.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_as(&self.token, path, Some(body)).await
    }

    pub async fn branch_id(&self, name: &str) -> i64 {
        let (_, body) = self
            .get(&format!("/api/v1/branches?q=name:eq:{name}"))
            .await;
        body["data"][0]["id"].as_i64().unwrap()
    }

    /// The deployed definition of `database_table_name` on a branch.
    pub async fn table(&self, branch: &str, database_table_name: &str) -> Value {
        let id = self.branch_id(branch).await;
        let (_, body) = self
            .get(&format!(
                "/api/v1/deployed_table_definitions?branch_id={id}"
            ))
            .await;
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["database_table_name"] == database_table_name)
            .unwrap()
            .clone()
    }

    /// Runs an export to completion and returns its JSON.
    pub async fn export(
        &self,
        branch: &str,
        table: &str,
        pattern: &str,
        hwm: Option<&str>,
        history: bool,
    ) -> Value {
        let t = self.table(branch, table).await;
        let mut body = json!({
            "branch_id": self.branch_id(branch).await,
            "table_definition_key": t["key"],
            "pattern": pattern,
            "include_history": history,
        });
        if let Some(hwm) = hwm {
            body["high_water_mark"] = json!(hwm);
        }
        let (status, created) = self.post("/api/exports/new", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        self.wait_export(created["id"].as_i64().unwrap()).await
    }

    pub async fn wait_export(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, e) = self.get(&format!("/api/exports/{id}")).await;
            if e["status"] == "completed" || e["status"] == "failed" {
                return e;
            }
            assert!(Instant::now() < deadline, "export {id} never finished: {e}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Downloads a completed export and parses it into rows of (column → field).
    pub async fn rows(&self, export: &Value) -> Vec<Row> {
        let url = export["download_url"]
            .as_str()
            .expect("completed export has a download_url");
        let r = self.http.get(url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        parse_csv(&r.bytes().await.unwrap())
    }

    /// Full rows of a table (current, not deleted).
    pub async fn current(&self, branch: &str, table: &str) -> Vec<Row> {
        let e = self.export(branch, table, "full", None, false).await;
        self.rows(&e).await
    }

    /// Creates an import, uploads `csv` for one table with `pattern`, completes it, and waits until every table
    /// is terminal. Returns the results envelope.
    pub async fn import(&self, branch: &str, table: &str, pattern: &str, csv: &str) -> Value {
        self.import_many(branch, &[(table, pattern, csv)]).await
    }

    pub async fn import_many(&self, branch: &str, files: &[(&str, &str, &str)]) -> Value {
        let branch_id = self.branch_id(branch).await;
        let (status, import) = self
            .post("/api/imports/new", json!({ "branch_id": branch_id }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{import}");
        let import_id = import["id"].as_i64().unwrap();
        for (table, pattern, csv) in files {
            let t = self.table(branch, table).await;
            let (_, mappings) = self
                .get(&format!(
                    "/api/v1/table_definitions/{}/import_mappings?q=is_default:eq:true",
                    t["id"]
                ))
                .await;
            let (status, it) = self
                .post(
                    "/api/import_tables/new",
                    json!({ "import_id": import_id, "table_definition_key": t["key"],
                            "import_mapping_key": mappings["data"][0]["key"], "pattern": pattern }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{it}");
            let put = self
                .http
                .put(it["signed_s3_url"].as_str().unwrap())
                .header("content-type", "text/csv")
                .body(csv.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(put.status(), StatusCode::OK);
            let (status, done) = self
                .post_as(
                    &self.token,
                    &format!("/api/import_tables/{}/upload_complete", it["id"]),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{done}");
        }
        let (status, completed) = self
            .post_as(
                &self.token,
                &format!("/api/imports/{import_id}/complete"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{completed}");
        self.wait_import(import_id).await
    }

    pub async fn wait_import(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, r) = self.get(&format!("/api/v1/imports/{id}")).await;
            let status = r["import"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if ["completed", "completed_with_errors", "failed"].contains(&status.as_str()) {
                return r;
            }
            assert!(Instant::now() < deadline, "import {id} never finished: {r}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One CSV row: (column name, field text or None for NULL).
pub type Row = Vec<(String, Option<String>)>;

pub fn parse_csv(bytes: &[u8]) -> Vec<Row> {
    use trdm_format::csv::{CsvReader, Record};
    let mut reader = CsvReader::new(bytes);
    let mut header = Record::new();
    assert!(
        reader.read_record(&mut header).unwrap(),
        "export has a header"
    );
    let names: Vec<String> = header.iter().map(|f| f.text.to_owned()).collect();
    let mut rows = Vec::new();
    let mut record = Record::new();
    while reader.read_record(&mut record).unwrap() {
        rows.push(
            names
                .iter()
                .zip(record.iter())
                .map(|(n, f)| {
                    (
                        n.clone(),
                        if f.is_null() {
                            None
                        } else {
                            Some(f.text.to_owned())
                        },
                    )
                })
                .collect(),
        );
    }
    rows
}

pub fn field<'a>(row: &'a Row, name: &str) -> Option<&'a str> {
    row.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .1
        .as_deref()
}

pub fn find<'a>(rows: &'a [Row], column: &str, value: &str) -> Option<&'a Row> {
    rows.iter().find(|r| field(r, column) == Some(value))
}

/// The one table result of an import envelope.
pub fn only_table(result: &Value) -> &Value {
    let tables = result["import_tables"].as_array().unwrap();
    assert_eq!(tables.len(), 1, "{result}");
    &tables[0]
}
