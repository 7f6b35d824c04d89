//! The emulator's stand-in for S3: presigned PUT of table files and GET of export files, streamed to and from
//! disk so neither direction holds a whole file in memory.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::now_secs;
use crate::decisions::{export_status, import_status, import_table_status};
use crate::error::ApiResult;
use crate::presign::{S3Error, verify};
use crate::state::AppState;
use crate::store;

/// `PUT /_s3/uploads/{id}?X-Trdm-Expires=…&X-Trdm-Signature=…`.
pub(super) async fn put_upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, S3Error> {
    let path = format!("/_s3/uploads/{id}");
    verify(
        &state.signing_key[..],
        "PUT",
        &path,
        query.as_deref().unwrap_or(""),
        now_secs(),
    )?;
    let id: i64 = id
        .parse()
        .map_err(|_| S3Error::NoSuchKey(format!("no upload slot {id}")))?;
    // A first check spares a doomed upload its transfer; the one that counts is made again, with the rename,
    // once the file is complete.
    let accepts = state
        .db
        .catalog(move |c| accepts_file(c, id))
        .await
        .map_err(|e| S3Error::NoSuchKey(e.to_string()))?;
    if let Err(why) = accepts {
        return Err(S3Error::Conflict(why));
    }
    let target = state.upload_path(id);
    // Every PUT streams into a file of its own, so two PUTs at once never write into one file.
    let partial = target.with_extension(format!("csv.{:016x}.part", rand::random::<u64>()));
    let limit = state.config.max_upload_bytes;
    let written = async {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await
            .map_err(|e| S3Error::Internal(e.to_string()))?;
        let mut stream = body.into_data_stream();
        let mut size: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| S3Error::Internal(format!("reading the upload: {e}")))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(S3Error::TooLarge(limit));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| S3Error::Internal(e.to_string()))?;
        }
        file.flush()
            .await
            .map_err(|e| S3Error::Internal(e.to_string()))?;
        file.sync_all()
            .await
            .map_err(|e| S3Error::Internal(e.to_string()))?;
        Ok(size)
    }
    .await;
    let size = match written {
        Ok(size) => size,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    // The slot is checked again and the file renamed into place inside ONE catalog transaction, the kind
    // `upload_complete`, `upload_failed` and `complete` run in: a file can only land while the slot still
    // takes one, so once a file is announced no PUT can replace it.
    let staged = partial.clone();
    let placed = state
        .db
        .catalog_tx(move |c| {
            if let Err(why) = accepts_file(c, id)? {
                return Ok(Err(why));
            }
            std::fs::rename(&staged, &target)?;
            store::set_import_table_file(c, id, size as i64)?;
            Ok(Ok(()))
        })
        .await;
    let refused = match placed {
        Ok(Ok(())) => None,
        Ok(Err(why)) => Some(S3Error::Conflict(why)),
        Err(e) => Some(S3Error::Internal(e.to_string())),
    };
    if let Some(e) = refused {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e);
    }
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{id}-{size}\"")).expect("ascii"),
    );
    Ok(response)
}

/// Whether import table `id` takes a file now: `Err` says why not (already announced, given up, or its batch
/// completed).
fn accepts_file(c: &rusqlite::Connection, id: i64) -> ApiResult<Result<(), String>> {
    let t = store::import_table(c, id)?;
    let import = store::import(c, t.import_id)?;
    if t.status != import_table_status::CREATED {
        return Ok(Err(format!(
            "import table {id} no longer accepts a file: it is {} (a file can only be replaced before \
             upload_complete)",
            t.status
        )));
    }
    if import.status != import_status::CREATED {
        return Ok(Err(format!(
            "import table {id} no longer accepts a file: its import {} is {}",
            import.id, import.status
        )));
    }
    Ok(Ok(()))
}

/// `GET /_s3/exports/{id}?X-Trdm-Expires=…&X-Trdm-Signature=…`.
pub(super) async fn get_export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, S3Error> {
    let path = format!("/_s3/exports/{id}");
    verify(
        &state.signing_key[..],
        "GET",
        &path,
        query.as_deref().unwrap_or(""),
        now_secs(),
    )?;
    let id: i64 = id
        .parse()
        .map_err(|_| S3Error::NoSuchKey(format!("no export {id}")))?;
    let status = state
        .db
        .catalog(move |c| Ok(store::export(c, id)?.status))
        .await
        .map_err(|e| S3Error::NoSuchKey(e.to_string()))?;
    if status != export_status::COMPLETED {
        return Err(S3Error::NoSuchKey(format!(
            "export {id} has no file (status {status})"
        )));
    }
    let file = tokio::fs::File::open(state.export_path(id))
        .await
        .map_err(|e| S3Error::NoSuchKey(e.to_string()))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| S3Error::Internal(e.to_string()))?
        .len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}
