//! `trdm emulator`: serve a local TitanRDM until SIGINT/SIGTERM.

use std::io::Write;
use std::net::SocketAddr;

use trdm_emulator::{Emulator, EmulatorConfig, FaultConfig};

use super::ExitStatus;
use crate::args::EmulatorArgs;
use crate::error::CliError;

pub(super) async fn run(args: EmulatorArgs) -> Result<ExitStatus, CliError> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(CliError::Usage(format!(
            "--fault-rate must be between 0 and 1, got {}",
            args.fault_rate
        )));
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
    let shutdown = Shutdown::listen()?;
    let emulator = start(config, args.listen).await?;
    shutdown.wait().await;
    emulator.shutdown().await;
    Ok(ExitStatus::Success)
}

/// Starts an emulator and announces it: `listening on URL`, then one `credentials:` line per application.
pub(super) async fn start(
    config: EmulatorConfig,
    listen: SocketAddr,
) -> Result<Emulator, CliError> {
    let emulator = Emulator::start(config, listen).await?;
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
    Ok(emulator)
}

/// Ctrl-C and SIGTERM, listened for from creation on: made before the ready line is printed, so a
/// supervisor that stops the server as soon as it has read that line is never missed.
pub(super) struct Shutdown {
    #[cfg(unix)]
    signals: (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
}

impl Shutdown {
    pub(super) fn listen() -> Result<Shutdown, CliError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind| {
                signal(kind)
                    .map_err(|e| CliError::Unexpected(format!("cannot listen for signals: {e}")))
            };
            Ok(Shutdown {
                signals: (
                    listen(SignalKind::interrupt())?,
                    listen(SignalKind::terminate())?,
                ),
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    /// Waits for Ctrl-C or SIGTERM.
    pub(super) async fn wait(self) {
        #[cfg(unix)]
        {
            let (mut interrupt, mut terminate) = self.signals;
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
