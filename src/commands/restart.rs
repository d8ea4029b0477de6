//! `berth restart` and `berth kill`: like docker's, with the container's ports dark
//! while it is down and published again at its new address when it runs.

use crate::cli::{KillArgs, RestartArgs};
use crate::commands::lifecycle::Lifecycle;
use crate::commands::{Context, report_each};
use crate::engine;
use crate::error::Result;

pub fn restart(ctx: &Context, args: &RestartArgs) -> Result<()> {
    engine::block_on(async {
        let lc = Lifecycle::connect(ctx).await?;
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        for name in &args.containers {
            match lc.engine.inspect(name).await {
                Ok(c) => ids.push((name, c.id.unwrap_or_default())),
                Err(e) => errors.push(lc.engine.message(&e)),
            }
        }
        let all: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
        lc.withdraw(ctx, &all).await;
        for (name, id) in &ids {
            match lc
                .engine
                .restart(id, args.timeout, args.signal.as_deref())
                .await
            {
                Ok(()) => println!("{name}"),
                Err(e) => errors.push(lc.engine.message(&e)),
            }
        }
        lc.settle(ctx, &all, None).await?;
        if !all.is_empty() {
            crate::watch::ensure_running(&ctx.settings);
        }
        report_each(errors)
    })
}

pub fn kill(ctx: &Context, args: &KillArgs) -> Result<()> {
    engine::block_on(async {
        let lc = Lifecycle::connect(ctx).await?;
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        for name in &args.containers {
            match lc.engine.inspect(name).await {
                Ok(c) => ids.push((name, c.id.unwrap_or_default())),
                Err(e) => errors.push(lc.engine.message(&e)),
            }
        }
        let all: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
        // a signal that ends the container: its ports go dark first
        let deadly = args.signal.as_deref().is_none_or(|s| {
            let s = s.to_ascii_uppercase();
            matches!(
                s.trim_start_matches("SIG"),
                "KILL" | "9" | "TERM" | "15" | "INT" | "2" | "QUIT" | "3"
            )
        });
        let clean = if deadly {
            lc.withdraw(ctx, &all).await
        } else {
            None
        };
        for (name, id) in &ids {
            match lc.engine.kill(id, args.signal.as_deref()).await {
                Ok(()) => println!("{name}"),
                Err(e) => errors.push(lc.engine.message(&e)),
            }
        }
        // a signal the container survives (HUP, USR1, ...) leaves it running: its
        // rules come back here
        lc.settle(ctx, &all, clean).await?;
        report_each(errors)
    })
}
