//! Exports: patterns, high-water marks, history, presigned downloads (part A §5, §6, §7, §10).

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Harness, field, find};

const SYSTEM: [&str; 10] = [
    "trdm_sk",
    "trdm_record_id",
    "trdm_state",
    "trdm_created_at",
    "trdm_effective_from",
    "trdm_effective_to",
    "trdm_is_deleted",
    "trdm_actor_type",
    "trdm_actor_id",
    "trdm_tran_code",
];

#[tokio::test]
async fn full_export_has_user_columns_then_system_columns_and_exact_values() {
    let h = Harness::start().await;
    let e = h.export("prod", "sites", "full", None, false).await;
    assert_eq!(e["status"], "completed");
    assert_eq!(e["files_exported"], 1);
    assert_eq!(e["compressed"], false);
    assert!(e["complete_datetime"].is_string());
    let rows = h.rows(&e).await;
    assert_eq!(rows.len() as i64, e["rows_exported"].as_i64().unwrap());
    let seed = std::fs::read_to_string(
        crate::common::fixture()
            .parent()
            .unwrap()
            .join("clinics/sites.csv"),
    )
    .unwrap();
    assert_eq!(rows.len(), seed.lines().count() - 1);
    let names: Vec<&str> = rows[0].iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(&names[names.len() - 10..], SYSTEM);
    assert_eq!(names[0], "site_code");
    let first = find(&rows, "site_code", "0001").expect("codes keep their leading zeros");
    assert_eq!(field(first, "trdm_state"), Some("C"));
    assert_eq!(
        field(first, "trdm_effective_to"),
        Some("9999-12-31T00:00:00+00")
    );
    assert_eq!(field(first, "trdm_is_deleted"), Some("false"));
    assert_eq!(
        field(first, "trdm_tran_code"),
        None,
        "plain full exports leave the tran code empty"
    );
    assert!(field(first, "trdm_created_at").unwrap().ends_with("+00"));
    // The export file is byte-for-byte the seed's user columns for a seeded row.
    let seed_line = seed.lines().find(|l| l.starts_with("0001,")).unwrap();
    let (_, body) = (
        0,
        h.http
            .get(e["download_url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        body.lines().any(|l| l.starts_with(seed_line)),
        "seed row {seed_line} not found verbatim"
    );

    // Same store behind both path families.
    let (_, v1) = h.get(&format!("/api/v1/exports/{}", e["id"])).await;
    assert_eq!(v1["status"], "completed");
}

#[tokio::test]
async fn incremental_and_history_exports_follow_the_high_water_mark() {
    let h = Harness::start().await;
    let before = h
        .export("dev", "delivery_centre", "full", None, false)
        .await;
    let rows = h.rows(&before).await;
    let hwm = rows
        .iter()
        .map(|r| field(r, "trdm_created_at").unwrap().to_owned())
        .max()
        .unwrap();

    let csv = "centre_code,centre_name,region,capacity\nDC001,Renamed Centre,Greater Melbourne,1\nDC900,Brand New,Somewhere,2\n";
    let result = h
        .import("dev", "delivery_centre", "incremental_upsert_only", csv)
        .await;
    assert_eq!(result["import"]["status"], "completed", "{result}");
    let del = "centre_code,centre_name,trdm_tran_code\nDC002,x,d\n";
    h.import("dev", "delivery_centre", "incremental_with_delete", del)
        .await;

    let inc = h
        .export("dev", "delivery_centre", "incremental", Some(&hwm), false)
        .await;
    let changed = h.rows(&inc).await;
    let codes: Vec<(&str, &str)> = changed
        .iter()
        .map(|r| {
            (
                field(r, "centre_code").unwrap(),
                field(r, "trdm_tran_code").unwrap(),
            )
        })
        .collect();
    assert_eq!(codes, [("DC001", "u"), ("DC900", "i"), ("DC002", "d")]);
    assert_eq!(field(&changed[2], "trdm_is_deleted"), Some("true"));

    // Exclusive: the newest change time as the mark yields nothing.
    let newest = changed
        .iter()
        .map(|r| field(r, "trdm_created_at").unwrap().to_owned())
        .max()
        .unwrap();
    let none = h
        .export(
            "dev",
            "delivery_centre",
            "incremental",
            Some(&newest),
            false,
        )
        .await;
    assert_eq!(none["rows_exported"], 0);
    // A mark without an offset is UTC, like one with +00:00.
    let naive = hwm.trim_end_matches("+00");
    let inc2 = h
        .export("dev", "delivery_centre", "incremental", Some(naive), false)
        .await;
    assert_eq!(inc2["rows_exported"], 3);

    // History since the mark: DC001 closed + new (only new after the mark), DC900 i, DC002 d.
    let hist = h
        .export("dev", "delivery_centre", "incremental", Some(&hwm), true)
        .await;
    assert_eq!(hist["rows_exported"], 3);
    let all = h.export("dev", "delivery_centre", "full", None, true).await;
    let versions = h.rows(&all).await;
    let dc001: Vec<_> = versions
        .iter()
        .filter(|r| field(r, "centre_code") == Some("DC001"))
        .collect();
    assert_eq!(dc001.len(), 2);
    assert_eq!(
        (
            field(dc001[0], "trdm_state"),
            field(dc001[0], "trdm_tran_code")
        ),
        (Some("H"), Some("i"))
    );
    assert_eq!(
        (
            field(dc001[1], "trdm_state"),
            field(dc001[1], "trdm_tran_code")
        ),
        (Some("C"), Some("u"))
    );
    assert_eq!(
        field(dc001[0], "trdm_effective_to"),
        field(dc001[1], "trdm_effective_from")
    );
    assert_eq!(
        field(dc001[0], "trdm_record_id"),
        field(dc001[1], "trdm_record_id")
    );
    assert_ne!(field(dc001[0], "trdm_sk"), field(dc001[1], "trdm_sk"));
    assert_eq!(field(dc001[1], "trdm_actor_type"), Some("I"));
    assert_eq!(
        field(dc001[1], "trdm_actor_id"),
        Some(result["import"]["id"].to_string().as_str())
    );
    let full_now = h
        .export("dev", "delivery_centre", "full", None, false)
        .await;
    assert_eq!(
        full_now["rows_exported"].as_i64().unwrap(),
        rows.len() as i64,
        "one added, one deleted"
    );
    // prod is untouched by dev's imports.
    let prod = h
        .export("prod", "delivery_centre", "full", None, false)
        .await;
    assert_eq!(prod["rows_exported"].as_i64().unwrap(), rows.len() as i64);
    assert!(find(&h.rows(&prod).await, "centre_code", "DC900").is_none());
}

#[tokio::test]
async fn export_requests_are_validated() {
    let h = Harness::start().await;
    let t = h.table("prod", "sites").await;
    let cases = [
        (
            json!({"table_definition_key": t["key"], "pattern": "full"}),
            StatusCode::BAD_REQUEST,
            "branch_id",
        ),
        (
            json!({"branch_id": 1, "pattern": "full"}),
            StatusCode::BAD_REQUEST,
            "table_definition_key",
        ),
        (
            json!({"branch_id": 1, "table_definition_key": t["key"]}),
            StatusCode::BAD_REQUEST,
            "pattern",
        ),
        (
            json!({"branch_id": 1, "table_definition_key": t["key"], "pattern": "delta"}),
            StatusCode::BAD_REQUEST,
            "pattern",
        ),
        (
            json!({"branch_id": 1, "table_definition_key": t["key"], "pattern": "incremental"}),
            StatusCode::BAD_REQUEST,
            "high_water_mark",
        ),
        (
            json!({"branch_id": 1, "table_definition_key": t["key"], "pattern": "incremental", "high_water_mark": "yesterday"}),
            StatusCode::BAD_REQUEST,
            "ISO 8601",
        ),
        (
            json!({"branch_id": 1, "table_definition_key": "nope", "pattern": "full"}),
            StatusCode::NOT_FOUND,
            "nope",
        ),
        (
            json!({"branch_id": 99, "table_definition_key": t["key"], "pattern": "full"}),
            StatusCode::NOT_FOUND,
            "branch",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, err) = h.post("/api/v1/exports", body.clone()).await;
        assert_eq!(got, status, "{body} → {err}");
        assert!(
            err["message"].as_str().unwrap().contains(needle),
            "{body} → {err}"
        );
        assert!(err["errors"].is_array() && err["error"].is_string());
    }
    let r = h
        .http
        .post(h.url("/api/exports/new"))
        .bearer_auth(&h.token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Keys sent as numbers are compared as strings; correlation codes are echoed or generated.
    let (status, e) = h.post("/api/exports/new", json!({"branch_id": "1", "table_definition_key": t["key"], "pattern": "full", "correlation_code": "mine"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(e["correlation_code"], "mine");
    let (_, found) = h.get("/api/v1/exports?q=correlation_code:eq:mine").await;
    assert_eq!(found["meta"]["total_count"], 1);
}

#[tokio::test]
async fn presigned_downloads_reject_tampering_and_expiry() {
    let h = Harness::start_with(|c| c.presigned_url_ttl = std::time::Duration::from_secs(1)).await;
    let e = h.export("prod", "org_unit", "full", None, false).await;
    let url = e["download_url"].as_str().unwrap().to_owned();
    assert_eq!(
        h.http.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    let other = url.replace(&format!("/exports/{}?", e["id"]), "/exports/999?");
    let r = h.http.get(&other).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>SignatureDoesNotMatch</Code>")
    );
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(
        h.http.get(unsigned).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = h.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("expired"));
}

/// `GET /api/exports` (the unversioned list) shows every export with its download URL once completed, and
/// filters and pages like every collection.
#[tokio::test]
async fn unversioned_export_list_shows_exports_and_filters() {
    let h = Harness::start().await;
    let done = h.export("prod", "org_unit", "full", None, false).await;
    let t = h.table("dev", "sites").await;
    let dev = h.branch_id("dev").await;
    let (status, second) = h
        .post(
            "/api/v1/exports",
            json!({"branch_id": dev, "table_definition_key": t["key"], "pattern": "full",
                   "include_history": true, "correlation_code": "listed"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = h.wait_export(second["id"].as_i64().unwrap()).await;

    let (status, all) = h.get("/api/exports").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["meta"]["total_count"], 2);
    let first = &all["data"][0];
    assert_eq!(first["id"], done["id"]);
    assert_eq!(first["status"], "completed");
    assert_eq!(first["rows_exported"], done["rows_exported"]);
    assert_eq!(first["correlation_code"], format!("export-{}", done["id"]));
    let url = first["download_url"]
        .as_str()
        .expect("completed exports list their URL");
    let rows = h.rows(first).await;
    assert_eq!(rows.len() as i64, first["rows_exported"].as_i64().unwrap());
    assert!(url.contains(&format!("/_s3/exports/{}?", done["id"])));
    assert_eq!(all["data"][1]["id"], second["id"]);

    let (_, found) = h.get("/api/exports?q=correlation_code:eq:listed").await;
    assert_eq!(found["meta"]["total_count"], 1);
    assert_eq!(found["data"][0]["branch_id"], dev);
    assert_eq!(found["data"][0]["include_history"], true);
    assert_eq!(found["data"][0]["table_definition_key"], t["key"]);
    let (_, history) = h.get("/api/exports?q=include_history:eq:true").await;
    assert_eq!(history["meta"]["total_count"], 1);
    let (_, paged) = h.get("/api/exports?per_page=1&page=2").await;
    assert_eq!(paged["meta"]["total_pages"], 2);
    assert_eq!(paged["data"][0]["id"], second["id"]);

    let (status, err) = h.get("/api/exports?page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("page"), "{err}");
    let r = h.http.get(h.url("/api/exports")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
}
