//! `berth nat sync` and `berth nat check`. sync makes the rules match the running containers again (after a
//! firewall flush, a daemon restart, an address change or a crash), and say what changed.

use crate::cli::NatSyncArgs;
use crate::commands::Context;
use crate::engine::{self, Engine};
use crate::error::Result;
use crate::publish;

pub fn run(ctx: &Context, args: &NatSyncArgs) -> Result<()> {
    let (base, actions) = engine::block_on(async {
        let engine = Engine::connect(&ctx.host).await?;
        publish::sync(&engine, args.dry_run).await
    })?;
    let prefix = if args.dry_run { "would have " } else { "" };
    for note in &base {
        println!("{prefix}{note}");
    }
    for a in &actions {
        println!("{prefix}{a}");
    }
    if base.is_empty() && actions.is_empty() {
        println!("in sync: nothing to do");
    }
    Ok(())
}

/// `berth nat check`: for cron and systemd; prints each finding, exit 1 if any.
pub fn check(ctx: &Context) -> Result<()> {
    let findings = engine::block_on(async {
        let engine = Engine::connect(&ctx.host).await?;
        publish::check(&engine).await
    })?;
    if findings.is_empty() {
        println!("ok: berth's rules match the running containers");
        return Ok(());
    }
    for f in &findings {
        println!("{f}");
    }
    Err(crate::error::Error::Exit(1))
}
