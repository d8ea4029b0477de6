//! `berth rm`: remove containers and every rule berth wrote for them.

use crate::cli::RmArgs;
use crate::commands::lifecycle::Lifecycle;
use crate::commands::{Context, report_each};
use crate::engine::{self, is_not_found};
use crate::error::Result;

pub fn run(ctx: &Context, args: &RmArgs) -> Result<()> {
    engine::block_on(async {
        let lc = Lifecycle::connect(ctx).await?;
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        for name in &args.containers {
            match lc.engine.inspect(name).await {
                Ok(c) => ids.push((name, c.id.unwrap_or_default())),
                // like docker (v29.7+), -f is silent about containers that do not exist
                Err(e) if args.force && is_not_found(&e) => {}
                Err(e) => errors.push(lc.engine.message(&e)),
            }
        }
        let all: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
        let clean = if args.force {
            lc.withdraw(ctx, &all).await
        } else {
            None
        };
        ctx.settings.pause("withdrawn");
        for (name, id) in &ids {
            match lc.engine.remove(id, args.force, args.volumes).await {
                Ok(()) => println!("{name}"),
                Err(e) if args.force && is_not_found(&e) => {}
                Err(e) => errors.push(lc.engine.message(&e)),
            }
        }
        lc.settle(ctx, &all, clean).await?;
        report_each(errors)
    })
}
