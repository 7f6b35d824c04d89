//! The Rust SDK for TitanRDM: branches, domains, deployed tables and import mappings; exports polled to
//! completion and downloaded as a stream; imports uploaded from a stream with per-table results. It knows HTTP
//! and JSON and nothing about Arrow or catalogs (that is `trdm-sync`'s job).
//!
//! # Quick start
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/clinics.toml");
//! # let config = trdm_emulator::EmulatorConfig { fixture: Some(fixture.into()), ..Default::default() };
//! # let emulator = trdm_emulator::Emulator::start(config, "127.0.0.1:0".parse()?).await?;
//! # let url = emulator.url();
//! use std::time::Duration;
//! use futures_util::TryStreamExt;
//! use trdm_client::{
//!     ClientBuilder, ExportRequest, ImportPattern, ImportRequest, ImportTableRequest, PollConfig, UploadBody,
//! };
//!
//! // In production: ClientBuilder::from_env() reads TITAN_URL, TITAN_CLIENT_ID and TITAN_CLIENT_SECRET.
//! let client = ClientBuilder::new(url).with_client_credentials("demo-client", "demo-secret").connect().await?;
//! let poll = PollConfig::fixed(Duration::from_millis(100), Duration::from_secs(60));
//!
//! let branch = client.branch_by_name("dev", None).await?;
//! let domain = client.domain_by_name("Clinics").await?;
//! let tables = client.deployed_table_definitions(branch.id, Some(domain.id)).await?;
//! let centres = tables.iter().find(|t| t.database_table_name == "delivery_centre").unwrap();
//!
//! // Upload: one batch, one file per table, complete, then wait for the per-table counts.
//! let import = client.create_import(&ImportRequest::new(branch.id).with_description("quick start")).await?;
//! let mapping = client.default_import_mapping(centres.id).await?;
//! let request = ImportTableRequest::new(import.id, &centres.key, &mapping.key, ImportPattern::IncrementalUpsertOnly);
//! let slot = client.create_import_table(&request).await?;
//! let csv = "centre_code,centre_name\nDC900,Quick Start Centre\n";
//! client.upload_table_file(&slot, &UploadBody::bytes(csv)).await?;
//! client.complete_import(import.id, None).await?;
//! let results = client.wait_for_import(import.id, &poll).await?;
//! assert_eq!(results.tables[0].insert_row_count, Some(1));
//!
//! // Download: create an export, poll it to completion, stream its file.
//! let export = client.create_export(&ExportRequest::full(branch.id, &centres.key)).await?;
//! let export = client.wait_for_export(export.id, &poll).await?;
//! let mut file = client.download_export(&export).await?;
//! let mut bytes = 0;
//! while let Some(chunk) = file.try_next().await? {
//!     bytes += chunk.len(); // write it somewhere; nothing holds the whole file
//! }
//! assert_eq!(Some(bytes as i64), export.bytes_exported);
//! # Ok(()) }
//! ```
//!
//! # Surface, next to the incumbent Python SDK
//!
//! | `titan-rdm-sdk` 2.0 | `trdm-client` |
//! |---|---|
//! | `TitanRDMClient(url, client_id, client_secret)` | [`ClientBuilder::new`]`(url).with_client_credentials(id, secret).`[`connect`](ClientBuilder::connect)`()` (or [`build`](ClientBuilder::build) to authenticate lazily) |
//! | `get_branches()`, `get_branch(id)`, `get_branch_by_name(name, owner_id)` | [`Client::branches`], [`Client::branch`], [`Client::branch_by_name`] |
//! | `get_domains()`, `get_domain(id)`, `get_domain_by_name(name)` | [`Client::domains`], [`Client::domain`], [`Client::domain_by_name`] |
//! | `get_deployed_table_definitions(branch_id, domain_id)`, `get_deployed_table_definition(key, branch_id)` | [`Client::deployed_table_definitions`], [`Client::deployed_table_definition`] |
//! | `get_default_import_mapping(td_id)`, `get_import_mapping_by_key(td_id, key)` | [`Client::default_import_mapping`], [`Client::import_mapping_by_key`] |
//! | `get_download(...)` (creates the export) | [`Client::create_export`] with [`ExportRequest::full`] / [`ExportRequest::incremental`], `.with_history(..)`, `.with_correlation_code(..)` |
//! | `Download.check_status()`, `wait_until_ready(poll_interval, max_wait)` | [`Client::export`], [`Client::wait_for_export`] with [`PollConfig`] |
//! | `Download.receive()` | [`Client::download_export`] (a [`ByteStream`]; parsing the CSV is the caller's) |
//! | `get_upload(branch_id, description, correlation_code)` | [`Client::create_import`] with [`ImportRequest`] |
//! | `Upload.get_table_upload(key, mapping_key, pattern, ...)` | [`Client::create_import_table`] with [`ImportTableRequest`] |
//! | `TableUpload.send(df)` (PUT, then `upload_complete` or `upload_failed`) | [`Client::upload_table_file`], or [`Client::put_presigned`] + [`Client::upload_complete`] / [`Client::upload_failed`] |
//! | `Upload.complete(message)`, `Upload.get_results()` | [`Client::complete_import`], [`Client::import_results`], [`Client::wait_for_import`] |
//!
//! Keys (`table_definition_key`, `import_mapping_key`, `key`) are strings everywhere, even where the server
//! sends numbers. Also here: [`Client::find_exports`], [`Client::find_imports`] (by correlation code),
//! [`Client::import_table`], [`Client::download`] (any presigned URL), [`Client::access_token`].
//!
//! # Authentication
//!
//! OAuth2 client credentials, posted as a form to `/oauth/token` without a `scope` unless
//! [`ClientBuilder::with_scope`] sets one. The token is cached and reused while more than
//! `min(min_ttl, lifetime / 2)` of its lifetime remains (`min_ttl` 5 minutes by default), measured on the local
//! monotonic clock from its arrival. Refreshes happen under one lock with a second check inside it, so
//! concurrent calls that find the token stale authenticate once. If the server answers 401 to a token the
//! client believed valid (revoked, clock trouble), the client drops that token, authenticates again and resends
//! — exactly once per call; a second 401 is [`Error::Unauthenticated`].
//!
//! # Retries
//!
//! [`RetryConfig`] documents exactly what is retried: idempotent requests (every `GET`, the token request,
//! presigned `PUT`s of bodies the client can produce again, presigned `GET`s until the headers arrive) on
//! connection errors, timeouts, `429`, `502`, `503` and `504`, with exponential backoff and full jitter, the
//! server's `Retry-After` honoured, and caps on the number of retries and on the total time. When they run out
//! the error says how many retries were spent ([`Error::retries`]).
//!
//! # Creates are never blindly retried
//!
//! `POST /api/imports/new`, `/api/import_tables/new` and `/api/exports/new` create something each time they are
//! performed, so the client handles their failures by what they prove:
//!
//! * `429`, or a connection that was refused: the request did nothing, so it is resent after the backoff.
//! * A lost answer — connection dropped or timed out after sending, `502`, `503`, `504`: the request may have
//!   been performed. Every create carries a correlation code (the caller's, or a unique `trdm-<uuid>` the
//!   client generates), and the client looks the resource up by it — exports with
//!   `GET /api/v1/exports?q=correlation_code:eq:CODE`, imports with `GET /api/v1/imports?q=…`, import tables in
//!   their batch's `GET /api/v1/imports/{id}` — matching the other request fields too. Found: that is the
//!   result, nothing is sent again. Not found: the create is resent, within the same retry budget. When the
//!   caller chose the code, resources that already carried it before the create are ignored (one extra `GET`
//!   before the create), so reusing a code across runs is safe. One window remains: a lost request that the
//!   server performs only after the lookup found nothing would be duplicated by the resend; both copies then
//!   carry the same correlation code, so [`Client::find_exports`] / [`Client::find_imports`] show it.
//! * If retries run out, or the lookup itself fails, after a lost answer, the error is [`Error::Unconfirmed`]
//!   with the correlation code: the caller recovers with [`Client::find_exports`] / [`Client::find_imports`] /
//!   [`Client::import_results`] before deciding to create again.
//!
//! A lost answer of a lookup-less state change (`complete`, `upload_complete`, `upload_failed`) is resent; if
//! the resend meets `409 Conflict` the client reads the resource, and if it already moved that is the result.
//!
//! # Transfers
//!
//! Downloads are [`ByteStream`]s of chunks as they arrive; uploads are sent from an [`UploadBody`] (bytes, a
//! file read in 64 KiB chunks, or a stream), so memory does not grow with the file.
//!
//! # Errors
//!
//! One [`Error`] enum with semantic variants. HTTP statuses become variants in exactly one function
//! (400/422 → `Validation`, 401 → `Unauthenticated`, 403 → `PermissionDenied`, 404 → `NotFound`,
//! 409 → `Conflict`, 429 → `RateLimited`, other → `Api { status, .. }`), with the server's message taken as the
//! incumbent SDK takes it: `message`, else `error` (`: error_description`), else `errors` joined by `; `, else
//! the body as text (cut at 500 characters).
//!
//! # Secrets
//!
//! The client secret and tokens are [`Secret`]s and presigned URLs are [`SafeUrl`]s: both print redacted in
//! `Debug`, `Display`, `Serialize`, errors and `tracing` output.
//!
//! # Tracing
//!
//! Every public method that talks to the service runs in a `debug` span named after it, and every HTTP attempt
//! in a `trdm_client.http` span with `method`, `path` (never the query), `attempt`, `status` and
//! `duration_ms`; retries, recoveries and re-authentications are logged as events inside them.

mod api;
mod auth;
mod builder;
mod client;
mod error;
mod http;
mod jobs;
mod models;
mod pagination;
mod redact;
mod retry;
mod transfer;

pub use builder::{
    ClientBuilder, DEFAULT_PAGE_SIZE, DEFAULT_REQUEST_TIMEOUT, DEFAULT_TOKEN_MIN_TTL,
    DEFAULT_TRANSFER_TIMEOUT, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_URL, MAX_PAGE_SIZE,
};
pub use client::Client;
pub use error::{Error, Retries};
pub use jobs::{FIRST_POLL, PollConfig, RAMP};
pub use models::{
    Branch, DeployedColumnDefinition, DeployedTableDefinition, Domain, Export, ExportPattern,
    ExportRequest, ExportStatus, Import, ImportMapping, ImportPattern, ImportRequest,
    ImportResults, ImportStatus, ImportTable, ImportTableRequest, ImportTableStatus,
};
pub use redact::{REDACTED, SafeUrl, Secret};
pub use retry::RetryConfig;
pub use transfer::{ByteStream, IoStream, UploadBody};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
