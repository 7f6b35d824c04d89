//! Branches, domains, deployed tables, import mappings; lookups that miss; pagination.

use trdm_client::{Error, ImportRequest};

use crate::common::{Action, Env, Proxy, builder};

#[tokio::test]
async fn branches_domains_tables_and_mappings() {
    let env = Env::start().await;
    let c = &env.client;

    let branches = c.branches().await.unwrap();
    assert_eq!(
        branches.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["prod", "dev"]
    );
    let dev = c.branch_by_name("dev", None).await.unwrap();
    assert_eq!(
        (
            dev.branch_type.as_deref(),
            dev.parent_branch_name.as_deref()
        ),
        (Some("private"), Some("prod"))
    );
    assert_eq!(
        (dev.owner_id, dev.owner_email.as_deref()),
        (Some(1), Some("developer@clinics.example"))
    );
    assert!(dev.is_default_dev_branch && dev.created_at.is_some());
    assert_eq!(c.branch(dev.id).await.unwrap(), dev);
    assert_eq!(c.branch_by_name("dev", Some(1)).await.unwrap().id, dev.id);
    let missing = c.branch_by_name("dev", Some(99)).await.unwrap_err();
    assert!(
        matches!(&missing, Error::NotFound { message } if message.contains("owned by user 99")),
        "{missing}"
    );
    assert!(matches!(
        c.branch_by_name("nope", None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(c.branch(9999).await, Err(Error::NotFound { .. })));

    let domains = c.domains().await.unwrap();
    assert_eq!(domains.len(), 1);
    let clinics = c.domain_by_name("Clinics").await.unwrap();
    assert_eq!(clinics.abbreviation.as_deref(), Some("clin"));
    assert_eq!(c.domain(clinics.id).await.unwrap(), clinics);
    assert!(
        matches!(
            c.domain_by_name("clinics").await,
            Err(Error::NotFound { .. })
        ),
        "names match exactly"
    );

    let tables = c.deployed_table_definitions(dev.id, None).await.unwrap();
    assert_eq!(tables.len(), 3);
    assert_eq!(
        c.deployed_table_definitions(dev.id, Some(clinics.id))
            .await
            .unwrap(),
        tables
    );
    let sites = tables
        .iter()
        .find(|t| t.database_table_name == "sites")
        .unwrap();
    assert_eq!(
        (
            sites.name.as_str(),
            sites.domain_abbreviation.as_deref(),
            sites.branch_id
        ),
        ("Site", Some("clin"), Some(dev.id))
    );
    assert_eq!(sites.primary_key_columns(), ["site_code"]);
    assert!(sites.columns.iter().any(|col| col.name == "annual_budget"
        && col.data_type == "decimal"
        && col.scale == Some(2)));
    let looked_up = c
        .deployed_table_definition(&sites.key, dev.id)
        .await
        .unwrap();
    assert_eq!(&looked_up, sites);
    assert!(matches!(
        c.deployed_table_definition("no-such-key", dev.id).await,
        Err(Error::NotFound { .. })
    ));
    let empty_key = c.deployed_table_definition("", dev.id).await.unwrap_err();
    assert!(
        matches!(&empty_key, Error::Validation { message } if message.contains("key is required")),
        "{empty_key}"
    );

    let mapping = c.default_import_mapping(sites.id).await.unwrap();
    assert!(mapping.is_default && !mapping.key.is_empty());
    assert_eq!(mapping.table_definition_id, Some(sites.id));
    assert!(mapping.mapping_config.is_object());
    assert_eq!(
        c.import_mapping_by_key(sites.id, &mapping.key)
            .await
            .unwrap(),
        mapping
    );
    let wrong = c.import_mapping_by_key(sites.id, "nope").await.unwrap_err();
    assert!(
        matches!(&wrong, Error::NotFound { message } if message.contains("\"nope\"")),
        "{wrong}"
    );
}

#[tokio::test]
async fn lists_follow_pagination_across_pages() {
    let env = Env::start().await;
    let one_per_page = env.builder().with_page_size(1).build().unwrap();
    let proxy = Proxy::start(env.url(), |_, _| Action::Forward).await;
    let through_proxy = builder(&proxy.url).with_page_size(1).build().unwrap();

    assert_eq!(
        one_per_page.branches().await.unwrap(),
        env.client.branches().await.unwrap()
    );
    let prod = env.client.branch_by_name("prod", None).await.unwrap();
    let all = env
        .client
        .deployed_table_definitions(prod.id, None)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        through_proxy
            .deployed_table_definitions(prod.id, None)
            .await
            .unwrap(),
        all
    );
    assert_eq!(
        proxy.count("GET /api/v1/deployed_table_definitions"),
        3,
        "three pages of one"
    );

    // Five imports with one correlation code: found across five pages.
    for _ in 0..5 {
        env.client
            .create_import(&ImportRequest::new(prod.id).with_correlation_code("paged"))
            .await
            .unwrap();
    }
    let found = one_per_page.find_imports("paged").await.unwrap();
    assert_eq!(found.len(), 5);
    assert!(found.windows(2).all(|w| w[0].id < w[1].id));
}

#[tokio::test]
async fn several_branches_with_one_name_are_ambiguous() {
    let env = Env::start().await;
    let two_devs = r#"{"data":[{"id":2,"name":"dev","owner":{"id":1,"email":"a@x"}},{"id":3,"name":"dev","owner_id":2}],
                      "meta":{"page":1,"per_page":100,"total_count":2,"total_pages":1}}"#;
    let proxy = Proxy::start(env.url(), move |method, path| match (method, path) {
        ("GET", "/api/v1/branches") => Action::Respond(200, two_devs.into()),
        _ => Action::Forward,
    })
    .await;
    let c = builder(&proxy.url).build().unwrap();
    let err = c.branch_by_name("dev", None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Ambiguous { message } if message.contains("2 matches") && message.contains("owner_id")),
        "{err}"
    );
    assert_eq!(c.branch_by_name("dev", Some(2)).await.unwrap().id, 3);
}

#[tokio::test]
async fn a_read_only_application_is_denied_writes() {
    let env = Env::start().await;
    let reader = env
        .builder()
        .with_client_credentials("reader-client", "reader-secret")
        .build()
        .unwrap();
    assert_eq!(reader.branches().await.unwrap().len(), 2);
    let err = reader
        .create_import(&ImportRequest::new(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PermissionDenied { message } if message.contains("api:write")),
        "{err}"
    );
    assert_eq!(err.status(), Some(403));
}
