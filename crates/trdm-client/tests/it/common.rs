//! Test plumbing: an emulator on port 0 with the Clinics fixture, a client with small retry delays, a capture
//! of `tracing` output, and a proxy that can lose answers after the request was performed (which the
//! emulator's own faults never do: they strike before the action).

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use trdm_client::{Client, ClientBuilder, DeployedTableDefinition, PollConfig, RetryConfig};
use trdm_emulator::{Emulator, EmulatorConfig};
use trdm_testkit::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, TestEmulator};

/// Retries fast enough for tests.
pub fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_retries: 10,
        retry_timeout: Duration::from_secs(30),
        init_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(100),
        base: 2.0,
    }
}

pub fn poll() -> PollConfig {
    PollConfig {
        poll_interval: Duration::from_millis(20),
        max_interval: Duration::from_millis(200),
        backoff: 1.5,
        max_wait: Duration::from_secs(30),
    }
}

/// One emulator in its own directory, and a client of the demo application.
pub struct Env {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
    pub client: Client,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut EmulatorConfig)) -> Env {
        let TestEmulator { emulator, dir } = TestEmulator::start_with(tune).await;
        let client = builder(emulator.url()).build().unwrap();
        Env {
            emulator,
            dir,
            client,
        }
    }

    pub fn url(&self) -> &str {
        self.emulator.url()
    }

    pub fn builder(&self) -> ClientBuilder {
        builder(self.url())
    }

    /// Where the emulator writes export files.
    pub fn exports_dir(&self) -> PathBuf {
        self.dir.path().join("emulator.db.blobs").join("exports")
    }
}

pub fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .with_client_credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        .with_retry(fast_retry())
}

/// The `dev` branch id and its deployed table with this `database_table_name`.
pub async fn table(
    client: &Client,
    branch: &str,
    database_table_name: &str,
) -> (i64, DeployedTableDefinition) {
    let branch = client.branch_by_name(branch, None).await.unwrap();
    let tables = client
        .deployed_table_definitions(branch.id, None)
        .await
        .unwrap();
    let table = tables
        .into_iter()
        .find(|t| t.database_table_name == database_table_name)
        .unwrap();
    (branch.id, table)
}

/// Everything `tracing` printed while the guard lived (this thread only: use current-thread runtimes).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Captures TRACE output of the client and its HTTP stack, span fields included.
pub fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    let targets = Targets::new()
        .with_target("trdm_client", LevelFilter::TRACE)
        .with_target("reqwest", LevelFilter::TRACE)
        .with_target("hyper", LevelFilter::TRACE)
        .with_target("hyper_util", LevelFilter::TRACE);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_span_events(FmtSpan::CLOSE);
    let subscriber = tracing_subscriber::registry().with(fmt).with(targets);
    (captured, tracing::subscriber::set_default(subscriber))
}

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Pass it on and return the answer.
    Forward,
    /// Pass it on, then close the connection without answering: the request was performed, the answer lost.
    ForwardThenDrop,
    /// Pass it on, then answer this status instead (a gateway error after the action).
    ForwardThenStatus(u16),
    /// Close the connection without passing the request on.
    Drop,
    /// Answer this status and JSON body without passing the request on.
    Respond(u16, String),
}

type Decide = dyn Fn(&str, &str) -> Action + Send + Sync;

/// A loopback HTTP proxy in front of the emulator. `decide(method, path)` picks the [`Action`]; every
/// request is recorded as `"METHOD /path"`.
pub struct Proxy {
    pub url: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub async fn start(
        upstream: &str,
        decide: impl Fn(&str, &str) -> Action + Send + Sync + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let decide: Arc<Decide> = Arc::new(decide);
        let http = reqwest::Client::new();
        let upstream = upstream.to_owned();
        let seen_by_server = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (decide, http, upstream, seen) = (
                    decide.clone(),
                    http.clone(),
                    upstream.clone(),
                    seen_by_server.clone(),
                );
                let service =
                    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                        let (decide, http, upstream, seen) =
                            (decide.clone(), http.clone(), upstream.clone(), seen.clone());
                        async move { handle(request, &*decide, &http, &upstream, &seen).await }
                    });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy { url, seen }
    }

    /// How many requests matched `"METHOD /path"` exactly.
    pub fn count(&self, what: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| *s == what)
            .count()
    }
}

async fn handle(
    request: hyper::Request<Incoming>,
    decide: &Decide,
    http: &reqwest::Client,
    upstream: &str,
    seen: &Mutex<Vec<String>>,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    seen.lock().unwrap().push(format!("{method} {path}"));
    let action = decide(&method, &path);
    let respond = |status: u16, body: String| {
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        response
            .headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        Ok(response)
    };
    match action {
        Action::Drop => return Err(std::io::Error::other("proxy: dropped")),
        Action::Respond(status, body) => return respond(status, body),
        _ => {}
    }
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or(path);
    let mut forward = http.request(
        request.method().clone(),
        format!("{upstream}{path_and_query}"),
    );
    for (name, value) in request.headers() {
        if name != "host" {
            forward = forward.header(name, value);
        }
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let answer = forward
        .body(body)
        .send()
        .await
        .map_err(std::io::Error::other)?;
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.map_err(std::io::Error::other)?;
    match action {
        Action::ForwardThenDrop => Err(std::io::Error::other("proxy: answer lost")),
        Action::ForwardThenStatus(status) => respond(status, r#"{"error":"Bad Gateway"}"#.into()),
        _ => {
            let mut response = hyper::Response::new(Full::new(body));
            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            for (name, value) in &headers {
                if name != "transfer-encoding" && name != "connection" && name != "content-length" {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            Ok(response)
        }
    }
}

/// A counter for `decide` closures: true for the first `n` calls.
pub fn first(n: usize) -> impl Fn() -> bool + Send + Sync {
    let count = std::sync::atomic::AtomicUsize::new(0);
    move || count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < n
}
