//! One file per subcommand; orchestration only: no value parsing, no rule text.

mod completions;
mod man;
mod nat_ls;
mod nat_sync;
mod port;
mod ps;
mod rm;
mod run;
mod start;
mod stop;
pub mod tty;

pub use completions::{COMPLETE_VAR, complete_containers, complete_images, write_completions};
pub use man::write_man_pages;

use crate::cli::{Cli, Command, DEFAULT_HOST, NatCommand};
use crate::error::Result;

/// What every command may need from the global options.
pub struct Context {
    /// The engine address (`-H`, `DOCKER_HOST`, or the default socket).
    pub host: String,
    pub debug: bool,
}

/// Run the parsed command line.
pub fn dispatch(cli: Cli) -> Result<()> {
    let ctx = Context {
        host: cli
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_string()),
        debug: cli.debug,
    };
    match cli.command {
        Command::Run(args) => run::run(&ctx, &args),
        Command::Ps(args) => ps::run(&ctx, &args),
        Command::Port(args) => port::run(&ctx, &args),
        Command::Start(args) => start::run(&ctx, &args),
        Command::Stop(args) => stop::run(&ctx, &args),
        Command::Rm(args) => rm::run(&ctx, &args),
        Command::Nat(NatCommand::Ls(args)) => nat_ls::run(&args),
        Command::Nat(NatCommand::Sync(args)) => nat_sync::run(&ctx, &args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
    }
}

/// Several containers, one after another, like docker's rm/stop/start: each success
/// echoes the name as given, each failure is collected; all failures are printed at the
/// end and the exit status is 1.
pub fn report_each(errors: Vec<String>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::error::Error::Message {
            message: errors.join("\n"),
            code: 1,
        })
    }
}
