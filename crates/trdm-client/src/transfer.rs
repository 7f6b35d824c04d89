//! Presigned transfers, streamed both ways so memory does not grow with the file: a download is a
//! [`ByteStream`] of chunks as they arrive, an upload is sent from an [`UploadBody`] chunk by chunk.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt, TryStreamExt};
use reqwest::Method;

use crate::client::Client;
use crate::http::{Call, Kind, Payload, Reply, Target};
use crate::models::{Export, ExportStatus};
use crate::redact::SafeUrl;
use crate::{Error, Result};

/// A stream of file bytes. Dropping it closes the connection.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// A stream of raw bytes as an upload source produces them.
pub type IoStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

type Reopen = Arc<dyn Fn() -> BoxFuture<'static, std::io::Result<IoStream>> + Send + Sync>;

enum Source {
    Bytes(Bytes),
    File(PathBuf),
    Reopen(Reopen),
    Once(Mutex<Option<IoStream>>),
}

/// The bytes of one upload (`Content-Type: text/csv`). Sources that can be produced again (bytes in memory, a
/// file, a reopenable stream) are retried like any idempotent request; a one-shot stream is sent once.
///
/// Real S3 presigned `PUT`s need a `Content-Length`: give one for streams (files and bytes know theirs).
pub struct UploadBody {
    source: Source,
    length: Option<u64>,
}

impl std::fmt::Debug for UploadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.source {
            Source::Bytes(_) => "bytes",
            Source::File(_) => "file",
            Source::Reopen(_) => "reopenable stream",
            Source::Once(_) => "one-shot stream",
        };
        f.debug_struct("UploadBody")
            .field("source", &kind)
            .field("length", &self.length)
            .finish()
    }
}

impl UploadBody {
    /// Bytes already in memory.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        UploadBody {
            length: Some(bytes.len() as u64),
            source: Source::Bytes(bytes),
        }
    }

    /// A file, read in 64 KiB chunks (and reopened for a retry).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        UploadBody {
            source: Source::File(path.into()),
            length: None,
        }
    }

    /// A stream made anew by `open` for every attempt, of `length` bytes if known.
    pub fn reopen<F, Fut>(length: Option<u64>, open: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::io::Result<IoStream>> + Send + 'static,
    {
        let open: Reopen = Arc::new(move || Box::pin(open()));
        UploadBody {
            source: Source::Reopen(open),
            length,
        }
    }

    /// A stream that can be sent once; not retried.
    pub fn stream<S>(length: Option<u64>, stream: S) -> Self
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        UploadBody {
            source: Source::Once(Mutex::new(Some(Box::pin(stream)))),
            length,
        }
    }

    pub(crate) fn is_repeatable(&self) -> bool {
        !matches!(self.source, Source::Once(_))
    }

    /// The request body for one attempt and its length.
    pub(crate) async fn open(&self) -> Result<(reqwest::Body, Option<u64>)> {
        let io = |what: &str, e: std::io::Error| Error::Io {
            message: what.to_owned(),
            source: e,
        };
        match &self.source {
            Source::Bytes(bytes) => Ok((reqwest::Body::from(bytes.clone()), self.length)),
            Source::File(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| io("cannot open the file", e))?;
                let length = file
                    .metadata()
                    .await
                    .map_err(|e| io("cannot stat the file", e))?
                    .len();
                let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
                Ok((reqwest::Body::wrap_stream(stream), Some(length)))
            }
            Source::Reopen(open) => {
                let stream = open().await.map_err(|e| io("cannot open the stream", e))?;
                Ok((reqwest::Body::wrap_stream(stream), self.length))
            }
            Source::Once(slot) => {
                let stream = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                let stream = stream.ok_or_else(|| Error::Validation {
                    message: "this upload stream was already sent".into(),
                })?;
                Ok((reqwest::Body::wrap_stream(stream), self.length))
            }
        }
    }
}

impl Client {
    /// `PUT`s `body` to a presigned URL (no bearer token; any 2xx is success). Retried when the body can be
    /// produced again. A 403 here usually means the URL expired: create a new import table.
    #[tracing::instrument(level = "debug", skip_all, fields(url = %url))]
    pub async fn put_presigned(&self, url: &SafeUrl, body: &UploadBody) -> Result<()> {
        let call = Call {
            method: Method::PUT,
            target: Target::Presigned(url),
            payload: Payload::Upload(body),
            kind: Kind::Idempotent,
            auth: false,
            stream: false,
        };
        self.execute(&call, None).await.map(drop)
    }

    /// `GET`s a presigned URL as a stream. The request is retried until the answer's headers arrive; a failure
    /// while the body streams ends the stream with [`Error::Transport`] (start over with a new call).
    #[tracing::instrument(level = "debug", skip_all, fields(url = %url))]
    pub async fn download(&self, url: &SafeUrl) -> Result<ByteStream> {
        let call = Call {
            method: Method::GET,
            target: Target::Presigned(url),
            payload: Payload::None,
            kind: Kind::Idempotent,
            auth: false,
            stream: true,
        };
        let Reply::Stream(response) = self.execute(&call, None).await? else {
            return Err(Error::decode(url, "expected a streamed body"));
        };
        let shown = url.to_string();
        Ok(response
            .bytes_stream()
            .map_err(move |e| Error::transport("GET", &shown, e))
            .boxed())
    }

    /// The file of a completed export as a stream. Fails with [`Error::JobFailed`] for a failed export and
    /// [`Error::Conflict`] for one that is not completed yet (use
    /// [`wait_for_export`](Client::wait_for_export) first).
    #[tracing::instrument(level = "debug", skip_all, fields(export = export.id))]
    pub async fn download_export(&self, export: &Export) -> Result<ByteStream> {
        match &export.status {
            ExportStatus::Completed => {}
            ExportStatus::Failed => return Err(crate::jobs::export_failed(export)),
            other => {
                return Err(Error::Conflict {
                    message: format!("export {} is not ready (status {other})", export.id),
                });
            }
        }
        let url = export.download_url.as_ref().ok_or_else(|| {
            Error::decode(
                format!("export {}", export.id),
                "completed without a download_url",
            )
        })?;
        self.download(url).await
    }
}
