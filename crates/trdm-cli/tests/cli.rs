//! The `trdm` binary's contract: the ready line, the credentials, graceful shutdown, exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture() -> String {
    format!("{}/../../fixtures/clinics.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn emulator_prints_ready_line_and_credentials_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trdm"))
        .args([
            "emulator",
            "--fixture",
            &fixture(),
            "--listen",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(dir.path().join("e.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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
