//! One file per subcommand; orchestration only: no value parsing, no rule text.

mod completions;
mod create;
mod inspect;
mod lifecycle;
mod man;
mod misc;
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
    /// docker's config dir (`--config`, `$DOCKER_CONFIG`, `~/.docker`): its
    /// `config.json` holds settings docker's commands read (`psFormat`).
    pub docker_config: std::path::PathBuf,
    pub config: Config,
    pub settings: Settings,
}

/// Run the parsed command line. A bad config stops every command; an engine that cannot
/// be resolved (a missing context) stops every command that needs one.
pub fn dispatch(cli: Cli) -> Result<()> {
    let global = &cli.global;
    let env = |n: &str| std::env::var(n).ok();
    let mut config = config::load(global.host.as_deref(), global.berth_config.as_deref(), &env)?;
    let flags = crate::engine::endpoint::Flags {
        host: global.host.clone(),
        context: global.context.clone(),
        config_dir: global.config.clone(),
        tls: global.tls,
        tlsverify: global.tlsverify,
        tlscacert: global.tlscacert.clone(),
        tlscert: global.tlscert.clone(),
        tlskey: global.tlskey.clone(),
    };
    let needs_engine = !matches!(
        cli.command,
        Command::Completions(_) | Command::Man(_) | Command::Config(_)
    );
    let endpoint = match crate::engine::endpoint::resolve(&flags, &config, &env) {
        Ok(e) => Some(e),
        Err(e) if needs_engine => return Err(e),
        Err(_) => None,
    };
    if let Some(e) = &endpoint {
        config.host = config::Setting {
            value: e.host.clone(),
            source: e.source.clone(),
        };
    }
    let mut settings = Settings::new(&config, global.berth_config.clone(), &env);
    if let Some(e) = endpoint {
        settings.endpoint = e;
    }
    let ctx = Context {
        debug: global.debug,
        docker_config: crate::engine::endpoint::config_dir(flags.config_dir.as_deref(), &env),
        config,
        settings,
    };
    match cli.command {
        Command::Run(args) => run::run(&ctx, &args),
        Command::Create(args) => create::run(&ctx, &args),
        Command::Ps(args) => ps::run(&ctx, &args),
        Command::Port(args) => port::run(&ctx, &args),
        Command::Start(args) => start::run(&ctx, &args),
        Command::Stop(args) => stop::run(&ctx, &args),
        Command::Restart(args) => restart::restart(&ctx, &args),
        Command::Kill(args) => restart::kill(&ctx, &args),
        Command::Rm(args) => rm::run(&ctx, &args),
        Command::Watch(args) => crate::watch::run(&ctx.settings, &args),
        Command::Inspect(args) => inspect::run(&ctx, &args),
        Command::Wait(args) => misc::wait(&ctx, &args),
        Command::Rename(args) => misc::rename(&ctx, &args),
        Command::Pause(args) => misc::pause(&ctx, &args, true),
        Command::Unpause(args) => misc::pause(&ctx, &args, false),
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

/// Refuse a command that changes this host's rules when the engine is not on this
/// host: its containers are published by it, and berth has no rules to show or repair.
pub async fn require_local(
    ctx: &Context,
    engine: &crate::engine::Engine,
    what: &str,
) -> Result<()> {
    match crate::engine::place::place(engine, &ctx.settings.host, ctx.settings.engine_local).await {
        crate::engine::place::Place::Local => Ok(()),
        crate::engine::place::Place::Elsewhere(why) => Err(crate::error::Error::failed(format!(
            "{what}: the engine at {} is not on this host ({why}): it publishes its containers' ports itself, and berth keeps no rules for it here",
            ctx.settings.host
        ))),
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
