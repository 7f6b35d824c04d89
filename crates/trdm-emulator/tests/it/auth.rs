//! OAuth2 client credentials and the bearer check (part A §2).

use reqwest::StatusCode;
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn token_endpoint_accepts_form_basic_and_json_and_rejects_bad_secrets() {
    let h = Harness::start().await;
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body["scope"], "api");
    assert!(body["created_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(
        body["access_token"].as_str().unwrap().len() >= 43,
        "at least 256 bits"
    );

    let basic = h
        .http
        .post(h.url("/oauth/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "api")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);

    let as_json = h
        .http
        .post(h.url("/oauth/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(as_json.status(), StatusCode::OK);

    let (status, err) = h.token_for("demo-client", "wrong", None).await.unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"], "invalid_client");
    let (status, _) = h
        .token_for("nobody", "demo-secret", None)
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, err) = h
        .token_for("reader-client", "reader-secret", Some("api:write"))
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_scope");
    let r = h
        .http
        .post(h.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn api_requires_a_valid_unexpired_token_with_the_right_scope() {
    let h = Harness::start_with(|c| c.token_ttl = std::time::Duration::from_secs(1)).await;
    let r = h.http.get(h.url("/api/v1/branches")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Unauthorized");
    assert!(body["errors"][0].as_str().unwrap().contains("Bearer"));

    let (status, _) = h.get_as("not-a-token", "/api/v1/branches").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut forged = h.token.clone();
    forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
    assert_eq!(
        h.get_as(&forged, "/api/v1/branches").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Read-only application: GETs and export creation yes, import creation no.
    let reader = h
        .token_for("reader-client", "reader-secret", None)
        .await
        .unwrap();
    assert_eq!(h.get_as(&reader, "/api/v1/domains").await.0, StatusCode::OK);
    let t = h.table("prod", "sites").await;
    let (status, _) = h
        .post_as(
            &reader,
            "/api/v1/exports",
            Some(json!({"branch_id": 1, "table_definition_key": t["key"], "pattern": "full"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "api:read covers export creation"
    );
    let (status, body) = h
        .post_as(&reader, "/api/imports/new", Some(json!({"branch_id": 1})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("api:write"));
    let (status, _) = h.get("/api/v1/imports?q=branch_id:eq:1").await;
    assert_eq!(status, StatusCode::OK);

    // Expiry: the harness token was minted with a 1 s lifetime.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = h.get("/api/v1/branches").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap().contains("expired"));
}
