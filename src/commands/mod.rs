//! One file per subcommand; orchestration only: no value parsing, no rule text.

mod completions;
mod man;
mod nat_ls;
mod run;

pub use completions::write_completions;
pub use man::write_man_pages;

use crate::cli::{Cli, Command, NatCommand};
use crate::error::{Error, Result};

/// Run the parsed command line.
pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Ps(_) => Err(Error::NotImplemented("berth ps")),
        Command::Port(_) => Err(Error::NotImplemented("berth port")),
        Command::Start(_) => Err(Error::NotImplemented("berth start")),
        Command::Stop(_) => Err(Error::NotImplemented("berth stop")),
        Command::Rm(_) => Err(Error::NotImplemented("berth rm")),
        Command::Nat(NatCommand::Ls(args)) => nat_ls::run(&args),
        Command::Nat(NatCommand::Sync(_)) => Err(Error::NotImplemented("berth nat sync")),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
    }
}
