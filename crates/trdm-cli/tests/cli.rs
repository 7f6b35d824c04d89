//! The `trdm` binary's contract: the ready line, the credentials, graceful shutdown, exit codes.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, changes, emulator_command};

#[test]
fn emulator_prints_ready_line_and_credentials_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = trdm_testkit::process::spawn(&mut emulator_command(dir.path()));
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("listening on http://")
        .expect("first line announces the address");
    assert!(
        url.starts_with("127.0.0.1:") && !url.ends_with(":0"),
        "{first}"
    );
    let creds = lines.next().unwrap().unwrap();
    assert_eq!(
        creds,
        "credentials: client_id=demo-client client_secret=demo-secret scopes=api"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "emulator did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    assert!(
        dir.path().join("e.db.records").exists(),
        "data stays on disk"
    );
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_trdm"))
        .args(["emulator", "--fault-rate", "1.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fault-rate"));
    let out = Command::new(env!("CARGO_BIN_EXE_trdm"))
        .args(["emulator", "--export-delay", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_trdm"))
        .args(["emulator", "--fixture", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}

#[test]
fn sync_download_and_upload_round_trip_through_a_delta_warehouse() {
    let server = Server::start();
    let warehouse = tempfile::tempdir().unwrap();
    let wh = warehouse.path().to_str().unwrap();
    let common = [
        "--branch",
        "prod",
        "--catalog",
        "dev",
        "--domain",
        "Clinics",
        "--warehouse",
        wh,
        "--output",
        "json",
    ];

    let (code, report, out) =
        server.trdm(&[&["sync", "download", "--schema", "rdmin"][..], &common].concat());
    assert_eq!(code, 0, "{out}");
    let tables = report["tables"].as_array().unwrap();
    let rows: Vec<(&str, i64, &str)> = tables
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap(),
                t["rows"].as_i64().unwrap(),
                t["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("sites", 150, "success"),
            ("delivery_centre", 30, "success"),
            ("org_unit", 120, "success")
        ]
    );
    assert!(
        warehouse
            .path()
            .join("dev/rdmin/clin_sites/_delta_log")
            .is_dir(),
        "a Delta table"
    );
    assert!(
        tables[0]["high_water_mark"]
            .as_str()
            .unwrap()
            .ends_with("+00")
    );

    // Uploading the downloaded tables unchanged sends nothing: the plan finds no change.
    let (code, report, out) =
        server.trdm(&[&["sync", "upload", "--schema", "rdmin"][..], &common].concat());
    assert_eq!(code, 0, "{out}");
    assert!(report["import_id"].is_null(), "{report}");
    for t in report["tables"].as_array().unwrap() {
        assert_eq!(t["status"], "skipped (unchanged)", "{t}");
        assert_eq!(t["plan"]["unchanged"], t["rows"], "{t}");
    }
    // Sent anyway, TitanRDM agrees: no versions.
    let (code, report, out) = server.trdm(
        &[
            &["sync", "upload", "--schema", "rdmin", "--upload-unchanged"][..],
            &common,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["import_status"], "completed");
    for t in report["tables"].as_array().unwrap() {
        assert_eq!(changes(t), [Some(0), Some(0), Some(0)], "{t}");
    }

    // An incremental download right after finds nothing new and keeps the rows.
    let (code, report, out) = server.trdm(
        &[
            &[
                "sync",
                "download",
                "--schema",
                "rdmin",
                "--pattern",
                "incremental",
            ][..],
            &common,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["rows"] == 0),
        "{report}"
    );

    // A table failure exits 1: full downloads carry no tran codes, so incremental_with_delete rejects them.
    let (code, report, _) = server.trdm(
        &[
            &[
                "sync",
                "upload",
                "--schema",
                "rdmin",
                "--pattern",
                "incremental_with_delete",
                "--table",
                "Site",
            ][..],
            &common,
        ]
        .concat(),
    );
    assert_eq!(code, 1);
    let status = report["tables"][0]["status"].as_str().unwrap();
    assert!(
        status.starts_with("error: ") && status.contains("trdm_tran_code"),
        "{status}"
    );
    assert!(report["import_id"].is_null(), "nothing was sent");

    // Usage errors exit 2 and say what is valid.
    let (code, _, out) = server.trdm(
        &[
            &["sync", "download", "--schema", "x", "--table", "Nope"][..],
            &common,
        ]
        .concat(),
    );
    assert_eq!(code, 2);
    assert!(out.contains("Site, Delivery Centre, Org Unit"), "{out}");
    let (code, _, out) = server.trdm(&["sync", "upload", "--catalog", "dev"]);
    assert_eq!(code, 2, "{out}");

    let (code, tables, _) = server.trdm(&[
        "tables", "--branch", "prod", "--domain", "Clinics", "--output", "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(tables[0]["convention_name"], "clin_sites");
    let (code, _, out) = server.trdm(&["branches"]);
    assert_eq!(code, 0);
    assert!(out.contains("prod") && out.contains("dev"));
    assert!(
        !out.contains("demo-secret"),
        "secrets never appear in output"
    );
}

#[test]
fn demo_runs_the_whole_flow() {
    let warehouse = tempfile::tempdir().unwrap();
    // Outside the repository, as an installed binary runs: the fixture is built in.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trdm"))
        .current_dir(elsewhere.path())
        .args(["demo", "--warehouse"])
        .arg(warehouse.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("import 1 completed"), "{stdout}");
    assert!(
        stdout.contains("(+0 ~1 -1)"),
        "one rename and one deletion in sites: {stdout}"
    );
    assert!(stdout.contains("tran=d"), "{stdout}");
    assert!(
        warehouse
            .path()
            .join("dev/rdmout/clin_sites/_delta_log")
            .is_dir()
    );
}
