//! Emulator benchmark: a full import then a full export of N rows × 12 mixed-type columns, through the real
//! HTTP protocol against a separate `trdm emulator` process, so the peak RSS measured is the server's alone.
//!
//! Each size also runs a baseline in the same process run: the same CSV parsed and bulk-inserted into a plain
//! SQLite table (no versioning, no indexes) and selected back out to CSV. That is what this machine can do at
//! best with the same engine; the ratio says what versioning, validation and HTTP cost on top.
//!
//! Then two more full imports, each from a fresh peak RSS: the same file (deletes nothing) and a file of
//! new keys only (deletes every record): the import's memory must not grow with what it deletes.
//!
//! Usage: `cargo run --release -p trdm-bench --bin emulator-bench -- [ROWS ...]` (default 100000 1000000).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use trdm_bench::{Api, start_server, trdm_binary, write_csv, write_csv_range};
use trdm_format::csv::{CsvReader, CsvWriter, Record};

struct Measured {
    rows: u64,
    bytes: u64,
    upload_s: f64,
    import_s: f64,
    export_s: f64,
    download_s: f64,
    rss_mib: f64,
    keep_all_rss_mib: f64,
    delete_all_rss_mib: f64,
    delete_all_s: f64,
    base_import_s: f64,
    base_export_s: f64,
}

async fn run(trdm: &Path, rows: u64) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    let bytes = write_csv(&csv, rows).unwrap();
    let server = start_server(trdm, dir.path());
    let api = Api::connect(&server.url).await;
    let table = api.table().await;
    let slot = api.start_import(&table).await;

    let started = Instant::now();
    api.put_file(&slot, &csv).await;
    let upload_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let result = api.finish_import(&slot).await;
    let import_s = started.elapsed().as_secs_f64();
    assert_eq!(result["import"]["status"], "completed", "{result}");
    assert_eq!(result["import"]["insert_row_count"], rows);

    let started = Instant::now();
    let export = api.export(&table).await;
    let export_s = started.elapsed().as_secs_f64();
    assert_eq!(export["rows_exported"], rows);
    let started = Instant::now();
    let downloaded = api.download(&export, &mut std::io::sink()).await;
    let download_s = started.elapsed().as_secs_f64();
    assert_eq!(downloaded, export["bytes_exported"].as_u64().unwrap());
    let rss_mib = server.peak_rss_mib();

    // Two more full imports, each measured from a fresh peak: the same file again (deletes none), then one
    // whose keys are all new (deletes every record and inserts as many).
    server.reset_peak_rss().unwrap();
    api.import_file_counts(&table, &csv, [0, 0, 0]).await;
    let keep_all_rss_mib = server.peak_rss_mib();
    let other = dir.path().join("other.csv");
    write_csv_range(&other, rows..2 * rows).unwrap();
    server.reset_peak_rss().unwrap();
    let started = Instant::now();
    api.import_file_counts(&table, &other, [rows, 0, rows])
        .await;
    let delete_all_s = started.elapsed().as_secs_f64();
    let delete_all_rss_mib = server.peak_rss_mib();
    drop(server);

    let (base_import_s, base_export_s) = baseline(&csv, &dir.path().join("baseline.db"));
    Measured {
        rows,
        bytes,
        upload_s,
        import_s,
        export_s,
        download_s,
        rss_mib,
        keep_all_rss_mib,
        delete_all_rss_mib,
        delete_all_s,
        base_import_s,
        base_export_s,
    }
}

/// The same CSV parsed and inserted into a plain table in one transaction, then selected back out to CSV.
fn baseline(csv: &Path, db: &Path) -> (f64, f64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE t (code TEXT, name TEXT, notes TEXT, qty INTEGER, population INTEGER, amount TEXT, ratio TEXT,
         active INTEGER, opened TEXT, seen_at TEXT, grade INTEGER, local_time TEXT)",
    )
    .unwrap();
    let started = Instant::now();
    let mut reader = CsvReader::new(std::fs::File::open(csv).unwrap());
    let mut record = Record::new();
    reader.read_record(&mut record).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut insert = tx
            .prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
            .unwrap();
        while reader.read_record(&mut record).unwrap() {
            insert
                .execute(rusqlite::params_from_iter(record.iter().map(|f| f.text)))
                .unwrap();
        }
    }
    tx.commit().unwrap();
    let import_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut stmt = conn.prepare("SELECT * FROM t").unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut w = CsvWriter::new(std::io::sink());
    while let Some(row) = rows.next().unwrap() {
        for i in 0..12 {
            let text: Option<String> = row
                .get::<_, Option<rusqlite::types::Value>>(i)
                .unwrap()
                .map(|v| match v {
                    rusqlite::types::Value::Text(s) => s,
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    _ => String::new(),
                });
            w.write_field(text.as_deref()).unwrap();
        }
        w.end_record().unwrap();
    }
    w.flush().unwrap();
    (import_s, started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("row counts"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    let trdm = trdm_binary();
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
    writeln!(out, "| rows | CSV MiB | PUT s | import s (baseline s, ratio) | export s (baseline s, ratio) | download s | server peak RSS MiB |").unwrap();
    writeln!(out, "|---:|---:|---:|---|---|---:|---:|").unwrap();
    for m in &results {
        writeln!(
            out,
            "| {} | {:.1} | {:.2} | {:.2} ({:.2}, {:.1}×) | {:.2} ({:.2}, {:.1}×) | {:.2} | {:.0} |",
            m.rows,
            m.bytes as f64 / 1048576.0,
            m.upload_s,
            m.import_s,
            m.base_import_s,
            m.import_s / m.base_import_s,
            m.export_s,
            m.base_export_s,
            m.export_s / m.base_export_s,
            m.download_s,
            m.rss_mib
        )
        .unwrap();
    }
    writeln!(
        out,
        "\n| rows | full import deleting none: peak RSS MiB | deleting every record: s, peak RSS MiB | ratio |"
    )
    .unwrap();
    writeln!(out, "|---:|---:|---|---:|").unwrap();
    for m in &results {
        writeln!(
            out,
            "| {} | {:.0} | {:.2}, {:.0} | {:.2}× |",
            m.rows,
            m.keep_all_rss_mib,
            m.delete_all_s,
            m.delete_all_rss_mib,
            m.delete_all_rss_mib / m.keep_all_rss_mib
        )
        .unwrap();
    }
    if results.len() >= 2 {
        let (a, b) = (&results[0], &results[results.len() - 1]);
        writeln!(
            out,
            "\npeak RSS grows {:.2}× while rows grow {:.0}× (independent of row count means ≈ 1×)",
            b.rss_mib / a.rss_mib,
            b.rows as f64 / a.rows as f64
        )
        .unwrap();
    }
}
