//! What the CLI's test binaries share: the Clinics fixture and a `trdm emulator` child process.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

pub fn fixture() -> String {
    format!("{}/../../fixtures/clinics.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Starts `trdm emulator` with the Clinics fixture, its database in `dir`, on a free port; returns the child
/// and its stdout lines.
pub fn spawn_emulator(
    dir: &std::path::Path,
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trdm"))
        .args([
            "emulator",
            "--fixture",
            &fixture(),
            "--listen",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(dir.join("e.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// A running `trdm emulator` child process; killed on drop.
pub struct Server {
    pub child: std::process::Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (child, mut lines) = spawn_emulator(dir.path());
        let url = lines
            .next()
            .unwrap()
            .unwrap()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        std::thread::spawn(move || lines.for_each(drop));
        Server {
            child,
            url,
            _dir: dir,
        }
    }

    pub fn trdm(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_trdm"))
            .args(args)
            .env("TITAN_URL", &self.url)
            .env("TITAN_CLIENT_ID", "demo-client")
            .env("TITAN_CLIENT_SECRET", "demo-secret")
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

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
