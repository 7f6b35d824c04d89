//! The CLI end to end with its warehouse in every object store the test command started (moto's S3 and
//! Azurite, see `scripts/object-stores.sh`): the same commands as on a directory, only `--warehouse` is a
//! URL, and the store's credentials come from the environment and never show.

mod common;

use common::{Server, changes, statuses, sync_args};
use trdm_testkit::warehouse::object_store_warehouses;

/// Values of the environment that must never be printed.
fn secrets() -> Vec<String> {
    ["AWS_SECRET_ACCESS_KEY", "AZURE_STORAGE_ACCOUNT_KEY"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .filter(|v| v.len() > 4)
        .collect()
}

#[test]
fn download_plan_and_upload_round_trip_through_a_warehouse_in_every_object_store() {
    for warehouse in object_store_warehouses("cli") {
        let server = Server::start();
        let sync = |command: &str, schema: &str, extra: &[&str]| {
            let args = [sync_args(command, schema, &warehouse), extra.to_vec()].concat();
            let (code, report, out) = server.trdm(&args);
            for secret in secrets() {
                assert!(
                    !out.contains(&secret),
                    "{warehouse}: a secret was printed:\n{out}"
                );
            }
            (code, report, out)
        };

        let (code, report, out) = sync("download", "rdmin", &[]);
        assert_eq!(code, 0, "{warehouse}: {out}");
        assert_eq!(report["warehouse"], format!("{warehouse}/"), "{report}");
        let expected = [
            ("sites".to_owned(), 150, "success".to_owned()),
            ("delivery_centre".to_owned(), 30, "success".to_owned()),
            ("org_unit".to_owned(), 120, "success".to_owned()),
        ];
        assert_eq!(statuses(&report), expected, "{warehouse}");

        // The tables read back: an incremental download merges nothing new, a plan of uploading them finds
        // every record unchanged, and an upload sent anyway changes nothing in TitanRDM.
        let (code, report, out) = sync("download", "rdmin", &["--pattern", "incremental"]);
        assert_eq!(code, 0, "{warehouse}: {out}");
        assert!(
            statuses(&report).iter().all(|(_, _, s)| s == "success"),
            "{warehouse}: {report}"
        );
        let (code, report, out) = sync("upload", "rdmin", &["--plan"]);
        assert_eq!(code, 0, "{warehouse}: {out}");
        for table in report["tables"].as_array().unwrap() {
            let plan = &table["plan"];
            assert_eq!(table["status"], "planned", "{warehouse}: {table}");
            assert_eq!(plan["unchanged"], plan["current"], "{warehouse}: {table}");
        }
        let (code, report, out) = sync(
            "upload",
            "rdmin",
            &["--table", "Site", "--upload-unchanged"],
        );
        assert_eq!(code, 0, "{warehouse}: {out}");
        let site = &report["tables"][0];
        assert_eq!(site["status"], "success", "{warehouse}: {report}");
        assert_eq!(
            changes(site),
            [Some(0), Some(0), Some(0)],
            "{warehouse}: {report}"
        );

        // A source schema that is not there is the call's error, as on a directory.
        let (code, _, out) = sync("upload", "nowhere", &[]);
        assert_eq!(code, 2, "{warehouse}: {out}");
    }
}

#[test]
fn a_warehouse_in_a_bucket_that_does_not_exist_fails_every_table_and_prints_no_secret() {
    for warehouse in object_store_warehouses("cli-missing") {
        let missing = warehouse.replacen("trdm-test", "trdm-no-such-bucket", 1);
        let server = Server::start();
        let args = [
            sync_args("download", "rdmin", &missing),
            vec!["--table", "Site"],
        ]
        .concat();
        let (code, report, out) = server.trdm(&args);
        assert_eq!(code, 1, "{missing}: {out}");
        let (table, _, status) = &statuses(&report)[0];
        assert!(
            table == "sites" && status.starts_with("error"),
            "{missing}: {report}"
        );
        for secret in secrets() {
            assert!(
                !out.contains(&secret),
                "{missing}: a secret was printed:\n{out}"
            );
        }
    }
}

#[test]
fn an_unknown_warehouse_scheme_is_the_calls_error() {
    let server = Server::start();
    let (code, _, out) = server.trdm(&sync_args("download", "rdmin", "ftp://example/warehouse"));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unknown scheme \"ftp\""), "{out}");
}
