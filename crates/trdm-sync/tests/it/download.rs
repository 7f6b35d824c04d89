//! Downloads: every table of the domain, typed; filters; incremental merges; history; write failures.

use std::sync::Arc;
use trdm_client::{ImportRequest, ImportTableRequest, UploadBody};

use arrow_array::RecordBatch;
use trdm_sync::catalog::{Catalog, Properties, TableRef};
use trdm_sync::engine::property;
use trdm_sync::manifest::manifest;
use trdm_sync::schema::{export_schema, schema_fingerprint};
use trdm_sync::{DownloadRequest, Error, ExportPattern, TableStatus};

use crate::common::*;

#[tokio::test]
async fn full_download_writes_every_table_typed_with_its_high_water_mark() {
    let s = setup().await;
    let prod = branch(&s.client, "prod").await;
    let results = s.engine.download(&download(prod, "rdmin")).await.unwrap();
    let summary: Vec<(&str, u64, String)> = results
        .iter()
        .map(|r| (r.table.as_str(), r.rows, r.status.as_incumbent_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("sites", 150, "success".into()),
            ("delivery_centre", 30, "success".into()),
            ("org_unit", 120, "success".into())
        ]
    );
    assert!(
        results
            .iter()
            .all(|r| r.export_id.is_some() && r.bytes > 0 && r.domain == "Clinics")
    );
    let sites = TableRef::new("dev", "rdmin", "clin_sites");
    assert_eq!(results[0].target, "dev.rdmin.clin_sites");
    let m = manifest(&s.client, prod, "Clinics", None).await.unwrap();
    let (schema, _) = s.catalog.read(&sites).await.unwrap();
    assert_eq!(
        schema,
        export_schema(&m.tables[0].table),
        "types come from the column definitions"
    );
    let codes = strings(&batches(&s.catalog, &sites).await, "site_code");
    assert!(
        codes.contains(&Some("0001".into())),
        "leading zeros survive"
    );
    let props = s.catalog.properties(&sites).await.unwrap();
    assert_eq!(props.get(property::BRANCH_ID), Some(&prod.to_string()));
    assert_eq!(
        props.get(property::HIGH_WATER_MARK),
        results[0].high_water_mark.as_ref()
    );
    assert!(props[property::HIGH_WATER_MARK].ends_with("+00"));
}

#[tokio::test]
async fn filters_by_display_name_and_rejects_unknown_names() {
    let s = setup().await;
    let mut request = download(1, "rdmin");
    request.tables = Some(vec!["Delivery Centre".into()]);
    let results = s.engine.download(&request).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].table, "delivery_centre");
    request.tables = Some(vec!["Sites".into()]);
    let err = s.engine.download(&request).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(_)));
    let message = err.to_string();
    assert!(
        message.contains("\"Sites\"") && message.contains("Site, Delivery Centre, Org Unit"),
        "{message}"
    );
    request.domain = "Clinic".into();
    request.tables = None;
    assert!(
        s.engine.download(&request).await.is_err(),
        "domains match by exact name"
    );
}

/// Uploads `csv` to one table of `dev` through the client, bypassing the engine.
async fn import(s: &Setup, table: &str, pattern: trdm_client::ImportPattern, csv: &str) {
    let dev = branch(&s.client, "dev").await;
    let m = manifest(&s.client, dev, "Clinics", None).await.unwrap();
    let t = m
        .tables
        .iter()
        .find(|t| t.definition.database_table_name == table)
        .unwrap();
    let mapping = s
        .client
        .default_import_mapping(t.definition.id)
        .await
        .unwrap();
    let import = s
        .client
        .create_import(&ImportRequest::new(dev))
        .await
        .unwrap();
    let slot = s
        .client
        .create_import_table(&ImportTableRequest::new(
            import.id,
            t.definition.key.clone(),
            mapping.key,
            pattern,
        ))
        .await
        .unwrap();
    s.client
        .upload_table_file(&slot, &UploadBody::bytes(csv.to_owned()))
        .await
        .unwrap();
    s.client.complete_import(import.id, None).await.unwrap();
    let done = s
        .client
        .wait_for_import(import.id, &fast_poll())
        .await
        .unwrap();
    assert_eq!(done.import.status.as_str(), "completed", "{done:?}");
}

#[tokio::test]
async fn incremental_downloads_merge_changes_and_deletes_and_are_idempotent() {
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let target = TableRef::new("dev", "rdmin", "clin_delivery_centre");
    let mut request = download(dev, "rdmin");
    request.tables = Some(vec!["Delivery Centre".into()]);
    s.engine.download(&request).await.unwrap();
    let before = rows(&s.catalog, &target).await;
    let first_mark =
        s.catalog.properties(&target).await.unwrap()[property::HIGH_WATER_MARK].clone();

    import(
        &s,
        "delivery_centre",
        trdm_client::ImportPattern::IncrementalWithDelete,
        "centre_code,centre_name,trdm_tran_code\nDC001,Renamed,u\nDC002,x,d\nDC800,Fresh,i\n",
    )
    .await;

    request.pattern = ExportPattern::Incremental;
    let results = s.engine.download(&request).await.unwrap();
    assert_eq!(results[0].status, TableStatus::Success, "{results:?}");
    assert_eq!(results[0].rows, 3, "only the changed records travel");
    let data = batches(&s.catalog, &target).await;
    let codes = strings(&data, "centre_code");
    assert_eq!(
        codes.len(),
        before + 1 - 1,
        "one added, one deleted, merged not overwritten"
    );
    assert!(codes.contains(&Some("DC800".into())) && !codes.contains(&Some("DC002".into())));
    let names = strings(&data, "centre_name");
    let i = codes
        .iter()
        .position(|c| c.as_deref() == Some("DC001"))
        .unwrap();
    assert_eq!(names[i].as_deref(), Some("Renamed"));
    let second_mark =
        s.catalog.properties(&target).await.unwrap()[property::HIGH_WATER_MARK].clone();
    assert!(
        second_mark > first_mark,
        "the mark moved forward: {first_mark} -> {second_mark}"
    );

    // Applied twice: nothing new, nothing changes, the mark stays.
    let again = s.engine.download(&request).await.unwrap();
    assert_eq!(again[0].rows, 0);
    assert_eq!(
        batches(&s.catalog, &target)
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        codes.len()
    );
    assert_eq!(
        s.catalog.properties(&target).await.unwrap()[property::HIGH_WATER_MARK],
        second_mark
    );
}

#[tokio::test]
async fn history_downloads_hold_every_version() {
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    import(
        &s,
        "delivery_centre",
        trdm_client::ImportPattern::IncrementalUpsertOnly,
        "centre_code,centre_name\nDC001,V2\n",
    )
    .await;
    let mut request = download(dev, "hist");
    request.include_history = true;
    request.tables = Some(vec!["Delivery Centre".into()]);
    let results = s.engine.download(&request).await.unwrap();
    assert_eq!(results[0].rows, 31, "30 seeded versions + 1 new one");
    let data = batches(
        &s.catalog,
        &TableRef::new("dev", "hist", "clin_delivery_centre"),
    )
    .await;
    let states = strings(&data, "trdm_state");
    assert_eq!(
        states.iter().filter(|s| s.as_deref() == Some("H")).count(),
        1
    );
}

#[tokio::test]
async fn a_failed_write_is_reported_on_its_own_table() {
    let s = setup().await;
    let sites = TableRef::new("dev", "rdmin", "clin_sites");
    s.catalog.fail_next_write_to(&sites, "disk full");
    let results = s.engine.download(&download(1, "rdmin")).await.unwrap();
    let statuses: Vec<String> = results
        .iter()
        .map(|r| r.status.as_incumbent_str())
        .collect();
    assert!(
        statuses[0].starts_with("error (write): ") && statuses[0].contains("disk full"),
        "{statuses:?}"
    );
    assert_eq!(results[0].rows, 0);
    assert_eq!(&statuses[1..], ["success", "success"]);
    assert!(!s.catalog.table_exists(&sites).await.unwrap());
}

#[tokio::test]
async fn incremental_history_downloads_close_the_versions_they_supersede() {
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let target = TableRef::new("dev", "hist", "clin_delivery_centre");
    let mut request = download(dev, "hist");
    request.include_history = true;
    request.tables = Some(vec!["Delivery Centre".into()]);
    s.engine.download(&request).await.unwrap();
    import(
        &s,
        "delivery_centre",
        trdm_client::ImportPattern::IncrementalWithDelete,
        "centre_code,centre_name,trdm_tran_code\nDC001,V2,u\nDC002,x,d\n",
    )
    .await;
    request.pattern = ExportPattern::Incremental;
    let results = s.engine.download(&request).await.unwrap();
    assert_eq!(results[0].rows, 2, "{results:?}");
    let data = batches(&s.catalog, &target).await;
    let codes = strings(&data, "centre_code");
    let states = strings(&data, "trdm_state");
    assert_eq!(codes.len(), 32, "30 seeded versions + 2 new ones");
    for code in ["DC001", "DC002"] {
        let versions: Vec<_> = codes
            .iter()
            .zip(&states)
            .filter(|(c, _)| c.as_deref() == Some(code))
            .collect();
        let current = versions
            .iter()
            .filter(|(_, st)| st.as_deref() == Some("C"))
            .count();
        assert_eq!(
            (versions.len(), current),
            (2, 1),
            "{code}: exactly one current version"
        );
    }
    // The closed version ends where its successor starts, exactly as TitanRDM's own history says.
    let theirs = s
        .engine
        .download(&DownloadRequest {
            schema: "hist2".into(),
            pattern: ExportPattern::Full,
            ..request.clone()
        })
        .await
        .unwrap();
    assert_eq!(theirs[0].rows, 32);
    let ours = sorted_history(&data);
    let server = sorted_history(
        &batches(
            &s.catalog,
            &TableRef::new("dev", "hist2", "clin_delivery_centre"),
        )
        .await,
    );
    assert_eq!(
        ours, server,
        "the merged history equals a fresh full history download"
    );
}

fn sorted_history(batches: &[arrow_array::RecordBatch]) -> Vec<String> {
    use arrow_array::{BooleanArray, Int64Array, StringArray, TimestampMicrosecondArray};
    let mut rows: Vec<String> = Vec::new();
    for b in batches {
        let col = |name: &str| b.column_by_name(name).unwrap().clone();
        let (sk, state, to, del) = (
            col("trdm_sk"),
            col("trdm_state"),
            col("trdm_effective_to"),
            col("trdm_is_deleted"),
        );
        let sk = sk.as_any().downcast_ref::<Int64Array>().unwrap();
        let state = state.as_any().downcast_ref::<StringArray>().unwrap();
        let to = to
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        let del = del.as_any().downcast_ref::<BooleanArray>().unwrap();
        for i in 0..b.num_rows() {
            rows.push(format!(
                "{:>6} {} {} {}",
                sk.value(i),
                state.value(i),
                to.value(i),
                del.value(i)
            ));
        }
    }
    rows.sort();
    rows
}

/// Replaces the target's contents and properties as another tool would: same rows, `columns` dropped, the
/// given properties.
async fn rewrite(s: &Setup, target: &TableRef, drop_columns: &[&str], properties: Properties) {
    let data = batches(&s.catalog, target).await;
    let schema = data[0].schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !drop_columns.contains(&schema.field(i).name().as_str()))
        .collect();
    let projected: Vec<RecordBatch> = data.iter().map(|b| b.project(&keep).unwrap()).collect();
    let schema = Arc::new(schema.project(&keep).unwrap());
    s.catalog
        .overwrite(
            target,
            schema,
            Box::pin(futures_util::stream::iter(projected.into_iter().map(Ok))),
            &properties,
        )
        .await
        .unwrap();
}

fn centres(dev: i64) -> (TableRef, DownloadRequest) {
    let mut request = download(dev, "rdmin");
    request.tables = Some(vec!["Delivery Centre".into()]);
    (
        TableRef::new("dev", "rdmin", "clin_delivery_centre"),
        request,
    )
}

const CENTRE_CHANGES: &str =
    "centre_code,centre_name,trdm_tran_code\nDC001,Renamed,u\nDC800,Fresh,i\n";

#[tokio::test]
async fn an_incremental_download_into_a_table_without_sync_state_merges_from_the_mark_given() {
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let (target, mut request) = centres(dev);
    let full = s.engine.download(&request).await.unwrap();
    let before = rows(&s.catalog, &target).await;
    let mark = full[0].high_water_mark.clone().unwrap();
    // Another tool rewrote the table: same rows, no sync state.
    rewrite(&s, &target, &[], Properties::new()).await;
    import(
        &s,
        "delivery_centre",
        trdm_client::ImportPattern::IncrementalWithDelete,
        CENTRE_CHANGES,
    )
    .await;

    request.pattern = ExportPattern::Incremental;
    request.high_water_mark = Some(mark);
    let results = s.engine.download(&request).await.unwrap();
    assert_eq!(results[0].status, TableStatus::Success, "{results:?}");
    assert_eq!((results[0].rows, results[0].note.as_deref()), (2, None));
    assert_eq!(
        rows(&s.catalog, &target).await,
        before + 1,
        "merged into the table, not replaced by its changes"
    );
}

#[tokio::test]
async fn an_incremental_download_with_no_mark_anywhere_replaces_the_table_and_says_so() {
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let (target, mut request) = centres(dev);
    s.engine.download(&request).await.unwrap();
    let before = rows(&s.catalog, &target).await;
    rewrite(&s, &target, &[], Properties::new()).await;

    request.pattern = ExportPattern::Incremental;
    let results = s.engine.download(&request).await.unwrap();
    assert_eq!(results[0].status, TableStatus::Success, "{results:?}");
    assert_eq!(results[0].rows as usize, before);
    let note = results[0].note.clone().unwrap_or_default();
    assert!(note.contains("downloaded in full"), "{note}");
    assert_eq!(rows(&s.catalog, &target).await, before);
}

#[tokio::test]
async fn an_incremental_download_over_another_branchs_table_replaces_it_and_keeps_its_own_mark() {
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let prod = branch(&s.client, "prod").await;
    // dev changes after prod's last change, so dev's mark is the later one.
    import(
        &s,
        "delivery_centre",
        trdm_client::ImportPattern::IncrementalWithDelete,
        CENTRE_CHANGES,
    )
    .await;
    let (target, request) = centres(dev);
    s.engine.download(&request).await.unwrap();
    let (_, mut from_prod) = centres(prod);
    from_prod.schema = "prod_alone".into();
    let prod_alone = s.engine.download(&from_prod).await.unwrap();

    from_prod.schema = "rdmin".into();
    from_prod.pattern = ExportPattern::Incremental;
    let results = s.engine.download(&from_prod).await.unwrap();
    assert_eq!(results[0].status, TableStatus::Success, "{results:?}");
    let note = results[0].note.clone().unwrap_or_default();
    assert!(
        note.contains(&format!("downloaded from branch {dev}")) && note.contains("in full"),
        "{note}"
    );
    let props = s.catalog.properties(&target).await.unwrap();
    assert_eq!(props[property::BRANCH_ID], prod.to_string());
    assert_eq!(
        props.get(property::HIGH_WATER_MARK),
        prod_alone[0].high_water_mark.as_ref(),
        "the mark is prod's own, not the later one of the dev table it replaced"
    );
    assert_eq!(rows(&s.catalog, &target).await, prod_alone[0].rows as usize);
}

#[tokio::test]
async fn an_incremental_download_after_the_columns_changed_replaces_the_table_with_the_new_columns()
{
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let (target, mut request) = centres(dev);
    s.engine.download(&request).await.unwrap();
    let before = rows(&s.catalog, &target).await;
    // The table as an earlier definition (without `capacity`) left it, its sync state intact.
    let mut properties = s.catalog.properties(&target).await.unwrap();
    rewrite(&s, &target, &["capacity"], Properties::new()).await;
    let (old_schema, _) = s.catalog.read(&target).await.unwrap();
    properties.insert(property::COLUMNS.into(), schema_fingerprint(&old_schema));
    rewrite(&s, &target, &[], properties).await;
    import(
        &s,
        "delivery_centre",
        trdm_client::ImportPattern::IncrementalWithDelete,
        CENTRE_CHANGES,
    )
    .await;

    request.pattern = ExportPattern::Incremental;
    let results = s.engine.download(&request).await.unwrap();
    assert_eq!(results[0].status, TableStatus::Success, "{results:?}");
    let note = results[0].note.clone().unwrap_or_default();
    assert!(note.contains("columns changed"), "{note}");
    let (schema, _) = s.catalog.read(&target).await.unwrap();
    let m = manifest(&s.client, dev, "Clinics", None).await.unwrap();
    assert_eq!(schema, export_schema(&m.tables[1].table));
    assert_eq!(rows(&s.catalog, &target).await, before + 1);

    // From then on the table merges again.
    let again = s.engine.download(&request).await.unwrap();
    assert_eq!((again[0].rows, again[0].note.as_deref()), (0, None));
}

#[tokio::test]
async fn a_branch_that_does_not_exist_is_an_error_not_an_empty_sync() {
    let s = setup().await;
    let err = s
        .engine
        .download(&download(9999, "rdmin"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "branch 9999 does not exist");
    assert!(
        !s.catalog.tables().iter().any(|t| t.schema == "rdmin"),
        "nothing was created"
    );
    let err = s.engine.upload(&upload(9999, "rdmout")).await.unwrap_err();
    assert_eq!(err.to_string(), "branch 9999 does not exist");
}

/// Every row of `table` by `trdm_record_id`, as display text (absent table: empty).
async fn snapshot(s: &Setup, table: &TableRef) -> std::collections::BTreeMap<i64, String> {
    use arrow_array::{Array, Int64Array};
    use arrow_cast::display::{ArrayFormatter, FormatOptions};
    let Ok((_, stream)) = s.catalog.read(table).await else {
        return Default::default();
    };
    let data: Vec<RecordBatch> = futures_util::TryStreamExt::try_collect(stream)
        .await
        .unwrap();
    let mut rows = std::collections::BTreeMap::new();
    for b in &data {
        let ids = b
            .column_by_name("trdm_record_id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let options = FormatOptions::default().with_null("<null>");
        // Instants as their microseconds (formatting a named zone would need a time-zone database).
        let columns: Vec<_> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                arrow_schema::DataType::Timestamp(_, Some(_)) => {
                    arrow_cast::cast(c, &arrow_schema::DataType::Int64).unwrap()
                }
                _ => c.clone(),
            })
            .collect();
        let formatters: Vec<_> = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            let text: Vec<String> = formatters.iter().map(|f| f.value(i).to_string()).collect();
            rows.insert(ids.value(i), text.join("|"));
        }
    }
    rows
}

/// Rows gained, changed and lost from `before` to `after`.
fn difference(
    before: &std::collections::BTreeMap<i64, String>,
    after: &std::collections::BTreeMap<i64, String>,
) -> (u64, u64, u64) {
    let gained = after.keys().filter(|k| !before.contains_key(k)).count();
    let lost = before.keys().filter(|k| !after.contains_key(k)).count();
    let changed = after
        .iter()
        .filter(|(k, v)| before.get(k).is_some_and(|b| b != *v))
        .count();
    (gained as u64, changed as u64, lost as u64)
}

#[tokio::test]
async fn a_download_plan_counts_exactly_what_the_download_then_does_and_writes_nothing() {
    let s = setup().await;
    let dev = branch(&s.client, "dev").await;
    let target = TableRef::new("dev", "rdmin", "clin_delivery_centre");
    let mut request = download(dev, "rdmin");
    request.tables = Some(vec!["Delivery Centre".into()]);

    // Into a table that does not exist: every row is gained, and not even the schema is created.
    let planned = s
        .engine
        .download(&DownloadRequest {
            plan_only: true,
            ..request.clone()
        })
        .await
        .unwrap();
    assert_eq!(planned[0].status, TableStatus::Planned, "{planned:?}");
    let plan = planned[0].plan.clone().unwrap();
    assert_eq!((plan.current, plan.inserted, plan.deleted), (0, 30, 0));
    assert!(matches!(
        s.catalog.read(&target).await,
        Err(Error::TableNotFound { .. })
    ));
    s.engine.download(&request).await.unwrap();

    let cases = [
        (
            ExportPattern::Incremental,
            "centre_code,centre_name,trdm_tran_code\nDC001,Renamed,u\nDC002,x,d\nDC800,Fresh,i\n",
        ),
        (
            ExportPattern::Full,
            "centre_code,centre_name,trdm_tran_code\nDC003,Again,u\nDC004,x,d\nDC005,x,d\nDC801,New,i\n",
        ),
    ];
    for (pattern, edits) in cases {
        import(
            &s,
            "delivery_centre",
            trdm_client::ImportPattern::IncrementalWithDelete,
            edits,
        )
        .await;
        request.pattern = pattern;
        let before = snapshot(&s, &target).await;
        let properties = s.catalog.properties(&target).await.unwrap();
        let planned = s
            .engine
            .download(&DownloadRequest {
                plan_only: true,
                ..request.clone()
            })
            .await
            .unwrap();
        assert_eq!(planned[0].status, TableStatus::Planned, "{planned:?}");
        assert_eq!(
            snapshot(&s, &target).await,
            before,
            "{pattern}: a plan writes nothing"
        );
        assert_eq!(s.catalog.properties(&target).await.unwrap(), properties);
        let plan = planned[0].plan.clone().unwrap();

        let done = s.engine.download(&request).await.unwrap();
        assert_eq!(done[0].status, TableStatus::Success, "{done:?}");
        let after = snapshot(&s, &target).await;
        assert_eq!(
            (plan.inserted, plan.updated, plan.deleted),
            difference(&before, &after),
            "{pattern}: {plan:?}"
        );
        assert_eq!(plan.current, before.len() as u64);
        assert!(plan.inserted + plan.updated + plan.deleted > 0);
        // The renamed centre is shown with its old and new name (other rows change only system columns).
        let renamed = plan
            .changes
            .iter()
            .find(|c| {
                c.change == trdm_sync::plan::ChangeKind::Update
                    && c.columns
                        .iter()
                        .any(|c| c.column == "centre_name" && c.old != c.new)
            })
            .unwrap_or_else(|| panic!("{pattern}: the rename is shown: {plan:?}"));
        assert!(
            renamed.key.iter().any(|(k, _)| k == "centre_code")
                && renamed.key.iter().any(|(k, _)| k == "trdm_record_id")
        );
    }
}
