//! Malformed requests: every one is a 4xx in the usual error shape whose message names the offending value,
//! never a dropped connection (a panic in a handler closes the socket, which `send().await.unwrap()` turns
//! into a failed test) and never a change.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::Harness;

/// Posts raw bytes as JSON and returns the status and the parsed error body.
async fn post_raw(h: &Harness, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = h
        .http
        .post(h.url(path))
        .bearer_auth(&h.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: the connection failed (a panic?): {e}"));
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get_raw(h: &Harness, path: &str) -> (StatusCode, Value) {
    let r = h
        .http
        .get(h.url(path))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: the connection failed (a panic?): {e}"));
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or("")
}

/// The grid endpoint's date filters used to be cut with `String::truncate(10)`, which panics when byte 10
/// falls inside a character.
#[tokio::test]
async fn a_date_filter_cut_inside_a_multibyte_character_is_a_400() {
    let h = Harness::start().await;
    let site = h.table("prod", "sites").await;
    for value in ["2024-01-0é", "2024-01-0€ 00:00:00", "２０２４-01-01"] {
        let body = json!({"table_definition_id": site["id"], "startRow": 0, "endRow": 10,
            "filterModel": {"opened_on": {"filterType": "date", "type": "equals", "dateFrom": value}}});
        let (status, err) = post_raw(&h, "/api/v1/table_data/grid", body.to_string().into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{value}: {err}");
        assert_eq!(err["error"], "Bad Request");
        assert!(message(&err).contains(value), "{value}: {err}");
        assert!(message(&err).contains("opened_on"), "{value}: {err}");
    }
    // A date-time is still cut to its date, and a plain date still works.
    for value in ["2024-01-01T00:00:00+00", "2024-01-01"] {
        let body = json!({"table_definition_id": site["id"], "startRow": 0, "endRow": 10,
            "filterModel": {"opened_on": {"filterType": "date", "type": "greaterThan", "dateFrom": value}}});
        let (status, page) = post_raw(&h, "/api/v1/table_data/grid", body.to_string().into()).await;
        assert_eq!(status, StatusCode::OK, "{value}: {page}");
        assert!(page["rowCount"].as_i64().is_some(), "{page}");
    }
}

/// Every other malformed grid request: wrong types, empty strings, huge and negative numbers, multi-byte
/// text where a name or a number belongs.
#[tokio::test]
async fn malformed_grid_requests_are_400s_naming_the_bad_value() {
    let h = Harness::start().await;
    let site = h.table("prod", "sites").await;
    let id = site["id"].clone();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"table_definition_id": id, "startRow": -1, "endRow": 10}),
            "startRow",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": -5}),
            "endRow",
        ),
        (
            json!({"table_definition_id": id, "startRow": 1e30, "endRow": 10}),
            "startRow",
        ),
        (
            json!({"table_definition_id": id, "startRow": "１", "endRow": 10}),
            "startRow",
        ),
        (
            json!({"table_definition_id": id, "startRow": "", "endRow": 10}),
            "startRow",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 99999999999999999999u128 as f64}),
            "endRow",
        ),
        (
            json!({"table_definition_id": 1e300, "startRow": 0, "endRow": 10}),
            "table_definition_id",
        ),
        (
            json!({"table_definition_id": "é", "startRow": 0, "endRow": 10}),
            "table_definition_id",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10, "filterModel": ["site_code"]}),
            "filterModel",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10, "filterModel": {"site_code": "0001"}}),
            "site_code",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "filterModel": {"site_code": {"filterType": "text", "type": 7, "filter": "x"}}}),
            "type",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "filterModel": {"site_code": {"filterType": "text", "type": "équals", "filter": "x"}}}),
            "équals",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "filterModel": {"site_code": {"filterType": "text", "filter": {"a": 1}}}}),
            "site_code",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "filterModel": {"bed_count": {"filterType": "number", "type": "greaterThan", "filter": "lots"}}}),
            "lots",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "filterModel": {"bed_count": {"filterType": "number", "type": "equals", "filter": ""}}}),
            "bed_count",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "filterModel": {"opened_on": {"filterType": "date", "type": "equals", "dateFrom": ""}}}),
            "opened_on",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "filterModel": {"opened_on": {"filterType": "date", "type": "equals", "dateFrom": "2024-13-45"}}}),
            "2024-13-45",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "filterModel": {"séte_code": {"filterType": "text", "filter": "x"}}}),
            "séte_code",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10, "sortModel": {"colId": "site_code"}}),
            "sortModel",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10, "sortModel": [{"sort": "asc"}]}),
            "colId",
        ),
        (
            json!({"table_definition_id": id, "startRow": 0, "endRow": 10,
            "sortModel": [{"colId": "site_code", "sort": "sideways"}]}),
            "sideways",
        ),
    ];
    for (body, named) in cases {
        let (status, err) = post_raw(&h, "/api/v1/table_data/grid", body.to_string().into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err["error"], "Bad Request", "{body}");
        assert!(
            message(&err).contains(named),
            "{body}: {err} should name {named}"
        );
    }
    // Bodies that are not JSON objects at all.
    for raw in [
        b"\xff\xfe{".to_vec(),
        "{\"startRow\": 0,".into(),
        "[1,2,3]".into(),
        "\"é\"".into(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into(),
    ] {
        let (status, err) = post_raw(&h, "/api/v1/table_data/grid", raw.clone()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&raw)
        );
        assert!(message(&err).contains("request body"), "{err}");
    }
    // The largest offsets still work: an empty page, not an overflow.
    let (status, page) = post_raw(
        &h,
        "/api/v1/table_data/grid",
        json!({"table_definition_id": id, "startRow": i64::MAX - 10, "endRow": i64::MAX})
            .to_string()
            .into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["rows"], json!([]));
    assert_eq!(page["rowCount"], 150);
}

/// Lists: `page`/`per_page` that are negative, empty-ish, fractional, non-ASCII digits or beyond any integer
/// type; repeated parameters; `q` in every malformed shape; bad ids in paths and queries.
#[tokio::test]
async fn malformed_list_queries_and_path_ids_are_clear_4xx_errors() {
    let h = Harness::start().await;
    for (query, named) in [
        ("per_page=-1", "-1"),
        ("per_page=0", "0"),
        ("per_page=1.5", "1.5"),
        ("page=-3", "-3"),
        ("page=%D9%A1", "١"),
        ("page=99999999999999999999999", "99999999999999999999999"),
        ("page=1&page=2", "page"),
        ("q=name:like:x", "like"),
        ("q=%C3%A9:eq:x", "é"),
        ("q=name:%E2%82%AC", "name:€"),
        ("q=:", ":"),
    ] {
        let path = format!("/api/v1/domains?{query}");
        let (status, err) = get_raw(&h, &path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {err}");
        assert_eq!(err["error"], "Bad Request", "{path}: {err}");
        assert!(
            message(&err).contains(named),
            "{path}: {err} should name {named}"
        );
    }
    // A huge per_page is clamped like any other above the maximum; huge pages are simply empty.
    let (status, clamped) = get_raw(&h, "/api/v1/domains?per_page=99999999999999999999999").await;
    assert_eq!(status, StatusCode::OK, "{clamped}");
    assert_eq!(clamped["meta"]["per_page"], 1000);
    let (status, far) = get_raw(
        &h,
        "/api/v1/domains?page=18446744073709551615&per_page=1000",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{far}");
    assert_eq!(far["data"], json!([]));

    for (path, expected, named) in [
        (
            "/api/v1/deployed_table_definitions?branch_id=%E2%82%AC",
            StatusCode::BAD_REQUEST,
            "branch_id",
        ),
        (
            "/api/v1/deployed_table_definitions?branch_id=99999999999999999999",
            StatusCode::BAD_REQUEST,
            "branch_id",
        ),
        (
            "/api/v1/deployed_table_definitions/lookup?key=&branch_id=1",
            StatusCode::BAD_REQUEST,
            "key",
        ),
        (
            "/api/v1/table_data/1?table_definition_id=",
            StatusCode::BAD_REQUEST,
            "table_definition_id",
        ),
        (
            "/api/v1/table_data/1?table_definition_id=%C3%A9",
            StatusCode::BAD_REQUEST,
            "table_definition_id",
        ),
        (
            "/api/v1/branches/99999999999999999999999",
            StatusCode::NOT_FOUND,
            "99999999999999999999999",
        ),
        ("/api/v1/branches/-1", StatusCode::NOT_FOUND, "-1"),
        ("/api/v1/exports/%C3%A9", StatusCode::NOT_FOUND, "é"),
        ("/api/v1/exports/%FF", StatusCode::BAD_REQUEST, "path"),
    ] {
        let (status, err) = get_raw(&h, path).await;
        assert_eq!(status, expected, "{path}: {err}");
        assert!(
            message(&err).contains(named),
            "{path}: {err} should name {named}"
        );
    }
}

/// Export and import bodies with values of the wrong type or shape, multi-byte text where a date-time or an
/// id belongs, and headers that are not ASCII: 4xx, nothing created.
#[tokio::test]
async fn malformed_export_and_import_bodies_and_headers_are_4xx_and_create_nothing() {
    let h = Harness::start().await;
    let prod = h.branch_id("prod").await;
    let site = h.table("prod", "sites").await;
    let key = site["key"].clone();
    for (body, named) in [
        (
            json!({"branch_id": prod, "table_definition_key": key, "pattern": "incremental",
                "high_water_mark": "2024-01-0é"}),
            "2024-01-0é",
        ),
        (
            json!({"branch_id": prod, "table_definition_key": key, "pattern": "incremental",
                "high_water_mark": "２０２４-01-01T00:00:00Z"}),
            "２０２４",
        ),
        (
            json!({"branch_id": prod, "table_definition_key": key, "pattern": "incremental",
                "high_water_mark": "99999999-01-01T00:00:00Z"}),
            "99999999",
        ),
        (
            json!({"branch_id": prod, "table_definition_key": key, "pattern": "incremental",
                "high_water_mark": "2024-01-01T00:00:00+99:99"}),
            "+99:99",
        ),
        (
            json!({"branch_id": prod, "table_definition_key": key, "pattern": "ｆｕｌｌ"}),
            "ｆｕｌｌ",
        ),
        (
            json!({"branch_id": prod, "table_definition_key": key, "pattern": ""}),
            "pattern",
        ),
        (
            json!({"branch_id": prod, "table_definition_key": key, "pattern": "full",
                "include_history": "oui"}),
            "include_history",
        ),
        (
            json!({"branch_id": "１", "table_definition_key": key, "pattern": "full"}),
            "branch_id",
        ),
        (
            json!({"branch_id": 1.5, "table_definition_key": key, "pattern": "full"}),
            "branch_id",
        ),
        (
            json!({"branch_id": prod, "table_definition_key": [1], "pattern": "full"}),
            "table_definition_key",
        ),
    ] {
        let (status, err) = post_raw(&h, "/api/v1/exports", body.to_string().into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert!(
            message(&err).contains(named),
            "{body}: {err} should name {named}"
        );
    }
    let (_, exports) = get_raw(&h, "/api/v1/exports").await;
    assert_eq!(exports["meta"]["total_count"], 0, "no export was created");

    for (body, named) in [
        (
            json!({"branch_id": -9223372036854775808i64}),
            "-9223372036854775808",
        ),
        (json!({"branch_id": prod, "description": 5}), "description"),
        (
            json!({"branch_id": prod, "correlation_code": {"x": 1}}),
            "correlation_code",
        ),
    ] {
        let (status, err) = post_raw(&h, "/api/v1/imports", body.to_string().into()).await;
        assert!(status.is_client_error(), "{body}: {status} {err}");
        assert!(
            message(&err).contains(named),
            "{body}: {err} should name {named}"
        );
    }
    let (_, imports) = get_raw(&h, "/api/v1/imports").await;
    assert_eq!(imports["meta"]["total_count"], 0, "no import was created");

    // Authorization headers that are not ASCII, or not a token at all.
    for raw in [
        &b"Bearer \xc3\xa9"[..],
        b"Bearer ",
        b"Bearer \xff\xff",
        b"Basic \xc3\xa9",
    ] {
        let r = h
            .http
            .get(h.url("/api/v1/branches"))
            .header(
                "authorization",
                reqwest::header::HeaderValue::from_bytes(raw).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Basic \xc3\xa9").unwrap(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Presigned URLs with absurd expiries or signatures.
    for query in [
        "X-Trdm-Expires=99999999999999999999999&X-Trdm-Signature=00",
        "X-Trdm-Expires=-9223372036854775808&X-Trdm-Signature=zz",
        "X-Trdm-Expires=%C3%A9&X-Trdm-Signature=%C3%A9",
        "",
    ] {
        let r = h
            .http
            .put(h.url(&format!("/_s3/uploads/1?{query}")))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{query}");
    }
}
