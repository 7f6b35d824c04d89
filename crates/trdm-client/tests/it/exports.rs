//! Exports: create, poll with backoff, download as a stream; failure and deadline paths.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use trdm_client::{Error, ExportPattern, ExportRequest, ExportStatus, PollConfig};

use crate::common::{Env, capture, poll, table};

async fn body_of(client: &trdm_client::Client, export: &trdm_client::Export) -> (String, usize) {
    let mut stream = client.download_export(export).await.unwrap();
    let (mut bytes, mut chunks) = (Vec::new(), 0);
    while let Some(chunk) = stream.try_next().await.unwrap() {
        bytes.extend_from_slice(&chunk);
        chunks += 1;
    }
    (String::from_utf8(bytes).unwrap(), chunks)
}

#[tokio::test]
async fn full_incremental_and_history_exports_download_as_streams() {
    let env = Env::start().await;
    let c = &env.client;
    let (branch, sites) = table(c, "prod", "sites").await;

    let created = c
        .create_export(&ExportRequest::full(branch, &sites.key))
        .await
        .unwrap();
    assert!(!created.status.is_terminal() || created.status == ExportStatus::Completed);
    assert!(
        created
            .correlation_code
            .as_deref()
            .unwrap()
            .starts_with("trdm-"),
        "a code is generated"
    );
    let done = c.wait_for_export(created.id, &poll()).await.unwrap();
    assert_eq!(done.status, ExportStatus::Completed);
    assert_eq!(
        (done.files_exported, done.compressed, done.pattern),
        (Some(1), false, Some(ExportPattern::Full))
    );
    assert!(done.complete_datetime.is_some() && done.download_url.is_some());
    assert_eq!(
        done.table_definition_key.as_deref(),
        Some(sites.key.as_str())
    );
    let (csv, chunks) = body_of(c, &done).await;
    assert!(csv.starts_with("site_code,site_name,"));
    assert_eq!(csv.lines().count() as i64 - 1, done.rows_exported.unwrap());
    assert_eq!(csv.len() as i64, done.bytes_exported.unwrap());
    assert!(chunks >= 1);
    assert_eq!(c.export(done.id).await.unwrap().id, done.id);

    let later = ExportRequest::incremental(branch, &sites.key, "2999-01-01T00:00:00+00:00")
        .with_correlation_code("inc-1");
    let incremental = c
        .wait_for_export(c.create_export(&later).await.unwrap().id, &poll())
        .await
        .unwrap();
    assert_eq!(incremental.rows_exported, Some(0));
    assert_eq!(
        incremental.high_water_mark.as_deref(),
        Some("2999-01-01T00:00:00+00:00")
    );
    assert_eq!(c.find_exports("inc-1").await.unwrap().len(), 1);

    let history = ExportRequest::full(branch, &sites.key).with_history(true);
    let history = c
        .wait_for_export(c.create_export(&history).await.unwrap().id, &poll())
        .await
        .unwrap();
    assert!(history.include_history);
    assert!(history.rows_exported.unwrap() >= done.rows_exported.unwrap());
    let (csv, _) = body_of(c, &history).await;
    assert!(
        csv.lines().nth(1).unwrap().ends_with(",i"),
        "history rows carry tran codes"
    );

    let mut no_hwm = later.clone();
    no_hwm.high_water_mark = Some(" ".into());
    assert!(
        matches!(
            c.create_export(&no_hwm).await,
            Err(Error::Validation { .. })
        ),
        "checked before sending"
    );
    let unknown = c
        .create_export(&ExportRequest::full(branch, "no-such-table"))
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound { .. }), "{unknown}");
}

#[tokio::test(flavor = "current_thread")]
async fn polling_backs_off_and_times_out_naming_the_last_status() {
    let env = Env::start_with(|c| c.export_delay = Duration::from_secs(3)).await;
    let c = &env.client;
    let (branch, centres) = table(c, "dev", "delivery_centre").await;
    let export = c
        .create_export(&ExportRequest::full(branch, &centres.key))
        .await
        .unwrap();
    let (captured, _guard) = capture();
    let config = PollConfig {
        poll_interval: Duration::from_millis(20),
        max_interval: Duration::from_millis(400),
        backoff: 2.0,
        max_wait: Duration::from_millis(1500),
    };
    let started = Instant::now();
    let err = c.wait_for_export(export.id, &config).await.unwrap_err();
    let waited = started.elapsed();
    let Error::Timeout {
        what,
        last_status,
        waited: reported,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (what.as_str(), last_status.as_str()),
        (format!("export {}", export.id).as_str(), "started")
    );
    assert!(
        reported >= &config.max_wait && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    assert!(err.to_string().contains("last status started"), "{err}");
    let polls = captured.text().matches("still running").count();
    // 20, 40, 80, 160, 320, 400, 400, ... ms: about 7 polls in 1.5 s, where a fixed 20 ms would make 75.
    assert!((4..=10).contains(&polls), "{polls} polls");
    assert!(matches!(
        c.download_export(&c.export(export.id).await.unwrap()).await,
        Err(Error::Conflict { .. })
    ));
}

#[tokio::test]
async fn a_failed_export_reports_the_server_message() {
    let env = Env::start().await;
    let c = &env.client;
    let (branch, sites) = table(c, "prod", "sites").await;
    // The emulator fails an export whose file it cannot create.
    std::fs::remove_dir_all(env.exports_dir()).unwrap();
    let export = c
        .create_export(&ExportRequest::full(branch, &sites.key))
        .await
        .unwrap();
    let err = c.wait_for_export(export.id, &poll()).await.unwrap_err();
    let Error::JobFailed { what, message } = &err else {
        panic!("{err}")
    };
    assert_eq!(what, &format!("export {}", export.id));
    assert!(
        message.contains("cannot create the export file"),
        "{message}"
    );
    let failed = c.export(export.id).await.unwrap();
    assert_eq!(failed.status, ExportStatus::Failed);
    assert!(matches!(
        c.download_export(&failed).await,
        Err(Error::JobFailed { .. })
    ));
}
