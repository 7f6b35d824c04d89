//! The seed's example as CLI calls against a Spark cluster over Spark Connect: download the Clinics domain
//! from `prod` into `dev.rdmin`, then upload table `Site` from `dev.rdmout` back, with `--spark` instead of
//! `--warehouse`. The server is the one `TRDM_SPARK_CONNECT_URL` names (Delta + Unity Catalog `dev`,
//! started by the `connect-rust` lane of `python/scripts/lanes.sh`); without it these tests do nothing,
//! unless `TRDM_REQUIRE_SPARK_CONNECT` is set, when they fail. The connection string carries a token and a
//! Databricks cluster id (a local server ignores both), which must show nowhere.
//!
//! The tests that need no server (a bad connection string, a server that is not there) always run.

mod common;

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use common::{Server, changes, statuses, sync_args};
use futures_util::{StreamExt as _, TryStreamExt as _};
use trdm_catalog_spark_connect::{SparkConnectCatalog, SparkRemote};
use trdm_sync::{Catalog, TableRef};

const TOKEN: &str = "dapiCLITOKEN0123456789";
const CLUSTER: &str = "0707-070707-cliclust";

fn server_url() -> Option<String> {
    match std::env::var("TRDM_SPARK_CONNECT_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            assert!(
                std::env::var_os("TRDM_REQUIRE_SPARK_CONNECT").is_none(),
                "TRDM_REQUIRE_SPARK_CONNECT is set but TRDM_SPARK_CONNECT_URL names no server"
            );
            None
        }
    }
}

/// `--spark` instead of `--warehouse` in the common arguments.
fn spark_args<'a>(command: &'a str, schema: &'a str, remote: &'a str) -> Vec<&'a str> {
    let mut args = sync_args(command, schema, remote);
    let at = args.iter().position(|a| *a == "--warehouse").unwrap();
    args[at] = "--spark";
    args
}

fn assert_hidden(out: &str) {
    assert!(
        !out.contains(TOKEN) && !out.contains(CLUSTER),
        "a secret was printed:\n{out}"
    );
}

/// The tests that need the server (the `connect-rust` lane selects them by this module's name).
mod connect_lane {
    use super::*;

    /// Renames the site with the smallest record id in `dev.rdmout.clin_sites`, as a user would in the cluster
    /// before an upload; returns its new name.
    async fn rename_a_site(url: &str) -> String {
        let catalog = SparkConnectCatalog::connect(SparkRemote::parse(url).unwrap())
            .await
            .unwrap();
        let table = TableRef::new("dev", "rdmout", "clin_sites");
        let properties = catalog.properties(&table).await.unwrap();
        let (schema, batches) = catalog.read(&table).await.unwrap();
        let batches: Vec<RecordBatch> = batches.try_collect().await.unwrap();
        let name_at = schema.index_of("site_name").unwrap();
        let renamed = "Renamed over Spark Connect".to_owned();
        let mut done = false;
        let edited: Vec<RecordBatch> = batches
            .into_iter()
            .map(|b| {
                let names = b.column(name_at).as_string::<i32>();
                let new: StringArray = (0..b.num_rows())
                    .map(|i| {
                        if !done && names.is_valid(i) {
                            done = true;
                            Some(renamed.as_str())
                        } else {
                            names.is_valid(i).then(|| names.value(i))
                        }
                    })
                    .collect();
                let mut columns = b.columns().to_vec();
                columns[name_at] = Arc::new(new) as ArrayRef;
                RecordBatch::try_new(b.schema(), columns).unwrap()
            })
            .collect();
        assert!(done, "no site to rename");
        let data = futures_util::stream::iter(edited.into_iter().map(Ok)).boxed();
        catalog
            .overwrite(&table, schema, data, &properties)
            .await
            .unwrap();
        renamed
    }

    #[test]
    fn the_seeds_example_runs_end_to_end_through_spark_connect_and_prints_no_secret() {
        let Some(url) = server_url() else {
            return;
        };
        let remote = format!("{url}/;token={TOKEN};x-databricks-cluster-id={CLUSTER}");
        let server = Server::start();
        let sync = |command: &str, schema: &str, extra: &[&str]| {
            let args = [spark_args(command, schema, &remote), extra.to_vec()].concat();
            let (code, report, out) = server.trdm(&args);
            assert_hidden(&out);
            (code, report, out)
        };

        // download_sync_by_convention(target_catalog="dev", target_schema="rdmin", source_domain_name="Clinics")
        let (code, report, out) = sync("download", "rdmin", &[]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            report["warehouse"],
            format!("{url}/;token=<redacted>;x-databricks-cluster-id=<redacted>"),
            "{report}"
        );
        let expected = [
            ("sites".to_owned(), 150, "success".to_owned()),
            ("delivery_centre".to_owned(), 30, "success".to_owned()),
            ("org_unit".to_owned(), 120, "success".to_owned()),
        ];
        assert_eq!(statuses(&report), expected, "{report}");

        // Again, incrementally: a MERGE of nothing new into each table, by the mark stored with it.
        let (code, report, out) = sync("download", "rdmin", &["--pattern", "incremental"]);
        assert_eq!(code, 0, "{out}");
        assert!(
            statuses(&report).iter().all(|(_, _, s)| s == "success"),
            "{report}"
        );

        // dev.rdmout: the same tables, one site renamed in the cluster.
        let (code, _, out) = sync("download", "rdmout", &[]);
        assert_eq!(code, 0, "{out}");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let renamed = runtime.block_on(rename_a_site(&url));

        // upload_sync_by_convention(source_catalog="dev", source_schema="rdmout", target_domain_name="Clinics",
        // target_table_names=["Site"]): the plan finds the rename, the upload applies exactly it.
        let (code, report, out) = sync("upload", "rdmout", &["--table", "Site", "--plan"]);
        assert_eq!(code, 0, "{out}");
        let plan = &report["tables"][0]["plan"];
        assert_eq!(changes(plan), [Some(0), Some(1), Some(0)], "{report}");
        let (code, report, out) = sync("upload", "rdmout", &["--table", "Site"]);
        assert_eq!(code, 0, "{out}");
        let site = &report["tables"][0];
        assert_eq!(site["status"], "success", "{report}");
        assert_eq!(changes(site), [Some(0), Some(1), Some(0)], "{report}");
        assert_eq!(report["import_status"], "completed", "{report}");

        // TitanRDM has the new name: a fresh download into rdmin carries it.
        let (code, _, out) = sync("download", "rdmin", &["--table", "Site"]);
        assert_eq!(code, 0, "{out}");
        let names = runtime.block_on(async {
            let catalog = SparkConnectCatalog::connect(SparkRemote::parse(&url).unwrap())
                .await
                .unwrap();
            let (_, batches) = catalog
                .read(&TableRef::new("dev", "rdmin", "clin_sites"))
                .await
                .unwrap();
            let batches: Vec<RecordBatch> = batches.try_collect().await.unwrap();
            batches
                .iter()
                .flat_map(|b| {
                    let names = b.column_by_name("site_name").unwrap().as_string::<i32>();
                    names
                        .iter()
                        .flatten()
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        });
        assert!(names.contains(&renamed), "{names:?}");

        // A source schema that is not there is the call's error, as with a warehouse.
        let (code, _, out) = sync("upload", "nowhere", &[]);
        assert_eq!(code, 2, "{out}");
    }
}

#[test]
fn a_bad_connection_string_is_the_calls_error_and_is_not_echoed() {
    let server = Server::start();
    for (remote, why) in [
        (
            format!("https://example.invalid/;token={TOKEN}"),
            "does not start with sc://",
        ),
        (
            format!("sc://127.0.0.1:99999/;token={TOKEN};x-databricks-cluster-id={CLUSTER}"),
            "the port is not a number",
        ),
        (format!("sc://127.0.0.1/;{TOKEN}"), "parameter 1 has no `=`"),
    ] {
        let (code, _, out) = server.trdm(&spark_args("download", "rdmin", &remote));
        assert_eq!(code, 2, "{out}");
        assert!(out.contains(why), "{out}");
        assert_hidden(&out);
    }
}

#[test]
fn a_spark_server_that_is_not_there_fails_the_call_without_printing_the_token() {
    let server = Server::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let remote = format!("sc://127.0.0.1:{port}/;token={TOKEN};x-databricks-cluster-id={CLUSTER}");
    // From the environment too, as TRDM_SPARK_REMOTE.
    let args = sync_args("download", "rdmin", "./unused");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trdm"))
        .args(&args)
        .env("TITAN_URL", &server.url)
        .env("TITAN_CLIENT_ID", trdm_testkit::DEMO_CLIENT_ID)
        .env("TITAN_CLIENT_SECRET", trdm_testkit::DEMO_CLIENT_SECRET)
        .env("TRDM_SPARK_REMOTE", &remote)
        .env("TRDM_LOG", "debug")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!("sc://127.0.0.1:{port}/;token=<redacted>")),
        "the error names the server: {text}"
    );
    assert_hidden(&text);

    // --help never shows the variable's value either.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_trdm"))
        .args(["sync", "download", "--help"])
        .env("TRDM_SPARK_REMOTE", &remote)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("TRDM_SPARK_REMOTE"), "{help}");
    assert_hidden(&help);
}
