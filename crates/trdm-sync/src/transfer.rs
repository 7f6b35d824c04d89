//! The single-table steps every path shares: decode an export file into Arrow, encode Arrow into an upload
//! file, send that file to its presigned URL. The [engine](crate::engine) runs them for whole domains; the
//! Python bindings run them one table at a time for the incumbent's `Download` and `TableUpload`.
//!
//! Decoding and encoding are synchronous (the CSV grammar is a plain reader and writer), so both run on
//! tokio's blocking pool, fed through small bounded channels: memory stays at a few batches whatever the
//! table's size.

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::io::AsyncWriteExt;
use tokio_util::io::{StreamReader, SyncIoBridge};
use trdm_client::{ByteStream, Client, ExportPattern, ExportRequest, ImportTable, UploadBody};

use crate::catalog::BatchStream;
use crate::codec::{CsvDecoder, EncodeSummary, ImportPattern, encode_upload};
use crate::error::{Error, Result};
use crate::schema::TableDef;

/// Rows per Arrow batch decoded from an export file.
pub const BATCH_ROWS: usize = 8192;

/// Batches in flight between the blocking codec and its async side.
const CHANNEL_BATCHES: usize = 4;

/// The export of `key` on `branch_id` that `pattern` selects: `since` is the incremental high-water mark
/// (sent with `full` too when given, where the service ignores it).
pub fn export_request(
    branch_id: i64,
    key: &str,
    pattern: ExportPattern,
    since: Option<String>,
) -> Result<ExportRequest> {
    match (pattern, since) {
        (ExportPattern::Incremental, Some(mark)) => {
            Ok(ExportRequest::incremental(branch_id, key, mark))
        }
        (ExportPattern::Incremental, None) => Err(Error::Invalid(
            "an incremental export needs a high-water mark".into(),
        )),
        (ExportPattern::Full, mark) => {
            let mut request = ExportRequest::full(branch_id, key);
            request.high_water_mark = mark;
            Ok(request)
        }
    }
}

/// Decodes an export file's bytes with `table`'s column definitions into batches of `schema`, on the blocking
/// pool. `observe` sees every item (batch or error) before it is passed on, on the decoding thread.
pub fn decode_export(
    bytes: ByteStream,
    table: &TableDef,
    schema: SchemaRef,
    mut observe: impl FnMut(&Result<RecordBatch>) + Send + 'static,
) -> BatchStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(CHANNEL_BATCHES);
    let reader = SyncIoBridge::new(StreamReader::new(bytes.map_err(std::io::Error::other)));
    let table = table.clone();
    tokio::task::spawn_blocking(move || {
        let send = |item: Result<RecordBatch>, observe: &mut dyn FnMut(&Result<RecordBatch>)| {
            observe(&item);
            tx.blocking_send(item).is_ok()
        };
        match CsvDecoder::new(reader, &table, schema, BATCH_ROWS) {
            Err(e) => {
                send(Err(e), &mut observe);
            }
            Ok(decoder) => {
                for batch in decoder {
                    if !send(batch, &mut observe) {
                        return; // the reader went away
                    }
                }
            }
        }
    });
    Box::pin(stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (b, rx))
    }))
}

/// Validates `batches` against `table`'s column definitions and encodes them for `pattern` into a new file
/// at `path`, on the blocking pool. The first invalid value stops it with an error naming table, column, row
/// and value; the caller sends nothing then.
pub async fn encode_upload_file(
    table: &TableDef,
    pattern: ImportPattern,
    mut batches: BatchStream,
    path: &Path,
) -> Result<EncodeSummary> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(CHANNEL_BATCHES);
    let table = table.clone();
    let path = path.to_owned();
    let worker = tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let summary = encode_upload(
            &table,
            pattern,
            std::iter::from_fn(|| rx.blocking_recv()),
            &mut out,
        )?;
        std::io::Write::flush(&mut out)?;
        Ok(summary)
    });
    while let Some(batch) = batches.next().await {
        if tx.send(batch).await.is_err() {
            break; // the encoder stopped early (an error); its result says why
        }
    }
    drop(tx);
    worker
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
}

/// Sends the upload file at `path` to the presigned URL of `slot` (a `PUT` only: announcing it with
/// `upload_complete` is the caller's, since the engine announces a batch's files only once all are in place).
pub async fn put_file(client: &Client, slot: &ImportTable, path: &Path) -> Result<()> {
    let Some(url) = slot.signed_s3_url.as_ref() else {
        return Err(Error::Invalid(format!(
            "import table {} has no presigned URL to upload to",
            slot.id
        )));
    };
    client
        .put_presigned(url, &UploadBody::file(path))
        .await
        .map_err(Error::from)
}

/// Saves a byte stream (an export file) to a new file at `path`.
pub async fn save(mut bytes: ByteStream, path: &Path) -> Result<()> {
    let mut out = tokio::io::BufWriter::new(tokio::fs::File::create(path).await?);
    while let Some(chunk) = bytes.next().await {
        out.write_all(&chunk?).await?;
    }
    out.flush().await?;
    Ok(())
}
