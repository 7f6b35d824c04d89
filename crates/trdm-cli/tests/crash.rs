//! Crash safety: `trdm sync` killed with SIGKILL at seeded random moments of a download and of an upload,
//! then run again. A killed download leaves every target table at its old state or its new one, never
//! between, and the rerun reaches exactly the state of an uninterrupted run (so the high-water mark skipped
//! nothing). A killed upload's rerun leaves TitanRDM with exactly the versions an uninterrupted upload makes,
//! and a batch the killed run left open is closed by the rerun, which says so.

mod common;
mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::StringArray;
use common::{Server, sync_args};
use support::{Warehouse, copy_dir, history, runtime, tables};
use trdm_sync::catalog::Properties;

/// Kill points per scenario.
const POINTS: u64 = 20;

/// A small deterministic generator (SplitMix64), so every run kills at the same moments.
struct Seeded(u64);

impl Seeded {
    fn next_fraction(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `trdm` with `args` against `server`, SIGKILLs it after `after` (if it is still running); whether it
/// was killed.
fn run_and_kill(server: &Server, args: &[&str], after: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trdm"))
        .args(args)
        .env("TITAN_URL", &server.url)
        .env("TITAN_CLIENT_ID", "demo-client")
        .env("TITAN_CLIENT_SECRET", "demo-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = child.try_wait().unwrap().is_none();
    child.kill().unwrap_or(()); // SIGKILL on Unix
    child.wait().unwrap();
    killed
}

/// Runs `trdm` to the end; exit code and JSON output.
fn run(server: &Server, args: &[&str]) -> (i32, serde_json::Value) {
    let (code, json, out) = server.trdm(args);
    assert_eq!(code, 0, "{out}");
    (code, json)
}

fn timed(server: &Server, args: &[&str]) -> Duration {
    let started = Instant::now();
    run(server, args);
    started.elapsed()
}

/// `dev.rdmin.*` copied to `dev.{to}.*` with every tenth centre, org unit and site renamed to `name`.
fn edited_sources(warehouse: &Warehouse, to: &str, name: &str) {
    for (table, column) in [
        ("clin_delivery_centre", "centre_name"),
        ("clin_org_unit", "name"),
        ("clin_sites", "site_name"),
    ] {
        let name = name.to_owned();
        warehouse.copy(table, to, Properties::new(), move |b| {
            let values = b
                .column_by_name(column)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            let renamed: StringArray = (0..b.num_rows())
                .map(|i| {
                    Some(if i % 10 == 0 {
                        name.clone()
                    } else {
                        values.value(i).to_owned()
                    })
                })
                .collect();
            support::replaced(b, column, Arc::new(renamed))
        });
    }
}

#[test]
fn a_download_killed_at_any_moment_leaves_each_table_old_or_new_and_the_rerun_completes_it() {
    let server = Server::start();
    let base = Warehouse::new();
    let wh = base.path().to_owned();
    run(&server, &sync_args("download", "rdmin", &wh));
    let old = tables(base.dir.root(), "rdmin");
    // TitanRDM changes: a tenth of each table renamed through an upload.
    edited_sources(&base, "rdmout", "Renamed while nobody looked");
    let mut upload = sync_args("upload", "rdmout", &wh);
    upload.extend(["--pattern", "incremental_upsert_only"]);
    run(&server, &upload);

    let incremental = |warehouse: &str| -> Vec<String> {
        let mut args: Vec<String> = sync_args("download", "rdmin", warehouse)
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
        args.extend(["--pattern".into(), "incremental".into()]);
        args
    };
    // How long an uninterrupted run takes: the shortest of three, each on a fresh copy, so that the kill
    // points fall inside the runs even when one timing was slowed by a busy machine.
    let reference = tempfile::tempdir().unwrap();
    let mut uninterrupted = Duration::MAX;
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(reference.path());
        std::fs::create_dir_all(reference.path()).unwrap();
        copy_dir(base.dir.root(), reference.path());
        let args = incremental(reference.path().to_str().unwrap());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        uninterrupted = uninterrupted.min(timed(&server, &args));
    }
    let new = tables(reference.path(), "rdmin");
    assert_ne!(old, new, "the incremental download changed the tables");

    let mut seeded = Seeded(7);
    let mut killed = 0;
    for point in 0..POINTS {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.dir.root(), dir.path());
        let args = incremental(dir.path().to_str().unwrap());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let after = uninterrupted.mul_f64(seeded.next_fraction() * 1.2);
        killed += u64::from(run_and_kill(&server, &args, after));
        let now = tables(dir.path(), "rdmin");
        for (i, table) in now.iter().enumerate() {
            assert!(
                *table == old[i] || *table == new[i],
                "point {point} ({after:?}): {} is neither old nor new",
                table.0
            );
        }
        run(&server, &args);
        assert_eq!(
            tables(dir.path(), "rdmin"),
            new,
            "point {point}: the rerun did not reach the uninterrupted state"
        );
    }
    assert!(
        killed >= POINTS / 2,
        "only {killed} runs were killed in flight"
    );
}

/// Whether the newest batch of the convention upload from `schema` is still open; its id.
fn open_batch(server: &Server, schema: &str) -> Option<i64> {
    runtime().block_on(async {
        let client = support::client(&server.url).await;
        let newest = client
            .newest_import(&format!("convention-upload-{schema}"))
            .await
            .unwrap()?;
        (newest.status == trdm_client::ImportStatus::Created).then_some(newest.id)
    })
}

#[test]
fn an_upload_killed_at_any_moment_and_rerun_applies_the_work_exactly_once() {
    // The sources, written once: downloaded from a first server (every server starts from the same
    // fixture) and edited.
    let sources = Warehouse::new();
    let wh = sources.path().to_owned();
    {
        let server = Server::start();
        run(&server, &sync_args("download", "rdmin", &wh));
    }
    edited_sources(&sources, "rdmout", "Renamed by the upload");
    let upload = sync_args("upload", "rdmout", &wh);

    let reference = Server::start();
    let mut uninterrupted = timed(&reference, &upload);
    let expected = history(&reference.url);
    for _ in 0..2 {
        // The shortest of three timings (see the download test).
        uninterrupted = uninterrupted.min(timed(&Server::start(), &upload));
    }

    let mut seeded = Seeded(11);
    let (mut killed, mut abandoned) = (0, 0);
    for point in 0..POINTS {
        let server = Server::start();
        let after = uninterrupted.mul_f64(seeded.next_fraction() * 1.2);
        killed += u64::from(run_and_kill(&server, &upload, after));
        let left_open = open_batch(&server, "rdmout");
        let (_, report) = run(&server, &upload);
        // The rerun sends what is not in place yet; when the killed run had applied everything, nothing.
        let all_in_place = report["import_id"].is_null()
            && report["tables"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["status"] == "skipped (unchanged)");
        assert!(
            report["import_status"] == "completed" || all_in_place,
            "point {point}: {report}"
        );
        assert_eq!(
            report["abandoned_import_id"].as_i64(),
            left_open,
            "point {point}: the rerun must close the batch the killed run left open, and say so"
        );
        abandoned += u64::from(left_open.is_some());
        assert!(
            history(&server.url) == expected,
            "point {point} ({after:?}): TitanRDM's versions differ from an uninterrupted upload's"
        );
        assert_eq!(open_batch(&server, "rdmout"), None);
    }
    assert!(
        killed >= POINTS / 2,
        "only {killed} runs were killed in flight"
    );
    assert!(abandoned > 0, "no kill landed while a batch was open");
}
