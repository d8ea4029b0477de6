//! `berth rm`: remove containers and every rule berth wrote for them.

use crate::cli::RmArgs;
use crate::commands::stop::release_if_any;
use crate::commands::{Context, report_each};
use crate::engine::{self, Engine, is_not_found};
use crate::error::Result;

pub fn run(ctx: &Context, args: &RmArgs) -> Result<()> {
    engine::block_on(async {
        let engine = Engine::connect(&ctx.host).await?;
        let mut errors = Vec::new();
        let mut removed = Vec::new();
        for name in &args.containers {
            let id = match engine.inspect(name).await {
                Ok(c) => c.id.unwrap_or_default(),
                // like docker (v29.7+), -f is silent about containers that do not exist
                Err(e) if args.force && is_not_found(&e) => continue,
                Err(e) => {
                    errors.push(engine.message(&e));
                    continue;
                }
            };
            match engine.remove(&id, args.force, args.volumes).await {
                Ok(()) => {
                    println!("{name}");
                    removed.push(id);
                }
                Err(e) if args.force && is_not_found(&e) => removed.push(id),
                Err(e) => errors.push(engine.message(&e)),
            }
        }
        release_if_any(&removed)?;
        report_each(errors)
    })
}
