//! The Clinics domain downloaded and uploaded through injected faults (429 with `Retry-After`, 503, dropped
//! connections) on every endpoint group, with access tokens that expire every few seconds, compared round by
//! round with the same work against a fault-free emulator: the same data, the same counts, and no duplicate
//! export or import batch from a retried create. `TRDM_SOAK_ROUNDS` sets the rounds (3 by default; the
//! long soak is `TRDM_SOAK_ROUNDS=100 cargo test -p trdm-sync --test it soak`).

use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use trdm_client::{Client, ClientBuilder};
use trdm_emulator::{Emulator, FaultConfig};
use trdm_sync::catalog::{Catalog, InMemoryCatalog, Properties, TableRef};
use trdm_sync::codec::ImportPattern;
use trdm_sync::{SyncEngine, TableStatus};
use trdm_testkit::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, TestEmulator};

use crate::common::*;

struct Side {
    _emulator: Emulator,
    client: Client,
    catalog: InMemoryCatalog,
    engine: SyncEngine,
    _dir: tempfile::TempDir,
}

async fn side(faults: FaultConfig, token_ttl: Duration) -> Side {
    let TestEmulator { emulator, dir } = TestEmulator::start_with(|config| {
        config.token_ttl = token_ttl;
        config.faults = faults;
    })
    .await;
    let client = ClientBuilder::new(emulator.url())
        .with_client_credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        // Refresh only when the token is about to expire, so expiry itself is exercised.
        .with_token_min_ttl(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let catalog = InMemoryCatalog::new();
    let engine = SyncEngine::new(client.clone(), Arc::new(catalog.clone()));
    Side {
        _emulator: emulator,
        client,
        catalog,
        engine,
        _dir: dir,
    }
}

/// Each table's rows as sorted text lines, without the columns a server stamps with its own clock.
async fn contents(catalog: &InMemoryCatalog, schema: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for table in catalog.tables() {
        if table.schema != schema {
            continue;
        }
        let data = batches(catalog, &table).await;
        let mut lines = Vec::new();
        for b in &data {
            let keep: Vec<usize> = (0..b.num_columns())
                .filter(|&i| {
                    let name = b.schema().field(i).name().clone();
                    !matches!(
                        name.as_str(),
                        "trdm_created_at" | "trdm_effective_from" | "trdm_effective_to"
                    )
                })
                .collect();
            let b = b.project(&keep).unwrap();
            for row in 0..b.num_rows() {
                let cells: Vec<String> = b
                    .columns()
                    .iter()
                    .map(|c| {
                        // (Display knows no zone names without chrono-tz: show instants as UTC.)
                        let c = match c.data_type() {
                            arrow_schema::DataType::Timestamp(unit, Some(_)) => {
                                arrow_cast::cast(c, &arrow_schema::DataType::Timestamp(*unit, None))
                                    .unwrap()
                            }
                            _ => c.clone(),
                        };
                        arrow_cast::display::array_value_to_string(&c, row).unwrap()
                    })
                    .collect();
                lines.push(cells.join("|"));
            }
        }
        lines.sort();
        out.push((table.table.clone(), lines));
    }
    out.sort();
    out
}

/// Copies `dev.rdmin.clin_delivery_centre` to `dev.{to}` with one centre renamed.
async fn edited_centres(catalog: &InMemoryCatalog, to: &str, round: usize) {
    let from = TableRef::new("dev", "rdmin", "clin_delivery_centre");
    let data = batches(catalog, &from).await;
    let schema = data[0].schema();
    let name = schema.index_of("centre_name").unwrap();
    let code = schema.index_of("centre_code").unwrap();
    let mut edited: Vec<RecordBatch> = Vec::new();
    for b in data {
        let codes = b
            .column(code)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        let names = b
            .column(name)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        let renamed: arrow_array::StringArray = (0..b.num_rows())
            .map(|i| {
                if codes.value(i) == "DC001" {
                    Some(format!("Soak round {round}"))
                } else {
                    Some(names.value(i).to_owned())
                }
            })
            .collect();
        let mut columns = b.columns().to_vec();
        columns[name] = Arc::new(renamed);
        edited.push(RecordBatch::try_new(schema.clone(), columns).unwrap());
    }
    catalog.create_schema("dev", to).await.unwrap();
    catalog
        .overwrite(
            &TableRef::new("dev", to, "clin_delivery_centre"),
            schema,
            Box::pin(futures_util::stream::iter(edited.into_iter().map(Ok))),
            &Properties::new(),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_through_injected_faults_and_expiring_tokens_match_a_fault_free_run() {
    let rounds: usize = std::env::var("TRDM_SOAK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds {
        let faults = FaultConfig {
            rate: 0.2,
            retry_after: Duration::from_millis(50),
            seed: round as u64,
            ..FaultConfig::default()
        };
        let faulty = side(faults, Duration::from_secs(3)).await;
        let clean = side(FaultConfig::default(), Duration::from_secs(7200)).await;
        let mut results = Vec::new();
        for s in [&faulty, &clean] {
            let dev = branch(&s.client, "dev").await;
            let down = s.engine.download(&download(dev, "rdmin")).await.unwrap();
            assert!(
                down.iter().all(|r| r.status == TableStatus::Success),
                "round {round}: {down:?}"
            );
            edited_centres(&s.catalog, "rdmout", round).await;
            let mut request = upload(dev, "rdmout");
            request.tables = Some(vec!["Delivery Centre".into()]);
            request.pattern = ImportPattern::IncrementalUpsertOnly;
            let up = s.engine.upload(&request).await.unwrap();
            assert_eq!(
                up.import_status.as_deref(),
                Some("completed"),
                "round {round}: {up:?}"
            );
            let r = &up.tables[0];
            assert_eq!(
                (r.inserted, r.updated, r.deleted),
                (Some(0), Some(1), Some(0))
            );
            let again = s.engine.download(&download(dev, "after")).await.unwrap();
            assert!(again.iter().all(|r| r.status == TableStatus::Success));
            // One export per table and download, one import batch: a retried create never made a second.
            for table in ["sites", "delivery_centre", "org_unit"] {
                let exports = s
                    .client
                    .find_exports(&format!("convention-download-{table}"))
                    .await
                    .unwrap();
                assert_eq!(exports.len(), 2, "round {round}, {table}: {exports:?}");
            }
            let imports = s
                .client
                .find_imports("convention-upload-rdmout")
                .await
                .unwrap();
            assert_eq!(imports.len(), 1, "round {round}: {imports:?}");
            results.push((
                contents(&s.catalog, "rdmin").await,
                contents(&s.catalog, "after").await,
            ));
        }
        assert!(
            results[0] == results[1],
            "round {round}: the faulty run's data differs from the fault-free run's"
        );
    }
}
