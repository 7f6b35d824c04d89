//! `trdm`: parse, build a runtime, run the command, map its outcome to an exit code.
//!
//! Exit codes: 0 everything succeeded (skipped tables count as success), 1 some table failed, 2 the call is
//! wrong (usage, configuration, names that do not exist), 3 an unexpected failure ([`error::CliError`]).
//! Output goes through `output`; logs go to stderr (`TRDM_LOG`).

mod args;
mod commands;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRDM_LOG")
                // The Delta kernel logs a missing table (the first download into an object store) as an
                // ERROR; every failure that matters reaches the user as a table's status or an error.
                .unwrap_or_else(|_| "warn,buoyant_kernel=off,delta_kernel=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::error(&format!("cannot start the runtime: {e}"));
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(status) => status.into(),
        Err(e) => {
            output::error(&e.to_string());
            ExitCode::from(e.exit_code())
        }
    }
}
