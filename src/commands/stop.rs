//! `berth stop`: stop running containers; their ports go dark first.

use crate::cli::StopArgs;
use crate::commands::lifecycle::Lifecycle;
use crate::commands::{Context, report_each};
use crate::engine;
use crate::error::Result;

pub fn run(ctx: &Context, args: &StopArgs) -> Result<()> {
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
        let clean = lc.withdraw(ctx, &all).await;
        for (name, id) in &ids {
            match lc
                .engine
                .stop(id, args.timeout, args.signal.as_deref())
                .await
            {
                Ok(()) => println!("{name}"),
                Err(e) => errors.push(lc.engine.message(&e)),
            }
        }
        // whatever still runs (a stop that failed) gets its rules back
        lc.settle(ctx, &all, clean).await?;
        report_each(errors)
    })
}
