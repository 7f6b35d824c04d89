//! Branches, domains, table definitions, import mappings, pagination and the `q` grammar (part A §3, §4).

use reqwest::StatusCode;

use crate::common::Harness;

#[tokio::test]
async fn branches_and_domains_match_the_fixture() {
    let h = Harness::start().await;
    let (status, body) = h.get("/api/v1/branches").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["meta"]["total_count"], 2);
    let dev = &body["data"][1];
    assert_eq!(dev["name"], "dev");
    assert_eq!(dev["branch_type"], "private");
    assert_eq!(dev["parent_branch"]["name"], "prod");
    assert_eq!(dev["parent_branch_id"], body["data"][0]["id"]);
    assert_eq!(dev["owner"]["email"], "developer@clinics.example");
    assert_eq!(dev["owner_id"], 1);

    let (_, one) = h.get(&format!("/api/v1/branches/{}", dev["id"])).await;
    assert_eq!(one["name"], "dev");
    let (status, missing) = h.get("/api/v1/branches/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "branch 999 not found");
    assert_eq!(h.get("/api/v1/branches/abc").await.0, StatusCode::NOT_FOUND);

    let (_, domains) = h.get("/api/v1/domains?q=name:eq:Clinics").await;
    assert_eq!(domains["data"][0]["abbreviation"], "clin");
    let (_, none) = h.get("/api/v1/domains?q=name:eq:clinics").await;
    assert_eq!(none["meta"]["total_count"], 0, "eq is case-sensitive");
    let (_, cont) = h.get("/api/v1/domains?q=name:cont:LINI").await;
    assert_eq!(cont["meta"]["total_count"], 1);
    let (status, bad) = h.get("/api/v1/domains?q=colour:eq:red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad["message"].as_str().unwrap().contains("colour"));
    assert_eq!(
        h.get("/api/v1/domains?q=name:like:x").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.get("/api/v1/domains?page=0").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn deployed_tables_lookup_mappings_and_paging() {
    let h = Harness::start().await;
    let prod = h.branch_id("prod").await;
    let (_, body) = h
        .get(&format!(
            "/api/v1/deployed_table_definitions?branch_id={prod}"
        ))
        .await;
    let tables = body["data"].as_array().unwrap();
    let names: Vec<&str> = tables
        .iter()
        .map(|t| t["database_table_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sites", "delivery_centre", "org_unit"]);
    let site = &tables[0];
    assert_eq!(site["name"], "Site");
    assert_eq!(site["domain"]["abbreviation"], "clin");
    let cols = site["deployed_column_definitions"].as_array().unwrap();
    let code = cols.iter().find(|c| c["name"] == "site_code").unwrap();
    assert_eq!(code["is_primary_key"], true);
    assert_eq!(code["data_type"], "varchar");
    assert_eq!(code["length"], 10);
    let budget = cols.iter().find(|c| c["name"] == "annual_budget").unwrap();
    assert_eq!(
        (
            budget["data_type"].as_str(),
            budget["length"].as_i64(),
            budget["scale"].as_i64()
        ),
        (Some("decimal"), Some(14), Some(2))
    );
    let orders: Vec<i64> = cols
        .iter()
        .map(|c| c["display_order"].as_i64().unwrap())
        .collect();
    assert!(
        orders.windows(2).all(|w| w[0] < w[1]),
        "columns come in display order"
    );

    // Page 2 of 2 with per_page=2.
    let (_, paged) = h
        .get(&format!(
            "/api/v1/deployed_table_definitions?branch_id={prod}&per_page=2&page=2"
        ))
        .await;
    assert_eq!(paged["meta"]["total_pages"], 2);
    assert_eq!(paged["data"].as_array().unwrap().len(), 1);
    assert_eq!(paged["data"][0]["database_table_name"], "org_unit");

    // Lookup by key + branch returns the branch's own copy; the key is shared across branches.
    let dev = h.branch_id("dev").await;
    let (_, on_dev) = h
        .get(&format!(
            "/api/v1/deployed_table_definitions/lookup?key={}&branch_id={dev}",
            site["key"].as_str().unwrap()
        ))
        .await;
    assert_eq!(on_dev["key"], site["key"]);
    assert_ne!(on_dev["id"], site["id"]);
    assert_eq!(on_dev["branch"]["name"], "dev");
    assert_eq!(
        h.get(&format!(
            "/api/v1/deployed_table_definitions/lookup?key=nope&branch_id={dev}"
        ))
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get("/api/v1/deployed_table_definitions/lookup?key=x")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    // Import mappings accept the deployed id (the SDK sends it) and filter by is_default and key.
    let (_, mappings) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings?q=is_default:eq:true",
            site["id"]
        ))
        .await;
    assert_eq!(mappings["meta"]["total_count"], 1);
    let key = mappings["data"][0]["key"].as_str().unwrap();
    let (_, by_key) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings?q=key:eq:{key}",
            site["id"]
        ))
        .await;
    assert_eq!(by_key["data"][0]["is_default"], true);
    assert_eq!(by_key["data"][0]["mapping_config"]["date_style"], "MDY");
    let (_, td) = h
        .get(&format!("/api/v1/table_definitions?branch_id={prod}"))
        .await;
    assert!(td["data"][0]["column_definitions"].is_array());
    assert_eq!(h.get("/api/v1/nope").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn table_data_grid_pages_filters_and_sorts_current_records() {
    let h = Harness::start().await;
    let site = h.table("prod", "sites").await;
    let (status, page) = h
        .post(
            "/api/v1/table_data/grid",
            serde_json::json!({"table_definition_id": site["id"], "startRow": 0, "endRow": 5,
            "sortModel": [{"colId": "site_code", "sort": "desc"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(page["rowCount"], 150);
    let codes: Vec<&str> = rows
        .iter()
        .map(|r| r["site_code"].as_str().unwrap())
        .collect();
    assert!(codes.windows(2).all(|w| w[0] > w[1]), "{codes:?}");
    assert!(rows[0]["is_active"].is_boolean() || rows[0]["is_active"].is_null());
    assert!(rows[0]["trdm_sk"].is_i64());

    let (_, filtered) = h
        .post("/api/v1/table_data/grid", serde_json::json!({"table_definition_key": site["key"], "branch_id": 1,
            "startRow": 0, "endRow": 1000,
            "filterModel": {"site_code": {"filterType": "text", "type": "equals", "filter": "0001"}}}))
        .await;
    assert_eq!(filtered["rowCount"], 1);
    let sk = filtered["rows"][0]["trdm_sk"].as_i64().unwrap();
    let (_, big) = h
        .post("/api/v1/table_data/grid", serde_json::json!({"table_definition_id": site["id"], "startRow": 0, "endRow": 1000,
            "filterModel": {"bed_count": {"filterType": "number", "type": "greaterThan", "filter": 100}}}))
        .await;
    let n = big["rowCount"].as_i64().unwrap();
    assert!(n > 0 && n < 150);
    assert!(
        big["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["bed_count"].as_i64().unwrap() > 100)
    );

    let (status, record) = h
        .get(&format!(
            "/api/v1/table_data/{sk}?table_definition_id={}",
            site["id"]
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["site_code"], "0001");
    assert_eq!(record["trdm_state"], "C");
    assert_eq!(record["trdm_effective_to"], "9999-12-31T00:00:00+00");

    for bad in [
        serde_json::json!({"table_definition_id": site["id"], "startRow": 0, "endRow": 1001}),
        serde_json::json!({"table_definition_id": site["id"], "endRow": 10}),
        serde_json::json!({"table_definition_id": site["id"], "startRow": 0, "endRow": 10, "sortModel": [{"colId": "nope"}]}),
        serde_json::json!({"table_definition_id": site["id"], "startRow": 0, "endRow": 10,
            "filterModel": {"site_code": {"filterType": "text", "type": "fuzzy", "filter": "x"}}}),
        serde_json::json!({"startRow": 0, "endRow": 10}),
    ] {
        assert_eq!(
            h.post("/api/v1/table_data/grid", bad.clone()).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        h.get(&format!(
            "/api/v1/table_data/999999?table_definition_id={}",
            site["id"]
        ))
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

/// The single-resource routes answer the same object their collection shows, and 404 for unknown ids.
#[tokio::test]
async fn single_resource_routes_match_their_collections_and_404_unknown_ids() {
    let h = Harness::start().await;

    // Domains.
    let (_, domains) = h.get("/api/v1/domains").await;
    let listed = &domains["data"][0];
    let (status, domain) = h.get(&format!("/api/v1/domains/{}", listed["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&domain, listed);
    assert_eq!(domain["name"], "Clinics");
    assert_eq!(domain["abbreviation"], "clin");
    assert!(
        domain["description"]
            .as_str()
            .unwrap()
            .starts_with("Clinic sites")
    );
    assert!(domain["created_at"].is_string() && domain["updated_at"].is_string());
    let (status, missing) = h.get("/api/v1/domains/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"], "Not Found");
    assert_eq!(missing["message"], "domain 999 not found");
    assert_eq!(h.get("/api/v1/domains/abc").await.0, StatusCode::NOT_FOUND);

    // Deployed table definitions: the deployed column list, equal to the list's item.
    let site = h.table("dev", "sites").await;
    let (status, deployed) = h
        .get(&format!(
            "/api/v1/deployed_table_definitions/{}",
            site["id"]
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deployed, site);
    assert_eq!(deployed["name"], "Site");
    assert_eq!(deployed["branch"]["name"], "dev");
    assert_eq!(deployed["domain"]["abbreviation"], "clin");
    assert_eq!(
        deployed["deployed_column_definitions"][0]["name"],
        "site_code"
    );
    assert!(deployed.get("column_definitions").is_none());
    let (status, missing) = h.get("/api/v1/deployed_table_definitions/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "table definition 999 not found");

    // Table definitions: the same table under the same id, with `column_definitions`.
    let (status, td) = h
        .get(&format!("/api/v1/table_definitions/{}", site["id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(td["key"], site["key"]);
    assert_eq!(td["database_table_name"], "sites");
    assert_eq!(td["branch_id"], site["branch_id"]);
    assert_eq!(td["allow_manual_rows"], false);
    assert_eq!(
        td["column_definitions"],
        site["deployed_column_definitions"]
    );
    assert!(td.get("deployed_column_definitions").is_none());
    let (_, td_list) = h
        .get(&format!(
            "/api/v1/table_definitions?branch_id={}",
            site["branch_id"]
        ))
        .await;
    let listed = td_list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == site["id"])
        .unwrap();
    assert_eq!(&td, listed);
    let (status, missing) = h.get("/api/v1/table_definitions/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "table definition 999 not found");

    // One import mapping, under its own table only.
    let (_, mappings) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings",
            site["id"]
        ))
        .await;
    let listed = &mappings["data"][0];
    let mapping_path = |table: &serde_json::Value, mapping: &serde_json::Value| {
        format!("/api/v1/table_definitions/{table}/import_mappings/{mapping}")
    };
    let (status, mapping) = h.get(&mapping_path(&site["id"], &listed["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&mapping, listed);
    assert_eq!(mapping["table_definition"]["id"], site["id"]);
    assert_eq!(mapping["table_definition"]["name"], "Site");
    assert_eq!(mapping["branch"]["name"], "dev");
    assert_eq!(mapping["is_default"], true);
    assert_eq!(mapping["mapping_config"]["delimiter"], ",");
    let prod_site = h.table("prod", "sites").await;
    let (status, other) = h.get(&mapping_path(&prod_site["id"], &listed["id"])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a mapping of another table");
    assert_eq!(
        other["message"],
        format!("import mapping {} not found", listed["id"])
    );
    let (status, missing) = h
        .get(&mapping_path(&site["id"], &serde_json::json!(999)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "import mapping 999 not found");
    let (status, missing) = h
        .get(&mapping_path(&serde_json::json!(999), &listed["id"]))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "table definition 999 not found");

    // No token, no answer.
    for path in [
        format!("/api/v1/domains/{}", domain["id"]),
        format!("/api/v1/table_definitions/{}", site["id"]),
        format!("/api/v1/deployed_table_definitions/{}", site["id"]),
        mapping_path(&site["id"], &listed["id"]),
    ] {
        let r = h.http.get(h.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}
