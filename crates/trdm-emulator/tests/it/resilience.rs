//! Persistence across restarts, resumed jobs, and injected faults.

use std::time::Duration;

use reqwest::StatusCode;
use trdm_emulator::{EmulatorConfig, EndpointGroup, FaultConfig, FaultKind};

use crate::common::{Harness, find};

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_data_tokens_and_files() {
    let h = Harness::start().await;
    let r = h
        .import(
            "dev",
            "delivery_centre",
            "incremental_upsert_only",
            "centre_code,centre_name\nDC321,Persisted\n",
        )
        .await;
    assert_eq!(r["import"]["status"], "completed");
    let export = h
        .export("dev", "delivery_centre", "full", None, false)
        .await;
    let token = h.token.clone();
    let Harness { emulator, dir, .. } = h;
    emulator.shutdown().await;
    let config = EmulatorConfig {
        db_path: Some(dir.path().join("emulator.db")),
        fixture: Some(crate::common::fixture()),
        ..EmulatorConfig::default()
    };
    let h = Harness::start_in(dir, config).await;
    let (status, _) = h.get_as(&token, "/api/v1/branches").await;
    assert_eq!(status, StatusCode::OK, "tokens survive a restart");
    assert_eq!(
        h.get("/api/v1/branches").await.1["meta"]["total_count"],
        2,
        "the fixture is not loaded twice"
    );
    assert!(
        find(
            &h.current("dev", "delivery_centre").await,
            "centre_code",
            "DC321"
        )
        .is_some()
    );
    let (_, old) = h.get(&format!("/api/exports/{}", export["id"])).await;
    assert_eq!(
        h.rows(&old).await.len() as i64,
        export["rows_exported"].as_i64().unwrap(),
        "old export files still download"
    );
}

#[tokio::test]
async fn unfinished_exports_resume_after_a_restart() {
    let h = Harness::start_with(|c| c.export_delay = Duration::from_secs(30)).await;
    let t = h.table("prod", "sites").await;
    let (_, e) = h.post("/api/exports/new", serde_json::json!({"branch_id": 1, "table_definition_key": t["key"], "pattern": "full"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.get(&format!("/api/exports/{}", e["id"])).await.1["status"],
        "started"
    );
    let Harness { emulator, dir, .. } = h;
    emulator.shutdown().await;
    let config = EmulatorConfig {
        db_path: Some(dir.path().join("emulator.db")),
        ..EmulatorConfig::default()
    };
    let h = Harness::start_in(dir, config).await;
    let done = h.wait_export(e["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert!(done["rows_exported"].as_i64().unwrap() > 100);
}

#[tokio::test]
async fn injected_faults_answer_429_with_retry_after_503_or_drop_the_connection() {
    let h = Harness::start_with(|c| {
        c.faults = FaultConfig {
            rate: 1.0,
            kinds: vec![FaultKind::TooManyRequests],
            groups: vec![EndpointGroup::Metadata],
            retry_after: Duration::from_secs(3),
            seed: 1,
        }
    })
    .await;
    let r = h
        .http
        .get(h.url("/api/v1/branches"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "3");
    // Other groups are untouched.
    let r = h
        .http
        .get(h.url("/api/exports/1"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let h = Harness::start_with(|c| {
        c.faults = FaultConfig {
            rate: 1.0,
            kinds: vec![FaultKind::Unavailable],
            groups: vec![EndpointGroup::Exports],
            ..FaultConfig::default()
        }
    })
    .await;
    let r = h
        .http
        .get(h.url("/api/exports/1"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

    let h = Harness::start_with(|c| {
        c.faults = FaultConfig {
            rate: 1.0,
            kinds: vec![FaultKind::Drop],
            groups: vec![EndpointGroup::Imports],
            ..FaultConfig::default()
        }
    })
    .await;
    let err = h
        .http
        .get(h.url("/api/v1/imports/1"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap_err();
    assert!(
        !err.is_status(),
        "a dropped connection has no status: {err}"
    );
    let (_, imports) = h.get("/api/v1/domains").await;
    assert_eq!(imports["meta"]["total_count"], 1);
}

#[tokio::test]
async fn faults_happen_before_the_action_so_retried_creates_never_duplicate() {
    let h = Harness::start_with(|c| {
        c.faults = FaultConfig {
            rate: 0.5,
            groups: vec![EndpointGroup::Exports],
            seed: 7,
            ..FaultConfig::default()
        }
    })
    .await;
    let t = h.table("prod", "sites").await;
    let mut created = 0;
    let mut attempts = 0;
    while created < 5 {
        attempts += 1;
        let r = h
            .http
            .post(h.url("/api/exports/new"))
            .bearer_auth(&h.token)
            .json(&serde_json::json!({"branch_id": 1, "table_definition_key": t["key"], "pattern": "full", "correlation_code": format!("c{created}")}))
            .send()
            .await;
        if matches!(&r, Ok(r) if r.status() == StatusCode::CREATED) {
            created += 1;
        }
        assert!(attempts < 200);
    }
    assert!(
        attempts > 5,
        "with rate 0.5 some attempts must fail (seeded)"
    );
    // Count through the unfaulted metadata group? Exports are faulted, so list until it answers.
    let listing = loop {
        let r = h
            .http
            .get(h.url("/api/v1/exports?per_page=1000"))
            .bearer_auth(&h.token)
            .send()
            .await;
        if let Ok(r) = r
            && r.status() == StatusCode::OK
        {
            break r.json::<serde_json::Value>().await.unwrap();
        }
    };
    assert_eq!(
        listing["meta"]["total_count"], 5,
        "each failed attempt created nothing"
    );
}
