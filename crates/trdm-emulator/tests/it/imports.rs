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

/// The default import mapping key of a table on a branch, as the SDK finds it.
async fn default_mapping_key(h: &Harness, table: &serde_json::Value) -> serde_json::Value {
    let (_, mappings) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings?q=is_default:eq:true",
            table["id"]
        ))
        .await;
    mappings["data"][0]["key"].clone()
}

/// Polls `GET {path}` (an import table) until it is `completed` or `failed`.
async fn wait_import_table(h: &Harness, path: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, t) = h.get(path).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        if t["status"] == "completed" || t["status"] == "failed" {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never finished: {t}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

const CENTRE_HEADER: &str =
    "centre_code,centre_name,region,capacity,catchment_population,established_on,is_active,notes";

/// One whole import through the `/api/v1` paths only: batch, table, presigned PUT, `upload_complete`,
/// `complete`, polling the table, and the data showing up in an export of the branch (and not of another).
#[tokio::test]
async fn v1_paths_run_a_whole_import_end_to_end() {
    let h = Harness::start().await;
    let dev = h.branch_id("dev").await;
    let seeded = h.current("dev", "delivery_centre").await.len();

    let (status, import) = h
        .post(
            "/api/v1/imports",
            json!({"branch_id": dev, "description": "v1 run", "correlation_code": "v1-run"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{import}");
    assert_eq!(import["status"], "created");
    assert_eq!(import["branch_id"], dev);
    assert_eq!(import["description"], "v1 run");
    assert_eq!(import["correlation_code"], "v1-run");
    assert_eq!(import["table_count"], 0);
    assert_eq!(import["insert_row_count"], 0);
    assert!(import["completed_date"].is_null());
    let import_id = import["id"].as_i64().unwrap();

    let t = h.table("dev", "delivery_centre").await;
    let mapping_key = default_mapping_key(&h, &t).await;
    let (status, slot) = h
        .post(
            "/api/v1/import_tables",
            json!({"import_id": import_id, "table_definition_key": t["key"],
                   "import_mapping_key": mapping_key, "pattern": "incremental_upsert_only",
                   "correlation_code": "v1-centres"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{slot}");
    let slot_id = slot["id"].as_i64().unwrap();
    assert_eq!(slot["status"], "created");
    assert_eq!(slot["import_id"], import_id);
    assert_eq!(slot["pattern"], "incremental_upsert_only");
    assert_eq!(slot["correlation_code"], "v1-centres");
    assert_eq!(slot["table_definition_key"], t["key"]);
    assert_eq!(slot["import_mapping_key"], mapping_key);
    assert_eq!(slot["deployed_table_definition"]["name"], "Delivery Centre");
    assert_eq!(slot["s3_key"], format!("uploads/{import_id}/{slot_id}.csv"));
    assert!(slot["file_size"].is_null());
    let url = slot["signed_s3_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&h.url(&format!("/_s3/uploads/{slot_id}?"))),
        "{url}"
    );

    let table_path = format!("/api/v1/import_tables/{slot_id}");
    let (status, fetched) = h.get(&table_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["id"], slot_id);
    assert_eq!(fetched["status"], "created");
    assert_eq!(fetched["correlation_code"], "v1-centres");

    let csv = format!(
        "{CENTRE_HEADER}\n\
         DC001,Melbourne Metro Centre,Greater Melbourne,10500,5200000,1994-05-11,true,\"Cold chain certified, 24/7 dispatch\"\n\
         DC900,Darwin Delivery Centre,Northern Territory,800,250000,2024-07-01,true,\n"
    );
    let put = h
        .http
        .put(&url)
        .header("content-type", "text/csv")
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    // The unversioned path serves the same table; the file is recorded but not yet announced.
    let (status, after_put) = h.get(&format!("/api/import_tables/{slot_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after_put["status"], "created");
    assert_eq!(after_put["file_size"], csv.len());

    let (status, uploaded) = h
        .post_as(
            &h.token,
            &format!("/api/v1/import_tables/{slot_id}/upload_complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{uploaded}");
    assert_eq!(uploaded["id"], slot_id);
    assert_eq!(uploaded["status"], "uploaded");
    assert_eq!(uploaded["file_size"], csv.len());

    let (status, completed) = h
        .post(
            &format!("/api/v1/imports/{import_id}/complete"),
            json!({"message": "all sent"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{completed}");
    assert_eq!(completed["id"], import_id);
    assert_eq!(completed["message"], "all sent");
    assert!(completed["completed_date"].is_string());
    assert!(
        ["processing", "completed"].contains(&completed["status"].as_str().unwrap()),
        "{completed}"
    );

    let done = wait_import_table(&h, &table_path).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        (
            done["insert_row_count"].as_i64(),
            done["update_row_count"].as_i64(),
            done["delete_row_count"].as_i64()
        ),
        (Some(1), Some(1), Some(0)),
        "{done}"
    );
    assert!(done["message"].is_null());
    assert!(done["start_datetime"].is_string() && done["end_datetime"].is_string());
    assert!(done["duration_secs"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        done["actions"][0]["message"],
        "applied: 1 inserted, 1 updated, 0 deleted"
    );

    let result = h.wait_import(import_id).await;
    assert_eq!(result["import"]["status"], "completed", "{result}");
    assert_eq!(result["import"]["insert_row_count"], 1);
    assert_eq!(result["import"]["update_row_count"], 1);
    assert_eq!(result["import"]["delete_row_count"], 0);
    assert_eq!(result["import"]["file_size"], csv.len());
    assert_eq!(result["import"]["table_count"], 1);
    assert_eq!(only_table(&result)["id"], slot_id);

    // The data is in the branch's export, written by this import; the other branch is untouched.
    let rows = h.current("dev", "delivery_centre").await;
    assert_eq!(rows.len(), seeded + 1);
    let renamed = find(&rows, "centre_code", "DC001").unwrap();
    assert_eq!(
        field(renamed, "centre_name"),
        Some("Melbourne Metro Centre")
    );
    assert_eq!(field(renamed, "region"), Some("Greater Melbourne"));
    assert_eq!(field(renamed, "trdm_actor_type"), Some("I"));
    assert_eq!(
        field(renamed, "trdm_actor_id"),
        Some(import_id.to_string().as_str())
    );
    let new = find(&rows, "centre_code", "DC900").unwrap();
    assert_eq!(field(new, "centre_name"), Some("Darwin Delivery Centre"));
    assert_eq!(field(new, "capacity"), Some("800"));
    assert_eq!(field(new, "notes"), None);
    let prod = h.current("prod", "delivery_centre").await;
    assert_eq!(prod.len(), seeded);
    assert_eq!(
        field(find(&prod, "centre_code", "DC001").unwrap(), "centre_name"),
        Some("Melbourne Metro Delivery Centre")
    );
    assert!(find(&prod, "centre_code", "DC900").is_none());
}

/// The `/api/v1` import routes answer unknown ids with 404, bad bodies with 400, wrong states with 409 and
/// requests without a token with 401, in the usual error shape.
#[tokio::test]
async fn v1_import_routes_reject_unknown_ids_bad_bodies_and_missing_tokens() {
    let h = Harness::start().await;
    let dev = h.branch_id("dev").await;

    let (status, err) = h.post("/api/v1/imports", json!({"description": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "Bad Request");
    assert_eq!(err["message"], "branch_id is required");
    let (status, err) = h.post("/api/v1/imports", json!({"branch_id": 999})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["message"], "branch 999 not found");

    let (_, import) = h.post("/api/v1/imports", json!({"branch_id": dev})).await;
    let import_id = import["id"].as_i64().unwrap();
    assert_eq!(
        import["correlation_code"],
        format!("import-{import_id}"),
        "a missing correlation code is generated"
    );
    let t = h.table("dev", "org_unit").await;
    let mapping_key = default_mapping_key(&h, &t).await;
    let (status, err) = h
        .post(
            "/api/v1/import_tables",
            json!({"import_id": import_id, "table_definition_key": t["key"], "import_mapping_key": mapping_key}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["message"], "pattern is required");
    let (status, err) = h
        .post(
            "/api/v1/import_tables",
            json!({"import_id": 999999, "table_definition_key": t["key"],
                   "import_mapping_key": mapping_key, "pattern": "full"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["message"], "import 999999 not found");

    let (status, err) = h.get("/api/v1/import_tables/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["message"], "import table 999999 not found");
    let (status, err) = h.get("/api/import_tables/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["message"], "import table 999999 not found");
    assert_eq!(
        h.get("/api/v1/import_tables/abc").await.0,
        StatusCode::NOT_FOUND
    );
    for path in [
        "/api/v1/import_tables/999999/upload_complete",
        "/api/v1/import_tables/999999/upload_failed",
    ] {
        let (status, err) = h.post_as(&h.token, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(err["message"], "import table 999999 not found", "{path}");
    }
    let (status, err) = h
        .post_as(&h.token, "/api/v1/imports/999999/complete", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["message"], "import 999999 not found");

    // A real slot: no token is a 401 on every route, before anything happens.
    let (_, slot) = h
        .post(
            "/api/v1/import_tables",
            json!({"import_id": import_id, "table_definition_key": t["key"],
                   "import_mapping_key": mapping_key, "pattern": "full"}),
        )
        .await;
    let slot_id = slot["id"].as_i64().unwrap();
    let unauthenticated = [
        h.http
            .get(h.url(&format!("/api/v1/import_tables/{slot_id}"))),
        h.http.get(h.url(&format!("/api/import_tables/{slot_id}"))),
        h.http
            .post(h.url("/api/v1/imports"))
            .json(&json!({"branch_id": dev})),
        h.http
            .post(h.url("/api/v1/import_tables"))
            .json(&json!({"import_id": import_id})),
        h.http
            .post(h.url(&format!("/api/v1/import_tables/{slot_id}/upload_complete"))),
        h.http
            .post(h.url(&format!("/api/v1/import_tables/{slot_id}/upload_failed"))),
        h.http
            .post(h.url(&format!("/api/v1/imports/{import_id}/complete"))),
    ];
    for request in unauthenticated {
        let r = request.send().await.unwrap();
        let url = r.url().to_string();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer", "{url}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "Unauthorized", "{url}");
    }
    let (_, still) = h.get(&format!("/api/v1/import_tables/{slot_id}")).await;
    assert_eq!(still["status"], "created", "the 401s changed nothing");
    let (_, batch) = h.get(&format!("/api/v1/imports/{import_id}")).await;
    assert_eq!(batch["import"]["status"], "created");
    assert_eq!(batch["import"]["table_count"], 1);

    // Wrong states: upload_complete without a file, upload_failed with a non-text message, completing twice.
    let (status, err) = h
        .post_as(
            &h.token,
            &format!("/api/v1/import_tables/{slot_id}/upload_complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("no file has been uploaded"),
        "{err}"
    );
    let (status, err) = h
        .post(
            &format!("/api/v1/import_tables/{slot_id}/upload_failed"),
            json!({"message": 42}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["message"], "message must be a string, got 42");
    let (status, first) = h
        .post_as(
            &h.token,
            &format!("/api/v1/imports/{import_id}/complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, err) = h
        .post_as(
            &h.token,
            &format!("/api/v1/imports/{import_id}/complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("already completed")
    );
}

/// `upload_failed` on the v1 path fails that table even though its file was PUT, applies nothing from it, and
/// leaves the batch `completed_with_errors` next to a table that succeeded.
#[tokio::test]
async fn v1_upload_failed_fails_the_table_and_applies_nothing() {
    let h = Harness::start().await;
    let dev = h.branch_id("dev").await;
    let before = h.current("dev", "org_unit").await;
    let (_, import) = h.post("/api/v1/imports", json!({"branch_id": dev})).await;
    let import_id = import["id"].as_i64().unwrap();

    let mut slots = Vec::new();
    for (table, csv) in [
        (
            "org_unit",
            "org_unit_id,org_unit_code,name\n1,00001,Never Applied\n",
        ),
        (
            "delivery_centre",
            "centre_code,centre_name\nDC901,Applied Centre\n",
        ),
    ] {
        let t = h.table("dev", table).await;
        let mapping_key = default_mapping_key(&h, &t).await;
        let (status, slot) = h
            .post(
                "/api/v1/import_tables",
                json!({"import_id": import_id, "table_definition_key": t["key"],
                       "import_mapping_key": mapping_key, "pattern": "incremental_upsert_only"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{slot}");
        let put = h
            .http
            .put(slot["signed_s3_url"].as_str().unwrap())
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        slots.push(slot["id"].as_i64().unwrap());
    }

    let (status, failed) = h
        .post(
            &format!("/api/v1/import_tables/{}/upload_failed", slots[0]),
            json!({"message": "checksum mismatch"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_eq!(failed["id"], slots[0]);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["message"], "upload failed: checksum mismatch");
    assert_eq!(failed["insert_row_count"], 0);
    assert_eq!(failed["update_row_count"], 0);
    assert!(failed["end_datetime"].is_string());
    assert_eq!(failed["actions"][0]["level"], "error");
    // A failed table takes neither a second notice nor its file.
    let (status, err) = h
        .post_as(
            &h.token,
            &format!("/api/v1/import_tables/{}/upload_failed", slots[0]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        err["message"],
        format!("import table {} is already failed", slots[0])
    );
    assert_eq!(
        h.post_as(
            &h.token,
            &format!("/api/v1/import_tables/{}/upload_complete", slots[0]),
            None
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    // The batch is still open until complete.
    let (_, batch) = h.get(&format!("/api/v1/imports/{import_id}")).await;
    assert_eq!(batch["import"]["status"], "created");

    let (status, _) = h
        .post_as(
            &h.token,
            &format!("/api/v1/import_tables/{}/upload_complete", slots[1]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .post_as(
            &h.token,
            &format!("/api/v1/imports/{import_id}/complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let result = h.wait_import(import_id).await;
    assert_eq!(
        result["import"]["status"], "completed_with_errors",
        "{result}"
    );
    assert_eq!(result["import"]["insert_row_count"], 1);
    assert_eq!(result["import"]["update_row_count"], 0);
    let tables = result["import_tables"].as_array().unwrap();
    assert_eq!(
        tables
            .iter()
            .map(|t| (t["id"].as_i64().unwrap(), t["status"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [(slots[0], "failed"), (slots[1], "completed")]
    );
    let (_, first) = h.get(&format!("/api/v1/import_tables/{}", slots[0])).await;
    assert_eq!(first["message"], "upload failed: checksum mismatch");

    assert_eq!(
        h.current("dev", "org_unit").await,
        before,
        "nothing applied"
    );
    let centres = h.current("dev", "delivery_centre").await;
    assert_eq!(
        field(
            find(&centres, "centre_code", "DC901").unwrap(),
            "centre_name"
        ),
        Some("Applied Centre")
    );
}

/// `GET /api/imports` (the unversioned list) pages and filters imports like every collection.
#[tokio::test]
async fn unversioned_import_list_pages_and_filters() {
    let h = Harness::start().await;
    let dev = h.branch_id("dev").await;
    let prod = h.branch_id("prod").await;
    for (branch, code) in [(dev, "list-a"), (prod, "list-b"), (dev, "list-c")] {
        let (status, _) = h
            .post(
                "/api/imports/new",
                json!({"branch_id": branch, "correlation_code": code}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, all) = h.get("/api/imports").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["meta"]["total_count"], 3);
    assert_eq!(all["meta"]["per_page"], 100);
    let codes: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["correlation_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["list-a", "list-b", "list-c"], "ordered by id");
    assert_eq!(all["data"][0]["status"], "created");
    assert_eq!(all["data"][0]["branch_id"], dev);

    let (_, found) = h.get("/api/imports?q=correlation_code:eq:list-b").await;
    assert_eq!(found["meta"]["total_count"], 1);
    assert_eq!(found["data"][0]["branch_id"], prod);
    let (_, on_dev) = h
        .get(&format!(
            "/api/imports?q=branch_id:eq:{dev}&per_page=1&page=2"
        ))
        .await;
    assert_eq!(on_dev["meta"]["total_count"], 2);
    assert_eq!(on_dev["meta"]["total_pages"], 2);
    assert_eq!(on_dev["data"][0]["correlation_code"], "list-c");

    let (status, err) = h.get("/api/imports?q=colour:eq:red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("colour"), "{err}");
    let r = h.http.get(h.url("/api/imports")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// `upload_complete` and `upload_failed` sent at once for the same table: exactly one wins. When
/// `upload_failed` answers 200 the table ends `failed` and its file is never applied; otherwise it gets a 409
/// and the file is applied. (The state check and the transition it guards used to be separate statements, so
/// a job could start between them and apply a file the client had just been told was failed; these rounds
/// caught that in every run. A race test can catch the bug, not prove its absence.)
#[tokio::test]
async fn racing_upload_complete_and_upload_failed_have_one_winner() {
    let h = Harness::start().await;
    let dev = h.branch_id("dev").await;
    let t = h.table("dev", "delivery_centre").await;
    let mapping_key = default_mapping_key(&h, &t).await;
    let (_, import) = h.post("/api/v1/imports", json!({"branch_id": dev})).await;
    let import_id = import["id"].as_i64().unwrap();
    let mut applied = Vec::new();
    let mut withdrawn = Vec::new();
    for round in 0..120 {
        let code = format!("DR{round:03}");
        let (_, slot) = h
            .post(
                "/api/v1/import_tables",
                json!({"import_id": import_id, "table_definition_key": t["key"],
                       "import_mapping_key": mapping_key, "pattern": "incremental_upsert_only"}),
            )
            .await;
        let put = h
            .http
            .put(slot["signed_s3_url"].as_str().unwrap())
            .body(format!("centre_code,centre_name\n{code},Raced\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let id = slot["id"].as_i64().unwrap();
        let complete_path = format!("/api/v1/import_tables/{id}/upload_complete");
        let failed_path = format!("/api/v1/import_tables/{id}/upload_failed");
        let ((complete, _), (failed, body)) = tokio::join!(
            h.post_as(&h.token, &complete_path, None),
            h.post(&failed_path, json!({"message": "raced"}))
        );
        let end = wait_import_table(&h, &format!("/api/v1/import_tables/{id}")).await;
        if failed == StatusCode::OK {
            assert_eq!(body["status"], "failed");
            assert_eq!(end["status"], "failed", "told failed, but: {end}");
            assert_eq!(end["message"], "upload failed: raced");
            withdrawn.push(code);
        } else {
            assert_eq!(failed, StatusCode::CONFLICT, "{body}");
            assert_eq!(complete, StatusCode::OK);
            assert_eq!(end["status"], "completed", "{end}");
            assert_eq!(end["insert_row_count"], 1);
            applied.push(code);
        }
    }
    let (status, _) = h
        .post_as(
            &h.token,
            &format!("/api/v1/imports/{import_id}/complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let result = h.wait_import(import_id).await;
    assert_eq!(result["import"]["insert_row_count"], applied.len());
    let rows = h.current("dev", "delivery_centre").await;
    for code in &applied {
        assert!(find(&rows, "centre_code", code).is_some(), "{code} applied");
    }
    for code in &withdrawn {
        assert!(
            find(&rows, "centre_code", code).is_none(),
            "{code} withdrawn"
        );
    }
}
