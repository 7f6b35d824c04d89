//! Imports: every pattern, versioning, every failure class of part A §9, and batch life cycle (part A §5).

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Harness, field, find, only_table};

const SITE_HEADER: &str = "site_code,site_name,address,postcode,phone,bed_count,annual_budget,latitude,longitude,is_active,opened_on,last_inspected_at,delivery_centre_code";

#[tokio::test]
async fn full_import_inserts_updates_skips_unchanged_and_tombstones_absent_records() {
    let h = Harness::start().await;
    let csv = format!(
        "{SITE_HEADER}\n\
         0001,Clinic One,\"1 Main St, Town\",0800,03 1111 1111,12,100.5,-37.1,144.2,true,2020-01-02,2024-03-05T09:30:00+10:00,DC001\n\
         0002,Clinic Two,,0801,,,0,0,0,false,,,\n"
    );
    let first = h.import("dev", "sites", "full", &csv).await;
    let t = only_table(&first);
    assert_eq!(t["status"], "completed", "{first}");
    let seeded = h.current("prod", "sites").await.len() as i64;
    assert_eq!(first["import"]["status"], "completed");
    // 0001 exists in the seed (changed), 0002 may or may not; everything else is tombstoned.
    let total = t["insert_row_count"].as_i64().unwrap() + t["update_row_count"].as_i64().unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        t["delete_row_count"].as_i64().unwrap(),
        seeded - t["update_row_count"].as_i64().unwrap()
    );
    let rows = h.current("dev", "sites").await;
    assert_eq!(rows.len(), 2);
    let one = find(&rows, "site_code", "0001").unwrap();
    assert_eq!(
        field(one, "annual_budget"),
        Some("100.50"),
        "decimals are canonical to their scale"
    );
    assert_eq!(
        field(one, "last_inspected_at"),
        Some("2024-03-04T23:30:00+00"),
        "timestamptz is stored in UTC"
    );
    assert_eq!(field(one, "postcode"), Some("0800"));
    assert_eq!(field(one, "address"), Some("1 Main St, Town"));

    // Same file again: nothing changes, nothing is counted.
    let again = h.import("dev", "sites", "full", &csv).await;
    let t = only_table(&again);
    assert_eq!(
        (
            t["insert_row_count"].as_i64(),
            t["update_row_count"].as_i64(),
            t["delete_row_count"].as_i64()
        ),
        (Some(0), Some(0), Some(0))
    );
    let history = h.export("dev", "sites", "full", None, true).await;
    let before = history["rows_exported"].as_i64().unwrap();

    // Re-importing a deleted record brings it back as a new version of the same record.
    let prod_rows = h.current("prod", "sites").await;
    let deleted = prod_rows
        .iter()
        .map(|r| field(r, "site_code").unwrap())
        .find(|c| *c != "0001" && *c != "0002")
        .unwrap();
    let back = format!("{SITE_HEADER}\n{deleted},Back Again,,,,,,,,true,,,\n");
    let r = h
        .import("dev", "sites", "incremental_upsert_only", &back)
        .await;
    assert_eq!(
        only_table(&r)["update_row_count"],
        1,
        "a re-insert is a new version of the deleted record: {r}"
    );
    let after = h.export("dev", "sites", "full", None, true).await;
    assert_eq!(after["rows_exported"].as_i64().unwrap(), before + 1);
}

#[tokio::test]
async fn allow_manual_rows_keeps_absent_records_on_full_imports() {
    let h = Harness::start().await;
    let before = h.current("dev", "org_unit").await.len();
    let csv = "org_unit_id,org_unit_code,name\n1,00001,Renamed Group\n";
    let r = h.import("dev", "org_unit", "full", csv).await;
    let t = only_table(&r);
    assert_eq!(
        (
            t["update_row_count"].as_i64(),
            t["delete_row_count"].as_i64()
        ),
        (Some(1), Some(0)),
        "{r}"
    );
    assert_eq!(h.current("dev", "org_unit").await.len(), before);
}

#[tokio::test]
async fn incremental_with_delete_and_legacy_incremental() {
    let h = Harness::start().await;
    let before = h.current("dev", "delivery_centre").await;
    let csv = "centre_code,centre_name,trdm_tran_code\nDC001,Upd,U\nDC002,x, d \nDC777,New,i\nDC999,gone,d\n";
    let r = h
        .import("dev", "delivery_centre", "incremental_with_delete", csv)
        .await;
    let t = only_table(&r);
    assert_eq!(
        (
            t["insert_row_count"].as_i64(),
            t["update_row_count"].as_i64(),
            t["delete_row_count"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "codes are trimmed and case-insensitive; deleting an unknown record is a no-op: {r}"
    );
    let legacy = h
        .import(
            "dev",
            "delivery_centre",
            "incremental",
            "centre_code,centre_name\nDC778,Legacy\n",
        )
        .await;
    assert_eq!(only_table(&legacy)["insert_row_count"], 1);
    let after = h.current("dev", "delivery_centre").await;
    assert_eq!(after.len(), before.len() + 1);
    assert!(find(&after, "centre_code", "DC002").is_none());
    assert_eq!(
        field(find(&after, "centre_code", "DC001").unwrap(), "centre_name"),
        Some("Upd")
    );
}

/// Each failure class fails the table with a message naming row, column and value, and changes nothing.
#[tokio::test]
async fn every_failure_class_is_rejected_whole_with_row_column_and_value() {
    let h = Harness::start().await;
    let before = h.export("dev", "sites", "full", None, true).await;
    let snapshot = h.rows(&before).await;
    let good = "0001,Fine,,,,,,,,true,,,";
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n0002,A,,,,,,,,true,,,\n0001,Again,,,,,,,,true,,,\n"),
            vec!["row 3", "site_code", "\"0001\"", "row 1"],
        ),
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n0002,,,,,,,,,true,,,\n"),
            vec!["row 2", "site_name", "required"],
        ),
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n0002,B,,,,many,,,,true,,,\n"),
            vec!["row 2", "bed_count", "\"many\""],
        ),
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n0002,B,,08000,,,,,,true,,,\n"),
            vec!["row 2", "postcode", "\"08000\"", "longer"],
        ),
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n0002,B,,,,,1.234,,,true,,,\n"),
            vec!["row 2", "annual_budget", "\"1.234\""],
        ),
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n0002,B,,,,,,,,maybe,,,\n"),
            vec!["row 2", "is_active", "\"maybe\""],
        ),
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n0002,B,,,,,,,,true,2023-02-30,,\n"),
            vec!["row 2", "opened_on", "\"2023-02-30\""],
        ),
        (
            "incremental_with_delete",
            format!("{SITE_HEADER},trdm_tran_code\n{good},i\n0002,B,,,,,,,,true,,,,x\n"),
            vec!["row 2", "trdm_tran_code", "\"x\""],
        ),
        (
            "incremental_with_delete",
            format!("{SITE_HEADER}\n{good}\n"),
            vec!["trdm_tran_code", "incremental_with_delete"],
        ),
        (
            "full",
            format!("{SITE_HEADER},trdm_tran_code\n{good},i\n"),
            vec!["trdm_tran_code", "only allowed"],
        ),
        (
            "full",
            "site_name\nx\n".to_string(),
            vec!["site_code", "missing"],
        ),
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n0002,B\n"),
            vec!["row 2", "fields"],
        ),
        (
            "full",
            format!("{SITE_HEADER}\n{good}\n\"0002,B\n"),
            vec!["not valid CSV"],
        ),
    ];
    for (pattern, csv, needles) in cases {
        let r = h.import("dev", "sites", pattern, &csv).await;
        let t = only_table(&r);
        assert_eq!(t["status"], "failed", "{csv}\n→ {r}");
        assert_eq!(
            r["import"]["status"], "failed",
            "a batch whose only table failed has failed"
        );
        let message = t["message"].as_str().unwrap();
        for needle in needles {
            assert!(
                message.contains(needle),
                "message {message:?} lacks {needle:?} for\n{csv}"
            );
        }
        assert_eq!(
            (
                t["insert_row_count"].as_i64(),
                t["update_row_count"].as_i64(),
                t["delete_row_count"].as_i64()
            ),
            (Some(0), Some(0), Some(0))
        );
    }
    let after = h.export("dev", "sites", "full", None, true).await;
    assert_eq!(
        h.rows(&after).await,
        snapshot,
        "rejected files changed nothing"
    );
}

#[tokio::test]
async fn batch_life_cycle_and_state_conflicts() {
    let h = Harness::start().await;
    // Mixed outcome → completed_with_errors, with per-table counts.
    let r = h
        .import_many(
            "dev",
            &[
                (
                    "delivery_centre",
                    "incremental_upsert_only",
                    "centre_code,centre_name\nDC500,Ok\n",
                ),
                (
                    "org_unit",
                    "incremental_upsert_only",
                    "org_unit_id,name\nnot-a-number,x\n",
                ),
            ],
        )
        .await;
    assert_eq!(r["import"]["status"], "completed_with_errors", "{r}");
    assert_eq!(r["import"]["insert_row_count"], 1);
    assert_eq!(
        r["import_tables"][0]["deployed_table_definition"]["name"],
        "Delivery Centre"
    );

    // An empty batch fails; completing twice conflicts; a completed batch takes no new tables or files.
    let (_, import) = h
        .post(
            "/api/imports/new",
            json!({"branch_id": 2, "description": "d", "correlation_code": "c-1"}),
        )
        .await;
    assert_eq!(import["status"], "created");
    assert_eq!(import["correlation_code"], "c-1");
    let id = import["id"].as_i64().unwrap();
    let t = h.table("dev", "sites").await;
    let (_, mappings) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings",
            t["id"]
        ))
        .await;
    let body = json!({"import_id": id, "table_definition_key": t["key"], "import_mapping_key": mappings["data"][0]["key"], "pattern": "full"});
    let (_, slot) = h.post("/api/import_tables/new", body.clone()).await;
    assert!(
        slot["signed_s3_url"]
            .as_str()
            .unwrap()
            .contains("X-Trdm-Signature=")
    );
    assert_eq!(slot["s3_key"], format!("uploads/{id}/{}.csv", slot["id"]));
    let (status, err) = h
        .post_as(
            &h.token,
            &format!("/api/import_tables/{}/upload_complete", slot["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "no file yet: {err}");
    let (status, done) = h
        .post(
            &format!("/api/imports/{id}/complete"),
            json!({"message": "bye"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["message"], "bye");
    let settled = h.wait_import(id).await;
    assert_eq!(settled["import"]["status"], "failed");
    assert!(
        settled["import_tables"][0]["message"]
            .as_str()
            .unwrap()
            .contains("before this table's file was uploaded")
    );
    assert_eq!(
        h.post_as(&h.token, &format!("/api/imports/{id}/complete"), None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        h.post("/api/import_tables/new", body.clone()).await.0,
        StatusCode::CONFLICT
    );
    let put = h
        .http
        .put(slot["signed_s3_url"].as_str().unwrap())
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CONFLICT);

    // upload_failed marks the table failed with the client's message.
    let (_, import) = h.post("/api/imports/new", json!({"branch_id": 2})).await;
    let id = import["id"].as_i64().unwrap();
    let body = json!({"import_id": id, "table_definition_key": t["key"], "import_mapping_key": mappings["data"][0]["key"], "pattern": "full"});
    let (_, slot) = h.post("/api/import_tables/new", body).await;
    let (status, failed) = h
        .post(
            &format!("/api/import_tables/{}/upload_failed", slot["id"]),
            json!({"message": "disk on fire"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(failed["status"], "failed");
    assert!(failed["message"].as_str().unwrap().contains("disk on fire"));
    let (status, _) = h.post("/api/import_tables/new", json!({"import_id": id, "table_definition_key": t["key"], "import_mapping_key": "nope", "pattern": "full"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = h.post("/api/import_tables/new", json!({"import_id": id, "table_definition_key": t["key"], "import_mapping_key": mappings["data"][0]["key"], "pattern": "merge"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("incremental_with_delete")
    );
    assert_eq!(
        h.post("/api/imports/new", json!({"branch_id": 42})).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn uploads_beyond_the_limit_get_413_and_leave_no_file() {
    let h = Harness::start_with(|c| c.max_upload_bytes = 1024).await;
    let (_, import) = h.post("/api/imports/new", json!({"branch_id": 2})).await;
    let t = h.table("dev", "sites").await;
    let (_, mappings) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings",
            t["id"]
        ))
        .await;
    let (_, slot) = h
        .post("/api/import_tables/new", json!({"import_id": import["id"], "table_definition_key": t["key"], "import_mapping_key": mappings["data"][0]["key"], "pattern": "full"}))
        .await;
    let url = slot["signed_s3_url"].as_str().unwrap();
    let r = h.http.put(url).body(vec![b'a'; 4096]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("EntityTooLarge"));
    assert_eq!(
        h.post_as(
            &h.token,
            &format!("/api/import_tables/{}/upload_complete", slot["id"]),
            None
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    let tampered = url.replace("X-Trdm-Signature=", "X-Trdm-Signature=00");
    assert_eq!(
        h.http
            .put(&tampered)
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}
