//! One file per subcommand; orchestration only: no value parsing, no rule text.

mod completions;
mod lifecycle;
mod man;
mod nat_ls;
mod nat_sync;
mod port;
mod ps;
mod restart;
mod rm;
pub(crate) mod run;
mod start;
mod stop;
pub mod tty;

pub use completions::write_completions;
pub use man::write_man_pages;

use crate::cli::{Cli, Command, ConfigCommand, Format, NatCommand};
use crate::config::{self, Config};
use crate::error::Result;
use crate::settings::Settings;

/// What every command may need from the global options and the config.
pub struct Context {
    pub debug: bool,
    pub config: Config,
    pub settings: Settings,
}

/// Run the parsed command line. A bad config stops every command.
pub fn dispatch(cli: Cli) -> Result<()> {
    let env = |n: &str| std::env::var(n).ok();
    let config = config::load(cli.host.as_deref(), cli.config.as_deref(), &env)?;
    let settings = Settings::new(&config, cli.config.clone(), &env);
    let ctx = Context {
        debug: cli.debug,
        config,
        settings,
    };
    match cli.command {
        Command::Run(args) => run::run(&ctx, &args),
        Command::Ps(args) => ps::run(&ctx, &args),
        Command::Port(args) => port::run(&ctx, &args),
        Command::Start(args) => start::run(&ctx, &args),
        Command::Stop(args) => stop::run(&ctx, &args),
        Command::Restart(args) => restart::restart(&ctx, &args),
        Command::Kill(args) => restart::kill(&ctx, &args),
        Command::Rm(args) => rm::run(&ctx, &args),
        Command::Watch(args) => crate::watch::run(&ctx.settings, &args),
        Command::Nat(NatCommand::Ls(args)) => nat_ls::run(&ctx, &args),
        Command::Nat(NatCommand::Sync(args)) => nat_sync::run(&ctx, &args),
        Command::Nat(NatCommand::Check) => nat_sync::check(&ctx),
        Command::Config(ConfigCommand::Show(args)) => {
            let text = match args.format {
                Format::Text => ctx.config.show(),
                Format::Json => format!("{}\n", ctx.config.show_json()),
            };
            print!("{text}");
            Ok(())
        }
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
