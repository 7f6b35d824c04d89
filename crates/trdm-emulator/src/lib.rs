//! A persistent, TitanRDM-compatible server: the partner of every trdm test, the engine of the demo, and a
//! tool for developing pipelines against a local TitanRDM (as LocalStack is for AWS).
//!
//! It speaks the wire contract in `shared/titanrdm-protocol.md`: OAuth2 client credentials, branches,
//! domains, deployed table definitions, import mappings, asynchronous exports and imports with presigned
//! URLs, and SCD2-versioned records. The official Python SDK `titan-rdm-sdk` 2.0.0 runs against it unchanged.
//! Where the contract had to choose, the choice is in [`decisions`].
//!
//! # Quick start
//!
//! ```no_run
//! # async fn demo() -> Result<(), trdm_emulator::Error> {
//! use trdm_emulator::{Emulator, EmulatorConfig};
//! let config = EmulatorConfig { fixture: Some("fixtures/clinics.toml".into()), ..EmulatorConfig::default() };
//! let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap()).await?;
//! println!("TitanRDM at {}", emulator.url());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Storage
//!
//! `--db PATH` names the catalog SQLite file; `PATH.records` holds the records and `PATH.blobs/` the uploaded
//! and exported files. A restart on the same path keeps everything, and jobs that were running resume.

mod auth;
mod config;
mod db;
pub mod decisions;
mod error;
pub mod faults;
pub mod fixture;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod jobs;
mod presign;
mod query;
mod records;
mod routes;
mod state;
mod store;
mod time;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tower::ServiceExt;

pub use config::EmulatorConfig;
pub use error::Error;
pub use faults::{EndpointGroup, FaultConfig, FaultKind};

use crate::faults::FaultInjector;
use crate::state::AppState;

/// A running emulator. Dropping it without [`Emulator::shutdown`] stops accepting connections too.
pub struct Emulator {
    url: String,
    addr: SocketAddr,
    applications: Vec<fixture::FixtureApplication>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _tempdir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Opens (or creates and loads) the database, resumes unfinished jobs, and listens on `listen`
    /// (port 0 picks a free port).
    pub async fn start(config: EmulatorConfig, listen: SocketAddr) -> Result<Emulator, Error> {
        let (db_path, tempdir) = match &config.db_path {
            Some(path) => (path.clone(), None),
            None => {
                let dir = tempfile::tempdir()?;
                (dir.path().join("emulator.db"), Some(dir))
            }
        };
        let fixture = match &config.fixture {
            Some(path) => Some(fixture::Fixture::read(path)?),
            None => None,
        };
        let (db, signing_key) = {
            let db_path = db_path.clone();
            let fixture = fixture.clone();
            tokio::task::spawn_blocking(move || fixture::open_database(&db_path, fixture.as_ref()))
                .await
                .map_err(|e| Error::Io(std::io::Error::other(e)))??
        };
        let blobs = db::blobs_dir(&db_path);
        std::fs::create_dir_all(blobs.join("uploads"))?;
        std::fs::create_dir_all(blobs.join("exports"))?;
        remove_partial_files(&blobs)?;

        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let state = AppState {
            db,
            signing_key: Arc::new(signing_key),
            blobs: Arc::new(blobs),
            job_slots: Arc::new(Semaphore::new(config.job_concurrency.max(1))),
            origin: Arc::new(url.clone()),
            config: Arc::new(config.clone()),
        };
        jobs::resume(&state)
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let router = routes::app(state);
        let faults = FaultInjector::new(config.faults.clone()).map(Arc::new);
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(serve(listener, router, faults, rx));
        tracing::info!(%url, "emulator listening");
        Ok(Emulator {
            url,
            addr,
            applications: fixture.map(|f| f.applications()).unwrap_or_default(),
            shutdown: Some(tx),
            server: Some(server),
            _tempdir: tempdir,
        })
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OAuth applications the fixture declares (with their secrets, for printing demo credentials).
    pub fn applications(&self) -> &[fixture::FixtureApplication] {
        &self.applications
    }

    /// Stops accepting connections and waits (at most 10 s) for requests in flight.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Removes the temporary files of uploads and exports a previous run left unfinished: nothing refers to them
/// (an upload becomes visible only once renamed into place, and unfinished exports are written again).
fn remove_partial_files(blobs: &std::path::Path) -> std::io::Result<()> {
    for dir in ["uploads", "exports"] {
        for entry in std::fs::read_dir(blobs.join(dir))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "part") {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// Where a database's records file lives, for tools that inspect it.
pub fn records_path(catalog: &std::path::Path) -> PathBuf {
    db::records_path(catalog)
}

/// Accepts connections until `shutdown` fires. Written on hyper directly rather than `axum::serve` because an
/// injected "dropped connection" must close the socket without any answer, which only a fallible service can.
async fn serve(
    listener: TcpListener,
    router: Router,
    faults: Option<Arc<FaultInjector>>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let router = router.clone();
                let faults = faults.clone();
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let router = router.clone();
                    let faults = faults.clone();
                    async move {
                        if let Some(faults) = faults
                            && let Some(kind) = faults.draw(request.uri().path())
                        {
                            tracing::debug!(path = request.uri().path(), ?kind, "injecting fault");
                            return routes::fault_response(kind, faults.retry_after());
                        }
                        let response = router.oneshot(request.map(axum::body::Body::new)).await;
                        Ok::<_, std::io::Error>(response.unwrap_or_else(|never| match never {}))
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}
