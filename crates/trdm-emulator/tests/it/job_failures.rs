//! Background jobs that break: the blob store or the records database fails under an export or an import.
//! Each job must end in its failed state with a message, while the client is still polling, not stay
//! `started`/`processing` until a restart. Failures are injected into the real files the job uses, during
//! the configured delay before it runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Harness, find};

/// Polls `path` until `field` is one of `terminal`; `None` if that takes longer than half a minute (the job
/// is stuck; a healthy one ends within a second or two of its delay).
async fn poll_until(h: &Harness, path: &str, field: &str, terminal: &[&str]) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let (_, body) = h.get(path).await;
        let status = body.pointer(field).and_then(Value::as_str).unwrap_or("");
        if terminal.contains(&status) {
            return Some(body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn blobs(h: &Harness) -> PathBuf {
    h.dir.path().join("emulator.db.blobs")
}

#[tokio::test]
async fn an_export_whose_file_cannot_be_put_in_place_ends_failed_with_a_message() {
    let h = Harness::start_with(|c| c.export_delay = Duration::from_millis(2000)).await;
    let prod = h.branch_id("prod").await;
    let site = h.table("prod", "sites").await;
    let (status, export) = h
        .post(
            "/api/exports/new",
            json!({"branch_id": prod, "table_definition_key": site["key"], "pattern": "full"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{export}");
    let id = export["id"].as_i64().unwrap();
    // Something already sits where the finished file must go: the rename after writing fails.
    let target = blobs(&h).join("exports").join(format!("{id}.csv"));
    std::fs::create_dir_all(target.join("in-the-way")).unwrap();

    let end = poll_until(
        &h,
        &format!("/api/exports/{id}"),
        "/status",
        &["completed", "failed"],
    )
    .await
    .unwrap_or_else(|| panic!("export {id} never ended; it is stuck"));
    assert_eq!(end["status"], "failed", "{end}");
    let message = end["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the export file could not be put in place: "),
        "{end}"
    );
    assert_eq!(end["download_url"], Value::Null);
    assert!(end["complete_datetime"].is_string(), "{end}");
    let leftovers: Vec<_> = std::fs::read_dir(blobs(&h).join("exports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The emulator goes on: the next export of the same table completes.
    std::fs::remove_dir_all(&target).unwrap();
    let next = h.export("prod", "sites", "full", None, false).await;
    assert_eq!(next["status"], "completed", "{next}");
    assert_eq!(next["rows_exported"], 150);
}

/// The catalog breaks under a waiting export (a column definition's type no longer reads back): the job's
/// first step fails. It used to log the error and leave the export `started` until a restart.
#[tokio::test]
async fn an_export_whose_catalog_breaks_under_it_ends_failed_with_a_message() {
    let h = Harness::start_with(|c| c.export_delay = Duration::from_millis(2000)).await;
    let prod = h.branch_id("prod").await;
    let unit = h.table("prod", "org_unit").await;
    let (status, export) = h
        .post(
            "/api/exports/new",
            json!({"branch_id": prod, "table_definition_key": unit["key"], "pattern": "full"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{export}");
    let id = export["id"].as_i64().unwrap();
    let catalog = rusqlite::Connection::open(h.dir.path().join("emulator.db")).unwrap();
    let changed = catalog
        .execute(
            "UPDATE columns SET data_type = 'money' WHERE table_id = ?1",
            [unit["id"].as_i64().unwrap()],
        )
        .unwrap();
    assert!(changed > 0);
    drop(catalog);

    let end = poll_until(
        &h,
        &format!("/api/exports/{id}"),
        "/status",
        &["completed", "failed"],
    )
    .await
    .unwrap_or_else(|| panic!("export {id} never ended; it is stuck"));
    assert_eq!(end["status"], "failed", "{end}");
    let message = end["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("the export failed: "), "{end}");
    assert!(
        message.contains("money"),
        "the message names the bad value: {end}"
    );
    assert_eq!(end["download_url"], Value::Null);
}

/// A file removed from the blob store before its job reads it already ended `failed` (the job reports what it
/// could not read); kept here beside the case that did not.
#[tokio::test]
async fn an_import_whose_uploaded_file_vanishes_ends_failed_with_a_message() {
    let h = Harness::start_with(|c| c.import_delay = Duration::from_millis(2000)).await;
    let (import_id, slot_id) = uploaded_slot(&h, "VAN1").await;
    std::fs::remove_file(blobs(&h).join("uploads").join(format!("{slot_id}.csv"))).unwrap();
    let end = poll_until(
        &h,
        &format!("/api/v1/import_tables/{slot_id}"),
        "/status",
        &["completed", "failed"],
    )
    .await
    .expect("the import table ends");
    assert_eq!(end["status"], "failed", "{end}");
    assert!(
        end["message"]
            .as_str()
            .unwrap()
            .starts_with("the uploaded file cannot be read"),
        "{end}"
    );
    complete(&h, import_id).await;
    let result = h.wait_import(import_id).await;
    assert_eq!(result["import"]["status"], "failed");
}

/// The records database loses a table the job needs (here the ledger of applied files) while the job waits:
/// the job's first query fails. It used to return the error to a log line and leave the table `processing`
/// and its batch `processing` until a restart, which would fail the same way.
#[tokio::test]
async fn an_import_whose_records_database_breaks_under_it_ends_failed_with_a_message() {
    let h = Harness::start_with(|c| c.import_delay = Duration::from_millis(2000)).await;
    let (import_id, slot_id) = uploaded_slot(&h, "BRK1").await;
    complete(&h, import_id).await;
    let records = rusqlite::Connection::open(h.dir.path().join("emulator.db.records")).unwrap();
    records
        .execute_batch("DROP TABLE trdm_applied_import_tables")
        .unwrap();
    drop(records);

    let end = poll_until(
        &h,
        &format!("/api/v1/import_tables/{slot_id}"),
        "/status",
        &["completed", "failed"],
    )
    .await
    .unwrap_or_else(|| panic!("import table {slot_id} never ended; it is stuck"));
    assert_eq!(end["status"], "failed", "{end}");
    let message = end["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("the import failed: "), "{end}");
    assert!(message.contains("trdm_applied_import_tables"), "{end}");
    assert_eq!(end["insert_row_count"], 0);
    assert_eq!(end["actions"][0]["level"], "error", "{end}");
    let batch = poll_until(
        &h,
        &format!("/api/v1/imports/{import_id}"),
        "/import/status",
        &["completed", "completed_with_errors", "failed"],
    )
    .await
    .expect("the batch settles");
    assert_eq!(batch["import"]["status"], "failed", "{batch}");
    let rows = h.current("dev", "delivery_centre").await;
    assert!(
        find(&rows, "centre_code", "BRK1").is_none(),
        "nothing applied"
    );
}

/// A batch on `dev` with one `delivery_centre` file uploaded and announced (its job waiting out the delay);
/// returns (import id, import table id).
async fn uploaded_slot(h: &Harness, code: &str) -> (i64, i64) {
    let dev = h.branch_id("dev").await;
    let t = h.table("dev", "delivery_centre").await;
    let (_, mappings) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings?q=is_default:eq:true",
            t["id"]
        ))
        .await;
    let (_, import) = h.post("/api/v1/imports", json!({"branch_id": dev})).await;
    let import_id = import["id"].as_i64().unwrap();
    let (status, slot) = h
        .post(
            "/api/v1/import_tables",
            json!({"import_id": import_id, "table_definition_key": t["key"],
                   "import_mapping_key": mappings["data"][0]["key"],
                   "pattern": "incremental_upsert_only"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{slot}");
    let slot_id = slot["id"].as_i64().unwrap();
    let put = h
        .http
        .put(slot["signed_s3_url"].as_str().unwrap())
        .body(format!("centre_code,centre_name\n{code},Broken job\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let (status, done) = h
        .post_as(
            &h.token,
            &format!("/api/v1/import_tables/{slot_id}/upload_complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    (import_id, slot_id)
}

async fn complete(h: &Harness, import_id: i64) {
    let (status, body) = h
        .post_as(
            &h.token,
            &format!("/api/v1/imports/{import_id}/complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
