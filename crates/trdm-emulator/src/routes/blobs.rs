//! The emulator's stand-in for S3: presigned PUT of table files and GET of export files, streamed to and from
//! disk so neither direction holds a whole file in memory.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::now_secs;
use crate::catalog;
use crate::decisions::{export_status, import_status, import_table_status};
use crate::presign::{S3Error, verify};
use crate::state::AppState;

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
    let writable = state
        .db
        .catalog(move |c| {
            let t = catalog::import_table(c, id)?;
            let import = catalog::import(c, t.import_id)?;
            Ok(t.status == import_table_status::CREATED && import.status == import_status::CREATED)
        })
        .await
        .map_err(|e| S3Error::NoSuchKey(e.to_string()))?;
    if !writable {
        return Err(S3Error::Conflict(format!(
            "import table {id} no longer accepts a file"
        )));
    }
    let target = state.upload_path(id);
    let partial = target.with_extension("csv.part");
    let limit = state.config.max_upload_bytes;
    let written = async {
        let mut file = tokio::fs::File::create(&partial)
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
    tokio::fs::rename(&partial, &target)
        .await
        .map_err(|e| S3Error::Internal(e.to_string()))?;
    state
        .db
        .catalog(move |c| catalog::set_import_table_file(c, id, size as i64))
        .await
        .map_err(|e| S3Error::Internal(e.to_string()))?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{id}-{size}\"")).expect("ascii"),
    );
    Ok(response)
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
        .catalog(move |c| Ok(catalog::export(c, id)?.status))
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
