//! Sync benchmark: `trdm sync download` of one N-row × 12 mixed-type column table into the embedded Delta
//! warehouse, against a separate `trdm emulator` process, compared in the same run with the machine limit.
//!
//! The emulator serves the bench fixture with N imported rows. The measured command is the release CLI, run
//! as a child process exactly as a user would (credentials from the environment):
//!
//! `trdm sync download --branch prod --catalog dev --schema rdmin --domain Bench --warehouse DIR
//!  --output json --no-progress --poll-interval 0.05`
//!
//! timed wall-clock from spawn to exit, so it includes process start, the token, the manifest, the export
//! the server prepares, the HTTP transfer, CSV decoding and the Delta write and commit. Median of 3 runs,
//! each into a fresh warehouse; its JSON must say `success` with N rows. Peak RSS is the child's own
//! (`/usr/bin/time -v` when present, else `VmHWM` polled from `/proc`).
//!
//! The machine limit uses the same bytes: the export file is fetched once from its `download_url` (as the
//! engine does) into a temporary file, and the limit is reading that file with arrow-csv into the Arrow
//! schema the engine uses (`trdm_sync::schema::export_schema` of the table's deployed definition) and
//! writing every batch with parquet's `ArrowWriter` (Snappy, Delta's default codec) to a file. Nothing
//! else: no HTTP, no value checks, no Delta log, one thread. Median of 3.
//!
//! Then the downloaded table is uploaded back three ways ([`UPLOADS`]): planned only (`--plan`), sent without
//! the upload checks (no plan), and sent after its plan (the default checks): the plan's time and memory
//! beside the upload's own.
//!
//! `SYNC_BENCH_RUNS=N` sets the repetitions (3). `SYNC_BENCH_WAREHOUSES="s3://bucket/prefix …"` also
//! downloads into those object stores (their endpoints and credentials in the environment, e.g. from
//! `scripts/object-stores.sh start DIR`); `SYNC_BENCH_SPARK_CONNECT=sc://HOST:PORT` also downloads into that
//! Spark Connect server (`--spark`, table `dev.rdmin.b_wide`, replaced by each run; e.g. the one
//! `python/lanes/connect_server.py` starts with Delta and Unity Catalog `dev`); `SYNC_BENCH_UPLOADS=0` skips the uploads (for the largest sizes).
//! With several sizes, the report ends with how peak RSS grew.
//!
//! Usage: `target/release/sync-bench [ROWS ...]` (default 1000000); build first with
//! `cargo build --release -p trdm-cli -p trdm-bench`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value;
use trdm_bench::{
    Api, CLIENT_ID, CLIENT_SECRET, peak_rss_mib, start_server, trdm_binary, write_csv,
};

/// Timed repetitions of each side, `SYNC_BENCH_RUNS` or 3; the median is reported.
fn runs() -> usize {
    std::env::var("SYNC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}
/// Rows per Arrow batch on the limit side (the engine's batch size).
const BATCH_ROWS: usize = 8192;
const GNU_TIME: &str = "/usr/bin/time";

struct Measured {
    rows: u64,
    export_bytes: u64,
    server_export_s: f64,
    sync_s: Vec<f64>,
    sync_rss_mib: f64,
    delta_bytes: u64,
    limit_s: Vec<f64>,
    limit_bytes: u64,
    /// Per [`UPLOADS`] scenario: seconds of each run, peak RSS (none under `SYNC_BENCH_UPLOADS=0`).
    uploads: Vec<(Vec<f64>, f64)>,
    /// Per object-store warehouse root (`SYNC_BENCH_WAREHOUSES`): seconds of each download, peak RSS.
    stores: Vec<(String, Vec<f64>, f64)>,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One `trdm sync download` into `warehouse`: wall-clock seconds and the child's peak RSS in MiB.
fn sync_download(
    trdm: &Path,
    url: &str,
    target: Target<'_>,
    rows: u64,
    scratch: &Path,
) -> (f64, f64) {
    let (elapsed, rss, result) = run_trdm(trdm, url, "download", target, &[], scratch);
    let table = &result["tables"][0];
    assert_eq!(
        result["tables"].as_array().map(Vec::len),
        Some(1),
        "{result}"
    );
    assert_eq!(table["status"], "success", "{result}");
    assert_eq!(table["rows"], rows, "{result}");
    (elapsed, rss)
}

/// Where `dev.rdmin` is: `("--warehouse", DIR or URL)` or `("--spark", sc://…)`.
type Target<'a> = (&'a str, &'a OsStr);

/// One `trdm sync {command}` of the Bench domain with `dev.rdmin` in `target`, plus `extra` flags:
/// wall-clock seconds, the child's peak RSS in MiB and its JSON output. Panics when it fails.
fn run_trdm(
    trdm: &Path,
    url: &str,
    command_name: &str,
    target: Target<'_>,
    extra: &[&str],
    scratch: &Path,
) -> (f64, f64, Value) {
    let time_report = scratch.join("time.txt");
    let use_gnu_time = Path::new(GNU_TIME).exists();
    let mut command = if use_gnu_time {
        let mut c = Command::new(GNU_TIME);
        c.arg("-v").arg("-o").arg(&time_report).arg(trdm);
        c
    } else {
        Command::new(trdm)
    };
    command
        .args([
            "sync",
            command_name,
            "--branch",
            "prod",
            "--catalog",
            "dev",
            "--schema",
            "rdmin",
            "--domain",
            "Bench",
            target.0,
        ])
        .arg(target.1)
        .args([
            "--output",
            "json",
            "--no-progress",
            "--poll-interval",
            "0.05",
        ])
        .args(extra)
        .env("TITAN_URL", url)
        .env("TITAN_CLIENT_ID", CLIENT_ID)
        .env("TITAN_CLIENT_SECRET", CLIENT_SECRET)
        .stdout(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("run trdm sync");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let mut polled_rss = f64::NAN;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if !use_gnu_time {
            let now = peak_rss_mib(child.id());
            if !now.is_nan() {
                polled_rss = now;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed().as_secs_f64();
    let output = reader.join().unwrap().unwrap();
    assert!(
        status.success(),
        "trdm sync {command_name} {extra:?} failed ({status}):\n{output}"
    );
    let result: Value = serde_json::from_str(&output).expect("JSON output");
    let rss = if use_gnu_time {
        std::fs::read_to_string(&time_report)
            .unwrap()
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    } else {
        polled_rss
    };
    (elapsed, rss, result)
}

/// The upload scenarios: `--plan` alone, the upload without its checks (no plan: the send path as it was),
/// and the upload with its plan (what every upload does by default; `--upload-unchanged` so that the
/// unchanged table is still sent). Each: median seconds and peak RSS.
const UPLOADS: [(&str, &[&str]); 3] = [
    ("plan only (--plan)", &["--plan"]),
    (
        "upload, no checks",
        &["--allow-mass-delete", "--upload-unchanged"],
    ),
    ("upload, planned first", &["--upload-unchanged"]),
];

/// Total size of the Parquet files under `dir`.
fn parquet_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            total += parquet_bytes(&path);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            total += entry.metadata().unwrap().len();
        }
    }
    total
}

/// The machine limit: the CSV file read with arrow-csv into `schema` and written with `ArrowWriter`
/// (Snappy) to `out`. Seconds, rows, Parquet bytes.
fn machine_limit(csv: &Path, schema: &SchemaRef, out: &Path) -> (f64, u64, u64) {
    let started = Instant::now();
    // arrow-csv parses named zones only with chrono-tz; the engine's `UTC` is the offset `+00:00`.
    let schema: SchemaRef = std::sync::Arc::new(arrow_schema::Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                arrow_schema::DataType::Timestamp(unit, Some(tz)) if tz.as_ref() == "UTC" => f
                    .as_ref()
                    .clone()
                    .with_data_type(arrow_schema::DataType::Timestamp(
                        *unit,
                        Some("+00:00".into()),
                    )),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    let reader = arrow_csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .with_batch_size(BATCH_ROWS)
        .build(File::open(csv).unwrap())
        .unwrap();
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer =
        ArrowWriter::try_new(File::create(out).unwrap(), schema.clone(), Some(properties)).unwrap();
    let mut rows = 0;
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows() as u64;
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    (elapsed, rows, std::fs::metadata(out).unwrap().len())
}

async fn run(trdm: &Path, rows: u64) -> Measured {
    let runs = runs();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    write_csv(&csv, rows).unwrap();
    let server = start_server(trdm, dir.path());
    let api = Api::connect(&server.url).await;
    let table = api.table().await;
    eprintln!("  importing {rows} rows …");
    api.import_file(&table, &csv, rows).await;
    std::fs::remove_file(&csv).unwrap();

    // The limit's input: the export file itself, fetched as the engine fetches it.
    let started = Instant::now();
    let export = api.export(&table).await;
    let server_export_s = started.elapsed().as_secs_f64();
    assert_eq!(export["status"], "completed", "{export}");
    assert_eq!(export["rows_exported"], rows, "{export}");
    let export_csv = dir.path().join("export.csv");
    let export_bytes = {
        let mut out = BufWriter::new(File::create(&export_csv).unwrap());
        let n = api.download(&export, &mut out).await;
        out.flush().unwrap();
        n
    };
    assert_eq!(Some(export_bytes), export["bytes_exported"].as_u64());

    // The schema the engine decodes into, from the table's deployed definition.
    let definition: trdm_client::DeployedTableDefinition =
        serde_json::from_value(table.clone()).expect("deployed table definition");
    let schema = trdm_sync::schema::export_schema(
        &trdm_sync::manifest::table_def(&definition).expect("table definition"),
    );
    let mut header = String::new();
    BufReader::new(File::open(&export_csv).unwrap())
        .read_line(&mut header)
        .unwrap();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        header.trim_end().split(',').collect::<Vec<_>>(),
        names,
        "export column order"
    );

    let mut sync_s = Vec::new();
    let mut sync_rss_mib = 0f64;
    let mut delta_bytes = 0;
    for k in 0..runs {
        let warehouse = dir.path().join(format!("warehouse-{k}"));
        let target = ("--warehouse", warehouse.as_os_str());
        let (s, rss) = sync_download(trdm, &server.url, target, rows, dir.path());
        eprintln!(
            "  trdm sync download #{}: {s:.2} s, peak RSS {rss:.0} MiB",
            k + 1
        );
        sync_s.push(s);
        sync_rss_mib = sync_rss_mib.max(rss);
        let table_dir = warehouse.join("dev/rdmin/b_wide");
        assert!(
            table_dir.join("_delta_log").is_dir(),
            "no Delta table at {}",
            table_dir.display()
        );
        delta_bytes = parquet_bytes(&table_dir);
        if k + 1 < runs {
            std::fs::remove_dir_all(&warehouse).unwrap();
        }
    }

    // The same download into each object store (the environment points the child at it).
    let mut stores = Vec::new();
    let roots = std::env::var("SYNC_BENCH_WAREHOUSES").unwrap_or_default();
    for root in roots.split_whitespace() {
        let (mut times, mut peak) = (Vec::new(), 0f64);
        for k in 0..runs {
            let warehouse = format!(
                "{}/bench-{}-{rows}-{k}",
                root.trim_end_matches('/'),
                std::process::id()
            );
            let target = ("--warehouse", OsStr::new(&warehouse));
            let (s, rss) = sync_download(trdm, &server.url, target, rows, dir.path());
            eprintln!(
                "  trdm sync download into {root} #{}: {s:.2} s, peak RSS {rss:.0} MiB",
                k + 1
            );
            times.push(s);
            peak = peak.max(rss);
        }
        stores.push((root.to_owned(), times, peak));
    }
    // And into a Spark cluster over Spark Connect: the rows go to the server as Arrow, which writes Delta.
    if let Ok(spark) = std::env::var("SYNC_BENCH_SPARK_CONNECT")
        && !spark.trim().is_empty()
    {
        let (mut times, mut peak) = (Vec::new(), 0f64);
        for k in 0..runs {
            let target = ("--spark", OsStr::new(spark.trim()));
            let (s, rss) = sync_download(trdm, &server.url, target, rows, dir.path());
            eprintln!(
                "  trdm sync download into Spark Connect #{}: {s:.2} s, peak RSS {rss:.0} MiB",
                k + 1
            );
            times.push(s);
            peak = peak.max(rss);
        }
        stores.push(("Spark Connect (`--spark`)".to_owned(), times, peak));
    }

    // Uploads of the last download, unchanged: the plan's cost beside the upload's own.
    let source = dir.path().join(format!("warehouse-{}", runs - 1));
    let mut uploads = Vec::new();
    let upload_scenarios: &[(&str, &[&str])] =
        if std::env::var("SYNC_BENCH_UPLOADS").as_deref() == Ok("0") {
            &[]
        } else {
            &UPLOADS
        };
    for &(name, flags) in upload_scenarios {
        let (mut times, mut peak) = (Vec::new(), 0f64);
        for k in 0..runs {
            let (s, rss, result) = run_trdm(
                trdm,
                &server.url,
                "upload",
                ("--warehouse", source.as_os_str()),
                flags,
                dir.path(),
            );
            let table = &result["tables"][0];
            let expected = if flags.contains(&"--plan") {
                "planned"
            } else {
                "success"
            };
            assert_eq!(table["status"], expected, "{result}");
            assert_eq!(table["rows"], rows, "{result}");
            if !table["plan"].is_null() {
                assert_eq!(table["plan"]["unchanged"], rows, "{result}");
            }
            eprintln!(
                "  trdm sync upload, {name} #{}: {s:.2} s, peak RSS {rss:.0} MiB",
                k + 1
            );
            times.push(s);
            peak = peak.max(rss);
        }
        uploads.push((times, peak));
    }

    let mut limit_s = Vec::new();
    let mut limit_bytes = 0;
    for k in 0..runs {
        let out = dir.path().join("limit.parquet");
        let (s, n, bytes) = machine_limit(&export_csv, &schema, &out);
        assert_eq!(n, rows);
        eprintln!("  machine limit #{}: {s:.2} s", k + 1);
        limit_s.push(s);
        limit_bytes = bytes;
        std::fs::remove_file(&out).unwrap();
    }
    drop(server);
    Measured {
        rows,
        export_bytes,
        server_export_s,
        sync_s,
        sync_rss_mib,
        delta_bytes,
        limit_s,
        limit_bytes,
        uploads,
        stores,
    }
}

fn with_commas(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::main]
async fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("row counts"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000]
    } else {
        sizes
    };
    let trdm: PathBuf = trdm_binary();
    assert!(
        trdm.exists(),
        "build the CLI first: cargo build --release -p trdm-cli"
    );
    let mut results = Vec::new();
    for rows in sizes {
        eprintln!("running {rows} rows …");
        results.push(run(&trdm, rows).await);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "| rows | CSV MiB | trdm sync download s (rows/s) | machine limit s (rows/s) | ratio | server export s | Parquet MiB (Delta / limit) | trdm peak RSS MiB |").unwrap();
    writeln!(out, "|---:|---:|---|---|---:|---:|---|---:|").unwrap();
    for m in &results {
        let (ours, limit) = (median(&m.sync_s), median(&m.limit_s));
        let rate = |s: f64| with_commas((m.rows as f64 / s).round() as u64);
        writeln!(
            out,
            "| {} | {:.1} | {:.2} ({}) | {:.2} ({}) | {:.2}× | {:.2} | {:.1} / {:.1} | {:.0} |",
            with_commas(m.rows),
            m.export_bytes as f64 / 1048576.0,
            ours,
            rate(ours),
            limit,
            rate(limit),
            ours / limit,
            m.server_export_s,
            m.delta_bytes as f64 / 1048576.0,
            m.limit_bytes as f64 / 1048576.0,
            m.sync_rss_mib,
        )
        .unwrap();
    }
    writeln!(
        out,
        "\nmedians of {} runs; CSV = the export file both sides read; target: ratio ≤ 2×",
        runs()
    )
    .unwrap();
    if results.iter().any(|m| !m.stores.is_empty()) {
        writeln!(
            out,
            "\n| rows | warehouse | trdm sync download s (rows/s) | × the machine limit | trdm peak RSS MiB |"
        )
        .unwrap();
        writeln!(out, "|---:|---|---|---:|---:|").unwrap();
        for m in &results {
            let limit = median(&m.limit_s);
            let ours = median(&m.sync_s);
            let rate = |s: f64| with_commas((m.rows as f64 / s).round() as u64);
            writeln!(
                out,
                "| {} | local disk | {ours:.2} ({}) | {:.2}× | {:.0} |",
                with_commas(m.rows),
                rate(ours),
                ours / limit,
                m.sync_rss_mib
            )
            .unwrap();
            for (root, times, rss) in &m.stores {
                let s = median(times);
                writeln!(
                    out,
                    "| {} | {root} | {s:.2} ({}) | {:.2}× | {rss:.0} |",
                    with_commas(m.rows),
                    rate(s),
                    s / limit
                )
                .unwrap();
            }
        }
        writeln!(
            out,
            "\nthe machine limit is the local one (decode and write Parquet to the disk): a store's ratio \
             includes its transfer (and Spark's conversion and Delta write, for Spark Connect)"
        )
        .unwrap();
    }
    if results.len() >= 2 {
        let (small, large) = (&results[0], &results[results.len() - 1]);
        writeln!(
            out,
            "\npeak RSS at {} rows ÷ at {} rows: download {:.2}×{}",
            with_commas(large.rows),
            with_commas(small.rows),
            large.sync_rss_mib / small.sync_rss_mib,
            if small.uploads.is_empty() || large.uploads.is_empty() {
                String::new()
            } else {
                UPLOADS
                    .iter()
                    .zip(small.uploads.iter().zip(&large.uploads))
                    .map(|((name, _), ((_, a), (_, b)))| format!(", {name} {:.2}×", b / a))
                    .collect()
            }
        )
        .unwrap();
    }
    if results.iter().all(|m| m.uploads.is_empty()) {
        return;
    }
    writeln!(
        out,
        "\n| rows | upload scenario | s | × the upload without checks | peak RSS MiB |"
    )
    .unwrap();
    writeln!(out, "|---:|---|---:|---:|---:|").unwrap();
    for m in results.iter().filter(|m| !m.uploads.is_empty()) {
        let base = median(&m.uploads[1].0);
        for ((name, _), (times, rss)) in UPLOADS.iter().zip(&m.uploads) {
            let s = median(times);
            writeln!(
                out,
                "| {} | {name} | {s:.2} | {:.2}× | {rss:.0} |",
                with_commas(m.rows),
                s / base
            )
            .unwrap();
        }
    }
    writeln!(
        out,
        "\nuploads: the downloaded table sent back unchanged (until TitanRDM applied it), medians of {}",
        runs()
    )
    .unwrap();
}
