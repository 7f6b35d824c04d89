//! Streaming transfers: uploads sent from a stream without holding the file, one-shot streams sent once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use trdm_client::{
    Error, ExportRequest, ImportPattern, ImportRequest, ImportTableRequest, IoStream, RetryConfig,
    UploadBody,
};
use trdm_emulator::{EndpointGroup, FaultConfig, FaultKind};

use crate::common::{Env, fast_retry, poll, table};

const CHUNK: usize = 256 * 1024;

/// A CSV of `chunks` × 256 KiB made on the fly: one shared chunk, never the whole file.
fn generated(chunks: usize) -> IoStream {
    let mut line = b"DC0001,Generated centre\n".repeat(CHUNK / 24 + 1);
    line.truncate(CHUNK);
    let chunk = Bytes::from(line);
    Box::pin(futures_util::stream::iter(
        (0..chunks).map(move |_| Ok(chunk.clone())),
    ))
}

/// Peak resident memory since the last reset, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

#[tokio::test]
async fn a_large_upload_streams_without_holding_the_file() {
    const CHUNKS: usize = 384; // 96 MiB
    let env = Env::start_with(|c| c.max_upload_bytes = 256 * 1024 * 1024).await;
    let c = &env.client;
    let (branch, centres) = table(c, "dev", "delivery_centre").await;
    let mapping = c.default_import_mapping(centres.id).await.unwrap();
    let import = c.create_import(&ImportRequest::new(branch)).await.unwrap();
    let request = ImportTableRequest::new(
        import.id,
        &centres.key,
        &mapping.key,
        ImportPattern::IncrementalUpsertOnly,
    );
    let slot = c.create_import_table(&request).await.unwrap();

    // Reset the peak so it measures this upload (both ends of it run in this process).
    let measured = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = peak_rss().unwrap_or(0);
    let size = (CHUNKS * CHUNK) as u64;
    let body = UploadBody::reopen(Some(size), || async { Ok(generated(CHUNKS)) });
    c.put_presigned(slot.signed_s3_url.as_ref().unwrap(), &body)
        .await
        .unwrap();
    let after = peak_rss().unwrap_or(0);
    assert_eq!(
        c.import_table(slot.id).await.unwrap().file_size,
        Some(size as i64)
    );
    if measured {
        let grown = after.saturating_sub(before);
        assert!(
            grown < size / 3,
            "peak memory grew by {} MiB for a {} MiB upload",
            grown >> 20,
            size >> 20
        );
    }
    c.upload_failed(slot.id, "only measuring").await.unwrap();
}

#[tokio::test]
async fn one_shot_streams_are_sent_once_and_repeatable_bodies_are_retried() {
    let env = Env::start_with(|c| {
        c.faults = FaultConfig {
            rate: 1.0,
            kinds: vec![FaultKind::Unavailable],
            groups: vec![EndpointGroup::Blobs],
            retry_after: Duration::from_secs(1),
            seed: 3,
        }
    })
    .await;
    let c = env
        .builder()
        .with_retry(RetryConfig {
            max_retries: 2,
            ..fast_retry()
        })
        .build()
        .unwrap();
    let (branch, centres) = table(&c, "dev", "delivery_centre").await;
    let mapping = c.default_import_mapping(centres.id).await.unwrap();
    let import = c.create_import(&ImportRequest::new(branch)).await.unwrap();
    let request = ImportTableRequest::new(
        import.id,
        &centres.key,
        &mapping.key,
        ImportPattern::IncrementalUpsertOnly,
    );
    let slot = c.create_import_table(&request).await.unwrap();
    let url = slot.signed_s3_url.as_ref().unwrap();

    let once = UploadBody::stream(
        Some(4),
        futures_util::stream::iter([Ok(Bytes::from_static(b"a,b\n"))]),
    );
    let err = c.put_presigned(url, &once).await.unwrap_err();
    assert!(
        matches!(err, Error::Api { status: 503, .. }) && err.retries() == 0,
        "{err}"
    );

    let opened = Arc::new(AtomicUsize::new(0));
    let counter = opened.clone();
    let reopenable = UploadBody::reopen(Some(CHUNK as u64), move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok(generated(1)) }
    });
    let err = c.put_presigned(url, &reopenable).await.unwrap_err();
    assert!(
        err.retries() == 2 && opened.load(Ordering::SeqCst) == 3,
        "{err}"
    );

    // upload_table_file reports the failed PUT to the server and returns the PUT's error.
    let err = c
        .upload_table_file(&slot, &UploadBody::bytes("centre_code\nX\n"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api { status: 503, .. }), "{err}");
    let failed = c.import_table(slot.id).await.unwrap();
    assert!(
        failed.message.unwrap_or_default().contains("503"),
        "the table was marked upload_failed"
    );

    // Presigned downloads are retried the same way.
    let export = c
        .create_export(&ExportRequest::full(branch, &centres.key))
        .await
        .unwrap();
    let export = c.wait_for_export(export.id, &poll()).await.unwrap();
    let err = c.download_export(&export).await.err().unwrap();
    assert!(
        matches!(err, Error::Api { status: 503, .. }) && err.retries() == 2,
        "{err}"
    );
}
