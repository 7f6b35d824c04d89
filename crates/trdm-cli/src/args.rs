//! Command-line arguments: data only, no behaviour. Doc comments are the help text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use trdm_catalog_spark_connect::{RemoteError, SparkRemote};
use trdm_emulator::{EndpointGroup, FaultKind};
use trdm_sync::{ExportPattern, ImportPattern};

/// Keep reference data in sync between TitanRDM and the lakehouse.
#[derive(Debug, Parser)]
#[command(name = "trdm", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Move a domain between TitanRDM and a catalog (the embedded Delta warehouse by default, or a Spark
    /// cluster with --spark).
    #[command(subcommand)]
    Sync(SyncCommand),
    /// List branches.
    Branches(ConnectArgs),
    /// List domains.
    Domains(ConnectArgs),
    /// List the deployed tables of a domain on a branch.
    Tables(TablesArgs),
    /// Run a local, persistent TitanRDM-compatible server.
    Emulator(EmulatorArgs),
    /// Run the demo: an in-process emulator with the Clinics domain, a download into ./warehouse, a few
    /// changes, an upload back, and the versions TitanRDM created.
    Demo(DemoArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum SyncCommand {
    /// TitanRDM → catalog: write every table of a domain to `{catalog}.{schema}.{abbr}_{table}`.
    Download(DownloadArgs),
    /// Catalog → TitanRDM: read `{catalog}.{schema}.{abbr}_{table}` and import it in one batch.
    Upload(UploadArgs),
}

/// How to reach TitanRDM.
#[derive(Debug, Args, Clone)]
pub(crate) struct ConnectArgs {
    /// TitanRDM base URL.
    #[arg(long, env = "TITAN_URL")]
    pub(crate) url: String,
    /// OAuth client id.
    #[arg(long, env = "TITAN_CLIENT_ID")]
    pub(crate) client_id: String,
    /// OAuth client secret (prefer the environment variable).
    #[arg(long, env = "TITAN_CLIENT_SECRET", hide_env_values = true)]
    pub(crate) client_secret: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

/// Text for people, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Aligned text.
    Text,
    /// One JSON document on stdout (see the README for its fields).
    Json,
}

/// Which branch.
#[derive(Debug, Args, Clone)]
#[group(required = true, multiple = false)]
pub(crate) struct BranchArgs {
    /// Branch by name (must be unique; see --branch-owner).
    #[arg(long)]
    pub(crate) branch: Option<String>,
    /// Branch by id.
    #[arg(long)]
    pub(crate) branch_id: Option<i64>,
}

#[derive(Debug, Args)]
pub(crate) struct TablesArgs {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) branch: BranchArgs,
    /// Exact domain name.
    #[arg(long)]
    pub(crate) domain: String,
}

/// What both sync directions share.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) branch: BranchArgs,
    /// Owner id, when several private branches share the name.
    #[arg(long)]
    pub(crate) branch_owner: Option<i64>,
    /// Catalog (first name level), e.g. dev.
    #[arg(long)]
    pub(crate) catalog: String,
    /// Schema (second name level), e.g. rdmin or rdmout.
    #[arg(long)]
    pub(crate) schema: String,
    /// Exact domain name, e.g. Clinics.
    #[arg(long)]
    pub(crate) domain: String,
    /// Only this table (display name, e.g. "Delivery Centre"); repeatable.
    #[arg(long = "table")]
    pub(crate) tables: Vec<String>,
    /// Correlation code (download: for every export; upload: for the batch).
    #[arg(long)]
    pub(crate) correlation_code: Option<String>,
    /// Longest wait in seconds between status checks (the first after 0.25 s, each wait 1.5x the last up to it).
    #[arg(long, value_parser = parse_duration, default_value = "0.5")]
    pub(crate) poll_interval: Duration,
    /// Maximum seconds to wait for each export or import.
    #[arg(long, value_parser = parse_duration, default_value = "300")]
    pub(crate) max_wait: Duration,
    /// Where the Delta tables live, at {WAREHOUSE}/{catalog}/{schema}/{table}: a directory, or an object
    /// store: s3://bucket/prefix, az://container/prefix (or abfss://container@account.dfs.core.windows.net/
    /// prefix), gs://bucket/prefix. A store's credentials and endpoint come from its cloud's usual
    /// environment variables (AWS_*, AZURE_*, GOOGLE_*).
    #[arg(long, env = "TRDM_WAREHOUSE", default_value = "./warehouse")]
    pub(crate) warehouse: String,
    /// A Spark cluster instead of the warehouse, over Spark Connect: sc://HOST:PORT[/;name=value;...], e.g.
    /// Databricks' sc://WORKSPACE:443/;token=PAT;x-databricks-cluster-id=ID;use_ssl=true. Tables are Delta
    /// tables in the cluster's catalogs; the parameters go to the server as given and are never printed.
    #[arg(long, env = "TRDM_SPARK_REMOTE", hide_env_values = true, value_parser = SparkRemoteParser)]
    pub(crate) spark: Option<Box<SparkRemote>>,
    /// Tables moved at once.
    #[arg(long, default_value_t = 4)]
    pub(crate) concurrency: usize,
    /// Never draw progress bars (they are drawn on stderr only when it is a terminal).
    #[arg(long)]
    pub(crate) no_progress: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    #[command(flatten)]
    pub(crate) sync: SyncArgs,
    /// full (the target is replaced) or incremental (the changes since the high-water mark are merged in).
    #[arg(long, value_parser = PatternParser::<ExportPattern>::new(), default_value_t = ExportPattern::Full)]
    pub(crate) pattern: ExportPattern,
    /// Incremental: changes strictly after this ISO 8601 instant. Default: the mark stored by the last sync.
    #[arg(long)]
    pub(crate) high_water_mark: Option<String>,
    /// Every version of every record rather than the current ones.
    #[arg(long)]
    pub(crate) include_history: bool,
    /// Only show what the download would change in each target (rows gained, changed, lost, unchanged and
    /// the first changes); the exports are read, nothing is written to the warehouse.
    #[arg(long)]
    pub(crate) plan: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    #[command(flatten)]
    pub(crate) sync: SyncArgs,
    /// How the import applies each file (any case; the legacy incremental = incremental_upsert_only).
    #[arg(long, value_parser = PatternParser::<ImportPattern>::new(), default_value_t = ImportPattern::Full)]
    pub(crate) pattern: ImportPattern,
    /// Import batch description.
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// Send the valid tables and complete the batch even when others failed (the incumbent's behaviour).
    #[arg(long)]
    pub(crate) allow_partial: bool,
    /// Only show what the upload would change (per table: inserts, updates, deletes, unchanged records and
    /// the first changes), against a full export of the branch's current records; nothing is written.
    #[arg(long)]
    pub(crate) plan: bool,
    /// Let a full upload delete more than half of a table's current records (refused by default).
    #[arg(long)]
    pub(crate) allow_mass_delete: bool,
    /// Send tables whose plan changes nothing (skipped by default as `skipped (unchanged)`).
    #[arg(long)]
    pub(crate) upload_unchanged: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Fixture (TOML) that initialises a new database. An existing database keeps its data.
    #[arg(long)]
    pub(crate) fixture: Option<PathBuf>,
    /// Catalog database file (records and files are kept beside it). Default: a temporary directory.
    #[arg(long)]
    pub(crate) db: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,
    /// How long exports stay `started` (seconds, or e.g. 500ms).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    pub(crate) export_delay: Duration,
    /// How long uploaded tables wait before processing (seconds, or e.g. 500ms).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    pub(crate) import_delay: Duration,
    /// Lifetime of access tokens (seconds, or e.g. 5s).
    #[arg(long, value_parser = parse_duration, default_value = "7200")]
    pub(crate) token_ttl: Duration,
    /// Largest accepted upload in bytes (the real service's limit is 100 MB).
    #[arg(long, default_value_t = trdm_emulator::decisions::MAX_UPLOAD_BYTES)]
    pub(crate) max_upload_size: u64,
    /// Share of requests that fail (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) fault_rate: f64,
    /// Kinds of injected faults, comma separated: 429, 503, drop.
    #[arg(long, value_delimiter = ',', default_value = "429,503,drop")]
    pub(crate) fault_kinds: Vec<FaultKind>,
    /// Endpoint groups faults apply to, comma separated: auth, metadata, exports, imports, blobs.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "auth,metadata,exports,imports,blobs"
    )]
    pub(crate) fault_groups: Vec<EndpointGroup>,
    /// Retry-After of injected 429 answers (seconds).
    #[arg(long, value_parser = parse_duration, default_value = "1")]
    pub(crate) fault_retry_after: Duration,
    /// Seed of the fault draw, for reproducible runs.
    #[arg(long, default_value_t = 0)]
    pub(crate) fault_seed: u64,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The fixture to serve (default: the Clinics fixture built into the binary).
    #[arg(long)]
    pub(crate) fixture: Option<PathBuf>,
    /// Root of the Delta warehouse the demo writes.
    #[arg(long, default_value = "./warehouse")]
    pub(crate) warehouse: PathBuf,
    /// Keep serving the emulator after the demo (until Ctrl-C), to explore it with other clients.
    #[arg(long)]
    pub(crate) serve: bool,
}

/// Reads a pattern with its own `FromStr` (trimmed, any case; for imports also the legacy `incremental`) and
/// lists its API names as the possible values in the help.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PatternParser<P>(std::marker::PhantomData<P>);

impl<P> PatternParser<P> {
    pub(crate) fn new() -> Self {
        PatternParser(std::marker::PhantomData)
    }
}

/// A pattern type's accepted values, for the help.
pub(crate) trait Pattern: std::str::FromStr + Clone + Send + Sync + 'static {
    fn possible_values() -> Vec<PossibleValue>;
}

impl Pattern for ImportPattern {
    fn possible_values() -> Vec<PossibleValue> {
        ImportPattern::ALL
            .into_iter()
            .map(|pattern| {
                let value = PossibleValue::new(pattern.as_str());
                if pattern == ImportPattern::IncrementalUpsertOnly {
                    value.alias(ImportPattern::LEGACY_INCREMENTAL)
                } else {
                    value
                }
            })
            .collect()
    }
}

impl Pattern for ExportPattern {
    fn possible_values() -> Vec<PossibleValue> {
        ExportPattern::ALL
            .into_iter()
            .map(|pattern| PossibleValue::new(pattern.as_str()))
            .collect()
    }
}

impl<P> TypedValueParser for PatternParser<P>
where
    P: Pattern,
    P::Err: std::error::Error + Send + Sync + 'static,
{
    type Value = P;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<P, clap::Error> {
        let parse = <P as std::str::FromStr>::from_str;
        parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(P::possible_values().into_iter()))
    }
}

/// `2`, `1.5`, `500ms`, `3s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 2, 1.5, 500ms)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} must be a non-negative duration"));
    }
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("{text:?} is too long a duration"))
}

/// `--spark`: a Spark Connect string. Its own error, never clap's usual "invalid value '…'", which would
/// print the string and with it the token.
#[derive(Clone)]
struct SparkRemoteParser;

impl TypedValueParser for SparkRemoteParser {
    type Value = Box<SparkRemote>;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Box<SparkRemote>, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("--spark (or TRDM_SPARK_REMOTE): {message}\n"),
            )
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("the connection string is not UTF-8".to_owned()))?;
        SparkRemote::parse(text)
            .map(Box::new)
            .map_err(|e: RemoteError| refuse(e.to_string()))
    }
}
