//! berth's error type and Docker's exit codes.
//!
//! `docker run` exits 125 when the docker CLI or daemon fails, 126 when the command
//! cannot be invoked, 127 when it cannot be found, and with the container's own status
//! otherwise. berth keeps the same contract.

/// Exit status when berth itself fails (Docker's 125).
pub const EXIT_BERTH: u8 = 125;

/// An error that ends the command with a message on stderr and an exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input to a subcommand: printed as `berth: MSG`, a blank line, and a hint to
    /// that subcommand's help, like docker does for `docker run`.
    #[error("berth: {message}\n\nRun 'berth {command} --help' for more information")]
    Usage { command: String, message: String },
    /// Anything else berth could not do: printed as `berth: MSG`.
    #[error("berth: {message}")]
    Failed { message: String, code: u8 },
    /// A message printed exactly as given (docker prints the daemon's errors bare).
    #[error("{message}")]
    Message { message: String, code: u8 },
    /// The feature is not built yet (its issue has not landed).
    #[error("berth: {0}: not implemented yet")]
    NotImplemented(&'static str),
    /// Writing our own output failed (a closed pipe is not reported).
    #[error("berth: {0}")]
    Io(#[from] std::io::Error),
    /// Nothing to print; exit with this status (e.g. the container's own exit code).
    #[error("")]
    Exit(u8),
}

impl Error {
    pub fn usage(command: &str, message: impl Into<String>) -> Self {
        Error::Usage {
            command: command.to_string(),
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed {
            message: message.into(),
            code: EXIT_BERTH,
        }
    }

    /// The process exit code for this error.
    pub fn code(&self) -> u8 {
        match self {
            Error::Usage { .. } | Error::NotImplemented(_) | Error::Io(_) => EXIT_BERTH,
            Error::Failed { code, .. } | Error::Message { code, .. } => *code,
            Error::Exit(code) => *code,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
