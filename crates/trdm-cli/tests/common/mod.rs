//! What the CLI's test binaries share: a `trdm emulator` child process serving the Clinics fixture, and the
//! `trdm` binary run against it.

#![allow(dead_code, unreachable_pub)]

use std::process::{Command, Stdio};

use trdm_testkit::process::{self, EmulatorProcess};
use trdm_testkit::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, fixture};

/// `trdm emulator` with the Clinics fixture, its database in `dir`, on a free port (stderr discarded).
pub fn emulator_command(dir: &std::path::Path) -> Command {
    let mut command = process::emulator_command(
        env!("CARGO_BIN_EXE_trdm").as_ref(),
        &fixture::clinics(),
        &dir.join("e.db"),
    );
    command.stderr(Stdio::null());
    command
}

/// A running `trdm emulator` child process; killed on drop.
pub struct Server {
    pub process: EmulatorProcess,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let process = EmulatorProcess::start(emulator_command(dir.path()));
        Server {
            url: process.url.clone(),
            process,
            _dir: dir,
        }
    }

    pub fn trdm(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_trdm"))
            .args(args)
            .env("TITAN_URL", &self.url)
            .env("TITAN_CLIENT_ID", DEMO_CLIENT_ID)
            .env("TITAN_CLIENT_SECRET", DEMO_CLIENT_SECRET)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
        (
            out.status.code().unwrap_or(-1),
            json,
            String::from_utf8_lossy(&out.stderr).into_owned() + &stdout,
        )
    }
}

/// `trdm sync COMMAND` of the Clinics domain on branch prod, catalog `dev`, fast polling, `--output json`.
pub fn sync_args<'a>(command: &'a str, schema: &'a str, warehouse: &'a str) -> Vec<&'a str> {
    vec![
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
        warehouse,
        "--poll-interval",
        "0.05",
        "--output",
        "json",
    ]
}

/// `[inserted, updated, deleted]` of a table in a sync report, or of its `plan`.
pub fn changes(table: &serde_json::Value) -> [Option<i64>; 3] {
    ["inserted", "updated", "deleted"].map(|k| table[k].as_i64())
}

/// `(table, rows, status)` of every table in a sync report (`-1` rows where the report has none).
pub fn statuses(report: &serde_json::Value) -> Vec<(String, i64, String)> {
    report["tables"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap_or_default().to_owned(),
                t["rows"].as_i64().unwrap_or(-1),
                t["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
