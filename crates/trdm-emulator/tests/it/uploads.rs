//! Who may obtain upload URLs, and what concurrent PUTs to one upload slot can do (part A §2, §5, §6).
//!
//! Slow uploads are written by hand on a raw TCP connection with `Expect: 100-continue`: the server answers
//! `100 Continue` only once the PUT handler starts reading the body, i.e. after it accepted the slot, so the
//! tests know each upload is in flight before they go on. No step waits on a clock.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Harness, find};

/// One PUT whose body is sent in pieces.
struct SlowPut {
    stream: TcpStream,
}

impl SlowPut {
    /// Sends the request head for a body of `len` bytes and waits for `100 Continue`.
    async fn begin(url: &str, len: usize) -> SlowPut {
        let rest = url.strip_prefix("http://").expect("an http URL");
        let (host, path) = rest.split_at(rest.find('/').expect("a path"));
        let mut stream = TcpStream::connect(host).await.unwrap();
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/csv\r\nContent-Length: {len}\r\n\
             Expect: 100-continue\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let interim = read_head(&mut stream).await;
        assert!(
            interim.starts_with("HTTP/1.1 100"),
            "the upload was not accepted for streaming: {interim}"
        );
        SlowPut { stream }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// Sends the rest of the body and returns the status and body of the answer.
    async fn finish(mut self, bytes: &[u8]) -> (u16, String) {
        self.send(bytes).await;
        let mut answer = Vec::new();
        self.stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {answer:?}"));
        (status, answer)
    }
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "the server closed the connection: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A fresh import on `dev` with one `delivery_centre` slot; returns (import id, slot JSON).
async fn slot(h: &Harness, pattern: &str) -> (i64, Value) {
    let dev = h.branch_id("dev").await;
    let t = h.table("dev", "delivery_centre").await;
    let (_, mappings) = h
        .get(&format!(
            "/api/v1/table_definitions/{}/import_mappings?q=is_default:eq:true",
            t["id"]
        ))
        .await;
    let (status, import) = h.post("/api/v1/imports", json!({"branch_id": dev})).await;
    assert_eq!(status, StatusCode::CREATED, "{import}");
    let import_id = import["id"].as_i64().unwrap();
    let (status, slot) = h
        .post(
            "/api/v1/import_tables",
            json!({"import_id": import_id, "table_definition_key": t["key"],
                   "import_mapping_key": mappings["data"][0]["key"], "pattern": pattern}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{slot}");
    (import_id, slot)
}

fn upload_file(h: &Harness, slot_id: i64) -> PathBuf {
    h.dir
        .path()
        .join("emulator.db.blobs")
        .join("uploads")
        .join(format!("{slot_id}.csv"))
}

async fn wait_table(h: &Harness, id: i64) -> Value {
    for _ in 0..3000 {
        let (_, t) = h.get(&format!("/api/v1/import_tables/{id}")).await;
        if t["status"] == "completed" || t["status"] == "failed" {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("import table {id} never finished");
}

/// `api:read` covers GETs (part A §2), and the import GETs answer every table with its `signed_s3_url`, a
/// fresh presigned PUT. Handing one to a read-only token lets it replace a table's file: a write. So the GETs
/// still answer, but without upload URLs, unless the token may write.
#[tokio::test]
async fn a_read_only_token_gets_no_upload_urls_from_the_import_gets() {
    let h = Harness::start().await;
    let reader = h
        .token_for("reader-client", "reader-secret", None)
        .await
        .unwrap();
    let (import_id, slot) = slot(&h, "incremental_upsert_only").await;
    let slot_id = slot["id"].as_i64().unwrap();
    assert!(
        slot["signed_s3_url"].as_str().is_some(),
        "the writer that created the slot gets its URL: {slot}"
    );
    for path in [
        format!("/api/import_tables/{slot_id}"),
        format!("/api/v1/import_tables/{slot_id}"),
        format!("/api/imports/{import_id}"),
        format!("/api/v1/imports/{import_id}"),
        "/api/v1/imports".to_owned(),
    ] {
        let r = h
            .http
            .get(h.url(&path))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("/_s3/uploads/") && !text.contains("X-Trdm-Signature"),
            "{path} gave a read-only token an upload URL: {text}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        let tables: Vec<&Value> = match body.get("import_tables") {
            Some(list) => list.as_array().unwrap().iter().collect(),
            None if body.get("data").is_some() => Vec::new(),
            None => vec![&body],
        };
        for t in tables {
            assert_eq!(t["id"], slot_id, "{path}: {t}");
            assert_eq!(t["signed_s3_url"], Value::Null, "{path}: {t}");
            assert_eq!(t["status"], "created", "the rest of the table is shown");
        }
    }
    // A token that may write still gets a working URL from the same GETs.
    let (_, again) = h.get(&format!("/api/v1/import_tables/{slot_id}")).await;
    let url = again["signed_s3_url"].as_str().expect("a writer's URL");
    let put = h
        .http
        .put(url)
        .body("centre_code,centre_name\nRO1,Written\n")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
}

/// A PUT still streaming when `upload_complete` arrives used to rename its file over the announced one
/// afterwards (and answer 200), so the job could apply a file the client never announced. Now a file is
/// only put in place in the same catalog transaction that checks the slot still takes one, so the late PUT
/// gets a 409, the announced file stays, and that is what is applied.
#[tokio::test]
async fn a_put_still_streaming_when_the_file_is_announced_gets_409_and_changes_nothing() {
    // The delay leaves the late PUT time to finish before the job reads the file.
    let h = Harness::start_with(|c| c.import_delay = Duration::from_millis(1500)).await;
    let (import_id, slot) = slot(&h, "incremental_upsert_only").await;
    let slot_id = slot["id"].as_i64().unwrap();
    let url = slot["signed_s3_url"].as_str().unwrap();

    let late_body = b"centre_code,centre_name\nLATE1,Late upload\n";
    let mut late = SlowPut::begin(url, late_body.len()).await;
    late.send(&late_body[..10]).await;

    let announced = "centre_code,centre_name\nANN1,Announced upload\n";
    let put = h.http.put(url).body(announced).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let (status, done) = h
        .post_as(
            &h.token,
            &format!("/api/v1/import_tables/{slot_id}/upload_complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");

    let (status, answer) = late.finish(&late_body[10..]).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer.contains("no longer accepts a file"), "{answer}");
    assert!(
        !answer.contains("X-Trdm-Signature"),
        "no URL in errors: {answer}"
    );
    assert_eq!(
        std::fs::read_to_string(upload_file(&h, slot_id)).unwrap(),
        announced
    );

    let end = wait_table(&h, slot_id).await;
    assert_eq!(end["status"], "completed", "{end}");
    assert_eq!(end["insert_row_count"], 1);
    assert_eq!(end["file_size"], announced.len());
    h.post_as(
        &h.token,
        &format!("/api/v1/imports/{import_id}/complete"),
        None,
    )
    .await;
    let rows = h.current("dev", "delivery_centre").await;
    assert!(find(&rows, "centre_code", "ANN1").is_some());
    assert!(find(&rows, "centre_code", "LATE1").is_none());
    // A PUT that starts after the announcement is refused before it sends a byte.
    let r = h
        .http
        .put(url)
        .body("centre_code,centre_name\nLATE2,x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

/// Two PUTs to one slot at once used to share one `.part` file: the second truncated it under the first,
/// the first renamed it into place while the second was still writing into it, and the second then failed
/// to rename a file that was gone (a 500) after scribbling over the first's. Now each PUT writes its own
/// temporary file and renames it into place whole: both succeed, and the file is exactly the one that
/// finished last, as with S3.
#[tokio::test]
async fn two_puts_to_one_slot_at_once_each_land_whole_and_the_last_one_wins() {
    let h = Harness::start().await;
    let (import_id, slot) = slot(&h, "incremental_upsert_only").await;
    let slot_id = slot["id"].as_i64().unwrap();
    let url = slot["signed_s3_url"].as_str().unwrap();

    let first =
        "centre_code,centre_name\nFIRST1,First upload with a longer name\nFIRST2,Second row\n";
    let second = "centre_code,centre_name\nSECND1,Second upload\n";
    let mut a = SlowPut::begin(url, first.len()).await;
    a.send(&first.as_bytes()[..30]).await;
    let mut b = SlowPut::begin(url, second.len()).await;
    b.send(&second.as_bytes()[..30]).await;
    let (status_a, answer_a) = a.finish(&first.as_bytes()[30..]).await;
    assert_eq!(status_a, 200, "{answer_a}");
    assert_eq!(
        std::fs::read_to_string(upload_file(&h, slot_id)).unwrap(),
        first,
        "the first upload is in place, whole"
    );
    let (status_b, answer_b) = b.finish(&second.as_bytes()[30..]).await;
    assert_eq!(status_b, 200, "{answer_b}");
    assert_eq!(
        std::fs::read_to_string(upload_file(&h, slot_id)).unwrap(),
        second,
        "the second upload replaced it, whole"
    );
    let leftovers: Vec<String> = std::fs::read_dir(upload_file(&h, slot_id).parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != &format!("{slot_id}.csv"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let (status, _) = h
        .post_as(
            &h.token,
            &format!("/api/v1/import_tables/{slot_id}/upload_complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let end = wait_table(&h, slot_id).await;
    assert_eq!(end["status"], "completed", "{end}");
    assert_eq!(end["insert_row_count"], 1);
    assert_eq!(end["file_size"], second.len());
    h.post_as(
        &h.token,
        &format!("/api/v1/imports/{import_id}/complete"),
        None,
    )
    .await;
    let rows = h.current("dev", "delivery_centre").await;
    assert!(find(&rows, "centre_code", "SECND1").is_some());
    assert!(find(&rows, "centre_code", "FIRST1").is_none());
}
