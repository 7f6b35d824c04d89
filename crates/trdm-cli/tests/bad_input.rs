//! The CLI's bad-input corpus: each wrong input or wrong state gets its own clear message and exit code, and
//! changes nothing on either side (the warehouse byte-identical, TitanRDM's exports byte-identical, no
//! import batch), and no secret appears in what it prints.

mod common;
mod support;

use std::sync::Arc;

use arrow_array::BooleanArray;
use common::Server;
use support::{SECRET, Warehouse, replaced, server_state, snapshot, without};
use trdm_sync::catalog::Properties;

/// One bad input: the arguments after `trdm`, the exit code, and what the output must say.
struct Case {
    name: &'static str,
    args: Vec<String>,
    code: i32,
    says: Vec<String>,
}

fn case(name: &'static str, args: &[&str], code: i32, says: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        code,
        says: says.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn every_bad_input_is_a_clear_error_that_changes_nothing_on_either_side() {
    let server = Server::start();
    let warehouse = Warehouse::new();
    let wh = warehouse.path().to_owned();
    let (code, _, out) = server.trdm(&[
        "sync",
        "download",
        "--branch",
        "prod",
        "--catalog",
        "dev",
        "--schema",
        "rdmin",
        "--domain",
        "Clinics",
        "--warehouse",
        &wh,
    ]);
    assert_eq!(code, 0, "{out}");

    // Sources edited the ways users edit them.
    warehouse.copy("clin_sites", "no_phone", Properties::new(), |b| {
        without(b, "phone")
    });
    warehouse.copy("clin_sites", "bool_beds", Properties::new(), |b| {
        let n = b.num_rows();
        replaced(b, "bed_count", Arc::new(BooleanArray::from(vec![true; n])))
    });

    let sync = |command: &str, schema: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "sync",
            command,
            "--branch",
            "prod",
            "--catalog",
            "dev",
            "--schema",
            schema,
            "--domain",
            "Clinics",
            "--warehouse",
            &wh,
            "--poll-interval",
            "0.05",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    };
    let with = |name: &'static str, args: Vec<String>, code: i32, says: &[&str]| Case {
        name,
        args,
        code,
        says: says.iter().map(|s| (*s).to_owned()).collect(),
    };
    let cases = vec![
        case(
            "download from a branch id that does not exist",
            &[
                "sync",
                "download",
                "--branch-id",
                "9999",
                "--catalog",
                "dev",
                "--schema",
                "fresh",
                "--domain",
                "Clinics",
                "--warehouse",
                &wh,
            ],
            2,
            &["branch 9999 does not exist"],
        ),
        case(
            "tables of a branch id that does not exist",
            &["tables", "--branch-id", "9999", "--domain", "Clinics"],
            2,
            &["branch 9999 does not exist"],
        ),
        case(
            "a branch name that does not exist",
            &[
                "sync",
                "download",
                "--branch",
                "nope",
                "--catalog",
                "dev",
                "--schema",
                "fresh",
                "--domain",
                "Clinics",
                "--warehouse",
                &wh,
            ],
            2,
            &["nope"],
        ),
        with(
            "upload from a schema that does not exist",
            sync("upload", "nowhere", &[]),
            2,
            &["no source table exists", "dev.nowhere.clin_sites"],
        ),
        with(
            "a domain that does not exist",
            {
                let mut a = sync("download", "fresh", &[]);
                let i = a.iter().position(|x| x == "Clinics").unwrap();
                a[i] = "Clinic".into();
                a
            },
            2,
            &["Clinic"],
        ),
        with(
            "a table name that does not exist",
            sync("download", "fresh", &["--table", "Sites"]),
            2,
            &["\"Sites\"", "Site, Delivery Centre, Org Unit"],
        ),
        with(
            "a wait too long for any clock",
            sync("download", "fresh", &["--max-wait", "1e30"]),
            2,
            &["--max-wait", "too long"],
        ),
        with(
            "a negative wait",
            sync("download", "fresh", &["--max-wait=-1"]),
            2,
            &["--max-wait", "non-negative"],
        ),
        with(
            "a duration that is not a number",
            sync("download", "fresh", &["--max-wait", "soon"]),
            2,
            &["--max-wait", "not a duration"],
        ),
        with(
            "an unknown upload pattern",
            sync("upload", "rdmin", &["--pattern", "everything"]),
            2,
            &["everything", "incremental_upsert_only"],
        ),
        with(
            "an unknown download pattern",
            sync("download", "fresh", &["--pattern", "everything"]),
            2,
            &["everything"],
        ),
        with(
            "a high-water mark that is not a time",
            sync(
                "download",
                "rdmin",
                &["--pattern", "incremental", "--high-water-mark", "yesterday"],
            ),
            1,
            &["yesterday"],
        ),
        with(
            "a full upload of a table that lacks a nullable column",
            sync("upload", "no_phone", &["--table", "Site"]),
            1,
            &["table sites", "column phone is missing", "NULL"],
        ),
        with(
            "an upsert of a table that lacks a nullable column",
            sync(
                "upload",
                "no_phone",
                &["--table", "Site", "--pattern", "incremental_upsert_only"],
            ),
            1,
            &["table sites", "column phone is missing"],
        ),
        with(
            "a source column whose type no longer matches the definition",
            sync("upload", "bool_beds", &["--table", "Site"]),
            1,
            &["table sites", "column bed_count", "Boolean", "integer"],
        ),
        with(
            "a wrong client secret",
            {
                let mut a = sync("download", "fresh", &[]);
                a.extend(["--client-secret".into(), "not-the-secret-42".into()]);
                a
            },
            2,
            &["invalid_client"],
        ),
        with(
            "a server that is not there",
            {
                let mut a = sync("download", "fresh", &[]);
                a.extend(["--url".into(), "http://127.0.0.1:9".into()]);
                a
            },
            3,
            &["127.0.0.1:9"],
        ),
    ];

    let schemas = ["rdmin", "nowhere", "no_phone", "bool_beds"];
    let warehouse_before = snapshot(warehouse.dir.root());
    let server_before = server_state(&server.url, &schemas);
    assert_eq!(server_before.1, 0);
    for case in &cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let (code, _, out) = server.trdm(&args);
        let name = case.name;
        assert_eq!(code, case.code, "{name}: exit code\n{out}");
        for needle in &case.says {
            assert!(
                out.contains(needle.as_str()),
                "{name}: says {needle:?}\n{out}"
            );
        }
        assert!(
            !out.contains(SECRET) && !out.contains("not-the-secret-42"),
            "{name}: a secret in the output\n{out}"
        );
        assert!(!out.contains("panicked"), "{name}: a panic\n{out}");
        assert!(
            snapshot(warehouse.dir.root()) == warehouse_before,
            "{name}: the warehouse changed"
        );
    }
    assert!(
        server_state(&server.url, &schemas) == server_before,
        "TitanRDM's data or import batches changed"
    );
}
