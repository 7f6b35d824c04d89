//! Why a command stopped, classified so that its exit code tells a script what to do: fix the call (2), or
//! retry / look at the service or the machine (3). A sync that ran but had a table fail is not an error here
//! but [`ExitStatus::Failure`](crate::commands::ExitStatus) (1).

use std::fmt;

/// A command that could not run to its end.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The call is wrong: bad arguments or configuration, credentials refused, a branch, domain, table or
    /// source that does not exist, data that does not fit the table's definitions. Exit code 2.
    Usage(String),
    /// Something failed that the call could not have prevented: the service unreachable or answering
    /// errors, a timeout, the disk. Exit code 3.
    Unexpected(String),
}

impl CliError {
    /// The documented exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Unexpected(_) => 3,
        }
    }

    /// The same class with `context: ` before the message.
    pub(crate) fn context(self, context: impl fmt::Display) -> Self {
        match self {
            CliError::Usage(m) => CliError::Usage(format!("{context}: {m}")),
            CliError::Unexpected(m) => CliError::Unexpected(format!("{context}: {m}")),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Unexpected(m) => f.write_str(m),
        }
    }
}

impl From<trdm_client::Error> for CliError {
    fn from(e: trdm_client::Error) -> Self {
        use trdm_client::Error as E;
        let message = e.to_string();
        match e {
            E::Unauthenticated { .. }
            | E::PermissionDenied { .. }
            | E::NotFound { .. }
            | E::Ambiguous { .. }
            | E::Validation { .. }
            | E::Config { .. } => CliError::Usage(message),
            _ => CliError::Unexpected(message),
        }
    }
}

impl From<trdm_sync::Error> for CliError {
    fn from(e: trdm_sync::Error) -> Self {
        use trdm_sync::Error as E;
        match e {
            E::Client(e) => e.into(),
            E::TableNotFound { .. } | E::Invalid(_) | E::SchemaMismatch(_) => {
                CliError::Usage(e.to_string())
            }
            _ => CliError::Unexpected(e.to_string()),
        }
    }
}

impl From<trdm_emulator::Error> for CliError {
    fn from(e: trdm_emulator::Error) -> Self {
        match e {
            // A broken database file is not something the call got wrong.
            trdm_emulator::Error::Database(_) => CliError::Unexpected(e.to_string()),
            // A bad fixture, database path or listen address is.
            _ => CliError::Usage(e.to_string()),
        }
    }
}
