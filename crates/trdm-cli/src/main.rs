//! `trdm`: the command line. For now it runs the local TitanRDM emulator (`trdm emulator`) and the demo
//! (`trdm demo`); the sync commands come with the sync engine.
//!
//! Exit codes: 0 success, 2 usage or unexpected error.

#![allow(clippy::print_stdout, clippy::print_stderr)] // the binary is where output belongs

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use trdm_emulator::{Emulator, EmulatorConfig, EndpointGroup, FaultConfig, FaultKind};

/// Keep reference data in sync between TitanRDM and the lakehouse.
#[derive(Debug, Parser)]
#[command(name = "trdm", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a local, persistent TitanRDM-compatible server.
    Emulator(EmulatorArgs),
    /// Run the demo: the emulator with the Clinics fixture and its demo credentials.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct EmulatorArgs {
    /// Fixture (TOML) that initialises a new database. An existing database keeps its data.
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Catalog database file (records and files are kept beside it). Default: a temporary directory.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How long exports stay `started` (seconds, or e.g. 500ms).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    export_delay: Duration,
    /// How long uploaded tables wait before processing (seconds, or e.g. 500ms).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    import_delay: Duration,
    /// Lifetime of access tokens (seconds, or e.g. 5s).
    #[arg(long, value_parser = parse_duration, default_value = "7200")]
    token_ttl: Duration,
    /// Largest accepted upload in bytes (the real service's limit is 100 MB).
    #[arg(long, default_value_t = trdm_emulator::decisions::MAX_UPLOAD_BYTES)]
    max_upload_size: u64,
    /// Share of requests that fail (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Kinds of injected faults, comma separated: 429, 503, drop.
    #[arg(long, value_delimiter = ',', default_value = "429,503,drop")]
    fault_kinds: Vec<FaultKind>,
    /// Endpoint groups faults apply to, comma separated: auth, metadata, exports, imports, blobs.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "auth,metadata,exports,imports,blobs"
    )]
    fault_groups: Vec<EndpointGroup>,
    /// Retry-After of injected 429 answers (seconds).
    #[arg(long, value_parser = parse_duration, default_value = "1")]
    fault_retry_after: Duration,
    /// Seed of the fault draw, for reproducible runs.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The fixture to serve.
    #[arg(long, default_value = "fixtures/clinics.toml")]
    fixture: PathBuf,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
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
    Ok(Duration::from_secs_f64(value * scale))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRDM_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Emulator(args) => run_emulator(args).await,
            Command::Demo(args) => {
                let config = EmulatorConfig {
                    fixture: Some(args.fixture),
                    ..EmulatorConfig::default()
                };
                serve_until_signal(config, args.listen).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run_emulator(args: EmulatorArgs) -> Result<(), String> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(format!(
            "--fault-rate must be between 0 and 1, got {}",
            args.fault_rate
        ));
    }
    let config = EmulatorConfig {
        db_path: args.db,
        fixture: args.fixture,
        export_delay: args.export_delay,
        import_delay: args.import_delay,
        token_ttl: args.token_ttl,
        max_upload_bytes: args.max_upload_size,
        faults: FaultConfig {
            rate: args.fault_rate,
            kinds: args.fault_kinds,
            groups: args.fault_groups,
            retry_after: args.fault_retry_after,
            seed: args.fault_seed,
        },
        ..EmulatorConfig::default()
    };
    serve_until_signal(config, args.listen).await
}

async fn serve_until_signal(config: EmulatorConfig, listen: SocketAddr) -> Result<(), String> {
    let emulator = Emulator::start(config, listen)
        .await
        .map_err(|e| e.to_string())?;
    // The server must keep running when whoever started it stops reading stdout, so write errors are ignored.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", emulator.url());
    for app in emulator.applications() {
        let _ = writeln!(
            out,
            "credentials: client_id={} client_secret={} scopes={}",
            app.client_id,
            app.client_secret,
            app.scopes.join(" ")
        );
    }
    let _ = out.flush();
    drop(out);
    wait_for_signal().await;
    eprintln!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
