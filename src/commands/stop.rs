//! `berth stop`: stop running containers and remove their rules.

use crate::cli::StopArgs;
use crate::commands::{Context, report_each};
use crate::engine::{self, Engine};
use crate::error::Result;
use crate::publish;

pub fn run(ctx: &Context, args: &StopArgs) -> Result<()> {
    engine::block_on(async {
        let engine = Engine::connect(&ctx.host).await?;
        let mut errors = Vec::new();
        let mut stopped = Vec::new();
        for name in &args.containers {
            let id = match engine.inspect(name).await {
                Ok(c) => c.id.unwrap_or_default(),
                Err(e) => {
                    errors.push(engine.message(&e));
                    continue;
                }
            };
            match engine
                .stop(name, args.timeout, args.signal.as_deref())
                .await
            {
                Ok(()) => {
                    println!("{name}");
                    stopped.push(id);
                }
                Err(e) => errors.push(engine.message(&e)),
            }
        }
        release_if_any(&stopped)?;
        report_each(errors)
    })
}

/// Remove the rules of these containers, if berth has any and may change the firewall.
pub fn release_if_any(ids: &[String]) -> Result<()> {
    if ids.is_empty() || crate::nat::apply::check_permission().is_err() {
        return Ok(());
    }
    let fw = crate::publish::firewall()?;
    publish::release(&fw, ids)?;
    Ok(())
}
