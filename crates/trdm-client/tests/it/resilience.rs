//! Retries under the emulator's injected faults, and creates whose answers are lost after they were performed.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use trdm_client::{
    Error, ExportRequest, ImportPattern, ImportRequest, ImportStatus, ImportTableRequest,
    RetryConfig, UploadBody,
};
use trdm_emulator::{EndpointGroup, FaultConfig, FaultKind};

use crate::common::{Action, Env, Proxy, builder, capture, fast_retry, first, poll, table};

fn faults(rate: f64, kinds: Vec<FaultKind>, groups: Vec<EndpointGroup>) -> FaultConfig {
    FaultConfig {
        rate,
        kinds,
        groups,
        retry_after: Duration::from_secs(1),
        seed: 7,
    }
}

/// An emulator failing every metadata request with `kinds`, and a client allowed `max_retries` retries.
async fn failing_metadata(kinds: Vec<FaultKind>, max_retries: u32) -> (Env, trdm_client::Client) {
    let env =
        Env::start_with(|c| c.faults = faults(1.0, kinds, vec![EndpointGroup::Metadata])).await;
    let client = env
        .builder()
        .with_retry(RetryConfig {
            max_retries,
            ..fast_retry()
        })
        .build()
        .unwrap();
    (env, client)
}

#[tokio::test]
async fn retry_after_is_honoured_and_spent_retries_are_reported() {
    let (env, c) = failing_metadata(vec![FaultKind::TooManyRequests], 2).await;
    let started = Instant::now();
    let err = c.branches().await.unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two waits of Retry-After: 1"
    );
    let Error::RateLimited {
        retry_after,
        retries,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (*retry_after, retries.count),
        (Some(Duration::from_secs(1)), 2)
    );
    assert!(err.to_string().contains("gave up after 2 retries"), "{err}");

    // A Retry-After that ends past the total budget stops the retries at once.
    let impatient = env
        .builder()
        .with_retry(RetryConfig {
            retry_timeout: Duration::from_millis(500),
            ..fast_retry()
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let err = impatient.domains().await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { .. }) && err.retries() == 0,
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn unavailable_and_dropped_connections_are_retried_then_reported() {
    let (_env, c) = failing_metadata(vec![FaultKind::Unavailable], 3).await;
    let err = c.branches().await.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 503, message, retries } if message.contains("injected") && retries.count == 3),
        "{err}"
    );

    let (_env, c) = failing_metadata(vec![FaultKind::Drop], 3).await;
    let err = c.domains().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { retries, .. } if retries.count == 3),
        "{err}"
    );

    let env = Env::start_with(|c| {
        c.faults = faults(
            0.5,
            vec![FaultKind::Unavailable, FaultKind::Drop],
            EndpointGroup::ALL.to_vec(),
        )
    })
    .await;
    for _ in 0..10 {
        assert_eq!(env.client.branches().await.unwrap().len(), 2);
    }
}

/// Reads a collection's `total_count` with the client's token, trying until the faulty emulator answers.
async fn total(env: &Env, path: &str) -> i64 {
    let http = reqwest::Client::new();
    loop {
        let token = env.client.access_token().await.unwrap();
        let answer = http
            .get(format!("{}{path}", env.url()))
            .bearer_auth(token.expose())
            .send()
            .await;
        if let Ok(answer) = answer
            && answer.status() == 200
        {
            return answer.json::<serde_json::Value>().await.unwrap()["meta"]["total_count"]
                .as_i64()
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_faulty_run_with_expiring_tokens_creates_no_duplicates() {
    let env = Env::start_with(|c| {
        c.token_ttl = Duration::from_secs(2);
        c.faults = FaultConfig {
            seed: 42,
            ..faults(
                0.2,
                vec![
                    FaultKind::TooManyRequests,
                    FaultKind::Unavailable,
                    FaultKind::Drop,
                ],
                EndpointGroup::ALL.to_vec(),
            )
        };
    })
    .await;
    let (captured, _guard) = capture();
    let c = &env.client;
    let (branch, centres) = table(c, "dev", "delivery_centre").await;
    let (_, sites) = table(c, "dev", "sites").await;
    let centre_mapping = c.default_import_mapping(centres.id).await.unwrap();
    let site_mapping = c.default_import_mapping(sites.id).await.unwrap();

    let started = Instant::now();
    let (mut export_codes, mut import_codes) = (Vec::new(), Vec::new());
    let mut round = 0;
    while round < 3 || (started.elapsed() < Duration::from_secs(5) && round < 8) {
        let mut request = ExportRequest::full(branch, &centres.key);
        if round % 2 == 0 {
            request = request.with_correlation_code(format!("run-export-{round}"));
        }
        let export = c.create_export(&request).await.unwrap();
        export_codes.push(export.correlation_code.clone().unwrap());
        let export = c.wait_for_export(export.id, &poll()).await.unwrap();
        let size: usize = c
            .download_export(&export)
            .await
            .unwrap()
            .map_ok(|b| b.len())
            .try_fold(0, |a, n| async move { Ok(a + n) })
            .await
            .unwrap();
        assert_eq!(Some(size as i64), export.bytes_exported);

        let mut request = ImportRequest::new(branch).with_description(format!("round {round}"));
        if round % 2 == 1 {
            request = request.with_correlation_code(format!("run-import-{round}"));
        }
        let import = c.create_import(&request).await.unwrap();
        import_codes.push(import.correlation_code.clone().unwrap());
        let files = [
            (
                &centres.key,
                &centre_mapping.key,
                format!("centre_code,centre_name\nDCR{round},Round {round}\n"),
            ),
            (
                &sites.key,
                &site_mapping.key,
                format!("site_code,site_name,is_active\nR{round},Round {round},true\n"),
            ),
        ];
        for (key, mapping, csv) in files {
            let request = ImportTableRequest::new(
                import.id,
                key,
                mapping,
                ImportPattern::IncrementalUpsertOnly,
            );
            let slot = c.create_import_table(&request).await.unwrap();
            c.upload_table_file(&slot, &UploadBody::bytes(csv))
                .await
                .unwrap();
        }
        c.complete_import(import.id, None).await.unwrap();
        let results = c.wait_for_import(import.id, &poll()).await.unwrap();
        assert_eq!(
            results.import.status,
            ImportStatus::Completed,
            "{results:?}"
        );
        assert_eq!(results.tables.len(), 2, "no duplicate table file");
        assert!(
            results.tables.iter().all(|t| t.insert_row_count == Some(1)),
            "{results:?}"
        );
        round += 1;
    }
    assert!(
        started.elapsed() > Duration::from_secs(4),
        "the run outlived two token lifetimes"
    );

    for code in &export_codes {
        assert_eq!(
            c.find_exports(code).await.unwrap().len(),
            1,
            "export {code}"
        );
    }
    for code in &import_codes {
        assert_eq!(
            c.find_imports(code).await.unwrap().len(),
            1,
            "import {code}"
        );
    }
    assert_eq!(
        total(&env, "/api/v1/exports").await,
        round as i64,
        "no duplicate export"
    );
    assert_eq!(
        total(&env, "/api/v1/imports").await,
        round as i64,
        "no duplicate import"
    );

    let log = captured.text();
    let retries = log.matches("retrying").count();
    // Token calls are counted by their request spans: a span's callsite is registered while this test's
    // subscriber exists, whereas the "access token acquired" event may have been cached as uninteresting by a
    // test running alongside without one.
    let tokens = log
        .lines()
        .filter(|l| l.contains("path=/oauth/token") && l.contains("status=200"))
        .count();
    assert!(retries >= 5, "faults were met: {retries} retries");
    assert!(tokens >= 3, "tokens expired and were refreshed: {tokens}");
    assert!(
        log.contains("status=429") && log.contains("status=503") && log.contains("no answer"),
        "every fault kind met: {}",
        log.lines()
            .filter(|l| l.contains("retrying"))
            .map(|l| l.split("error=").nth(1).unwrap_or(""))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(" | ")
    );
}

#[tokio::test]
async fn lost_answers_of_creates_are_recovered_by_correlation_code() {
    let env = Env::start().await;
    let (lose_export, lose_import, lose_table, lose_upload, lose_complete) =
        (first(1), first(1), first(1), first(1), first(1));
    let proxy = Proxy::start(env.url(), move |method, path| match (method, path) {
        ("POST", "/api/exports/new") if lose_export() => Action::ForwardThenDrop,
        ("POST", "/api/imports/new") if lose_import() => Action::ForwardThenStatus(502),
        ("POST", "/api/import_tables/new") if lose_table() => Action::ForwardThenDrop,
        ("POST", p) if p.ends_with("/upload_complete") && lose_upload() => {
            Action::ForwardThenStatus(504)
        }
        ("POST", p)
            if p.starts_with("/api/imports/") && p.ends_with("/complete") && lose_complete() =>
        {
            Action::ForwardThenDrop
        }
        _ => Action::Forward,
    })
    .await;
    let c = builder(&proxy.url).build().unwrap();
    let (branch, centres) = table(&env.client, "dev", "delivery_centre").await;

    // Older exports already carry the code (earlier runs of a sync); the recovery must not mistake one of
    // them for the lost one, and finding the newest of them reads two one-item pages, not all of them.
    let reused = ExportRequest::full(branch, &centres.key).with_correlation_code("reused");
    let mut older = Vec::new();
    for _ in 0..3 {
        older.push(env.client.create_export(&reused).await.unwrap().id);
    }
    let export = c.create_export(&reused).await.unwrap();
    assert!(
        export.id > *older.iter().max().unwrap(),
        "{export:?} {older:?}"
    );
    assert_eq!(
        proxy.count("POST /api/exports/new"),
        1,
        "recovered, not sent again"
    );
    assert_eq!(
        proxy.count("GET /api/v1/exports"),
        3,
        "the baseline's first and last one-item pages, then the recovery's one listing"
    );
    assert_eq!(c.find_exports("reused").await.unwrap().len(), 4);

    let import = c.create_import(&ImportRequest::new(branch)).await.unwrap();
    assert_eq!(proxy.count("POST /api/imports/new"), 1);
    assert_eq!(
        c.find_imports(import.correlation_code.as_deref().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );

    let mapping = c.default_import_mapping(centres.id).await.unwrap();
    let request = ImportTableRequest::new(
        import.id,
        &centres.key,
        &mapping.key,
        ImportPattern::IncrementalUpsertOnly,
    );
    let slot = c.create_import_table(&request).await.unwrap();
    assert!(
        slot.signed_s3_url.is_some(),
        "the recovered table file carries its upload URL"
    );
    assert_eq!(proxy.count("POST /api/import_tables/new"), 1);

    c.upload_table_file(
        &slot,
        &UploadBody::bytes("centre_code,centre_name\nDC777,Recovered\n"),
    )
    .await
    .unwrap();
    assert_eq!(
        proxy.count(&format!(
            "POST /api/import_tables/{}/upload_complete",
            slot.id
        )),
        2,
        "resent; its 409 settled by a read"
    );
    c.complete_import(import.id, None).await.unwrap();
    assert_eq!(
        proxy.count(&format!("POST /api/imports/{}/complete", import.id)),
        2
    );
    let results = c.wait_for_import(import.id, &poll()).await.unwrap();
    assert_eq!(results.tables.len(), 1);
    assert_eq!(
        (
            results.import.status.clone(),
            results.tables[0].insert_row_count
        ),
        (ImportStatus::Completed, Some(1))
    );

    // A create refused with 429 did nothing: it is resent without a lookup.
    let refuse = first(1);
    let proxy = Proxy::start(env.url(), move |method, path| match (method, path) {
        ("POST", "/api/exports/new") if refuse() => {
            Action::Respond(429, r#"{"error":"Too Many Requests"}"#.into())
        }
        _ => Action::Forward,
    })
    .await;
    let c = builder(&proxy.url).build().unwrap();
    c.create_export(&ExportRequest::full(branch, &centres.key))
        .await
        .unwrap();
    assert_eq!(
        (
            proxy.count("POST /api/exports/new"),
            proxy.count("GET /api/v1/exports")
        ),
        (2, 0)
    );
}

#[tokio::test]
async fn creates_that_cannot_be_settled_are_unconfirmed() {
    let env = Env::start().await;
    let (branch, centres) = table(&env.client, "dev", "delivery_centre").await;

    // Every create is lost before reaching the server; each lookup finds nothing, so it is resent until the
    // retries run out.
    let proxy = Proxy::start(env.url(), |method, path| match (method, path) {
        ("POST", "/api/exports/new") => Action::Drop,
        _ => Action::Forward,
    })
    .await;
    let c = builder(&proxy.url)
        .with_retry(RetryConfig {
            max_retries: 3,
            ..fast_retry()
        })
        .build()
        .unwrap();
    let err = c
        .create_export(&ExportRequest::full(branch, &centres.key))
        .await
        .unwrap_err();
    let Error::Unconfirmed {
        what,
        correlation_code,
        source,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(what, "export");
    assert!(
        matches!(**source, Error::Transport { .. }) && err.retries() == 3,
        "{err}"
    );
    assert_eq!(
        (
            proxy.count("POST /api/exports/new"),
            proxy.count("GET /api/v1/exports")
        ),
        (4, 4)
    );
    assert!(
        env.client
            .find_exports(correlation_code)
            .await
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
    assert!(err.to_string().contains(correlation_code.as_str()), "{err}");

    // The lookup itself fails: the outcome stays open and the code is handed to the caller.
    let proxy = Proxy::start(env.url(), |method, path| match (method, path) {
        ("POST", "/api/imports/new") => Action::ForwardThenDrop,
        ("GET", "/api/v1/imports") => Action::Respond(500, r#"{"error":"boom"}"#.into()),
        _ => Action::Forward,
    })
    .await;
    let c = builder(&proxy.url).build().unwrap();
    let err = c
        .create_import(&ImportRequest::new(branch).with_description("lost"))
        .await
        .unwrap_err();
    let Error::Unconfirmed {
        correlation_code, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(proxy.count("POST /api/imports/new"), 1);
    let found = env.client.find_imports(correlation_code).await.unwrap();
    assert_eq!(
        found.len(),
        1,
        "the caller finds the import the lost answer created"
    );
}
