//! Secrets (client secret, tokens, presigned URLs' signatures) never appear in Debug, Display, errors,
//! serialized models or tracing output.

use futures_util::TryStreamExt;
use trdm_client::{
    Error, ExportRequest, ImportPattern, ImportRequest, ImportTableRequest, RetryConfig, SafeUrl,
    UploadBody,
};

use crate::common::{Env, capture, poll, table};

fn signature(url: &SafeUrl) -> String {
    let (_, value) = url
        .expose()
        .query_pairs()
        .find(|(k, _)| k.contains("Signature"))
        .expect("a signed URL");
    value.into_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_debug_display_errors_or_tracing() {
    let env = Env::start().await;
    let (captured, _guard) = capture();
    let c = env.builder().connect().await.unwrap();
    let token = c.access_token().await.unwrap();

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
    let upload_url = slot.signed_s3_url.clone().unwrap();
    c.upload_table_file(
        &slot,
        &UploadBody::bytes("centre_code,centre_name\nDC555,Secretive\n"),
    )
    .await
    .unwrap();
    c.complete_import(import.id, None).await.unwrap();
    let results = c.wait_for_import(import.id, &poll()).await.unwrap();
    let export = c
        .create_export(&ExportRequest::full(branch, &centres.key))
        .await
        .unwrap();
    let export = c.wait_for_export(export.id, &poll()).await.unwrap();
    let download_url = export.download_url.clone().unwrap();
    let _: Vec<_> = c
        .download_export(&export)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();

    // A presigned URL with a forged signature: the server refuses it.
    let mut forged = upload_url.expose().clone();
    let query: String = forged
        .query_pairs()
        .map(|(k, v)| {
            if k.contains("Signature") {
                format!("{k}=forgedsignature0123")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    forged.set_query(Some(&query));
    let refused = c
        .put_presigned(&SafeUrl::from(forged), &UploadBody::bytes("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::PermissionDenied { .. } | Error::Conflict { .. }
        ),
        "{refused}"
    );
    // A transport failure on a signed URL.
    let unreachable =
        SafeUrl::parse("http://127.0.0.1:9/_s3/exports/1?X-Trdm-Signature=unreachablesig456")
            .unwrap();
    let offline = env
        .builder()
        .with_retry(RetryConfig::none())
        .build()
        .unwrap();
    let transport = offline.download(&unreachable).await.err().unwrap();
    assert!(matches!(transport, Error::Transport { .. }), "{transport}");

    let mut printed = captured.text();
    for shown in [
        format!("{c:?}"),
        format!("{token} {token:?}"),
        format!("{slot:?} {results:?} {export:?} {upload_url} {download_url:?}"),
        serde_json::to_string(&export).unwrap(),
        serde_json::to_string(&results).unwrap(),
        format!("{refused} {refused:?} {transport} {transport:?}"),
        format!("{:?}", env.builder()),
    ] {
        printed.push_str(&shown);
    }
    let secrets = [
        "demo-secret".to_owned(),
        token.expose().to_owned(),
        signature(&upload_url),
        signature(&download_url),
        "forgedsignature0123".to_owned(),
        "unreachablesig456".to_owned(),
    ];
    for secret in &secrets {
        assert!(secret.len() >= 10, "{secret:?} is long enough to grep for");
        assert!(
            !printed.contains(secret.as_str()),
            "leaked {secret:?} in:\n{printed}"
        );
    }
    // The capture is not empty: spans carry method, path, attempt, status and duration.
    for field in [
        "trdm_client.http",
        "method=PUT",
        "path=/_s3/uploads/",
        "attempt=1",
        "status=201",
        "duration_ms=",
        "create_export",
    ] {
        assert!(printed.contains(field), "no {field} in the tracing output");
    }
    assert!(
        printed.contains("?<redacted>"),
        "signed URLs print redacted"
    );
}
