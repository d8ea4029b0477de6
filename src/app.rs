//! The one place where the command line is parsed, dispatched, and where every outcome
//! becomes an exit code: 0 on success, 125 when berth fails (like docker), the
//! container's own status when it ran. A closed stdout (`berth nat ls | head`) is success.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use crate::cli::Cli;
use crate::commands;
use crate::error::{EXIT_BERTH, Error};

pub fn main() -> ExitCode {
    // a shell asking for completions (COMPLETE=SHELL berth -- WORDS): answer and exit
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(crate::complete::COMPLETE_VAR)
        .completer("berth")
        .complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                // docker: too few arguments is a plain error (1); a bad flag is 125
                ErrorKind::MissingRequiredArgument | ErrorKind::MissingSubcommand => 1,
                _ => EXIT_BERTH,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// Print an error once, on stderr, and return its exit code.
fn report(err: &Error) -> ExitCode {
    if let Error::Io(e) = err
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    let text = err.to_string();
    if !text.is_empty() {
        let _ = writeln!(io::stderr(), "{text}");
    }
    ExitCode::from(err.code())
}
