//! Imports: batch, table files uploaded from bytes and files, per-table counts, failures per table.

use trdm_client::{
    Error, ImportPattern, ImportRequest, ImportStatus, ImportTableRequest, ImportTableStatus,
    UploadBody,
};

use crate::common::{Env, poll, table};

#[tokio::test]
async fn an_import_reports_per_table_insert_update_delete_counts() {
    let env = Env::start().await;
    let c = &env.client;
    let (branch, centres) = table(c, "dev", "delivery_centre").await;
    let mapping = c.default_import_mapping(centres.id).await.unwrap();

    let import = c
        .create_import(
            &ImportRequest::new(branch)
                .with_description("client test")
                .with_correlation_code("batch-1"),
        )
        .await
        .unwrap();
    assert_eq!(
        (import.status.clone(), import.description.as_deref()),
        (ImportStatus::Created, Some("client test"))
    );
    assert_eq!(import.correlation_code.as_deref(), Some("batch-1"));
    let request = ImportTableRequest::new(
        import.id,
        &centres.key,
        &mapping.key,
        ImportPattern::IncrementalUpsertOnly,
    );
    let slot = c.create_import_table(&request).await.unwrap();
    assert_eq!(slot.status, ImportTableStatus::Created);
    assert!(slot.signed_s3_url.is_some() && slot.s3_key.is_some());
    assert_eq!(
        slot.table_definition_key.as_deref(),
        Some(centres.key.as_str())
    );
    assert!(
        slot.correlation_code
            .as_deref()
            .unwrap()
            .starts_with("trdm-")
    );
    let file = env.dir.path().join("centres.csv");
    std::fs::write(
        &file,
        "centre_code,centre_name\nDC901,First\nDC902,Second\nDC903,Third\n",
    )
    .unwrap();
    let uploaded = c
        .upload_table_file(&slot, &UploadBody::file(&file))
        .await
        .unwrap();
    assert_ne!(uploaded.status, ImportTableStatus::Created);
    assert_eq!(
        uploaded.file_size,
        Some(std::fs::metadata(&file).unwrap().len() as i64)
    );
    let completed = c
        .complete_import(import.id, Some("all files sent"))
        .await
        .unwrap();
    assert_ne!(completed.status, ImportStatus::Created);
    let results = c.wait_for_import(import.id, &poll()).await.unwrap();
    assert_eq!(results.import.status, ImportStatus::Completed);
    assert_eq!(results.import.message.as_deref(), Some("all files sent"));
    let t = &results.tables[0];
    assert_eq!(
        (
            t.status.clone(),
            t.insert_row_count,
            t.update_row_count,
            t.delete_row_count
        ),
        (ImportTableStatus::Completed, Some(3), Some(0), Some(0))
    );
    assert_eq!(results.import.insert_row_count, Some(3));
    assert_eq!(c.find_imports("batch-1").await.unwrap()[0].id, import.id);

    // A second batch updates one record and deletes another.
    let import = c.create_import(&ImportRequest::new(branch)).await.unwrap();
    let request = ImportTableRequest::new(
        import.id,
        &centres.key,
        &mapping.key,
        ImportPattern::IncrementalWithDelete,
    )
    .with_correlation_code("centres");
    let slot = c.create_import_table(&request).await.unwrap();
    assert_eq!(slot.correlation_code.as_deref(), Some("centres"));
    let csv = "centre_code,centre_name,trdm_tran_code\nDC901,First renamed,u\nDC902,Second,d\n";
    c.upload_table_file(&slot, &UploadBody::bytes(csv))
        .await
        .unwrap();
    c.complete_import(import.id, None).await.unwrap();
    let results = c.wait_for_import(import.id, &poll()).await.unwrap();
    let t = &results.tables[0];
    assert_eq!(
        (t.insert_row_count, t.update_row_count, t.delete_row_count),
        (Some(0), Some(1), Some(1)),
        "{t:?}"
    );
    assert_eq!(t.pattern, Some(ImportPattern::IncrementalWithDelete));
    assert!(t.start_datetime.is_some() && t.end_datetime.is_some() && t.duration_secs.is_some());
    assert_eq!(
        c.import_table(slot.id).await.unwrap().status,
        ImportTableStatus::Completed
    );

    // A closed batch refuses new files.
    let late = c
        .create_import_table(&ImportTableRequest::new(
            import.id,
            &centres.key,
            &mapping.key,
            ImportPattern::Full,
        ))
        .await;
    assert!(matches!(late, Err(Error::Conflict { .. })), "{late:?}");
    assert!(matches!(
        c.complete_import(import.id, None).await,
        Err(Error::Conflict { .. })
    ));
}

#[tokio::test]
async fn failed_tables_are_results_not_errors() {
    let env = Env::start().await;
    let c = &env.client;
    let (branch, centres) = table(c, "dev", "delivery_centre").await;
    let (_, sites) = table(c, "dev", "sites").await;
    let centre_mapping = c.default_import_mapping(centres.id).await.unwrap();
    let site_mapping = c.default_import_mapping(sites.id).await.unwrap();
    let import = c.create_import(&ImportRequest::new(branch)).await.unwrap();

    let duplicate = ImportTableRequest::new(
        import.id,
        &centres.key,
        &centre_mapping.key,
        ImportPattern::IncrementalUpsertOnly,
    );
    let duplicate = c.create_import_table(&duplicate).await.unwrap();
    c.upload_table_file(
        &duplicate,
        &UploadBody::bytes("centre_code,centre_name\nDC1,a\nDC1,b\n"),
    )
    .await
    .unwrap();

    let abandoned = ImportTableRequest::new(
        import.id,
        &sites.key,
        &site_mapping.key,
        ImportPattern::Full,
    );
    let abandoned = c.create_import_table(&abandoned).await.unwrap();
    let reported = c
        .upload_failed(abandoned.id, "the source table was locked")
        .await
        .unwrap();
    assert_eq!(reported.status, ImportTableStatus::Failed);

    c.complete_import(import.id, None).await.unwrap();
    let results = c.wait_for_import(import.id, &poll()).await.unwrap();
    assert_eq!(results.import.status, ImportStatus::Failed);
    let failed: Vec<_> = results
        .failed_tables()
        .map(|t| t.message.clone().unwrap_or_default())
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().any(|m| m.contains("DC1")), "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|m| m.contains("the source table was locked")),
        "{failed:?}"
    );
}

#[tokio::test]
async fn wrong_keys_and_missing_urls_are_clear_errors() {
    let env = Env::start().await;
    let c = &env.client;
    let (branch, centres) = table(c, "dev", "delivery_centre").await;
    let import = c.create_import(&ImportRequest::new(branch)).await.unwrap();
    let bad_mapping = ImportTableRequest::new(
        import.id,
        &centres.key,
        "no-such-mapping",
        ImportPattern::Full,
    );
    assert!(matches!(
        c.create_import_table(&bad_mapping).await,
        Err(Error::NotFound { .. })
    ));
    let empty = ImportTableRequest::new(import.id, "", "m", ImportPattern::Full);
    assert!(matches!(
        c.create_import_table(&empty).await,
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        c.import_results(987_654).await,
        Err(Error::NotFound { .. })
    ));
    let mapping = c.default_import_mapping(centres.id).await.unwrap();
    let mut slot = c
        .create_import_table(&ImportTableRequest::new(
            import.id,
            &centres.key,
            &mapping.key,
            ImportPattern::Full,
        ))
        .await
        .unwrap();
    slot.signed_s3_url = None;
    let err = c
        .upload_table_file(&slot, &UploadBody::bytes("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { message } if message.contains("signed_s3_url")),
        "{err}"
    );
    // Announcing a file that never arrived is refused by the server.
    assert!(matches!(
        c.upload_complete(slot.id).await,
        Err(Error::Conflict { .. })
    ));
}
