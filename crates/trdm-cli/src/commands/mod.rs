//! One module per command; each returns an [`ExitStatus`].

mod demo;
mod emulator;
mod metadata;
mod sync;

use std::process::ExitCode;

use trdm_client::{Client, ClientBuilder};

use crate::args::{BranchArgs, Command, ConnectArgs, SyncCommand};
use crate::error::CliError;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// Everything succeeded.
    Success,
    /// It ran, but some table failed.
    Failure,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
        }
    }
}

/// Runs a command. `Err` is a usage or an unexpected error (exit code 2 or 3).
pub(crate) async fn run(command: Command) -> Result<ExitStatus, CliError> {
    match command {
        Command::Sync(SyncCommand::Download(args)) => sync::download(args).await,
        Command::Sync(SyncCommand::Upload(args)) => sync::upload(args).await,
        Command::Branches(args) => metadata::branches(args).await,
        Command::Domains(args) => metadata::domains(args).await,
        Command::Tables(args) => metadata::tables(args).await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Demo(args) => demo::run(args).await,
    }
}

/// A logged-in client.
pub(crate) async fn connect(args: &ConnectArgs) -> Result<Client, CliError> {
    ClientBuilder::new(args.url.clone())
        .with_client_credentials(args.client_id.clone(), args.client_secret.clone())
        .connect()
        .await
        .map_err(|e| {
            CliError::from(e).context(format!("cannot sign in to TitanRDM at {}", args.url))
        })
}

/// The branch id the arguments name.
pub(crate) async fn branch_id(
    client: &Client,
    branch: &BranchArgs,
    owner: Option<i64>,
) -> Result<i64, CliError> {
    match (&branch.branch, branch.branch_id) {
        (_, Some(id)) => Ok(id),
        (Some(name), None) => Ok(client.branch_by_name(name, owner).await?.id),
        (None, None) => Err(CliError::Usage(
            "give --branch NAME or --branch-id ID".into(),
        )),
    }
}
