//! Who may obtain upload URLs (part A §2, §6).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::Harness;

/// A fresh import on `dev` with one `delivery_centre` slot; returns (import id, slot JSON).
async fn slot(h: &Harness, pattern: &str) -> (i64, Value) {
    let dev = h.branch_id("dev").await;
    let t = h.table("dev", "delivery_centre").await;
    let (_, mappings) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings?q=is_default:eq:true",
            t["id"]
        ))
        .await;
    let (status, import) = h.post("/api/v1/imports", json!({"branch_id": dev})).await;
    assert_eq!(status, StatusCode::CREATED, "{import}");
    let import_id = import["id"].as_i64().unwrap();
    let (status, slot) = h
        .post(
            "/api/v1/import_tables",
            json!({"import_id": import_id, "table_definition_key": t["key"],
                   "import_mapping_key": mappings["data"][0]["key"], "pattern": pattern}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{slot}");
    (import_id, slot)
}

/// `api:read` covers GETs (part A §2), and the import GETs answer every table with its `signed_s3_url`, a
/// fresh presigned PUT. Handing one to a read-only token lets it replace a table's file: a write. So the GETs
/// still answer, but without upload URLs, unless the token may write.
#[tokio::test]
async fn a_read_only_token_gets_no_upload_urls_from_the_import_gets() {
    let h = Harness::start().await;
    let reader = h
        .token_for("reader-client", "reader-secret", None)
        .await
        .unwrap();
    let (import_id, slot) = slot(&h, "incremental_upsert_only").await;
    let slot_id = slot["id"].as_i64().unwrap();
    assert!(
        slot["signed_s3_url"].as_str().is_some(),
        "the writer that created the slot gets its URL: {slot}"
    );
    for path in [
        format!("/api/import_tables/{slot_id}"),
        format!("/api/v1/import_tables/{slot_id}"),
        format!("/api/imports/{import_id}"),
        format!("/api/v1/imports/{import_id}"),
        "/api/v1/imports".to_owned(),
    ] {
        let r = h
            .http
            .get(h.url(&path))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("/_s3/uploads/") && !text.contains("X-Trdm-Signature"),
            "{path} gave a read-only token an upload URL: {text}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        let tables: Vec<&Value> = match body.get("import_tables") {
            Some(list) => list.as_array().unwrap().iter().collect(),
            None if body.get("data").is_some() => Vec::new(),
            None => vec![&body],
        };
        for t in tables {
            assert_eq!(t["id"], slot_id, "{path}: {t}");
            assert_eq!(t["signed_s3_url"], Value::Null, "{path}: {t}");
            assert_eq!(t["status"], "created", "the rest of the table is shown");
        }
    }
    // A token that may write still gets a working URL from the same GETs.
    let (_, again) = h.get(&format!("/api/v1/import_tables/{slot_id}")).await;
    let url = again["signed_s3_url"].as_str().expect("a writer's URL");
    let put = h
        .http
        .put(url)
        .body("centre_code,centre_name\nRO1,Written\n")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
}
